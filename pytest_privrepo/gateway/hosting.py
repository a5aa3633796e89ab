"""The servers behind one privrepo's declared host names, and what they tell the egress log.

Why apart from the factory: a declared host is a loopback :class:`IndexServer` with a
certificate for the name, routed on the gateway, whose every answer (and every failed
handshake) becomes an :class:`~pytest_privrepo.gateway.egress.EgressRecord`. The factory
(:class:`~pytest_privrepo.session.Privrepo`) only asks for "the server of this host:port";
how it is started, routed, shared and unrouted again is here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from ..errors import ConfigError
from ..index.log import Hit
from ..index.server import IndexServer, TLSFailure
from ..tls.ca import CertificateAuthority
from .egress import EgressRecord
from .proxy import Gateway, Route

if TYPE_CHECKING:
    from werkzeug.wrappers import Request

__all__ = ["NamedHosts"]


class NamedHosts:
    """The declared ``host:port`` servers of one privrepo on ``gateway``."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._servers: dict[tuple[str, int], IndexServer] = {}
        self._unroute: list[Callable[[], None]] = []

    def ports(self, host: str) -> list[int]:
        """The ports ``host`` is declared on (by this privrepo)."""
        return [p for (h, p) in self._servers if h == host]

    def server(self, host: str, port: int, mode: str | None, names: tuple[str, ...],
               ca: CertificateAuthority, *, explicit: bool = True) -> tuple[IndexServer, bool]:
        """The server of ``host:port`` (answering for all of ``names``) and whether it was
        started now: started and routed on first use; later indexes on that host:port share
        it under their prefixes, and its TLS mode unless ``explicit`` asks for another."""
        server = self._servers.get((host, port))
        if server is not None:
            if explicit and server.tls != mode:
                raise ConfigError(
                    f"host {host}:{port} is already declared with tls={server.tls!r}; an index "
                    f"on it cannot have tls={mode!r}: one host:port has one TLS mode"
                )
            return server, False
        gateway = self.gateway
        for name in names:
            if gateway.route(name, port) is not None:
                raise ConfigError(f"host {name}:{port} is already declared in this session "
                                  "(by another privrepo)")
        scheme: Literal["http", "https"] = "https" if mode else "http"
        server = IndexServer(
            "127.0.0.1", 0, ssl_context=ca.server_context(mode, names) if mode else None,
            tls=mode, public=(host, port), on_hit=self._answered(port),
            on_tls_failure=self._handshake_failed(host, port))
        server.start()
        try:
            for name in names:
                gateway.add_route(Route(name, port, scheme, (server.host, server.port), mode))
                self._unroute.append(functools.partial(gateway.remove_route, name, port))
        except BaseException:
            server.stop()
            raise
        for name in names:
            self._servers[(name, port)] = server
        return server, True

    def unroute(self) -> None:
        """Remove every route this privrepo added (its servers are stopped by their owner)."""
        for remove in reversed(self._unroute):
            remove()
        self._unroute.clear()

    # -- what the servers report --------------------------------------------------------------
    def _answered(self, public_port: int) -> Callable[[Request, Hit], None]:
        gateway = self.gateway

        def record(request: Request, hit: Hit) -> None:
            name, _, port = (hit.host or "").partition(":")
            authorization = request.headers.get("Authorization")
            gateway.record(EgressRecord(
                host=name.lower(), port=int(port) if port.isdigit() else public_port,
                method=hit.method, path=hit.path, status=hit.status, index=hit.index,
                user=hit.user, credentials_offered=bool(authorization),
                credentials_of=gateway.credentials_of(authorization),
                client_cert=hit.client_cert,
            ))
        return record

    def _handshake_failed(self, host: str, port: int) -> Callable[[TLSFailure], None]:
        gateway = self.gateway

        def record(failure: TLSFailure) -> None:
            gateway.record(EgressRecord(host=host, port=port, method="CONNECT", path=None,
                                        status=0, index=None, tls_failure=failure.reason))
        return record
