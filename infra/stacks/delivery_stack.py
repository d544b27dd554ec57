"""One account's entry for GitHub Actions: the OIDC provider and, per environment in the
account, a deploy role and a read-only drift role (docs/delivery.md)."""
from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack
from constructs import Construct

from infra.config import ConfigError, EnvironmentConfig
from infra.constructs.github_oidc import GitHubRole, github_oidc_provider_arn


class DeliveryStack(Stack):
    """Deployed once per account by an administrator, never by the pipeline it trusts: the
    deploy workflow deploys `<env>/*`, which this stack is not part of."""

    def __init__(self, scope: Construct, construct_id: str, *,
                 configs: list[EnvironmentConfig]) -> None:
        accounts = {cfg.account for cfg in configs}
        if len(accounts) != 1 or any(cfg.delivery is None for cfg in configs):
            raise ConfigError(f"DeliveryStack {construct_id}: one account, every environment "
                              "with a delivery config")
        first = configs[0]
        super().__init__(scope, construct_id, termination_protection=True,
                         env=Environment(account=first.account, region=first.primary_region),
                         description="GitHub Actions OIDC provider and the estate's deploy "
                                     "and drift roles (assume CDK bootstrap roles only)")
        self.provider_arn = github_oidc_provider_arn(self, first.delivery.existing_oidc_provider)
        self.deploy_roles: dict[str, GitHubRole] = {}
        self.drift_roles: dict[str, GitHubRole] = {}
        for cfg in configs:
            self._roles(cfg)

    def _roles(self, cfg: EnvironmentConfig) -> None:
        delivery, env = cfg.delivery, cfg.name
        deploy = GitHubRole(
            self, f"Deploy{env.capitalize()}", provider_arn=self.provider_arn,
            subjects=delivery.environment_subjects(env), role_name=cfg.github_deploy_role_name,
            description=f"GitHub Actions deploys {env} from {delivery.repository} "
                        f"(GitHub environment '{env}')",
            may_assume=cfg.bootstrap_role_arns())
        drift = GitHubRole(
            self, f"Drift{env.capitalize()}", provider_arn=self.provider_arn,
            subjects=delivery.branch_subjects, role_name=cfg.github_drift_role_name,
            description=f"GitHub Actions checks {env} for drift from {delivery.repository} "
                        f"({delivery.branch}; read-only lookup role)",
            may_assume=cfg.bootstrap_role_arns("lookup"))
        self.deploy_roles[env], self.drift_roles[env] = deploy, drift
        # The workflows derive these ARNs from config (docs/delivery.md, "One-time setup"):
        # the outputs are for reading, and must not send operators to set GitHub variables.
        CfnOutput(self, f"DeployRoleArn{env.capitalize()}", value=deploy.role.role_arn,
                  description=f"The role deploy.yml assumes for '{env}'; the workflow reads its "
                              "ARN from config (python -m tools.github_roles): nothing to set "
                              "in GitHub")
        CfnOutput(self, f"DriftRoleArn{env.capitalize()}", value=drift.role.role_arn,
                  description=f"The role drift.yml assumes for '{env}'; the workflow reads its "
                              "ARN from config (python -m tools.github_roles): nothing to set "
                              "in GitHub")
