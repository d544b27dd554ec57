"""Focused rules, each on a hand-written one-stack assembly (fast, no synthesis)."""
from __future__ import annotations

from review_helpers import SECURITY, STACKS, lines_with, section

RETAINED = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}


def _bucket(**props):
    return {"Type": "AWS::S3::Bucket", "Properties": props, **RETAINED}


def _role(**props):
    return {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                       "Principal": {"Service": "lambda.amazonaws.com"}}]}, **props}}


def _table(key_type: str, other_type: str = "S"):
    return {"Type": "AWS::DynamoDB::Table", **RETAINED, "Properties": {
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": key_type},
                                 {"AttributeName": "gsi", "AttributeType": other_type}]}}


def test_non_stateful_change_without_replacement_exits_0(review_resources):
    code, _ = review_resources({"R": _role(Description="a")}, {"R": _role(Description="b")})
    assert code == 0


def test_replacing_a_non_stateful_resource_is_shown_but_exits_0(review_resources):
    code, report = review_resources({"R": _role(RoleName="a")}, {"R": _role(RoleName="b")})
    assert code == 0 and lines_with(report, "`R`", "**yes** (`RoleName`)")


def test_dynamodb_key_attribute_type_change_forces_replacement(review_resources):
    code, report = review_resources({"T": _table("S")}, {"T": _table("N")})
    assert code == 2 and lines_with(report, "`T`", "**yes** (`AttributeDefinitions`)")


def test_dynamodb_non_key_attribute_change_does_not_force_replacement(review_resources):
    code, report = review_resources({"T": _table("S", "S")}, {"T": _table("S", "N")})
    assert code == 0 and lines_with(report, "`T`", "| no |")


def test_unknown_resource_type_reports_may_replace_unknown(review_resources):
    before = {"X": {"Type": "AWS::Foo::Bar", "Properties": {"Size": 1}}}
    after = {"X": {"Type": "AWS::Foo::Bar", "Properties": {"Size": 2}}}
    _, report = review_resources(before, after)
    assert lines_with(report, "`X`", "may replace: unknown", "Size")


def test_kms_key_spec_change_is_reported_as_a_failing_update(review_resources):
    key = {"Type": "AWS::KMS::Key", **RETAINED}
    _, report = review_resources({"K": {**key, "Properties": {"KeySpec": "SYMMETRIC_DEFAULT"}}},
                                 {"K": {**key, "Properties": {"KeySpec": "RSA_2048"}}})
    assert lines_with(section(report, SECURITY), "⚠️", "`K`", "KeySpec is immutable")


def test_removed_retained_bucket_is_an_orphan_warning_not_exit_2(review_resources):
    code, report = review_resources({"B": _bucket(), "K": _role()}, {"K": _role()})
    assert code == 0 and lines_with(section(report, SECURITY), "⚠️", "`B`", "kept as an orphan")


def test_removed_deleted_bucket_exits_2(review_resources):
    code, _ = review_resources({"B": {"Type": "AWS::S3::Bucket"}, "K": _role()}, {"K": _role()})
    assert code == 2


def test_retain_to_delete_on_a_non_stateful_resource_warns_without_exit_2(review_resources):
    code, report = review_resources({"R": {**_role(), "DeletionPolicy": "Retain"}}, {"R": _role()})
    assert code == 0
    assert lines_with(section(report, SECURITY), "⚠️", "DeletionPolicy Retain → Delete")


