#!/usr/bin/env python3
"""The synth-time floor: 20 trivial stacks, one KMS-encrypted versioned bucket each.

The yardstick of ``bench/bench_synth.py`` and ``bench/suite_ratio.py``: what any CDK app of
this size costs on this machine in this venv (Python start, jsii's Node process, construct
tree, ``app.synth()``), so the estate's synth and the suite are judged as ratios to it.
No policy packs, no assets: it is the floor, not a model of the estate.

    .venv/bin/python bench/floor_app.py [--output DIR]
"""
from __future__ import annotations

import argparse

from aws_cdk import App, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

STACKS = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="cloud assembly folder (default: CDK's temporary one)")
    args = parser.parse_args()
    app = App(outdir=args.output)
    for index in range(STACKS):
        stack = Stack(app, f"Floor{index:02d}")
        key = kms.Key(stack, "Key", enable_key_rotation=True, removal_policy=RemovalPolicy.DESTROY)
        s3.Bucket(stack, "Bucket", versioned=True, encryption=s3.BucketEncryption.KMS,
                  encryption_key=key, removal_policy=RemovalPolicy.DESTROY)
    app.synth()


if __name__ == "__main__":
    main()
