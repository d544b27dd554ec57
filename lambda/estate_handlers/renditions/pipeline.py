"""One original version in, its renditions and manifest out (or a ``rejected`` tag).

Order of work, cheapest and safest first:

1. Not an original, or not the key's current version (a newer one has its own event):
   skip. Gone: skip. A replica (an upload the replica Region took, brought here by
   replication) is rendered like any version: only this Region renders.
2. Its manifest (of this schema) already names this version and this rendition set: skip
   (a redelivery or a re-run writes nothing). A manifest for another version, or of an
   older schema, is replaced.
3. Already tagged ``processing-status=rejected``: skip.
4. Tagged by the hasher as a byte-for-byte duplicate of a canonical original whose
   manifest holds the same SHA-256: server-side ``CopyObject`` of each rendition (no
   download, no decode, no encode), then this original's own manifest.
5. Size from HeadObject: empty or above ``max_bytes``: rejected without a download.
6. Download; sniff (magic bytes, header pixel cap, structure): rejected without decoding.
7. Check that every planned output fits every enabled encoder (from the header); decode
   once, encode every rendition, and only then upload them, then the manifest last: a
   manifest is the proof that the whole set exists, and a refusal at any step before the
   uploads (an encoder that cannot write this image) leaves nothing written. Before the
   uploads, and again before the manifest, the version must still be the key's current
   one: a newer version uploaded during the encode renders itself, and this one's bodies
   would overwrite its renditions.

Rejections are tagged on the original version and counted; they never raise, so a bad
file is never retried. S3 errors other than "gone" raise, so the record is retried and
ends in the dead-letter queue.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from estate_handlers.layout import (
    CONTENT_SHA256_TAG,
    DEDUP_STATUS_TAG,
    DUPLICATE,
    DUPLICATE_OF_TAG,
    MAX_TAGS_PER_OBJECT,
)
from estate_handlers.object_events import ObjectVersion, require_verdict_tag
from estate_handlers.renditions import fingerprints, imaging, keys, sniff
from estate_handlers.renditions.settings import Settings
from estate_handlers.s3_errors import is_missing, newer_version_unreleased

CACHE_IMMUTABLE = "public, max-age=31536000, immutable"
# The manifest keeps its key when a new version of the original replaces the renditions.
CACHE_MANIFEST = "public, max-age=86400"
STATUS_TAG = "processing-status"
REASON_TAG = "processing-reason"
REJECTED = "rejected"
# 2: ``original.width``/``height`` are the size as displayed (EXIF orientation applied); in 1
# they were the stored size. 3: each rendition names its ``version_id``, which a duplicate's
# reuse copies (a rendition key of an overwritten original gets new bytes). A canonical's
# manifest of another schema is not reused.
MANIFEST_SCHEMA = 3


@dataclass(frozen=True)
class Outcome:
    status: str  # rendered | reused | rejected | unchanged | superseded | skipped
    detail: str = ""
    written: int = 0  # objects written (renditions + manifest)


def settings_digest(settings: Settings) -> str:
    return hashlib.sha256(settings.to_json().encode()).hexdigest()[:16]


def _version(obj: ObjectVersion) -> dict:
    return {"VersionId": obj.version_id} if obj.version_id else {}


def read_manifest(s3, bucket: str, original_key: str) -> dict | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=keys.manifest_key(original_key))["Body"]
    except ClientError as exc:
        if is_missing(exc):
            return None
        raise
    try:
        return json.loads(body.read())
    except ValueError:
        return None  # unreadable: render again and overwrite it
    finally:
        body.close()


def tag(s3, obj: ObjectVersion, ours: dict[str, str]) -> bool:
    """Merge ``ours`` into the version's tags; never drops another writer's tag. False when
    S3's 10-tag limit leaves no room even for the status (the rejection is still counted).

    The tags are read here, just before the write: the hasher tags the same version while a
    render runs, and a set read before the render (seconds old) would drop its tags. S3 has no
    conditional tagging; this narrows the window to the time between two requests."""
    existing = s3.get_object_tagging(Bucket=obj.bucket, Key=obj.key, **_version(obj))["TagSet"]
    require_verdict_tag(obj, existing)
    kept = [t for t in existing if t["Key"] not in ours]
    merged = kept + [{"Key": k, "Value": v} for k, v in ours.items()]
    if len(merged) > MAX_TAGS_PER_OBJECT:  # the reason goes first: the status alone is what counts
        merged = kept + [{"Key": STATUS_TAG, "Value": ours[STATUS_TAG]}]
        if len(merged) > MAX_TAGS_PER_OBJECT:
            return False
    s3.put_object_tagging(Bucket=obj.bucket, Key=obj.key, **_version(obj),
                          Tagging={"TagSet": merged})
    return True


def _put(s3, bucket: str, key: str, body: bytes, content_type: str, cache_control: str) -> str:
    """Stores ``body``; the new version's id ("null" in an unversioned bucket)."""
    response = s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type,
                             CacheControl=cache_control)
    return response.get("VersionId") or "null"