def test_object_lock_retention_shortened_is_flagged(review_resources):
    def locked(days):
        return _bucket(ObjectLockEnabled=True, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": days}}})
    _, report = review_resources({"B": locked(365)}, {"B": locked(30)})
    assert lines_with(section(report, SECURITY), "⚠️", "Object Lock default retention "
                      "shortened 365 → 30 days")


def test_public_access_block_turned_off_is_flagged(review_resources):
    def pab(flag):
        return _bucket(PublicAccessBlockConfiguration={"BlockPublicPolicy": flag})
    _, report = review_resources({"B": pab(True)}, {"B": pab(False)})
    assert lines_with(section(report, SECURITY), "⚠️", "public access block: BlockPublicPolicy")


def test_removing_a_deny_statement_counts_as_weakening(review_resources):
    deny = {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*", "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    def policy(*statements):
        return {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": "B"}, "PolicyDocument": {"Statement": list(statements)}}}
    _, report = review_resources({"P": policy(deny)}, {"P": policy()})
    assert lines_with(section(report, SECURITY), "⚠️", "statement removed: Deny `s3:*`")


def test_waf_rule_switched_to_count_is_flagged(review_resources):
    def acl(action):
        return {"Type": "AWS::WAFv2::WebACL", "Properties": {
            "Scope": "CLOUDFRONT", "DefaultAction": {"Allow": {}},
            "Rules": [{"Name": "RateLimit", "Priority": 0, "Action": {action: {}}}]}}
    _, report = review_resources({"W": acl("Block")}, {"W": acl("Count")})
    assert lines_with(section(report, SECURITY), "⚠️", "WAF rule `RateLimit` now Counts")


def test_cloudfront_viewer_protocol_allow_all_is_flagged(review_resources):
    def dist(policy):
        return {"Type": "AWS::CloudFront::Distribution", "Properties": {"DistributionConfig": {
            "DefaultCacheBehavior": {"ViewerProtocolPolicy": policy, "TargetOriginId": "o"}}}}
    _, report = review_resources({"D": dist("redirect-to-https")}, {"D": dist("allow-all")})
    assert lines_with(section(report, SECURITY), "⚠️",
                      "viewer protocol redirect-to-https → allow-all")


def test_property_added_to_a_resource_without_properties_is_the_only_diff_line(review_resources):
    queue = {"Type": "AWS::SQS::Queue"}
    _, report = review_resources({"Q": queue}, {"Q": {**queue, "Properties": {"DelaySeconds": 5}}})
    diff = report[report.index("```diff"):]
    assert diff.splitlines()[1:3] == ["# Q", "+ DelaySeconds: 5"] and "- " not in diff


def test_cdk_metadata_changes_are_not_reported(review_resources):
    meta = {"Type": "AWS::CDK::Metadata", "Properties": {"Analytics": "v2:deflate64:A"}}
    code, report = review_resources({"M": meta}, {"M": {**meta, "Properties": {"Analytics": "B"}}})
    assert (code, "No infrastructure changes." in report) == (0, True)


def test_resource_metadata_changes_are_not_reported(review_resources):
    def role(path):
        return {**_role(), "Metadata": {"aws:cdk:path": path}}
    _, report = review_resources({"R": role("a/R")}, {"R": role("b/R")})
    assert "No infrastructure changes." in report


def test_long_resource_tables_are_collapsed(review_resources):
    _, report = review_resources({}, {f"R{i}": _role() for i in range(20)})
    assert "<details><summary>20 resource changes</summary>" in section(report, STACKS)


def test_a_new_public_bucket_is_flagged(review_resources):
    public = _bucket(AccessControl="PublicRead", PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "BlockPublicPolicy": False,
        "IgnorePublicAcls": False, "RestrictPublicBuckets": False})
    code, report = review_resources({"K": _role()}, {"K": _role(), "B": public})
    security = section(report, SECURITY)
    assert code == 0 and lines_with(security, "⚠️", "`B`", "canned ACL PublicRead")
    assert lines_with(security, "⚠️", "`B`", "public access block: BlockPublicPolicy False")
    # A bucket on defaults adds nothing: no public access block means S3's default (all on),
    # and unversioned is not a loss when nothing is stored yet.
    _, report = review_resources({"K": _role()}, {"K": _role(), "B": _bucket()})
    assert "No security- or data-relevant changes." in section(report, SECURITY)


def test_a_new_function_url_without_auth_is_flagged(review_resources):
    url = {"Type": "AWS::Lambda::Url", "Properties": {"AuthType": "NONE",
                                                      "TargetFunctionArn": "arn:f"}}
    _, report = review_resources({}, {"U": url})
    assert lines_with(section(report, SECURITY), "⚠️", "`U`", "function URL is now "
                      "unauthenticated")


ADMIN = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"},
                           ":iam::aws:policy/AdministratorAccess"]]}
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def test_administrator_access_attached_to_an_existing_role_is_flagged(review_resources):
    _, report = review_resources({"R": _role(ManagedPolicyArns=[READ_ONLY])},
                                 {"R": _role(ManagedPolicyArns=[READ_ONLY, ADMIN])})
    assert lines_with(section(report, SECURITY), "⚠️", "`R`",
                      "**managed policy attached**: `AdministratorAccess`")


def test_full_access_policy_on_a_new_role_is_flagged(review_resources):
    full = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
    _, report = review_resources({}, {"R": _role(ManagedPolicyArns=[READ_ONLY, full])})
    [line] = lines_with(section(report, SECURITY), "⚠️", "`R`", "managed policy attached")
    assert "`AmazonS3FullAccess`" in line and "ReadOnlyAccess" not in line


