"""Backups: Object Lock with a default retention, governance in dev, compliance in prod."""
from __future__ import annotations

import pytest
from helpers import bucket_named


def _backups(estate, env):
    cfg = estate.stages[env].cfg
    _, bucket = bucket_named(estate.template_json(env, "Backups"), cfg.backups_bucket_name)
    return cfg, bucket["Properties"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_backups_have_object_lock_enabled(estate, env):
    _, props = _backups(estate, env)
    assert props["ObjectLockEnabled"] is True
    assert props["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"


@pytest.mark.parametrize("env,mode", [("dev", "GOVERNANCE"), ("prod", "COMPLIANCE")])
def test_backups_default_retention_mode_and_days_come_from_config(estate, env, mode):
    cfg, props = _backups(estate, env)
    assert props["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == {
        "Mode": mode, "Days": cfg.backups_retention_days}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_backups_are_not_replicated(estate, env):
    _, props = _backups(estate, env)
    assert "ReplicationConfiguration" not in props
