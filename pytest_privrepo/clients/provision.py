"""Finding client executables, or installing a pinned client version into a cached venv.

Why: a test of "Poetry 1.8.5 against an mTLS index" must run *that* Poetry, not whatever
happens to be on ``PATH``; and with pytest-xdist several workers ask for the same tool at
once. :func:`provision` therefore builds one virtual environment per
(tool, version, Python X.Y), guarded by a file lock, marks it complete only after the
install succeeded, and reuses it afterwards.

Provisioning is the one place that talks to the user's real package registry, so it
installs the way ``pip install`` typed by hand in the same shell would: with the machine's
own pip settings (index URLs, find-links, pip.conf, ``PIP_CERT``/``REQUESTS_CA_BUNDLE``,
proxies, netrc; see :func:`machine_install_env`) and a pip at least as new as the harness's
floor. The clients it installs then run under a :class:`~pytest_privrepo.clients.env.ClientEnv`,
which hides all of those settings again.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pytest_privrepo.clients.env import ClientEnv
from pytest_privrepo.clients.result import CommandResult
from pytest_privrepo.errors import ClientError, ConfigError
from pytest_privrepo.redact import redact

__all__ = [
    "INSTALLER_PIP_FLOOR",
    "INSTALL_TARGET_VARIABLES",
    "decisive_lines",
    "default_cache_dir",
    "file_lock",
    "find_executable",
    "installed_pip_version",
    "machine_install_env",
    "provision",
    "python_version",
    "venv_bin",
    "venv_python",
]

#: Written into a provisioned venv after its install succeeded; a venv without it is the
#: remains of an interrupted run and is rebuilt.
COMPLETE_MARKER = ".privrepo-complete"

#: Seconds to wait for another process that is provisioning the same venv.
LOCK_TIMEOUT = 600.0

#: Seconds one provisioning install may take (a cold Poetry install pulls ~40 wheels).
INSTALL_TIMEOUT = 600.0

#: The oldest pip that installs clients: the harness's own pip floor (tox.ini
#: ``clients-oldest``). Older ones (23.0.1 is bundled with Python 3.10) are upgraded first.
INSTALLER_PIP_FLOOR = Version("23.2")

#: pip settings that would send a provisioning install somewhere other than the new
#: virtualenv (or make it a different kind of install); dropped from the user's environment.
INSTALL_TARGET_VARIABLES: frozenset[str] = frozenset({
    "PIP_TARGET", "PIP_PREFIX", "PIP_ROOT", "PIP_USER", "PIP_PYTHON", "PIP_SRC",
    "PIP_EDITABLE", "PIP_REQUIREMENT", "PIP_NO_DEPS", "PIP_DRY_RUN", "PIP_REPORT",
    "PIP_REQUIRE_HASHES", "PIP_FORCE_REINSTALL", "PIP_IGNORE_INSTALLED",
    "VIRTUAL_ENV", "PYTHONHOME", "__PYVENV_LAUNCHER__",
})

#: Lines of pip's output that carry the cause of a failure (see :func:`decisive_lines`).
_DECISIVE = re.compile(
    r"^\s*(ERROR|error|fatal)\b|SSLError|CERTIFICATE_VERIFY_FAILED|certificate verify failed"
    r"|ProxyError|NewConnectionError|ConnectTimeout|Could not fetch URL|HTTP error \d+"
    r"|40[137] Client Error|Name or service not known|Temporary failure in name resolution"
    r"|No matching distribution|Could not find a version"
)

_TOOL_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")


def venv_bin(venv: Path) -> Path:
    """The scripts directory of a virtual environment (``bin`` or ``Scripts`` on Windows)."""
    return venv / ("Scripts" if os.name == "nt" else "bin")


def venv_python(venv: Path) -> Path:
    """The interpreter of a virtual environment."""
    return venv_bin(venv) / ("python.exe" if os.name == "nt" else "python")


def _exe_name(name: str) -> str:
    return f"{name}.exe" if os.name == "nt" else name


def python_version(python: str | os.PathLike[str]) -> str:
    """``"X.Y"`` of an interpreter; asks it unless it is the running one."""
    if Path(python) == Path(sys.executable):
        return f"{sys.version_info[0]}.{sys.version_info[1]}"
    try:
        out = subprocess.run(
            [
                os.fspath(python),
                "-c",
                "import sys; print('%d.%d' % sys.version_info[:2])",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            stdin=subprocess.DEVNULL,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise ClientError(
            f"cannot run Python interpreter {os.fspath(python)!r}: {exc}"
        ) from None
    if not re.fullmatch(r"\d+\.\d+", out):
        raise ClientError(
            f"{os.fspath(python)!r} did not report a Python version (got {out!r})"
        )
    return out


@contextlib.contextmanager
def file_lock(path: Path, *, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block.

    ``fcntl.flock`` where available: the kernel drops it when a worker dies, so a crashed
    xdist worker never leaves a stale lock, and the file is removed on release. Elsewhere an ``O_EXCL`` lock file is used, which
    is removed on exit and considered stale after ``timeout`` seconds.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        fcntl = None  # type: ignore[assignment]

    if fcntl is not None:
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            raise ClientError(
                                f"timed out after {timeout:.0f} s waiting for lock {path} "
                                "(another process is provisioning the same tool)"
                            ) from None
                        time.sleep(0.1)
                # The holder before us removes the file before it unlocks (so no lock file
                # is left behind); if it did so after we opened it, our lock is on a
                # removed file that nobody else will see: take the new file instead.
                try:
                    current = os.stat(path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    current = False
                if not current:
                    continue
                try:
                    yield
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                    fcntl.flock(fd, fcntl.LOCK_UN)
                return
            finally:
                os.close(fd)

    while True:  # pragma: no cover - Windows
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.close(fd)
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise ClientError(
                    f"timed out after {timeout:.0f} s waiting for lock {path}; delete it if "
                    "no other test run is provisioning"
                ) from None
            time.sleep(0.1)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _check_tool(tool: str, version: str | None) -> None:
    if not _TOOL_RE.match(tool):
        raise ConfigError(f"invalid tool (distribution) name {tool!r}")
    if version is not None:
        try:
            Version(version)
        except InvalidVersion:
            raise ConfigError(
                f"invalid version {version!r} for {tool}: expected an exact PEP 440 version "
                "such as '1.8.5', or None for the latest release"
            ) from None


def _create_venv(venv: Path, python: str, env: ClientEnv, with_pip: bool) -> None:
    argv = [python, "-m", "venv"]
    if not with_pip:
        argv.append("--without-pip")
    _run_installer(env, [*argv, os.fspath(venv)], what="creating the virtualenv")


def installed_pip_version(python: str | os.PathLike[str] | None = None) -> Version | None:
    """The pip version importable by ``python`` (default: this interpreter), or None."""
    if python is None or Path(python) == Path(sys.executable):
        if importlib.util.find_spec("pip") is None:
            return None
        try:
            return Version(importlib.metadata.version("pip"))
        except (importlib.metadata.PackageNotFoundError, InvalidVersion):
            return None
    try:
        out = subprocess.run(
            [os.fspath(python), "-c", "import pip; print(pip.__version__)"],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False,
        )
        return Version(out.stdout.strip()) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, InvalidVersion):
        return None


def _own_pip_supports(py_xy: str) -> bool:
    """Whether the pip importable here is new enough and can run under Python ``py_xy``."""
    own = installed_pip_version()
    if own is None or own < INSTALLER_PIP_FLOOR:
        return False
    try:
        metadata = importlib.metadata.metadata("pip")
        # PackageMetadata's typed protocol has no .get()
        requires = metadata["Requires-Python"] if "Requires-Python" in metadata else ""  # noqa: SIM401
    except importlib.metadata.PackageNotFoundError:
        return False
    return Version(f"{py_xy}.0") in SpecifierSet(requires)


def machine_install_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment provisioning installs with: the user's own, as ``pip install`` typed
    by hand in this shell sees it.

    Why not a :class:`ClientEnv`: provisioning is the one place that talks to the user's
    real registry, and on corporate machines and CI runners that only works with the
    user's settings: ``PIP_INDEX_URL``/``PIP_EXTRA_INDEX_URL``/``PIP_FIND_LINKS``, pip.conf
    (global, user, ``PIP_CONFIG_FILE``), trust (``PIP_CERT``, pip.conf ``cert``,
    ``REQUESTS_CA_BUNDLE``, ``SSL_CERT_FILE``, the system store), proxies, netrc and
    ``HOME`` for all of those. So everything is kept except the settings that would send
    the install somewhere other than the new virtualenv (:data:`INSTALL_TARGET_VARIABLES`),
    and prompts are switched off so a missing credential fails instead of waiting.
    """
    source = os.environ if environ is None else environ
    env = {
        name: value for name, value in source.items()
        if name.upper() not in INSTALL_TARGET_VARIABLES
    }
    env.update(
        PIP_NO_INPUT="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_PROGRESS_BAR="off",
        PYTHONIOENCODING="utf-8",
    )
    return env


