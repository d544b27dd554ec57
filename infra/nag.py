"""Policy packs: cdk-nag 3 AWS Solutions and NIST 800-53 rev 5, applied to the whole app.

Acknowledgements live next to the resource they excuse (``acknowledge(...)``), each
naming one finding and a reason a security reviewer can check. An unacknowledged
finding fails ``app.synth()`` and ``Template.from_stack()``.
"""
from __future__ import annotations

from aws_cdk import Acknowledgment, App, CloudFormationValidatePlugin, Stage, Validations
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks
from constructs import IConstruct


def apply_policy_packs(scope: Stage) -> None:
    Validations.of(scope).add_plugins(AwsSolutionsChecks(scope), NIST80053R5Checks(scope))


PACKS = ("AwsSolutions", "NIST.800.53.R5")

# `-c validate-templates=true` runs CDK's own CloudFormation validation at synth.
TEMPLATE_VALIDATION_CONTEXT = "validate-templates"


def apply_template_validation(app: App) -> bool:
    """CDK's CloudFormation validation (resource schemas, semantic and security rules in a
    WebAssembly engine) when the context asks for it; whether it was added.

    CDK turns it on by default, and it costs more than the rest of our synth together:
    compiling its engine, then reading every template again, took ~8.5 of the ~15 CPU seconds
    of ``python app.py``. It only reads the finished templates, so it runs where a template is
    about to matter: the test suite's one synth (``tests/estate_synth.py``), `make deploy` and
    `make diff`. The inner loop (`make synth`, ``python app.py``) leaves it out: the app is
    built with ``builtin_cloud_formation_validation=False``.
    """
    if str(app.node.try_get_context(TEMPLATE_VALIDATION_CONTEXT)).lower() != "true":
        return False
    Validations.of(app).add_plugins(CloudFormationValidatePlugin())
    return True


def acknowledge(construct: IConstruct, reasons: dict[str, str]) -> None:
    """Acknowledge findings on one construct: ``{"AwsSolutions-S1": "why", ...}``.

    Ids are scoped to their pack (``AwsSolutions::AwsSolutions-S1``), the form cdk-nag
    prints, so an acknowledgement can never silence another plugin's rule of that name.
    """
    for rule_id, reason in reasons.items():
        pack = next((p for p in PACKS if rule_id.startswith(f"{p}-")), None)
        if pack is None:
            raise ValueError(f"{rule_id!r} is not a rule of the packs {PACKS}")
        if len(reason) < 20:
            raise ValueError(f"acknowledgement of {rule_id} needs a real reason, got {reason!r}")
        Validations.of(construct).acknowledge(Acknowledgment(id=f"{pack}::{rule_id}", reason=reason))


def acknowledgements(scope: IConstruct) -> list[tuple[str, str, str]]:
    """Every acknowledgement below ``scope``: (construct path, pack::rule, reason)."""
    found = []
    for construct in scope.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                found.extend((construct.node.path, rule, reason)
                             for rule, reason in entry.data.items())
    return found
