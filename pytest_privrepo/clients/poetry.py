"""Drive the real Poetry (1.8 and 2.x) in an isolated environment.

:class:`Poetry` runs one Poetry executable inside a :class:`ClientEnv` and writes Poetry's
configuration by every route Poetry supports, so a test can prove each route works:

- ``route="file"`` (formerly ``"files"``, still accepted): config.toml / auth.toml exactly
  as ``poetry config`` writes them;
- ``route="env"``: ``POETRY_HTTP_BASIC_<NAME>_*``, ``POETRY_PYPI_TOKEN_<NAME>``,
  ``POETRY_CERTIFICATES_<NAME>_*``;
- ``route="command"``: the real ``poetry config`` commands;
- ``route="keyring"``: ``poetry config`` with an isolated keyring backend
  (:mod:`pytest_privrepo.clients.keyring_backend`), so the password lands in the keyring
  under service ``poetry-repository-<name>`` and not in auth.toml.

In a ClientEnv routed through the gateway, every run sees the gateway's public CA as
certifi's bundle (:meth:`ClientEnv.certifi_store <pytest_privrepo.clients.env.ClientEnv.certifi_store>`): that is where Poetry's requests looks for
its default roots, so the PyPI stand-in is trusted the way a real machine trusts PyPI.

Projects (pyproject.toml, lock, build, publish) live in :mod:`.poetry_project`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit

from ..access import IndexAccess
from ..errors import ConfigError
from .env import ClientEnv
from .indexes import IndexArg
from .isolated_keyring import IsolatedKeyring
from .result import CommandResult
from .runner import OWN_TIMEOUT, ClientRunner, Route

__all__ = ["POETRY_ROUTES", "ROUTES", "Poetry", "poetry_env_name"]

#: Ways to hand Poetry an index's credentials and certificates.
POETRY_ROUTES: tuple[Route, ...] = ("file", "env", "command", "keyring")
#: Deprecated name of :data:`POETRY_ROUTES` (which spells ``"files"`` as ``"file"``; both work).
ROUTES = POETRY_ROUTES


def poetry_env_name(name: str, *, keep_dots: bool = False) -> str:
    """The ``<NAME>`` part of Poetry's variables for source ``name``: upper case, ``-`` to
    ``_``, and ``.`` to ``_`` unless ``keep_dots``.

    ``config/config.py`` ``Config.get`` builds ``"POETRY_" + "_".join(k.upper().replace("-",
    "_") for k in keys)``. Poetry 1.8.5 passes ``f"http-basic.{name}.username"``, split on
    ``.``, so a dot in the name becomes ``_``; Poetry 2.5.1 passes ``["http-basic", name,
    "username"]`` (``utils/password_manager.py``), so the dot stays (``MY.REPO``); the
    release in between that changed it is not bisected. Other characters stay as they are.
    """
    text = name.upper().replace("-", "_")
    return text if keep_dots else text.replace(".", "_")


class Poetry(ClientRunner):
    """One Poetry executable, run in an isolated environment.

    ``Poetry(env, executable)``, like every runner; the older order ``Poetry(executable,
    env)`` still works (deprecated).
    """

    tool = "poetry"
    default_timeout = 300.0
    version_args = ("--no-ansi", "--no-interaction", "--version")
    #: Poetry 1.8.5 and 2.5.1 send every request through requests 2.34.2, which verifies
    #: against certifi (``requests/utils.py``: ``DEFAULT_CA_BUNDLE_PATH = certs.where()``)
    #: and reads no ``SSL_CERT_FILE`` (with only that the stand-in fails: 1.8.5
    #: ``CERTIFICATE_VERIFY_FAILED``, 2.5.1 "All attempts to connect to pypi.org failed.").
    #: Source requests pass ``certificates.<name>.cert`` per request
    #: (``utils/authenticator.py``), the uploader on its session
    #: (``publishing/uploader.py``), so REQUESTS_CA_BUNDLE would break ``publish -r``.
    trust_store = "certifi"

    def __init__(self, env: ClientEnv | str | os.PathLike[str],
                 executable: str | os.PathLike[str] | ClientEnv, *,
                 timeout: float | None = None) -> None:
        if isinstance(executable, ClientEnv):  # the old order: (executable, env)
            env, executable = executable, env
        if not isinstance(env, ClientEnv) or isinstance(executable, ClientEnv):
            raise ConfigError("Poetry(env, executable) needs one ClientEnv and one executable")
        super().__init__(env, executable, timeout=timeout)
        env.set(
            POETRY_VIRTUALENVS_IN_PROJECT="true",
            POETRY_VIRTUALENVS_OPTIONS_NO_PIP="false",
            POETRY_REQUESTS_TIMEOUT="15",
            POETRY_INSTALLER_MAX_WORKERS="4",
        )

    # -- running --------------------------------------------------------------------------
    def run(self, *args: str | os.PathLike[str], cwd: str | os.PathLike[str] | None = None,
            input: str | None = None, check: bool = True, timeout: float | None = OWN_TIMEOUT,
            extra_env: Mapping[str, str | os.PathLike[str] | None] | None = None) -> CommandResult:
        """Run ``poetry --no-ansi [--no-interaction] <args>`` (no prompts unless ``input`` is
        given); a failure raises ClientError with the command and output."""
        words = [os.fspath(a) for a in args]
        prefix = ["--no-ansi"]
        if input is None and "-n" not in words and "--no-interaction" not in words:
            prefix.append("--no-interaction")
        return super().run(*prefix, *words, cwd=cwd, input=input, check=check,
                           timeout=timeout, extra_env=extra_env)

    def parse_version(self, words: list[str]) -> str | None:
        """``Poetry (version 2.5.1)`` / ``Poetry version 1.8.5``: the last word, without the
        closing parenthesis (a ``poetry --version`` method, like every runner's; it was a
        property before)."""
        match = re.search(r"(\d+\.\d+(?:\.\d+)?\S*)\)?\s*$", " ".join(words))
        return match.group(1).rstrip(")") if match else None

    @property
    def major(self) -> int:
        return int(self.version().split(".")[0])

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
    @property
    def keyring(self) -> IsolatedKeyring:
        """This environment's isolated keyring (shared with pip in the same env)."""
        return IsolatedKeyring(self.env)

    def use_keyring(self) -> Path:
        """Give Poetry a usable, isolated keyring; return the JSON file that stores it."""
        keyring = self.keyring
        self.env.set(PYTHONPATH=str(keyring.backend_dir()), **keyring.backend_vars())
        self.env.unset("POETRY_KEYRING_ENABLED")
        return keyring.store

    def keyring_contents(self) -> dict[str, dict[str, str]]:
        """``{service: {user: password}}`` as stored in the isolated keyring."""
        return self.keyring.contents()

    # -- one index, by route --------------------------------------------------------------------
    def configure(
        self,
        index: IndexArg,
        name: str | None = None,
        *,
        route: Route | str = "file",
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
        route = self.check_route(route, POETRY_ROUTES)
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

        if route == "file":
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
            n = poetry_env_name(name, keep_dots=self.major >= 2)
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


def _merge(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value