def decisive_lines(output: str, *, limit: int = 8, width: int = 400) -> list[str]:
    """The lines of an installer's output that say why it failed.

    pip ends a failed install with ``ERROR:`` lines, and before them prints the cause that
    matters on a corporate machine (``SSLError(... CERTIFICATE_VERIFY_FAILED ...)``,
    ``ProxyError``, ``Could not fetch URL ...: 401``) once per retry; those are picked,
    repeated ones once, the last ``limit`` kept. Output without any such line gives its
    last ``limit`` lines.
    """
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    picked: list[str] = []
    for line in lines:
        if _DECISIVE.search(line):
            short = line if len(line) <= width else line[: width - 3] + "..."
            if short in picked:
                picked.remove(short)
            picked.append(short)
    chosen = picked or [
        line if len(line) <= width else line[: width - 3] + "..." for line in lines
    ]
    return chosen[-limit:]


def _run_installer(env: ClientEnv, argv: Sequence[str], *, what: str) -> CommandResult:
    result = env.run(argv, timeout=INSTALL_TIMEOUT, check=False)
    if not result.ok:
        raise _InstallFailed(what, result)
    return result


class _InstallFailed(Exception):
    def __init__(self, what: str, result: CommandResult) -> None:
        super().__init__(what)
        self.what = what
        self.result = result


