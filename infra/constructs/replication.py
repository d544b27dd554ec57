"""Two-way cross-region replication between the assets bucket and its replica.

Forward (``assets-to-replica``): every primary write, into STANDARD_IA in the replica region.
Reverse (``replica-to-assets``): writes made in the replica region while it serves uploads
(failover), back into the assets bucket in their own storage class. S3 never replicates a
replica again, so each object crosses once; replica modification sync on both rules carries
tag changes made on either copy back to the other.

Order: the reverse rule is set on the replica bucket (Replica stack, first); its role lives in
the Assets stack and is named, not referenced. S3 checks that a rule's destination bucket
exists and is versioned, so a brand-new environment's first deploy omits the reverse rule
(``-c first_deploy=true``, see docs/multi-region-writes.md) and the second adds it.

Dependency direction (why there is no cycle and no cross-region reference):
the replica stack deploys first and owns the replica bucket, the replica key and the
replication role (``ReplicationRole``); the role has a physical name, so the assets stack
names it as a string. In the assets stack, ``SourceReplication`` then (1) sets the
replication rule on the assets bucket, pointing at the replica bucket by name and the
replica key by alias ARN, and (2) lets the role decrypt with the assets key through the
assets key's policy. Nothing in the replica stack refers to the assets stack; only names
flow backwards.

What the role may do, and nothing else:
- read the assets bucket's replication configuration and object versions/ACLs/tags;
- replicate objects and tags into the replica bucket (no ReplicateDelete: delete markers
  are not replicated);
- decrypt with the assets key and encrypt with the replica key, only via S3 in the
  key's region and only for the bucket in question.

Why the source key's policy names the role by a condition, not as its principal. Each role
is in one stack and the source key's policy in the other: the reverse role (Assets stack,
us-east-1) is named by the replica key (Replica stack, us-west-2), which deploys first. KMS
refuses a key policy whose principal does not exist yet ("The principals in the key policy
must exist and be visible to KMS", KMS PutKeyPolicy/CreateKey; the error is
MalformedPolicyDocumentException "invalid principals"), and it stores a principal as the
role's unique id, so a role deleted and created again under the same name is no longer the
one the policy names. So the statement's principal is the account, narrowed to the role by
``ArnEquals aws:PrincipalArn`` (a string: no existence check, survives re-creation), and the
role's own IAM policy allows the decrypt, because a key policy naming the account only lets
IAM policies grant it. The role names the key by its alias (``kms:ResourceAliases``): the
key's ARN is in the other stack and Region.
"""
from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.arns import bucket_arn, for_account, object_arns, via
from infra.nag import acknowledge

RTC_MINUTES = 15
REPLICA_STORAGE_CLASS = "STANDARD_IA"
RULE_ID = "assets-to-replica"
# Writes made in the replica region while it serves uploads go back to the assets bucket.
REVERSE_RULE_ID = "replica-to-assets"


def _through_s3_for(bucket_name: str, region: str) -> dict[str, dict]:
    """KMS conditions: only S3 in ``region`` calling, only for ``bucket_name``'s objects (with
    S3 Bucket Keys the encryption context is the bucket ARN; without, the object ARN)."""
    return {"StringEquals": via("s3", region),
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": [
                bucket_arn(bucket_name), f"{bucket_arn(bucket_name)}/*"]}}


