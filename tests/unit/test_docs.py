"""The documentation lives in the project: the README is a short front page that points at the guides
under docs/, the guides are one mkdocs site (mkdocs.yml) whose nav lists every page, and every
relative link in README.md and docs/ resolves to a file inside the repository (and, into a page, to a
heading of it). `make docs` (`mkdocs build --strict`) checks the site's links again with mkdocs itself."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6} +(.+?) *#*$", re.MULTILINE)
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def relative_links(page: Path) -> list[str]:
    return [target for target in _LINK.findall(page.read_text()) if not re.match(r"[a-z]+:", target)]


def anchors(page: Path) -> set[str]:
    """The ids of a page's headings as mkdocs' toc extension makes them (its default slugify)."""
    text = _FENCE.sub("", page.read_text())
    ids = set()
    for heading in _HEADING.findall(text):
        plain = re.sub(r"[`*_]|\[([^]]*)\]\([^)]*\)", r"\1", heading)
        ids.add(re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", plain).strip().lower()))
    return ids


def nav_pages(nav: list[Any]) -> list[str]:
    pages: list[str] = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages.extend(nav_pages(value) if isinstance(value, list) else [value])
    return pages


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves_inside_the_repository(page: Path) -> None:
    broken = []
    for target in relative_links(page):
        path_part, _, fragment = target.partition("#")
        path = (page.parent / path_part).resolve() if path_part else page
        missing = not path.is_relative_to(ROOT) or not path.exists()
        if missing or (fragment and path.suffix == ".md" and fragment not in anchors(path)):
            broken.append(target)
    assert broken == []


def test_the_readme_is_a_short_front_page_that_links_every_guide() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 250
    assert "make run" in text
    assert "make test" in text
    for guide in sorted(DOCS.glob("*.md")):
        assert f"](docs/{guide.name})" in text, guide.name
    assert "../shared" not in text
    assert "](deploy/examples/transforms/plan_to_audiences.py)" in text


def test_every_docs_page_is_in_the_site_nav_and_the_nav_names_no_missing_page() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    listed = nav_pages(config["nav"])
    # index.md is the README, made the home page by the site's hook (docs/hooks/repository_links.py)
    assert listed[0] == "index.md"
    assert sorted(listed[1:]) == sorted(page.name for page in DOCS.glob("*.md"))
    assert len(set(listed)) == len(listed)
    assert not (DOCS / "index.md").exists()


def test_the_site_build_is_strict_about_links_and_pages() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert config["strict"] is True
    assert config["theme"]["name"] == "material"
    for check in ("omitted_files", "not_found", "absolute_links", "unrecognized_links", "anchors"):
        assert config["validation"][check] == "warn", check  # --strict makes every warning an error
    assert "mkdocs build --strict" in (ROOT / "Makefile").read_text()
    assert "make docs" in (ROOT / ".ci" / "run").read_text()
