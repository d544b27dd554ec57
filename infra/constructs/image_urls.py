"""One image URL per original and size class, answered at the edge (docs/image-urls.md).

    GET /i/<path>?w=<css px>[&dpr=<n>]   (<path>: the original's key after products/images/original/)
      -> viewer-request CloudFront Function (edge_functions/image_url.js): picks format
         (Accept) and stored width (Sec-CH-Width, else w x Sec-CH-DPR / dpr), rewrites the URI
         to the stored rendition key, replaces the query string with S3's
         ``response-cache-control`` (the browser lifetime of an /i/ answer)
      -> cache (key: the rewritten URI and that parameter) -> origin group (the same S3 objects
         the direct rendition URLs serve)

What a reviewer can check here:
- the function's rendition table is generated from the pipeline's own ``Settings`` and
  ``keys.rendition_key`` at synth time (``rendition_table``): a width, a format or a key
  layout changed there reaches the edge on the next deploy, and nothing is restated here;
- the ``/i/*`` behaviour has its own function: CloudFront runs one viewer-request function
  per behaviour, and a request matches exactly one behaviour, so the default behaviour's
  deny function never sees ``/i/`` paths and this one never sees anything else. Merging the
  two would put the image logic on every denied path and the deny logic on every image;
- its cache policy (``image_url_cache_policy`` in the CDN) keys on the rewritten URI and the
  one query parameter the function sets (no header or cookie), so the hit ratio is not split
  by Accept, User-Agent or the hints, and keeps objects a day (``cdn.IMAGE_URL_TTL``: the
  Age CloudFront adds eats into the browser's week);
- the week-long ``Cache-Control`` a browser gets comes from S3 itself: the function asks for
  it with ``response-cache-control``, which S3 honours on a 200 only, so a 403 (rendition not
  written yet, not yet replicated) or a 5xx never carries it. The response headers policy adds
  ``Vary`` to every answer and ``Cache-Control: no-store`` only where the origin sent none
  (``image_url_headers``): a response headers policy applies whatever the status, so a
  long max-age there would be cached by browsers on errors too (docs/image-urls.md).
"""
from __future__ import annotations  # noqa: I001 (infra.config first: it puts lambda/ on sys.path)

import json
from pathlib import Path

from infra.config import RenditionSettings as Settings
from estate_handlers.renditions.imaging import CONTENT_TYPE
from estate_handlers.renditions.keys import ORIGINALS, rendition_key
from estate_handlers.renditions.settings import FALLBACK_FORMAT, FORMATS

IMAGE_URL_PREFIX = "i/"
IMAGE_URL_PATH_PATTERN = f"{IMAGE_URL_PREFIX}*"
IMAGE_URL_FUNCTION_SOURCE = Path(__file__).with_name("edge_functions") / "image_url.js"
# CloudFront Functions quota: at most 10 KB of code per function, whichever runtime.
MAX_FUNCTION_BYTES = 10 * 1024

# Every request header the body of an /i/ URL depends on; Origin too where the policy adds
# CORS headers (they are computed from it).
VARY = ("Accept", "Sec-CH-Width", "Sec-CH-DPR")
VARY_WITH_CORS = (*VARY, "Origin")
# A week, not the stored renditions' year-long "immutable": the stored key behind an /i/ URL
# changes when the configured widths change, and "immutable" would pin a browser to the old
# mapping for a year. A day of stale-while-revalidate keeps repeat views instant. S3 sets it on
# a 200 only (the function passes it as ORIGIN_CACHE_CONTROL_PARAMETER). Written without spaces
# or anything else a query string must escape: the function sets the parameter's value as it is,
# and it then reads the same to S3 whether or not CloudFront percent-encodes it on the way.
CACHE_CONTROL = "public,max-age=604800,stale-while-revalidate=86400"
ORIGIN_CACHE_CONTROL_PARAMETER = "response-cache-control"
# What the response headers policy adds where the answer has no Cache-Control of its own: S3's
# 403 and 5xx, CloudFront's own 5xx. A missing rendition may exist a minute later.
ERROR_CACHE_CONTROL = "no-store"


def image_url_headers(cors: bool) -> dict[str, dict]:
    """The custom headers of the /i/* behaviour's response headers policy: each one's value
    and whether it replaces the origin's (``override``). ``Vary`` always; ``Cache-Control``
    only where the answer has none, so S3's week on a 200 stays and an error gets no-store."""
    return {"Vary": {"value": ", ".join(VARY_WITH_CORS if cors else VARY), "override": True},
            "Cache-Control": {"value": ERROR_CACHE_CONTROL, "override": False}}


_MARK = "\x00"  # stands for <path> while the layout is read from keys.rendition_key


def rendition_table(settings: Settings) -> dict:
    """What the function needs of the rendition set: stored widths ascending, each with its
    key around ``<path>`` per format (from ``keys.rendition_key`` itself), and the formats it
    may pick by Accept, most preferred first (``FORMATS`` order), with the fallback apart."""
    widths = []
    for width in sorted(settings.widths):
        thumbnail = width in settings.thumbnail_widths
        keys = {}
        for fmt in settings.formats:
            before, after = rendition_key(ORIGINALS + _MARK, width, fmt, thumbnail).split(_MARK)
            keys[fmt] = ["/" + before, after]
        widths.append({"width": width, "keys": keys})
    preferred = [{"name": fmt, "type": CONTENT_TYPE[fmt]}
                 for fmt in FORMATS if fmt in settings.formats and fmt != FALLBACK_FORMAT]
    return {"widths": widths, "formats": preferred, "fallback": FALLBACK_FORMAT}


def image_url_code(settings: Settings) -> str:
    """The function's JavaScript with the rendition set of ``settings`` in it; raises when it
    would not fit CloudFront Functions' size quota (better at synth than at deploy)."""
    table = json.dumps(rendition_table(settings), separators=(",", ":"))
    # The declaration only: the comment that names the placeholder stays as it is.
    code = (IMAGE_URL_FUNCTION_SOURCE.read_text()
            .replace("var R = __RENDITIONS__;", f"var R = {table};")
            .replace("var CACHE_CONTROL = __CACHE_CONTROL__;",
                     f"var CACHE_CONTROL = {json.dumps(CACHE_CONTROL)};"))
    size = len(code.encode())
    if size > MAX_FUNCTION_BYTES:
        raise ValueError(f"image URL function is {size} bytes, over CloudFront Functions' "
                         f"{MAX_FUNCTION_BYTES}-byte quota: fewer widths or formats")
    return code
