"""The days after which objects expire or tier down."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ObjectExpiry:
    """The days after which the assets bucket's objects expire or tier down; the replica
    mirrors the expirations. ``quarantine_days`` is None when the upload gate is off."""

    exports_days: int
    duplicates_days: int | None  # None: duplicates are tagged, never expired
    quarantine_days: int | None
    noncurrent_glacier_ir_after_days: int
    noncurrent_expiration_days: int
