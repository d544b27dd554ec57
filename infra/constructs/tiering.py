"""Cost tiers of the estate: which prefix goes where, and when data expires.

Assets bucket:
- originals, documents, brand media and user uploads move to INTELLIGENT_TIERING on day 0;
  processed renditions, thumbnails and logos stay STANDARD (hot CDN reads, small objects).
- the opt-in archive tiers (archive >= 90 d, deep archive >= 180 d) apply to originals,
  documents and uploads only: those tiers need an asynchronous restore, and brand media is
  served by the CDN, which cannot wait for one.
- user-content/exports/ expires; so do the health route's probe objects (ops/write-health/,
  a day) and the restore and reconcile tools' job files (a year); noncurrent versions go to
  GLACIER_IR then expire;
  incomplete multipart uploads are aborted after 7 days; versions the upload gate quarantined
  expire, and so do objects the upload hasher tagged as duplicates where an environment
  configures it (off by default: a client holds every duplicate's key). No code path deletes
  data.

Replica bucket: lifecycle actions and delete markers are not replicated, so every expiration
of the primary is mirrored on the replica, built by the same function
(``expiration_rules``): a new expiry added there reaches both buckets, and a test checks that
every expiring primary rule has a replica twin with the same filter. Tags are replicated, so
the duplicate-tag filter matches replicas too.
"""
from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3

from infra.config import (
    ARCHIVE_TIER_PREFIXES,
    DUPLICATE_TAG,
    INTELLIGENT_TIERING_PREFIXES,
    JOB_FILES_EXPIRY_DAYS,
    QUARANTINE_TAG,
    RECONCILE_JOBS_PREFIX,
    RESTORE_JOBS_PREFIX,
    USER_EXPORTS,
    WRITE_HEALTH_EXPIRY_DAYS,
    WRITE_HEALTH_PREFIX,
    ObjectExpiry,
)

ARCHIVE_AFTER_DAYS = 90
DEEP_ARCHIVE_AFTER_DAYS = 180
ABORT_MULTIPART_AFTER_DAYS = 7


def _versions_rule(expiry: ObjectExpiry, *, glacier_ir: bool) -> s3.LifecycleRule:
    return s3.LifecycleRule(
        id="noncurrent-versions",
        noncurrent_version_transitions=[
            s3.NoncurrentVersionTransition(
                storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                transition_after=Duration.days(expiry.noncurrent_glacier_ir_after_days),
            )
        ] if glacier_ir else None,
        noncurrent_version_expiration=Duration.days(expiry.noncurrent_expiration_days),
        abort_incomplete_multipart_upload_after=Duration.days(ABORT_MULTIPART_AFTER_DAYS),
    )


# In a versioned bucket an expiration (or a user's delete) only puts a delete marker over the
# version; the version goes later as noncurrent, and the marker, then alone, stays forever
# unless a rule removes it. S3 takes ExpiredObjectDeleteMarker only in a rule without
# expiration days, and removes only markers with no version left behind them: nothing a
# restore could still use. Whole-bucket, because tag-filtered expiries (duplicates,
# quarantine) leave markers no prefix can find.
LONE_DELETE_MARKERS = s3.LifecycleRule(id="expire-lone-delete-markers",
                                       expired_object_delete_marker=True)


def expiration_rules(expiry: ObjectExpiry) -> list[s3.LifecycleRule]:
    """Every rule that expires current objects of the assets bucket. The replica gets the
    same rules: the one place to add an expiry (e.g. a quarantine prefix) is here."""
    return [
        s3.LifecycleRule(
            id="expire-exports",
            prefix=USER_EXPORTS,
            expiration=Duration.days(expiry.exports_days),
        ),
        *([s3.LifecycleRule(  # only where configured: see duplicate_expiration_days
            id="expire-duplicates",
            tag_filters={DUPLICATE_TAG[0]: DUPLICATE_TAG[1]},
            expiration=Duration.days(expiry.duplicates_days),
        )] if expiry.duplicates_days is not None else []),
        # the health route's probe objects (one per probe, replicated like everything else).
        s3.LifecycleRule(
            id="expire-write-health-probes",
            prefix=WRITE_HEALTH_PREFIX,
            expiration=Duration.days(WRITE_HEALTH_EXPIRY_DAYS),
            noncurrent_version_expiration=Duration.days(WRITE_HEALTH_EXPIRY_DAYS),
        ),
        LONE_DELETE_MARKERS,
        # The operator tools' Batch Operations manifests and completion reports.
        *(s3.LifecycleRule(
            id=f"expire-{prefix.rstrip('/')}",
            prefix=prefix,
            expiration=Duration.days(JOB_FILES_EXPIRY_DAYS),
            noncurrent_version_expiration=Duration.days(1),
        ) for prefix in (RESTORE_JOBS_PREFIX, RECONCILE_JOBS_PREFIX)),
        *([s3.LifecycleRule(  # versions the upload gate's verdict function quarantined
            id="expire-quarantined",
            tag_filters={QUARANTINE_TAG[0]: QUARANTINE_TAG[1]},
            expiration=Duration.days(expiry.quarantine_days),
            noncurrent_version_expiration=Duration.days(expiry.quarantine_days),
        )] if expiry.quarantine_days is not None else []),
    ]


def assets_lifecycle_rules(expiry: ObjectExpiry) -> list[s3.LifecycleRule]:
    rules = [
        s3.LifecycleRule(
            id=f"{name}-to-intelligent-tiering",
            prefix=prefix,
            transitions=[
                s3.Transition(
                    storage_class=s3.StorageClass.INTELLIGENT_TIERING,
                    transition_after=Duration.days(0),
                )
            ],
        )
        for name, prefix in INTELLIGENT_TIERING_PREFIXES.items()
    ]
    rules.extend(expiration_rules(expiry))
    rules.append(_versions_rule(expiry, glacier_ir=True))
    return rules


def assets_intelligent_tiering() -> list[s3.IntelligentTieringConfiguration]:
    return [
        s3.IntelligentTieringConfiguration(
            name=f"{name}-archive",
            prefix=prefix,
            archive_access_tier_time=Duration.days(ARCHIVE_AFTER_DAYS),
            deep_archive_access_tier_time=Duration.days(DEEP_ARCHIVE_AFTER_DAYS),
        )
        for name, prefix in ARCHIVE_TIER_PREFIXES.items()
    ]


def replica_lifecycle_rules(expiry: ObjectExpiry) -> list[s3.LifecycleRule]:
    # The primary's expirations, mirrored (replicas of expired objects would otherwise live
    # on forever); replicas arrive as STANDARD_IA, so old versions need no second tier.
    return [*expiration_rules(expiry), _versions_rule(expiry, glacier_ir=False)]


def backups_lifecycle_rules(*, deep_archive_after_days: int,
                            noncurrent_expiration_days: int) -> list[s3.LifecycleRule]:
    return [
        s3.LifecycleRule(
            id="backups-to-deep-archive",
            transitions=[
                s3.Transition(
                    storage_class=s3.StorageClass.DEEP_ARCHIVE,
                    transition_after=Duration.days(deep_archive_after_days),
                )
            ],
            noncurrent_version_expiration=Duration.days(noncurrent_expiration_days),
            abort_incomplete_multipart_upload_after=Duration.days(ABORT_MULTIPART_AFTER_DAYS),
        ),
        LONE_DELETE_MARKERS,
    ]
