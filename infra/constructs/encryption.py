"""Customer-managed keys and encrypted log groups, written once for every construct.

Every key of the estate rotates yearly, waits 30 days before deletion, and is retained with
its stack (except after a failed first create) unless it protects nothing at rest. A log
group's key lets CloudWatch Logs of its region use it for that one log group only.
"""
from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

# The retention periods CloudWatch Logs accepts, in days.
_LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                       1827, 2192, 2557, 2922, 3288, 3653)


def log_retention_days(days: int) -> int:
    """The shortest CloudWatch Logs retention that keeps logs at least ``days``."""
    return next((d for d in _LOG_RETENTION_DAYS if d >= days), _LOG_RETENTION_DAYS[-1])


def rotating_key(scope: Construct, construct_id: str, *, description: str,
                 alias: str | None = None,
                 removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
                 ) -> kms.Key:
    return kms.Key(scope, construct_id, description=description, alias=alias,
                   enable_key_rotation=True, removal_policy=removal_policy,
                   pending_window=Duration.days(30))


class EncryptedLogGroup(Construct):
    """A named log group, retained, encrypted with its own rotating key."""

    def __init__(self, scope: Construct, construct_id: str, *, log_group_name: str,
                 retention_days: int, purpose: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.log_group_name = log_group_name
        # Named, so the key policy can name it without a reference (no key <-> group cycle).
        self.log_group_arn_literal = stack.format_arn(
            service="logs", resource="log-group", resource_name=log_group_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME)
        self.key = rotating_key(self, "Key",
                                description=f"Encrypts the log group {log_group_name} ({purpose})")
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchLogsEncryptsThisLogGroup",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*",
                     "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={"ArnEquals": {
                "kms:EncryptionContext:aws:logs:arn": self.log_group_arn_literal}},
        ))
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=log_group_name,
            encryption_key=self.key,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        cfn: logs.CfnLogGroup = self.log_group.node.default_child  # type: ignore[assignment]
        cfn.retention_in_days = log_retention_days(retention_days)
