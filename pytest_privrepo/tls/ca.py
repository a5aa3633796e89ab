"""A certificate authority for tests, built on trustme.

Why a wrapper: an index needs more than trustme's defaults. It needs a server certificate
that covers every loopback spelling a client may use (``localhost``, ``127.0.0.1``, ``::1``),
server SSL contexts for plain TLS and for mutual TLS, and *bad* client certificates
(expired, signed by a foreign CA) so a test can prove that a handshake really fails.
Creating a CA costs a few milliseconds, so one instance is shared per session; every PEM
file is written into the directory the caller names (the test's tmp dir).
"""

from __future__ import annotations

import datetime
import functools
import ssl
import threading
from pathlib import Path

import trustme
from cryptography import x509

from ..errors import ConfigError

__all__ = ["CertificateAuthority", "TLS_MODES", "DEFAULT_SERVER_HOSTS", "peer_subject"]

#: Accepted values of the ``tls=`` argument: no TLS, server TLS, mutual TLS.
TLS_MODES: tuple[str | None, ...] = (None, "tls", "mtls")

#: Names a server certificate covers unless told otherwise.
DEFAULT_SERVER_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")


def check_tls_mode(tls: object) -> str | None:
    """Return ``tls`` if it names a mode, else raise a ConfigError listing the modes."""
    if tls is False:
        return None
    if tls not in TLS_MODES:
        raise ConfigError(f"unknown tls mode {tls!r}: use None, 'tls' or 'mtls'")
    return tls  # type: ignore[return-value]


def peer_subject(der: bytes | None) -> str | None:
    """RFC 4514 subject of a DER certificate (what a request log shows), or None."""
    if not der:
        return None
    return _subject(der)


@functools.lru_cache(maxsize=64)
def _subject(der: bytes) -> str:
    # Remembered: an mTLS client shows the same certificate with every request, and
    # parsing it was a seventh of an mTLS request's cost in the server (issue 15).
    return x509.load_der_x509_certificate(der).subject.rfc4514_string()


class CertificateAuthority:
    """A test CA that issues server and client certificates and server SSL contexts."""

    def __init__(self, organization: str = "pytest-privrepo") -> None:
        self._ca = trustme.CA(organization_name=organization)
        self._foreign: trustme.CA | None = None
        self._lock = threading.Lock()
        self._server_leafs: dict[tuple[str, ...], trustme.LeafCert] = {}
        self._contexts: dict[tuple[str, tuple[str, ...]], ssl.SSLContext] = {}

    # -- files ------------------------------------------------------------------------
    @property
    def cert_pem(self) -> bytes:
        """The CA certificate in PEM form (what a client must trust)."""
        return self._ca.cert_pem.bytes()

    def write_ca_bundle(self, directory: Path, filename: str = "ca.pem") -> Path:
        """Write the CA certificate as a PEM bundle and return its path."""
        path = Path(directory) / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.cert_pem)
        return path

    def issue_client_cert(
        self,
        directory: Path,
        identity: str = "client@privrepo.test",
        *,
        expired: bool = False,
        foreign: bool = False,
        filename: str | None = None,
    ) -> Path:
        """Write ONE PEM holding an unencrypted key and a client certificate; return its path.

        ``expired=True`` makes a certificate whose validity ended yesterday; ``foreign=True``
        signs it with a CA the servers do not trust. Both must fail an mTLS handshake.
        """
        ca = self._foreign_ca() if foreign else self._ca
        not_before = not_after = None  # trustme's defaults: valid from now on
        if expired:
            now = datetime.datetime.now(datetime.timezone.utc)
            not_before = now - datetime.timedelta(days=30)
            not_after = now - datetime.timedelta(days=1)
        leaf = ca.issue_cert(identity, common_name=identity, not_before=not_before,
                             not_after=not_after)
        stem = filename or (
            "client" + ("-expired" if expired else "") + ("-foreign" if foreign else "") + ".pem"
        )
        path = Path(directory) / stem
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(leaf.private_key_and_cert_chain_pem.bytes())
        path.chmod(0o600)
        return path

    # -- server side ------------------------------------------------------------------
    def server_context(
        self, mode: str, hosts: tuple[str, ...] = DEFAULT_SERVER_HOSTS
    ) -> ssl.SSLContext:
        """An SSL context for a server in ``mode`` ('tls' or 'mtls'), cached per hosts.

        In 'mtls' the server requires a client certificate signed by this CA; anything else
        fails the handshake.
        """
        if mode not in ("tls", "mtls"):
            raise ConfigError(f"unknown tls mode {mode!r}: use 'tls' or 'mtls'")
        if not hosts:
            raise ConfigError("a server certificate needs at least one host name")
        key = (mode, tuple(hosts))
        with self._lock:
            ctx = self._contexts.get(key)
            if ctx is None:
                leaf = self._server_leafs.get(key[1])
                if leaf is None:
                    leaf = self._ca.issue_cert(*hosts, common_name=hosts[0])
                    self._server_leafs[key[1]] = leaf
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                leaf.configure_cert(ctx)
                if mode == "mtls":
                    self._ca.configure_trust(ctx)
                    ctx.verify_mode = ssl.CERT_REQUIRED
                self._contexts[key] = ctx
            return ctx

    def _foreign_ca(self) -> trustme.CA:
        with self._lock:
            if self._foreign is None:
                self._foreign = trustme.CA(organization_name="foreign-ca")
            return self._foreign
