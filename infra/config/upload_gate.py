"""Settings and names of the upload safety gate (GuardDuty Malware Protection for S3)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .common import ConfigError, _check_whole
from .layout import BRANDS, DOCUMENTS, ORIGINALS, PROCESSED, THUMBNAILS, USER_EXPORTS, USER_UPLOADS

# Scanned before anyone may read them: every prefix whose bytes come from outside the team.
# User uploads (end users), product originals (sellers), documents (certificates and reports
# from sellers and labs), brands/ (brand logos and media, uploaded by brands; one prefix
# covers both and leaves GuardDuty's fifth slot free). Renditions (processed, thumbnails) are
# made by the pipeline from clean originals and stay ungated, so the CDN reads them as now.
DEFAULT_GATED_PREFIXES = (USER_UPLOADS, ORIGINALS, DOCUMENTS, BRANDS)
MAX_GATED_PREFIXES = 5  # GuardDuty Malware Protection for S3: object prefixes per bucket
NEVER_GATED = (PROCESSED, THUMBNAILS, USER_EXPORTS)


@dataclass(frozen=True)
class UploadGateConfig:
    """The upload safety gate: GuardDuty scans every new object under ``prefixes``; only a
    clean verdict makes it readable (bucket policy) and starts the pipeline (EventBridge)."""

    enabled: bool = False
    # False only while objects stored before the gate are scanned on demand
    # (``tools.scan_existing``; docs/upload-gate.md, "Turning the gate on over stored objects"):
    # the bucket policies and the upload API then hold back only versions GuardDuty found not
    # clean, and a version without a verdict stays readable.
    hold_unscanned: bool = True
    prefixes: tuple[str, ...] = DEFAULT_GATED_PREFIXES
    quarantine_expiration_days: int = 30   # infected versions kept this long for forensics
    unscanned_backlog_threshold: int = 100  # uploads without a verdict per alarm period
    verdict_reserved_concurrency: int = 5

    @property
    def gated_prefixes(self) -> tuple[str, ...]:
        """What the store and the pipeline treat as gated: none when the gate is off."""
        return self.prefixes if self.enabled else ()

    def __post_init__(self) -> None:
        def fail(name: str, problem: str) -> None:
            raise ConfigError(f"upload_gate: {name} {problem}")

        for flag in ("enabled", "hold_unscanned"):
            if not isinstance(getattr(self, flag), bool):
                fail(flag, f"must be true or false (got {getattr(self, flag)!r})")
        _check_whole("upload_gate", self, ("quarantine_expiration_days",
                                           "unscanned_backlog_threshold"), 1)
        _check_whole("upload_gate", self, ("verdict_reserved_concurrency",), 2, 1000)
        prefixes = self.prefixes
        if not isinstance(prefixes, tuple) or not 1 <= len(prefixes) <= MAX_GATED_PREFIXES:
            fail("prefixes", f"must be a tuple of 1 to {MAX_GATED_PREFIXES} prefixes "
                 f"(GuardDuty's limit per bucket), got {prefixes!r}")
        if len(set(prefixes)) != len(prefixes):
            fail("prefixes", f"has duplicates: {prefixes!r}")
        for prefix in prefixes:
            if not isinstance(prefix, str) or not re.fullmatch(r"[a-z0-9-]+(/[a-z0-9-]+)*/",
                                                               prefix):
                fail("prefixes", f"{prefix!r} is not a folder prefix like 'user-content/uploads/'")
            if any(p != prefix and prefix.startswith(p) for p in prefixes):
                fail("prefixes", f"{prefix!r} lies inside another gated prefix")
            for served in NEVER_GATED:
                if served.startswith(prefix) or prefix.startswith(served):
                    fail("prefixes", f"{prefix!r} overlaps {served!r}, which the pipeline "
                         "writes itself (renditions and exports are never gated)")


@dataclass(frozen=True)
class UploadGateNames:
    """The physical names of the upload gate's rules and function, all derived from one prefix
    (rule ARNs are written from them, so key and queue policies need no reference)."""

    prefix: str

    @property
    def uploads_rule(self) -> str:
        return f"{self.prefix}-gated-uploads"

    @property
    def not_clean_rule(self) -> str:
        return f"{self.prefix}-not-clean"

    @property
    def tagging_failed_rule(self) -> str:
        return f"{self.prefix}-tagging-failed"

    @property
    def verdict_function(self) -> str:
        return f"{self.prefix}-verdict"

    # The queues a clean verdict releases an upload to: one rule each, named after the consumer
    # (the config checks every derived name's length, so a new consumer is named here first).
    RELEASE_CONSUMERS = ("Hasher", "Renditions")

    def release_rule(self, consumer: str) -> str:
        if consumer not in self.RELEASE_CONSUMERS:
            raise ValueError(f"{consumer!r} is not one of the gate's release consumers "
                             f"{self.RELEASE_CONSUMERS}")
        return f"{self.prefix}-release-{consumer.lower()}"
