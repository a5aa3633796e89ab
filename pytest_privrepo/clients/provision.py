"""Finding client executables, or installing a pinned client version into a cached venv.

Why: a test of "Poetry 1.8.5 against an mTLS index" must run *that* Poetry, not whatever
happens to be on ``PATH``; and with pytest-xdist several workers ask for the same tool at
once. :func:`provision` therefore builds one virtual environment per
(tool, version, Python X.Y), guarded by a file lock, marks it complete only after the
install succeeded, and reuses it afterwards.

Provisioning talks to the real package registry but, like every client run here, through
a :class:`~pytest_privrepo.clients.env.ClientEnv`: the machine's ``pip.conf`` (which may add
``file:///opt/...`` indexes) and CA variables are ignored. pip verifies the registry with
its default trust (truststore: the system store plus certifi, pip >= 24.2).
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
from collections.abc import Iterator, Sequence
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pytest_privrepo.clients.env import ClientEnv
from pytest_privrepo.errors import ClientError, ConfigError

__all__ = [
    "file_lock",
    "find_executable",
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
    xdist worker never leaves a stale lock. Elsewhere an ``O_EXCL`` lock file is used, which
    is removed on exit and considered stale after ``timeout`` seconds.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        fcntl = None  # type: ignore[assignment]

    if fcntl is not None:
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
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        return

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
    env.run([*argv, os.fspath(venv)], timeout=INSTALL_TIMEOUT)


def _own_pip_supports(py_xy: str) -> bool:
    """Whether the pip importable here can run under Python ``py_xy`` (its Requires-Python)."""
    if importlib.util.find_spec("pip") is None:
        return False
    try:
        metadata = importlib.metadata.metadata("pip")
        # PackageMetadata's typed protocol has no .get()
        requires = metadata["Requires-Python"] if "Requires-Python" in metadata else ""  # noqa: SIM401
    except importlib.metadata.PackageNotFoundError:
        return False
    return Version(f"{py_xy}.0") in SpecifierSet(requires)


def _install(
    venv: Path,
    python: str,
    py_xy: str,
    requirements: list[str],
    env: ClientEnv,
    index_url: str | None,
) -> None:
    """Create ``venv`` and install ``requirements`` into it, choosing how pip runs.

    The network side always goes through the pip importable here when there is one: pip
    >= 24.2 verifies TLS with the system trust store (truststore) as well as certifi,
    which matters behind TLS-intercepting proxies whose root is only in the system store;
    the pip that ``ensurepip`` bundles with an older Python knows certifi only.

    * same-or-supported Python: ``<this python> -m pip --python <venv> install``;
    * a Python this pip cannot run (e.g. 3.9 with pip 26.1+): this pip *downloads* wheels
      for that Python (``--python-version``, binary only), and the venv's own pip
      installs them offline;
    * no pip here at all: the venv's own pip does everything.
    """
    index_args = ["--index-url", index_url] if index_url else []
    quiet = ["--progress-bar", "off"]
    target = venv_python(venv)
    description = " ".join(requirements)
    try:
        if _own_pip_supports(py_xy):
            _create_venv(venv, python, env, with_pip=False)
            own = [sys.executable, "-m", "pip", "--python", os.fspath(target)]
            env.run(
                [*own, "install", *quiet, *index_args, *requirements],
                timeout=INSTALL_TIMEOUT,
            )
        elif importlib.util.find_spec("pip") is not None:
            _create_venv(venv, python, env, with_pip=True)
            wheels = env.root / "wheels"
            env.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    *quiet,
                    *index_args,
                    "--only-binary",
                    ":all:",
                    "--python-version",
                    py_xy,
                    "--dest",
                    os.fspath(wheels),
                    *requirements,
                ],
                timeout=INSTALL_TIMEOUT,
            )
            env.run(
                [
                    os.fspath(target),
                    "-m",
                    "pip",
                    "install",
                    *quiet,
                    "--no-index",
                    "--find-links",
                    os.fspath(wheels),
                    *requirements,
                ],
                timeout=INSTALL_TIMEOUT,
            )
        else:
            _create_venv(venv, python, env, with_pip=True)
            env.run(
                [
                    os.fspath(target),
                    "-m",
                    "pip",
                    "install",
                    *quiet,
                    *index_args,
                    *requirements,
                ],
                timeout=INSTALL_TIMEOUT,
            )
    except ClientError as exc:
        raise ClientError(
            f"provisioning {description} into {venv} failed:\n{exc}"
        ) from None


def provision(
    tool: str,
    version: str | None,
    *,
    cache_dir: str | os.PathLike[str],
    python: str | os.PathLike[str] = sys.executable,
    executable: str | None = None,
    extra_packages: tuple[str, ...] = (),
    index_url: str | None = None,
) -> Path:
    """Return the executable of ``tool==version``, installing it on first use.

    The venv lives at ``cache_dir/f"{tool}-{version or 'latest'}-py{X.Y}"`` (X.Y of
    ``python``); a cached "latest" stays at the version it was first built with.
    ``executable`` names the script when it differs from the distribution name.
    ``extra_packages`` are installed alongside (e.g. a keyring backend or a plugin).
    ``index_url`` replaces PyPI, for machines that must go through a mirror: the machine's
    own pip configuration is deliberately not consulted.

    How pip is run depends on ``python`` (see :func:`_install`); in the common case it is
    ``<this interpreter> -m pip --python <venv>``: fast, no pip copied into the venv.
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
        env = ClientEnv(work, offline=False)  # provisioning installs from the registry
        # Shared download cache: pip's cache is safe for concurrent use and makes
        # re-provisioning after a cache wipe cheap.
        env.set(PIP_CACHE_DIR=cache / ".pip-cache")
        try:
            requirements = [f"{tool}=={version}" if version else tool, *extra_packages]
            _install(venv, python, py_xy, requirements, env, index_url)
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
