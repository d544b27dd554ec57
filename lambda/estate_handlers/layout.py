"""The estate's shared names, written once: the assets bucket's prefix layout, the object
tags the pipeline writes and reads, which prefixes tier, and the environment variables the
handlers read. Plain Python, no imports: ``infra.config`` (the constructs) and the handlers
both import this module, so nothing is mirrored and no test compares copies.
"""
from __future__ import annotations


# --- bucket names derived from the assets bucket's
def replica_bucket_name(assets_bucket: str) -> str:
    """The cross-region replica of an assets bucket (the CDK app and the tools both use it)."""
    return f"{assets_bucket}-replica"


# --- prefix layout of the assets bucket (README, "Bucket layout")
ORIGINALS = "products/images/original/"
PROCESSED = "products/images/processed/"
THUMBNAILS = "products/images/thumbnails/"
DOCUMENTS = "products/documents/"
CERTIFICATES = "products/documents/certificates/"
REPORTS = "products/documents/reports/"
BRANDS = "brands/"
BRAND_LOGOS = "brands/logos/"
BRAND_MEDIA = "brands/media/"
USER_CONTENT = "user-content/"
USER_UPLOADS = "user-content/uploads/"
USER_EXPORTS = "user-content/exports/"

# Not an asset: the write-health probe objects of each region's health route (one per probe,
# ``write_health``); both buckets' lifecycles expire them after a day.
WRITE_HEALTH_PREFIX = "ops/write-health/"
WRITE_HEALTH_EXPIRY_DAYS = 1

ASSET_PREFIXES = (
    ORIGINALS, PROCESSED, THUMBNAILS, CERTIFICATES, REPORTS,
    BRAND_LOGOS, BRAND_MEDIA, USER_UPLOADS, USER_EXPORTS,
)

# Stored as INTELLIGENT_TIERING from day 0 (lifecycle rules, and the storage class the
# upload API signs); everything else stays STANDARD (hot CDN reads, small objects).
INTELLIGENT_TIERING_PREFIXES = {
    "originals": ORIGINALS,
    "documents": DOCUMENTS,
    "brand-media": BRAND_MEDIA,
    "uploads": USER_UPLOADS,
}
# Of those, the ones with the asynchronous archive tiers (a read needs a restore first).
ARCHIVE_TIER_PREFIXES = {"originals": ORIGINALS, "documents": DOCUMENTS, "uploads": USER_UPLOADS}

# New objects under these prefixes are hashed and indexed for dedup. Never generated
# renditions: identical thumbnails of identical images are not duplicates anyone should expire.
HASHED_PREFIXES = (ORIGINALS, DOCUMENTS, BRANDS, USER_UPLOADS)


def home_prefix(key: str) -> str | None:
    """The layout prefix a key (or an upload kind's prefix) lies under: the longest of
    ``ASSET_PREFIXES`` it starts with. Two copies of the same bytes dedup only within one: the
    upload API's dedup answer and the hasher's duplicate tag use this same rule."""
    return max((prefix for prefix in ASSET_PREFIXES if key.startswith(prefix)), key=len,
               default=None)

# Active content: never an upload type, whatever a kind's config says. The CDN would serve it
# from the storefront's domain (an SVG with <script> is stored XSS). Logos are PNG/WebP/AVIF;
# a PNG-declared upload is bound to Content-Type: image/png by the signature or POST policy,
# and the CDN adds X-Content-Type-Options: nosniff, so a browser never runs it as script.
REFUSED_CONTENT_TYPES = frozenset({"image/svg+xml", "text/html", "application/xhtml+xml",
                                   "text/xml", "application/xml", "application/javascript",
                                   "text/javascript"})

# --- object tags written by the upload hasher (the duplicate-expiry lifecycle rule matches
# DUPLICATE_TAG exactly)
CONTENT_SHA256_TAG = "content-sha256"
DEDUP_STATUS_TAG = "dedup-status"
DUPLICATE_OF_TAG = "duplicate-of"
CANONICAL = "canonical"
DUPLICATE = "duplicate"
# Hashed, but neither canonical nor duplicate: the version was no longer its key's current one
# when hashed, or its bytes are indexed under another caller's own upload, which this caller
# may not read. Never expired as a duplicate.
KEPT = "kept"
DUPLICATE_TAG = (DEDUP_STATUS_TAG, DUPLICATE)

# --- S3 keeps at most this many tags on an object version; every tagger merges under it
MAX_TAGS_PER_OBJECT = 10

