"""The logical ids of stateful resources never change by accident.

CloudFormation treats a new logical id as a new resource: a renamed bucket, key or table is
created empty while the old one is orphaned (Retain) — and a fixed physical name makes the
deploy fail outright. This list is committed; changing it is a reviewed decision. Regenerate:
    cd tests/infra && PYTHONPATH=../.. ../../.venv/bin/python test_stateful_ids.py \
        > stateful_logical_ids.json
"""
from __future__ import annotations

import json
from pathlib import Path

PINNED = Path(__file__).with_name("stateful_logical_ids.json")
STATEFUL_TYPES = ("AWS::S3::Bucket", "AWS::KMS::Key", "AWS::DynamoDB::Table",
                  "AWS::Logs::LogGroup", "AWS::SQS::Queue")


def stateful_ids(estate) -> dict[str, list[str]]:
    found = {}
    for env in sorted(estate.stages):
        for stack_id in sorted(estate.stack_ids(env)):
            ids = sorted(f"{logical_id} ({res['Type']})"
                         for logical_id, res in estate.template_json(env, stack_id)["Resources"].items()
                         if res["Type"] in STATEFUL_TYPES)
            if ids:
                found[f"{env}/{stack_id}"] = ids
    return found


def test_stateful_logical_ids_are_the_pinned_ones(estate):
    pinned = json.loads(PINNED.read_text())
    actual = stateful_ids(estate)
    for stack in sorted(set(pinned) | set(actual)):
        gone = sorted(set(pinned.get(stack, [])) - set(actual.get(stack, [])))
        new = sorted(set(actual.get(stack, [])) - set(pinned.get(stack, [])))
        assert not gone and not new, (
            f"{stack}: stateful logical ids changed — gone {gone}, new {new}. A rename replaces "
            f"the resource; if intended, update {PINNED.name} in the same change.")


if __name__ == "__main__":
    import sys

    sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests/: estate_synth
    import estate_synth
    from conftest import SynthesizedEstate

    try:
        print(json.dumps(stateful_ids(SynthesizedEstate(estate_synth.assembly())), indent=2))
    finally:
        estate_synth.stop()
