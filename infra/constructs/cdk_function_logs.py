"""Log groups, with retention and a key, for the Lambda functions CDK itself adds.

CDK vends functions of its own: the cross-region reference writer and reader (SSM), and any
other provider a feature pulls in. They log to the implicit ``/aws/lambda/<name>`` group,
which never expires and is not encrypted with a key of ours. Here each one gets an
``EncryptedLogGroup`` (named, retained, own key, retention from config) and its
``LoggingConfig`` points at it, which also makes the function wait for the group.

Some of those functions are created while CDK resolves references, after every Aspect has
run, so this hooks into validation, the first step that sees the finished tree; templates are
rendered (and the policy packs run) after it, so the new resources are checked like any other.
"""
from __future__ import annotations

import re
from collections.abc import Callable

import jsii
from aws_cdk import CfnResource, Stack, aws_lambda
from constructs import Construct, IConstruct, IValidation

from infra.constructs.encryption import EncryptedLogGroup

LAMBDA_FUNCTION = "AWS::Lambda::Function"


def _function_label(function: CfnResource) -> str:
    """``Custom::CrossRegionExportReaderCustomResourceProvider/Handler`` -> ``cross-region-export-reader``."""
    owner = function.node.scope.node.id if function.node.id == "Handler" else function.node.id
    owner = owner.removeprefix("Custom::").removesuffix("CustomResourceProvider")
    return re.sub(r"(?<!^)(?=[A-Z])", "-", re.sub(r"[^A-Za-z0-9]", "", owner)).lower()


def _needs_log_group(node: IConstruct) -> bool:
    # Decided on the Python side first: jsii hands every construct over as its most specific
    # exported class, so ``isinstance`` costs no call into Node, and the tree holds ~2,000
    # constructs per environment. A function is either the L1 ``CfnFunction`` or a bare
    # ``CfnResource`` of that type (CDK's custom resource providers); other L1 classes never are.
    if isinstance(node, aws_lambda.CfnFunction):
        # The estate's own functions (EstateFunction) already log to their EncryptedLogGroup.
        return node.logging_config is None
    return type(node) is CfnResource and node.cfn_resource_type == LAMBDA_FUNCTION


@jsii.implements(IValidation)
class _GiveCdkFunctionsLogGroups:
    def __init__(self, scope: Construct, retention_days: int,
                 log_group_name: Callable[[str, str], str]) -> None:
        self._scope = scope
        self._retention_days = retention_days
        self._log_group_name = log_group_name
        self._done: set[str] = set()

    def validate(self) -> list[str]:
        for node in list(self._scope.node.find_all()):
            if not _needs_log_group(node) or node.node.path in self._done:
                continue
            self._done.add(node.node.path)
            stack = Stack.of(node)
            label = _function_label(node)
            logs = EncryptedLogGroup(
                stack, f"CdkFunctionLogs-{label}",
                log_group_name=self._log_group_name(stack.node.id, label),
                retention_days=self._retention_days,
                purpose=f"logs of CDK's {label} function")
            node.add_property_override("LoggingConfig", {
                "LogGroup": logs.log_group.log_group_name})
        return []


def give_cdk_functions_log_groups(scope: Construct, *, retention_days: int,
                                  log_group_name: Callable[[str, str], str]) -> None:
    """Every CDK-vended function under ``scope`` logs to its own encrypted, expiring group;
    ``log_group_name(stack_id, function_label)`` names it."""
    scope.node.add_validation(_GiveCdkFunctionsLogGroups(scope, retention_days, log_group_name))
