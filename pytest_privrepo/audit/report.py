"""The outcome of an audit as values: findings, per-package outcomes, ``assert_clean()``.

Why values and not text: the CLI prints them (:mod:`.render`), CI tooling reads them as
JSON (:meth:`AuditReport.to_dict`), and a downstream test asserts on them
(``report.assert_clean()``, or ``report.findings_of("wrong-source")``). Nothing here holds
a secret: credentials appear only as the names of the variables that carry them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FINDING_KINDS", "AuditReport", "Finding", "PackageOutcome", "SourceSummary"]

#: Every kind of finding, with what it means (the JSON ``kind`` values).
FINDING_KINDS: dict[str, str] = {
    "wrong-source": "a package resolved from another source (or version) than the lock says",
    "unresolved": "a locked package is not in the client's resolution",
    "resolution-failed": "the client could not resolve the project with its CI settings",
    "internal-name-asked-of-pypi": "PyPI was asked for a package a private source serves",
    "credential-leak": "a source's credentials were sent to another host",
    "missing-credentials": "a private source gets no credentials from the variables the client reads",
    "missing-certificate": "a source on a host with a private CA has no certificate configured",
    "undeclared-host": "the client asked a host that is none of the project's sources",
    "version-dependent-setting": "a setting makes the source of a package depend on version numbers",
}


@dataclass(frozen=True)
class Finding:
    """One problem, with the fix for this project's client."""

    kind: str
    #: the package, source or setting it is about
    subject: str
    message: str
    fix: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "subject": self.subject, "message": self.message,
                "fix": self.fix}


@dataclass(frozen=True)
class PackageOutcome:
    """One locked package: where the lock says it comes from, where the client took it."""

    name: str
    version: str
    expected_source: str
    #: None when the client's resolution does not contain it
    resolved_source: str | None
    resolved_version: str | None

    @property
    def ok(self) -> bool:
        return (self.resolved_source == self.expected_source
                and self.resolved_version == self.version)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version,
                "expected_source": self.expected_source,
                "resolved_source": self.resolved_source,
                "resolved_version": self.resolved_version, "ok": self.ok}


@dataclass(frozen=True)
class SourceSummary:
    """One source as stood up: where, how it is searched, what the CI gives it (by name)."""

    name: str
    url: str
    role: str
    #: names of the CI variables that give it credentials / a certificate
    credential_variables: tuple[str, ...] = ()
    certificate_variables: tuple[str, ...] = ()
    private_ca: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "role": self.role,
                "credential_variables": list(self.credential_variables),
                "certificate_variables": list(self.certificate_variables),
                "private_ca": self.private_ca}


@dataclass(frozen=True)
class AuditReport:
    """Everything one audit found (see :func:`pytest_privrepo.audit.audit`)."""

    project: Path
    client: str
    client_version: str
    sources: tuple[SourceSummary, ...]
    packages: tuple[PackageOutcome, ...]
    findings: tuple[Finding, ...]
    #: locked packages not served (path, git and url sources): ``(name, why)``
    skipped: tuple[tuple[str, str], ...] = ()
    #: packaging clients' CI variables the client was not given (another client's, or
    #: naming the CI machine's files)
    ignored_variables: tuple[str, ...] = ()
    #: ``{host: number of requests}`` the client sent through the gateway
    requests: tuple[tuple[str, int], ...] = ()
    #: the tail of the client's output (secrets hidden)
    client_output: str = field(default="", repr=False)

    @property
    def clean(self) -> bool:
        return not self.findings

    @property
    def exit_code(self) -> int:
        """0 without findings, 1 with (the CLI's exit status; 2 is an AuditError)."""
        return 0 if self.clean else 1

    def findings_of(self, kind: str) -> list[Finding]:
        if kind not in FINDING_KINDS:
            raise ValueError(f"unknown finding kind {kind!r}: one of {', '.join(FINDING_KINDS)}")
        return [f for f in self.findings if f.kind == kind]

    def package(self, name: str) -> PackageOutcome:
        from ..clients.lockfile import find_package

        return find_package(self.packages, name, "the lock file")

    def assert_clean(self) -> None:
        """Fail with the findings table (each with its fix) unless there is none."""
        if self.findings:
            from .render import render_text

            raise AssertionError(render_text(self))

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": str(self.project),
            "client": self.client,
            "client_version": self.client_version,
            "clean": self.clean,
            "sources": [s.to_dict() for s in self.sources],
            "packages": [p.to_dict() for p in self.packages],
            "findings": [f.to_dict() for f in self.findings],
            "skipped": [{"name": n, "why": w} for n, w in self.skipped],
            "ignored_variables": list(self.ignored_variables),
            "requests": dict(self.requests),
            "client_output": self.client_output,
        }
