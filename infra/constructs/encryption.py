"""Customer-managed keys and encrypted log groups, written once for every construct.

Every key of the estate rotates yearly, waits 30 days before deletion, and is retained with
its stack (except after a failed first create) unless it protects nothing at rest. No key
accepts a grant unless an AWS service asks for it (``GRANTS_ONLY_FOR_AWS_SERVICES``): the
account's IAM administrators cannot hand a key to an arbitrary principal through a grant. A
log group's key lets CloudWatch Logs of its region use it for that one log group only, with the
exact actions it needs.

``guard_key_from_destruction``: a key that protects data which must survive an administrator
(backups under Object Lock, the replica) denies disabling, deleting and re-policying it to
everyone but one break-glass role.
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


# What CloudWatch Logs does with a log group's key (no action families).
LOGS_KEY_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
                    "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
                    "kms:DescribeKey")

# Each of these makes every object under the key unreadable (or lets someone do so later):
# Object Lock protects the objects, not the key. The aliases too: replication names the
# replica key by its alias.
KEY_DESTROYING_ACTIONS = ("kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy",
                          "kms:DisableKeyRotation", "kms:DeleteImportedKeyMaterial",
                          "kms:DeleteAlias", "kms:UpdateAlias")


# AWS Control Tower's CT.KMS.PR.3, exactly as its Guard rule checks it: CreateGrant is denied
# unless an integrated service sends it on a principal's behalf (kms:GrantIsForAWSResource)
# or a service principal sends it itself (aws:PrincipalIsAWSService). BoolIfExists: a request
# that carries neither key is denied too. Every service the estate hands a key to either
# uses the key without grants (S3 SSE-KMS and replication, CloudFront OAC, CloudWatch Logs,
# SNS, SQS, GuardDuty's malware scan role) or creates its grants through KMS integration
# (DynamoDB, AWS Backup), where kms:GrantIsForAWSResource is true.
GRANTS_ONLY_FOR_AWS_SERVICES = {"BoolIfExists": {"kms:GrantIsForAWSResource": "false",
                                                 "aws:PrincipalIsAWSService": "false"}}


def rotating_key(scope: Construct, construct_id: str, *, description: str,
                 alias: str | None = None,
                 removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
                 ) -> kms.Key:
    key = kms.Key(scope, construct_id, description=description, alias=alias,
                  enable_key_rotation=True, removal_policy=removal_policy,
                  pending_window=Duration.days(30))
    # The default policy gives the account kms:*, so any IAM principal allowed kms:CreateGrant
    # could grant itself (or anyone) use of the key.
    key.add_to_resource_policy(iam.PolicyStatement(
        sid="GrantsOnlyForAwsResources",
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=["kms:CreateGrant"],
        resources=["*"],
        conditions=GRANTS_ONLY_FOR_AWS_SERVICES,
    ))
    return key


def guard_key_from_destruction(key: kms.Key, *, break_glass_role_arn: str) -> None:
    """Deny the key-destroying actions to every principal except the break-glass role.

    CloudFormation's execution role is denied too, on purpose: a deploy role that may rewrite
    the policy could lift the deny and then delete the key. So a later change of this key's
    policy fails to deploy (and rolls back) unless the deploy runs with the break-glass role
    as CloudFormation's execution role (``cdk deploy --role-arn <break-glass role>``).
    Creating the key, and updates that leave its policy alone, need none of these actions.
    KMS's lockout safety check would refuse a policy that denies PutKeyPolicy to the caller
    creating it, so this key skips that check: the break-glass role is the way back in.
    """
    _deny_all_but_break_glass(key, "OnlyBreakGlassMayDisableDeleteOrRepolicy",
                              KEY_DESTROYING_ACTIONS, break_glass_role_arn)
    cfn: kms.CfnKey = key.node.default_child  # type: ignore[assignment]
    cfn.bypass_policy_lockout_safety_check = True


ALIAS_MOVING_ACTIONS = ("kms:UpdateAlias", "kms:DeleteAlias")


def guard_alias(key: kms.Key, *, break_glass_role_arn: str) -> None:
    """Deny moving or deleting the key's alias to every principal except the break-glass role,
    for a key other resources name by its alias (a replication rule's ``ReplicaKmsKeyID``, a
    role's ``kms:ResourceAliases``): pointed at another key, replication would stop decrypting
    and write with a key nothing else can read. KMS checks UpdateAlias and DeleteAlias against
    the key the alias points to, so this key's policy decides. Its own policy stays updatable
    (no lockout bypass), unlike a key guarded from destruction."""
    _deny_all_but_break_glass(key, "OnlyBreakGlassMayMoveTheAlias", ALIAS_MOVING_ACTIONS,
                              break_glass_role_arn)


def _deny_all_but_break_glass(key: kms.Key, sid: str, actions: tuple[str, ...],
                              break_glass_role_arn: str) -> None:
    key.add_to_resource_policy(iam.PolicyStatement(
        sid=sid,
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=list(actions),
        resources=["*"],  # in a key policy, "*" means this key
        conditions={"ArnNotEquals": {"aws:PrincipalArn": break_glass_role_arn}},
    ))


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
            actions=list(LOGS_KEY_ACTIONS),
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


EVENTBRIDGE = "events.amazonaws.com"


def admit_delivery(key: kms.IKey, target, *, target_arn: str, action: str, service: str,
                   conditions: dict, sid: str, key_sid: str | None = None) -> None:
    """Let ``service`` ``action`` on ``target`` (a queue or topic encrypted with ``key``) and
    use ``key`` to do it, both only under ``conditions`` (who the source is).

    EventBridge is the exception on the key: its KMS requests for the target carry no
    ``aws:SourceArn``/``aws:SourceAccount``, so a key statement conditioned on them refuses every
    delivery, which the rule only counts as a failed invocation ("Adding the aws:SourceAccount,
    aws:SourceArn, and aws:SourceOrgID to a AWS KMS policy is not supported for
    EventBridge-to-encrypted topics", https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html;
    queues are reached the same way). Its key statement is unconditioned: using the key sends
    nothing, and the target's policy, which keeps ``conditions``, decides who may send."""
    principal = iam.ServicePrincipal(service)
    key.add_to_resource_policy(iam.PolicyStatement(
        sid=key_sid or sid, principals=[principal],
        actions=["kms:GenerateDataKey", "kms:Decrypt"],
        resources=["*"],  # in a key policy, "*" means this key
        conditions=None if service == EVENTBRIDGE else conditions))
    target.add_to_resource_policy(iam.PolicyStatement(
        sid=sid, principals=[principal], actions=[action], resources=[target_arn],
        conditions=conditions))
