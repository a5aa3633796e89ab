"""Where one index answers: scheme, host, port and path prefix.

Why a value of its own: an :class:`~pytest_privrepo.index.index.Index` needs its address for
every URL it hands out (``url``, ``upload_url``, snippets, client configs), but it must not
reach back into the server for it. :meth:`IndexServer.mount
<pytest_privrepo.index.server.IndexServer.mount>` binds an :class:`Origin` into the index
once the server listens (so a port 0 request is already the real port), and the index's
URLs are read from it from then on.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

__all__ = ["Origin", "format_host"]


def format_host(host: str) -> str:
    """``host`` as it stands in a URL: an IPv6 address in brackets, anything else as is."""
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return host
    return f"[{host}]"


@dataclass(frozen=True)
class Origin:
    """``scheme://host:port<prefix>``: the fixed part of every URL of one mounted index."""

    scheme: Literal["http", "https"]
    #: the address the server listens on, canonical (``127.0.0.1``, ``::1``), or the
    #: declared name a named index answers at through the gateway (``pypi.corp.example``)
    host: str
    port: int
    #: ``""`` or ``/a/b`` (see :func:`~pytest_privrepo.index.index.check_prefix`)
    prefix: str = ""

    @property
    def netloc(self) -> str:
        """``host:port`` as it stands in a URL (``[::1]:8080``); the host alone on the
        scheme's default port (``https://pypi.org/``, as clients hard-code PyPI's URL)."""
        if (self.scheme, self.port) in (("https", 443), ("http", 80)):
            return format_host(self.host)
        return f"{format_host(self.host)}:{self.port}"

    @property
    def base_url(self) -> str:
        """``scheme://host:port<prefix>`` without a trailing slash."""
        return f"{self.scheme}://{self.netloc}{self.prefix}"

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` below the prefix (``"/simple/"``)."""
        return self.base_url + path
