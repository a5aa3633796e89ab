"""``audit(project_dir)``: the whole audit of one project, as one library call.

Why one entry point: the CLI (``privrepo audit``), the ``privrepo_audit`` fixture and a
user's own test all need the same sequence: detect the client, read the project, copy it
(the project is never modified: every run happens in a temporary copy, removed at the end,
failures included), stand up the sources, run the client, compare, report.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from ..clients.provision import default_cache_dir
from ..errors import ClientError, ConfigError
from ..gateway.hosts import PYPI_HOSTS
from ..redact import is_credential_variable
from .checks import collect_findings, package_outcomes
from .ci_env import client_variables
from .credentials import plan_access
from .errors import AuditError
from .model import ProjectModel
from .pdm_reader import read_pdm_project
from .pip_reader import read_pip_project
from .poetry_reader import read_poetry_project
from .report import AuditReport, SourceSummary
from .resolve import Client, resolve
from .stage import Stage
from .toml_files import read_toml
from .uv_reader import read_uv_project

__all__ = ["CLIENTS", "audit", "detect_client", "read_project"]

#: The clients an audit can drive, with the lock file that identifies each.
CLIENTS: dict[str, str] = {"poetry": "poetry.lock", "uv": "uv.lock", "pdm": "pdm.lock",
                           "pip": "requirements.txt"}

_READERS: dict[str, Callable[[Path, Mapping[str, str], Collection[str]], ProjectModel]] = {
    "poetry": lambda root, env, internal: read_poetry_project(root),
    "uv": lambda root, env, internal: read_uv_project(root),
    "pdm": lambda root, env, internal: read_pdm_project(root),
    "pip": read_pip_project,
}

#: Never copied: virtualenvs, VCS data and caches (large, and no client reads them to lock).
_IGNORED = shutil.ignore_patterns(".git", ".hg", ".venv", "venv", ".tox", ".nox",
                                  "node_modules", "__pycache__", ".mypy_cache",
                                  ".pytest_cache", ".ruff_cache")


def detect_client(root: Path, client: str | None = None) -> str:
    """``client`` checked, or the one whose lock file ``root`` has."""
    if client is not None:
        if client in CLIENTS:
            return client
        raise AuditError(f"unknown client {client!r}: use one of {', '.join(CLIENTS)}")
    found = [name for name, lock in CLIENTS.items() if (root / lock).exists()]
    if len(found) > 1 and "pip" in found:
        found.remove("pip")  # a requirements.txt exported next to the client's own lock
    if len(found) == 1:
        return found[0]
    if found:
        raise AuditError(f"{root} has {' and '.join(CLIENTS[c] for c in found)}: choose the "
                         f"client with client= (--client {'|'.join(found)})")
    tool = _tool_tables(root)
    by_config = [name for name in CLIENTS if name in tool]
    if len(by_config) == 1:
        return by_config[0]  # its reader names the missing lock file
    raise AuditError(f"{root} has no {' or '.join(CLIENTS.values())}: nothing tells which "
                     "client locks it (commit the lock file, or pass client=)")


def _tool_tables(root: Path) -> dict[str, object]:
    """pyproject.toml's ``[tool]`` table, or {} when there is none that reads."""
    try:
        data = read_toml(root / "pyproject.toml", what="pyproject.toml")
    except AuditError:
        return {}
    tool = data.get("tool")
    return tool if isinstance(tool, dict) else {}


def read_project(project_dir: str | os.PathLike[str], client: str | None = None, *,
                 env: Mapping[str, str] | None = None,
                 internal: Collection[str] = ()) -> ProjectModel:
    """The project's sources and lock as the audit reads them (nothing runs); ``env`` and
    ``internal`` as for :func:`audit` (pip reads its indexes from both file and CI)."""
    root = Path(project_dir).absolute()
    if not root.is_dir():
        raise AuditError(f"{root} is not a directory")
    return _READERS[detect_client(root, client)](root, env or {}, internal)


def _check_env(env: Mapping[str, str] | None) -> dict[str, str]:
    if env is None:
        return {}
    if not isinstance(env, Mapping):
        raise AuditError(f"env must be a mapping of CI variable names to values, not "
                         f"{type(env).__name__}")
    out = {}
    for name, value in env.items():
        if not isinstance(name, str) or not name or "=" in name or "\0" in name:
            raise AuditError(f"env: {name!r} is not a variable name")
        if not isinstance(value, str):
            raise AuditError(f"env: the value of {name} must be a string, not "
                             f"{type(value).__name__}")
        out[name] = value
    return out


