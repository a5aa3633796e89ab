"""What every client harness shares: one executable run in one :class:`ClientEnv`.

Why a base class: the seven harnesses (pip, uv, Poetry, pdm, twine, Hatch, flit) each need
the same few things: a constructor ``(env, executable, *, timeout)``, ``run``, the client's
``version()`` (asked once) and its :attr:`~ClientRunner.release`, a version gate that refuses
a too-old client before anything runs, and a check of the ``route=`` a test asked for. Kept
in one place, they read and fail the same way for every client; a subclass says only what
differs (how ``--version`` answers, which routes it has, what ``run`` adds).

Routes: one vocabulary for how a client is handed an index (:data:`Route`): ``cli``
(options), ``env`` (variables), ``file`` (the client's own config file), plus a client's own
extras (``keyring``, ``pypirc``, ``command`` for ``poetry config``, ``url``/``index`` for
``uv publish``). The spellings used before are accepted as aliases (:data:`ROUTE_ALIASES`:
``args``/``options`` for ``cli``, ``config``/``files`` for ``file``).
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import ClassVar, Literal

from packaging.version import InvalidVersion, Version

from pytest_privrepo.clients.env import DEFAULT_TIMEOUT, ClientEnv
from pytest_privrepo.clients.result import CommandResult, parse_release
from pytest_privrepo.errors import ClientError, ConfigError, UnsupportedClient

__all__ = [
    "OWN_TIMEOUT",
    "ROUTE_ALIASES",
    "ClientRunner",
    "Route",
    "check_choice",
    "check_route",
    "option_args",
    "venv_distribution_version",
]

#: How a client gets an index's URL, credentials and certificates. ``cli``, ``env`` and
#: ``file`` mean the same for every client; the rest are one client's own.
Route = Literal["cli", "env", "file", "keyring", "pypirc", "command", "url", "index"]

#: Old route spellings, still accepted: pip's ``args``, uv's ``options`` (both ``cli``), uv's
#: and pdm's ``config`` and Poetry's ``files`` (both ``file``).
ROUTE_ALIASES: Mapping[str, str] = {
    "args": "cli",
    "options": "cli",
    "config": "file",
    "files": "file",
}

#: ``run(timeout=OWN_TIMEOUT)``, the default: the runner's own :attr:`ClientRunner.timeout`
#: (``None`` means no timeout at all, so it cannot stand for "not given").
OWN_TIMEOUT: float = -1.0


def check_choice(what: str, value: object, choices: Sequence[str]) -> None:
    """A :class:`ConfigError` ``unknown <what> <value>: use 'a', 'b' or 'c'`` unless
    ``value`` is one of ``choices``: the one wording for every bad choice of a runner."""
    if value in choices:
        return
    names = ", ".join(repr(c) for c in choices[:-1]) + f" or {choices[-1]!r}"
    raise ConfigError(f"unknown {what} {value!r}: use {names}")


def option_args(
    *options: tuple[str, bool | str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None],
) -> list[str]:
    """Command-line options from ``(flag, value)`` pairs, in order: ``True`` gives the flag
    alone, ``None``/``False`` nothing, a string or path ``flag value``, any other iterable
    ``flag value`` once per item (``--find-links a --find-links b``). The one way the
    install commands turn keyword arguments into options."""
    args: list[str] = []
    for flag, value in options:
        if value is None or value is False:
            continue
        if value is True:
            args.append(flag)
        elif isinstance(value, (str, os.PathLike)):
            args += [flag, os.fspath(value)]
        else:
            for item in value:
                args += [flag, os.fspath(item)]
    return args


def check_route(tool: str, route: str, routes: Sequence[str]) -> str:
    """``route`` in the shared vocabulary (an old spelling mapped by :data:`ROUTE_ALIASES`),
    or a :class:`ConfigError` listing ``routes``, the routes ``tool`` has there."""
    canonical = ROUTE_ALIASES.get(route, route) if isinstance(route, str) else route
    check_choice(f"{tool} route", canonical, routes)
    return canonical


def venv_distribution_version(executable: Path, distribution: str) -> str | None:
    """The version of ``distribution`` in the venv whose ``bin`` holds ``executable``, or
    None (not in a venv: a system package, a wrapper script; none or several found).

    The path is tried as given and with links resolved: a venv's ``bin/python`` links to
    the base interpreter, while pipx links ``~/.local/bin/poetry`` into its venv.
    """
    for candidate in dict.fromkeys((executable.absolute(), executable.resolve())):
        venv = candidate.parent.parent
        if not (venv / "pyvenv.cfg").is_file():
            continue
        paths = [str(p) for pattern in ("lib/python*/site-packages", "Lib/site-packages")
                 for p in venv.glob(pattern)]
        found = {dist.version for dist in importlib.metadata.distributions(name=distribution, path=paths)}
        return found.pop() if len(found) == 1 else None
    return None


class ClientRunner:
    """One client executable run in an isolated :class:`ClientEnv`.

    ``executable`` is a path (checked to exist when :attr:`must_exist`) or, for clients that
    start as ``python -m ...``, an argv prefix; :attr:`command` is the argv every run starts
    with. ``timeout`` is how long one command may run before it is killed (a process
    timeout: a client's own network timeout has its own name, e.g. ``Pip.network_timeout``).
    """

    #: the client's name, for messages (``pip``, ``uv``, ...)
    tool: ClassVar[str] = "client"
    #: seconds one command may run, unless the constructor says otherwise
    default_timeout: ClassVar[float] = DEFAULT_TIMEOUT
    #: refuse an executable path that does not exist (those found by name on PATH pass)
    must_exist: ClassVar[bool] = True
    #: the arguments that make the client print its version
    version_args: ClassVar[tuple[str, ...]] = ("--version",)
    #: the distribution whose metadata gives the version without starting the client
    #: (default: :attr:`tool`); None: always ask the client
    distribution: ClassVar[str | None] = None
    #: where the client finds its default trust store, which in an environment routed
    #: through a gateway is the gateway's public CA (so it trusts the PyPI stand-in as it
    #: trusts PyPI): ``"ssl"``, OpenSSL's default paths (``SSL_CERT_FILE``, which the
    #: ClientEnv sets: pip's truststore, uv, pdm, Hatch); ``"certifi"``, requests' certifi
    #: (:meth:`ClientEnv.certifi_store <pytest_privrepo.clients.env.ClientEnv.certifi_store>`
    #: first on ``PYTHONPATH``: Poetry, twine, flit). Explicit CA settings win either way.
    trust_store: ClassVar[str] = "ssl"

    def __init__(
        self,
        env: ClientEnv,
        executable: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        timeout: float | None = None,
    ) -> None:
        if isinstance(executable, (str, os.PathLike)):
            command = [os.fspath(executable)]
        else:
            command = [os.fspath(part) for part in executable]
            if not command:
                raise ConfigError(f"{self.tool}: the command must not be empty")
        self.env = env
        #: the argv prefix of every run (the executable, or e.g. ``python -m pip``)
        self.command: list[str] = command
        self.executable = Path(command[0])
        if self.must_exist and not self.executable.exists():
            raise ConfigError(f"{self.tool} executable {self.executable} does not exist")
        self.timeout: float | None = self.default_timeout if timeout is None else timeout
        self._version: str | None = None

    @property
    def exe(self) -> str:
        """The executable as a string (the name some harnesses used for it); settable, to
        run another program with this client's environment (a new list: a copy of the
        runner never changes the original's command)."""
        return self.command[0]

    @exe.setter
    def exe(self, value: str | os.PathLike[str]) -> None:
        self.command = [os.fspath(value), *self.command[1:]]
        self.executable = Path(self.command[0])

    # -- running ----------------------------------------------------------------------------
    def argv(self, *args: str | os.PathLike[str]) -> list[str]:
        """The full command line for ``<client> <args>``."""
        return [*self.command, *(os.fspath(a) for a in args)]

    def run_env(self) -> dict[str, str | os.PathLike[str] | None]:
        """Variables every run of this client gets (on top of the ClientEnv's): for a
        ``"certifi"`` :attr:`trust_store` in a routed environment, ``PYTHONPATH`` starting
        with the public-CA certifi (a ``PYTHONPATH`` the test set follows it)."""
        store = self.env.certifi_store() if self.trust_store == "certifi" else None
        if store is None:
            return {}
        return {"PYTHONPATH": os.pathsep.join(
            [str(store), *filter(None, [self.env.vars.get("PYTHONPATH")])])}

    def run(
        self,
        *args: str | os.PathLike[str],
        cwd: str | os.PathLike[str] | None = None,
        input: str | None = None,
        check: bool = True,
        timeout: float | None = OWN_TIMEOUT,
        extra_env: Mapping[str, str | os.PathLike[str] | None] | None = None,
    ) -> CommandResult:
        """Run ``<client> <args>`` in the isolated environment; with ``check`` a failure
        raises :class:`~pytest_privrepo.errors.ClientError` carrying the result."""
        env = self.run_env()
        env.update(extra_env or {})
        return self.env.run(
            self.argv(*args),
            cwd=cwd,
            input=input,
            check=check,
            timeout=self.timeout if timeout == OWN_TIMEOUT else timeout,
            extra_env=env,
        )

    # -- version ----------------------------------------------------------------------------
    def parse_version(self, words: list[str]) -> str | None:
        """The version in the client's ``--version`` answer (split into words), or None
        when it is not there. Default: the last word."""
        return words[-1] if words else None

    def version(self) -> str:
        """The client's version (found once): from the metadata of the venv its executable
        lives in, else as the client prints it for ``--version``.

        Why the metadata first: starting a client costs 0.1 s (pip) to 1 s (Poetry), and
        a runner asks its version for behaviour that differs by release (pip's IP-host TLS
        quirk, Poetry's project style), so every test paid one extra client start
        (bench/bench_harness.py measured it). Both answers are the same release.
        """
        if self._version is None:
            self._version = self._installed_version()
        if self._version is None:
            out = self.env.run(
                [*self.command, *self.version_args], timeout=self.timeout, extra_env=self.run_env()
            ).stdout
            found = self.parse_version(out.split())
            if not found:
                raise ClientError(f"unexpected `{self.tool} --version` output: {out.strip()!r}")
            self._version = found
        return self._version

    def _installed_version(self) -> str | None:
        """The version of :attr:`distribution` installed in the venv of the executable
        (``<venv>/bin/<tool>``, or ``<venv>/bin/python -m <tool>``), None when the
        executable is not in a venv that holds exactly one such distribution."""
        name = self.distribution or self.tool
        if len(self.command) != 1 and self.command[1:] != ["-m", name]:
            return None
        return venv_distribution_version(self.executable, name)

    @functools.cached_property
    def release(self) -> Version:
        """:meth:`version`, parsed: for behaviour that differs by release."""
        return parse_release(self.tool, self.version())

    def require(self, minimum: Version | str, lack: str) -> None:
        """:class:`~pytest_privrepo.errors.UnsupportedClient` unless this client is at least
        ``minimum``: ``<tool> <version> <lack>: use <tool> >= <minimum>``. ``lack`` says
        what the older client does not do. A development build whose version is not a
        version passes: the client itself decides."""
        minimum = Version(str(minimum))
        try:
            current = Version(self.version())
        except InvalidVersion:
            return
        if current < minimum:
            raise UnsupportedClient(f"{self.tool} {current} {lack}: use {self.tool} >= {minimum}")

    def check_route(self, route: str, routes: Sequence[str]) -> str:
        """:func:`check_route` for this client."""
        return check_route(self.tool, route, routes)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.executable}>"
