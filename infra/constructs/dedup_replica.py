"""The dedup index in a second region: a global-table replica of the primary's table.

The primary's table (Assets stack, ``UploadHasher``) is an ``AWS::DynamoDB::Table`` encrypted
with a customer-managed key, and its logical id is pinned. CDK's ``Table`` refuses
``replicationRegions`` with a customer-managed key, and moving to
``AWS::DynamoDB::GlobalTable`` is a resource-type change (retain, remove, import). DynamoDB
itself adds a replica to an existing table in place (``UpdateTable`` with ``ReplicaUpdates``,
global tables version 2019.11.21), with a key of the replica's region. So this construct, in
the replica region's stack:

1. looks the table's generated name up (``DescribeStackResource`` of the pinned logical id in
   the Assets stack; names are not referenced across regions);
2. asks DynamoDB for a replica here, encrypted with this region's own key (``Key``).

3. protects it as the primary table is (deletion protection, point-in-time recovery) once
   DynamoDB has built it: ``DedupReplicaGuard``, an hourly function, because both are settings
   of each replica that DynamoDB takes only when the replica is ACTIVE, hours after a deploy
   for a large table.

The replica is retained: deleting this construct leaves it in place (nothing is called on
delete), like every stateful resource of the estate. DynamoDB keeps the replica in sync in
both directions, so the presign API here reads the same index as the primary's (dedup hits
during a failover), and what a region's hasher writes reaches the other.
"""
from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.config import DEDUP_REPLICA_PROTECTED_METRIC, METRICS_NAMESPACE, TABLE_ENV
from infra.constructs.arns import only_via
from infra.constructs.encryption import EncryptedLogGroup, rotating_key
from infra.constructs.function import LOG_ACTIONS, NO_VPC_REASON, EstateFunction
from infra.constructs.monitoring import MetricAlarm, MonitoredFunction
from infra.nag import acknowledge

NAME_FIELD = "StackResourceDetail.PhysicalResourceId"
PROVIDER_ID = "AWS679f53fac002430cb0da5b7982bd2287"  # CDK's AwsCustomResource singleton
# What DynamoDB documents for creating a replica of a table (global tables, 2019.11.21, "Using
# IAM with global tables"): UpdateTable in the source region; in the destination region
# CreateTable, CreateTableReplica and the item actions; DescribeTable to read the result.
REPLICA_ACTIONS = ["dynamodb:UpdateTable", "dynamodb:DescribeTable", "dynamodb:CreateTable",
                   "dynamodb:CreateTableReplica", "dynamodb:Scan", "dynamodb:Query",
                   "dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:GetItem",
                   "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"]
GUARD_HANDLER = "estate_handlers.replica_guard.handler"
GUARD_ACTIONS = ["dynamodb:DescribeTable", "dynamodb:DescribeContinuousBackups",
                 "dynamodb:UpdateContinuousBackups", "dynamodb:UpdateTable"]
GUARD_EVERY = Duration.hours(1)
# The alarm fires when the replica has been unprotected (or the guard silent) this long: longer
# than DynamoDB takes to build a replica of the index, short enough to act within a day.
GUARD_ALARM_AFTER = Duration.hours(24)
KEY_ACTIONS = ["kms:CreateGrant", "kms:DescribeKey", "kms:Decrypt", "kms:Encrypt",
               "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"]


