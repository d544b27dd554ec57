"""EstateFunction: what every Lambda function of the estate has in common, written once.

- Python 3.14 (the newest Lambda runtime) on arm64 (Graviton: cheaper per GB-second;
  SHA-256 and TLS are fast on it);
- code is the ``lambda/`` folder as a plain folder asset (no Docker bundling: the handlers
  use only the standard library and the boto3 the runtime ships);
- X-Ray tracing active;
- an explicit log group (never the implicit ``/aws/lambda/<name>`` one Lambda would create
  with no retention and no key), KMS-encrypted with its own rotating key, retained;
- reserved concurrency, so one function can neither starve nor be starved by the others;
- a dedicated role whose only permissions are ONE customer-managed policy (no inline
  policy, no AWS-managed policy). The role is handed to the function *without policy
  updates*: CDK's implicit grants (tracing, event sources, ``grant_*``) are dropped, so the
  statements the caller passes, plus the two below, are everything the function can do:
  ``WriteOwnLogs`` (its own log group) and ``XRayTraces`` (X-Ray has no resource ARNs).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.constructs.encryption import EncryptedLogGroup
from infra.nag import acknowledge

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
# The Lambda asset root (``estate_handlers`` is a package inside it). Absolute, so synth
# does not depend on the working directory.
ASSET_ROOT = Path(__file__).resolve().parents[2] / "lambda"
ASSET_EXCLUDE = ["**/__pycache__", "**/*.pyc", "**/.pytest_cache", "**/.mypy_cache",
                 "**/.ruff_cache", "**/.DS_Store"]

XRAY_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
LOG_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]

NO_VPC_REASON = (
    "The estate has no VPC: this function only calls the public, IAM-authorized S3, "
    "DynamoDB, SQS, CloudWatch Logs and X-Ray endpoints over TLS; a VPC would add NAT or "
    "endpoint cost and no reachable private resource."
)


def code_asset() -> lambda_.Code:
    return lambda_.Code.from_asset(str(ASSET_ROOT), exclude=ASSET_EXCLUDE)


class EstateFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        description: str,
        handler: str,
        memory_size: int,
        timeout: Duration,
        environment: Mapping[str, str],
        reserved_concurrency: int,
        log_retention_days: int,
        statements: Sequence[iam.PolicyStatement],
        layers: Sequence[lambda_.ILayerVersion] = (),
    ) -> None:
        """``name`` (e.g. ``justkalm-dev-upload-hasher``) names the log group and the
        role/policy descriptions; ``statements`` are the function's own permissions."""
        super().__init__(scope, construct_id)
        self.name = name
        self.logs = EncryptedLogGroup(self, "Logs", log_group_name=f"/estate/lambda/{name}",
                                      retention_days=log_retention_days,
                                      purpose=f"logs of the {name} function")
        self.log_group = self.logs.log_group
        self.role = iam.Role(
            self,
            "Role",
            description=f"Execution role of the {name} function",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        self.statements = [
            *statements,
            iam.PolicyStatement(sid="WriteOwnLogs", actions=LOG_ACTIONS,
                                resources=[self.log_group.log_group_arn]),
            iam.PolicyStatement(sid="XRayTraces", actions=XRAY_ACTIONS, resources=["*"]),
        ]
        # Customer-managed (not inline): versioned, and reviewable on its own.
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description=f"Everything the {name} function may do",
            roles=[self.role],
            statements=self.statements,
        )
        acknowledge(self.policy, {
            "AwsSolutions-IAM5[Resource::*]":
                "Only xray:PutTraceSegments and xray:PutTelemetryRecords: X-Ray has no "
                "resource-level permissions, so these actions require Resource *.",
        })
        self.timeout = timeout
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=code_asset(),
            memory_size=memory_size,
            timeout=timeout,
            environment=dict(environment),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            reserved_concurrent_executions=reserved_concurrency,
            # Grants CDK would add on its own (X-Ray, event sources) are dropped: the
            # managed policy above is the whole story.
            role=self.role.without_policy_updates(),
            # Third-party packages come as layers built for this runtime and architecture
            # (infra/constructs/python_layer.py), never inside the handler asset.
            layers=list(layers) or None,
        )
        # The role must hold its policy before Lambda validates it (event source mappings
        # check sqs:ReceiveMessage when they are created) or the function first runs.
        self.function.node.add_dependency(self.policy)
        acknowledge(self.function, {
            "NIST.800.53.R5-LambdaInsideVPC": NO_VPC_REASON,
        })
