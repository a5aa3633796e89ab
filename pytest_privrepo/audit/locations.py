"""Where a project's source lives: its URL split into what a named index needs.

Why: the audit stands each source up at *its own* URL, so the client sends exactly the
requests it sends in CI (host, path, port, scheme) and credentials are matched by the
client exactly as they are in CI. ``https://gitlab.example.com/api/v4/projects/1/packages/pypi/simple``
becomes ``privrepo.index(name, host="gitlab.example.com", tls="tls",
prefix="/api/v4/projects/1/packages/pypi")``. Every index of pytest-privrepo answers at
``<prefix>/simple/``, so a source URL must end in ``/simple`` (or ``/simple/``); anything
else is refused with the reason instead of being served somewhere the client never asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from ..errors import ConfigError
from ..gateway.hosts import PYPI_HOSTS, check_host_name, default_port
from .errors import AuditError

__all__ = ["SourceLocation", "parse_source_url"]


@dataclass(frozen=True)
class SourceLocation:
    """A source URL as a named index: scheme, host, public port and path prefix."""

    url: str
    scheme: str
    host: str
    port: int
    #: the path before ``/simple`` ("" for a source at the host's root)
    prefix: str

    @property
    def tls(self) -> str | None:
        return "tls" if self.scheme == "https" else None

    @property
    def is_pypi(self) -> bool:
        """The source is PyPI itself (served by the PyPI stand-in)."""
        return self.host in PYPI_HOSTS

    @property
    def netloc(self) -> str:
        return self.host if self.port == default_port(self.scheme) else f"{self.host}:{self.port}"


def parse_source_url(name: str, url: object, *, where: str) -> SourceLocation:
    """``url`` of source ``name`` (declared in ``where``) as a :class:`SourceLocation`, or an
    :class:`AuditError` that names the source, the file and what is wrong."""
    if not isinstance(url, str) or not url.strip():
        raise AuditError(f"{where}: source {name!r} has no url")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise AuditError(f"{where}: source {name!r} has a malformed url {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise AuditError(
            f"{where}: source {name!r} has url {url!r}, which is not http(s): an audit stands "
            "up package indexes (PEP 503 simple API) over http or https only"
        )
    if parts.username is not None or parts.password is not None:
        raise AuditError(
            f"{where}: source {name!r} has credentials in its url (shown without them: "
            f"{scheme}://{parts.hostname}{parts.path}); they are committed with the project: "
            "move them to the CI variables the client reads"
        )
    if parts.query or parts.fragment:
        raise AuditError(f"{where}: source {name!r} has a query or fragment in url {url!r}")
    host = parts.hostname or ""
    try:
        host = check_host_name(host)
    except ConfigError as exc:
        raise AuditError(f"{where}: source {name!r}: {exc}") from None
    path = unquote(parts.path).rstrip("/")
    if not path.endswith("/simple") and path != "/simple":
        raise AuditError(
            f"{where}: source {name!r} has url {url!r}, which does not end in /simple: the "
            "audit serves each source's PEP 503 simple API at <prefix>/simple/ (a legacy or "
            "JSON-only URL cannot be stood up)"
        )
    prefix = path[: -len("/simple")]
    if any(c in prefix for c in "?#% \\") or ".." in prefix.split("/"):
        raise AuditError(f"{where}: source {name!r} has an unusable path in url {url!r}")
    location = SourceLocation(url=url.strip(), scheme=scheme, host=host,
                              port=port or default_port(scheme), prefix=prefix)
    if location.is_pypi and (prefix or scheme != "https" or location.port != 443):
        raise AuditError(f"{where}: source {name!r} points at PyPI's host with url {url!r}; "
                         "PyPI's simple API is https://pypi.org/simple/")
    return location
