"""The documentation lives in the project: every relative link in README.md and docs/ resolves to a
file inside the repository, and the README points at the guides under docs/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def relative_links(page: Path) -> list[str]:
    return [target for target in _LINK.findall(page.read_text()) if not re.match(r"[a-z]+:", target)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves_inside_the_repository(page: Path) -> None:
    broken = []
    for target in relative_links(page):
        path = (page.parent / target.split("#", 1)[0]).resolve()
        if not path.is_relative_to(ROOT) or not path.exists():
            broken.append(target)
    assert broken == []


def test_the_readme_links_the_guides_and_no_file_outside_the_project() -> None:
    text = (ROOT / "README.md").read_text()
    for guide in ("docs/semantics.md", "docs/operations.md", "docs/transformations.md"):
        assert f"]({guide})" in text
    assert "../shared" not in text
    assert "](deploy/examples/transforms/plan_to_audiences.py)" in text
