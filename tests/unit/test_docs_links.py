"""The README and docs/*.md link to files that exist and to headings that exist, the way GitHub
renders them; and the README leads to every page under docs/ (a page nobody links is a page
nobody reads)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
# [text](target) or [text](target "title"); images (![alt](src)) are links to files too.
LINK = re.compile(r"\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_ANCHOR = re.compile(r"<a\s[^>]*(?:name|id)=\"([^\"]+)\"", re.IGNORECASE)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # https:, mailto:, …


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks: a `# comment` in a shell block is no heading."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its rendered text lower-cased, punctuation dropped (letters,
    digits, `_`, `-` and spaces stay), each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor a page offers; GitHub numbers repeated headings `x`, `x-1`, `x-2`, …"""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in prose_lines(text):
        found.update(HTML_ANCHOR.findall(line))
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every link in prose; inline code is not a link."""
    found = []
    for number, line in prose_lines(text):
        for match in LINK.finditer(re.sub(r"`[^`]*`(?!\])", "``", line)):
            found.append((number, match.group(1)))
    return found


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    problems = []
    for number, target in links(page.read_text()):
        if EXTERNAL.match(target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        where = f"{page.relative_to(root)}:{number}: {target}"
        if not resolved.exists():
            problems.append(f"{where}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved.read_text()):
            problems.append(f"{where}: no heading with anchor #{anchor} in {resolved.name}")
    return problems


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_and_anchor_resolves(page):
    assert broken_links(page) == []


def test_the_readme_links_every_docs_page():
    linked = {(README.parent / target.partition("#")[0]).resolve()
              for _, target in links(README.read_text()) if not EXTERNAL.match(target)}
    unlinked = [page.name for page in PAGES if page.resolve() not in linked]
    assert unlinked == [], "add a row to the README's 'Read more' table for each of these"


def test_there_are_docs_pages_to_check():
    assert len(PAGES) >= 10 and README.exists()


# --- the checker itself: it must find what GitHub would not resolve -------------------------

@pytest.mark.parametrize(("heading", "anchor"), [
    ("The estate (per environment)", "the-estate-per-environment"),
    ("PR review report (`tools/review/`, `make review`)", "pr-review-report-toolsreview-make-review"),
    ("CDN (`infra/constructs/edge_security.py`)", "cdn-infraconstructsedge_securitypy"),
    ("Adding a consumer — one path", "adding-a-consumer--one-path"),
    ("Erasure of a user's content: `python -m tools.erase`", "erasure-of-a-users-content-python--m-toolserase"),
    ("See [the gate](upload-gate.md) now", "see-the-gate-now"),
    ("Größe und Ärger", "größe-und-ärger"),
])
def test_slug_matches_githubs(heading, anchor):
    assert slug(heading) == anchor


def test_repeated_headings_are_numbered_and_code_blocks_are_not_headings():
    text = "# Notes\n\n## Setup\n\n```bash\n# not a heading\n```\n\n## Setup\n## Setup\n"
    assert anchors(text) == {"notes", "setup", "setup-1", "setup-2"}


def test_a_missing_file_and_a_missing_anchor_are_reported(tmp_path):
    (tmp_path / "other.md").write_text("# Other\n\n## Real part\n")
    page = tmp_path / "page.md"
    page.write_text("# Page\n\n"
                    "[ok](other.md#real-part) [here](#page) [site](https://example.com/x#y)\n"
                    "[gone](missing.md) [bad](other.md#unreal-part) [self](#nowhere)\n"
                    "`[code](not-a-link.md)`\n\n```\n[fenced](not-a-link-either.md)\n```\n")
    assert broken_links(page, root=tmp_path) == [
        "page.md:4: missing.md: no such file",
        "page.md:4: other.md#unreal-part: no heading with anchor #unreal-part in other.md",
        "page.md:4: #nowhere: no heading with anchor #nowhere in page.md",
    ]