def _install(
    venv: Path,
    python: str,
    py_xy: str,
    requirements: list[str],
    env: ClientEnv,
    index_url: str | None,
) -> None:
    """Create ``venv`` and install ``requirements`` into it, with a pip >= the floor.

    * The pip importable here, when it is at least :data:`INSTALLER_PIP_FLOOR` and runs
      under ``python``: ``<this python> -m pip --python <venv> install`` (fast, no pip
      copied into the venv; pip >= 24.2 also trusts the system store via truststore).
    * Otherwise the venv gets its own pip (``ensurepip``, offline), which is first upgraded
      to the floor when it is older: the pip bundled with a Python (23.0.1 with 3.10) is
      never what installs the client.
    """
    # -vv: pip prints why an index page failed ("401 Client Error", a proxy error) only
    # at debug level; decisive_lines() picks those lines out of the long output.
    index_args = ["-vv", *(["--index-url", index_url] if index_url else [])]
    target = venv_python(venv)
    if _own_pip_supports(py_xy):
        _create_venv(venv, python, env, with_pip=False)
        pip = [sys.executable, "-m", "pip", "--python", os.fspath(target)]
    else:
        _create_venv(venv, python, env, with_pip=True)
        pip = [os.fspath(target), "-m", "pip"]
        bundled = installed_pip_version(target)
        if bundled is None or bundled < INSTALLER_PIP_FLOOR:
            _run_installer(
                env, [*pip, "install", *index_args, "--upgrade", f"pip>={INSTALLER_PIP_FLOOR}"],
                what=f"upgrading the virtualenv's pip {bundled} to >= {INSTALLER_PIP_FLOOR}",
            )
    _run_installer(env, [*pip, "install", *index_args, *requirements],
                   what="installing " + " ".join(requirements))