class ReplicationRole(Construct):
    """The role S3 assumes to replicate ``source_bucket_name`` into ``destination``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role_name: str,
        source_bucket_name: str,
        destination: s3.IBucket,
        destination_key: kms.IKey,
        source_region: str,
        source_key_alias: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        source_arn = bucket_arn(source_bucket_name)
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            description=f"S3 replication of {source_bucket_name} into {destination.bucket_name}",
            assumed_by=iam.ServicePrincipal(
                "s3.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnEquals": {"aws:SourceArn": source_arn},
                },
            ),
        )
        # A customer-managed policy (not inline) so it is versioned and reviewable on its own.
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description=f"Exactly what S3 needs to replicate {source_bucket_name}",
            roles=[self.role],
            statements=_replication_statements(
                stack, source_arn, destination, destination_key, source_region=source_region,
                source_key_alias=source_key_alias, source_bucket_name=source_bucket_name),
        )


def _replication_statements(stack: Stack, source_arn: str, destination: s3.IBucket,
                            destination_key: kms.IKey, *, source_region: str,
                            source_key_alias: str,
                            source_bucket_name: str) -> list[iam.PolicyStatement]:
    """Exactly what S3 needs to replicate the source into ``destination`` (``stack``: the
    role's)."""
    return [
        iam.PolicyStatement(
            sid="ReadSourceConfiguration",
            actions=["s3:GetReplicationConfiguration", "s3:ListBucket"],
            resources=[source_arn],
        ),
        iam.PolicyStatement(
            sid="ReadSourceVersions",
            actions=[
                "s3:GetObjectVersionForReplication",
                "s3:GetObjectVersionAcl",
                "s3:GetObjectVersionTagging",
            ],
            resources=[f"{source_arn}/*"],
        ),
        iam.PolicyStatement(
            sid="WriteReplicas",
            actions=["s3:ReplicateObject", "s3:ReplicateTags"],
            resources=[destination.arn_for_objects("*")],
        ),
        # The source key's policy allows this role by a condition on the account
        # principal (module docstring), which only works with this allow.
        iam.PolicyStatement(
            sid="DecryptSources",
            actions=["kms:Decrypt"],
            resources=[f"arn:aws:kms:{source_region}:{stack.account}:key/*"],
            conditions={
                **_through_s3_for(source_bucket_name, source_region),
                "ForAnyValue:StringEquals": {"kms:ResourceAliases": source_key_alias},
            },
        ),
        iam.PolicyStatement(
            sid="EncryptReplicas",
            actions=["kms:Encrypt", "kms:GenerateDataKey"],
            resources=[destination_key.key_arn],
            conditions=_through_s3_for(destination.bucket_name, stack.region),
        ),
    ]


def _grant_source_decrypt(source_key: kms.Key, *, role_arn: str, source_bucket_name: str) -> None:
    """Key-policy statement letting the replication role read source objects: the account
    as principal, the role by ``aws:PrincipalArn`` (the role is another stack's and may not
    exist yet: module docstring); the role's ``DecryptSources`` statement is the other half."""
    region = Stack.of(source_key).region
    source_key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="ReplicationRoleDecryptsSourceObjects",
            principals=[iam.AccountRootPrincipal()],
            actions=["kms:Decrypt"],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={"ArnEquals": {"aws:PrincipalArn": role_arn},
                        **_through_s3_for(source_bucket_name, region)},
        )
    )


def _replication_configuration(
    *,
    rule_id: str,
    role_arn: str,
    destination_bucket_name: str,
    destination_key_alias_arn: str,
    storage_class: str | None,
) -> s3.CfnBucket.ReplicationConfigurationProperty:
    """One rule, whole bucket, RTC 15 min with metrics, no delete markers, and replica
    modification sync: tag changes made on a replica (the hasher's dedup tags, the gate's
    verdict, written in whichever region processes the object) flow back to the source.
    ``storage_class`` None keeps the source object's class."""
    fifteen = s3.CfnBucket.ReplicationTimeValueProperty(minutes=RTC_MINUTES)
    return s3.CfnBucket.ReplicationConfigurationProperty(
        role=role_arn,
        rules=[
            s3.CfnBucket.ReplicationRuleProperty(
                id=rule_id,
                status="Enabled",
                priority=1,
                filter=s3.CfnBucket.ReplicationRuleFilterProperty(prefix=""),
                delete_marker_replication=s3.CfnBucket.DeleteMarkerReplicationProperty(
                    status="Disabled"
                ),
                source_selection_criteria=s3.CfnBucket.SourceSelectionCriteriaProperty(
                    sse_kms_encrypted_objects=s3.CfnBucket.SseKmsEncryptedObjectsProperty(
                        status="Enabled"
                    ),
                    replica_modifications=s3.CfnBucket.ReplicaModificationsProperty(
                        status="Enabled"
                    ),
                ),
                destination=s3.CfnBucket.ReplicationDestinationProperty(
                    bucket=bucket_arn(destination_bucket_name),
                    storage_class=storage_class,
                    encryption_configuration=s3.CfnBucket.EncryptionConfigurationProperty(
                        replica_kms_key_id=destination_key_alias_arn
                    ),
                    replication_time=s3.CfnBucket.ReplicationTimeProperty(
                        status="Enabled", time=fifteen
                    ),
                    metrics=s3.CfnBucket.MetricsProperty(status="Enabled", event_threshold=fifteen),
                ),
            )
        ],
    )