def _rendition_entry(original_key: str, settings: Settings, requested: int, fmt: str,
                     width: int, height: int, size: int) -> dict:
    thumbnail = requested in settings.thumbnail_widths
    return {
        "key": keys.rendition_key(original_key, requested, fmt, thumbnail),
        "kind": "thumbnail" if thumbnail else "processed",
        "requested_width": requested, "width": width, "height": height, "format": fmt,
        "content_type": imaging.CONTENT_TYPE[fmt], "bytes": size,
    }


def build_manifest(obj: ObjectVersion, sha256: str, size: int, inspection: sniff.Inspection,
                   renditions: list[dict], placeholder: dict, phash: str, settings: Settings,
                   reused_from: str | None = None) -> dict:
    return {
        "schema": MANIFEST_SCHEMA,
        "original": {"key": obj.key, "version_id": obj.version_id or "null", "sha256": sha256,
                     "bytes": size, "format": inspection.format, "width": inspection.width,
                     "height": inspection.height, "frames": inspection.frames},
        "settings_digest": settings_digest(settings),
        "renditions": renditions,
        "placeholder": placeholder,
        "phash": phash,
        "reused_from": reused_from,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _write_manifest(s3, bucket: str, original_key: str, manifest: dict) -> None:
    _put(s3, bucket, keys.manifest_key(original_key),
         json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode(),
         "application/json", CACHE_MANIFEST)


def try_reuse(s3, obj: ObjectVersion, tags: dict[str, str], size: int,
              settings: Settings) -> Outcome | None:
    """Copy a byte-identical canonical's renditions server-side; None when that is not possible."""
    canonical_key = tags.get(DUPLICATE_OF_TAG, "")
    sha256 = tags.get(CONTENT_SHA256_TAG)
    if tags.get(DEDUP_STATUS_TAG) != DUPLICATE or not keys.is_original(canonical_key) \
            or not sha256 or canonical_key == obj.key:
        return None
    canonical = read_manifest(s3, obj.bucket, canonical_key)
    if canonical is None or canonical.get("original", {}).get("sha256") != sha256 \
            or canonical.get("settings_digest") != settings_digest(settings) \
            or canonical.get("schema") != MANIFEST_SCHEMA:
        return None  # not rendered yet, by another rendition set or manifest schema: render
    if not all(entry.get("version_id") for entry in canonical["renditions"]):
        return None  # a manifest that does not say which bytes: render
    renditions = []
    for entry in canonical["renditions"]:
        thumbnail = entry["kind"] == "thumbnail"
        target = keys.rendition_key(obj.key, entry["requested_width"], entry["format"], thumbnail)
        # The version the canonical's manifest names, not the key's current one: if the
        # canonical's original is overwritten meanwhile, its new render writes other bytes
        # under the same keys before it writes its manifest. MetadataDirective COPY keeps
        # Content-Type and Cache-Control; no byte leaves S3.
        try:
            copied = s3.copy_object(Bucket=obj.bucket, Key=target, MetadataDirective="COPY",
                                    CopySource={"Bucket": obj.bucket, "Key": entry["key"],
                                                "VersionId": entry["version_id"]})
        except ClientError as exc:
            if is_missing(exc):
                # That version is gone (a restore copied the manifest, its noncurrent days
                # passed): render; the render overwrites what was copied so far.
                return None
            raise
        renditions.append({**entry, "key": target,
                           "version_id": copied.get("VersionId") or "null"})
    original = canonical["original"]
    inspection = sniff.Inspection(original["format"], original["width"], original["height"],
                                  original.get("frames", 1))
    manifest = build_manifest(obj, sha256, size, inspection, renditions,
                              canonical["placeholder"], canonical["phash"], settings,
                              reused_from=canonical_key)
    _write_manifest(s3, obj.bucket, obj.key, manifest)
    return Outcome("reused", canonical_key, written=len(renditions) + 1)


def download(s3, obj: ObjectVersion) -> bytes:
    body = s3.get_object(Bucket=obj.bucket, Key=obj.key, **_version(obj))["Body"]
    try:
        return body.read()
    finally:
        body.close()


def render_and_store(s3, obj: ObjectVersion, settings: Settings) -> Outcome:
    """Download, sniff, decode once, encode every rendition, upload them, then the manifest
    (the commit marker).

    Every body is encoded before the first upload, so an encoder's refusal (``Rejected``)
    leaves no output of this version written: a previous version's renditions and manifest
    stay whole and consistent. The encoded bodies are held meanwhile (a few MB for a photo;
    ~60 MB for a 2048×16383 strip of noise, the worst the height cap allows); peak memory is
    still the AVIF encoder's on the largest output (~70 MB for a 2048 px photo, ~950 MB for
    that strip, within the function's 2048 MB) plus one image:
    the body is downloaded here (a caller's reference would outlive ``del``), and the
    compressed original and the full decoded image are freed before the first encode.
    """
    data = download(s3, obj)
    size = len(data)
    inspection, im = sniff.inspect(data, settings.max_pixels)
    imaging.check_dimensions(inspection, settings)
    sha256 = hashlib.sha256(data).hexdigest()
    decoded = imaging.decode(im, inspection, settings)
    del im, data
    inspection = imaging.as_decoded(inspection, decoded)
    imaging.check_dimensions(inspection, settings)  # again, if the decode turned the image
    cascade = imaging.resize_cascade(decoded, settings.widths, imaging.max_height(settings))
    del decoded
    encoded = []
    smallest = None
    for requested, resized in cascade:
        for fmt in settings.formats:
            body = imaging.encode_rendition(resized, fmt, settings)
            encoded.append((_rendition_entry(obj.key, settings, requested, fmt,
                                             resized.width, resized.height, len(body)), body))
            del body
        smallest = resized
    # The encode took seconds to minutes: a newer version may have been uploaded and rendered
    # meanwhile, and these bodies would overwrite its renditions under the same keys.
    superseded = _superseded(s3, obj)
    if superseded is not None:
        return superseded
    entries = []
    while encoded:
        entry, body = encoded.pop(0)
        entry["version_id"] = _put(s3, obj.bucket, entry["key"], body, entry["content_type"],
                                   CACHE_IMMUTABLE)
        entries.append(entry)
        del body
    placeholder = {"lqip": fingerprints.lqip(smallest),
                   "dominant_color": fingerprints.dominant_color(smallest)}
    manifest = build_manifest(obj, sha256, size, inspection, entries, placeholder,
                              fingerprints.phash(smallest), settings)
    superseded = _superseded(s3, obj, written=len(entries))  # the newer version's render
    if superseded is not None:                                 # writes its own manifest
        return superseded
    _write_manifest(s3, obj.bucket, obj.key, manifest)
    return Outcome("rendered", f"{inspection.format} {inspection.width}x{inspection.height}",
                   written=len(entries) + 1)


def reject(s3, obj: ObjectVersion, error: sniff.Rejected) -> Outcome:
    tagged = tag(s3, obj, {STATUS_TAG: REJECTED, REASON_TAG: error.reason})
    return Outcome(REJECTED, error.reason if tagged else f"{error.reason} (untagged: 10 tags)")


def _current_head(s3, obj: ObjectVersion) -> tuple[dict | None, Outcome | None]:
    """The key's HeadObject while ``obj`` is its current version; else the outcome that says
    why not (gone, or superseded by a newer version, released or not)."""
    try:
        head = s3.head_object(Bucket=obj.bucket, Key=obj.key)
    except ClientError as exc:
        if is_missing(exc):
            return None, Outcome("skipped", "gone")
        if newer_version_unreleased(s3, obj.bucket, obj.key, obj.version_id, exc):
            return None, Outcome("superseded",
                                 "current version not released by the upload gate yet")
        raise
    if obj.version_id and head.get("VersionId") != obj.version_id:
        return None, Outcome("superseded", f"current version is {head.get('VersionId')}")
    return head, None


def _superseded(s3, obj: ObjectVersion, written: int = 0) -> Outcome | None:
    """The outcome when ``obj`` stopped being current during its render, ``written`` objects
    in; None while it still is."""
    _, outcome = _current_head(s3, obj)
    return None if outcome is None else Outcome(outcome.status, outcome.detail, written)


def process_object(s3, obj: ObjectVersion, settings: Settings) -> Outcome:
    """Render one original version (see the module docstring for the order of work)."""
    if not keys.is_original(obj.key):
        return Outcome("skipped", "not an original")
    head, outcome = _current_head(s3, obj)
    if outcome is not None:
        return outcome
    obj = ObjectVersion(obj.bucket, obj.key, head.get("VersionId") or obj.version_id)
    manifest = read_manifest(s3, obj.bucket, obj.key)
    if manifest is not None \
            and manifest.get("schema") == MANIFEST_SCHEMA \
            and manifest.get("original", {}).get("version_id") == (obj.version_id or "null") \
            and manifest.get("settings_digest") == settings_digest(settings):
        return Outcome("unchanged", "manifest names this version")
    tag_set = s3.get_object_tagging(Bucket=obj.bucket, Key=obj.key, **_version(obj))["TagSet"]
    tags = {t["Key"]: t["Value"] for t in tag_set}
    if tags.get(STATUS_TAG) == REJECTED:
        return Outcome("unchanged", "already rejected")
    size = head["ContentLength"]
    try:
        if size == 0:
            raise sniff.Rejected("empty")
        if size > settings.max_bytes:
            raise sniff.Rejected("too-large", f"{size} bytes > {settings.max_bytes}")
        reused = try_reuse(s3, obj, tags, size, settings)
        if reused is not None:
            return reused
        return render_and_store(s3, obj, settings)
    except sniff.Rejected as error:
        return reject(s3, obj, error)
