"""``tools.reconcile`` reads the environment's config: buckets, Regions, the gate, the
rendition set; the clients it builds point at the right Region (no AWS call is made)."""
from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from infra.environments import ENVIRONMENTS
from tools.reconcile import cli, engine
from tools.restore import batch


def settings(*extra: str) -> cli.Settings:
    return cli.Settings.from_args(cli.parser().parse_args(["--env", "prod", "--table", "dedup",
                                                           *extra]))


def test_the_environment_names_both_buckets_regions_gate_and_renditions():
    cfg = ENVIRONMENTS["prod"]()
    got = settings()
    assert (got.primary_bucket, got.secondary_bucket) == (cfg.assets_bucket_name,
                                                          cfg.replica_bucket_name)
    assert (got.primary_region, got.secondary_region) == (cfg.primary_region,
                                                          cfg.replica_region)
    assert got.gated_prefixes == cfg.upload_gate.gated_prefixes
    assert got.render_settings == cfg.renditions.settings()


def test_a_bucket_override_derives_its_replica_name():
    got = settings("--bucket", "acme-imported-assets")
    assert got.secondary_bucket == "acme-imported-assets-replica"


def test_clients_are_built_for_each_region_and_the_hasher_writes_the_primary(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDUNIT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    estate = cli.build_estate(settings(), "dedup")
    assert estate.primary.s3.meta.region_name == "us-east-1"
    assert estate.secondary.s3.meta.region_name == "us-west-2"
    # No plan protects the secondary's bucket: no on-demand scan is ever asked for there.
    assert estate.secondary.guardduty is None
    assert estate.primary.guardduty.meta.region_name == "us-east-1"
    # Batch Replication jobs are created in the secondary (their source bucket's) Region, run
    # by the Replica stack's role, manifests and reports under reconcile-jobs/ of that bucket.
    cfg = ENVIRONMENTS["prod"]()
    jobs = estate.replication
    assert jobs.s3control.meta.region_name == "us-west-2"
    assert jobs.target == batch.BatchTarget(cfg.account, "us-west-2",
                                            cfg.reverse_batch_replication_role_arn,
                                            cfg.replica_bucket_name, "reconcile-jobs/")
    assert estate.hasher.s3 is estate.primary.s3 and estate.hasher.table_name == "dedup"
    assert estate.hasher.dynamodb.meta.region_name == "us-east-1"


def test_since_after_until_is_a_usage_error():
    with pytest.raises(cli.UsageError, match="before --until"):
        settings("--since", "2026-11-20T11:00:00Z", "--until", "2026-11-20T10:00:00Z")


def test_the_primarys_versions_of_a_key_are_read_from_every_page():
    from types import SimpleNamespace

    from tools.reconcile import engine

    key = "user-content/uploads/alice-0123456789abcdef/a1/receipt.pdf"
    pages = [{"Versions": [{"Key": key, "VersionId": f"v{i}", "IsLatest": False}
                           for i in range(1000)]},
             {"Versions": [{"Key": key, "VersionId": "newest", "IsLatest": True},
                           {"Key": key + ".bak", "VersionId": "other", "IsLatest": True}],
              "DeleteMarkers": [{"Key": key + ".bak", "VersionId": "m", "IsLatest": True}]}]

    class Listing:
        def get_paginator(self, name):
            assert name == "list_object_versions"
            return self

        def paginate(self, Bucket, Prefix):  # noqa: N803 - boto3's parameter names
            assert (Bucket, Prefix) == ("b", key)
            yield from pages

    estate = SimpleNamespace(primary=SimpleNamespace(s3=Listing(), bucket="b"))
    versions, deleted = engine.primary_versions(estate, key)
    assert len(versions) == 1001 and versions[-1]["VersionId"] == "newest"
    assert deleted is False  # the delete marker is another key's


def test_an_environment_without_the_gate_has_no_batch_replication(monkeypatch):
    # Its uploads are readable in the secondary: reconcile copies them itself.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDUNIT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    got = cli.Settings.from_args(cli.parser().parse_args(["--env", "dev", "--table", "dedup"]))
    assert got.gated_prefixes == () and got.batch_replication_role_arn is None
    assert cli.build_estate(got, "dedup").replication is None


def test_a_twin_deleted_in_the_primary_since_is_left_alone(monkeypatch):
    # The window's upload replicated back (same version id), then the primary deleted it
    # (a delete marker is current): hashing or rendering it would bring it back.
    item = engine.Written("brands/media/a.mp4", "v-west", 10, datetime.now(UTC))
    monkeypatch.setattr(engine, "primary_versions", lambda estate, key: (
        [{"Key": key, "VersionId": "v-west", "IsLatest": False}], True))
    finding = engine.Finding(item.key, item.version_id)
    assert engine._primary_twin(None, item, finding) is None
    assert finding.detail == "deleted in the primary: not copied back"


def test_the_window_reaches_past_until_by_the_url_expiry_and_a_dns_margin(monkeypatch):
    # A URL the secondary issued just before failback stays valid for the upload API's expiry,
    # and clients keep the old DNS answer a while: those uploads land after --until.
    cfg = ENVIRONMENTS["prod"]()
    got = settings("--until", "2026-11-20T11:15:00Z")
    assert got.late_write_seconds == cfg.upload_api.url_expiry_seconds + cli.DNS_MARGIN_SECONDS
    windows = []
    monkeypatch.setattr(cli, "reconcile", lambda estate, since, until, apply, originals_from:
                        windows.append((since, until, originals_from)) or [])
    args = cli.parser().parse_args(["--env", "prod", "--table", "dedup",
                                    "--until", "2026-11-20T11:15:00Z"])
    out = io.StringIO()
    assert cli._run(args, got, engine.Estate.__new__(engine.Estate), None, out) == 0
    until = datetime(2026, 11, 20, 11, 15, tzinfo=UTC)
    # Past --until only versions written in the secondary: the primary's new uploads
    # replicate there too, and are its pipeline's to process.
    assert windows == [(None, until + timedelta(seconds=got.late_write_seconds), until)]
    assert f"--until plus {got.late_write_seconds} s" in out.getvalue()


def test_past_until_only_versions_written_in_the_secondary_are_reconciled():
    # After failback the primary takes uploads again and replication copies them into the
    # secondary (ReplicationStatus REPLICA): reconciling them would race the primary pipeline.
    from estate_handlers.layout import ORIGINALS
    until = datetime(2026, 11, 20, 11, 15, tzinfo=UTC)
    versions = {f"{ORIGINALS}outage.png": (until - timedelta(minutes=5), "COMPLETED"),
                f"{ORIGINALS}late-window-upload.png": (until + timedelta(minutes=5), "PENDING"),
                f"{ORIGINALS}primary-upload.png": (until + timedelta(minutes=6), "REPLICA")}

    class S3:
        def get_paginator(self, name):
            assert name == "list_object_versions"
            return self

        def paginate(self, Bucket, Prefix):
            yield {"Versions": [{"Key": k, "VersionId": "v", "Size": 1, "LastModified": when,
                                 "IsLatest": True}
                                for k, (when, _) in versions.items() if k.startswith(Prefix)]}

        def head_object(self, Bucket, Key, **kw):
            return {"ReplicationStatus": versions[Key][1]}

    estate = engine.Estate.__new__(engine.Estate)
    object.__setattr__(estate, "secondary", engine.Region(S3(), "replica"))
    found = [w.key for w in engine.written_in_secondary(
        estate, None, until + timedelta(minutes=20), originals_from=until)]
    assert found == [f"{ORIGINALS}outage.png", f"{ORIGINALS}late-window-upload.png"]
