"""An isolated process environment for running real packaging clients.

Why this exists: CI machines (and developer laptops) export variables and keep config files
that silently change what pip, uv, Poetry, twine ... do. ``REQUESTS_CA_BUNDLE`` overrides
``pip --cert``; ``PIP_FIND_LINKS`` and a user ``pip.conf`` add indexes a test never asked
for; a real keyring can pop up a prompt or leak a developer's token. A test that drives a
client must see *only* what the test configured, so :class:`ClientEnv` builds every client
environment from scratch:

* ``HOME``, the XDG directories, caches, ``NETRC`` and ``TMPDIR`` all point inside one
  root directory (normally a pytest ``tmp_path``), so nothing is read from or written to the
  real home directory;
* every inherited variable that configures a packaging client, its interpreter, git, a
  CA bundle, TLS or a proxy is removed (see :data:`REMOVED_VARIABLES`,
  :data:`REMOVED_PREFIXES` and :data:`REMOVED_SUFFIXES`);
* only loopback is reached directly (:data:`LOOPBACK_HOSTS`); with ``offline`` everything
  else goes to a dead proxy; git (and Poetry's dulwich) may use only http(s) and local
  paths, in both modes, because git:// and ssh connect past any proxy;
* config-file discovery is switched off where the client allows it (``PIP_CONFIG_FILE`` =
  :data:`os.devnull`, ``UV_NO_CONFIG=1``) and the keyring is the failing backend.

Tests then add exactly what they need with :meth:`ClientEnv.set` or per call with
``run(..., extra_env=...)``.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from pytest_privrepo.access import GatewayAccess
from pytest_privrepo.clients.result import CommandResult, format_command_failure
from pytest_privrepo.errors import ClientError, ConfigError
from pytest_privrepo.pem import read_pem, write_pem_bundle
from pytest_privrepo.redact import MASK, redact_argv, secrets_in_env

__all__ = [
    "BLACKHOLE_PROXY",
    "DEFAULT_KEYRING_BACKEND",
    "DEFAULT_STORE",
    "DEFAULT_TIMEOUT",
    "GIT_ALLOWED_PROTOCOLS",
    "GIT_PROTOCOL_REWRITE",
    "LOOPBACK_HOSTS",
    "REMOVED_PREFIXES",
    "REMOVED_SUFFIXES",
    "REMOVED_VARIABLES",
    "ClientEnv",
]

#: Seconds a client command may run before it is killed. Generous, because a cold uv or
#: Poetry start on a loaded CI worker can take several seconds, but finite, because a client
#: waiting on a prompt or a dead socket must fail the test instead of hanging the session.
DEFAULT_TIMEOUT: float = 180.0

#: ``keyring.backends.fail.Keyring`` raises on every call: a client that reaches for the
#: keyring fails loudly instead of reading or writing the developer's real secrets. Poetry
#: also treats it as "no keyring" and falls back to its own auth.toml.
DEFAULT_KEYRING_BACKEND = "keyring.backends.fail.Keyring"

#: Inherited variables that are always dropped (compared in upper case). Families of
#: variables are in :data:`REMOVED_PREFIXES` and :data:`REMOVED_SUFFIXES`.
REMOVED_VARIABLES: frozenset[str] = frozenset(
    {
        # TLS key logging: Python's ssl.create_default_context (httpx: pdm, hatch) and
        # urllib3's create_urllib3_context (twine, Poetry; pip's vendored copy) append the
        # session secrets of every TLS connection to this file: twine 7.0.0 wrote them to
        # the machine's path, outside the isolated root (issue 11); pip 26.3 creates it.
        "SSLKEYLOGFILE",
        # Proxies (every other *_PROXY goes by suffix): a test talks to loopback; a
        # corporate proxy must never see that traffic.
        "NO_PROXY",
        # Config and credential files that we set ourselves.
        "NETRC",
        # Runtime flags that change clients' output, timeouts or interactivity.
        "CI",
        "HTTP_TIMEOUT",  # uv's legacy name for UV_HTTP_TIMEOUT
        "RUST_LOG",  # uv would log to stderr and bury its real output
        "__PYVENV_LAUNCHER__",  # macOS framework Python: sys.executable of another venv
        # Terminal mode although stdout is a pipe: rich 15 (pip's vendored copy, twine,
        # pdm, hatch; Console.is_terminal) takes FORCE_COLOR or TTY_COMPATIBLE=1 for a
        # terminal (width, live displays, styles other than colour: NO_COLOR removes only
        # colour), TTY_INTERACTIVE=1 turns live progress displays on; uv (anstream)
        # honours CLICOLOR_FORCE; pytest and tox honour PY_COLORS.
        "FORCE_COLOR",
        "CLICOLOR",
        "CLICOLOR_FORCE",
        "PY_COLORS",
        "TTY_COMPATIBLE",
        "TTY_INTERACTIVE",
        # GNU gettext (git's messages) picks the language from LANGUAGE before LC_ALL:
        # a client's error text must read the same on every machine.
        "LANGUAGE",
        # Reproducible-build timestamp: flit_core, hatchling and setuptools stamp the
        # archives they build with it, so a build's bytes would depend on the machine.
        "SOURCE_DATE_EPOCH",
    }
)

#: Inherited variables starting with any of these prefixes (compared in upper case) are
#: dropped: each family configures a client, the interpreter that runs it, its trust
#: roots or a tool it starts.
REMOVED_PREFIXES: tuple[str, ...] = (
    # The clients' own settings and the environment managers they honour.
    "PIP_",
    "UV_",
    "POETRY_",
    "PDM_",
    "TWINE_",
    "HATCH_",
    "FLIT_",
    "KEYRING_",  # keyring's KEYRING_PROPERTY_* backend settings
    "VIRTUAL_ENV",  # an activated venv: pdm, hatch, Poetry and uv would use it
    "VIRTUALENV_",  # virtualenv's settings (Poetry, hatch and pdm create venvs with it),
    # e.g. VIRTUALENV_SYSTEM_SITE_PACKAGES=1 shows the machine's packages to every venv
    "CONDA_",  # uv and pdm treat CONDA_PREFIX as the active environment
    # The interpreter every Python client runs on. PYTHONWARNINGS=error makes Poetry 2.5.1
    # `--version` exit 1 (a DeprecationWarning of its own, issue 11); PYTHONPATH, PYTHONHOME,
    # PYTHONUSERBASE and PYTHONPLATLIBDIR make it import other code; PYTHONSTARTUP,
    # PYTHONINSPECT, PYTHONSAFEPATH, PYTHONOPTIMIZE, PYTHONDEVMODE, PYTHONVERBOSE and
    # PYTHONPYCACHEPREFIX change how it runs, what it prints or where it writes;
    # PYTHONHTTPSVERIFY=0 (PEP 493 builds) disables certificate checks;
    # PYTHON_KEYRING_BACKEND chooses the keyring. Those the clients need are set below.
    "PYTHON",
    # Cross-build overrides: _PYTHON_HOST_PLATFORM changes sysconfig.get_platform(), the
    # platform tag pip and the build backends use; _PYTHON_SYSCONFIGDATA_NAME another
    # interpreter's build configuration.
    "_PYTHON_",
    # Trust roots and TLS configuration. requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE
    # override an explicit session verify (pip --cert, twine --cert, Poetry certificates);
    # OpenSSL and uv read SSL_CERT_FILE / SSL_CERT_DIR, uv SSL_CLIENT_CERT; OPENSSL_CONF
    # changes protocols, ciphers and security level for every OpenSSL-based client;
    # libcurl (git) takes CURL_CA_BUNDLE and CURL_SSL_BACKEND, the curl tool CURL_HOME.
    "SSL_",
    "OPENSSL_",
    "REQUESTS_",
    "CURL_",
    # git (pip, uv and pdm run it for VCS requirements; Poetry uses dulwich, which reads
    # git's config files). GIT_CONFIG_GLOBAL / GIT_CONFIG_SYSTEM / GIT_CONFIG_COUNT with
    # GIT_CONFIG_KEY_n and GIT_CONFIG_VALUE_n add config, and an `insteadOf` there rewrote
    # the URLs a test passed (issue 11); GIT_SSL_CAINFO / GIT_SSL_NO_VERIFY change trust;
    # GIT_DIR, GIT_INDEX_FILE, GIT_WORK_TREE (exported to a pytest run from a git hook)
    # point every git call at the caller's repository; GIT_SSH_COMMAND, GIT_ASKPASS,
    # GIT_PROXY_COMMAND run the machine's programs; GIT_TRACE* writes elsewhere. The git
    # settings ClientEnv wants are set below.
    "GIT_",
    # ssh: SSH_ASKPASS is git's credential prompt when GIT_ASKPASS is unset (a GUI dialog on
    # a desktop), SSH_AUTH_SOCK hands the developer's keys to any ssh a client starts.
    "SSH_",
    # XDG base directories: the *_HOME ones are replaced below; XDG_CONFIG_DIRS and
    # XDG_DATA_DIRS add system-wide config (/etc/xdg/pip/pip.conf, ...); uv installs tool
    # executables into XDG_BIN_HOME and keeps state in XDG_STATE_HOME, outside the root.
    "XDG_",
    # setuptools-scm (also behind hatch-vcs): SETUPTOOLS_SCM_PRETEND_VERSION, exported by
    # a CI job for its own package, would give every project a test builds that version.
    "SETUPTOOLS_SCM_",
)

#: Inherited variables ending with any of these suffixes (compared in upper case) are
#: dropped. Besides every proxy, the trust roots other tools read: this machine exports
#: AWS_CA_BUNDLE, NODE_EXTRA_CA_CERTS, HTTPLIB2_CA_CERTS, NIX_SSL_CERT_FILE,
#: GRPC_DEFAULT_SSL_ROOTS_FILE_PATH and CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE. A process a
#: client starts may use them (a keyring backend such as keyrings.codeartifact via
#: botocore or keyrings.google-artifactregistry-auth via google-auth, a build backend);
#: the only trust a test has is what it passes.
REMOVED_SUFFIXES: tuple[str, ...] = (
    "_PROXY",  # http_proxy, HTTPS_PROXY, ALL_PROXY, FTP_PROXY, ... in either case
    "_CA_BUNDLE",
    "_CA_CERTS",
    "_CA_CERTS_FILE",
    "_SSL_CERT_FILE",
    "_SSL_CERT_DIR",
    "_SSL_ROOTS_FILE_PATH",
)

#: The host names every client in a :class:`ClientEnv` reaches directly (its NO_PROXY).
#: Listed exactly, not as ``127.0.0.0/8``: requests 2.34 (pip, Poetry, twine), uv 0.13
#: (reqwest) and git 2.39 (libcurl) reach ``127.0.0.2`` with that entry, but Python's urllib
#: and httpx 0.28.1 (pdm 2.29, hatch 1.18) compare host names and send it to the offline
#: guard's dead proxy (tried on this project's CI image). The index factory refuses any
#: other loopback address for the same reason.
LOOPBACK_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")

_NO_PROXY = ",".join(LOOPBACK_HOSTS)

#: The variables that make the gateway's public CA the clients' default trust store, the
#: one that makes a real machine trust PyPI. ``SSL_CERT_FILE`` is OpenSSL's default store:
#: Python's ``ssl.create_default_context`` (httpx: pdm, hatch), truststore on Linux (pip >=
#: 24.2) and uv (which lets it replace its built-in roots) read it; each of them still
#: lets an explicit CA setting win (tests/test_pypi_precedence.py, tests/test_pypi_publish.py).
DEFAULT_STORE: tuple[str, ...] = ("SSL_CERT_FILE",)

#: A proxy that refuses every connection (port 9, "discard", is closed on loopback): with it
#: set and loopback in NO_PROXY, a client fails fast on any request that would leave the
#: machine, instead of reaching PyPI or hanging on a timeout.
BLACKHOLE_PROXY = "http://127.0.0.1:9"

#: The transports git may use (``GIT_ALLOW_PROTOCOL``): http(s), which the proxy settings
#: guard, and local paths (``file``), which tests use for VCS requirements. git://, ssh://,
#: ``ext::`` and remote helpers connect without any proxy, so they would bypass the offline
#: guard; git refuses them with "transport '...' not allowed".
GIT_ALLOWED_PROTOCOLS = "http:https:file"

#: Prefix ``git://`` URLs are rewritten to (``url.<this>.insteadOf = git://``). git refuses
#: the made-up transport by name; dulwich (Poetry's git client, which ignores
#: GIT_ALLOW_PROTOCOL) cannot parse it as a URL, takes it for ``host:path`` over ssh and
#: runs the blocking ssh command instead of opening a TCP connection.
GIT_PROTOCOL_REWRITE = "privrepo-blocked-git://"

_BLOCKED_SSH = (
    "#!/bin/sh\n"
    "# Written by pytest-privrepo's ClientEnv: git's and dulwich's ssh command.\n"
    "echo 'pytest-privrepo ClientEnv: git over ssh and git:// is blocked (they bypass the"
    " offline guard); use an http(s) URL on loopback or a local path' >&2\n"
    "exit 128\n"
)


#: ``certifi`` as the clients see it in a routed ClientEnv: only the two functions certifi
#: has (certifi 2026.10.19 ``certifi/core.py``), answering with the public CA bundle.
_CERTIFI_MODULE = '''"""certifi for pytest-privrepo's ClientEnv: the gateway's public CA is the default store."""
__version__ = "0+privrepo"
_BUNDLE = {bundle!r}


def where() -> str:
    return _BUNDLE


def contents() -> str:
    with open(_BUNDLE, encoding="ascii") as handle:
        return handle.read()
'''


def _proxy_vars(proxy: str) -> dict[str, str]:
    return {
        name: proxy
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
    }


def _is_removed(name: str) -> bool:
    upper = name.upper()  # Windows names are case-insensitive; *_proxy comes in both cases
    return (
        upper in REMOVED_VARIABLES
        or upper.startswith(REMOVED_PREFIXES)
        or upper.endswith(REMOVED_SUFFIXES)
    )


def _git_quote(value: str) -> str:
    """A git config value in double quotes (backslashes and quotes escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(value: str | os.PathLike[str]) -> str:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, str):
        return value
    raise ConfigError(f"environment values must be str or os.PathLike, got {value!r}")


