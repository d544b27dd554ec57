"""Where an original's renditions and manifest live: a pure function of the original's key.

    products/images/original/<path>                     (the upload)
    products/images/processed/<path>/w<width>.<ext>     (each processed width)
    products/images/thumbnails/<path>/w<width>.<ext>    (each thumbnail width)
    products/images/processed/<path>/manifest.json      (what was made, and from what)

``<path>`` is the original key after ``products/images/original/``, file name and extension
included (``a.jpg`` and ``a.png`` never collide); ``<ext>`` is ``avif``, ``webp`` or
``jpg``; ``<width>`` is the configured width (the key exists even when the original is
narrower: the rendition is then the original's width, never upscaled). A storefront that
knows the original key computes every URL without a lookup.
"""
from __future__ import annotations

from estate_handlers.renditions.imaging import EXTENSION

ORIGINALS = "products/images/original/"
PROCESSED = "products/images/processed/"
THUMBNAILS = "products/images/thumbnails/"
MANIFEST_NAME = "manifest.json"


def is_original(key: str) -> bool:
    return key.startswith(ORIGINALS) and len(key) > len(ORIGINALS) and not key.endswith("/")


def _relative(original_key: str) -> str:
    if not is_original(original_key):
        raise ValueError(f"not an original: {original_key!r}")
    return original_key[len(ORIGINALS):]


def rendition_key(original_key: str, width: int, fmt: str, thumbnail: bool) -> str:
    prefix = THUMBNAILS if thumbnail else PROCESSED
    return f"{prefix}{_relative(original_key)}/w{width}.{EXTENSION[fmt]}"


def manifest_key(original_key: str) -> str:
    return f"{PROCESSED}{_relative(original_key)}/{MANIFEST_NAME}"
