"""Drive the real pdm against ephemeral indexes: a project with ``[[tool.pdm.source]]``,
credentials and certificates in pdm's *global* config, ``pdm lock -S static_urls`` parsed.

Supported: pdm 2.17.2 and newer (read from its source; where releases differ, the code
names them).

What this wrapper encodes about pdm:

* Sources are ``[[tool.pdm.source]]`` tables (``name``, ``url``, ``verify_ssl``,
  ``include_packages``, ``exclude_packages``). By default pdm merges every source and takes
  the best version; ``[tool.pdm.resolution] respect-source-order = true`` makes the first
  source that has the project win.
* Credentials and certificates are ``pypi.<name>.username|password|ca_certs|client_cert|
  client_key`` in the global config (``ca_certs``/``client_cert``/``client_key`` are
  global-only keys). ``pdm config pypi.<name>.password ...`` hands the password to the
  keyring when one is importable and silently loses it with a null keyring, so this module
  writes the TOML file at ``PDM_CONFIG_FILE`` itself.
* Config entries for sources the project does not list would be added as extra indexes
  (plus the implicit PyPI): ``PDM_IGNORE_STORED_INDEX=1`` turns that off, so only the
  project's sources take part. ``PdmProject(implicit_pypi=True)`` drops it again for one
  project, to test what users get: pdm 2.29.3 puts the implicit PyPI *first*.
* Trust (pdm 2.29.3, ``pdm/models/session.py``): a source's ``ca_certs`` wins; without it
  ``REQUESTS_CA_BUNDLE``, then ``CURL_CA_BUNDLE``, then a truststore context that also loads
  certifi's roots. On Linux truststore reads ``SSL_CERT_FILE``, so in a routed ClientEnv pdm
  trusts the PyPI stand-in (the public CA) with no variable of its own, and a private
  source without ``ca_certs`` fails ("[ConnectError]: [SSL: CERTIFICATE_VERIFY_FAILED]";
  tests/test_pypi_precedence.py). The harness sets no ``REQUESTS_CA_BUNDLE``: it would
  replace that default store for every source without ``ca_certs``.
* pdm.lock records no index unless ``pdm lock -S static_urls``; then every file entry has
  the URL it was found at, which :class:`PdmLockResult` maps back to a source name.

``pdm publish`` (2.29, ``pdm/cli/commands/publish/``), driven by :meth:`PdmProject.publish`:

* Routes (:data:`PDM_PUBLISH_ROUTES`): ``file`` (formerly ``config``, still accepted) =
  ``[repository.<name>]`` in the global
  config (``url``, ``username``, ``password``, ``ca_certs``, ``verify_ssl``, ``client_cert``,
  ``client_key``) and ``-r <name>``; ``cli`` = ``-r URL -u USER -P PASSWORD --ca-certs CA``;
  ``env`` = ``PDM_PUBLISH_REPO``, ``PDM_PUBLISH_USERNAME``, ``PDM_PUBLISH_PASSWORD``,
  ``PDM_PUBLISH_CA_CERTS``. Options win over variables, which win over the config entry.
* There is no option or variable for a client certificate: only a ``[repository.<name>]``
  entry carries one. ``-r URL`` uses the settings (certificates *and* credentials) of a config
  repository whose ``url`` is exactly that string, so for an mTLS index the ``cli``/``env``
  routes write an entry holding only the URL and the client certificate.
* A password without a username is sent as user ``__token__``. A username without a password
  is completed from URL userinfo, the keyring, then PyPI's trusted publishing (an
  unauthenticated ``GET /_/oidc/audience`` to the *upload host*), else non-interactive pdm
  stops: "Username and password are required".
* ``--no-build`` uploads every file in the project's ``dist/`` (``-d`` for another folder),
  wheels first; without it pdm first builds the project, which needs its build backend from an
  index. The harness always passes ``--no-build`` with dists it copied into ``dist/``.
* The upload is one multipart POST, redirects not followed; an error status becomes
  ``[PublishError]: Client error '<status> <reason>' for url '<url>'``. From pdm 2.26.3 (which
  requires hishel >= 1) the reason is httpx's standard phrase ("403 Forbidden"), not the
  server's: the response passes through pdm's hishel cache transport, which drops it
  (``pdm --no-cache publish`` keeps it); earlier pdm (hishel 0.x) shows the server's reason.
  :meth:`Pdm.publish_error` spells the line for the pdm at hand.
* The upload session is built like a source's, so the ``ca_certs`` + ``client_cert`` problem
  described in :meth:`Pdm.configure_source` applies to publishing too (``--ca-certs`` as well).
"""

from __future__ import annotations

import http
import os
import re
import sys
from pathlib import Path
from typing import Any

import tomlkit
from packaging.version import Version

from pytest_privrepo.access import IndexAccess
from pytest_privrepo.clients.env import ClientEnv
from pytest_privrepo.clients.indexes import IndexArg
from pytest_privrepo.clients.runner import ClientRunner, Route
from pytest_privrepo.errors import ConfigError

__all__ = ["PDM_PUBLISH_ROUTES", "Pdm", "check_pdm_name"]

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def check_pdm_name(name: str, kind: str = "source") -> str:
    """``name`` if pdm takes it as a source or repository name (``kind``), else a
    :class:`ConfigError`: letters, digits, ``_`` and ``-`` (it becomes a config key)."""
    if not _NAME_RE.match(name):
        raise ConfigError(f"{name!r} cannot be used as a pdm {kind} name")
    return name


def provision_extras(version: str | None) -> tuple[str, ...]:
    """What to install next to ``pdm==version``: pdm's own "locked" extra (2.17.0+), which pins
    the dependency versions that release was tested with. Unpinned, pdm 2.29.3 resolves
    hishel 2 / unearth 0.19 and fails on every lock."""
    return (f"pdm[locked]=={version}" if version else "pdm[locked]",)

#: Ways to hand ``pdm publish`` an index's upload URL, credentials and CA (see the module doc).
PDM_PUBLISH_ROUTES: tuple[Route, ...] = ("file", "cli", "env")

#: Key prefix in ``Pdm._env_cas`` for repositories (source names contain no dots).
_REPO_KEY = "repository."

#: From this release pdm requires hishel >= 1, whose cache transport rebuilds every response
#: without the server's reason phrase (2.26.1/2.26.2 require hishel < 1; 2.26.0 and earlier
#: lock hishel 0.x).
_HISHEL1_SINCE = Version("2.26.3")

#: pdm 2.17.0 and 2.17.1 skip the global config's ``[pypi.<name>]`` entirely when
#: ``PDM_IGNORE_STORED_INDEX`` is set, even for the project's own sources: credentials,
#: ``ca_certs`` and ``client_cert`` are silently lost. 2.17.2 keeps them (it only stops
#: *adding* stored sources). Without that variable pdm adds PyPI and every stored source, so
#: the harness cannot work around it: it needs 2.17.2 (the oldest release with pdm's
#: ``locked`` extra, 2.17.0, is where provisioning starts anyway).
_SOURCE_CONFIG_SINCE = Version("2.17.2")


