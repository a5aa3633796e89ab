"""Reading a project's TOML files with one clear error for each way they can be unusable.

Why a helper: every reader (pyproject.toml, poetry.lock, uv.lock, uv.toml) must turn a
missing file, an unreadable one and a syntax error into an :class:`AuditError` that names
the file, never a tomlkit traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from .errors import AuditError

__all__ = ["array_of_tables", "read_toml", "table"]


def read_toml(path: Path, *, what: str, hint: str = "") -> dict[str, Any]:
    """The plain data of TOML file ``path`` (``what`` names it in messages: "poetry.lock")."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AuditError(f"{path}: no {what}{': ' + hint if hint else ''}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise AuditError(f"{path}: cannot read the {what}: {reason}") from None
    try:
        data = tomlkit.parse(text).unwrap()
    except (TOMLKitError, ValueError) as exc:
        raise AuditError(f"{path}: the {what} is not valid TOML: {exc}") from None
    if not isinstance(data, dict):  # pragma: no cover - tomlkit always gives a table
        raise AuditError(f"{path}: the {what} is not a TOML table")
    return data


def table(data: Any, key: str, *, path: Path, what: str) -> dict[str, Any]:
    """``data[key]`` as a table ({} when absent); an AuditError when it is something else."""
    value = data.get(key, {}) if isinstance(data, dict) else {}
    if not isinstance(value, dict):
        raise AuditError(f"{path}: {what} must be a table, not {type(value).__name__}")
    return value


def array_of_tables(data: Any, key: str, *, path: Path, what: str) -> list[dict[str, Any]]:
    value = data.get(key, []) if isinstance(data, dict) else []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise AuditError(f"{path}: {what} must be an array of tables")
    return value
