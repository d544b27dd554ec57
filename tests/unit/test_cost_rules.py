"""One pricing rule per test, each on a hand-written template fragment and a usage model that
holds only what the rule reads; expected figures are worked out from the price table by hand."""
from __future__ import annotations

import dataclasses

import pytest

from infra.config import ORIGINALS, USER_EXPORTS, StoredGroup, UsageConfig
from infra.environments import prod
from tools.cost.estimate import estimate
from tools.cost.prices import CostError
from tools.review.assembly import StackTemplate

QUIET = UsageConfig(alarm_notifications_per_month=0, upload_mix={}, uploads_per_day=0)
PER_DAY = dataclasses.replace(QUIET, uploads_per_day=1000, upload_mix={"product-image": (1.0, 2.0)})


def _usd(resources: dict, usage: UsageConfig, region: str = "us-east-1") -> dict[str, float]:
    stacks = [StackTemplate("prod/Main", "Main", {"Resources": resources}, region)]
    return {line.dimension: round(line.usd, 6) for line in estimate(prod(), stacks, usage).lines}


def _bucket(name: str, rules: list | None = None, **props) -> dict:
    return {"Type": "AWS::S3::Bucket", "Properties": {
        "BucketName": name, "LifecycleConfiguration": {"Rules": rules or []}, **props}}


def test_a_consumed_queue_bills_one_send_per_message_and_a_receive_and_delete_per_batch():
    usage = dataclasses.replace(PER_DAY, queue_messages_per_upload={"Hasher": 1.0, "DeadLetter": 0})
    resources = {
        "HasherQueue": {"Type": "AWS::SQS::Queue"},
        "HasherDeadLetters": {"Type": "AWS::SQS::Queue"},
        "Esm": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "BatchSize": 4, "EventSourceArn": {"Fn::GetAtt": ["HasherQueue", "Arn"]}}}}
    # 30,000 messages x (1 + 2/4) = 45,000 requests at $0.40 per million
    assert _usd(resources, usage) == {"sqs.requests.standard": pytest.approx(0.018)}


def test_log_storage_holds_the_retention_days_of_ingested_logs():
    usage = dataclasses.replace(QUIET, log_gb_per_month={"Waf": 30})
    group = {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 90}}
    # ingest 30 GB x $0.50; storage 30 GB x 90/30 months = 90 GB-month x $0.03
    assert _usd({"EdgeWafLogs": group}, usage) == {"logs.ingest": 15.0, "logs.storage": 2.7}


def test_expiring_exports_hold_their_daily_volume_times_the_expiration_days():
    usage = dataclasses.replace(QUIET, stored={USER_EXPORTS: StoredGroup(gb_per_day=20)})
    bucket = _bucket("justkalm-assets-prod", [{"Status": "Enabled", "Prefix": USER_EXPORTS,
                                               "ExpirationInDays": 7}])
    assert _usd({"B": bucket}, usage) == {"s3.storage.standard": pytest.approx(140 * 0.023)}


def test_replicas_are_priced_in_the_storage_class_the_replication_rule_names():
    usage = dataclasses.replace(QUIET, stored={ORIGINALS: StoredGroup(1000)})
    rule = {"Status": "Enabled", "Destination": {"StorageClass": "GLACIER_IR"}}
    resources = {"A": _bucket("justkalm-assets-prod",
                              ReplicationConfiguration={"Rules": [rule]}),
                 "R": _bucket("justkalm-assets-prod-replica")}
    costs = _usd(resources, usage)
    assert costs["s3.storage.glacier_ir"] == pytest.approx(1000 * 0.004)
    assert costs["s3.storage.standard"] == pytest.approx(1000 * 0.023)  # the source itself


@pytest.mark.parametrize("rules, days", [([], 365), ([{
    "Status": "Enabled", "ExpirationInDays": 30,
    "TagFilters": [{"Key": "dedup-status", "Value": "duplicate"}]}], 30)])
