"""Whole-template snapshots of every stack of every environment.

A change to any template shows up here as a reviewable diff. After an intended change,
re-record with `make snapshot-update` and commit the updated .ambr files with it.
Asset hashes are masked so that editing handler code alone does not churn the snapshots.
"""
from __future__ import annotations

import json
import re

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def _masked(template: dict) -> dict:
    """Without asset hashes and what the CLI adds for its own bookkeeping (construct-path
    metadata, the CDKMetadata resource and its condition)."""
    if "Resources" in template:
        resources = {k: {f: v for f, v in r.items() if f != "Metadata"}
                     for k, r in template["Resources"].items()
                     if r["Type"] != "AWS::CDK::Metadata"}
        conditions = {k: v for k, v in template.get("Conditions", {}).items()
                      if k != "CDKMetadataAvailable"}
        template = {**template, "Resources": resources}
        if conditions:
            template["Conditions"] = conditions
        else:
            template.pop("Conditions", None)
    return json.loads(_HASH.sub("<asset-hash>", json.dumps(template, sort_keys=True)))


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_templates_match_the_snapshot(estate, env, snapshot_json):
    templates = {stack_id: _masked(estate.template_json(env, stack_id))
                 for stack_id in sorted(estate.stack_ids(env))}
    assert templates == snapshot_json


def test_masking_hides_asset_hashes_only():
    masked = _masked({"S3Key": "a" * 64 + ".zip", "BucketName": "justkalm-assets-dev"})
    assert masked == {"S3Key": "<asset-hash>.zip", "BucketName": "justkalm-assets-dev"}