class DedupIndexReplica(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, primary_region: str,
                 source_stack_name: str, source_logical_id: str, key_description: str,
                 log_group_name: str, log_retention_days: int, guard_name: str,
                 guard_log_retention_days: int) -> None:
        """``log_group_name``: where the deploy-time calls log (encrypted, retained);
        ``guard_name``: the protecting function's name (its log group and alarms)."""
        super().__init__(scope, construct_id)
        self.source_stack_name = source_stack_name
        stack = Stack.of(self)
        region, account = stack.region, stack.account
        self.key = rotating_key(self, "Key", description=key_description)
        self.call_logs = EncryptedLogGroup(
            self, "CallLogs", log_group_name=log_group_name, retention_days=log_retention_days,
            purpose="logs of the deploy-time calls that replicate the dedup index")
        # Our own role for CDK's call function (not its default with an AWS managed policy):
        # it may write to this log group; each call's own permissions are added to it.
        self.call_role = iam.Role(
            self, "CallRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Deploy-time calls that replicate the dedup index")
        iam.ManagedPolicy(
            self, "CallLogsPolicy", roles=[self.call_role],
            description="The dedup index replica's deploy-time calls write their own logs",
            statements=[iam.PolicyStatement(
                sid="WriteOwnLogs", actions=LOG_ACTIONS,
                resources=[self.call_logs.log_group.log_group_arn])])
        lookup_call = cr.AwsSdkCall(
            service="CloudFormation", action="describeStackResource", region=primary_region,
            parameters={"StackName": source_stack_name, "LogicalResourceId": source_logical_id},
            physical_resource_id=cr.PhysicalResourceId.from_response(NAME_FIELD),
            output_paths=[NAME_FIELD])
        stack_arn = (f"arn:aws:cloudformation:{primary_region}:{account}:stack/"
                     f"{source_stack_name}/*")
        self.lookup = cr.AwsCustomResource(
            self, "TableName", on_create=lookup_call, on_update=lookup_call,
            install_latest_aws_sdk=False, log_group=self.call_logs.log_group, role=self.call_role,
            policy=cr.AwsCustomResourcePolicy.from_statements([iam.PolicyStatement(
                actions=["cloudformation:DescribeStackResource"], resources=[stack_arn])]))
        self.table_name = self.lookup.get_response_field(NAME_FIELD)
        tables = [f"arn:aws:dynamodb:{r}:{account}:table/{self.table_name}"
                  for r in (primary_region, region)]
        self.replica = cr.AwsCustomResource(
            self, "Replica", install_latest_aws_sdk=False, log_group=self.call_logs.log_group,
            role=self.call_role,
            on_create=cr.AwsSdkCall(
                service="DynamoDB", action="updateTable", region=primary_region,
                parameters={"TableName": self.table_name, "ReplicaUpdates": [{"Create": {
                    "RegionName": region, "KMSMasterKeyId": self.key.key_arn}}]},
                physical_resource_id=cr.PhysicalResourceId.of(f"dedup-index-replica-{region}")),
            policy=cr.AwsCustomResourcePolicy.from_statements([
                iam.PolicyStatement(actions=REPLICA_ACTIONS, resources=tables),
                iam.PolicyStatement(actions=KEY_ACTIONS, resources=[self.key.key_arn]),
                iam.PolicyStatement(
                    actions=KEY_ACTIONS,
                    resources=[f"arn:aws:kms:{primary_region}:{account}:key/*"],
                    conditions=only_via("dynamodb", primary_region)),
                iam.PolicyStatement(
                    actions=["iam:CreateServiceLinkedRole"],
                    resources=[f"arn:aws:iam::{account}:role/aws-service-role/"
                               "replication.dynamodb.amazonaws.com/*"],
                    conditions={"StringEquals": {
                        "iam:AWSServiceName": "replication.dynamodb.amazonaws.com"}}),
            ]))
        self.table = dynamodb.Table.from_table_attributes(
            self, "Table", table_name=self.table_name, encryption_key=self.key)
        self.guard = DedupReplicaGuard(
            self, "Guard", name=guard_name, table_name=self.table_name,
            table_arn=f"arn:aws:dynamodb:{region}:{account}:table/{self.table_name}",
            log_retention_days=guard_log_retention_days)
        self.guard.node.add_dependency(self.replica)
        self._acknowledge(primary_region)

    def _acknowledge(self, primary_region: str) -> None:
        """The two deploy-time calls run in CDK's AwsCustomResource function (one per stack)."""
        stack = Stack.of(self)
        inline = ("CDK's AwsCustomResource writes each call's permissions as an inline policy of "
                  "its deploy-time function; each names only this construct's resources.")
        acknowledge(self.lookup.node.find_child("CustomResourcePolicy"), {
            "NIST.800.53.R5-IAMNoInlinePolicy": inline,
            f"AwsSolutions-IAM5[Resource::arn:aws:cloudformation:{primary_region}:"
            f"{stack.account}:stack/{self.source_stack_name}/*]":
                "A stack's ARN ends in the id CloudFormation generated; the stack is named "
                "exactly and only read (DescribeStackResource).",
        })
        acknowledge(self.replica.node.find_child("CustomResourcePolicy"), {
            "NIST.800.53.R5-IAMNoInlinePolicy": inline,
            f"AwsSolutions-IAM5[Resource::arn:aws:kms:{primary_region}:{stack.account}:key/*]":
                "The primary table's key lives in another region's stack: usable only through "
                "DynamoDB there, which reads the table to seed the replica.",
            f"AwsSolutions-IAM5[Resource::arn:aws:iam::{stack.account}:role/aws-service-role/"
            "replication.dynamodb.amazonaws.com/*]":
                "DynamoDB's replication service-linked role, created once per account; only "
                "for that service name (iam:AWSServiceName).",
        })
        provider = stack.node.find_child(PROVIDER_ID)
        acknowledge(provider, {
            "NIST.800.53.R5-LambdaDLQ":
                "Invoked synchronously by CloudFormation during a deployment: a failure fails "
                "the deployment, which is the report; a DLQ applies to asynchronous calls.",
            "NIST.800.53.R5-LambdaInsideVPC": NO_VPC_REASON,
            "NIST.800.53.R5-LambdaConcurrency":
                "Runs once per custom-resource event of a deployment, never under load.",
        })


