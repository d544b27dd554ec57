"""The backups writer policy: what a backup job attaches — write-only, through S3's KMS use."""
from __future__ import annotations

import pytest
from helpers import as_list, bucket_named, key_of_bucket, resources

from infra.config.common import ERASURE_AUDIT_PREFIX

ENVS = ["dev", "prod"]


def _policy(estate, env: str, name_of) -> tuple:
    """(config, statements by sid, bucket id, key id) of the Backups stack's managed policy
    ``name_of(config)`` names."""
    cfg = estate.stages[env].cfg
    template = estate.template_json(env, "Backups")
    [policy] = [p for p in resources(template, "AWS::IAM::ManagedPolicy").values()
                if p["Properties"].get("ManagedPolicyName") == name_of(cfg)]
    bucket_id, bucket = bucket_named(template, cfg.backups_bucket_name)
    key_id, _ = key_of_bucket(template, bucket)
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    return cfg, statements, bucket_id, key_id


@pytest.fixture(params=ENVS)
def writer(request, estate):
    return _policy(estate, request.param, lambda cfg: cfg.backups_writer_policy_name)


def test_writer_may_only_put_objects_under_the_default_retention(writer):
    # s3:PutObjectRetention would let a new object's x-amz-object-lock-* headers replace the
    # bucket's default: a governance lock of one day in the compliance bucket.
    _, statements, bucket_id, _ = writer
    write = statements["WriteBackupObjects"]
    assert as_list(write["Action"]) == ["s3:PutObject"]
    assert write["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/*"]]}


def test_writer_can_neither_delete_read_nor_bypass_the_lock(writer):
    _, statements, _, _ = writer
    actions = {a for s in statements.values() for a in as_list(s["Action"])}
    assert not {a for a in actions if "Delete" in a or "Bypass" in a or "Get" in a
                or a.endswith("*") or "LegalHold" in a or "Retention" in a}


def test_writer_uses_the_backups_key_only_through_s3_for_that_bucket(writer):
    cfg, statements, bucket_id, key_id = writer
    kms = statements["EncryptWithTheBackupsKeyThroughS3"]
    assert sorted(as_list(kms["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert kms["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert kms["Condition"]["StringEquals"] == {
        "kms:ViaService": f"s3.{cfg.backups_region}.amazonaws.com",
        "kms:EncryptionContext:aws:s3:arn": {"Fn::GetAtt": [bucket_id, "Arn"]}}


@pytest.mark.parametrize("env", ENVS)
def test_the_erasure_audit_policy_locks_records_under_the_audit_prefix_only(estate, env):
    # The erase tool reads the bucket's Object Lock setting before erasing, then writes one
    # record under ERASURE_AUDIT_PREFIX with lock headers of its own, which S3 accepts only
    # with s3:PutObjectRetention: granted there and nowhere else in the bucket.
    cfg, statements, bucket_id, key_id = _policy(estate, env,
                                                 lambda cfg: cfg.erasure_audit_policy_name)
    template = estate.template_json(env, "Backups")
    assert sorted(statements) == ["EncryptWithTheBackupsKeyThroughS3",
                                  "ReadTheObjectLockSetting", "WriteLockedAuditRecords"]
    read = statements["ReadTheObjectLockSetting"]
    assert (as_list(read["Action"]), read["Resource"]) == (
        ["s3:GetBucketObjectLockConfiguration"], {"Fn::GetAtt": [bucket_id, "Arn"]})
    write = statements["WriteLockedAuditRecords"]
    assert sorted(as_list(write["Action"])) == ["s3:PutObject", "s3:PutObjectRetention"]
    assert write["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]},
                                                   f"/{ERASURE_AUDIT_PREFIX}*"]]}
    kms = statements["EncryptWithTheBackupsKeyThroughS3"]
    assert (as_list(kms["Action"]), kms["Resource"]) == (["kms:GenerateDataKey"],
                                                         {"Fn::GetAtt": [key_id, "Arn"]})
    assert kms["Condition"] == {"StringEquals": {
        "kms:ViaService": f"s3.{cfg.backups_region}.amazonaws.com",
        "kms:EncryptionContext:aws:s3:arn": {"Fn::GetAtt": [bucket_id, "Arn"]}}}
    outputs = template["Outputs"]
    assert [o["Value"] for name, o in outputs.items() if name.startswith("ErasureAuditPolicyArn")] \
        == [{"Ref": next(k for k, p in resources(template, "AWS::IAM::ManagedPolicy").items()
                         if p["Properties"].get("ManagedPolicyName")
                         == cfg.erasure_audit_policy_name)}]
