"""Drive the real Poetry (1.8 and 2.x) in an isolated environment.

:class:`Poetry` runs one Poetry executable inside a :class:`ClientEnv` and writes Poetry's
configuration by every route Poetry supports, so a test can prove each route works:

- ``route="files"``: config.toml / auth.toml exactly as ``poetry config`` writes them;
- ``route="env"``: ``POETRY_HTTP_BASIC_<NAME>_*``, ``POETRY_PYPI_TOKEN_<NAME>``,
  ``POETRY_CERTIFICATES_<NAME>_*``;
- ``route="command"``: the real ``poetry config`` commands;
- ``route="keyring"``: ``poetry config`` with an isolated keyring backend
  (:mod:`pytest_privrepo.clients.keyring_backend`), so the password lands in the keyring
  under service ``poetry-repository-<name>`` and not in auth.toml.

Projects (pyproject.toml, lock, build, publish) live in :mod:`.poetry_project`.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit

from ..errors import ConfigError
from ..access import IndexAccess
from .env import ClientEnv, IndexArg
from .result import CommandResult

__all__ = ["Poetry", "ROUTES", "poetry_env_name"]

#: Ways to hand Poetry an index's credentials and certificates.
ROUTES = ("files", "env", "command", "keyring")

_KEYRING_MODULE = "privrepo_keyring"


def poetry_env_name(name: str) -> str:
    """The ``<NAME>`` part of Poetry's env variables: upper case, '-' and '.' to '_'."""
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


