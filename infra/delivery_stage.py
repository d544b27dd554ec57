"""The accounts' trust of GitHub Actions, one stack per account, outside the environments'
stages: the pipeline deploys `<env>/*` and so can never rewrite the trust it deploys with."""
from __future__ import annotations

from aws_cdk import Stage, Tags
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.stacks.delivery_stack import DeliveryStack

STAGE_ID = "delivery"


class DeliveryStage(Stage):
    """`delivery/<env>` per account (`delivery/dev-prod` when environments share one: an
    account holds one OIDC provider for GitHub). Environments without ``delivery`` config
    get nothing."""

    def __init__(self, scope: Construct, configs: list[EnvironmentConfig]) -> None:
        super().__init__(scope, STAGE_ID)
        by_account: dict[str, list[EnvironmentConfig]] = {}
        for cfg in configs:
            if cfg.delivery is not None:
                by_account.setdefault(cfg.account, []).append(cfg)
        self.stacks_by_id = {
            "-".join(cfg.name for cfg in group): DeliveryStack(
                self, "-".join(cfg.name for cfg in group), configs=group)
            for group in by_account.values()}
        Tags.of(self).add("project", "storage-estate")
        Tags.of(self).add("purpose", "delivery")