class DedupReplicaGuard(Construct):
    """Hourly: deletion protection and point-in-time recovery on this region's replica, set
    once DynamoDB has built it and again whenever either is found off
    (``estate_handlers.replica_guard``); ``metric_alarms()`` reports a replica left
    unprotected, ``monitored_function()`` a guard that fails."""

    def __init__(self, scope: Construct, construct_id: str, *, name: str, table_name: str,
                 table_arn: str, log_retention_days: int) -> None:
        super().__init__(scope, construct_id)
        self.name = name
        self.function = EstateFunction(
            self, "Function", name=name,
            description="Turns on deletion protection and point-in-time recovery of the dedup "
                        "index replica in this region",
            handler=GUARD_HANDLER, memory_size=256, timeout=Duration.seconds(30),
            environment={TABLE_ENV: table_name}, reserved_concurrency=1,
            log_retention_days=log_retention_days,
            statements=[iam.PolicyStatement(sid="ProtectTheReplica", actions=GUARD_ACTIONS,
                                            resources=[table_arn])])
        self.schedule = events.Rule(
            self, "Schedule", schedule=events.Schedule.rate(GUARD_EVERY),
            description=f"Runs {name} every hour")
        self.schedule.add_target(targets.LambdaFunction(
            self.function.function, retry_attempts=2, max_event_age=GUARD_EVERY))
        acknowledge(self.function.function, {
            "NIST.800.53.R5-LambdaDLQ":
                "Invoked by an hourly schedule with nothing to deliver: a failed run is retried "
                "by Lambda's asynchronous invocation and then by the next hour's run, and its "
                "errors raise the function's alarm.",
        })

    def monitored_function(self) -> MonitoredFunction:
        # Hourly: each failed run (botocore's retries spent) is worth an alarm.
        return MonitoredFunction("DedupReplicaGuard", self.function.function,
                                 self.function.timeout, errors_per_period=0)

    def metric_alarms(self) -> list[MetricAlarm]:
        period = GUARD_EVERY
        return [MetricAlarm(
            group="DedupIndex", name="Replica-Unprotected", section="Dedup index replica",
            metric=cw.Metric(namespace=METRICS_NAMESPACE, metric_name=DEDUP_REPLICA_PROTECTED_METRIC,
                             dimensions_map={"service": self.name}, statistic="Minimum",
                             period=period, label="Replica protected (1 = yes)"),
            threshold=1, comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
            periods=int(GUARD_ALARM_AFTER.to_hours() / period.to_hours()),
            # No data is a guard that does not run: the replica is unwatched.
            missing=cw.TreatMissingData.BREACHING,
            what="The dedup index replica in this region has been without deletion protection "
                 "or point-in-time recovery (or its guard silent) for a day.",
            runbook="Read the guard function's log: a replica still CREATING after a day, a "
                    "table busy with another update, or a refused call; docs/multi-region-"
                    "writes.md.")]
