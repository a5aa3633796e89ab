"""The pyproject.toml of a project directory, edited with tomlkit.

Every client's project helper (Poetry, uv, pdm) reads a pyproject once, edits it in place and
writes it back; tomlkit keeps the user's comments and formatting. This is that shared part.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import tomlkit
from tomlkit.items import Table

from ..errors import ConfigError

__all__ = ["PyprojectDocument"]


class PyprojectDocument:
    """Base of the project helpers: ``path`` is the project directory."""

    path: Path
    _doc: tomlkit.TOMLDocument | None = None

    @property
    def pyproject(self) -> Path:
        return self.path / "pyproject.toml"

    @property
    def doc(self) -> tomlkit.TOMLDocument:
        """The parsed pyproject.toml (read on first use)."""
        if self._doc is None:
            self.load()
        assert self._doc is not None
        return self._doc

    def load(self):  # type: ignore[no-untyped-def]
        """Read the existing pyproject.toml (comments and formatting are kept on save)."""
        if not self.pyproject.exists():
            raise ConfigError(f"{self.pyproject} does not exist: use create() first")
        self._doc = tomlkit.parse(self.pyproject.read_text(encoding="utf-8"))
        return self

    def save(self):  # type: ignore[no-untyped-def]
        self.pyproject.write_text(tomlkit.dumps(self.doc), encoding="utf-8")
        return self

    def _new_project(self, name: str, version: str, requires_python: str,
                     dependencies: Iterable[str]) -> tomlkit.TOMLDocument:
        """A fresh document (the current one, until saved) with a PEP 621 ``[project]``
        table; the project directory is created."""
        self.path.mkdir(parents=True, exist_ok=True)
        doc = tomlkit.document()
        project = tomlkit.table()
        project["name"] = name
        project["version"] = version
        project["requires-python"] = requires_python
        deps = tomlkit.array()
        for dep in dependencies:
            deps.append(dep)
        project["dependencies"] = deps
        doc["project"] = project
        self._doc = doc
        return doc

    def _tool(self, name: str) -> Table:
        """``[tool.<name>]``, created (under a header-less ``[tool]``) when missing."""
        tool = self.doc.setdefault("tool", tomlkit.table(is_super_table=True))
        return tool.setdefault(name, tomlkit.table())  # type: ignore[no-any-return]

    def _append_requirement(self, requirement: str) -> None:
        """Append a PEP 508 requirement to ``[project] dependencies``."""
        self.doc["project"].setdefault("dependencies", tomlkit.array()).append(requirement)
