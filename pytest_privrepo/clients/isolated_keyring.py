"""One isolated keyring per :class:`ClientEnv`, shared by every client that reads a keyring.

Why: pip (``--keyring-provider``) and Poetry (``poetry config http-basic``) both talk to the
``keyring`` package, and a test must never touch the developer's real keyring. Both get
the same file-backed backend (:mod:`pytest_privrepo.clients.keyring_backend`, copied into
the environment's root as module ``privrepo_keyring`` and named by
``PYTHON_KEYRING_BACKEND``) and the same store (``<root>/keyring.json``), so pip and Poetry
sharing one ClientEnv share one keyring. This module never imports ``keyring`` itself:
only the client processes do.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from pytest_privrepo.clients.env import ClientEnv
from pytest_privrepo.errors import ConfigError

__all__ = ["IsolatedKeyring"]

#: The module name the backend is copied to (``PYTHON_KEYRING_BACKEND=privrepo_keyring...``).
_MODULE = "privrepo_keyring"
#: ``keyring_backend.STORE_VARIABLE``, not imported: importing that module would load
#: keyring into every pytest process that imports this one.
_STORE_VARIABLE = "PRIVREPO_KEYRING_FILE"


def _keyring_executable() -> Path:
    """The ``keyring`` command of the environment running pytest, else one on PATH."""
    name = "keyring.exe" if os.name == "nt" else "keyring"
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return beside
    found = shutil.which("keyring")
    if found:
        return Path(found)
    raise ConfigError(
        "auth='keyring' needs the keyring package where pytest runs (pip install "
        "keyring): its `keyring` command stores the password and is the one pip's "
        "subprocess provider runs"
    )


class IsolatedKeyring:
    """The file-backed keyring of one :class:`ClientEnv` (nothing is written until used)."""

    def __init__(self, env: ClientEnv) -> None:
        self.env = env

    @property
    def store(self) -> Path:
        """The JSON file that holds the passwords (exists once one was stored)."""
        return self.env.root / "keyring.json"

    def contents(self) -> dict[str, dict[str, str]]:
        """``{service: {user: password}}`` as stored in :attr:`store`."""
        if not self.store.exists():
            return {}
        data: dict[str, dict[str, str]] = json.loads(
            self.store.read_text(encoding="utf-8") or "{}"
        )
        return data

    def backend_dir(self) -> Path:
        """``<root>/keyring-backend``, holding the backend module (copied on first use):
        the directory a client's ``PYTHONPATH`` needs."""
        directory = self.env.root / "keyring-backend"
        directory.mkdir(exist_ok=True)
        backend = directory / f"{_MODULE}.py"
        if not backend.exists():
            shutil.copyfile(Path(__file__).with_name("keyring_backend.py"), backend)
        return directory

    def backend_vars(self) -> dict[str, str]:
        """``PYTHON_KEYRING_BACKEND`` and the store's variable (the backend module itself
        must be importable: :meth:`backend_dir` on ``PYTHONPATH``)."""
        return {
            "PYTHON_KEYRING_BACKEND": f"{_MODULE}.FileKeyring",
            _STORE_VARIABLE: os.fspath(self.store),
        }

    def command(self) -> Path:
        """``<root>/keyring-bin/keyring``, a link to the ``keyring`` command of the
        environment running pytest: the only thing that directory puts on ``PATH``."""
        executable = _keyring_executable()
        link = self.env.root / "keyring-bin" / executable.name
        if not link.exists():
            link.parent.mkdir(exist_ok=True)
            try:
                link.symlink_to(executable)
            except OSError:  # no symlinks (Windows without privilege): a copy runs too
                shutil.copy2(executable, link)
        return link

    def set(self, service: str, username: str, password: str,
            env: Mapping[str, str]) -> None:
        """Store a password with the real ``keyring set`` (the backend clients read);
        ``env`` are the variables that select this keyring."""
        if "\n" in password or "\r" in password:
            raise ConfigError(
                "`keyring set` reads one line: the password has a line break"
            )
        self.env.run([self.command(), "set", service, username],
                     input=password + "\n", extra_env=env)
