"""Usage errors of the restore that only a server can show: buckets that do not answer are
refused (exit 2, one line) before anything is listed or changed."""
from __future__ import annotations

import datetime as dt
import io
import uuid

from tools.restore import cli

PREFIX = "data/"


def _restore(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = cli.main([*argv], stdout=out)
    return code, out.getvalue()


def test_a_source_bucket_that_does_not_exist_is_a_usage_error_even_in_a_dry_run(capsys):
    missing = f"missing-{uuid.uuid4().hex[:16]}"
    code, out = _restore("--bucket", missing, "--prefix", PREFIX,
                         "--at", dt.datetime.now(dt.UTC).isoformat(), "--dry-run")
    err = capsys.readouterr().err
    assert code == 2, out
    assert f"s3://{missing} does not answer" in err and "nothing was changed" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_destination_bucket_that_does_not_exist_is_refused_before_any_change(
        s3_client, fresh_bucket, capsys):
    s3_client.put_object(Bucket=fresh_bucket, Key=PREFIX + "a.txt", Body=b"a")
    missing = f"missing-{uuid.uuid4().hex[:16]}"
    code, out = _restore("--bucket", fresh_bucket, "--prefix", PREFIX, "--to-bucket", missing,
                         "--at", dt.datetime.now(dt.UTC).isoformat(), "--yes")
    err = capsys.readouterr().err
    assert code == 2, out
    assert f"s3://{missing} does not answer" in err and "Traceback" not in err
    assert out == ""  # refused before the plan was even listed


def test_a_replica_bucket_that_does_not_exist_is_refused_before_any_change(
        s3_client, fresh_bucket, capsys):
    s3_client.put_object(Bucket=fresh_bucket, Key=PREFIX + "a.txt", Body=b"a")
    before = s3_client.list_object_versions(Bucket=fresh_bucket)["Versions"]
    missing = f"missing-{uuid.uuid4().hex[:16]}"
    code, _ = _restore("--bucket", fresh_bucket, "--prefix", PREFIX, "--from-replica",
                       "--replica-bucket", missing, "--replica-region", "us-east-1",
                       "--at", dt.datetime.now(dt.UTC).isoformat(), "--yes", "--remove-newer")
    err = capsys.readouterr().err
    assert code == 2 and f"s3://{missing} does not answer" in err and "Traceback" not in err
    after = s3_client.list_object_versions(Bucket=fresh_bucket)
    assert after["Versions"] == before and not after.get("DeleteMarkers")
