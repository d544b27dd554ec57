"""The accounts' trust of GitHub Actions, one stack per account, outside the environments'
stages: the pipeline deploys `<env>/*` and so never targets the trust it deploys with (what
keeps a merged change from altering it is review: docs/delivery.md, "The trust")."""
from __future__ import annotations

from aws_cdk import Stage, Tags
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.stacks.delivery_stack import DeliveryStack

STAGE_ID = "delivery"


class DeliveryStage(Stage):
    """`delivery/<env>` per account (`delivery/dev-prod` when environments share one: an
    account holds one OIDC provider for GitHub). Environments without ``delivery`` config
    get nothing. ``every_config`` groups the accounts, ``configs`` (what ``-c env=`` selected)
    picks the groups to build: `-c env=dev` then names the same stack as a full synth."""

    def __init__(self, scope: Construct, configs: list[EnvironmentConfig],
                 every_config: list[EnvironmentConfig] | None = None) -> None:
        super().__init__(scope, STAGE_ID)
        by_account: dict[str, list[EnvironmentConfig]] = {}
        for cfg in every_config or configs:
            if cfg.delivery is not None:
                by_account.setdefault(cfg.account, []).append(cfg)
        selected = {cfg.name for cfg in configs}
        self.stacks_by_id = {
            "-".join(cfg.name for cfg in group): DeliveryStack(
                self, "-".join(cfg.name for cfg in group), configs=group)
            for group in by_account.values() if selected & {cfg.name for cfg in group}}
        Tags.of(self).add("project", "storage-estate")
        Tags.of(self).add("purpose", "delivery")
