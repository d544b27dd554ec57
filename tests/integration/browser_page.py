"""The browser side of the upload tests: Debian's headless Chromium (driven by Playwright, no
browser download), the upload page it loads (``browser/upload_page.html``) and the bytes that
page uploads. The fixtures that start them are in conftest.py (one browser per session)."""
from __future__ import annotations

import http.server
import os
from pathlib import Path

# Debian's package by default; CI on GitHub's Ubuntu runners points this at their preinstalled
# Google Chrome (Ubuntu's apt chromium is only a snap stub).
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
PAGE_DIR = Path(__file__).parent / "browser"
# Flags for a quiet, offline, throw-away browser in a container (no sandbox as root).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]


def page_bytes(size: int) -> bytes:
    """The bytes ``testBytes(size)`` of the page makes (a pattern that repeats every 256)."""
    period = bytes((i * 31 + 7) & 255 for i in range(256))
    return (period * (size // 256 + 1))[:size]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass
