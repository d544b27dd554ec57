"""The estate's Monitoring stack watches the real pieces of its environment."""
from __future__ import annotations

import json

import pytest
from helpers import resources

from infra.constructs.replication import RULE_ID

EXPECTED_ALARMS = {
    "Replication-Latency", "Replication-Failed", "Replication-Pending-Growing",
    "UploadApi-Latency-P99", "UploadApi-Fault-Rate",
    "Presign-Latency-P99", "Presign-Fault-Count", "Presign-Throttled-Count",
    "Hasher-Latency-P99", "Hasher-Fault-Count", "Hasher-Throttled-Count",
    "HashQueue-Queue-Message-Age-Max", "HashQueue-DLQ-Queue-Message-Count-Max",
    "Cdn-Error-Rate", "Cdn-Fault-Rate", "Cdn-Origin-Latency", "Waf-Blocked",
}


@pytest.fixture(params=["dev", "prod"])
def env(request):
    return request.param


def _alarms(estate, env) -> dict[str, dict]:
    prefix = f"{estate.stages[env].cfg.org}-{env}-"
    return {a["Properties"]["AlarmName"].removeprefix(prefix).removesuffix("-Critical"):
            a["Properties"]
            for a in resources(estate.template_json(env, "Monitoring"),
                               "AWS::CloudWatch::Alarm").values()}


def test_every_estate_alarm_exists(estate, env):
    assert set(_alarms(estate, env)) == EXPECTED_ALARMS


def test_replication_alarms_watch_the_assets_to_replica_rule(estate, env):
    cfg = estate.stages[env].cfg
    text = json.dumps(_alarms(estate, env)["Replication-Failed"])
    for value in (cfg.assets_bucket_name, cfg.replica_bucket_name, RULE_ID):
        assert value in text


def test_cdn_and_waf_alarms_watch_this_environments_distribution_and_acl(estate, env):
    cfg = estate.stages[env].cfg
    alarms = _alarms(estate, env)
    # The distribution id arrives from the Cdn stack (an export or a stack-output reference).
    assert "Cdn" in json.dumps(alarms["Cdn-Fault-Rate"])
    assert f"{cfg.org}-assets-{cfg.name}" in json.dumps(alarms["Waf-Blocked"])


def test_every_alarm_notifies_the_alarm_topic(estate, env):
    template = estate.template_json(env, "Monitoring")
    [topic_id] = resources(template, "AWS::SNS::Topic")
    for name, alarm in _alarms(estate, env).items():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}], name


def test_monitoring_deploys_after_what_it_watches(estate, env):
    monitoring = estate.stack(env, "Monitoring")
    for watched in ("Cdn", "Assets", "UploadApi"):
        assert estate.stack(env, watched) in monitoring.dependencies, watched
