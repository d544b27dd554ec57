#!/usr/bin/env python3
"""Benchmark of the presign handler (not a test): `.venv/bin/python bench/bench_presign.py`.

1. Warm issuance latency: the whole handler (Powertools routing, identity, validation, key
   generation, policy, presign, JSON response, log line) against a bare boto3
   ``generate_presigned_post`` in the same process, same client configuration. The PUT path
   adds a dedup lookup, answered by an in-memory stub (no servers: our code, not the network).
2. Cold start: a fresh interpreter importing the handler module and building its clients
   (``current_deps()``, what Lambda's init phase does) against one that imports boto3 and
   builds the same two clients with the same configuration; the two alternate, median of
   several runs each. Budget: handler / baseline <= 1.3 (``COLD_START_BUDGET``).

``--check`` exits 1 when the cold-start ratio misses its budget; ``--quick`` runs fewer
calls and repetitions.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import itertools
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "lambda"), str(REPO)]

from infra.config import UploadApiConfig  # noqa: E402

ENV = {
    "ASSETS_BUCKET_NAME": "acme-assets-dev", "DEDUP_TABLE_NAME": "dedup-bench",
    "UPLOAD_POLICY": UploadApiConfig().policy_json(), "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "AKIDBENCH", "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_EC2_METADATA_DISABLED": "true",
}
for _name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB",
              "AWS_PROFILE"):
    os.environ.pop(_name, None)
os.environ.update(ENV)

from estate_handlers import presign  # noqa: E402


class MissingIndex:
    """Stands in for DynamoDB: every hash is new."""

    def get_item(self, **kwargs):
        return {}


def event(body: dict) -> dict:
    return {"version": "2.0", "routeKey": "POST /uploads", "rawPath": "/uploads",
            "isBase64Encoded": False, "body": json.dumps(body),
            "requestContext": {"http": {"method": "POST", "path": "/uploads"}, "stage": "$default",
                               "authorizer": {"iam": {"userArn": "arn:aws:iam::1:user/b"}}}}


def per_call_us(fns: dict, n: int, rounds: int = 7) -> dict[str, float]:
    """Median over ``rounds`` of the mean time per call (microseconds). The candidates take
    turns within each round, so load from other processes hits them alike."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        for _ in range(max(n // 10, 10)):
            fn()
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - start) / n * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def warm(n: int) -> list[tuple[str, float]]:
    deps = presign.current_deps()
    deps = presign.Deps(s3=deps.s3, dynamodb=MissingIndex(), bucket=deps.bucket,
                        table=deps.table, policy=deps.policy)
    presign.logger.setLevel(logging.WARNING)  # measure the work, not stderr
    # Each request's metrics flush once per invocation; here they would pile up, so flush
    # them like log_metrics does, into the void (the EMF line's cost is part of the work).
    flush = presign.metrics.flush_metrics
    post_event = event({"kind": "product-image", "filename": "look.png",
                        "content_type": "image/png", "size": 1_000_000})
    put_event = event({"kind": "product-image", "filename": "look.png",
                       "content_type": "image/png", "size": 1_000_000,
                       "sha256": hashlib.sha256(b"bench").hexdigest()})
    assert presign.handle(post_event, deps)["statusCode"] == 200
    assert presign.handle(put_event, deps)["statusCode"] == 200

    # Fresh keys, as in real issuance: botocore caches endpoint resolution per key, so a
    # constant key would flatter the bare calls.
    keys = (f"products/images/original/{i:032x}/look.png" for i in itertools.count())
    checksum = base64.b64encode(hashlib.sha256(b"bench").digest()).decode()

    def bare_post():
        deps.s3.generate_presigned_post(
            deps.bucket, next(keys),
            Fields={"Content-Type": "image/png", "x-amz-storage-class": "INTELLIGENT_TIERING"},
            Conditions=[{"Content-Type": "image/png"},
                        ["content-length-range", 1_000_000, 1_000_000],
                        {"x-amz-storage-class": "INTELLIGENT_TIERING"}],
            ExpiresIn=900)

    def bare_put():
        deps.s3.generate_presigned_url("put_object", ExpiresIn=900, Params={
            "Bucket": deps.bucket, "Key": next(keys), "ContentType": "image/png",
            "ContentLength": 1_000_000, "ChecksumSHA256": checksum,
            "StorageClass": "INTELLIGENT_TIERING"})

    return list(per_call_us({
        "bare generate_presigned_post (same conditions)": bare_post,
        "handler POST /uploads (presigned POST)": lambda: (presign.handle(post_event, deps),
                                                           flush()),
        "bare generate_presigned_url(put_object, same params)": bare_put,
        "handler POST /uploads + sha256 (PUT, stub index)": lambda: (
            presign.handle(put_event, deps), flush()),
    }, n).items())