class SourceReplication(Construct):
    """The replication rule of ``source`` into a replica that another stack (and region) owns,
    named, not referenced: the destination bucket by name, its key by alias ARN, the role
    by ARN; and the source key's policy lets that role decrypt source objects."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source: s3.Bucket,
        source_key: kms.Key,
        role_arn: str,
        destination_bucket_name: str,
        destination_key_alias_arn: str,
        rule_id: str = RULE_ID,
        storage_class: str | None = REPLICA_STORAGE_CLASS,
    ) -> None:
        super().__init__(scope, construct_id)
        cfn_source: s3.CfnBucket = source.node.default_child  # type: ignore[assignment]
        source_name = cfn_source.bucket_name
        if not isinstance(source_name, str):
            raise ValueError(f"{source.node.path}: SourceReplication needs a named bucket")
        cfn_source.replication_configuration = _replication_configuration(
            rule_id=rule_id,
            role_arn=role_arn,
            destination_bucket_name=destination_bucket_name,
            destination_key_alias_arn=destination_key_alias_arn,
            storage_class=storage_class,
        )
        _grant_source_decrypt(source_key, role_arn=role_arn, source_bucket_name=source_name)


class BatchReplicationRole(Construct):
    """The role S3 Batch Operations assumes for an S3 Batch Replication job on ``source``'s
    replication rule (``tools.reconcile``: gated window uploads whose live replication failed,
    which nobody may read before a scan and nothing scans in the source's Region).

    Exactly the permissions S3 documents for Batch Replication with a user-supplied manifest
    ("Configuring an IAM role for S3 Batch Replication", "Policy if using a user supplied
    manifest"): ``s3:InitiateReplication`` on the source objects, ``s3:GetObject`` and
    ``s3:GetObjectVersion`` on the manifest, ``s3:PutObject`` for the completion report. No
    ``s3:GetReplicationConfiguration`` or ``s3:PutInventoryConfiguration``: those are for a
    manifest S3 generates, and the tool writes its own (the exact versions it found). Narrowed
    here: the objects to the prefixes the tool replicates, the manifest and report to
    ``jobs_prefix``; plus the source key through S3, because the manifest and the report are
    objects of the source bucket, encrypted with its key by default. The replication itself
    runs as the rule's own role (``s3:GetObjectVersionForReplication``, which the upload gate
    does not deny)."""

    def __init__(self, scope: Construct, construct_id: str, *, role_name: str,
                 source_bucket_name: str, source_key: kms.IKey,
                 prefixes: tuple[str, ...], jobs_prefix: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        jobs = f"{bucket_arn(source_bucket_name)}/{jobs_prefix}*"
        self.role = iam.Role(
            self, "Role", role_name=role_name,
            description=f"S3 Batch Replication of failed uploads of {source_bucket_name}",
            assumed_by=iam.ServicePrincipal(
                "batchoperations.s3.amazonaws.com", conditions=for_account(stack.account)),
        )
        self.policy = iam.ManagedPolicy(
            self, "Policy", roles=[self.role],
            description=f"Exactly what S3 Batch Replication needs on {source_bucket_name}",
            statements=[
                iam.PolicyStatement(sid="InitiateReplication",
                                    actions=["s3:InitiateReplication"],
                                    resources=object_arns(source_bucket_name, prefixes)),
                iam.PolicyStatement(sid="ReadTheManifest",
                                    actions=["s3:GetObject", "s3:GetObjectVersion"],
                                    resources=[jobs]),
                iam.PolicyStatement(sid="WriteTheReport", actions=["s3:PutObject"],
                                    resources=[jobs]),
                iam.PolicyStatement(
                    sid="ManifestAndReportThroughTheBucketKey",
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=[source_key.key_arn],
                    conditions=_through_s3_for(source_bucket_name, stack.region)),
            ],
        )
        acknowledge(self.policy, {
            **{f"AwsSolutions-IAM5[Resource::{arn}]":
               "Batch Replication replicates the window uploads the tool lists, anywhere under "
               "the gated upload prefixes; the only action there is s3:InitiateReplication."
               for arn in object_arns(source_bucket_name, prefixes)},
            f"AwsSolutions-IAM5[Resource::{jobs}]":
                "Each job's manifest and completion report are written under a per-run folder "
                "of the jobs prefix; read the manifest, write the report, nothing else.",
        })
