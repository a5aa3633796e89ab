"""Virtual environments for the clients to install into: made, and named by interpreter.

Why a module of its own: every harness needs a venv of the test's own (pip's target, uv's
``--python``, pdm's project ``.venv``), never the one pytest runs from, and a venv given as
a directory or as its interpreter. These helpers lived in pip.py, so uv and pdm imported
pip's harness for them; they belong to provisioning, next to :func:`venv_python`.
"""

from __future__ import annotations

import os
import sys
import tempfile
import venv
from pathlib import Path

from pytest_privrepo.clients.env import ClientEnv
from pytest_privrepo.clients.provision import venv_python
from pytest_privrepo.errors import ConfigError

__all__ = ["make_venv", "resolve_python"]


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

    Without pip by default: :class:`~pytest_privrepo.clients.pip.Pip` runs the harness's
    pip with ``--python``, which is much faster than bootstrapping pip into every test's
    venv. Pass ``env`` to create it inside the isolated environment (the venv module reads
    no client config, but its ensurepip step does run pip).
    """
    target = Path(path).absolute()
    if not with_pip and Path(python) == Path(sys.executable):
        # The running interpreter's own venv module, in process: the same venv as
        # `python -m venv --without-pip` (symlinks on POSIX, as its command line does),
        # without a 30-90 ms interpreter start per test (bench/bench_harness.py).
        venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(target)
        return venv_python(target)
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
