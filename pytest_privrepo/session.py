"""The :class:`Privrepo` factory: creates indexes and owns their servers and files.

This is a plain object (the pytest fixtures and the ``privrepo`` CLI both use it): it knows
nothing about pytest. Closing it stops every server it started and raises any error a server
thread ran into, so a failure inside the server is reported in the test, not lost.
"""

from __future__ import annotations

import ipaddress
import shutil
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from .clients.env import LOOPBACK_HOSTS
from .dists import DistFile, build_dists
from .errors import ConfigError, ServerError
from .index.auth import AuthPolicy, AuthSpec, Credentials
from .index.index import Index, check_index_name, check_prefix
from .index.server import IndexServer
from .index.form import UploadLimits
from .tls.ca import DEFAULT_SERVER_HOSTS, CertificateAuthority, check_tls_mode

__all__ = ["Privrepo"]


def _check_client_reachable(host: object) -> str:
    """Refuse a loopback address the clients in a ``ClientEnv`` could not reach.

    Why: ``ClientEnv`` lists :data:`~pytest_privrepo.clients.env.LOOPBACK_HOSTS` in NO_PROXY
    and sends every other host to the offline guard's dead proxy, so an index on, say,
    ``127.0.0.2`` would start and then be unreachable by every client, which looks like a
    client bug. Equivalent spellings (``[::1]``, ``0:0::1``) are accepted: the server binds
    the address and its URL uses the canonical form. Names and non-loopback addresses are
    left to the server, which refuses them itself.
    """
    if not isinstance(host, str):
        raise ConfigError(f"host must be a string such as '127.0.0.1', not {host!r}")
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host
    if address.is_loopback and str(address) not in LOOPBACK_HOSTS:
        raise ConfigError(
            f"host {host!r} is a loopback address the clients cannot reach: their NO_PROXY "
            f"lists only {', '.join(LOOPBACK_HOSTS)} (not every client understands a range "
            "such as 127.0.0.0/8) and every other host goes to the offline guard's dead "
            f"proxy; use one of {', '.join(LOOPBACK_HOSTS)}"
        )
    return host


