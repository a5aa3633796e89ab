"""Drive the real pip against ephemeral indexes and report what it installed from where.

Why a wrapper at all: each pip run needs the same careful plumbing — credentials
percent-encoded into the URL (or a netrc), one ``--cert`` bundle covering every index's CA,
one ``--client-cert``, a JSON ``--report`` to learn which index actually served each file —
and a test should state its intent (``pip.install("demo", index=corp)``), not rebuild that
command line. Everything runs inside a :class:`~pytest_privrepo.clients.env.ClientEnv`, so
the machine's pip.conf, ``PIP_*`` and CA variables never take part.

pip installs into the environment of the interpreter given as ``python``; by default pip
itself comes from the interpreter running pytest, via ``pip --python`` (pip >= 22.3), so
the target venvs need no pip of their own (:func:`make_venv`).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from packaging.utils import canonicalize_name

from pytest_privrepo.clients.env import DEFAULT_TIMEOUT, ClientEnv, IndexLike, IndexSpec
from pytest_privrepo.clients.provision import venv_python
from pytest_privrepo.clients.result import CommandResult
from pytest_privrepo.errors import ClientError, ConfigError

__all__ = [
    "InstalledPackage",
    "Pip",
    "PipAuth",
    "PipInstallResult",
    "make_venv",
    "resolve_python",
]

#: How credentials reach pip: ``"url"`` = percent-encoded userinfo in the index URL (pip's
#: most reliable route, also applied to file URLs on the same host); ``"netrc"`` = a
#: ``machine`` entry in the environment's netrc (pip reads it before the first request);
#: ``"none"`` = no credentials, to test anonymous access.
PipAuth = Literal["url", "netrc", "none"]

IndexArg = IndexLike | IndexSpec | str


class InstalledPackage(NamedTuple):
    """One entry of pip's installation report: a tuple, so tests can compare directly."""

    name: str
    version: str
    url: (
        str | None
    )  # download_info.url: where pip fetched the file (credentials removed)


@dataclass(frozen=True)
class PipInstallResult:
    """Outcome of :meth:`Pip.install`: the command, and pip's own account of it."""

    command: CommandResult
    installed: tuple[InstalledPackage, ...] = ()
    report: Mapping[str, Any] | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.command.ok

    @property
    def versions(self) -> dict[str, str]:
        """``{canonical name: version}`` of everything pip (would have) installed."""
        return {canonicalize_name(p.name): p.version for p in self.installed}

    def url_of(self, name: str) -> str | None:
        """The URL pip downloaded ``name`` from; :class:`KeyError` if it was not installed."""
        wanted = canonicalize_name(name)
        for package in self.installed:
            if canonicalize_name(package.name) == wanted:
                return package.url
        raise KeyError(
            f"{name} is not in pip's report; installed: {sorted(self.versions)}"
        )


def resolve_python(python: str | os.PathLike[str]) -> Path:
    """Accept a venv directory or an interpreter path; return the interpreter path."""
    path = Path(python).absolute()
    if path.is_dir():
        path = venv_python(path)
    if not path.exists():
        raise ConfigError(f"Python interpreter {path} does not exist")
    return path


def make_venv(
    path: str | os.PathLike[str],
    *,
    python: str | os.PathLike[str] = sys.executable,
    env: ClientEnv | None = None,
    with_pip: bool = False,
) -> Path:
    """Create a virtual environment and return its interpreter.

    Without pip by default: :class:`Pip` runs the harness's pip with ``--python``, which is
    much faster than bootstrapping pip into every test's venv. Pass ``env`` to create it
    inside the isolated environment (the venv module reads no client config, but its
    ensurepip step does run pip).
    """
    target = Path(path).absolute()
    argv = [os.fspath(python), "-m", "venv"]
    if not with_pip:
        argv.append("--without-pip")
    argv.append(os.fspath(target))
    if env is not None:
        env.run(argv)
    else:
        with tempfile.TemporaryDirectory(prefix="privrepo-venv-") as scratch:
            ClientEnv(scratch).run(argv)
    return venv_python(target)


