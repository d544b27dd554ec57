"""Which web origins may use the assets bucket directly (its CORS rules)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .common import ConfigError, _check_whole

_ORIGIN = re.compile(r"(https://[a-z0-9.-]+|http://(localhost|127\.0\.0\.1))(:\d{1,5})?")


@dataclass(frozen=True)
class BucketCorsConfig:
    """Which web origins may upload to and download from the assets bucket directly
    (presigned POST/PUT/multipart and GET), and how long a browser caches a preflight."""

    allowed_origins: tuple[str, ...] = ()
    max_age_seconds: int = 3000

    def __post_init__(self) -> None:
        # One hour at most: a preflight cache outliving a removed origin keeps it allowed.
        _check_whole("assets_cors", self, ("max_age_seconds",), 0, 3600, unit="of seconds ")
        if isinstance(self.allowed_origins, str):
            raise ConfigError("assets_cors: allowed_origins must be a tuple of origins, "
                              f"not one string ({self.allowed_origins!r})")
        for origin in self.allowed_origins:
            if not isinstance(origin, str) or not _ORIGIN.fullmatch(origin):
                raise ConfigError(
                    f"assets_cors: allowed_origins '{origin}' is not an origin like "
                    "https://shop.example (no path, no wildcard; http:// only for localhost)")
