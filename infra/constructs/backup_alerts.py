"""AWS Backup's holes in the estate's vault, to the alarm topic.

AWS Backup publishes its events on the default bus of the vault's Region. Two of them mean the
point-in-time backstop has a hole, and no CloudWatch alarm covers either without a metric
filter, so an EventBridge rule sends each event itself to the topic:

- a "Backup Job State Change" that ends FAILED, ABORTED or EXPIRED (the role or the key
  refused, the bucket could not be read);
- a "Recovery Point State Change" to STOPPED: a continuous backup that stopped after its job
  had completed, which no job event reports. AWS Backup's guide: STOPPED "occurs on a
  continuous backup where a user has taken some action that causes the continuous backup to be
  disabled" (permissions removed, versioning or the bucket's EventBridge notifications turned
  off, Backup's own rules disabled) and, for S3, when the rule's retention period changes.
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
STOPPED_STATUSES = ["STOPPED"]
_CHECK = "Check the backup role, the bucket's versioning and EventBridge setting, and the assets key."


@jsii.implements(events.IRuleTarget)
class _Topic:
    """The topic as a target, without the grants CDK's SnsTopic target adds (a topic policy
    and a key statement for every EventBridge rule of any account): the ones below name
    this rule."""

    def __init__(self, topic: sns.ITopic, message: events.RuleTargetInput):
        self.topic, self.message = topic, message

    def bind(self, _rule: events.IRule, _id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(arn=self.topic.topic_arn, input=self.message)


def backup_alerts(scope: Construct, *, jobs_rule_name: str, stopped_rule_name: str,
                  vault_name: str, topic: sns.ITopic, topic_key: kms.Key) -> list[events.Rule]:
    """The rules ``jobs_rule_name`` (this vault's failed backup jobs) and ``stopped_rule_name``
    (its continuous recovery points that stopped), each publishing to ``topic``."""
    stack = Stack.of(scope)

    def alert(construct_id: str, name: str, description: str, detail_type: str, detail: dict,
              message: str) -> events.Rule:
        rule = events.Rule(scope, construct_id, rule_name=name, description=description,
                           event_pattern=events.EventPattern(
                               source=["aws.backup"], detail_type=[detail_type],
                               detail={**detail, "backupVaultName": [vault_name]}))
        rule.add_target(_Topic(topic, events.RuleTargetInput.from_text(message)))
        return rule

    field = events.EventField.from_path
    jobs = alert(
        "BackupJobFailures", jobs_rule_name,
        f"Backup jobs of {vault_name} that failed, were aborted or expired",
        "Backup Job State Change", {"state": FAILED_STATES},
        f"AWS Backup job {field('$.detail.backupJobId')} of {vault_name} ended "
        f"{field('$.detail.state')}: {field('$.detail.statusMessage')} (resource "
        f"{field('$.detail.resourceArn')}). {_CHECK}")
    stopped = alert(
        "StoppedContinuousBackups", stopped_rule_name,
        f"Continuous backups in {vault_name} that stopped",
        "Recovery Point State Change", {"status": STOPPED_STATUSES},
        f"The continuous backup {field('$.resources[0]')} of {field('$.detail.resourceArn')} "
        f"in {vault_name} is {field('$.detail.status')}: point-in-time restore no longer "
        f"reaches forward from it. {_CHECK} Once they are right, the plan's next run starts a "
        "new continuous recovery point (or start an on-demand backup of the bucket now).")
    # EventBridge may publish, and use the topic's key, for these rules only. Their ARNs are
    # written from their names: a reference would make the key depend on the rules, which
    # depend on the topic, which depends on the key.
    these_rules = {"StringEquals": {"aws:SourceAccount": stack.account},
                   "ArnEquals": {"aws:SourceArn": [rule_arn(stack.region, stack.account, name)
                                                   for name in (jobs_rule_name,
                                                                stopped_rule_name)]}}
    admit_delivery(topic_key, topic, target_arn=topic.topic_arn, action="sns:Publish",
                   service="events.amazonaws.com", conditions=these_rules,
                   sid="BackupAlertsPublish",
                   key_sid="BackupAlertsPublishToTheEncryptedTopic")
    return [jobs, stopped]


def backup_alerts_undelivered(m: MonitoringConfig, rule_names: list[str]) -> MetricAlarm:
    """The alarm for the rules above failing to publish: the event is then lost, and only
    this alarm (CloudWatch publishes with its own permissions) says so."""
    return undelivered_events(
        group="Backup", section="Backups (AWS Backup)", rule_names=rule_names,
        period=Duration.minutes(m.alarm_period_minutes),
        what="EventBridge failed to deliver an AWS Backup job failure or stopped continuous "
             "backup to the alarm topic.",
        runbook="read the vault's jobs (FAILED, ABORTED, EXPIRED) and recovery points "
                "(STOPPED) in the AWS Backup console; check the topic's policy and key policy "
                "for events.amazonaws.com.")