class Pdm(ClientRunner):
    """Runs the pdm executable inside ``env``.

    ``python`` is the base interpreter (``PDM_PYTHON``, so pdm never searches for or
    downloads one); :class:`PdmProject` gives each project a venv made from it. pdm's global config lives at :attr:`config_file`
    (``PDM_CONFIG_FILE``), its cache inside the environment (``PDM_CACHE_DIR``).
    """

    tool = "pdm"
    must_exist = False

    def __init__(
        self,
        env: ClientEnv,
        executable: str | os.PathLike[str],
        *,
        python: str | os.PathLike[str] = sys.executable,
        timeout: float | None = None,
    ) -> None:
        super().__init__(env, executable, timeout=timeout)
        self.python = os.fspath(python)
        self.config_file = env.xdg_config / "pdm" / "config.toml"
        self._config: dict[str, dict[str, object]] = {}
        self._repositories: dict[str, dict[str, object]] = {}
        self._env_cas: dict[str, Path] = {}
        self._write_config()

    # ------------------------------------------------------------------ config
    def _write_config(self) -> None:
        doc = tomlkit.document()
        doc["check_update"] = False
        for section, entries in (("pypi", self._config), ("repository", self._repositories)):
            if not entries:
                continue
            outer = tomlkit.table(is_super_table=True)
            for name, values in entries.items():
                table = tomlkit.table()
                for key, value in values.items():
                    table[key] = value
                outer[name] = table
            doc[section] = outer
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(tomlkit.dumps(doc), encoding="utf-8")
        self.config_file.chmod(0o600)

    def configure_source(
        self,
        name: str,
        index: IndexArg | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        ca_certs: str | os.PathLike[str] | None = None,
        client_cert: str | os.PathLike[str] | None = None,
        client_key: str | os.PathLike[str] | None = None,
    ) -> Path:
        """Write ``[pypi.<name>]`` credentials/certificates into the global config file.

        Values come from ``index`` (its username, password, CA, client certificate) unless
        given explicitly, e.g. a wrong password. Returns the config file path. A
        :class:`ConfigError` for pdm < 2.17.2, which ignores these entries (see
        ``_SOURCE_CONFIG_SINCE``).
        """
        check_pdm_name(name)
        spec = IndexAccess.of(index) if index is not None else None
        values: dict[str, object] = {}
        user = username if username is not None else (spec.username if spec else None)
        secret = password if password is not None else (spec.password if spec else None)
        ca = ca_certs if ca_certs is not None else (spec.ca_cert if spec else None)
        cert = client_cert if client_cert is not None else (spec.client_cert if spec else None)
        if user is not None:
            values["username"] = user
        if secret is not None:
            values["password"] = secret
        self._env_cas.pop(name, None)  # a reconfigured source must not keep an old CA
        if ca is not None and cert is not None:
            # pdm 2.29 + httpx 0.28: a source with ca_certs gets ``verify=<path str>``, and
            # httpx's create_ssl_context returns early for a str verify, before loading
            # ``cert``: the client certificate is silently never presented. Without
            # ca_certs pdm uses its truststore context, which (on Linux) reads the trust
            # roots from SSL_CERT_FILE, and loads the client certificate: so the CA goes to
            # SSL_CERT_FILE for such sources (see run()).
            self._env_cas[name] = Path(ca).absolute()
        elif ca is not None:
            values["ca_certs"] = os.fspath(Path(ca).absolute())
        if cert is not None:
            values["client_cert"] = os.fspath(Path(cert).absolute())
        if client_key is not None:
            values["client_key"] = os.fspath(Path(client_key).absolute())
        if values:
            try:
                self.require(_SOURCE_CONFIG_SINCE, (
                    f"ignores [pypi.{name}] ({', '.join(values)}) for the project's own "
                    f"sources when PDM_IGNORE_STORED_INDEX is set (fixed in pdm "
                    f"{_SOURCE_CONFIG_SINCE})"))
            except ConfigError:
                self._env_cas.pop(name, None)
                raise
        self._config[name] = values
        self._write_config()
        return self.config_file

    def configure_repository(
        self,
        name: str,
        index: IndexArg | None = None,
        *,
        url: str | None = None,
        username: str | None = None,
        password: str | None = None,
        ca_certs: str | os.PathLike[str] | None = None,
        client_cert: str | os.PathLike[str] | None = None,
        client_key: str | os.PathLike[str] | None = None,
        verify_ssl: bool | None = None,
        credentials: bool = True,
        certificates: bool = True,
        split_ca: bool = True,
    ) -> Path:
        """Write ``[repository.<name>]`` (what ``pdm publish -r <name>`` reads) into the global
        config file, replacing an earlier entry of that name. Returns the config file path.

        ``index`` is an :class:`~pytest_privrepo.access.IndexAccess` or an ``Index`` (its
        ``upload_url``, credentials and certificates); explicit keywords win over its values.
        ``credentials=False`` / ``certificates=False`` leave the index's own out.
        ``split_ca=False`` writes ``ca_certs`` next to ``client_cert``, which pdm 2.29 turns
        into a connection without the client certificate (see :meth:`configure_source`).
        """
        check_pdm_name(name, "repository")
        access = IndexAccess.of(index) if index is not None else None
        target = url if url is not None else (access.upload_url if access else None)
        if not target:
            raise ConfigError("configure_repository() needs url= or an index with upload_url")
        own = access if access is not None and credentials else None
        trust = access if access is not None and certificates else None
        user = username if username is not None else (own.username if own else None)
        secret = password if password is not None else (own.password if own else None)
        ca = ca_certs if ca_certs is not None else (trust.ca_cert if trust else None)
        cert = client_cert if client_cert is not None else (trust.client_cert if trust else None)
        values: dict[str, object] = {"url": target}
        if user is not None:
            values["username"] = user
        if secret is not None:
            values["password"] = secret
        self._env_cas.pop(_REPO_KEY + name, None)
        if ca is not None and cert is not None and split_ca:
            # Same pdm 2.29 + httpx 0.28 problem as for sources (configure_source): the
            # upload session is built from this entry by the same code, and ``ca_certs``
            # makes httpx ignore ``client_cert``. The CA goes to SSL_CERT_FILE instead.
            self._env_cas[_REPO_KEY + name] = Path(ca).absolute()
        elif ca is not None:
            values["ca_certs"] = os.fspath(Path(ca).absolute())
        if verify_ssl is not None:
            values["verify_ssl"] = verify_ssl
        if cert is not None:
            values["client_cert"] = os.fspath(Path(cert).absolute())
        if client_key is not None:
            values["client_key"] = os.fspath(Path(client_key).absolute())
        self._repositories[name] = values
        self._write_config()
        return self.config_file

    def remove_repository(self, name: str) -> None:
        """Drop ``[repository.<name>]`` (and its CA in SSL_CERT_FILE), if written."""
        self._repositories.pop(name, None)
        self._env_cas.pop(_REPO_KEY + name, None)
        self._write_config()

    def repositories(self) -> dict[str, dict[str, object]]:
        """The ``[repository.*]`` entries this Pdm wrote (a copy)."""
        return {name: dict(values) for name, values in self._repositories.items()}

    # ------------------------------------------------------------------ plumbing
    def run_env(self) -> dict[str, str | os.PathLike[str] | None]:
        """pdm's config, cache and interpreter in this environment, no prompts, no update
        check, never an active venv; ``SSL_CERT_FILE`` for sources with a client
        certificate (see :meth:`configure_source`), keeping the default store (the
        gateway's public CA) in a routed ClientEnv."""
        env: dict[str, str | os.PathLike[str] | None] = {
            "PDM_CONFIG_FILE": self.config_file,
            "PDM_CACHE_DIR": self.env.xdg_cache / "pdm",
            "PDM_IGNORE_STORED_INDEX": "1",
            "PDM_PYTHON": self.python,
            "PDM_CHECK_UPDATE": "false",
            "PDM_NON_INTERACTIVE": "1",
            # pdm uses the project's venv; never one the caller happens to have active
            "PDM_IGNORE_ACTIVE_VENV": "1",
            # pdm <= 2.19.3 (fixed in 2.20.0) picks each source's proxy from httpx's
            # environment proxy map sorted by *key string*: "all://" (ALL_PROXY) sorts
            # before "all://127.0.0.1" (NO_PROXY) and wins, so every request to a loopback
            # index went to the ClientEnv's blackhole proxy ("Connection refused"). Without
            # ALL_PROXY the NO_PROXY entries sort first, and HTTP_PROXY/HTTPS_PROXY still
            # stop anything leaving the machine; for 2.20+ this changes nothing.
            "ALL_PROXY": None,
            "all_proxy": None,
        }
        cas = list(self._env_cas.values())
        if cas and self.env.gateway is not None:
            # SSL_CERT_FILE is also where a routed ClientEnv keeps the default store (the
            # gateway's public CA): replacing it with the sources' CAs alone made every
            # request to the PyPI stand-in fail ("[ConnectError]: [SSL:
            # CERTIFICATE_VERIFY_FAILED]", pdm 2.29.3, an mTLS source next to the implicit
            # PyPI; tests/test_pypi_precedence.py). pdm's truststore context reads it on
            # Linux and adds certifi's roots itself, so only the gateway's are added here.
            cas.append(self.env.gateway.trust_bundle)
        bundle = self.env.ca_bundle(cas)
        if bundle is not None:
            env["SSL_CERT_FILE"] = bundle
        return env

    def publish_error(self, url: str, status: int, reason: str) -> str:
        """The line ``pdm publish`` ends with when ``url`` answers the upload with ``status``
        and the reason phrase ``reason``: ``[PublishError]: Client error '403 <reason>' for
        url '<url>'``. pdm >= 2.26.3 (hishel 1) shows httpx's standard phrase instead of the
        server's (see the module docstring)."""
        if self.release >= _HISHEL1_SINCE:
            reason = http.HTTPStatus(status).phrase
        kind = "Client" if status < 500 else "Server"
        return f"[PublishError]: {kind} error '{status} {reason}' for url '{url}'"


#: The project side lives in pdm_project.py now; ``from pytest_privrepo.clients.pdm import
#: PdmProject`` (the old home) keeps working through :func:`__getattr__`.
_MOVED = frozenset({"PdmLockedPackage", "PdmLockResult", "PdmProject", "parse_pdm_lock"})


def __getattr__(name: str) -> Any:
    """The names that moved to :mod:`pytest_privrepo.clients.pdm_project` (imported on
    first use: that module imports this one)."""
    if name in _MOVED:
        from pytest_privrepo.clients import pdm_project

        return getattr(pdm_project, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
