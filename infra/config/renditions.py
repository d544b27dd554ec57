"""Settings of the renditions pipeline (the rendition set is the handler's own ``Settings``)."""
from __future__ import annotations

from dataclasses import dataclass

from .common import MAX_LOG_RETENTION_DAYS, MB, ConfigError, _check_whole
from .layout import (
    RENDITION_AVIF_SPEED,
    RENDITION_FORMATS,
    RENDITION_JPEG_ENCODER,
    RenditionSettings,
    SettingsError,
)

# Originals per renditions-function invocation (the SQS event source's batch size): the
# construct sizes the function with it and the cost model prices invocations with it.
RENDITION_BATCH_SIZE = 4


@dataclass(frozen=True)
class RenditionsConfig:
    """What the renditions function makes of every product original (see
    docs/renditions.md), and how the function is sized. The rendition set itself is the handler's
    ``Settings`` (one definition, one validation): written into the function's environment as
    JSON (``settings_json``), where the function validates it again on start."""

    processed_widths: tuple[int, ...] = (2048, 1200)   # products/images/processed/
    thumbnail_widths: tuple[int, ...] = (600, 300)     # products/images/thumbnails/
    formats: tuple[str, ...] = RENDITION_FORMATS       # jpeg is the required fallback
    quality: tuple[tuple[str, int], ...] = (("avif", 55), ("webp", 80), ("jpeg", 76))
    max_pixels: int = 100_000_000                      # refused from the header, before decoding
    max_bytes: int = 50 * MB                           # the upload API's product-image cap
    # libaom speed 0..10. 6 makes the fewest AVIF bytes per CPU-second worth having; 9 meets
    # the benchmark's time target but needs 18-29 % more bytes at equal quality (docs/renditions.md).
    avif_speed: int = RENDITION_AVIF_SPEED
    # jpegli, adaptive quantization off, + lossless progressive: fewer JPEG bytes than sharp
    # at equal quality at every width measured (docs/image-urls.md).
    jpeg_encoder: str = RENDITION_JPEG_ENCODER
    reserved_concurrency: int = 50                     # also the SQS event source's maximum
    log_retention_days: int = 365
    rejected_alarm_per_period: int = 25                # rejected originals per alarm period

    def __post_init__(self) -> None:
        try:
            self.settings()
        except SettingsError as exc:
            raise ConfigError(str(exc)) from exc
        _check_whole("renditions", self, ("rejected_alarm_per_period",), 1)
        _check_whole("renditions", self, ("log_retention_days",), 1, MAX_LOG_RETENTION_DAYS,
                     unit="of days ")
        # An SQS event source's maximum concurrency is 2..1000.
        _check_whole("renditions", self, ("reserved_concurrency",), 2, 1000)

    def settings(self) -> RenditionSettings:
        return RenditionSettings(
            processed_widths=self.processed_widths, thumbnail_widths=self.thumbnail_widths,
            formats=self.formats, quality=self.quality, max_pixels=self.max_pixels,
            max_bytes=self.max_bytes, avif_speed=self.avif_speed, jpeg_encoder=self.jpeg_encoder)

    def settings_json(self) -> str:
        """The rendition set as the function reads it (env var RENDITIONS_CONFIG)."""
        return self.settings().to_json()