class ClientEnv:
    """A hermetic environment (variables + private directories) for client subprocesses.

    ``root`` is created if needed and is the only place the clients may write to: it holds
    ``home/``, ``xdg-config/``, ``xdg-cache/``, ``xdg-data/``, ``xdg-config-dirs/`` (kept
    empty so no system-wide XDG config is found), ``tmp/``, the ``netrc`` file and git's
    only config file (:attr:`gitconfig`).

    ``inherit`` is the environment to start from (default: :data:`os.environ` at
    construction time). Variables that configure packaging clients, trust roots, proxies,
    the keyring, git or the interpreter are dropped (:data:`REMOVED_VARIABLES`,
    :data:`REMOVED_PREFIXES`, :data:`REMOVED_SUFFIXES`); the rest survives. A deny-list rather
    than an allow-list, because interpreters on some CI images need ``LD_LIBRARY_PATH``,
    and on Windows ``SYSTEMROOT`` and friends, to start at all. ``PATH`` is kept so the
    clients and their helper tools (git, compilers) are found.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        inherit: Mapping[str, str] | None = None,
        offline: bool = True,
        gateway: GatewayAccess | object | None = None,
    ) -> None:
        #: with ``offline`` (the default) every non-loopback request goes to a dead proxy
        #: (:data:`BLACKHOLE_PROXY`) and fails at once: a test can never reach the real
        #: network by accident (an implicit PyPI source, a redirect, a fallback index).
        #: git's non-HTTP transports are blocked in both modes: no proxy can guard them and
        #: no client of a package index needs them (:data:`GIT_ALLOWED_PROTOCOLS`).
        self.offline = offline
        #: with a gateway (a :class:`~pytest_privrepo.access.GatewayAccess`, or an object
        #: with one as ``.access``) every non-loopback request goes to it instead of the
        #: dead proxy: declared hosts are served, every other host is refused and recorded;
        #: its public CA becomes the clients' default trust store (:data:`DEFAULT_STORE`)
        self.gateway: GatewayAccess | None = (
            GatewayAccess.of(gateway) if gateway is not None else None)
        self._certifi_store: Path | None = None
        if self.gateway is not None and not offline:
            raise ConfigError("a ClientEnv routed through a gateway is offline by design: "
                              "drop offline=False or gateway=")
        self._root = Path(root).absolute()
        for directory in (
            self._root,
            self.home,
            self.xdg_config,
            self.xdg_cache,
            self.xdg_data,
            self.xdg_config_dirs,
            self.tmp,
        ):
            directory.mkdir(parents=True, exist_ok=True)
        if not self.netrc.exists():
            self.netrc.touch()
        self._write_git_files()
        self._netrc_entries: dict[str, tuple[str, str]] = {}
        self.netrc.chmod(0o600)

        source = os.environ if inherit is None else inherit
        self.vars: dict[str, str] = {
            name: value for name, value in source.items() if not _is_removed(name)
        }
        self.vars.update(self._isolation_vars())

    # ------------------------------------------------------------------ locations
    @property
    def root(self) -> Path:
        """Directory that contains everything this environment may write."""
        return self._root

    @property
    def home(self) -> Path:
        """``HOME`` of the clients (``~/.pypirc``, ``~/.netrc``, ``~/.config`` live here)."""
        return self._root / "home"

    @property
    def xdg_config(self) -> Path:
        """``XDG_CONFIG_HOME``: pip.conf, uv.toml, pdm and keyring configs would be found here."""
        return self._root / "xdg-config"

    @property
    def xdg_cache(self) -> Path:
        """``XDG_CACHE_HOME``; the pip, uv and Poetry caches are subdirectories of it."""
        return self._root / "xdg-cache"

    @property
    def xdg_data(self) -> Path:
        """``XDG_DATA_HOME``: uv credentials, Poetry data, pdm state."""
        return self._root / "xdg-data"

    @property
    def xdg_config_dirs(self) -> Path:
        """The single, empty ``XDG_CONFIG_DIRS`` entry, hiding ``/etc/xdg/*``."""
        return self._root / "xdg-config-dirs"

    @property
    def tmp(self) -> Path:
        """``TMPDIR``/``TEMP``/``TMP``: build directories and temp files stay under root."""
        return self._root / "tmp"

    @property
    def netrc(self) -> Path:
        """The file ``NETRC`` points to; empty until :meth:`write_netrc` adds a machine."""
        return self._root / "netrc"

    @property
    def pip_cache(self) -> Path:
        """``PIP_CACHE_DIR``."""
        return self.xdg_cache / "pip"

    @property
    def uv_cache(self) -> Path:
        """``UV_CACHE_DIR``."""
        return self.xdg_cache / "uv"

    @property
    def poetry_config(self) -> Path:
        """``POETRY_CONFIG_DIR`` (config.toml and auth.toml)."""
        return self.xdg_config / "pypoetry"

    @property
    def gitconfig(self) -> Path:
        """git's global config (``GIT_CONFIG_GLOBAL``; the system file is off).

        It lives at ``$XDG_CONFIG_HOME/git/config`` because dulwich 0.21.7 (Poetry 1.8.5)
        ignores ``GIT_CONFIG_GLOBAL`` and reads only that path and ``~/.gitconfig``
        (dulwich/config.py ``StackedConfig.default_backends``).
        It blocks git:// and ssh for dulwich too (:data:`GIT_PROTOCOL_REWRITE`, the
        ``core.sshCommand`` that fails) and gives commits a fixed identity, so a test that
        builds a git repository works on a machine with no git identity.
        """
        return self.xdg_config / "git" / "config"

    @property
    def blocked_ssh(self) -> Path:
        """The ssh command git and dulwich get: prints why and fails, connecting nowhere."""
        return self.xdg_config / "git" / "blocked-ssh"

    def _write_git_files(self) -> None:
        self.gitconfig.parent.mkdir(parents=True, exist_ok=True)
        if not self.blocked_ssh.exists():
            self.blocked_ssh.write_text(_BLOCKED_SSH, encoding="utf-8")
            self.blocked_ssh.chmod(0o755)
        text = (
            "# Written by pytest-privrepo's ClientEnv: the only git config its clients read.\n"
            "[user]\n\tname = pytest-privrepo\n\temail = client@privrepo.test\n"
            "[init]\n\tdefaultBranch = main\n"
            f"[core]\n\tsshCommand = {_git_quote(shlex.quote(str(self.blocked_ssh)))}\n"
            f'[url "{GIT_PROTOCOL_REWRITE}"]\n\tinsteadOf = git://\n'
        )
        try:
            current = self.gitconfig.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        if current != text:
            self.gitconfig.write_text(text, encoding="utf-8")

    def _isolation_vars(self) -> dict[str, str]:
        tmp = str(self.tmp)
        return {
            "HOME": str(self.home),
            "USERPROFILE": str(self.home),
            "XDG_CONFIG_HOME": str(self.xdg_config),
            "XDG_CACHE_HOME": str(self.xdg_cache),
            "XDG_DATA_HOME": str(self.xdg_data),
            "XDG_CONFIG_DIRS": str(self.xdg_config_dirs),
            "TMPDIR": tmp,
            "TEMP": tmp,
            "TMP": tmp,
            "NETRC": str(self.netrc),
            # pip: os.devnull as config file makes pip skip *every* config file, including
            # the global /etc/pip.conf and the site one, which no other setting reaches.
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_NO_INPUT": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_CACHE_DIR": str(self.pip_cache),
            # uv
            "UV_NO_CONFIG": "1",
            "UV_CACHE_DIR": str(self.uv_cache),
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_CREDENTIALS_DIR": str(self.xdg_data / "uv" / "credentials"),
            # Poetry (POETRY_KEYRING_ENABLED deliberately left unset: the keyring module
            # decides; the failing backend below keeps the real keyring out either way).
            "POETRY_CONFIG_DIR": str(self.poetry_config),
            "POETRY_CACHE_DIR": str(self.xdg_cache / "pypoetry"),
            "POETRY_DATA_DIR": str(self.xdg_data / "pypoetry"),
            "PYTHON_KEYRING_BACKEND": DEFAULT_KEYRING_BACKEND,
            # Interpreter and terminal: stable, parseable, non-interactive output.
            "PYTHONNOUSERSITE": "1",
            "PYTHONIOENCODING": "utf-8",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "TERM": "dumb",
            "NO_COLOR": "1",
            "COLUMNS": "200",
            # Fixed, so client behaviour does not depend on whether the host is a CI runner.
            "CI": "1",
            "NO_PROXY": _NO_PROXY,
            "no_proxy": _NO_PROXY,
            # git: our config file only, no credential prompt (git would open /dev/tty or an
            # askpass program), only transports the offline guard covers. GIT_SSH_COMMAND
            # as well as core.sshCommand: git lets the variable win; dulwich 0.21.7 (Poetry
            # 1.8.5) reads only the variable, dulwich 1.2 (Poetry 2.5.1) only the config.
            "GIT_CONFIG_GLOBAL": str(self.gitconfig),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ALLOW_PROTOCOL": GIT_ALLOWED_PROTOCOLS,
            "GIT_SSH_COMMAND": shlex.quote(str(self.blocked_ssh)),
            **(_proxy_vars(self.gateway.proxy_url if self.gateway else BLACKHOLE_PROXY)
               if self.offline else {}),
            **({name: str(self.gateway.trust_bundle) for name in DEFAULT_STORE}
               if self.gateway else {}),
        }

    # ------------------------------------------------------------------ variables
    def set(
        self,
        mapping: Mapping[str, str | os.PathLike[str]] | None = None,
        /,
        **variables: str | os.PathLike[str],
    ) -> ClientEnv:
        """Set variables for every later :meth:`run` (paths are converted to str).

        Accepts a mapping too, for names that are not Python identifiers. Returns ``self``
        so calls can be chained.
        """
        merged: dict[str, str | os.PathLike[str]] = dict(mapping or {})
        merged.update(variables)
        for name, value in merged.items():
            if not name or "=" in name or "\0" in name:
                raise ConfigError(f"invalid environment variable name {name!r}")
            self.vars[name] = _text(value)
        return self

    def unset(self, *names: str) -> ClientEnv:
        """Remove variables (missing ones are ignored). Returns ``self``."""
        for name in names:
            self.vars.pop(name, None)
        return self

    # ------------------------------------------------------------------ files
    def write_netrc(self, host: str, login: str, password: str) -> Path:
        """Append a ``machine`` entry to this environment's netrc file and return its path.

        Adding the same entry twice is a no-op; a different login for a known host is a
        :class:`ConfigError`, because netrc holds one login per host.

        ``host`` is a hostname or a URL; netrc has no port field and every client matches
        on the host name alone, so ``host:port`` is rejected rather than silently never
        matching. Values with whitespace, quotes or backslashes are rejected as well:
        quoting in netrc is understood by Python >= 3.11 and uv but not by Python 3.10.
        """
        hostname = host
        if "://" in host:
            hostname = urlsplit(host).hostname or ""
        elif host.startswith("["):
            hostname = host[1:].split("]", 1)[0]
        elif host.count(":") == 1:
            raise ConfigError(
                f"netrc matches host names without a port: pass {host.split(':')[0]!r} "
                f"(or the index URL) instead of {host!r}"
            )
        if not hostname:
            raise ConfigError(f"cannot find a host name in {host!r} for the netrc file")
        for label, value in (
            ("host", hostname),
            ("login", login),
            ("password", password),
        ):
            if not value or any(ch.isspace() or ch in "\"'\\" for ch in value):
                raise ConfigError(
                    f"netrc {label} {MASK if label == 'password' else repr(value)} is empty or "
                    "contains whitespace, quotes or "
                    "backslashes, which netrc parsers do not read the same way; use URL "
                    "credentials for such values"
                )
        known = self._netrc_entries.get(hostname)
        if known == (login, password):
            return self.netrc
        if known is not None:
            raise ConfigError(
                f"the netrc file already has a login for {hostname} ({known[0]!r}); netrc "
                f"holds one per host and clients disagree on which duplicate wins, so "
                f"{login!r} cannot be added: use URL credentials for one of the indexes"
            )
        self._netrc_entries[hostname] = (login, password)
        with self.netrc.open("a", encoding="utf-8") as handle:
            handle.write(f"machine {hostname}\nlogin {login}\npassword {password}\n\n")
        self.netrc.chmod(0o600)
        return self.netrc

    # ------------------------------------------------------------------ processes
    def run(
        self,
        argv: Sequence[str | os.PathLike[str]],
        *,
        cwd: str | os.PathLike[str] | None = None,
        input: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        check: bool = True,
        extra_env: Mapping[str, str | os.PathLike[str] | None] | None = None,
    ) -> CommandResult:
        """Run ``argv`` with exactly :attr:`vars` (plus ``extra_env``) and capture its output.

        * ``cwd`` defaults to :attr:`root`, so relative paths a client writes stay inside it.
        * stdin is ``/dev/null`` unless ``input`` is given: a client that prompts must fail,
          never wait for a keyboard.
        * ``extra_env`` applies to this call only; a ``None`` value removes a variable.
        * On timeout the whole process group is killed (pip ``--python`` and uv spawn
          children) and :class:`ClientError` names the command and the partial output.
        * With ``check`` a non-zero exit raises :class:`ClientError` (see
          :meth:`CommandResult.check`); otherwise the result is returned as is.
        """
        if not argv:
            raise ConfigError("run() needs a non-empty argv")
        args = tuple(_text(a) for a in argv)
        workdir = Path(cwd).absolute() if cwd is not None else self._root
        env = dict(self.vars)
        for name, value in (extra_env or {}).items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = _text(value)

        popen_kwargs: dict[str, object] = {}
        if os.name == "posix":
            popen_kwargs["start_new_session"] = True
        started = time.monotonic()
        try:
            process = subprocess.Popen(
                args,
                cwd=workdir,
                env=env,
                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",
                **popen_kwargs,  # type: ignore[call-overload]
            )
        except FileNotFoundError as exc:
            raise ClientError(
                f"cannot run {args[0]!r}: executable not found ({exc.strerror}); "
                f"command: {shlex.join(redact_argv(args))}"
            ) from None
        except NotADirectoryError:
            raise ClientError(
                f"cannot run {args[0]!r}: cwd {workdir} is not a directory"
            ) from None
        except PermissionError as exc:
            raise ClientError(f"cannot run {args[0]!r}: {exc.strerror}") from None
        try:
            stdout, stderr = process.communicate(input=input, timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill(process)
            stdout, stderr = process.communicate()
            raise ClientError(
                format_command_failure(
                    f"command timed out after {timeout} s and was killed",
                    args,
                    workdir,
                    stdout or "",
                    stderr or "",
                    secrets_in_env(env),
                )
            ) from None
        except BaseException:
            self._kill(process)
            process.communicate()
            raise
        result = CommandResult(
            argv=args,
            returncode=process.returncode,
            stdout=stdout,
            stderr=stderr,
            duration=time.monotonic() - started,
            cwd=workdir,
            # values of credential variables (TWINE_PASSWORD, UV_INDEX_*_PASSWORD, ...): hidden
            # wherever the client echoes them in a message or repr
            secrets=frozenset(secrets_in_env(env)),
        )
        return result.check() if check else result

    @staticmethod
    def _kill(process: subprocess.Popen[str]) -> None:
        if os.name == "posix":
            try:
                os.killpg(process.pid, signal.SIGKILL)
                return
            except (ProcessLookupError, PermissionError):
                pass
        process.kill()

    def certifi_store(self) -> Path | None:
        """The directory (``<root>/certifi-store``) of a ``certifi`` whose ``where()`` is the
        gateway's public CA, or None without a gateway: the default trust store of clients
        that verify with requests (see :attr:`ClientRunner.trust_store
        <pytest_privrepo.clients.runner.ClientRunner.trust_store>`), put first on their
        ``PYTHONPATH``.

        Why a module and not a variable: requests 2.34 (Poetry 1.8.5/2.5.1, twine 6.1.0/7.0.0,
        flit 4.2.0) verifies against ``certifi.where()`` and reads no ``SSL_CERT_FILE``; and
        ``REQUESTS_CA_BUNDLE`` replaces a *session's* ``verify``
        (``Session.merge_environment_settings``), which is where Poetry's uploader
        (``poetry/publishing/uploader.py``) and twine (``twine/repository.py``) put an
        explicit CA: with it, ``poetry publish -r corp`` and ``twine --cert`` fail against
        the CA they were given (probed on those versions). Replacing certifi's answer changes
        only what "trusted by default" means, as a machine that trusts the real PyPI has it.
        """
        if self.gateway is None:
            return None
        if self._certifi_store is None:  # written once: every run of such a client asks
            directory = self._root / "certifi-store"
            module = directory / "certifi" / "__init__.py"
            text = _CERTIFI_MODULE.format(bundle=str(self.gateway.trust_bundle))
            if not module.exists() or module.read_text(encoding="utf-8") != text:
                module.parent.mkdir(parents=True, exist_ok=True)
                module.write_text(text, encoding="utf-8")
            self._certifi_store = directory
        return self._certifi_store

    def ca_bundle(
        self, certs: Iterable[str | os.PathLike[str]], *, include_public_roots: bool = False
    ) -> Path | None:
        """Concatenate CA files into one bundle under ``root/tls`` (None when empty).

        Clients take a single trust file per run (pip ``--cert``, uv ``SSL_CERT_FILE``), so
        two indexes signed by different CAs need a merged bundle. ``include_public_roots`` adds
        the public roots, for uv runs that must also reach a public HTTPS index while
        ``SSL_CERT_FILE`` replaces uv's built-in roots. Identical inputs give the same file.
        """
        files = list(dict.fromkeys(Path(cert).absolute() for cert in certs))
        if not files:
            return None
        if not include_public_roots and len(files) == 1:
            read_pem(files[0])  # readable, or a ConfigError naming it
            return files[0]  # one file: use it as is, no copy needed
        if include_public_roots:
            import certifi

            files.append(Path(certifi.where()))
            if self.gateway is not None:  # the public world's roots (the PyPI stand-in)
                files.append(self.gateway.trust_bundle)
        return write_pem_bundle(files, self._root / "tls")

    def __repr__(self) -> str:
        return f"ClientEnv(root={str(self._root)!r})"


# IndexLike, IndexArg and IndexSpec lived here; they moved to indexes.py (what the clients
# take as an index). ``from pytest_privrepo.clients.env import IndexSpec`` keeps working.
from pytest_privrepo.clients.indexes import IndexArg, IndexLike, IndexSpec  # noqa: E402,F401
