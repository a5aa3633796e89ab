"""The egress log: every request that left a client through the gateway.

Why: the mistakes that hurt teams with a private index are about *where* requests go, not
what one index answered: an internal package name asked of PyPI (the quiet half of
dependency confusion), a credential sent to a host it does not belong to, a publish that
went to PyPI. The per-index request log cannot show any of that, because the request that
matters reached another host, or no host. Each :class:`EgressRecord` says which host was
asked, what for, with whose credentials (the names of the indexes the credential belongs
to, never the secret) and who answered; :meth:`EgressLog.assert_no_leaks` turns the two
leaks into one assertion with a readable message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from packaging.utils import InvalidName, canonicalize_name

from ..records import Records
from .hosts import PYPI_HOSTS

__all__ = ["EgressLog", "EgressRecord", "Leak"]


@dataclass(frozen=True)
class EgressRecord:
    """One request through the gateway (a refused ``CONNECT`` counts as one)."""

    #: the host the client asked for, lower case, without the port
    host: str
    port: int
    #: ``GET``, ``POST`` ... for a request the gateway let through or read; ``CONNECT`` for
    #: a tunnel it refused (the request inside was never seen)
    method: str
    #: the request path, None when the tunnel was refused before any request was seen
    path: str | None
    status: int
    #: the name of the index that answered; None when the gateway refused the request or
    #: no index on the host matched the path
    index: str | None
    #: user name of the credentials presented, when it is not itself a secret
    user: str | None = None
    #: credentials were presented (``Authorization`` inside, ``Proxy-Authorization`` on a
    #: refused tunnel), whatever they were
    credentials_offered: bool = False
    #: the indexes whose credentials these are (matched, never stored); empty when they
    #: belong to no index this test declared
    credentials_of: frozenset[str] = frozenset()
    #: RFC 4514 subject of the client certificate presented (mTLS)
    client_cert: str | None = None
    #: why the gateway refused, when it did
    reason: str | None = None
    #: the TLS handshake with the declared host failed (why: an untrusted certificate on
    #: the client's side, no client certificate for an mTLS host, ...); no request was seen
    tls_failure: str | None = None

    @property
    def refused(self) -> bool:
        """The gateway answered itself: the host is not one the test declared."""
        return self.reason is not None

    @property
    def project(self) -> str | None:
        """The project a simple, JSON API or file path asks for (normalised), else None."""
        return project_of(self.path)

    def describe(self) -> str:
        """One line for a failure message (no secret can be in it: none is recorded)."""
        what = f"{self.method} {self.host}:{self.port}{self.path or ''}"
        who = f" as {self.user!r}" if self.user else (" with credentials" if self.credentials_offered else "")
        if self.refused:
            answer = f"refused ({self.reason})"
        elif self.tls_failure:
            answer = f"TLS handshake failed ({self.tls_failure})"
        else:
            answer = f"{self.status} from index {self.index!r}"
        return f"{what}{who}: {answer}"


@dataclass(frozen=True)
class Leak:
    """A request that carried something to a host it was not meant for."""

    #: ``"credential"`` (an index's credentials reached another host) or ``"internal-name"``
    #: (PyPI was asked for a project a private index serves)
    kind: str
    record: EgressRecord
    message: str


def project_of(path: str | None) -> str | None:
    """The normalised project name in a simple (``/simple/<n>/``, devpi's ``/+simple/``),
    JSON API (``/pypi/<n>/json``) or file (``/files/<n>/...``, ``/packages/<n>/...``,
    ``/+f/<n>/...``) path."""
    if not path:
        return None
    parts = [unquote(p) for p in path.split("/") if p]
    for marker in ("simple", "+simple", "pypi", "files", "packages", "+f"):
        if marker in parts:
            at = parts.index(marker)
            if at + 1 < len(parts):
                try:
                    return canonicalize_name(parts[at + 1], validate=True)
                except InvalidName:
                    return None
    return None


class EgressLog(Records[EgressRecord]):
    """A thread-safe list of :class:`EgressRecord` with the questions tests ask of it.

    ``internal_names`` returns the projects the private indexes serve (asked when a leak
    check runs, so packages added later count); ``public_hosts`` are the hosts whose
    questions about internal names are leaks (PyPI's).
    """

    noun = "requests"

    def __init__(
        self,
        internal_names: Callable[[], Iterable[str]] = lambda: (),
        public_hosts: Iterable[str] = PYPI_HOSTS,
    ) -> None:
        super().__init__()
        self._internal_names = internal_names
        self.public_hosts = frozenset(public_hosts)

    # -- questions ----------------------------------------------------------------------
    def to(self, host: str) -> list[EgressRecord]:
        """Requests to ``host`` (any port)."""
        host = host.lower()
        return [r for r in self._snapshot() if r.host == host]

    @property
    def hosts(self) -> set[str]:
        """Every host a client asked for."""
        return {r.host for r in self._snapshot()}

    @property
    def refused(self) -> list[EgressRecord]:
        """Requests the gateway refused (undeclared hosts)."""
        return [r for r in self._snapshot() if r.refused]

    @property
    def tls_failures(self) -> list[EgressRecord]:
        """Tunnels to declared hosts whose TLS handshake failed (no request was seen)."""
        return [r for r in self._snapshot() if r.tls_failure]

    def asked_for(self, project: str, *, host: str | None = None) -> list[EgressRecord]:
        """Requests for ``project``'s page, JSON or files (on ``host`` when given)."""
        name = canonicalize_name(project)
        return [r for r in self._snapshot()
                if r.project == name and (host is None or r.host == host.lower())]

    def credentials_elsewhere(self) -> list[EgressRecord]:
        """Requests that carried an index's credentials to anything but that index."""
        return [r for r in self._snapshot()
                if r.credentials_of and r.index not in r.credentials_of]

    def leaks(self) -> list[Leak]:
        """Every credential that reached another host than its index, and every question
        about an internal project name put to PyPI."""
        internal = {canonicalize_name(n) for n in self._internal_names()}
        found: list[Leak] = []
        for record in self._snapshot():
            if record.credentials_of and record.index not in record.credentials_of:
                owners = ", ".join(sorted(record.credentials_of))
                found.append(Leak("credential", record,
                                  f"credentials of index {owners} reached {record.describe()}"))
            if record.host in self.public_hosts and record.project in internal:
                found.append(Leak("internal-name", record,
                                  f"internal project {record.project!r} was asked of "
                                  f"{record.host}: {record.describe()}"))
        return found

    def assert_no_leaks(self) -> None:
        """Fail listing each leak (see :meth:`leaks`); pass when there is none."""
        found = self.leaks()
        if found:
            lines = "\n".join(f"  - {leak.message}" for leak in found)
            raise AssertionError(f"{len(found)} leak(s) through the gateway:\n{lines}")
