"""The :class:`Privrepo` factory: creates indexes and owns their servers and files.

This is a plain object (the pytest fixtures and the ``privrepo`` CLI both use it): it knows
nothing about pytest. Closing it stops every server it started and raises any error a server
thread ran into, so a failure inside the server is reported in the test, not lost.
"""

from __future__ import annotations

import ipaddress
import secrets as _secrets_module
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from packaging.utils import canonicalize_name

from .clients.env import LOOPBACK_HOSTS
from .dists import DistFile, build_dists
from .errors import ConfigError, ServerError
from .gateway.egress import EgressLog
from .gateway.hosting import NamedHosts
from .gateway.hosts import (
    PYPI_FILES_HOST,
    PYPI_HOST,
    PYPI_HOSTS,
    PYPI_UPLOAD_HOST,
    check_host_name,
    default_port,
    is_loopback_host,
)
from .gateway.proxy import Gateway
from .index.auth import AuthPolicy, AuthSpec, Credentials
from .index.behaviour import Behaviour, behaviour_for
from .index.form import UploadLimits
from .index.index import Index, check_index_name, check_prefix
from .index.server import IndexServer
from .pem import write_pem_bundle
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

    ``gateway`` is the proxy named hosts and the PyPI stand-in are reached through (the
    pytest plugin shares one per session); without one, the first named index starts a
    gateway of this privrepo's own, stopped by :meth:`close`.
    """

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        ca: CertificateAuthority | None = None,
        host: str = "127.0.0.1",
        gateway: Gateway | None = None,
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
        self._gateway: Gateway | None = None
        self._own_gateway = False
        self._detach: list[Callable[[], None]] = []
        self._hosts: NamedHosts | None = None
        self._pypi: Index | None = None
        #: every request the clients sent through the gateway while this privrepo was open
        self.egress = EgressLog(internal_names=self._internal_names)
        if gateway is not None:
            self._attach(gateway, own=False)

    # -- the gateway ----------------------------------------------------------------------
    def _attach(self, gateway: Gateway, *, own: bool) -> None:
        self._gateway, self._own_gateway = gateway, own
        self._hosts = NamedHosts(gateway)
        self._detach.append(gateway.subscribe(self.egress.append))
        self._detach.append(gateway.add_credential_owner(self._credential_owners))

    @property
    def gateway(self) -> Gateway:
        """The proxy the clients reach named hosts through (started on first use when this
        privrepo was given none)."""
        self._check_open()
        with self._ca_lock:
            if self._gateway is None:
                self._attach(Gateway(root=self.root / "gateway").start(), own=True)
            assert self._gateway is not None
            return self._gateway

    @property
    def secrets(self) -> set[str]:
        """Every password and token of this privrepo's indexes and its PyPI stand-in."""
        found: set[str] = set()
        for index in self._all_indexes():
            found.update(index.policy.credentials.secrets)
        return found

    def _all_indexes(self) -> list[Index]:
        return [*self._indexes.values(), *([self._pypi] if self._pypi is not None else [])]

    def _credential_owners(self, authorization: str | None) -> frozenset[str]:
        """The indexes whose credentials ``authorization`` carries (for the egress log)."""
        from werkzeug.datastructures import Authorization

        try:
            parsed = Authorization.from_header(authorization)
        except ValueError:
            return frozenset()
        if parsed is None:
            return frozenset()
        return frozenset(i.name for i in self._all_indexes()
                         if i.policy.credentials.enabled and i.policy.decide(parsed).ok)

    def _internal_names(self) -> list[str]:
        return [p for i in self._indexes.values() for p in i.projects]

    def _named_server(self, host: str, port: int, mode: str | None,
                      names: tuple[str, ...], ca: CertificateAuthority,
                      explicit: bool = True) -> IndexServer:
        """The server of a declared host:port (see :class:`NamedHosts`), owned by this
        privrepo from its start on."""
        if self._hosts is None:
            _ = self.gateway  # attaches (and starts one of our own)
        assert self._hosts is not None
        server, started = self._hosts.server(host, port, mode, names, ca, explicit=explicit)
        if started:
            self._servers.append(server)
        return server

    @property
    def pypi(self) -> Index:
        """The PyPI stand-in, created on first use: ``https://pypi.org/simple/``, the JSON
        API Poetry reads, files on ``files.pythonhosted.org``, uploads on
        ``upload.pypi.org/legacy/`` (they land in ``privrepo.pypi.uploads``).

        Signed by the gateway's public CA, which every client in a routed ClientEnv trusts
        by default, as a real machine trusts PyPI. Reads are anonymous; uploads need its
        token (``privrepo.pypi.token``), as PyPI's do. Until a test asks for it, PyPI's
        names are refused like any undeclared host.
        """
        self._check_open()
        if self._pypi is None:
            gateway = self.gateway
            server = self._named_server(PYPI_HOST, 443, "tls", PYPI_HOSTS, gateway.public_ca)
            index = Index(
                "pypi", prefix="", directory=self.root / "pypi",
                policy=AuthPolicy(Credentials.build(None, f"pypi-{_secrets_module.token_urlsafe(24)}"),
                                  public_read=True, realm="pypi"),
                ca_cert=None, client_cert=None,
                behaviour=Behaviour(product="pypi", files_path="/packages",
                                    files_host=PYPI_FILES_HOST, upload_host=PYPI_UPLOAD_HOST,
                                    json_api=True),
            )
            server.mount(index)
            self._pypi = index
        return self._pypi

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
        anonymous_status: int | None = None,
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
        anonymous_view: Iterable[str] | None = None,
        profile: str | Behaviour | None = None,
        **behaviour: Any,
    ) -> Index:
        """Start (or mount) an index and return it, ready to serve.

        ``share=other`` mounts the new index on ``other``'s host:port under ``prefix``
        (default ``/<name>``), as Artifactory or Nexus host many repositories on one origin.
        ``upload_limits`` replaces the default bounds on one upload request (parts, field
        sizes, METADATA, archive scans; see :class:`UploadLimits`).

        ``anonymous_view=["public-lib"]``: a request without credentials sees those projects
        (a partial listing, uv#3923) and is answered 404 for every other one; with
        credentials, everything.

        ``profile="gitlab"`` (a name in :data:`~pytest_privrepo.index.behaviour.PROFILES`,
        or a :class:`~pytest_privrepo.index.behaviour.Behaviour`) makes the index answer as
        that product does: its host name and URL layout (unless ``host=``/``prefix=`` say
        otherwise), user names for tokens, statuses, page features, duplicate answers; TLS
        unless ``tls=False``. Any :class:`Behaviour` field can also be given on its own
        (``challenge=False``, ``wrong_credentials_status=403``); one that contradicts the
        named profile is a :class:`ConfigError`.

        ``host="pypi.corp.example"`` declares a named host: the index answers at
        ``https://pypi.corp.example/...`` (``port`` is then the public port, default 443,
        or 80 without TLS) through :attr:`gateway`, with a certificate for that name from
        this privrepo's CA. Indexes on one named host share it under their prefixes.
        """
        self._check_open()
        if upload_limits is not None and not isinstance(upload_limits, UploadLimits):
            raise ConfigError(f"upload_limits must be an UploadLimits, not {upload_limits!r}")
        check_index_name(name)
        if name in self._indexes:
            raise ConfigError(f"an index named {name!r} already exists in this privrepo")
        if anonymous_status is not None:
            behaviour["anonymous_status"] = anonymous_status
        conduct = behaviour_for(profile, **behaviour)
        if profile is not None:
            if tls is None:
                tls = "tls"  # the products are reached over HTTPS; tls=False for HTTP
            if host is None and share is None:
                host = conduct.default_host
            if prefix is None and share is None:
                prefix = conduct.default_prefix.format(name=name)
        mode = check_tls_mode(tls)
        if not isinstance(cert_hosts, (list, tuple)) or not all(isinstance(h, str) for h in cert_hosts):
            raise ConfigError(f"cert_hosts must be a list of host names, not {cert_hosts!r}")
        policy = AuthPolicy(
            Credentials.build(auth, token),
            public_read=bool(public_read),
            uploaders=frozenset(uploaders) if uploaders is not None else None,
            anonymous_status=conduct.anonymous_status,
            realm=realm or f"pytest-privrepo {name}",
            challenge=conduct.challenge,
            wrong_credentials_status=conduct.wrong_credentials_status,
            token_users=conduct.token_users,
            wrong_upload_status=conduct.wrong_upload_status,
            anonymous_view=(frozenset(canonicalize_name(n) for n in anonymous_view)
                            if anonymous_view is not None else None),
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
        elif host is not None and not is_loopback_host(str(host)):
            name_ = check_host_name(host)
            if name_ in PYPI_HOSTS:
                raise ConfigError(f"host {name_!r} is PyPI's: use privrepo.pypi, the stand-in "
                                  "signed by the public CA the clients trust by default")
            if not isinstance(port, int) or not 0 <= port <= 65535:
                raise ConfigError(f"invalid port {port!r}")
            if cert_hosts is not DEFAULT_SERVER_HOSTS:
                raise ConfigError("cert_hosts= is for loopback indexes: a named index's "
                                  "certificate is issued for its host name")
            public_port = port or default_port("https" if mode else "http")
            if tls is None and not port and self._hosts is not None:
                # the host's existing TLS mode, on either port
                public_port = next(iter(self._hosts.ports(name_)), public_port)
            server = self._named_server(name_, public_port, mode, (name_,), self.ca,
                                        explicit=tls is not None)
            mode = server.tls
            prefix = check_prefix(prefix or "")
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
                behaviour=conduct,
            )
            server.mount(index)
            if conduct.storage_host:  # files on cloud storage, reached by signed redirects
                storage = self._named_server(check_host_name(conduct.storage_host), 443, "tls",
                                             (conduct.storage_host,), self.gateway.public_ca)
                storage.mount(index.storage_view())
                if index.ca_cert:  # its CA bundle verifies what it redirects to, as well
                    index.ca_cert = str(write_pem_bundle(
                        [Path(index.ca_cert), self.gateway.trust_bundle], self.root / "tls"))
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
        for detach in reversed(self._detach):
            detach()
        if self._hosts is not None:
            self._hosts.unroute()
        for server in self._servers:
            try:
                server.stop()
            except BaseException as exc:  # keep stopping the others
                problems.append(exc)
        if self._own_gateway and self._gateway is not None:
            try:
                self._gateway.stop()
            except BaseException as exc:
                problems.append(exc)
        try:
            for server in self._servers:
                server.check()
            if self._own_gateway and self._gateway is not None:
                self._gateway.check()
        except ServerError as exc:
            problems.insert(0, exc)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
        if problems:
            raise problems[0]

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError("this privrepo is closed")

    def __enter__(self) -> Privrepo:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Privrepo {len(self._indexes)} indexes at {self.root}>"
