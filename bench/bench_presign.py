#!/usr/bin/env python3
"""Benchmark of the presign handler (not a test): `.venv/bin/python bench/bench_presign.py`.

1. Warm issuance latency: the whole handler (routing, identity, validation, key generation,
   policy, presign, JSON response, log line) against a bare boto3 ``generate_presigned_post``
   in the same process, same client configuration. The PUT path adds a dedup lookup,
   answered here by an in-memory stub (no servers: this measures our code, not the network).
2. Cold import: a fresh interpreter importing the handler module (which also builds its
   boto3 clients, as Lambda's init phase does) against one importing boto3 alone; median
   of several runs.
"""
from __future__ import annotations

import argparse
import base64
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
            "requestContext": {"http": {"method": "POST", "path": "/uploads"},
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
    deps = presign._DEPS
    assert deps is not None, presign._INIT_ERROR
    deps = presign.Deps(s3=deps.s3, dynamodb=MissingIndex(), bucket=deps.bucket,
                        table=deps.table, policy=deps.policy)
    presign.log.setLevel(logging.WARNING)  # measure the work, not stderr
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
        "handler POST /uploads (presigned POST)": lambda: presign.handle(post_event, deps),
        "bare generate_presigned_url(put_object, same params)": bare_put,
        "handler POST /uploads + sha256 (PUT, stub index)": lambda: presign.handle(put_event,
                                                                                   deps),
    }, n).items())


IMPORT_SNIPPETS = {
    "import boto3": "import boto3",
    "import boto3 + create s3/dynamodb clients": (
        "import boto3; boto3.client('s3', region_name='us-east-1'); "
        "boto3.client('dynamodb', region_name='us-east-1')"),
    "import estate_handlers.presign": "import estate_handlers.presign",
}


def cold_import_ms(snippet: str, runs: int) -> float:
    code = ("import sys, time; sys.path.insert(0, sys.argv[1]); t = time.perf_counter(); "
            f"{snippet}; print((time.perf_counter() - t) * 1000)")
    env = {**os.environ, **ENV, "PYTHONDONTWRITEBYTECODE": "1"}
    samples = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code, str(REPO / "lambda")], env=env,
                             check=True, capture_output=True, text=True)
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per timing batch")
    parser.add_argument("--import-runs", type=int, default=7)
    args = parser.parse_args()

    rows = warm(args.calls)
    print(f"Warm issuance (median of 7 interleaved rounds x {args.calls} calls)")
    print(f"  {'path':52} {'us/call':>9}")
    for name, us in rows:
        print(f"  {name:52} {us:9.1f}")
    print(f"  ratio handler POST / bare POST: {rows[1][1] / rows[0][1]:.2f}x;"
          f" handler PUT / bare PUT: {rows[3][1] / rows[2][1]:.2f}x")

    print(f"\nCold import in a fresh interpreter (median of {args.import_runs} runs)")
    print(f"  {'what':52} {'ms':>9}")
    results = {name: cold_import_ms(snippet, args.import_runs)
               for name, snippet in IMPORT_SNIPPETS.items()}
    for name, ms in results.items():
        print(f"  {name:52} {ms:9.1f}")
    print(f"  ratio handler import / import boto3: "
          f"{results['import estate_handlers.presign'] / results['import boto3']:.2f}x")


if __name__ == "__main__":
    main()
