"""The stand-up: every source of a project at its real URL, serving the locked packages.

Why two privrepos on one gateway: a source whose CI configures a CA certificate lives on a
host with a private CA (the audit signs it with a CA of its own and hands the client that
CA in place of the CI's path); every other source has a publicly trusted certificate,
so it is signed by the gateway's public CA, which the clients trust by default, as they
trust the real host. One privrepo has one CA, hence one for each kind of host.

What is served (issue 14, item 2): each locked package at its locked version, with its
locked dependencies, on the source the lock names; every package locked from a private
source also on PyPI and on every other private source at a *higher* version (what a name
squatter publishes, with the same dependencies), so a client that asks anywhere else for
it, or merges sources by version, shows it in the resolution.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..errors import ConfigError
from ..gateway.egress import EgressLog
from ..gateway.proxy import Gateway
from ..index.auth import TOKEN_USER
from ..index.index import Index, check_index_name
from ..session import Privrepo
from .credentials import SourceAccess
from .errors import AuditError
from .model import PYPI, LockedPackage, ProjectModel, Source

__all__ = ["Stage", "higher_version"]


def higher_version(versions: Iterable[str]) -> str | None:
    """A version above every one of ``versions`` that most constraints written for them
    still allow (``1.2.0`` -> ``1.2.0.post1``: ``^1.2``, ``~=1.2``, ``>=1.2`` take it);
    None when one of them is not a PEP 440 version."""
    try:
        top = max(Version(v) for v in versions)
    except (InvalidVersion, ValueError):
        return None
    epoch = f"{top.epoch}!" if top.epoch else ""
    if top.pre is None and top.dev is None and top.post is None:
        return f"{top}.post1"
    release = list(top.release)
    release[-1] += 1
    return epoch + ".".join(map(str, release))


class Stage:
    """A gateway of its own with the project's sources on it; close it to stop them all.

    ``root`` holds every file (certificates, wheels); the caller removes it.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.gateway = Gateway(root=self.root / "gateway").start()
        try:
            self.public = Privrepo(self.root / "public", ca=self.gateway.public_ca,
                                   gateway=self.gateway)
            self.private = Privrepo(self.root / "private", gateway=self.gateway)
        except BaseException:
            self.gateway.stop()
            raise
        #: ``{source name: index}``; PyPI is :attr:`pypi`
        self.indexes: dict[str, Index] = {}
        self._source_of: dict[str, str] = {}
        #: ``{source name: host}`` of the sources on a host with a private CA
        self.private_ca_hosts: set[str] = set()

    @property
    def pypi(self) -> Index:
        return self.public.pypi

    @property
    def egress(self) -> EgressLog:
        """Every request the client sent through the gateway."""
        return self.public.egress

    @property
    def ca_cert(self) -> Path:
        """The private CA, handed to the client where its CI names a CA file."""
        return self.private.ca_cert

    def source_of(self, index_name: str | None) -> str | None:
        """The source an index (by its name in the egress log) stands for."""
        if index_name is None:
            return None
        if index_name == self.pypi.name:
            return PYPI
        return self._source_of.get(index_name)

    # -- sources ----------------------------------------------------------------------
    def stand_up(self, model: ProjectModel, access: dict[str, SourceAccess]) -> None:
        """Declare every private source at its URL, then serve the locked packages."""
        _ = self.pypi  # PyPI is always there: every client falls back to it somewhere
        self.private_ca_hosts = {s.location.host for s in model.private_sources
                                 if access[s.name].has_certificate}
        for number, source in enumerate(model.private_sources, 1):
            self._declare(source, access[source.name], number)
        self._serve(model)

    def _declare(self, source: Source, access: SourceAccess, number: int) -> None:
        location = source.location
        repo = self.private if location.host in self.private_ca_hosts else self.public
        name = source.name
        try:
            check_index_name(name)
            if name.lower() == self.pypi.name or name in self._source_of:
                raise ConfigError("taken")
        except ConfigError:
            name = f"source-{number}"
        tls = location.tls
        if tls and access.has_client_certificate:
            tls = "mtls"
        auth: tuple[str, str] | None = None
        token: str | None = None
        creds = access.credentials
        if creds is not None:
            user, password = creds
            password = password or secrets.token_urlsafe(24)  # no password given: none works
            if user == TOKEN_USER:
                token = password
            else:
                if not user or ":" in user:
                    user = "ci"  # no usable user name given: the client cannot match it
                auth = (user, password)
        try:
            index = repo.index(name, host=location.host, port=location.port, tls=tls,
                               prefix=location.prefix, realm=source.name, auth=auth,
                               token=token)
        except ConfigError as exc:
            raise AuditError(f"source {source.name!r} ({location.url}) cannot be stood up: "
                             f"{exc}") from None
        self.indexes[source.name] = index
        self._source_of[index.name] = source.name

    def index_for(self, source: str) -> Index:
        return self.pypi if source == PYPI else self.indexes[source]

    def _serve(self, model: ProjectModel) -> None:
        served: set[tuple[str, str, str]] = set()

        def add(index: Index, package: LockedPackage, version: str) -> None:
            key = (index.name, canonicalize_name(package.name), version)
            if key in served:
                return
            served.add(key)
            index.add(package.name, version, requires=list(package.requires),
                      extras={extra: list(reqs) for extra, reqs in package.extras})

        for package in model.packages:
            add(self.index_for(package.source), package, package.version)
        by_name: dict[str, list[LockedPackage]] = {}
        for package in model.internal:
            by_name.setdefault(package.key, []).append(package)
        for packages in by_name.values():
            higher = higher_version(p.version for p in packages)
            if higher is None:
                continue
            homes = {p.source for p in packages}
            squat = max(packages, key=lambda p: Version(p.version))
            for other in [PYPI, *self.indexes]:
                if other not in homes:
                    add(self.index_for(other), squat, higher)

    # -- lifecycle ----------------------------------------------------------------------
    def close(self) -> None:
        """Stop every server and the gateway (each one, even when another fails)."""
        problems: list[BaseException] = []
        for stop in (self.private.close, self.public.close, self.gateway.stop):
            try:
                stop()
            except BaseException as exc:  # noqa: BLE001 - stop the others first, then raise
                problems.append(exc)
        if problems:
            raise problems[0]

    def __enter__(self) -> Stage:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