class Privrepo:
    """Starts ephemeral indexes; one instance per test (or per session when shared).

    ``root`` holds every file it writes (PEM files, distributions). Without a root a temporary
    directory is created and removed again by :meth:`close`.
    """

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        ca: CertificateAuthority | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        if root is None:
            self._tmp: str | None = tempfile.mkdtemp(prefix="privrepo-")
            root = self._tmp
        else:
            self._tmp = None
        self.root = Path(root)
        self.host = _check_client_reachable(host)
        self.root.mkdir(parents=True, exist_ok=True)
        self._ca = ca
        self._ca_lock = threading.Lock()
        self._ca_file: Path | None = None
        self._indexes: dict[str, Index] = {}
        self._servers: list[IndexServer] = []
        self._closed = False

    # -- TLS ------------------------------------------------------------------------------
    @property
    def ca(self) -> CertificateAuthority:
        """The certificate authority (created on first use when none was given)."""
        with self._ca_lock:
            if self._ca is None:
                self._ca = CertificateAuthority()
            return self._ca

    @property
    def ca_cert(self) -> Path:
        """PEM bundle of the CA, written into ``root`` once."""
        if self._ca_file is None:
            self._ca_file = self.ca.write_ca_bundle(self.root / "tls")
        return self._ca_file

    def client_cert(
        self,
        identity: str = "client@privrepo.test",
        *,
        expired: bool = False,
        foreign: bool = False,
        filename: str | None = None,
    ) -> Path:
        """Issue an extra client certificate (one PEM with key + cert) for negative tests."""
        return self.ca.issue_client_cert(
            self.root / "tls", identity, expired=expired, foreign=foreign, filename=filename
        )

    # -- indexes --------------------------------------------------------------------------
    def index(
        self,
        name: str = "private",
        *,
        auth: AuthSpec = None,
        token: str | Iterable[str] | None = None,
        tls: str | None = None,
        public_read: bool = False,
        uploaders: Iterable[str] | None = None,
        anonymous_status: int = 401,
        share: Index | None = None,
        prefix: str | None = None,
        host: str | None = None,
        port: int = 0,
        cert_hosts: Sequence[str] = DEFAULT_SERVER_HOSTS,
        realm: str | None = None,
        overwrite: bool = False,
        max_upload_size: int = 100 * 1024 * 1024,
        upload_dir: str | Path | None = None,
        upload_limits: UploadLimits | None = None,
    ) -> Index:
        """Start (or mount) an index and return it, ready to serve.

        ``share=other`` mounts the new index on ``other``'s host:port under ``prefix``
        (default ``/<name>``), as Artifactory or Nexus host many repositories on one origin.
        ``upload_limits`` replaces the default bounds on one upload request (parts, field
        sizes, METADATA, archive scans; see :class:`UploadLimits`).
        """
        self._check_open()
        if upload_limits is not None and not isinstance(upload_limits, UploadLimits):
            raise ConfigError(f"upload_limits must be an UploadLimits, not {upload_limits!r}")
        check_index_name(name)
        if name in self._indexes:
            raise ConfigError(f"an index named {name!r} already exists in this privrepo")
        mode = check_tls_mode(tls)
        if not isinstance(cert_hosts, (list, tuple)) or not all(isinstance(h, str) for h in cert_hosts):
            raise ConfigError(f"cert_hosts must be a list of host names, not {cert_hosts!r}")
        policy = AuthPolicy(
            Credentials.build(auth, token),
            public_read=bool(public_read),
            uploaders=frozenset(uploaders) if uploaders is not None else None,
            anonymous_status=anonymous_status,
            realm=realm or f"pytest-privrepo {name}",
        )
        if share is not None:
            if not isinstance(share, Index) or share.server not in self._servers:
                raise ConfigError("share= must be an index created by this privrepo")
            if tls is not None and mode != share.tls:
                raise ConfigError(
                    f"index {name!r} asks for tls={tls!r} but shares a server with "
                    f"tls={share.tls!r}: indexes on one host:port share its TLS mode"
                )
            if host is not None or port:
                raise ConfigError("host= and port= cannot be combined with share=")
            mode = share.tls
            server = share.server
            prefix = check_prefix(prefix if prefix is not None else f"/{name}")
            started = False
        else:
            if host is not None:
                _check_client_reachable(host)
            prefix = check_prefix(prefix or "")
            ctx = self.ca.server_context(mode, tuple(cert_hosts)) if mode else None
            server = IndexServer(host or self.host, port, ssl_context=ctx, tls=mode)
            server.start()  # first: mounting binds the port; a ConfigError leaves nothing running
            started = True

        try:
            directory = self.root / name
            index = Index(
                name,
                prefix=prefix,
                directory=directory,
                policy=policy,
                ca_cert=self.ca_cert if mode else None,
                client_cert=(
                    self.ca.issue_client_cert(directory, f"{name}-client@privrepo.test",
                                              filename="client.pem")
                    if mode == "mtls" else None
                ),
                overwrite=bool(overwrite),
                max_upload_size=int(max_upload_size),
                upload_dir=Path(upload_dir) if upload_dir else None,
                upload_limits=upload_limits,
            )
            server.mount(index)
        except BaseException:
            if started:
                server.stop()
            raise
        if started:
            self._servers.append(server)
        self._indexes[name] = index
        return index

    @property
    def indexes(self) -> Mapping[str, Index]:
        return dict(self._indexes)

    def __getitem__(self, name: str) -> Index:
        return self._indexes[name]

    def build_dist(self, out_dir: str | Path, name: str, version: str, *, kind: str = "wheel",
                   **kwargs: object) -> Path:
        """Write a synthetic distribution into ``out_dir`` (not served) and return its path.

        ``kind="sdist"`` for a source distribution; other keywords as :meth:`Index.add`.
        """
        if kind not in ("wheel", "sdist"):
            raise ConfigError(f"build_dist makes one file: kind must be 'wheel' or 'sdist', not {kind!r}")
        dists: list[DistFile] = build_dists(Path(out_dir), name, version, kind=kind, **kwargs)  # type: ignore[arg-type]
        return dists[0].path

    # -- lifecycle --------------------------------------------------------------------------
    def check(self) -> None:
        """Raise the first error any server thread hit (ServerError)."""
        for server in self._servers:
            server.check()

    def close(self) -> None:
        """Stop every server, remove a self-made root, then re-raise server-side errors."""
        if self._closed:
            return
        self._closed = True
        problems: list[BaseException] = []
        for server in self._servers:
            try:
                server.stop()
            except BaseException as exc:  # keep stopping the others
                problems.append(exc)
        try:
            for server in self._servers:
                server.check()
        except ServerError as exc:
            problems.insert(0, exc)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
        if problems:
            raise problems[0]

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError("this privrepo is closed")

    def __enter__(self) -> "Privrepo":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Privrepo {len(self._indexes)} indexes at {self.root}>"
