"""The estate's monitoring stacks watch the real pieces of their environment, each alarm in
the region where its metric is published."""
from __future__ import annotations

import pytest
from helpers import resources

from infra.constructs.replication import REVERSE_RULE_ID, RULE_ID


@pytest.fixture(params=["dev", "prod"])
def env(request):
    return request.param


EXPECTED_ALARMS = {
    "Monitoring": {
        "Replication-Failed",
        "UploadApi-Latency-P99", "UploadApi-Fault-Rate",
        "Presign-Latency-P99", "Presign-Fault-Count", "Presign-Throttled-Count",
        "Presign-Dedup-Unavailable", "Presign-Handled-Faults",
        "Hasher-Latency-P99", "Hasher-Fault-Count", "Hasher-Throttled-Count",
        "Hasher-Handled-Faults",
        "HashQueue-Queue-Message-Age-Max", "HashQueue-DLQ-Queue-Message-Count-Max",
        "Renditions-Latency-P99", "Renditions-Fault-Count", "Renditions-Throttled-Count",
        "Renditions-Handled-Faults",
        "RenditionsQueue-Queue-Message-Age-Max", "RenditionsQueue-DLQ-Queue-Message-Count-Max",
        "Renditions-Rejected",
        "Cdn-Error-Rate", "Cdn-Fault-Rate", "Cdn-Origin-Latency", "Waf-Blocked",
        "WriteHealth-Latency-P99", "WriteHealth-Fault-Count", "WriteHealth-Throttled-Count",
        # the rule back from the replica: its destination (the assets bucket) is here
        "ReplicationBack-Latency", "ReplicationBack-Pending-Growing", "ReplicationBack-Silent",
        # the rules that send AWS Backup's holes to the alarm topic, failing to
        "Backup-Events-Undelivered",
    },
    "ReplicationMonitoring": {
        "Replication-Latency", "Replication-Pending-Growing", "Replication-Silent",
        "ReplicationBack-Failed",
        # the replica region's write path
        "UploadApi-Latency-P99", "UploadApi-Fault-Rate",
        "Presign-Latency-P99", "Presign-Fault-Count", "Presign-Throttled-Count",
        "Presign-Dedup-Unavailable", "Presign-Handled-Faults",
        "WriteHealth-Latency-P99", "WriteHealth-Fault-Count", "WriteHealth-Throttled-Count",
        "Writes-Taking-Uploads-us-west-2",
        # the guard of the dedup index replica
        "DedupReplicaGuard-Latency-P99", "DedupReplicaGuard-Fault-Count",
        "DedupReplicaGuard-Throttled-Count", "DedupIndex-Replica-Unprotected",
    },
}
# With a hosted zone (failover records): which region serves writes, from the primary's
# health check (Route 53 metrics: us-east-1 only).
FAILOVER_ALARMS = {"Writes-Served-By-us-west-2"}
# Not monitoring: the failover switch Route 53 reads, in the Replica stack (us-west-2), which
# deploys before the primary UploadApi stack whose health check needs it.
SWITCH_ALARMS = {"Replica": {"Writes-Pinned-To-us-west-2"}}
# Where the upload gate is on: its verdict function and queue, and GuardDuty's scan alarms.
UPLOAD_GATE_ALARMS = {
    "ScanVerdict-Latency-P99", "ScanVerdict-Fault-Count", "ScanVerdict-Throttled-Count",
    "ScanVerdict-Handled-Faults",
    "VerdictQueue-Queue-Message-Age-Max", "VerdictQueue-DLQ-Queue-Message-Count-Max",
    "UploadGate-Threats-Found", "UploadGate-Scans-Failed", "UploadGate-Unscanned-Backlog",
    "UploadGate-Events-Undelivered",
}

# Where AWS publishes each metric (CloudWatch alarms only read metrics of their own region).
# "source"/"destination": the replication rule's buckets' regions; "primary": the region of
# the resources the estate runs (functions, queues, API, and their embedded metrics); "replica":
# the replica region.
PUBLISHED_IN = {
    ("AWS/S3", "OperationsFailedReplication"): "source",
    ("AWS/S3", "ReplicationLatency"): "destination",
    ("AWS/S3", "BytesPendingReplication"): "destination",
    ("AWS/S3", "OperationsPendingReplication"): "destination",
    ("AWS/CloudFront", "*"): "us-east-1",
    ("AWS/WAFV2", "*"): "us-east-1",  # a CLOUDFRONT-scope web ACL's metrics
    ("AWS/Lambda", "*"): "primary",
    ("AWS/SQS", "*"): "primary",
    ("AWS/ApiGateway", "*"): "primary",
    ("AWS/GuardDuty/MalwareProtection", "*"): "primary",  # the protected bucket's region
    ("AWS/Events", "*"): "primary",  # the default event bus of the bucket's region
    ("AWS/Route53", "*"): "us-east-1",  # health check metrics
    # EMF of the guard of the dedup index replica, which runs next to the replica
    ("StorageEstate", "DedupReplicaProtected"): "replica",
    # written by `make failover` / `make failback` with PutMetricData in the replica region
    ("StorageEstate/WriteFailover", "*"): "replica",
}


