"""The simple repository API: PEP 503 HTML and PEP 691 JSON pages, and content negotiation.

Pages are rendered once per change and kept as bytes: a busy test suite asks for the same
project page thousands of times, and an index that rescans a folder per request (as
pypiserver does) gets slower with every package it holds.

File URLs are relative (``../../files/<project>/<filename>``), which PEP 503 and PEP 691 allow
and every client resolves against the page URL. The same page then works whether the client
reached the server as ``localhost``, ``127.0.0.1`` or ``[::1]``, and under any path prefix.
"""

from __future__ import annotations

import functools
import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

from packaging.version import InvalidVersion, Version
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

__all__ = [
    "API_VERSION",
    "MIME_JSON",
    "MIME_HTML",
    "MIME_TEXT_HTML",
    "Features",
    "FileEntry",
    "negotiate",
    "negotiate_header",
    "render_project_html",
    "render_project_json",
    "render_root_html",
    "render_root_json",
]

#: Simple API version served: 1.1 covers PEP 700 (versions, size, upload-time).
API_VERSION = "1.1"
MIME_JSON = "application/vnd.pypi.simple.v1+json"
MIME_HTML = "application/vnd.pypi.simple.v1+html"
MIME_TEXT_HTML = "text/html"

# Server order breaks ties between equally acceptable types (as Warehouse does): a client
# that sends */* or nothing gets plain HTML, the form every client understands.
_OFFERS: tuple[str, ...] = (MIME_TEXT_HTML, MIME_HTML, MIME_JSON)
_FORMAT_ALIASES = {
    "json": MIME_JSON,
    "html": MIME_HTML,
    MIME_JSON: MIME_JSON,
    MIME_HTML: MIME_HTML,
    MIME_TEXT_HTML: MIME_TEXT_HTML,
}


def negotiate(accept: MIMEAccept, format_override: str | None = None) -> str:
    """Pick the response type from ``?format=`` or the Accept header's q-values.

    Never fails: when nothing offered is acceptable the answer is text/html, like Warehouse
    (which never sends 406).
    """
    if format_override:
        chosen = _FORMAT_ALIASES.get(format_override.strip().lower())
        if chosen:
            return chosen
    if not accept:
        return MIME_TEXT_HTML
    best_q = 0.0
    best = None
    for offer in _OFFERS:  # server order wins ties
        q = accept.quality(offer)
        if q > best_q:
            best_q, best = q, offer
    return best or MIME_TEXT_HTML


@functools.lru_cache(maxsize=256)
def negotiate_header(accept: str | None, format_override: str | None = None) -> str:
    """:func:`negotiate` for the raw ``Accept`` header value, remembered per value.

    A client sends the same Accept header with every page request (uv's, pip's), and
    parsing it into q-values was a tenth of a page request's cost in the server
    (bench/README.md, issue 15); the answer depends on nothing but the two strings.
    """
    return negotiate(parse_accept_header(accept, MIMEAccept), format_override)


class Features(Protocol):
    """What a page may show (a :class:`~pytest_privrepo.index.behaviour.Behaviour` is one)."""

    @property
    def pep658(self) -> bool: ...
    @property
    def yanked(self) -> bool: ...
    @property
    def upload_time(self) -> bool: ...
    @property
    def empty_requires_python(self) -> bool: ...


@dataclass(frozen=True)
class _Everything:
    pep658: bool = True
    yanked: bool = True
    upload_time: bool = True
    empty_requires_python: bool = False


_ALL = _Everything()


@dataclass(frozen=True)
class FileEntry:
    """What a project page says about one file."""

    filename: str
    url: str  # relative to the project page
    sha256: str
    size: int
    upload_time: datetime
    requires_python: str | None = None
    #: None: not yanked; "" : yanked without reason; text: yanked with that reason
    yanked: str | None = None
    metadata_sha256: str | None = None
    version: str | None = None


def _upload_time(value: datetime) -> str:
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _sorted_versions(versions: Iterable[str]) -> list[str]:
    def key(v: str) -> tuple[int, Version | str]:
        try:
            return (0, Version(v))
        except InvalidVersion:  # real files may carry legacy versions
            return (1, v)

    return sorted(set(versions), key=key)  # type: ignore[arg-type]


def render_root_html(names: Sequence[tuple[str, str]]) -> bytes:
    """Root page; ``names`` are (display name, normalised name) pairs."""
    links = "\n".join(
        f'    <a href="{html.escape(norm)}/">{html.escape(display)}</a><br/>'
        for display, norm in names
    )
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        "    <title>Simple index</title>\n  </head>\n  <body>\n"
        f"{links}\n  </body>\n</html>\n"
    ).encode()


def render_root_json(names: Sequence[tuple[str, str]]) -> bytes:
    body = {
        "meta": {"api-version": API_VERSION},
        "projects": [{"name": display} for display, _ in names],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def render_project_html(name: str, files: Sequence[FileEntry],
                        features: Features | None = None) -> bytes:
    """PEP 503 page: one anchor per file with hash, requires-python, yanked and metadata
    (each as far as ``features``, the index's behaviour, offers them)."""
    features = features or _ALL
    lines = []
    for f in files:
        attrs = [f'href="{html.escape(f.url)}#sha256={f.sha256}"']
        if f.requires_python:
            attrs.append(f'data-requires-python="{html.escape(f.requires_python)}"')
        elif features.empty_requires_python:
            attrs.append('data-requires-python=""')
        if f.yanked is not None and features.yanked:
            attrs.append(f'data-yanked="{html.escape(f.yanked)}"')
        if f.metadata_sha256 and features.pep658:
            value = f"sha256={f.metadata_sha256}"
            attrs.append(f'data-core-metadata="{value}"')
            attrs.append(f'data-dist-info-metadata="{value}"')
        lines.append(f"    <a {' '.join(attrs)}>{html.escape(f.filename)}</a><br/>")
    title = html.escape(name)
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        f"    <title>Links for {title}</title>\n  </head>\n  <body>\n"
        f"    <h1>Links for {title}</h1>\n" + "\n".join(lines) + "\n  </body>\n</html>\n"
    ).encode()


def render_project_json(name: str, files: Sequence[FileEntry],
                        features: Features | None = None) -> bytes:
    """PEP 691 + PEP 700 page (as far as ``features`` offers metadata, yanking, times)."""
    features = features or _ALL
    out_files = []
    for f in files:
        metadata: dict[str, str] | bool = (
            {"sha256": f.metadata_sha256} if f.metadata_sha256 and features.pep658 else False
        )
        entry: dict[str, object] = {
            "filename": f.filename,
            "url": f.url,
            "hashes": {"sha256": f.sha256},
            "requires-python": f.requires_python,
            "core-metadata": metadata,
            "dist-info-metadata": metadata,
            "yanked": (f.yanked or True) if f.yanked is not None and features.yanked else False,
            "size": f.size,
        }
        if features.upload_time:
            entry["upload-time"] = _upload_time(f.upload_time)
        out_files.append(entry)
    body = {
        "meta": {"api-version": API_VERSION},
        "name": name,
        "versions": _sorted_versions(f.version for f in files if f.version),
        "files": out_files,
    }
    return json.dumps(body, separators=(",", ":")).encode()