def test_duplicates_are_stored_as_long_as_a_rule_keeps_them_in_both_buckets(rules, days):
    # 1,000 uploads of 2 MB a day, a quarter of them duplicates: 0.49 GB a day. Without a
    # duplicate rule (the default) they accumulate: priced as a year of them.
    usage = dataclasses.replace(PER_DAY, duplicate_share=0.25)
    rule = {"Status": "Enabled", "Destination": {"StorageClass": "STANDARD_IA"}}
    resources = {"A": _bucket("justkalm-assets-prod", rules,
                              ReplicationConfiguration={"Rules": [rule]}),
                 "R": _bucket("justkalm-assets-prod-replica", rules)}
    daily = 1000 * 2 / 1024 * 0.25
    costs = _usd(resources, usage)
    assert costs["s3.storage.it_frequent"] == pytest.approx(daily * days * 0.023, rel=1e-4)
    assert costs["s3.storage.standard_ia"] == pytest.approx(daily * days * 0.0125, rel=1e-4)


def test_access_logs_hold_their_daily_volume_until_they_expire():
    usage = dataclasses.replace(QUIET, access_log_gb_per_month={"us-west-2": 60})
    bucket = _bucket("justkalm-access-logs-prod-us-west-2",
                     [{"Status": "Enabled", "ExpirationInDays": 365}])
    # 2 GB a day for 365 days
    assert _usd({"L": bucket}, usage, "us-west-2") == {
        "s3.storage.standard": pytest.approx(730 * 0.023)}


def test_backups_move_to_deep_archive_after_the_template_s_day():
    usage = dataclasses.replace(QUIET, backups_gb=3650, backups_age_span_days=365)
    bucket = _bucket("justkalm-backups-prod", [{"Status": "Enabled", "Transitions": [
        {"StorageClass": "DEEP_ARCHIVE", "TransitionInDays": 30}]}])
    assert _usd({"B": bucket}, usage, "us-west-2") == {
        "s3.storage.standard": pytest.approx(300 * 0.023),
        "s3.storage.deep_archive": pytest.approx(3350 * 0.00099)}


def test_malware_scans_bill_objects_and_bytes_uploaded_under_the_protected_prefixes():
    usage = dataclasses.replace(PER_DAY, upload_mix={"product-image": (0.5, 2.0),
                                                      "user-upload": (0.5, 1.0)})
    plan = {"Type": "AWS::GuardDuty::MalwareProtectionPlan", "Properties": {
        "ProtectedResource": {"S3Bucket": {"ObjectPrefixes": ["user-content/uploads/"]}}}}
    # 15,000 user uploads a month of 1 MB: 15 K objects x $0.215 + 14.65 GB x $0.09
    assert _usd({"P": plan}, usage) == {
        "guardduty.malware_s3.objects": pytest.approx(15 * 0.215),
        "guardduty.malware_s3.gb": pytest.approx(15000 / 1024 * 0.09)}


def test_aws_backup_storage_is_billed_once_however_many_selections():
    usage = dataclasses.replace(QUIET, aws_backup_gb=1000)
    selection = {"Type": "AWS::Backup::BackupSelection"}
    resources = {"S1": selection, "S2": selection, "V": {"Type": "AWS::Backup::BackupVault"},
                 "P": {"Type": "AWS::Backup::BackupPlan"}}
    assert _usd(resources, usage) == {"backup.s3": 50.0}


def test_a_cheaper_price_class_bills_far_viewers_at_north_american_edge_prices():
    usage = dataclasses.replace(QUIET, cdn_gb_per_month={"apac": 1000})
    dist = {"Type": "AWS::CloudFront::Distribution",
            "Properties": {"DistributionConfig": {"PriceClass": "PriceClass_100"}}}
    assert _usd({"D": dist}, usage) == {"cloudfront.egress.na": pytest.approx(85.0)}