def _pip_runner(pip: str | os.PathLike[str] | Sequence[str] | None) -> list[str]:
    if pip is None:
        return [sys.executable, "-m", "pip"]
    if isinstance(pip, (str, os.PathLike)):
        return [os.fspath(pip)]
    runner = [os.fspath(part) for part in pip]
    if not runner:
        raise ConfigError("pip= must not be an empty command")
    return runner


class Pip:
    """Runs pip inside ``env``, installing into the environment of ``python``.

    * ``python``: interpreter (or venv directory) whose environment pip installs into;
      ``None`` lets pip install into its own environment (then no ``--python`` is passed).
    * ``pip``: how to start pip: default ``<pytest's python> -m pip``; a path (e.g. the
      executable returned by ``provision("pip", "24.2", ...)``) or an argv prefix.
    * ``retries`` / ``timeout``: pip's ``--retries`` and ``--timeout``. Retries default to 0
      because pip's back-off turns every expected failure (401, TLS error) into ~10 s.
    """

    def __init__(
        self,
        env: ClientEnv,
        python: str | os.PathLike[str] | None = None,
        *,
        pip: str | os.PathLike[str] | Sequence[str] | None = None,
        retries: int = 0,
        timeout: float = 30.0,
    ) -> None:
        self.env = env
        self.python = resolve_python(python) if python is not None else None
        self.runner = _pip_runner(pip)
        self.retries = retries
        self.timeout = timeout

    # ------------------------------------------------------------------ plumbing
    def argv(self, *args: str) -> list[str]:
        """The full command line for ``pip <args>`` (with ``--python`` when set)."""
        prefix = list(self.runner)
        if self.python is not None:
            prefix += ["--python", os.fspath(self.python)]
        return [*prefix, *args]

    def run(
        self,
        *args: str,
        check: bool = True,
        timeout: float | None = DEFAULT_TIMEOUT,
        extra_env: Mapping[str, str | os.PathLike[str] | None] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> CommandResult:
        """Run any pip subcommand in the isolated environment (for flows not wrapped here)."""
        return self.env.run(
            self.argv(*args), check=check, timeout=timeout, extra_env=extra_env, cwd=cwd
        )

    def index_args(
        self,
        index: IndexArg | None = None,
        extra_indexes: Sequence[IndexArg] = (),
        *,
        auth: PipAuth = "url",
    ) -> list[str]:
        """pip options for the given indexes: URLs, credentials, ``--cert``, ``--client-cert``.

        pip has a single ``--cert`` and ``--client-cert`` per run, applied to every host:
        CAs are merged into one bundle; two different client certificates are an error
        (pip cannot present a different one per index).
        """
        if auth not in ("url", "netrc", "none"):
            raise ConfigError(
                f"unknown pip auth route {auth!r}: use 'url', 'netrc' or 'none'"
            )
        specs = ([IndexSpec.of(index)] if index is not None else []) + [
            IndexSpec.of(i) for i in extra_indexes
        ]
        args: list[str] = []
        for position, spec in enumerate(specs):
            url = spec.url
            if auth == "url":
                url = spec.url_with_userinfo()
            elif auth == "netrc" and spec.has_credentials:
                self.env.write_netrc(
                    spec.hostname, spec.username or "", spec.password or ""
                )
            is_primary = index is not None and position == 0
            args += ["--index-url" if is_primary else "--extra-index-url", url]

        bundle = self.env.ca_bundle(s.ca_cert for s in specs if s.ca_cert is not None)
        if bundle is not None:
            args += ["--cert", os.fspath(bundle)]
        client_certs = {s.client_cert for s in specs if s.client_cert is not None}
        if len(client_certs) > 1:
            raise ConfigError(
                "pip presents one --client-cert to every host, but these indexes need "
                f"different client certificates: {sorted(map(str, client_certs))}"
            )
        if client_certs:
            args += ["--client-cert", os.fspath(client_certs.pop())]
        return args

    # ------------------------------------------------------------------ commands
    def install(
        self,
        packages: str | Sequence[str],
        *,
        index: IndexArg | None = None,
        extra_indexes: Sequence[IndexArg] = (),
        auth: PipAuth = "url",
        no_index: bool = False,
        find_links: Sequence[str | os.PathLike[str]] = (),
        no_deps: bool = False,
        upgrade: bool = False,
        force_reinstall: bool = False,
        pre: bool = False,
        only_binary: str | None = None,
        target: str | os.PathLike[str] | None = None,
        dry_run: bool = False,
        report: bool = True,
        no_cache: bool = False,
        extra_args: Sequence[str] = (),
        check: bool = True,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> PipInstallResult:
        """``pip install`` and parse the ``--report`` JSON into :attr:`PipInstallResult.installed`.

        ``index`` becomes ``--index-url`` (it *replaces* PyPI); ``None`` keeps pip's
        default, PyPI, exactly as pip would. ``extra_indexes`` become
        ``--extra-index-url``: pip merges all indexes with no priority and picks the best
        version, which is what dependency-confusion tests need to observe.
        ``dry_run`` adds ``--dry-run --ignore-installed`` so the report lists the full
        resolution without touching the environment. ``report`` needs pip >= 22.2.
        With ``check=False`` a failed install returns a result instead of raising.
        """
        names = [packages] if isinstance(packages, str) else list(packages)
        if not names:
            raise ConfigError("pip install needs at least one package")
        args = ["install", "--progress-bar", "off", "--retries", str(self.retries)]
        args += ["--timeout", f"{self.timeout:g}"]
        args += self.index_args(index, extra_indexes, auth=auth)
        if no_index:
            args.append("--no-index")
        for link in find_links:
            args += ["--find-links", os.fspath(link)]
        if no_deps:
            args.append("--no-deps")
        if upgrade:
            args.append("--upgrade")
        if force_reinstall:
            args.append("--force-reinstall")
        if pre:
            args.append("--pre")
        if only_binary is not None:
            args += ["--only-binary", only_binary]
        if target is not None:
            args += ["--target", os.fspath(Path(target).absolute())]
        if dry_run:
            args += ["--dry-run", "--ignore-installed"]
        if no_cache:
            args.append("--no-cache-dir")
        report_path: Path | None = None
        if report:
            report_dir = self.env.root / "pip-reports"
            report_dir.mkdir(exist_ok=True)
            # Unique per call, also across Pip objects sharing one ClientEnv; empty until
            # pip writes it, so a run that failed early is recognised below.
            fd, name = tempfile.mkstemp(
                prefix="install-", suffix=".json", dir=report_dir
            )
            os.close(fd)
            report_path = Path(name)
            args += ["--report", os.fspath(report_path)]
        args += list(extra_args)
        args += names

        result = self.run(*args, check=check, timeout=timeout)
        if report_path is None or report_path.stat().st_size == 0:
            return PipInstallResult(command=result)
        try:
            data = json.loads(report_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ClientError(
                f"pip wrote an unreadable report {report_path}: {exc}"
            ) from None
        return PipInstallResult(
            command=result, installed=_parse_report(data), report=data
        )

    def version(self) -> str:
        """Version of the pip that runs (``pip --version``'s second word)."""
        out = self.env.run([*self.runner, "--version"]).stdout.split()
        if len(out) < 2:
            raise ClientError(f"unexpected `pip --version` output: {' '.join(out)!r}")
        return out[1]


def _parse_report(data: Mapping[str, Any]) -> tuple[InstalledPackage, ...]:
    """Read ``install[]`` of a pip installation report (format version 1)."""
    packages: list[InstalledPackage] = []
    for item in data.get("install", []):
        metadata = item.get("metadata", {})
        download = item.get("download_info") or {}
        packages.append(
            InstalledPackage(
                name=str(metadata.get("name", "")),
                version=str(metadata.get("version", "")),
                url=download.get("url"),
            )
        )
    return tuple(packages)
