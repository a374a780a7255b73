#!/usr/bin/env python3
"""Check the relative links and images in README.md, CONTRIBUTING.md and docs/src.

Every relative link or image must point at a file or folder that exists. An
`#anchor` on a link into the book (a page under docs/src/) must be a heading
id in the built HTML (docs/book/), so run `mdbook build docs` first:
scripts/docs-check does. An anchor into another Markdown file (README.md,
SECURITY.md, ...) must match one of its headings as GitHub names them.

Prints one line per broken link, `FILE:LINE: LINK: why`, and exits 1 if there
is any. Standard library only.
"""

import html
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK_SRC = ROOT / "docs" / "src"
BOOK_OUT = ROOT / "docs" / "book"

# Inline links and images: [text](target "title") and ![alt](target). The text
# may hold one level of brackets ([`x`] or an image inside a link).
INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
# Reference definitions: [label]: target
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
# Raw HTML: <a href="..."> and <img src="...">
HTML_ATTR = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*\"([^\"]+)\"", re.IGNORECASE)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
FENCE = re.compile(r"^\s{0,3}(```+|~~~+)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ID = re.compile(r"\bid=\"([^\"]+)\"")


def markdown_files():
    files = [ROOT / "README.md", ROOT / "CONTRIBUTING.md"]
    files += sorted(BOOK_SRC.rglob("*.md"))
    return [f for f in files if f.exists()]


def prose_lines(text, blank_code_spans=True):
    """Yield (line number, line) outside fenced code, code spans blanked."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        opened = FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            continue
        if blank_code_spans:
            line = CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)
        yield number, line


def links(path):
    """Yield (line number, target) for each link, image and reference definition.

    Lines in fenced code become empty, so a link's text may wrap onto the next
    line and still be found, and line numbers still count from the file.
    """
    text = path.read_text(encoding="utf-8")
    lines = [""] * len(text.splitlines())
    for number, line in prose_lines(text):
        lines[number - 1] = line
        match = REFERENCE.match(line)
        if match:
            yield number, match.group(1)
    prose = "\n".join(lines)
    for pattern in (INLINE, HTML_ATTR):
        for match in pattern.finditer(prose):
            number = prose.count("\n", 0, match.start(1)) + 1
            yield number, html.unescape(match.group(1))


def github_slug(heading):
    """The anchor GitHub gives a Markdown heading (before de-duplication)."""
    heading = re.sub(r"`([^`]*)`", r"\1", heading)
    heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    heading = re.sub(r"<[^>]+>", "", heading)
    slug = []
    for ch in heading.strip().lower():
        if ch.isalnum() or ch in "-_":
            slug.append(ch)
        elif ch == " ":
            slug.append("-")
    return "".join(slug)


def markdown_anchors(path, cache={}):
    if path not in cache:
        seen = {}
        anchors = set()
        for _, line in prose_lines(path.read_text(encoding="utf-8"), blank_code_spans=False):
            match = HEADING.match(line)
            if not match:
                continue
            slug = github_slug(match.group(2))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
        cache[path] = anchors
    return cache[path]


def html_ids(page, cache={}):
    if page not in cache:
        cache[page] = set(HTML_ID.findall(page.read_text(encoding="utf-8")))
    return cache[page]


def in_book(path):
    try:
        path.relative_to(BOOK_SRC)
        return True
    except ValueError:
        return False


def check(source, target):
    """Return why `target`, linked from `source`, is broken, or None."""
    if SCHEME.match(target) or target.startswith("//"):
        return None  # another site: not ours to check
    path_part, _, anchor = target.partition("#")
    path_part = path_part.split("?", 1)[0]
    if path_part:
        if path_part.startswith("/"):
            base = BOOK_SRC if in_book(source) else ROOT
            resolved = base / path_part.lstrip("/")
        else:
            resolved = source.parent / path_part
        resolved = Path(os.path.normpath(resolved))
        if not resolved.exists():
            return f"no such file: {os.path.relpath(resolved, ROOT)}"
    else:
        resolved = source
    if not anchor:
        return None
    if resolved.is_dir() or resolved.suffix != ".md":
        return None  # an anchor into a source file or a folder: nothing to check
    if in_book(resolved):
        page = BOOK_OUT / resolved.relative_to(BOOK_SRC).with_suffix(".html")
        if not page.exists():
            return (f"{os.path.relpath(page, ROOT)} was not built "
                    "(is the page in docs/src/SUMMARY.md? run mdbook build docs)")
        if anchor not in html_ids(page):
            return f"no heading id `{anchor}` in {os.path.relpath(page, ROOT)}"
        return None
    if anchor not in markdown_anchors(resolved):
        return f"no heading `#{anchor}` in {os.path.relpath(resolved, ROOT)}"
    return None


def main():
    if not BOOK_OUT.is_dir():
        print("check-links: docs/book/ is missing; run `mdbook build docs` first", file=sys.stderr)
        return 1
    broken = 0
    checked = 0
    for source in markdown_files():
        for number, target in links(source):
            checked += 1
            why = check(source, target)
            if why:
                broken += 1
                print(f"{os.path.relpath(source, ROOT)}:{number}: broken link `{target}`: {why}")
    if broken:
        print(f"check-links: {broken} broken link(s) of {checked}", file=sys.stderr)
        return 1
    print(f"check-links: {checked} links ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
