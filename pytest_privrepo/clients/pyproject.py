"""The pyproject.toml of a project directory, edited with tomlkit.

Every client's project helper (Poetry, uv, pdm) reads a pyproject once, edits it in place and
writes it back; tomlkit keeps the user's comments and formatting. This is that shared part.
"""

from __future__ import annotations

from pathlib import Path

import tomlkit

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
