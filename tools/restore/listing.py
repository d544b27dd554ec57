"""Stream the versions of a prefix, one key at a time, newest first.

``ListObjectVersions`` returns the versions of a key contiguously, newest first, but botocore
parses ``<Version>`` and ``<DeleteMarker>`` elements into two separate lists and the true
interleaving is lost; ``LastModified`` has one-second resolution, so it cannot put a version
and a delete marker of the same second back in order. The XML body has the order: a hook on
the client records the sequence of element names of each page, and the two lists are zipped
back along it.

Memory: one page (at most ``page_size`` entries) plus a constant per key — a key's history is
folded into a ``KeyState`` as it streams by, never kept.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

_ELEMENTS = re.compile(rb"<(Version|DeleteMarker)>")
_ORDER = "RestoreToolElementOrder"
ARCHIVE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})


@dataclass(frozen=True)
class Entry:
    """One version or delete marker of a key."""

    key: str
    version_id: str
    last_modified: dt.datetime
    is_delete_marker: bool
    size: int = 0
    etag: str = ""
    storage_class: str = "STANDARD"

    @property
    def archived(self) -> bool:
        """In a storage class that needs a restore before it can be read or copied."""
        return self.storage_class in ARCHIVE_CLASSES


@dataclass
class KeyState:
    """What the listing says about one key: the current entry, the entry current at a
    moment (``None``: no entry existed yet), and how many entries it has."""

    key: str
    latest: Entry | None = None
    at_moment: Entry | None = None
    versions: int = 0


def _record_order(http_response, parsed, **_) -> None:
    if isinstance(parsed, dict) and http_response is not None:
        parsed[_ORDER] = [m.group(1).decode() for m in _ELEMENTS.finditer(http_response.content)]


def install_order_hook(s3) -> None:
    """Let ``entries`` see the true interleaving of versions and delete markers (idempotent)."""
    s3.meta.events.register("after-call.s3.ListObjectVersions", _record_order,
                            unique_id="restore-tool-element-order")


def _page_entries(page: dict) -> Iterator[Entry]:
    versions = iter(page.get("Versions", []))
    markers = iter(page.get("DeleteMarkers", []))
    order = page.get(_ORDER)
    if order is None:  # no hook (e.g. a stubbed client): fall back to time, markers first
        merged = [(v, False) for v in page.get("Versions", [])] + \
                 [(m, True) for m in page.get("DeleteMarkers", [])]
        merged.sort(key=lambda item: (item[0]["Key"].encode(), -item[0]["LastModified"].timestamp(),
                                      not item[1]))
        for item, marker in merged:
            yield _entry(item, marker)
        return
    for name in order:
        marker = name == "DeleteMarker"
        yield _entry(next(markers) if marker else next(versions), marker)


def _entry(item: dict, marker: bool) -> Entry:
    return Entry(key=item["Key"], version_id=item.get("VersionId") or "null",
                 last_modified=item["LastModified"], is_delete_marker=marker,
                 size=0 if marker else item.get("Size", 0), etag=item.get("ETag", ""),
                 storage_class=item.get("StorageClass", "STANDARD") if not marker else "")


def entries(s3, bucket: str, prefix: str, page_size: int = 1000) -> Iterator[Entry]:
    """Every version and delete marker under ``prefix``: keys in the server's order, each
    key's entries newest first."""
    install_order_hook(s3)
    paginator = s3.get_paginator("list_object_versions")
    pages = iter(paginator.paginate(Bucket=bucket, Prefix=prefix,
                                    PaginationConfig={"PageSize": page_size}))
    while (page := next(pages, None)) is not None:
        current, page = _page_entries(page), None  # one page alive, not two, while fetching
        yield from current
        del current


def key_states(s3, bucket: str, prefix: str, at: dt.datetime | None = None,
               page_size: int = 1000) -> Iterator[KeyState]:
    """One ``KeyState`` per key under ``prefix``, in the server's key order. ``at_moment`` is
    the newest entry with ``LastModified <= at`` (``at`` is inclusive at S3's one-second
    resolution), or ``None`` when ``at`` is ``None`` or the key did not exist yet."""
    state: KeyState | None = None
    for entry in entries(s3, bucket, prefix, page_size):
        if state is None or entry.key != state.key:
            if state is not None:
                yield state
            state = KeyState(entry.key, latest=entry)
        state.versions += 1
        if at is not None and state.at_moment is None and entry.last_modified <= at:
            state.at_moment = entry
    if state is not None:
        yield state
