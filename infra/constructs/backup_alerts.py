"""Failed AWS Backup jobs of the estate's vault, to the alarm topic.

AWS Backup publishes "Backup Job State Change" events on the default bus of the vault's
Region; a job that ends FAILED, ABORTED or EXPIRED means the point-in-time backstop has a hole
(continuous backup stopped, the role or the key refused). No CloudWatch alarm covers this
without a metric filter, so an EventBridge rule sends the event itself to the topic.
"""
from __future__ import annotations

import jsii
from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.config import MonitoringConfig
from infra.constructs.arns import rule_arn
from infra.constructs.encryption import admit_delivery
from infra.constructs.monitoring import MetricAlarm, undelivered_events

FAILED_STATES = ["FAILED", "ABORTED", "EXPIRED"]


@jsii.implements(events.IRuleTarget)
class _Topic:
    """The topic as a target, without the grants CDK's SnsTopic target adds (a topic policy
    and a key statement for every EventBridge rule of any account): the ones below name
    this rule."""

    def __init__(self, topic: sns.ITopic, message: events.RuleTargetInput):
        self.topic, self.message = topic, message

    def bind(self, _rule: events.IRule, _id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(arn=self.topic.topic_arn, input=self.message)


def backup_job_failures(scope: Construct, *, rule_name: str, vault_name: str,
                        topic: sns.ITopic, topic_key: kms.Key) -> events.Rule:
    """The rule ``rule_name``: this vault's failed backup jobs, published to ``topic``."""
    stack = Stack.of(scope)
    rule = events.Rule(
        scope, "BackupJobFailures", rule_name=rule_name,
        description=f"Backup jobs of {vault_name} that failed, were aborted or expired",
        event_pattern=events.EventPattern(
            source=["aws.backup"], detail_type=["Backup Job State Change"],
            detail={"state": FAILED_STATES, "backupVaultName": [vault_name]}))
    rule.add_target(_Topic(topic, events.RuleTargetInput.from_text(
        f"AWS Backup job {events.EventField.from_path('$.detail.backupJobId')} of "
        f"{vault_name} ended {events.EventField.from_path('$.detail.state')}: "
        f"{events.EventField.from_path('$.detail.statusMessage')} (resource "
        f"{events.EventField.from_path('$.detail.resourceArn')}). Check the backup role, "
        "the bucket's versioning and EventBridge setting, and the assets key.")))
    # EventBridge may publish, and use the topic's key, for this rule only. Its ARN is written
    # from its name: a reference would make the key depend on the rule, which depends on the
    # topic, which depends on the key.
    this_rule = {"StringEquals": {"aws:SourceAccount": stack.account},
                 "ArnEquals": {"aws:SourceArn": rule_arn(stack.region, stack.account, rule_name)}}
    admit_delivery(topic_key, topic, target_arn=topic.topic_arn, action="sns:Publish",
                   service="events.amazonaws.com", conditions=this_rule,
                   sid="BackupJobFailuresPublish",
                   key_sid="BackupJobFailuresPublishToTheEncryptedTopic")
    return rule


def backup_alerts_undelivered(m: MonitoringConfig, rule_name: str) -> MetricAlarm:
    """The alarm for the rule above failing to publish: a failed job's event is then lost,
    and only this alarm (CloudWatch publishes with its own permissions) says so."""
    return undelivered_events(
        group="Backup", section="Backups (AWS Backup)", rule_names=[rule_name],
        period=Duration.minutes(m.alarm_period_minutes),
        what="EventBridge failed to deliver an AWS Backup job failure to the alarm topic.",
        runbook="read the vault's jobs in the AWS Backup console (FAILED, ABORTED, EXPIRED); "
                "check the topic's policy and key policy for events.amazonaws.com.")