class Poetry:
    """One Poetry executable, run in an isolated environment."""

    def __init__(self, executable: str | Path, env: ClientEnv, *, timeout: float = 300.0) -> None:
        self.executable = Path(executable)
        if not self.executable.exists():
            raise ConfigError(f"poetry executable {self.executable} does not exist")
        self.env = env
        self.timeout = timeout
        env.set(
            POETRY_VIRTUALENVS_IN_PROJECT="true",
            POETRY_VIRTUALENVS_OPTIONS_NO_PIP="false",
            POETRY_REQUESTS_TIMEOUT="15",
            POETRY_INSTALLER_MAX_WORKERS="4",
        )
        self._version: str | None = None

    # -- running --------------------------------------------------------------------------
    def run(self, *args: str, cwd: str | Path | None = None, input: str | None = None,
            check: bool = True, extra_env: Mapping[str, str] | None = None) -> CommandResult:
        """Run ``poetry <args>``; a failure raises ClientError with the command and output."""
        argv = [str(self.executable), "--no-ansi", *map(str, args)]
        if input is None and "-n" not in args and "--no-interaction" not in args:
            argv.insert(2, "--no-interaction")
        return self.env.run(argv, cwd=cwd, input=input, check=check, timeout=self.timeout,
                            extra_env=extra_env)

    @property
    def version(self) -> str:
        """Poetry's version, e.g. ``1.8.5`` (from ``poetry --version``)."""
        if self._version is None:
            out = self.run("--version").stdout
            match = re.search(r"(\d+\.\d+(?:\.\d+)?\S*)\)?\s*$", out.strip())
            if not match:
                raise ConfigError(f"cannot read Poetry's version from {out!r}")
            self._version = match.group(1).rstrip(")")
        return self._version

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    # -- configuration files -------------------------------------------------------------------
    @property
    def config_dir(self) -> Path:
        return self.env.poetry_config

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def auth_file(self) -> Path:
        return self.config_dir / "auth.toml"

    def _edit(self, path: Path, change) -> None:  # type: ignore[no-untyped-def]
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = tomlkit.parse(path.read_text()) if path.exists() else tomlkit.document()
        change(doc)
        path.write_text(tomlkit.dumps(doc))

    def read_config(self) -> dict[str, Any]:
        """config.toml and auth.toml merged (Poetry merges them too)."""
        out: dict[str, Any] = {}
        for path in (self.config_file, self.auth_file):
            if path.exists():
                _merge(out, tomlkit.parse(path.read_text()).unwrap())
        return out

    def config_list(self, cwd: str | Path | None = None) -> dict[str, str]:
        """``poetry config --list`` parsed to {key: value-as-printed}."""
        out = self.run("config", "--list", cwd=cwd).stdout
        result = {}
        for line in out.splitlines():
            key, sep, value = line.partition(" = ")
            if sep:
                result[key.strip()] = value.strip()
        return result

    def config(self, *args: str, cwd: str | Path | None = None, input: str | None = None,
               check: bool = True) -> CommandResult:
        """Run ``poetry config <args>``."""
        return self.run("config", *args, cwd=cwd, input=input, check=check)

    # -- keyring ------------------------------------------------------------------------------
    def use_keyring(self) -> Path:
        """Give Poetry a usable, isolated keyring; return the JSON file that stores it."""
        backend_dir = self.env.root / "keyring-backend"
        backend_dir.mkdir(exist_ok=True)
        source = Path(__file__).with_name("keyring_backend.py")
        shutil.copyfile(source, backend_dir / f"{_KEYRING_MODULE}.py")
        store = self.env.root / "keyring.json"
        self.env.set(
            PYTHONPATH=str(backend_dir),
            PYTHON_KEYRING_BACKEND=f"{_KEYRING_MODULE}.FileKeyring",
            PRIVREPO_KEYRING_FILE=str(store),
        )
        self.env.unset("POETRY_KEYRING_ENABLED")
        return store

    def keyring_contents(self) -> dict[str, dict[str, str]]:
        store = self.env.root / "keyring.json"
        return json.loads(store.read_text()) if store.exists() else {}

    # -- one index, by route --------------------------------------------------------------------
    def configure(
        self,
        index: IndexArg,
        name: str | None = None,
        *,
        route: str = "files",
        credentials: bool = True,
        certificates: bool = True,
        repository: bool = True,
        token: bool = False,
    ) -> None:
        """Tell Poetry about ``index`` under ``name`` (default: the index's name).

        ``repository`` adds ``repositories.<name>`` = the upload URL (the publish target);
        ``credentials`` the index's user/password as ``http-basic.<name>``; ``token`` its token
        as ``pypi-token.<name>``; ``certificates`` the CA (``cert``) and, for mTLS, the client
        certificate (``client-cert``).
        """
        if route not in ROUTES:
            raise ConfigError(f"unknown route {route!r}: use one of {', '.join(ROUTES)}")
        access = IndexAccess.of(index)
        name = name or access.name
        if not name:
            raise ConfigError("configure() needs a name for the index")
        user, password, tok = access.username, access.password, access.token
        ca, client, upload_url = access.ca_cert, access.client_cert, access.upload_url
        if credentials and user == "__token__":
            credentials = False  # a token-only index: use pypi-token
            token = True
        if token and not tok:
            raise ConfigError(f"index {name!r} has no token")
        if credentials and not (user and password):
            credentials = False

        if route == "files":
            def config(doc) -> None:  # type: ignore[no-untyped-def]
                if repository and upload_url:
                    doc.setdefault("repositories", tomlkit.table())
                    doc["repositories"][name] = {"url": upload_url}

            def auth(doc) -> None:  # type: ignore[no-untyped-def]
                if credentials:
                    doc.setdefault("http-basic", tomlkit.table())
                    doc["http-basic"][name] = {"username": user, "password": password}
                if token:
                    doc.setdefault("pypi-token", tomlkit.table())
                    doc["pypi-token"][name] = tok
                if certificates and (ca or client):
                    doc.setdefault("certificates", tomlkit.table())
                    entry = {}
                    if ca:
                        entry["cert"] = str(ca)
                    if client:
                        entry["client-cert"] = str(client)
                    doc["certificates"][name] = entry

            self._edit(self.config_file, config)
            self._edit(self.auth_file, auth)
        elif route == "env":
            n = poetry_env_name(name)
            vars_: dict[str, str] = {}
            if repository and upload_url:
                vars_[f"POETRY_REPOSITORIES_{n}_URL"] = upload_url
            if credentials:
                vars_[f"POETRY_HTTP_BASIC_{n}_USERNAME"] = str(user)
                vars_[f"POETRY_HTTP_BASIC_{n}_PASSWORD"] = str(password)
            if token:
                vars_[f"POETRY_PYPI_TOKEN_{n}"] = str(tok)
            if certificates and ca:
                vars_[f"POETRY_CERTIFICATES_{n}_CERT"] = str(ca)
            if certificates and client:
                vars_[f"POETRY_CERTIFICATES_{n}_CLIENT_CERT"] = str(client)
            self.env.set(vars_)
        else:  # command / keyring: the real `poetry config`
            if route == "keyring":
                self.use_keyring()
            if repository and upload_url:
                self.config(f"repositories.{name}", upload_url)
            if credentials:
                self.config(f"http-basic.{name}", str(user), str(password))
            if token:
                self.config(f"pypi-token.{name}", str(tok))
            if certificates and ca:
                self.config(f"certificates.{name}.cert", str(ca))
            if certificates and client:
                self.config(f"certificates.{name}.client-cert", str(client))

    def __repr__(self) -> str:
        return f"<Poetry {self.executable}>"


def _merge(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value
