"""The clients the harness can run, and the one rule for getting each: find it or provision it.

Why one table: every client is obtained the same way (an explicit path, else one
found next to the running interpreter or on ``PATH``, else an exact version installed into
a cached virtualenv), and pytest options, environment variables, ini keys, tox factors and
the fixtures are all derived from the same names. Adding a client is one :class:`ClientTool`
entry, not seven places to keep in step.

``client_tool("uv").obtain(env, version=None, cache_dir=...)`` works without pytest; the
plugin's fixtures call exactly that.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from packaging.version import InvalidVersion, Version

from pytest_privrepo.clients import flit as _flit
from pytest_privrepo.clients import pdm as _pdm
from pytest_privrepo.clients.env import ClientEnv
from pytest_privrepo.clients.flit import Flit
from pytest_privrepo.clients.hatch import Hatch
from pytest_privrepo.clients.pdm import Pdm
from pytest_privrepo.clients.pip import Pip
from pytest_privrepo.clients.poetry import Poetry
from pytest_privrepo.clients.provision import find_executable, provision
from pytest_privrepo.clients.twine import Twine
from pytest_privrepo.clients.uv import Uv
from pytest_privrepo.clients.venv import make_venv
from pytest_privrepo.errors import ConfigError

__all__ = [
    "FLIT_TOOL",
    "HATCH_TOOL",
    "LATEST",
    "PDM_TOOL",
    "PIP_TOOL",
    "POETRY_TOOL",
    "TOOLS",
    "TWINE_TOOL",
    "UV_TOOL",
    "Choice",
    "ClientTool",
    "client_tool",
    "parse_versions",
]

#: The version word that means "the newest release, provisioned once and then cached".
LATEST = "latest"


def _pip_runner(exe: Path, env: ClientEnv) -> Pip:
    # pip installs into a fresh venv of the test's own, never into the environment it runs
    # from (which is usually the test runner's venv).
    return Pip(env, make_venv(env.root / "pip-target", env=env), pip=exe)


def _no_extras(version: str | None) -> tuple[str, ...]:
    return ()


#: The harness class a :class:`ClientTool` makes (:class:`Pip`, :class:`Uv`, ...).
R = TypeVar("R")


@dataclass(frozen=True)
class ClientTool(Generic[R]):
    """One client: its distribution name, its script, and the harness class that runs it.

    Generic in that class, so ``UV_TOOL.obtain(env)`` is typed as a :class:`Uv`."""

    name: str
    runner: Callable[[Path, ClientEnv], R]
    extras: Callable[[str | None], tuple[str, ...]] = field(default=_no_extras)

    # -- the names users type --------------------------------------------------------------
    @property
    def option(self) -> str:
        """``--privrepo-<name>=PATH``: the executable to use."""
        return f"--privrepo-{self.name}"

    @property
    def versions_option(self) -> str:
        """``--privrepo-<name>-versions=V1,V2``: run the tests once per provisioned version."""
        return f"--privrepo-{self.name}-versions"

    @property
    def env_var(self) -> str:
        return f"PRIVREPO_{self.name.upper()}"

    @property
    def versions_env_var(self) -> str:
        return f"PRIVREPO_{self.name.upper()}_VERSIONS"

    @property
    def ini(self) -> str:
        return f"privrepo_{self.name}"

    @property
    def versions_ini(self) -> str:
        return f"privrepo_{self.name}_versions"

    # -- getting the executable -------------------------------------------------------------
    def find(self, explicit: str | None = None, *, source: str | None = None) -> Path:
        """An installed client: ``explicit`` (or ``$PRIVREPO_<NAME>``), else next to the
        running interpreter (a test extra installs it there), else on ``PATH``. ``source``
        names where ``explicit`` came from, for the error message."""
        return find_executable(self.name, explicit, self.env_var, source=source,
                               search_first=[Path(sys.executable).parent])

    def test_id(self, version: str) -> str:
        """The test id part for one version: ``uv0.13.9``, ``hatch-latest``."""
        return f"{self.name}-{version}" if version == LATEST else f"{self.name}{version}"

    def choose(self, *, option: str | None, versions_option: str | None,
               environ: Mapping[str, str], ini: str | None, versions_ini: str | None,
               ini_dir: Path | None = None, option_names: tuple[str, str] | None = None) -> Choice:
        """What the user asked for, from the command line, the environment and the ini file.

        Each of "executable" and "versions" is taken from the first level that sets it
        (command line, then environment, then ini). When both are set, the one from the
        stronger level wins and the other is dropped: ``--privrepo-pdm=PATH`` on the command
        line beats versions from the ini file, and ``$PRIVREPO_PDM_VERSIONS`` beats an ini
        executable. Both on the same level is ambiguous: a :class:`ConfigError`.
        ``option_names`` are the (executable, versions) option spellings for messages, when
        the caller is not pytest (``privrepo demo`` has ``--poetry`` / ``--poetry-version``).
        """
        option_name, versions_option_name = option_names or (self.option, self.versions_option)
        def first(*levels: tuple[str | None, str]) -> tuple[str, str, int] | None:
            for rank, (value, source) in enumerate(levels):
                if value:
                    return value, source, rank
            return None

        exe = first((option, option_name), (environ.get(self.env_var), f"${self.env_var}"),
                    (ini, f"ini key {self.ini}"))
        versions = first((versions_option, versions_option_name),
                         (environ.get(self.versions_env_var), f"${self.versions_env_var}"),
                         (versions_ini, f"ini key {self.versions_ini}"))
        if exe and versions:
            if exe[2] == versions[2]:
                raise ConfigError(
                    f"{exe[1]} and {versions[1]} both choose a {self.name}: give one of them"
                )
            if exe[2] < versions[2]:
                versions = None
            else:
                exe = None
        executable = None
        if exe is not None:
            value = exe[0]
            if exe[2] == 2 and ini_dir is not None and os.sep in value:
                value = os.fspath(ini_dir / Path(value).expanduser())  # relative to the ini
            executable = (value, exe[1])
        return Choice(
            executable=executable,
            versions=tuple(parse_versions(versions[0], source=versions[1])) if versions else (),
            versions_source=versions[1] if versions else None,
        )

    def provision(self, version: str, *, cache_dir: str | os.PathLike[str],
                  progress: Callable[[str], None] | None = None,
                  alternative: str | None = None) -> Path:
        """``version`` (exact, or ``"latest"``) installed into a cached virtualenv.

        ``alternative`` is the failure hint naming how to skip provisioning; by default the
        plugin's own ``--privrepo-<name>=PATH`` / ``$PRIVREPO_<NAME>``."""
        exact = None if version == LATEST else version
        if alternative is None:
            alternative = (f"use an installed {self.name}: pass {self.option}=PATH "
                           f"or set ${self.env_var}")
        return provision(self.name, exact, cache_dir=cache_dir, extra_packages=self.extras(exact),
                         progress=progress, alternative=alternative)

    def executable(self, version: str | None = None, *, explicit: str | None = None,
                   source: str | None = None,
                   cache_dir: str | os.PathLike[str] | None = None) -> Path:
        """Provisioned when a ``version`` is asked for, else found."""
        if version is None:
            return self.find(explicit, source=source)
        if cache_dir is None:
            raise ConfigError(f"provisioning {self.name} {version} needs a cache_dir")
        return self.provision(version, cache_dir=cache_dir)

    def obtain(self, env: ClientEnv, version: str | None = None, *, explicit: str | None = None,
               source: str | None = None,
               cache_dir: str | os.PathLike[str] | None = None) -> R:
        """The harness object (:class:`Pip`, :class:`Uv`, ...) running this client in ``env``."""
        exe = self.executable(version, explicit=explicit, source=source, cache_dir=cache_dir)
        return self.runner(exe, env)


