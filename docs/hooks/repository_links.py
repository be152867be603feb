"""mkdocs hooks (mkdocs.yml, `hooks:`) that let the site use the repository's own Markdown as it is.

The README is the site's home page (index.md): its links into docs/ are made relative to the site.
A link to a file of the repository outside docs/ (a deploy/ file, an example) gets a copy of that file
in the site under _repo/, so it works in the site as it does on a forge, and `mkdocs build --strict`
checks those links as it checks the links between pages. A link to a path that does not exist is left
as written, and mkdocs reports it.
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files, InclusionLevel

REPOSITORY_FILES = "_repo"
HOME = "index.md"
_LINK = re.compile(r"(\]\()([^)\s]+)(\))")
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:")


def _root(config: Any) -> Path:
    return Path(config.config_file_path).resolve().parent


def _source(file: File, config: Any) -> Path:
    if file.src_uri == HOME and file.generated_by == __name__:
        return _root(config) / "README.md"
    return Path(str(file.abs_src_path)).resolve()


def _site_path(target: str, source: Path, config: Any) -> str | None:
    """Where a link's file is in the site (a path relative to docs/), or None when it is not in the
    repository, does not exist, or is not a file path at all."""
    if _SCHEME.match(target) or target.startswith(("#", "/")):
        return None
    path = target.split("#", 1)[0]
    resolved = (source.parent / path).resolve()
    root, docs = _root(config), Path(config.docs_dir).resolve()
    if resolved == root / "README.md":
        return HOME
    if resolved.is_relative_to(docs):
        return resolved.relative_to(docs).as_posix()
    if resolved.is_file() and resolved.is_relative_to(root):
        return f"{REPOSITORY_FILES}/{resolved.relative_to(root).as_posix()}"
    return None


def on_files(files: Files, config: Any) -> Files:
    readme = _root(config) / "README.md"
    home = File.generated(config, HOME, abs_src_path=str(readme))
    home.generated_by = __name__
    files.append(home)
    for page in [f for f in files if f.is_documentation_page()]:
        source = _source(page, config)
        for _, target, _ in _LINK.findall(source.read_text(encoding="utf-8")):
            site_path = _site_path(target, source, config)
            if (
                site_path is None
                or not site_path.startswith(f"{REPOSITORY_FILES}/")
                or files.get_file_from_path(site_path)
            ):
                continue
            original = _root(config) / site_path.removeprefix(f"{REPOSITORY_FILES}/")
            files.append(
                File.generated(config, site_path, abs_src_path=str(original), inclusion=InclusionLevel.NOT_IN_NAV)
            )
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    source = _source(page.file, config)
    here = posixpath.dirname(page.file.src_uri)

    def relink(match: re.Match[str]) -> str:
        target = match.group(2)
        site_path = _site_path(target, source, config)
        if site_path is None:
            return match.group(0)
        fragment = target[len(target.split("#", 1)[0]) :]
        relative = os.path.relpath(site_path, here or ".").replace(os.sep, "/")
        return f"{match.group(1)}{relative}{fragment}{match.group(3)}"

    return _LINK.sub(relink, markdown)