def published_region(cfg, namespace: str, metric: str, dimensions: list | None = None) -> str:
    """Where AWS publishes the metric. "source"/"destination": the region of the bucket the
    rule's dimension names; "primary": the region of the resource the dimension names (a
    cross-stack output carries its stack's region), else the primary region."""
    rule = PUBLISHED_IN.get((namespace, metric)) or PUBLISHED_IN.get((namespace, "*"))
    if rule is None and not namespace.startswith("AWS/"):
        rule = "primary"  # the estate's own (EMF) metrics, emitted by its functions
    assert rule is not None, f"no published-region rule for {namespace}/{metric}: add one"
    dims = {d["Name"]: d["Value"] for d in dimensions or []}
    bucket_region = {cfg.assets_bucket_name: cfg.primary_region,
                     cfg.replica_bucket_name: cfg.replica_region}
    if rule in ("source", "destination"):
        return bucket_region[dims["SourceBucket" if rule == "source" else "DestinationBucket"]]
    if rule == "replica":
        return cfg.replica_region
    if rule == "primary":
        regions = {v["Fn::GetStackOutput"]["Region"] for v in dims.values()
                   if isinstance(v, dict) and "Fn::GetStackOutput" in v}
        # An EMF metric's `service` is its function's name; the replica region's functions
        # carry their region in it (presign-us-west-2).
        if str(dims.get("service", "")).endswith(f"-{cfg.replica_region}"):
            regions.add(cfg.replica_region)
        return regions.pop() if regions else cfg.primary_region
    return rule


def _alarms(estate, env, stack_id) -> dict[str, dict]:
    prefix = f"{estate.stages[env].cfg.alarm_name_prefix}-"
    return {a["Properties"]["AlarmName"].removeprefix(prefix).removesuffix("-Critical"):
            a["Properties"]
            for a in resources(estate.template_json(env, stack_id),
                               "AWS::CloudWatch::Alarm").values()}


def _metrics(props: dict) -> list[dict]:
    if "Metrics" not in props:  # a single-metric alarm (the failover switch)
        return [{k: props[k] for k in ("Namespace", "MetricName", "Dimensions") if k in props}]
    return [q["MetricStat"]["Metric"] for q in props["Metrics"] if "MetricStat" in q]


def _all_alarms(estate, env):
    for stack_id in estate.stack_ids(env):
        for name, props in _alarms(estate, env, stack_id).items():
            yield stack_id, name, props


@pytest.mark.parametrize("stack_id", sorted(EXPECTED_ALARMS))
def test_every_estate_alarm_exists_in_its_stack(estate, env, stack_id):
    cfg = estate.stages[env].cfg
    primary = stack_id == "Monitoring"
    expected = (EXPECTED_ALARMS[stack_id]
                | (UPLOAD_GATE_ALARMS if primary and cfg.upload_gate.enabled else set())
                | (FAILOVER_ALARMS if primary and cfg.upload_domain_name else set()))
    assert set(_alarms(estate, env, stack_id)) == expected


def test_no_other_stack_holds_an_alarm(estate, env):
    switches = {(stack_id, name) for stack_id, names in SWITCH_ALARMS.items() for name in names}
    held = {(stack_id, name) for stack_id, name, _ in _all_alarms(estate, env)}
    with_a_zone = estate.stages[env].cfg.upload_domain_name is not None
    assert held & switches == (switches if with_a_zone else set())
    assert {stack_id for stack_id, _ in held - switches} == set(EXPECTED_ALARMS)


def test_every_alarm_is_in_the_region_where_its_metric_is_published(estate, env):
    cfg = estate.stages[env].cfg
    checked = 0
    for stack_id, name, props in _all_alarms(estate, env):
        region = estate.stack(env, stack_id).region
        for metric in _metrics(props):
            assert region == published_region(cfg, metric["Namespace"], metric["MetricName"],
                                              metric.get("Dimensions")), \
                f"{stack_id}/{name}: {metric['Namespace']}/{metric['MetricName']} in {region}"
            checked += 1
    assert checked >= sum(map(len, EXPECTED_ALARMS.values()))


def test_the_region_rule_would_catch_a_latency_alarm_in_the_source_region(estate):
    cfg = estate.stages["dev"].cfg
    forward = [{"Name": "SourceBucket", "Value": cfg.assets_bucket_name},
               {"Name": "DestinationBucket", "Value": cfg.replica_bucket_name}]
    assert published_region(cfg, "AWS/S3", "ReplicationLatency", forward) != cfg.primary_region


def test_replication_alarms_watch_the_two_rules_of_this_environment(estate, env):
    cfg = estate.stages[env].cfg
    rules = {"Replication": (cfg.assets_bucket_name, cfg.replica_bucket_name, RULE_ID),
             "ReplicationBack": (cfg.replica_bucket_name, cfg.assets_bucket_name,
                                 REVERSE_RULE_ID)}
    seen = set()
    for _stack_id, name, props in _all_alarms(estate, env):
        for metric in _metrics(props):
            if metric["Namespace"] == "AWS/S3":
                source, destination, rule = rules[name.split("-")[0]]
                assert sorted(metric["Dimensions"], key=lambda d: d["Name"]) == [
                    {"Name": "DestinationBucket", "Value": destination},
                    {"Name": "RuleId", "Value": rule},
                    {"Name": "SourceBucket", "Value": source}], name
                seen.add(name)
    # each rule: failed (source region), latency, backlog, heartbeat (destination region)
    assert len(seen) == 8