def _failure(description: str, venv: Path, failed: _InstallFailed, alternative: str) -> ClientError:
    result = failed.result
    # pip hides passwords in the URLs it prints, but not a token in a netloc or a password
    # it echoes otherwise: the same redaction as every message (result.secrets holds the
    # credential variables of the user's environment)
    lines = [redact(line, result.secrets) for line in decisive_lines(result.output)]
    said = "\n".join("    " + line for line in lines) or "    <no output>"
    tool_hint = (
        f"check that `python -m pip install {description}` works in this shell: provisioning "
        "uses your own pip settings (PIP_INDEX_URL / PIP_EXTRA_INDEX_URL / PIP_CERT / "
        "HTTPS_PROXY, pip.conf; `python -m pip config list` shows them), so set them as you "
        "would for pip"
    )
    if alternative:
        tool_hint += f"; or {alternative}"
    return ClientError(
        f"provisioning {description} into {venv} failed while {failed.what} "
        f"(exit code {result.returncode}):\n"
        f"  command: {result.command_line}\n"
        f"  the installer said:\n{said}\n"
        f"  what to try: {tool_hint}",
        result=result,
    )


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The one user-level cache of provisioned clients, shared by the plugin and the demo.

    ``$PRIVREPO_CACHE_DIR`` when set, else ``pytest-privrepo/clients`` in the user's cache
    directory (``$XDG_CACHE_HOME``, else ``~/.cache``; ``%LOCALAPPDATA%`` on Windows).
    A user cache rather than pytest's ``.pytest_cache``: clients are hundreds of MB, the
    same for every project, and must survive ``-p no:cacheprovider`` and a fresh clone.
    """
    env = os.environ if environ is None else environ
    chosen = env.get("PRIVREPO_CACHE_DIR")
    if chosen:
        return Path(chosen).expanduser().absolute()
    if os.name == "nt":  # pragma: no cover - Windows
        base = env.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    else:
        base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser().absolute() / "pytest-privrepo" / "clients"


def provision(
    tool: str,
    version: str | None,
    *,
    cache_dir: str | os.PathLike[str],
    python: str | os.PathLike[str] = sys.executable,
    executable: str | None = None,
    extra_packages: tuple[str, ...] = (),
    index_url: str | None = None,
    progress: Callable[[str], None] | None = None,
    alternative: str = "",
) -> Path:
    """Return the executable of ``tool==version``, installing it on first use.

    The venv lives at ``cache_dir/f"{tool}-{version or 'latest'}-py{X.Y}"`` (X.Y of
    ``python``); a cached "latest" stays at the version it was first built with (delete
    that directory to refresh it). ``executable`` names the script when it differs from
    the distribution name. ``extra_packages`` are installed alongside (e.g. a keyring
    backend or a plugin). The install uses the machine's own pip settings
    (:func:`machine_install_env`); ``index_url`` replaces the index they name.

    ``progress`` is called with one line just before a real install starts (not on a cache
    hit), so a command-line tool can say why the first run is slow. ``alternative`` is
    appended to the "what to try" of a failure, naming the caller's own way to skip
    provisioning (``pass --poetry PATH``).
    """
    _check_tool(tool, version)
    for extra in extra_packages:
        if not extra or extra.startswith("-"):
            raise ConfigError(
                f"invalid extra package {extra!r} for provisioning {tool}"
            )
    python = os.fspath(python)
    cache = Path(cache_dir).absolute()
    py_xy = python_version(python)
    name = f"{canonicalize_name(tool)}-{version or 'latest'}-py{py_xy}"
    if extra_packages:  # a venv built with other extras is another venv
        digest = hashlib.sha256("\n".join(sorted(extra_packages)).encode()).hexdigest()[:10]
        name += f"-x{digest}"
    venv = cache / name
    script = venv_bin(venv) / _exe_name(executable or tool)
    marker = venv / COMPLETE_MARKER

    if marker.exists() and script.exists():
        return script
    with file_lock(cache / f".{name}.lock"):
        if marker.exists() and script.exists():
            return script
        if venv.exists():
            shutil.rmtree(venv)
        work = cache / f".{name}.work"
        if work.exists():
            shutil.rmtree(work)
        requirements = [f"{tool}=={version}" if version else tool, *extra_packages]
        description = " ".join(requirements)
        if progress is not None:
            what = f"{tool} {version}" if version else f"the newest {tool}"
            progress(f"installing {what} into {venv} (first run only; later runs reuse it)")
        env = ClientEnv(work, offline=False)  # only its root and run() are used:
        env.vars = machine_install_env()  # the install runs with the user's own settings
        # ... except scratch space: pip's temp files go under the work dir, removed below.
        # (A pip upgrading itself in a Python 3.8 venv left a copy of its CA bundle in /tmp
        # on every run, seen here with pip 23.0.1 -> 25.0.1.)
        env.vars.update(TMPDIR=str(env.tmp), TEMP=str(env.tmp), TMP=str(env.tmp))
        try:
            try:
                _install(venv, python, py_xy, requirements, env, index_url)
            except _InstallFailed as failed:
                raise _failure(description, venv, failed, alternative) from None
            if not script.exists():
                found = sorted(p.name for p in venv_bin(venv).iterdir())
                raise ClientError(
                    f"{requirements[0]} installed into {venv} but has no {script.name!r} script "
                    f"(found: {', '.join(found)}); pass executable=... with the right name"
                )
            marker.write_text("\n".join(requirements) + "\n", encoding="utf-8")
        except BaseException:
            shutil.rmtree(venv, ignore_errors=True)
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return script


def find_executable(tool: str, option_value: str | None, env_var: str, *,
                    search_first: Sequence[str | os.PathLike[str]] = (),
                    source: str | None = None) -> Path:
    """Locate an already installed client: option, then environment variable, then the
    directories in ``search_first``, then PATH.

    An explicit value (``--privrepo-<tool>=PATH`` or ``$<env_var>``) that does not exist is
    an error rather than a fallback, because silently testing a different binary than the
    one requested defeats the point of pinning it. A bare name (no path separator) is
    looked up on ``PATH``. ``source`` names where ``option_value`` came from (default: the
    ``--privrepo-<tool>`` option), for the error message.
    """
    explicit = option_value or os.environ.get(env_var) or None
    if source is None or not option_value:
        source = f"--privrepo-{tool}" if option_value else f"${env_var}"
    if explicit:
        if os.sep not in explicit and (os.altsep is None or os.altsep not in explicit):
            found = shutil.which(explicit)
            if found is None:
                raise ClientError(
                    f"{tool} not found: {source}={explicit!r} is not on PATH"
                )
            return Path(found)
        path = Path(explicit).expanduser().absolute()
        if not path.exists():
            raise ClientError(f"{tool} not found: {source}={explicit!r} does not exist")
        if path.is_dir() or not os.access(path, os.X_OK):
            raise ClientError(
                f"{tool} not usable: {source}={explicit!r} is not an executable file"
            )
        return path
    for directory in search_first:
        found = shutil.which(tool, path=os.fspath(directory))
        if found is not None:
            return Path(found)
    found = shutil.which(tool)
    if found is None:
        raise ClientError(
            f"{tool} not found: install it, pass --privrepo-{tool}=PATH or set {env_var} "
            f"(or the privrepo_{tool} ini key), or ask for a version to provision "
            f"(--privrepo-{tool}-versions)"
        )
    return Path(found)