def test_a_sub_minute_alarm_is_billed_as_high_resolution():
    alarm = {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Period": 10}}
    assert _usd({"A": alarm}, QUIET) == {"cw.alarm.high_resolution": 0.3}


def test_a_provisioned_capacity_table_is_refused_not_priced_at_zero():
    table = {"Type": "AWS::DynamoDB::Table", "Properties": {"BillingMode": "PROVISIONED"}}
    with pytest.raises(CostError, match="provisioned"):
        _usd({"T": table}, QUIET)


def test_a_region_without_prices_in_the_table_is_an_error():
    key = {"Type": "AWS::KMS::Key", "Properties": {}}
    with pytest.raises(CostError, match="kms.key in eu-west-1"):
        _usd({"K": key}, QUIET, "eu-west-1")


@pytest.mark.parametrize(("storage_class", "dimension", "usd"), [
    # 15,000 product images a month x $0.05 per 1,000; user uploads are not under the rule
    ("DEEP_ARCHIVE", "s3.transition.deep_archive", 0.75),
    # the upload API writes originals in Intelligent-Tiering already: nothing moves
    ("INTELLIGENT_TIERING", "s3.transition.it", None),
])
def test_each_upload_under_a_transition_rule_pays_one_transition_request(
        storage_class, dimension, usd):
    usage = dataclasses.replace(PER_DAY, upload_mix={"product-image": (0.5, 2.0),
                                                      "user-upload": (0.5, 1.0)})
    bucket = _bucket("justkalm-assets-prod", [{"Status": "Enabled", "Prefix": ORIGINALS,
                                               "Transitions": [{"StorageClass": storage_class,
                                                                "TransitionInDays": 0}]}])
    assert _usd({"B": bucket}, usage).get(dimension) == (usd and pytest.approx(usd))


def test_rendering_compute_prices_prepared_originals_against_a_render_per_cdn_miss():
    from tools.cost.estimate import MB_PER_VCPU, rendering_compute
    from tools.cost.prices import default_table

    usage = dataclasses.replace(
        prod().usage, uploads_per_day=1000, upload_mix={"product-image": (0.5, 1.0),
                                                        "user-upload": (0.5, 1.0)},
        duplicate_share=0.2, cdn_requests_per_month={"na": 1e6, "eu": 1e6},
        cdn_image_request_share=0.5, cdn_cache_hit_ratio=0.9,
        rendition_cpu_seconds_per_original=3.0, anchor_cpu_seconds_per_render=1.0)
    rc = rendering_compute(usage, "us-east-1")
    assert rc.originals == 1000 * 30 * 0.5 * 0.8            # duplicates copy, never render
    assert rc.prepared_cpu_seconds == rc.originals * 3.0
    assert rc.anchor_renders == pytest.approx(2e6 * 0.5 * 0.1)  # every miss is a render
    assert rc.anchor_cpu_seconds == pytest.approx(rc.anchor_renders * 1.0)
    gb_second = default_table().get("us-east-1", "lambda.compute.arm64").cost(1)
    assert rc.usd_per_cpu_second == pytest.approx(gb_second * MB_PER_VCPU / 1024)
    assert rc.anchor_usd / rc.prepared_usd == pytest.approx(1e5 / 36_000)
    # A better hit ratio shrinks only the anchor's side.
    fewer = rendering_compute(dataclasses.replace(usage, cdn_cache_hit_ratio=0.99), "us-east-1")
    assert fewer.prepared_usd == rc.prepared_usd and fewer.anchor_usd < rc.anchor_usd / 9


def _usd_by_region(stacks: list[StackTemplate], usage: UsageConfig) -> dict[tuple, float]:
    return {(line.dimension, line.region): round(line.usd, 6)
            for line in estimate(prod(), stacks, usage).lines}


def test_replication_metrics_bill_three_series_at_the_destination_and_one_at_the_source():
    rule = {"Status": "Enabled", "Destination": {"Metrics": {"Status": "Enabled"},
                                                 "StorageClass": "STANDARD"}}
    quiet_rule = {"Status": "Enabled", "Destination": {"StorageClass": "STANDARD"}}
    assets = _bucket("justkalm-assets-prod", ReplicationConfiguration={"Rules": [rule]})
    replica = _bucket("justkalm-assets-prod-replica",
                      ReplicationConfiguration={"Rules": [quiet_rule]})
    stacks = [StackTemplate("prod/Assets", "Assets", {"Resources": {"A": assets}}, "us-east-1"),
              StackTemplate("prod/Replica", "Replica", {"Resources": {"R": replica}}, "us-west-2")]
    costs = _usd_by_region(stacks, QUIET)
    # ReplicationLatency, BytesPendingReplication, OperationsPendingReplication in the
    # replica's region, OperationsFailedReplication in the source's, $0.30 each; the rule
    # back without metrics adds none.
    assert costs[("cw.metric.custom", "us-west-2")] == pytest.approx(0.90)
    assert costs[("cw.metric.custom", "us-east-1")] == pytest.approx(0.30)


def test_each_write_health_probe_object_is_billed_again_where_it_replicates():
    rule = {"Status": "Enabled", "Destination": {"StorageClass": "STANDARD_IA"}}
    assets = _bucket("justkalm-assets-prod", ReplicationConfiguration={"Rules": [rule]})
    check = {"Type": "AWS::Route53::HealthCheck", "Properties": {"HealthCheckConfig": {
        "Type": "HTTPS", "RequestInterval": 10}}}
    probing = dataclasses.replace(QUIET, health_probes_per_minute=2)
    stacks = [StackTemplate("prod/Assets", "Assets", {"Resources": {"A": assets}}, "us-east-1"),
              StackTemplate("prod/UploadApi", "UploadApi", {"Resources": {"H": check}},
                            "us-east-1")]
    costs = _usd_by_region(stacks, probing)
    # Every probe writes an object of its own: 86,400 a month at two a minute, each PUT in the
    # primary and again into Standard-IA in the replica at $0.01 per 1,000, each billed there
    # as 128 KB for 30 days although it lives a day.
    objects = 2 * 60 * 24 * 30
    assert costs[("s3.requests.put_ia", "us-west-2")] == pytest.approx(objects / 1000 * 0.01)
    assert costs[("s3.storage.standard_ia", "us-west-2")] == pytest.approx(
        objects * 128 / 1024 / 1024 * 0.0125, abs=1e-6)
    # Without a replication rule nothing is copied.
    alone = [StackTemplate("prod/UploadApi", "UploadApi", {"Resources": {"H": check}},
                           "us-east-1")]
    assert not any(region == "us-west-2" for _, region in _usd_by_region(alone, probing))


def test_each_handler_bills_its_emf_series_and_the_replica_write_path_its_share_of_hours():
    def fn(handler: str) -> dict:
        return {"Type": "AWS::Lambda::Function", "Properties": {"Handler": handler}}
    kinds = len(prod().upload_api.kinds)
    primary = {"PresignFunction": fn("estate_handlers.presign.handler"),
               "HealthFunction": fn("estate_handlers.write_health.handler")}
    replica = {"PresignFunction": fn("estate_handlers.presign.handler"),
               "GuardFunction": fn("estate_handlers.replica_guard.handler")}
    # prod's usage model describes the presign function; the guard is outside it
    usage = dataclasses.replace(prod().usage, secondary_write_share=0.01)
    stacks = [StackTemplate("prod/UploadApi", "UploadApi", {"Resources": primary}, "us-east-1"),
              StackTemplate("prod/UploadApi-us-west-2", "UploadApi-us-west-2",
                            {"Resources": replica}, "us-west-2")]
    costs = _usd_by_region(stacks, usage)
    # presign: UrlsIssued per upload kind and for downloads, DedupHits and DedupLookupsFailed
    # per upload kind, HandledFaults (the last two billed as if published every hour: an upper
    # bound); the health function publishes none; the guard publishes one series every hour.
    presign_series = 3 * kinds + 1 + 1
    assert costs[("cw.metric.custom", "us-east-1")] == pytest.approx(presign_series * 0.30)
    assert costs[("cw.metric.custom", "us-west-2")] == pytest.approx(
        (presign_series * 0.01 + 1) * 0.30)


def test_a_stage_of_free_resources_without_a_usage_model_costs_nothing_and_others_fail():
    from tools.cost.estimate import environment_estimate
    roles = [StackTemplate("delivery/prod", "prod", {"Resources": {
        "Provider": {"Type": "AWS::IAM::OIDCProvider"}, "Role": {"Type": "AWS::IAM::Role"}}},
        "us-east-1")]
    assert environment_estimate("delivery", roles).total == 0
    keyed = [StackTemplate("delivery/prod", "prod", {"Resources": {
        "Provider": {"Type": "AWS::IAM::OIDCProvider"}, "Role": {"Type": "AWS::IAM::Role"},
        "Key": {"Type": "AWS::KMS::Key"}}}, "us-east-1")]
    with pytest.raises(CostError, match="no usage model for environment 'delivery'"):
        environment_estimate("delivery", keyed)
