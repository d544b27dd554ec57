"""Alarm thresholds."""
from __future__ import annotations

from dataclasses import dataclass

from .common import ConfigError, _check_whole


@dataclass(frozen=True)
class MonitoringConfig:
    """Alarm thresholds of one environment (see docs/operations.md). Every alarm evaluates
    ``alarm_period_minutes`` datapoints; "sustained" alarms need ``sustained_periods`` of them
    in a row, "any occurrence" alarms (failed replication, DLQ, throttles, errors) need one."""

    alarm_period_minutes: int = 5
    sustained_periods: int = 3
    replication_latency_seconds: int = 900  # the S3 RTC window (replication.RTC_MINUTES)
    pending_replication_floor: int = 1000   # backlog below which growth is normal churn
    pending_replication_growth_periods: int = 6  # rises of the backlog to alarm (of N + 1 periods)
    api_5xx_rate_percent: float = 1.0
    api_p99_latency_ms: int = 1000
    function_errors_per_period: int = 5
    function_throttles_per_period: int = 0
    duration_near_timeout_ratio: float = 0.8
    queue_age_seconds: int = 900
    cloudfront_5xx_rate_percent: float = 1.0
    cloudfront_4xx_spike_percent: float = 15.0
    origin_latency_ms: int = 2000
    waf_blocked_spike: int = 1000  # blocked requests per period

    def __post_init__(self) -> None:
        def fail(name: str, problem: str) -> None:
            raise ConfigError(f"monitoring: {name} {problem}")

        _check_whole("monitoring", self, (
            "alarm_period_minutes", "sustained_periods", "pending_replication_growth_periods",
            "replication_latency_seconds", "api_p99_latency_ms", "queue_age_seconds",
            "origin_latency_ms", "waf_blocked_spike", "pending_replication_floor"), 1)
        _check_whole("monitoring", self,
                     ("function_errors_per_period", "function_throttles_per_period"), 0)
        for name in ("api_5xx_rate_percent", "cloudfront_5xx_rate_percent",
                     "cloudfront_4xx_spike_percent"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not 0 < value <= 100:
                fail(name, f"must be a percentage in (0, 100] (got {value!r})")
        ratio = self.duration_near_timeout_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio < 1:
            fail("duration_near_timeout_ratio",
                 f"must be between 0 and 1, exclusive (got {ratio!r})")
        # CloudWatch evaluates at most one day of datapoints (period x evaluation periods); the
        # growth alarm evaluates one period more than its rises (each rise needs a predecessor).
        longest = max(self.sustained_periods, self.pending_replication_growth_periods + 1)
        if self.alarm_period_minutes * longest > 24 * 60:
            fail("alarm_period_minutes", f"({self.alarm_period_minutes}) x {longest} periods "
                 "exceeds the one-day evaluation range CloudWatch allows")
