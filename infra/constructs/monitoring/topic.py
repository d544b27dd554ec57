"""The alarm topic of one region: a KMS-encrypted SNS topic, its rotating key, and the
policies that let only this account's alarms (by name prefix) publish to it; its email and
chat-webhook subscriptions."""
from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct

from infra.constructs.encryption import rotating_key


@dataclass(frozen=True)
class TopicNames:
    """Physical names of a region's alarm topic and its key alias (from the config)."""

    topic_name: str
    key_alias: str


@dataclass(frozen=True)
class AlarmTopic:
    """The KMS-encrypted SNS topic the alarms of one region notify, and its key."""

    key: kms.Key
    topic: sns.Topic


def alarm_topic(scope: Construct, *, alarm_name_prefix: str, names: TopicNames,
                display_name: str, email: str, webhook_url: str | None) -> AlarmTopic:
    """Key ``TopicKey`` and topic ``AlarmTopic`` in ``scope``, with their recipients.

    Key and topic policy let CloudWatch use them only for this account's alarms whose names
    start with ``alarm_name_prefix`` (in this stack's region)."""
    stack = Stack.of(scope)
    alarm_arns = stack.format_arn(service="cloudwatch", resource="alarm",
                                  resource_name=f"{alarm_name_prefix}-*",
                                  arn_format=ArnFormat.COLON_RESOURCE_NAME)
    source = {"StringEquals": {"aws:SourceAccount": stack.account},
              "ArnLike": {"aws:SourceArn": alarm_arns}}
    key = rotating_key(
        scope, "TopicKey", alias=names.key_alias,
        description=f"Encrypts the {alarm_name_prefix} alarm topic",
        # Holds no data at rest: notifications are delivered within seconds.
        removal_policy=RemovalPolicy.DESTROY)
    key.add_to_resource_policy(iam.PolicyStatement(
        sid="CloudWatchAlarmsPublishToTheEncryptedTopic",
        principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
        actions=["kms:Decrypt", "kms:GenerateDataKey*"],
        resources=["*"],  # in a key policy, "*" means this key
        conditions=source,
    ))
    topic = sns.Topic(
        scope, "AlarmTopic",
        topic_name=names.topic_name,
        display_name=display_name,
        master_key=key,
        enforce_ssl=True,  # topic policy denies every request without TLS
    )
    topic.add_to_resource_policy(iam.PolicyStatement(
        sid="CloudWatchAlarmsPublish",
        principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
        actions=["sns:Publish"],
        resources=[topic.topic_arn],
        conditions=source,
    ))
    topic.add_subscription(subs.EmailSubscription(email))
    if webhook_url is not None:
        topic.add_subscription(subs.UrlSubscription(
            webhook_url, protocol=sns.SubscriptionProtocol.HTTPS))
    return AlarmTopic(key, topic)
