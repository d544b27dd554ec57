"""Policy packs: cdk-nag 3 AWS Solutions and NIST 800-53 rev 5, applied to the whole app.

Acknowledgements live next to the resource they excuse (``acknowledge(...)``), each
naming one finding and a reason a security reviewer can check. An unacknowledged
finding fails ``app.synth()`` and ``Template.from_stack()``.
"""
from __future__ import annotations

from aws_cdk import Acknowledgment, Stage, Validations
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks
from constructs import IConstruct


def apply_policy_packs(scope: Stage) -> None:
    Validations.of(scope).add_plugins(AwsSolutionsChecks(scope), NIST80053R5Checks(scope))


def acknowledge(construct: IConstruct, reasons: dict[str, str]) -> None:
    """Acknowledge findings on one construct: ``{"AwsSolutions-S1": "why", ...}``."""
    for rule_id, reason in reasons.items():
        if len(reason) < 20:
            raise ValueError(f"acknowledgement of {rule_id} needs a real reason, got {reason!r}")
        Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))