COLD_START_BUDGET = 1.3
# The same two clients the handler builds, with the same configuration (presign.py).
BASELINE = (
    "import boto3\n"
    "from botocore.config import Config\n"
    "limits = {'connect_timeout': 2, 'read_timeout': 5, "
    "'retries': {'mode': 'standard', 'max_attempts': 3}}\n"
    "boto3.client('s3', region_name='us-east-1', config=Config(signature_version='s3v4', "
    "s3={'us_east_1_regional_endpoint': 'regional', 'addressing_style': 'virtual'}, **limits))\n"
    "boto3.client('dynamodb', region_name='us-east-1', config=Config(**limits))")
HANDLER = "import estate_handlers.presign as p\np.current_deps()"
COLD = {"import boto3 + s3/dynamodb clients (baseline)": BASELINE,
        "import estate_handlers.presign + current_deps()": HANDLER,
        "import boto3 alone": "import boto3"}


def cold_ms(snippet: str) -> float:
    code = ("import sys, time\nsys.path.insert(0, sys.argv[1])\nt = time.perf_counter()\n"
            f"{snippet}\nprint((time.perf_counter() - t) * 1000)")
    env = {**os.environ, **ENV, "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, "-c", code, str(REPO / "lambda")], env=env,
                         check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def cold_start(runs: int) -> dict[str, float]:
    """Median per snippet; the snippets take turns, so load from other processes hits all."""
    samples: dict[str, list[float]] = {name: [] for name in COLD}
    for _ in range(runs):
        for name, snippet in COLD.items():
            samples[name].append(cold_ms(snippet))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per timing batch")
    parser.add_argument("--import-runs", type=int, default=9)
    parser.add_argument("--quick", action="store_true", help="100 calls, 5 cold starts")
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 when the cold-start ratio exceeds {COLD_START_BUDGET}")
    args = parser.parse_args()
    calls, runs = (100, 5) if args.quick else (args.calls, args.import_runs)

    with open(os.devnull, "w") as void, contextlib.redirect_stdout(void):
        rows = warm(calls)
    print(f"Warm issuance (median of 7 interleaved rounds x {calls} calls)")
    print(f"  {'path':52} {'us/call':>9}")
    for name, us in rows:
        print(f"  {name:52} {us:9.1f}")
    print(f"  ratio handler POST / bare POST: {rows[1][1] / rows[0][1]:.2f}x;"
          f" handler PUT / bare PUT: {rows[3][1] / rows[2][1]:.2f}x")

    print(f"\nCold start in a fresh interpreter (median of {runs} interleaved runs)")
    print(f"  {'what':52} {'ms':>9}")
    results = cold_start(runs)
    for name, ms in results.items():
        print(f"  {name:52} {ms:9.1f}")
    names = list(COLD)
    ratio = results[names[1]] / results[names[0]]
    verdict = "ok" if ratio <= COLD_START_BUDGET else "MISSED"
    print(f"  ratio handler import + clients / boto3 + same clients: {ratio:.2f}x "
          f"(budget <= {COLD_START_BUDGET}x: {verdict})")
    return 1 if args.check and ratio > COLD_START_BUDGET else 0


if __name__ == "__main__":
    sys.exit(main())