def test_two_origins_losing_oac_are_two_distinct_findings(review_resources):
    def dist(oac):
        return {"Type": "AWS::CloudFront::Distribution", "Properties": {"DistributionConfig": {
            "Origins": [{"Id": name, "DomainName": f"{name}.s3.amazonaws.com",
                         **({"OriginAccessControlId": f"oac-{name}"} if oac else {})}
                        for name in ("assets", "media")]}}}
    _, report = review_resources({"D": dist(True)}, {"D": dist(False)})
    lines = lines_with(section(report, SECURITY), "⚠️", "`D`", "OriginAccessControlId")
    assert sorted(line.split(": ", 1)[1] for line in lines) == [
        "OriginAccessControlId of origin `assets` removed",
        "OriginAccessControlId of origin `media` removed"]


def test_retention_moving_differently_on_both_attributes_is_one_resource_at_risk(
        review_resources):
    kept = {"DeletionPolicy": "RetainExceptOnCreate", "UpdateReplacePolicy": "Retain"}
    before = {f"B{i}": {"Type": "AWS::S3::Bucket", **kept} for i in range(6)}
    after = {f"B{i}": {"Type": "AWS::S3::Bucket"} for i in range(6)}
    code, report = review_resources(before, after)
    assert code == 2 and "⛔ **6 stateful resource(s) with data at risk**" in report
    assert len(lines_with(section(report, SECURITY), "⛔", "`B0`")) == 1


def test_a_replaced_bucket_whose_retention_also_weakens_is_one_resource_at_risk(
        review_resources):
    # Two danger findings on one resource (replaced, and no longer retained): one count.
    kept = {"DeletionPolicy": "RetainExceptOnCreate", "UpdateReplacePolicy": "Retain"}
    before = {"B": {"Type": "AWS::S3::Bucket", **kept, "Properties": {"BucketName": "old"}}}
    after = {"B": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "new"}}}
    code, report = review_resources(before, after)
    assert len(lines_with(section(report, SECURITY), "⛔", "`B`")) == 2
    assert code == 2 and "⛔ **1 stateful resource(s) with data at risk**" in report


def test_object_lock_retention_turned_off_reads_removed(review_resources):
    locked = _bucket(ObjectLockEnabled=True, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE",
                                                                      "Days": 7}}})
    unlocked = _bucket(ObjectLockEnabled=True,
                       ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    _, report = review_resources({"B": locked}, {"B": unlocked})
    assert lines_with(section(report, SECURITY), "⚠️", "Object Lock default retention removed "
                      "(was 7 days)")


def test_two_properties_forcing_replacement_read_in_the_plural(review_resources):
    def table(key):
        return {"Type": "AWS::DynamoDB::Table", **RETAINED, "Properties": {
            "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": key, "AttributeType": "S"}]}}
    _, report = review_resources({"T": table("pk")}, {"T": table("id")})
    assert lines_with(section(report, SECURITY), "⛔", "`KeySchema`, `AttributeDefinitions` "
                      "force replacement")


def test_a_topic_policy_change_updates_in_place(review_resources):
    def topic_policy(action):
        return {"Type": "AWS::SNS::TopicPolicy", "Properties": {"Topics": [{"Ref": "T"}],
                "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": action,
                                                  "Principal": {"Service": "s3.amazonaws.com"},
                                                  "Resource": {"Ref": "T"}}]}}}
    _, report = review_resources({"P": topic_policy("sns:Publish")},
                                 {"P": topic_policy(["sns:Publish", "sns:Subscribe"])})
    assert lines_with(section(report, STACKS), "`P`", "AWS::SNS::TopicPolicy", "| no |")


def test_snapshot_keeps_nothing_of_a_bucket(review_resources):
    # CDK accepts RemovalPolicy.SNAPSHOT on a bucket, but CloudFormation snapshots only the
    # types its DeletionPolicy reference lists: the bucket would be deleted.
    snapshot = {"DeletionPolicy": "Snapshot", "UpdateReplacePolicy": "Snapshot"}
    code, report = review_resources({"B": _bucket()}, {"B": {**_bucket(), **snapshot}})
    assert code == 2
    assert lines_with(section(report, SECURITY), "`B`", "Retain → Snapshot")
    code, report = review_resources({"B": {**_bucket(), **snapshot}, "K": _role()},
                                    {"K": _role()})
    assert code == 2 and "kept as an orphan" not in report


def test_snapshot_keeps_a_database(review_resources):
    snapshot = {"DeletionPolicy": "Snapshot", "UpdateReplacePolicy": "Snapshot"}
    db = {"Type": "AWS::RDS::DBInstance", "Properties": {"DBInstanceClass": "db.t4g.micro"}}
    code, report = review_resources({"D": {**db, **RETAINED}}, {"D": {**db, **snapshot}})
    assert code == 0 and lines_with(report, "`D`", "Retain → Snapshot")
    assert not lines_with(report, "the data goes with the resource")