def audit(
    project_dir: str | os.PathLike[str],
    *,
    client: str | None = None,
    client_version: str | None = None,
    executable: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    anonymous: Collection[str] = (),
    internal: Collection[str] = (),
) -> AuditReport:
    """Audit the project in ``project_dir`` with its real client; return the report.

    ``client``: ``"poetry"``, ``"uv"``, ``"pdm"`` or ``"pip"`` (default: the one whose lock
    file is there: poetry.lock, uv.lock, pdm.lock, else requirements.txt);
    ``client_version``: an exact version (or ``"latest"``) provisioned into ``cache_dir``
    (default: pytest-privrepo's cache); ``executable``: that client's executable instead;
    with neither, the installed client (next to this Python or on PATH); ``env``: the CI
    variables (names and values, as an env file has them); ``progress``: called with one
    line per step; ``anonymous``: private sources that really are open (no
    missing-credentials finding for them); ``internal``: fnmatch patterns of the internal
    package names, for pip, whose requirements file does not say where a package is from.

    Raises :class:`AuditError` when there is nothing sound to audit; a wrong setup is a
    finding in the report, never an exception. The project is never written to.
    """
    say = progress or (lambda line: None)
    variables = _check_env(env)
    root = Path(project_dir).absolute()
    say(f"reading {root}")
    model = read_project(root, client, env=variables, internal=internal)
    unknown = set(anonymous) - {s.name for s in model.private_sources}
    if unknown:
        raise AuditError(f"anonymous= names no private source of the project: "
                         f"{', '.join(sorted(unknown))}")
    access = plan_access(model, variables)
    secrets = [v for name, v in variables.items() if v and is_credential_variable(name)]
    secrets += [a.password for a in access.values() if a.password]  # whatever the name
    if client_version is not None and executable is not None:
        raise AuditError("give client_version= or executable=, not both")
    if client_version is not None and cache_dir is None:
        cache_dir = default_cache_dir()
    which = Client(client_version, os.fspath(executable) if executable is not None else None,
                   Path(cache_dir) if cache_dir is not None else None)
    with tempfile.TemporaryDirectory(prefix="privrepo-audit-") as tmp:
        work = Path(tmp)
        copy = work / "project"
        # symlinks are copied as files: the copy is written to (a fresh lock, pip's
        # requirements without hashes) and must never write through to the project
        shutil.copytree(root, copy, ignore=_IGNORED, symlinks=False)
        with Stage(work / "stage") as stage:
            for source in model.private_sources:
                say(f"standing up {source.name} at {source.url}")
            try:
                stage.stand_up(model, access)
            except ConfigError as exc:
                raise AuditError(str(exc)) from None
            say(f"serving {len(model.packages)} locked packages")
            passed = client_variables(model.client, variables, access, stage)
            try:
                resolution = resolve(model, stage, work=work, copy=copy,
                                     variables=passed.variables, client=which,
                                     secrets=secrets, say=say)
            except (ClientError, ConfigError) as exc:
                if isinstance(exc, AuditError):
                    raise
                raise AuditError(
                    f"cannot run {model.client}: {exc}\n(privrepo audit: name the client "
                    "with --client-path PATH or --client-version V; in Python, executable= "
                    "or client_version=)") from None
            say("comparing the resolution with the lock")
            outcomes = package_outcomes(model, resolution)
            findings = collect_findings(model, access, stage, resolution, outcomes, anonymous)
            hosts: dict[str, int] = {}
            for record in stage.egress:
                hosts[record.host] = hosts.get(record.host, 0) + 1
    summaries = tuple(
        SourceSummary(
            s.name, s.url, s.role,
            credential_variables=tuple(access[s.name].given[r] for r in ("username", "password")
                                       if r in access[s.name].given),
            certificate_variables=tuple(access[s.name].given[r] for r in ("cert", "client_cert")
                                        if r in access[s.name].given),
            private_ca=s.location.host in stage.private_ca_hosts,
        ) for s in model.private_sources)
    return AuditReport(
        project=root, client=model.client, client_version=resolution.client_version,
        sources=summaries, packages=tuple(outcomes), findings=tuple(findings),
        skipped=model.skipped, ignored_variables=passed.ignored,
        requests=tuple(sorted(hosts.items(), key=lambda kv: (kv[0] not in PYPI_HOSTS, kv[0]))),
        client_output=resolution.output,
    )
