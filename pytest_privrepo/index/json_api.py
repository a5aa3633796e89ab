"""PyPI's JSON API (``/pypi/<name>/json``, ``/pypi/<name>/<version>/json``), for the stand-in.

Why: Poetry's PyPI repository does not read dependencies from the simple API. Poetry 1.8.5
and 2.5.1 (``repositories/pypi_repository.py``, ``_get_release_info``) fetch
``https://pypi.org/pypi/<name>/<version>/json`` and take ``info.requires_dist``,
``info.requires_python``, ``info.summary``, ``info.yanked`` and the ``urls`` list (filename,
``packagetype``, ``digests.sha256``); pdm does too with ``pypi.json_api``. Fields follow
Warehouse's documented JSON API (https://docs.pypi.org/api/json/); the ones no client of
ours reads are left out rather than filled with made-up values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from email.parser import BytesHeaderParser
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

if TYPE_CHECKING:
    from .index import StoredFile

__all__ = ["render_project", "render_release"]


def _meta(stored: StoredFile) -> dict[str, object]:
    parsed = BytesHeaderParser().parsebytes(stored.dist.metadata or b"")
    return {
        "name": parsed.get("Name", stored.dist.name),
        "version": stored.version,
        "summary": parsed.get("Summary"),
        "requires_dist": parsed.get_all("Requires-Dist") or None,
        "requires_python": stored.dist.requires_python,
    }


def _file(stored: StoredFile, url: str) -> dict[str, object]:
    return {
        "filename": stored.filename,
        "url": url,
        "packagetype": stored.dist.filetype,
        "python_version": stored.dist.pyversion,
        "requires_python": stored.dist.requires_python,
        "size": stored.dist.size,
        "digests": {"sha256": stored.sha256},
        "upload_time_iso_8601": stored.upload_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "yanked": stored.yanked is not None,
        "yanked_reason": stored.yanked or None,
    }


def _key(version: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def _info(files: Sequence[StoredFile], version: str) -> dict[str, object]:
    of_version = [f for f in files if f.version == version]
    wheel_first = sorted(of_version, key=lambda f: f.dist.filetype != "bdist_wheel")
    info = _meta(wheel_first[0])
    yanked = all(f.yanked is not None for f in of_version)
    info["yanked"] = yanked
    info["yanked_reason"] = (of_version[0].yanked or None) if yanked else None
    return info


def render_project(files: Sequence[StoredFile], url_of: Callable[[StoredFile], str]) -> bytes:
    """``/pypi/<name>/json``: the newest version that is not yanked (else the newest) as
    ``info``, its files as ``urls``, every version's files as ``releases``."""
    versions = sorted({f.version for f in files}, key=_key)
    live = [v for v in versions if any(f.version == v and f.yanked is None for f in files)]
    latest = (live or versions)[-1]
    body = {
        "info": _info(files, latest),
        "urls": [_file(f, url_of(f)) for f in files if f.version == latest],
        "releases": {v: [_file(f, url_of(f)) for f in files if f.version == v] for v in versions},
    }
    return json.dumps(body).encode()


def render_release(files: Sequence[StoredFile], version: str,
                   url_of: Callable[[StoredFile], str]) -> bytes | None:
    """``/pypi/<name>/<version>/json``, or None when no file has that version."""
    try:
        wanted = str(Version(version))
    except InvalidVersion:
        wanted = version
    of_version = [f for f in files if f.version == wanted]
    if not of_version:
        return None
    body = {"info": _info(files, wanted), "urls": [_file(f, url_of(f)) for f in of_version]}
    return json.dumps(body).encode()