def _exported_by(estate, env, stack_id: str, value: dict) -> dict:
    """What ``value`` reads from ``stack_id``'s outputs: an export (a strong reference) or
    an output by name (Fn::GetStackOutput, a weak one)."""
    outputs = estate.template_json(env, stack_id)["Outputs"]
    if "Fn::GetStackOutput" in value:
        return outputs[value["Fn::GetStackOutput"]["OutputName"]]["Value"]
    [exported] = [o["Value"] for o in outputs.values()
                  if o.get("Export", {}).get("Name") == value["Fn::ImportValue"]]
    return exported


def _dimension(props: dict, name: str):
    [value] = [d["Value"] for m in _metrics(props) for d in m["Dimensions"] if d["Name"] == name]
    return value


def test_cdn_alarms_watch_this_environments_distribution(estate, env):
    [dist_id] = resources(estate.template_json(env, "Cdn"), "AWS::CloudFront::Distribution")
    props = _alarms(estate, env, "Monitoring")["Cdn-Fault-Rate"]
    assert _exported_by(estate, env, "Cdn", _dimension(props, "DistributionId")) == \
        {"Ref": dist_id}


def test_waf_alarm_watches_this_environments_web_acl_by_its_metric_name(estate, env):
    [acl] = resources(estate.template_json(env, "Cdn"), "AWS::WAFv2::WebACL").values()
    props = _alarms(estate, env, "Monitoring")["Waf-Blocked"]
    assert _dimension(props, "WebACL") == acl["Properties"]["VisibilityConfig"]["MetricName"]


@pytest.mark.parametrize("alarm_name, stack_id, handler_module", [
    ("Presign-Fault-Count", "UploadApi", "presign"), ("Hasher-Fault-Count", "Assets", "hasher")])
def test_function_alarms_watch_the_functions_of_this_environment(estate, env, alarm_name,
                                                                 stack_id, handler_module):
    template = estate.template_json(env, stack_id)
    [function_id] = [k for k, f in resources(template, "AWS::Lambda::Function").items()
                     if f["Properties"].get("Handler", "").startswith(
                         f"estate_handlers.{handler_module}")]
    props = _alarms(estate, env, "Monitoring")[alarm_name]
    assert _exported_by(estate, env, stack_id, _dimension(props, "FunctionName")) == \
        {"Ref": function_id}


# The handlers that catch their own failures (a 500 response, a record handed back to its
# queue) and count them with runtime.count_fault: Lambda's Errors never sees those.
CATCHING_HANDLERS = ("estate_handlers.presign.", "estate_handlers.hasher.",
                     "estate_handlers.scan_verdict.", "estate_handlers.renditions.handler.")


def _service_of(function: dict) -> str:
    """The ``service`` dimension its EMF carries: Powertools' from the environment, except
    the renditions handler, which names its own."""
    from estate_handlers.renditions import handler as renditions
    if function["Properties"]["Handler"].startswith("estate_handlers.renditions.handler."):
        return renditions.metrics.service
    return function["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]


def test_each_function_that_catches_its_failures_has_an_alarm_on_what_it_counts(estate, env):
    cfg = estate.stages[env].cfg
    for region, monitoring in ((cfg.primary_region, "Monitoring"),
                               (cfg.replica_region, "ReplicationMonitoring")):
        catching = {_service_of(f): f for stack_id in estate.stack_ids(env)
                    if estate.stack(env, stack_id).region == region
                    for f in resources(estate.template_json(env, stack_id),
                                       "AWS::Lambda::Function").values()
                    if f["Properties"].get("Handler", "").startswith(CATCHING_HANDLERS)}
        watched = {}
        for name, props in _alarms(estate, env, monitoring).items():
            if name.endswith("-Handled-Faults"):
                [metric] = _metrics(props)
                assert (metric["MetricName"], [d["Name"] for d in metric["Dimensions"]]) == (
                    "HandledFaults", ["service"]), name
                watched[metric["Dimensions"][0]["Value"]] = metric["Namespace"]
        assert set(watched) == set(catching), region
        for service, function in catching.items():
            expected = "StorageEstate/Renditions" if service == "renditions" else \
                function["Properties"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
            assert watched[service] == expected, service


def test_monitoring_deploys_after_what_it_watches(estate, env):
    assert {"Cdn", "Assets", "UploadApi"} <= set(estate.dependencies(env, "Monitoring"))
    assert "Assets" in estate.dependencies(env, "ReplicationMonitoring")


def test_monitoring_stacks_have_no_termination_protection(estate, env):
    for stack_id in EXPECTED_ALARMS:
        assert estate.stack(env, stack_id).termination_protection is False