@dataclass(frozen=True)
class Choice:
    """One client's configuration for a test run (see :meth:`ClientTool.choose`)."""

    #: ``(path or name, where it was set)``, or None: look next to Python and on PATH
    executable: tuple[str, str] | None
    #: versions every test using the fixture runs with (empty: not parametrized)
    versions: tuple[str, ...]
    versions_source: str | None


POETRY_TOOL: ClientTool[Poetry] = ClientTool("poetry", lambda exe, env: Poetry(env, exe))
PIP_TOOL: ClientTool[Pip] = ClientTool("pip", _pip_runner)
UV_TOOL: ClientTool[Uv] = ClientTool("uv", lambda exe, env: Uv(env, exe))
PDM_TOOL: ClientTool[Pdm] = ClientTool("pdm", lambda exe, env: Pdm(env, exe),
                                       extras=_pdm.provision_extras)
TWINE_TOOL: ClientTool[Twine] = ClientTool("twine", lambda exe, env: Twine(env, exe))
HATCH_TOOL: ClientTool[Hatch] = ClientTool("hatch", lambda exe, env: Hatch(env, exe))
FLIT_TOOL: ClientTool[Flit] = ClientTool("flit", lambda exe, env: Flit(env, exe),
                                         extras=_flit.provision_extras)

#: Every client the plugin has a fixture for, by fixture name.
TOOLS: dict[str, ClientTool[Any]] = {
    tool.name: tool
    for tool in (POETRY_TOOL, PIP_TOOL, UV_TOOL, PDM_TOOL, TWINE_TOOL, HATCH_TOOL, FLIT_TOOL)
}


def client_tool(name: str) -> ClientTool[Any]:
    """The :class:`ClientTool` called ``name``; a clear error for an unknown one."""
    try:
        return TOOLS[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown client {name!r}: use one of {', '.join(TOOLS)}"
        ) from None


def parse_versions(text: str, *, source: str) -> list[str]:
    """``"1.8.5, 2.5.1"`` -> ``["1.8.5", "2.5.1"]``; each an exact version or ``latest``.

    ``source`` names where the text came from (an option, variable or ini key), so a typo is
    reported where the user made it.
    """
    versions: list[str] = []
    for raw in text.split(","):
        value = raw.strip()
        if not value:
            continue
        if value != LATEST:
            try:
                version = Version(value)
            except InvalidVersion:
                version = None
            if version is None or version.local is not None:
                raise ConfigError(
                    f"{source}: {value!r} is not a version (use exact versions such as "
                    f"'1.8.5', or {LATEST!r})"
                )
            value = str(version)  # "v2.29.03" and "2.29.3" are one version, one venv
        if value not in versions:
            versions.append(value)
    if not versions:
        raise ConfigError(f"{source}: no versions in {text!r}")
    return versions
