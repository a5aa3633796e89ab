"""How a client reaches one index: one frozen value, and one way to put credentials in a URL.

Why one value: every client harness needs the same handful of facts about an index (its
simple URL, its upload URL, credentials, the CA that verifies it, the client certificate it
asks for) and a test needs to vary them ("the same index, but a wrong password"). With one
:class:`IndexAccess` that is ``dataclasses.replace(corp.access, password="wrong")``, and
every entry point (install, lock, publish, configure, the snippets) reads the same fields
instead of probing an arbitrary object with ``getattr``.

This module is neutral ground: :mod:`pytest_privrepo.index` builds an ``IndexAccess`` for
each index (``Index.access``) and :mod:`pytest_privrepo.clients` consumes it; it imports
neither. :meth:`IndexAccess.of` is the one place that adapts other objects.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from .errors import ConfigError
from .redact import redact

__all__ = ["GatewayAccess", "IndexAccess", "url_with_credentials"]


def url_with_credentials(
    url: str,
    username: str | None = None,
    password: str | None = None,
    *,
    replace_userinfo: bool = False,
) -> str:
    """``url`` with percent-encoded ``username[:password]@`` as its userinfo.

    Percent-encoding matters: a password with ``@``, ``:`` or ``/`` would otherwise change
    the host the client connects to. A URL that already carries userinfo is returned as it
    is (the caller chose those credentials) unless ``replace_userinfo``: then the old
    userinfo goes, and with ``username=None`` the result is the URL without credentials
    (pip's keyring service name, a lock file URL compared with a source URL). Without a
    username (and no ``replace_userinfo``) the URL is unchanged.
    """
    parts = urlsplit(url)
    if parts.username is not None and not replace_userinfo:
        return url
    if username is None and not replace_userinfo:
        return url
    host = parts.netloc.rpartition("@")[2]
    if username is None:
        return urlunsplit(parts._replace(netloc=host))
    userinfo = quote(username, safe="")
    if password is not None:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


@dataclass(frozen=True)
class GatewayAccess:
    """How a client reaches the world beyond loopback: the gateway's proxy URL and the
    public CA bundle that stands in for the machine's default trust store.

    A value of its own for the same reason as :class:`IndexAccess`: ``ClientEnv`` (in
    :mod:`pytest_privrepo.clients`) needs these two facts about the gateway (in
    :mod:`pytest_privrepo.gateway`) and must not import it.
    """

    proxy_url: str
    #: PEM bundle of the public CA: what the clients trust without being told
    trust_bundle: Path

    @classmethod
    def of(cls, gateway: Any) -> GatewayAccess:
        """``gateway`` as a :class:`GatewayAccess`: one as it is, or an object with one as
        ``.access`` (a :class:`~pytest_privrepo.gateway.proxy.Gateway`)."""
        if isinstance(gateway, GatewayAccess):
            return gateway
        access = getattr(gateway, "access", None)
        if isinstance(access, GatewayAccess):
            return access
        raise ConfigError(f"expected a Gateway or a GatewayAccess, not {gateway!r}")


def _path(value: str | os.PathLike[str] | None) -> Path | None:
    return Path(value) if value is not None else None


@dataclass(frozen=True, repr=False)
class IndexAccess:
    """Everything a client needs to reach one index, and nothing else.

    ``url`` is the simple API URL (trailing slash), ``upload_url`` the legacy upload
    endpoint (None for an install-only index, e.g. a plain URL). ``username``/``password``
    are basic-auth credentials (``__token__`` + the token for a token-only index);
    ``token`` is the index's upload token, when it has one. ``ca_cert`` verifies the server;
    ``client_cert`` is ONE PEM with key and certificate (mTLS). ``host`` is room for a host
    name that differs from the URL's (named hosts); None means the URL's.

    ``url`` is the only positional field, so ``IndexAccess("https://pypi.org/simple/")``
    works; secrets are left out of the repr.
    """

    url: str
    name: str | None = field(default=None, kw_only=True)
    upload_url: str | None = field(default=None, kw_only=True)
    username: str | None = field(default=None, kw_only=True)
    password: str | None = field(default=None, repr=False, kw_only=True)
    token: str | None = field(default=None, repr=False, kw_only=True)
    ca_cert: Path | None = field(default=None, kw_only=True)
    client_cert: Path | None = field(default=None, kw_only=True)
    host: str | None = field(default=None, kw_only=True)

    def __repr__(self) -> str:
        """Like the dataclass repr, without the password and token, and with URL userinfo
        (a URL handed over as ``https://u:pw@host/simple/``) shown as ``****``."""
        shown = {
            "url": redact(self.url, self._secrets()),
            "name": self.name,
            "upload_url": redact(self.upload_url, self._secrets()) if self.upload_url else None,
            "username": self.username,
            "ca_cert": self.ca_cert,
            "client_cert": self.client_cert,
            "host": self.host,
        }
        return "IndexAccess(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    def _secrets(self) -> list[str]:
        return [s for s in (self.password, self.token) if s]

    @classmethod
    def of(cls, index: Any) -> IndexAccess:
        """``index`` as an :class:`IndexAccess`: an ``IndexAccess`` (as it is), a URL string,
        an object with an ``access`` property (an ``Index``), or any object with ``url`` and
        optionally ``upload_url``, ``username``, ``password``, ``token``, ``ca_cert``,
        ``client_cert``, ``name``. A :class:`ConfigError` names anything else, and a URL
        that is not http(s) or file."""
        if isinstance(index, IndexAccess):
            return index
        if isinstance(index, str):
            access = cls(url=index)
        elif isinstance(getattr(index, "access", None), IndexAccess):
            return index.access  # type: ignore[no-any-return]
        else:
            try:
                url = index.url
            except AttributeError:
                raise ConfigError(
                    f"expected an index (with .url, .ca_cert, .client_cert, .username, "
                    f".password) or a URL string, got {redact(repr(index))}"
                ) from None
            access = cls(
                url=url,
                name=getattr(index, "name", None),
                upload_url=getattr(index, "upload_url", None),
                username=getattr(index, "username", None),
                password=getattr(index, "password", None),
                token=getattr(index, "token", None),
                ca_cert=_path(getattr(index, "ca_cert", None)),
                client_cert=_path(getattr(index, "client_cert", None)),
            )
        parts = urlsplit(access.url)
        if parts.scheme not in ("http", "https", "file") or (
            parts.scheme != "file" and not parts.hostname
        ):
            raise ConfigError(
                f"index URL {redact(repr(access.url))} is not an http(s) or file URL"
            )
        return access

    # -- derived values -------------------------------------------------------------------
    @property
    def hostname(self) -> str:
        """Host name of the URL (no port, no brackets): what netrc matches on."""
        return self.host or urlsplit(self.url).hostname or ""

    @property
    def has_credentials(self) -> bool:
        return self.username is not None

    def url_with_credentials(self, url: str | None = None) -> str:
        """``url`` (default: :attr:`url`) with this index's credentials as percent-encoded
        userinfo (see :func:`url_with_credentials`); unchanged without credentials."""
        return url_with_credentials(url or self.url, self.username, self.password)

    def url_with_userinfo(self) -> str:
        """Deprecated spelling of :meth:`url_with_credentials` (``IndexSpec``'s name)."""
        return self.url_with_credentials()

    def needs_upload_url(self, what: str) -> str:
        """:attr:`upload_url`, or a :class:`ConfigError` saying ``what`` needs one."""
        if not self.upload_url:
            raise ConfigError(
                f"{what} needs an index with url and upload_url, got {redact(repr(self))}"
            )
        return self.upload_url

    def overridden(
        self,
        *,
        username: str | None = None,
        password: str | None = None,
        certificates: bool = True,
    ) -> IndexAccess:
        """This access with ``username``/``password`` replaced where given (a wrong password,
        ``__token__`` + a token), and without CA and client certificate unless
        ``certificates``: the keywords every publish entry point takes."""
        return replace(
            self,
            username=self.username if username is None else username,
            password=self.password if password is None else password,
            ca_cert=self.ca_cert if certificates else None,
            client_cert=self.client_cert if certificates else None,
        )
