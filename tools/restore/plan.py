"""What restoring a prefix to a moment means, key by key (pure: no AWS calls).

For every key, the target is the entry current at ``--at``: a version, or absence (a delete
marker was current, or the key did not exist yet). The destination's current entry decides
the action:

| target  | destination now              | action                                              |
| ------- | ---------------------------- | --------------------------------------------------- |
| version | that same version (in place) | ``unchanged``                                       |
| version | anything else                | ``copy`` (a new current version; skipped if already there) |
| version | in an archive tier           | ``archived`` (reported; a restore can be requested) |
| absent  | absent / delete marker       | ``absent``                                          |
| absent  | a live version               | ``delete-marker`` when removal applies, else ``newer-kept`` |

Removal applies with ``--remove-newer``, and always when restoring into *another* bucket or
prefix (that destination must hold exactly the state at ``--at``). Nothing here ever deletes a
version: the only removal is a delete marker, which a later restore can undo.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

from tools.restore.listing import Entry, KeyState

COPY, DELETE_MARKER, ARCHIVED = "copy", "delete-marker", "archived"
UNCHANGED, ABSENT, NEWER_KEPT = "unchanged", "absent", "newer-kept"
ACTIONS = (COPY, DELETE_MARKER, ARCHIVED)  # the kinds that call S3 when carried out
NO_OPS = (UNCHANGED, ABSENT, NEWER_KEPT)


@dataclass(frozen=True)
class Decision:
    action: str
    source_key: str | None        # None: the key exists only in the destination
    dest_key: str
    version_id: str | None = None  # the source version to copy
    size: int = 0
    storage_class: str = ""
    dest_version_id: str | None = None  # the destination's current live version, if any
    dest_size: int = 0

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Decision:
        return cls(**data)


def decide(source_key: str | None, target: Entry | None, dest_key: str,
           dest_latest: Entry | None, *, in_place: bool, remove_extra: bool) -> Decision:
    """The decision for one key. ``target`` is the entry current at the moment (a delete
    marker or ``None`` means absent); ``dest_latest`` the destination's current entry."""
    if target is not None and target.is_delete_marker:
        target = None
    live = dest_latest if dest_latest is not None and not dest_latest.is_delete_marker else None
    dest = {"dest_version_id": live.version_id, "dest_size": live.size} if live else {}
    if target is None:
        if live is None:
            return Decision(ABSENT, source_key, dest_key)
        return Decision(DELETE_MARKER if remove_extra else NEWER_KEPT, source_key, dest_key,
                        **dest)
    fields = {"version_id": target.version_id, "size": target.size,
              "storage_class": target.storage_class, **dest}
    if in_place and live is not None and live.version_id == target.version_id:
        return Decision(UNCHANGED, source_key, dest_key, **fields)
    if target.archived:
        return Decision(ARCHIVED, source_key, dest_key, **fields)
    return Decision(COPY, source_key, dest_key, **fields)


def _relative(states: Iterator[KeyState], prefix: str) -> Iterator[tuple[bytes, KeyState]]:
    for state in states:
        # S3 lists keys in UTF-8 binary order; comparing encoded keys follows the same order.
        yield state.key[len(prefix):].encode("utf-8"), state


def plan(source: Iterator[KeyState], source_prefix: str, dest_prefix: str,
         dest: Iterator[KeyState] | None, *, remove_newer: bool,
         exact: bool = True) -> Iterator[Decision]:
    """One decision per key of the source prefix and, for another destination, per key of the
    destination prefix as well. ``dest is None`` means in place (the source listing already
    says what is current). Both listings stream; they are merge-joined on the relative key.
    ``exact``: keys the destination holds that did not exist at the moment get a delete marker
    even without ``remove_newer`` (off for a disaster restore from the replica, whose primary
    may hold uploads the replica never received)."""
    if dest is None:
        for state in source:
            yield decide(state.key, state.at_moment, state.key, state.latest,
                         in_place=True, remove_extra=remove_newer)
        return
    remove_extra = remove_newer or exact
    src_iter, dst_iter = _relative(source, source_prefix), _relative(dest, dest_prefix)
    src, dst = next(src_iter, None), next(dst_iter, None)
    while src is not None or dst is not None:
        if dst is None or (src is not None and src[0] < dst[0]):
            state = src[1]
            rel = state.key[len(source_prefix):]
            yield decide(state.key, state.at_moment, dest_prefix + rel, None,
                         in_place=False, remove_extra=remove_extra)
            src = next(src_iter, None)
        elif src is None or dst[0] < src[0]:
            yield decide(None, None, dst[1].key, dst[1].latest, in_place=False,
                         remove_extra=remove_extra)
            dst = next(dst_iter, None)
        else:
            state = src[1]
            yield decide(state.key, state.at_moment, dst[1].key, dst[1].latest,
                         in_place=False, remove_extra=remove_extra)
            src, dst = next(src_iter, None), next(dst_iter, None)
