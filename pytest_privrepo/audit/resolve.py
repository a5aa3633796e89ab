"""Running the project's own client on the copy, through the stand-up's gateway.

Why the real client: what decides where a package comes from is the client's resolver,
its source priorities and its credential lookup, each of which changed between releases.
The audit only arranges the world (the sources at their URLs, the CI variables); the
client's fresh lock file says what it chose.

Per client (run in a :class:`~pytest_privrepo.clients.env.ClientEnv` routed through the
gateway, so every request is in the egress log and an undeclared host is refused):

- Poetry: ``poetry check --lock`` first (a lock that does not match pyproject.toml is
  refused as stale), then poetry.lock is removed and ``poetry lock`` resolves from scratch
  (1.8.5 and 2.5.1 both lock fresh when there is no lock). Poetry verifies TLS with
  requests, which uses certifi unless ``REQUESTS_CA_BUNDLE`` is set (requests 2.32
  ``sessions.merge_environment_settings``); that variable is this world's default trust
  store for Poetry, and ``certificates.<name>.cert`` still wins where it is set
  (/work/shared/reference/products.md).
- pdm: ``pdm lock --check`` first, then ``pdm lock -S static_urls`` without the old lock
  (static URLs: the fresh lock says which source each file came from); without
  ``PDM_IGNORE_STORED_INDEX``, as in CI (PyPI takes part, see :mod:`.pdm_reader`).
- pip: ``pip install --dry-run --ignore-installed --report`` of requirements.txt (its
  ``--hash`` options removed in the copy: they are the real files' hashes); pip has no
  lock check.
- uv: ``uv lock --check --offline`` first (stale lock), then ``uv lock`` without the old
  lock (:meth:`~pytest_privrepo.clients.uv_project.UvProject.lock`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from ..clients.catalog import PDM_TOOL, PIP_TOOL, POETRY_TOOL, UV_TOOL
from ..clients.env import ClientEnv
from ..clients.pdm_project import PdmProject, parse_pdm_lock
from ..clients.poetry_project import parse_poetry_lock
from ..clients.result import CommandResult
from ..clients.uv_project import UvProject
from ..gateway.hosts import PYPI_SIMPLE_URL
from ..redact import redact
from .errors import AuditError
from .model import PYPI, ProjectModel
from .pip_reader import REQUIREMENTS
from .stage import Stage

__all__ = ["Client", "Resolution", "ResolvedPackage", "resolve"]

#: Lines of the client's output a finding quotes (the cause is at the end).
OUTPUT_LINES = 12


@dataclass(frozen=True)
class ResolvedPackage:
    name: str
    version: str
    #: the source name, :data:`~pytest_privrepo.audit.model.PYPI`, or the URL when it is
    #: no configured source
    source: str


@dataclass(frozen=True)
class Resolution:
    """What the client chose (empty when it failed) and the tail of what it printed."""

    client: str
    client_version: str
    ok: bool
    packages: tuple[ResolvedPackage, ...]
    #: the client's last lines, with every CI secret hidden
    output: str
    command: str


def _tail(result: CommandResult, secrets: list[str]) -> str:
    lines = [line for line in redact(result.output, secrets).splitlines() if line.strip()]
    return "\n".join(lines[-OUTPUT_LINES:])


def _source_by_url(model: ProjectModel, url: str | None) -> str:
    if url is None:
        return PYPI
    wanted = url.rstrip("/")
    for source in model.sources:
        if source.url.rstrip("/") == wanted:
            return source.name
    if wanted == PYPI_SIMPLE_URL:
        return PYPI
    return wanted


def _origin(model: ProjectModel, urls: Iterable[str | None]) -> str:
    """The one source the files at ``urls`` came from, else the URLs themselves."""
    found = {model.source_for_url(u) or u for u in urls if u}
    return found.pop() if len(found) == 1 else ", ".join(sorted(found)) or "unknown"


#: pip verifies TLS with the system trust store (truststore, which reads SSL_CERT_FILE on
#: Linux) from 24.2; older pips use their vendored certifi bundle unless --cert /
#: PIP_CERT names another (pip 24.2 release notes; checked with pip 23.2 here: without
#: PIP_CERT it fails "unable to get local issuer certificate" on the stand-up).
TRUSTSTORE_PIP = Version("24.2")

_HASH = re.compile(r"\s+--hash[=\s]\S+")


def _pip(model: ProjectModel, stage: Stage, env: ClientEnv, copy: Path,
         client: Client, secrets: list[str], say: Callable[[str], None]) -> Resolution:
    pip = PIP_TOOL.obtain(env, client.version, explicit=client.explicit,
                          cache_dir=client.cache_dir)
    found = pip.version()
    if pip.release < TRUSTSTORE_PIP:
        env.set(PIP_CERT=stage.gateway.trust_bundle)  # that pip's default store: certifi
    # the pinned hashes are those of the real files; the stand-up serves synthetic ones
    for file in copy.rglob("*.txt"):
        text = file.read_text(encoding="utf-8", errors="replace")
        file.unlink()  # a new file, never through a link
        file.write_text(_HASH.sub("", text.replace("\\\n", " ")), encoding="utf-8")
    say(f"resolving with `pip install --dry-run --report` (pip {found})")
    result = pip.install(["-r", str(copy / REQUIREMENTS)], dry_run=True, check=False)
    packages = tuple(ResolvedPackage(p.name, p.version, _origin(model, [p.url]))
                     for p in result.installed)
    return Resolution("pip", found, result.ok, packages, _tail(result.command, secrets),
                      "pip install --dry-run")


def _stale(model: ProjectModel, result: CommandResult, secrets: list[str], hint: str) -> AuditError:
    return AuditError(
        f"{model.root / model.lockfile}: the lock file does not match "
        f"{model.root / 'pyproject.toml'} (the lock is stale: {hint}); the client said:\n"
        f"{_tail(result, secrets)}"
    )


def _poetry(model: ProjectModel, stage: Stage, env: ClientEnv, copy: Path,
            client: Client, secrets: list[str], say: Callable[[str], None]) -> Resolution:
    poetry = POETRY_TOOL.obtain(env, client.version, explicit=client.explicit,
                                cache_dir=client.cache_dir)
    env.set(REQUESTS_CA_BUNDLE=stage.gateway.trust_bundle)
    found = poetry.version()
    say(f"checking poetry.lock against pyproject.toml with poetry {found}")
    check = poetry.run("check", "--lock", cwd=copy, check=False)
    if not check.ok:
        raise _stale(model, check, secrets, "run `poetry lock` and commit poetry.lock")
    (copy / "poetry.lock").unlink()
    say(f"resolving with `poetry lock` (poetry {found})")
    result = poetry.run("lock", cwd=copy, check=False)
    packages: list[ResolvedPackage] = []
    if result.ok:
        for pkg in parse_poetry_lock(copy / "poetry.lock").packages:
            if pkg.source_type not in (None, "legacy"):
                continue
            configured = model.source(pkg.source) if pkg.source is not None else None
            if pkg.source is None or (configured is not None and configured.is_pypi):
                source = PYPI
            elif configured is not None:
                source = configured.name
            else:
                source = _source_by_url(model, pkg.source_url)
            packages.append(ResolvedPackage(pkg.name, pkg.version, source))
    return Resolution("poetry", found, result.ok, tuple(packages), _tail(result, secrets),
                      "poetry lock")


def _uv(model: ProjectModel, stage: Stage, env: ClientEnv, copy: Path,
        client: Client, secrets: list[str], say: Callable[[str], None]) -> Resolution:
    uv = UV_TOOL.obtain(env, client.version, explicit=client.explicit,
                        cache_dir=client.cache_dir)
    project = UvProject(copy, uv)
    found = uv.version()
    say(f"checking uv.lock against pyproject.toml with uv {found}")
    check = project.run("lock", "--check", "--offline", "--python", sys.executable,
                        "--no-progress", check=False)
    if not check.ok:
        raise _stale(model, check, secrets, "run `uv lock` and commit uv.lock")
    say(f"resolving with `uv lock` (uv {found})")
    lock = project.lock(check=False)
    packages = tuple(ResolvedPackage(p.name, p.version or "", _source_by_url(model, p.registry))
                     for p in lock.packages if p.registry is not None)
    return Resolution("uv", found, lock.command.ok, packages, _tail(lock.command, secrets),
                      "uv lock")


def _pdm(model: ProjectModel, stage: Stage, env: ClientEnv, copy: Path,
         client: Client, secrets: list[str], say: Callable[[str], None]) -> Resolution:
    pdm = PDM_TOOL.obtain(env, client.version, explicit=client.explicit,
                          cache_dir=client.cache_dir)
    project = PdmProject(copy, pdm)
    found = pdm.version()
    # the runner hides stored sources (PDM_IGNORE_STORED_INDEX=1); CI does not, so PyPI
    # takes part as it does there, unless the CI variables set it themselves
    ci = {"PDM_IGNORE_STORED_INDEX": env.vars.get("PDM_IGNORE_STORED_INDEX")}
    say(f"checking pdm.lock against pyproject.toml with pdm {found}")
    check = project.run("lock", "--check", check=False, extra_env=ci)
    if not check.ok:
        raise _stale(model, check, secrets, "run `pdm lock` and commit pdm.lock")
    (copy / "pdm.lock").unlink()
    say(f"resolving with `pdm lock -S static_urls` (pdm {found})")
    result = project.run("lock", "-S", "static_urls", check=False, extra_env=ci)
    packages: list[ResolvedPackage] = []
    if result.ok:
        for pkg in parse_pdm_lock(copy / "pdm.lock"):
            packages.append(ResolvedPackage(pkg.name, pkg.version, _origin(model, pkg.urls)))
    return Resolution("pdm", found, result.ok, tuple(packages), _tail(result, secrets),
                      "pdm lock")


_RESOLVERS = {"poetry": _poetry, "uv": _uv, "pdm": _pdm, "pip": _pip}


@dataclass(frozen=True)
class Client:
    """Which executable of the project's client to run: an exact ``version`` provisioned
    into ``cache_dir``, an ``explicit`` path, or (neither) the installed one."""

    version: str | None = None
    explicit: str | None = None
    cache_dir: Path | None = None

    def describe(self, name: str) -> str:
        return (f"{name} {self.version}" if self.version else
                f"{name} at {self.explicit}" if self.explicit else f"the installed {name}")


def resolve(model: ProjectModel, stage: Stage, *, work: Path, copy: Path,
            variables: Mapping[str, str], client: Client,
            secrets: list[str], say: Callable[[str], None]) -> Resolution:
    """Run ``model.client`` on ``copy`` with the CI ``variables``; the fresh resolution."""
    env = ClientEnv(work / "client-env", gateway=stage.gateway)
    env.set(dict(variables))
    say(f"getting {client.describe(model.client)}")
    return _RESOLVERS[model.client](model, stage, env, copy, client, secrets, say)


