"""What every concern's settings share: the error that names a field, the whole-number check,
and byte units."""
from __future__ import annotations

MB = 1024 * 1024
GB = 1024 * MB
# CloudWatch Logs' longest retention (ten years): a longer setting would be cut to it silently.
MAX_LOG_RETENTION_DAYS = 3653
# CloudWatch: an alarm reads at most 10 metrics (one per upload kind in the dedup alarm).
MAX_ALARM_METRICS = 10
# S3 Object Lock's longest default retention (100 years).
MAX_OBJECT_LOCK_DAYS = 36500
# Where the erase tool stores its audit records in the backups bucket (the one prefix this app
# writes there, with a lock of its own).
ERASURE_AUDIT_PREFIX = "audit/erasure/"


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field."""


def _check_whole(where: str, obj: object, names: tuple[str, ...], minimum: int,
                 maximum: int | None = None, unit: str = "") -> None:
    """Every field in ``names`` is an int (not a bool) within bounds; the error names it."""
    for name in names:
        value = getattr(obj, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum \
                or (maximum is not None and value > maximum):
            bounds = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
            raise ConfigError(f"{where}: {name} must be a whole number {unit}{bounds} "
                              f"(got {value!r})")
