"""The documentation holds together: every relative link and anchor in the repository's Markdown
resolves, nothing cites a document outside the repository, and the README stays short."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path, PurePosixPath

import pytest

# The repository root, wherever in tests/ this file sits.
ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").exists())
README_MAX_LINES = 200

# Citations of documents the repository does not hold (a design or style guide kept elsewhere).
OUTSIDE_CITATION = re.compile(r"DESIGN §|DESIGN\.md|STYLE\.md|\.\./shared\b")

_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
# `](target)` of an inline link or image (the text before it may span lines), and
# `[label]: target` of a reference definition.
_INLINE_TARGET = re.compile(r"\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_TARGET = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]*<?(\S+?)>?(?:[ \t].*)?$", re.MULTILINE)
_HTML_ANCHOR = re.compile(r"<a\s[^>]*(?:name|id)=\"([^\"]+)\"", re.IGNORECASE)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
# A README section cited by name in code or docs: README "Privacy", (README, "Time zones").
README_SECTION = re.compile(r"README(?:\.md)?(?:'s)?,?\s+\"([^\"]+)\"")


@cache
def tracked_files() -> frozenset[str]:
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return frozenset(name for name in listing.split("\0") if name and (ROOT / name).exists())


def tracked_markdown() -> list[str]:
    return sorted(name for name in tracked_files() if name.endswith(".md"))


def tracked_directories() -> frozenset[str]:
    return frozenset(
        str(parent) for name in tracked_files() for parent in PurePosixPath(name).parents
    )


def prose_lines(text: str) -> list[str]:
    """The lines of a Markdown text outside fenced code blocks (those stay, blanked)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            lines.append("")
        else:
            lines.append("" if fenced else line)
    return lines


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text (no link targets, no Markdown marks) in
    lower case, without punctuation but `-` and `_`, spaces made `-`."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def anchors(name: str) -> frozenset[str]:
    return heading_anchors((ROOT / name).read_text(encoding="utf-8"))


def heading_anchors(text: str) -> frozenset[str]:
    """Every anchor of a Markdown text, numbered as GitHub numbers repeated headings."""
    found: set[str] = set(_HTML_ANCHOR.findall(text))
    seen: dict[str, int] = {}
    for line in prose_lines(text):
        match = _HEADING.match(line)
        if not match:
            continue
        slug = github_slug(match.group(1))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return frozenset(found)


def link_targets(text: str) -> list[str]:
    prose = _CODE_SPAN.sub("", "\n".join(prose_lines(text)))
    return _INLINE_TARGET.findall(prose) + _REFERENCE_TARGET.findall(prose)


def broken_links(name: str) -> list[str]:
    """Each relative link of a tracked Markdown file that leads nowhere, with the reason."""
    broken = []
    here = PurePosixPath(name).parent
    for target in link_targets((ROOT / name).read_text(encoding="utf-8")):
        if not target or _SCHEME.match(target) or target.startswith("//"):
            continue  # a web address: not this repository's to check
        path, _, anchor = target.partition("#")
        if path.startswith("/"):
            broken.append(f"{target}: absolute path (GitHub reads it from the site's root)")
            continue
        resolved = str(PurePosixPath(*_normalised((here / path).parts))) if path else name
        if resolved not in tracked_files() and resolved not in tracked_directories():
            broken.append(f"{target}: no tracked file {resolved}")
        elif anchor and not resolved.endswith(".md"):
            broken.append(f"{target}: an anchor in a file that is not Markdown")
        elif anchor and anchor not in anchors(resolved):
            broken.append(f"{target}: {resolved} has no heading with anchor #{anchor}")
    return broken


def _normalised(parts: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for part in parts:
        if part == "..":
            if not out:
                return ["..", "(outside the repository)"]
            out.pop()
        elif part not in (".", ""):
            out.append(part)
    return out or ["."]


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("Connecting Power BI or Tableau", "connecting-power-bi-or-tableau"),
        ("The `fct_plays` fact (one row per play)", "the-fct_plays-fact-one-row-per-play"),
        ("Time zones", "time-zones"),
        ("Loading: the API, the privacy export", "loading-the-api-the-privacy-export"),
        ("[Figures](docs/figures.md) ▸ import", "figures--import"),
    ],
)
def test_headings_get_githubs_anchors(heading: str, slug: str) -> None:
    assert github_slug(heading) == slug


def test_the_checks_see_links_and_repeated_headings() -> None:
    text = "# A\n\n## A\n\n```\n[not](a-link.md)\n```\n`[nor](this.md)` [but](this.md#a-1)\n"
    assert link_targets(text) == ["this.md#a-1"]
    assert heading_anchors(text) == {"a", "a-1"}


def test_there_is_markdown_to_check() -> None:
    names = tracked_markdown()
    assert "README.md" in names
    assert any(name.startswith("docs/") for name in names)


@pytest.mark.parametrize("name", tracked_markdown())
def test_every_relative_link_and_anchor_resolves(name: str) -> None:
    broken = broken_links(name)
    assert not broken, f"{name}: " + "; ".join(broken)


def test_nothing_cites_a_document_outside_the_repository() -> None:
    this_file = str(Path(__file__).resolve().relative_to(ROOT))
    citations = []
    for name in sorted(tracked_files()):
        if name == this_file:
            continue
        content = (ROOT / name).read_bytes()
        if b"\0" in content:
            continue  # pictures and other binary files
        for number, line in enumerate(content.decode("utf-8", "replace").splitlines(), 1):
            if OUTSIDE_CITATION.search(line):
                citations.append(f"{name}:{number}: {line.strip()}")
    assert not citations, "cites a document outside the repository:\n" + "\n".join(citations)


def test_every_cited_readme_section_exists() -> None:
    this_file = str(Path(__file__).resolve().relative_to(ROOT))
    sections = anchors("README.md")
    missing = []
    for name in sorted(tracked_files()):
        content = (ROOT / name).read_bytes()
        if name == this_file or b"\0" in content:
            continue
        text = content.decode("utf-8", "replace")
        for match in README_SECTION.finditer(text):
            if github_slug(match.group(1)) not in sections:
                number = text.count("\n", 0, match.start()) + 1
                missing.append(f"{name}:{number}: {match.group(0)}")
    assert not missing, "cites a README section that does not exist:\n" + "\n".join(missing)


def test_the_readme_stays_short() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines (at most {README_MAX_LINES}): move detail into docs/"
    )
