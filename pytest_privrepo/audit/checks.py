"""From evidence to findings: the lock, the client's fresh resolution and the egress log.

Why both static and observed findings: a misnamed credential variable is visible in the
names alone, but what it *costs* (a 401 and a failed lock, or PyPI's package taken
instead) only shows when the real client runs; each finding says what was seen and the
fix for this project's client.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Mapping

from packaging.utils import canonicalize_name

from ..gateway.hosts import PYPI_HOSTS
from .credentials import SourceAccess
from .model import PYPI, LockedPackage, ProjectModel, Source
from .pdm_reader import pdm_pin_fix
from .pip_reader import pip_fix
from .poetry_reader import pin_fix
from .report import Finding, PackageOutcome
from .resolve import Resolution
from .stage import Stage
from .uv_reader import UNNAMED_ROLES, uv_pin_fix

__all__ = ["collect_findings", "package_outcomes"]

_CLIENT = {"poetry": "Poetry", "uv": "uv", "pdm": "pdm", "pip": "pip"}
_PIN_FIX = {"poetry": pin_fix, "uv": uv_pin_fix, "pdm": pdm_pin_fix,
            "pip": lambda source, packages: pip_fix(source)}
_EXPLICIT = {"poetry": '(priority = "explicit")', "uv": "(explicit = true)",
             "pdm": "(include_packages on it, exclude_packages for the rest)",
             "pip": "(pip cannot: use one index)"}


def _fix_pin(model: ProjectModel, source: str, packages: list[LockedPackage]) -> str:
    configured = model.source(source)
    if model.client == "uv" and configured is not None and configured.role in UNNAMED_ROLES:
        return uv_pin_fix(source, packages, unnamed=True)
    return _PIN_FIX[model.client](source, packages)


def _no_variables_fix(model: ProjectModel, source: Source) -> str:
    """How to give a source credentials when the client reads no variable for it."""
    if model.client == "uv":
        return uv_pin_fix(source.name, [], unnamed=True)
    return ('name the CI variables in its url: url = "https://${USERNAME_VARIABLE}:'
            '${PASSWORD_VARIABLE}@' + source.location.netloc + source.location.prefix
            + '/simple" (or pass the source as anonymous if the index really is open)')


def package_outcomes(model: ProjectModel, resolution: Resolution) -> list[PackageOutcome]:
    resolved: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for got in resolution.packages:
        resolved[canonicalize_name(got.name)].append((got.version, got.source))
    out = []
    for pkg in model.packages:
        found = resolved.get(pkg.key, [])
        match = next((f for f in found if f[0] == pkg.version), found[0] if found else None)
        out.append(PackageOutcome(pkg.name, pkg.version, pkg.source,
                                  match[1] if match else None, match[0] if match else None))
    return out


def collect_findings(model: ProjectModel, access: Mapping[str, SourceAccess], stage: Stage,
                     resolution: Resolution, outcomes: list[PackageOutcome],
                     anonymous: Collection[str] = ()) -> list[Finding]:
    client = _CLIENT[model.client]
    findings: list[Finding] = []
    records = list(stage.egress)
    by_key = {p.key: p for p in model.packages}

    # -- what the client chose -----------------------------------------------------------
    if not resolution.ok:
        findings.append(Finding(
            "resolution-failed", model.lockfile,
            f"`{resolution.command}` failed with the project's CI settings; {client} said:\n"
            f"{resolution.output}",
            "fix the other findings (credentials, certificates, sources): the lock must "
            "resolve from the sources as CI sees them"))
    else:
        for outcome in outcomes:
            if outcome.ok:
                continue
            pkg = by_key[canonicalize_name(outcome.name)]
            if outcome.resolved_source is None:
                findings.append(Finding(
                    "unresolved", outcome.name,
                    f"{outcome.name} {outcome.version} is locked from {outcome.expected_source} "
                    f"but {client} no longer resolves it",
                    "the dependency that needed it now comes from elsewhere: see the other "
                    "findings"))
                continue
            fix = (_fix_pin(model, pkg.source, [pkg]) if pkg.source != PYPI else
                   f"make source {outcome.resolved_source!r} serve only what is pinned to it "
                   + _EXPLICIT[model.client])
            findings.append(Finding(
                "wrong-source", outcome.name,
                f"locked {outcome.version} from {outcome.expected_source}, {client} resolved "
                f"{outcome.resolved_version} from {outcome.resolved_source}",
                fix))

    # -- where the requests went --------------------------------------------------------
    internal = {p.key: p for p in model.internal}
    asked: Counter[str] = Counter()
    for record in records:
        if record.host in PYPI_HOSTS and record.project in internal:
            asked[record.project] += 1  # type: ignore[index]
    for project, count in sorted(asked.items()):
        pkg = internal[project]
        findings.append(Finding(
            "internal-name-asked-of-pypi", pkg.name,
            f"{client} asked PyPI for {pkg.name} ({count} request{'s' * (count != 1)}), a "
            f"package of source {pkg.source}: anyone who registers the name on PyPI is asked too",
            _fix_pin(model, pkg.source, [pkg])))

    leaks: Counter[tuple[str, str]] = Counter()
    for record in records:
        if record.credentials_of and record.index not in record.credentials_of:
            for owner in sorted(record.credentials_of):
                leaks[(stage.source_of(owner) or owner, f"{record.host}:{record.port}")] += 1
    for (owner, where), count in sorted(leaks.items()):
        findings.append(Finding(
            "credential-leak", owner,
            f"the credentials of source {owner} were sent to {where} ({count} request"
            f"{'s' * (count != 1)}), which is not that source",
            "give each host its own credentials and keep the source's files under its URL"))

    refused: Counter[str] = Counter()
    for record in records:
        if record.refused:
            refused[f"{record.host}:{record.port}"] += 1
    for where, count in sorted(refused.items()):
        findings.append(Finding(
            "undeclared-host", where,
            f"{client} asked {where} ({count} request{'s' * (count != 1)}), which is none of "
            "the project's sources: in CI that request leaves for a host the project does "
            "not name",
            "declare it as a source, or remove what points there (an extra index, a file URL)"))

    # -- credentials and certificates -----------------------------------------------------
    for source in model.private_sources:
        plan = access[source.name]
        index = stage.indexes[source.name]
        refused_401 = sum(1 for r in records
                          if stage.source_of(r.index) == source.name and r.status == 401)
        seen = (f"; it answered {refused_401} request{'s' * (refused_401 != 1)} of {client} "
                "with 401 (no or wrong credentials)") if refused_401 else ""
        wanted = [plan.expected[r] for r in ("username", "password") if r in plan.expected]
        misnamed = {role: pair for role, pair in plan.misnamed.items()
                    if role in ("username", "password")}
        if misnamed:
            names = "; ".join(f"CI sets {given}, {client} reads {expected}"
                              for given, expected in misnamed.values())
            findings.append(Finding(
                "missing-credentials", source.name,
                f"{client} never reads the credential variables of source {source.name}: "
                f"{names}{seen}",
                "rename " + ", ".join(f"{g} to {e}" for g, e in misnamed.values())))
        elif plan.credentials is None and source.name not in anonymous and not wanted:
            findings.append(Finding(
                "missing-credentials", source.name,
                f"source {source.name} has no credentials in its url and {client} reads no "
                f"variable for it, so it sends none{seen}",
                _no_variables_fix(model, source)))
        elif plan.credentials is None and source.name not in anonymous:
            findings.append(Finding(
                "missing-credentials", source.name,
                f"no CI variable gives source {source.name} credentials ({client} reads "
                f"{' and '.join(wanted)}){seen}",
                f"set {' and '.join(wanted)} in CI (or pass the source as anonymous if the "
                "index really is open)"))
        elif plan.credentials is not None:
            missing = [plan.expected[r] for r in ("username", "password")
                       if r in plan.expected and r not in plan.given]
            if missing:
                findings.append(Finding(
                    "missing-credentials", source.name,
                    f"source {source.name} gets only half of its credentials: "
                    f"{' and '.join(missing)} is not set{seen}",
                    f"set {' and '.join(missing)} in CI"))
        client_cert = plan.misnamed.get("client_cert")
        if client_cert is not None:
            failures = len(index.server.tls_failures)
            findings.append(Finding(
                "missing-certificate", source.name,
                f"source {source.name} requires a client certificate and {client} never "
                f"reads the CI's: CI sets {client_cert[0]}, {client} reads {client_cert[1]}"
                + (f"; {failures} TLS handshake{'s' * (failures != 1)} failed"
                   if failures else ""),
                f"rename {client_cert[0]} to {client_cert[1]}"))
        if source.location.host in stage.private_ca_hosts and model.client == "poetry":
            cert = plan.expected.get("cert")
            given = plan.given.get("cert")
            if given != cert:
                failures = len(index.server.tls_failures)
                what = (f"CI sets {given}, Poetry reads {cert}" if given else f"{cert} is not set")
                findings.append(Finding(
                    "missing-certificate", source.name,
                    f"{source.location.host} has a private CA (another source on it has a "
                    f"certificate configured) but source {source.name} has none: {what}"
                    + (f"; {failures} TLS handshake{'s' * (failures != 1)} failed"
                       if failures else ""),
                    f"set {cert} to the CA certificate of {source.location.host}"))

    # -- settings that depend on version numbers ------------------------------------------
    for setting in model.risky:
        findings.append(Finding(
            "version-dependent-setting", setting.where,
            f"{setting.value}: {setting.why}", setting.fix))
    return findings