# --- the verdict GuardDuty Malware Protection for S3 writes on each scanned object
SCAN_STATUS_TAG = "GuardDutyMalwareScanStatus"
SCAN_CLEAN = "NO_THREATS_FOUND"
SCAN_THREATS = "THREATS_FOUND"


def scan_status(tag_set: list[dict]) -> str | None:
    """GuardDuty's verdict in an S3 ``TagSet`` (GetObjectTagging's answer); None if unscanned."""
    return next((t.get("Value") for t in tag_set if t.get("Key") == SCAN_STATUS_TAG), None)


# Written by the upload gate's verdict handler (scan_verdict): infected versions are tagged
# QUARANTINE_TAG (a lifecycle rule expires them); every reported version ALERTED_TAG=<result>.
QUARANTINE_TAG = ("quarantine", "true")
ALERTED_TAG = "scan-alerted"

# --- the dedup index (DynamoDB): partition key, 64 lowercase hex of the content's SHA-256
DEDUP_PARTITION_KEY = "sha256"

# --- the functions' EMF metrics land in this CloudWatch namespace (the renditions function's
#     in StorageEstate/Renditions, renditions/handler.py)
METRICS_NAMESPACE = "StorageEstate"
# 1 when the dedup index's replica has deletion protection and point-in-time recovery
# (replica_guard.py), 0 otherwise; an alarm in the replica region watches it.
DEDUP_REPLICA_PROTECTED_METRIC = "DedupReplicaProtected"
# The upload API's dedup lookups that DynamoDB did not answer (the upload went on without one).
DEDUP_FAILED_METRIC = "DedupLookupsFailed"
# Failures a function caught and answered for (a 500 response, a queue record handed back),
# which Lambda's Errors metric does not count: dimension ``service`` only (runtime.count_fault).
HANDLED_FAULTS_METRIC = "HandledFaults"
# Every EMF metric each handler module publishes, with the values of its one dimension besides
# Powertools' ``service``: ``UPLOAD_KINDS`` stands for each configured upload kind. CloudWatch
# bills each (name, dimensions) series as a custom metric, so `make cost` counts them from here;
# tests/unit/test_emf_metrics_declared.py reads the handlers' sources and holds this to them.
UPLOAD_KINDS = "<upload kind>"
EMF_METRICS: dict[str, dict[str, tuple[str, ...]]] = {
    "estate_handlers.presign": {"UrlsIssued": (UPLOAD_KINDS, "download"),
                                "DedupHits": (UPLOAD_KINDS,),
                                DEDUP_FAILED_METRIC: (UPLOAD_KINDS,),
                                HANDLED_FAULTS_METRIC: ()},
    "estate_handlers.hasher": {"HashedObjects": (), "BytesHashed": (), "DuplicatesFound": (),
                               "ObjectsLeftUntagged": (), HANDLED_FAULTS_METRIC: ()},
    "estate_handlers.renditions.handler": {"RejectedOriginals": (), HANDLED_FAULTS_METRIC: ()},
    "estate_handlers.scan_verdict": {"UploadsQuarantined": (), "UnreleasableUploadsReported": (),
                                     "UnscannableUploadsReported": (), HANDLED_FAULTS_METRIC: ()},
    "estate_handlers.replica_guard": {DEDUP_REPLICA_PROTECTED_METRIC: ()},
}

# --- environment variables the handlers read (set by the constructs)
ASSETS_BUCKET_ENV = "ASSETS_BUCKET_NAME"
TABLE_ENV = "DEDUP_TABLE_NAME"
UPLOAD_POLICY_ENV = "UPLOAD_POLICY"
SCAN_GATED_PREFIXES_ENV = "SCAN_GATED_PREFIXES"
# "false" while the gate lets versions without a verdict through (stored before it was on);
# absent otherwise: a version without a verdict is held back.
SCAN_HOLDS_UNSCANNED_ENV = "SCAN_HOLDS_UNSCANNED"
# The bucket the write-health probe writes into (estate_handlers.write_health).
WRITE_HEALTH_BUCKET_ENV = "WRITE_HEALTH_BUCKET"

# In the replica bucket: the manifests ``tools.reconcile`` writes for its S3 Batch Replication
# jobs and the jobs' completion reports (the Batch Replication role may read and write here only).
RECONCILE_JOBS_PREFIX = "reconcile-jobs/"
# In the restored bucket: the manifests and completion reports of ``tools.restore``'s S3 Batch
# Operations copy jobs.
RESTORE_JOBS_PREFIX = "restore-jobs/"
# The operator tools' job files expire a year after they are written: past any audit of the
# incident that made them, and never read by anything else.
JOB_FILES_EXPIRY_DAYS = 365
