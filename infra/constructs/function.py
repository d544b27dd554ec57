"""EstateFunction: what every Lambda function of the estate has in common, written once.

- Python 3.14 (the newest Lambda runtime) on arm64 (Graviton: cheaper per GB-second;
  SHA-256 and TLS are fast on it);
- code is the ``lambda/`` folder as a plain folder asset (no Docker bundling); what the
  handlers import (Powertools for AWS Lambda (Python) and the AWS SDK, pinned in
  ``lambda/requirements.txt``: the runtime's own boto3 changes when Lambda updates it, and
  the tests prove this release's presigned URLs) comes in one layer per stack, built by pip
  for this runtime and architecture (``python_layer.py``). Not AWS's public Powertools layer:
  its version numbers cannot be checked offline, and a layer we build is exactly the release
  the tests run;
- no X-Ray: Powertools' Tracer would import the X-Ray SDK, which alone costs the presign
  function ~80 ms of cold start (over its budget, see ``bench/bench_presign.py``), and active
  tracing without a tracer in the code is half-configured; structured logs and EMF metrics
  carry the request keys and counts instead;
- one metrics namespace and a service name per function for Powertools' Logger/Metrics;
- an explicit log group (never the implicit ``/aws/lambda/<name>`` one Lambda would create
  with no retention and no key), KMS-encrypted with its own rotating key, retained;
- reserved concurrency, so one function can neither starve nor be starved by the others;
- a dedicated role whose only permissions are ONE customer-managed policy (no inline
  policy, no AWS-managed policy). The role is handed to the function *without policy
  updates*: CDK's implicit grants (tracing, event sources, ``grant_*``) are dropped, so the
  statements the caller passes, plus ``WriteOwnLogs`` (its own log group), are everything
  the function can do. (EMF metrics are log lines: no cloudwatch:PutMetricData.)
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import METRICS_NAMESPACE, function_log_group_name
from infra.constructs.encryption import EncryptedLogGroup
from infra.constructs.lambda_target import ARCHITECTURE, RUNTIME
from infra.constructs.python_layer import PythonLayer
from infra.nag import acknowledge

# The Lambda asset root (``estate_handlers`` is a package inside it). Absolute, so synth
# does not depend on the working directory.
ASSET_ROOT = Path(__file__).resolve().parents[2] / "lambda"
ASSET_EXCLUDE = ["**/__pycache__", "**/*.pyc", "**/.pytest_cache", "**/.mypy_cache",
                 "**/.ruff_cache", "**/.DS_Store"]

# What every handler imports, the AWS SDK included (the handler-packages layer).
HANDLER_REQUIREMENTS = ASSET_ROOT / "requirements.txt"
HANDLER_PACKAGES_ID = "HandlerPackages"
LOG_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]

NO_VPC_REASON = (
    "The estate has no VPC: this function only calls the public, IAM-authorized S3, "
    "DynamoDB, SQS, CloudWatch Logs and X-Ray endpoints over TLS; a VPC would add NAT or "
    "endpoint cost and no reachable private resource."
)


def handler_packages_layer(scope: Construct) -> lambda_.ILayerVersion:
    """The stack's one layer of handler packages (created on first use, shared after)."""
    stack = Stack.of(scope)
    existing = stack.node.try_find_child(HANDLER_PACKAGES_ID)
    if existing is None:
        existing = PythonLayer(stack, HANDLER_PACKAGES_ID, requirements=HANDLER_REQUIREMENTS,
                               description="Powertools for AWS Lambda (Python) for the estate's "
                                           "handlers", license_info="MIT-0")
    return existing.layer


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
        layers: Sequence[lambda_.ILayerVersion] | None = None,
    ) -> None:
        """``name`` (e.g. ``justkalm-dev-upload-hasher``) names the log group and the
        role/policy descriptions; ``statements`` are the function's own permissions;
        ``layers`` replace the stack's handler-packages layer (they must then carry
        Powertools themselves)."""
        super().__init__(scope, construct_id)
        self.name = name
        self.logs = EncryptedLogGroup(self, "Logs", log_group_name=function_log_group_name(name),
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
        ]
        # Customer-managed (not inline): versioned, and reviewable on its own.
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description=f"Everything the {name} function may do",
            roles=[self.role],
            statements=self.statements,
        )
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
            environment={"POWERTOOLS_SERVICE_NAME": name,
                         "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                         **environment},
            log_group=self.log_group,
            reserved_concurrent_executions=reserved_concurrency,
            # Grants CDK would add on its own (event sources) are dropped: the
            # managed policy above is the whole story.
            role=self.role.without_policy_updates(),
            # Third-party packages come as layers built for this runtime and architecture
            # (infra/constructs/python_layer.py), never inside the handler asset.
            layers=list(layers) if layers is not None else [handler_packages_layer(self)],
        )
        # The role must hold its policy before Lambda validates it (event source mappings
        # check sqs:ReceiveMessage when they are created) or the function first runs.
        self.function.node.add_dependency(self.policy)
        acknowledge(self.function, {
            "NIST.800.53.R5-LambdaInsideVPC": NO_VPC_REASON,
        })
