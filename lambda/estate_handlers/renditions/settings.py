"""The rendition set, as the function reads it (env var ``RENDITIONS_CONFIG``, JSON).

The CDK app writes it from ``infra.config.RenditionsConfig`` (validated there too); the
function validates again so a hand-edited environment cannot make it encode nonsense.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

FORMATS = ("avif", "webp", "jpeg")  # the order outputs are listed in the manifest
FALLBACK_FORMAT = "jpeg"            # always produced: every browser decodes it
CONFIG_ENV = "RENDITIONS_CONFIG"
MIN_WIDTH, MAX_WIDTH = 16, 8192
# libaom's speed (0 slowest .. 10 fastest). 6 is Pillow's default and, at equal perceptual
# quality, the fewest bytes per CPU-second worth having: imaging.py, "Encoder effort".
AVIF_SPEED = 6
MIN_AVIF_SPEED, MAX_AVIF_SPEED = 0, 10
# The JPEG fallback's encoder. "jpegli-aq-off": jpegli (libjxl's JPEG encoder, BSD-3-Clause, the
# library in pyjpegli's wheel) with its adaptive quantization off (``jpegli.py``), its scans
# then made progressive and Huffman-optimized losslessly by mozjpeg's jpegtran
# (mozjpeg-lossless-optimization, BSD-3-Clause): 17-32 % fewer bytes than sharp's JPEG at equal
# SSIMULACRA2, at every photo and width measured, for the same CPU. "jpegli" is pyjpegli's
# default (adaptive quantization on: 9-16 % fewer, but only 0-10 % on the small fur photo),
# "libjpeg-turbo" Pillow's, optimized and progressive (0-3 % either side of sharp); both kept
# for comparison and as ways back (bench/bench_anchor.py, docs/image-urls.md).
JPEG_ENCODERS = ("jpegli-aq-off", "jpegli", "libjpeg-turbo")
JPEG_ENCODER = "jpegli-aq-off"


class SettingsError(ValueError):
    """The rendition config is invalid; the message names the field."""


@dataclass(frozen=True)
class Settings:
    processed_widths: tuple[int, ...] = (2048, 1200)
    thumbnail_widths: tuple[int, ...] = (600, 300)
    formats: tuple[str, ...] = FORMATS
    quality: tuple[tuple[str, int], ...] = (("avif", 55), ("webp", 80), ("jpeg", 76))
    max_pixels: int = 100_000_000
    max_bytes: int = 50 * 1024 * 1024
    avif_speed: int = AVIF_SPEED
    jpeg_encoder: str = JPEG_ENCODER

    def __post_init__(self) -> None:
        try:  # one canonical order, so equal settings compare (and digest) equal
            object.__setattr__(self, "quality", tuple(sorted(dict(self.quality).items())))
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"renditions: quality must be (format, value) pairs: {exc}") from exc
        for name in ("processed_widths", "thumbnail_widths"):
            widths = getattr(self, name)
            if not isinstance(widths, tuple) or not all(
                    isinstance(w, int) and not isinstance(w, bool) and MIN_WIDTH <= w <= MAX_WIDTH
                    for w in widths):
                raise SettingsError(f"renditions: {name} must be whole numbers in "
                                    f"{MIN_WIDTH}..{MAX_WIDTH} (got {widths!r})")
        widths = self.widths
        if not widths:
            raise SettingsError("renditions: processed_widths and thumbnail_widths are both empty")
        if len(set(widths)) != len(widths):
            raise SettingsError(f"renditions: widths must be distinct across processed_widths "
                                f"and thumbnail_widths (got {widths!r})")
        if not self.formats or len(set(self.formats)) != len(self.formats) \
                or not set(self.formats) <= set(FORMATS):
            raise SettingsError(f"renditions: formats must be distinct values of {FORMATS} "
                                f"(got {self.formats!r})")
        if FALLBACK_FORMAT not in self.formats:
            raise SettingsError(f"renditions: formats must include {FALLBACK_FORMAT!r}, the "
                                "fallback every browser decodes")
        quality = dict(self.quality)
        for fmt in self.formats:
            q = quality.get(fmt)
            if not isinstance(q, int) or isinstance(q, bool) or not 1 <= q <= 100:
                raise SettingsError(f"renditions: quality of {fmt} must be a whole number in "
                                    f"1..100 (got {q!r})")
        for name, low in (("max_pixels", 1), ("max_bytes", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise SettingsError(f"renditions: {name} must be a whole number >= {low} "
                                    f"(got {value!r})")
        speed = self.avif_speed
        if not isinstance(speed, int) or isinstance(speed, bool) \
                or not MIN_AVIF_SPEED <= speed <= MAX_AVIF_SPEED:
            raise SettingsError(f"renditions: avif_speed must be a whole number in "
                                f"{MIN_AVIF_SPEED}..{MAX_AVIF_SPEED} (got {speed!r})")
        if self.jpeg_encoder not in JPEG_ENCODERS:
            raise SettingsError(f"renditions: jpeg_encoder must be one of {JPEG_ENCODERS} "
                                f"(got {self.jpeg_encoder!r})")

    @property
    def widths(self) -> tuple[int, ...]:
        """Every width, largest first (the order renditions cascade in)."""
        return tuple(sorted((*self.processed_widths, *self.thumbnail_widths), reverse=True))

    def quality_of(self, fmt: str) -> int:
        return dict(self.quality)[fmt]

    def encoder_overrides(self, fmt: str) -> dict:
        """Encoder options this config sets for ``fmt`` beyond its quality."""
        if fmt == "avif":
            return {"speed": self.avif_speed}
        return {"encoder": self.jpeg_encoder} if fmt == "jpeg" else {}

    def to_json(self) -> str:
        return json.dumps({
            "processed_widths": list(self.processed_widths),
            "thumbnail_widths": list(self.thumbnail_widths),
            "formats": list(self.formats),
            "quality": dict(self.quality),
            "max_pixels": self.max_pixels,
            "max_bytes": self.max_bytes,
            "avif_speed": self.avif_speed,
            "jpeg_encoder": self.jpeg_encoder,
        }, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> Settings:
        try:
            data = json.loads(raw)
            return cls(
                processed_widths=tuple(data["processed_widths"]),
                thumbnail_widths=tuple(data["thumbnail_widths"]),
                formats=tuple(data["formats"]),
                quality=tuple(sorted(dict(data["quality"]).items())),
                max_pixels=data["max_pixels"],
                max_bytes=data["max_bytes"],
                avif_speed=data["avif_speed"],
                jpeg_encoder=data["jpeg_encoder"],
            )
        except (ValueError, KeyError, TypeError) as exc:
            if isinstance(exc, SettingsError):
                raise
            raise SettingsError(f"{CONFIG_ENV} is not a valid rendition config: {exc}") from exc
