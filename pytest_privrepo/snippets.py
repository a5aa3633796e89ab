"""Ready-to-paste client configuration for an index (printed by ``privrepo serve``).

Each function returns shell lines a person can paste to point a real client at the index,
with its credentials and certificates. The same facts drive the test harnesses, so what
the CLI prints is what the tests exercise.

The lines work in the shell a user really has (POSIX sh, bash, zsh), not only in a clean
one: CI machines and many laptops export ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``,
``SSL_CERT_FILE`` and ``PIP_CERT`` pointing at a bundle without the index's CA, and
requests (pip, twine, Poetry's uploader, flit) lets ``REQUESTS_CA_BUNDLE`` /
``CURL_CA_BUNDLE`` override the CA a program passes it (requests 2.x
``Session.merge_environment_settings``: the variable replaces a session's ``verify``
whenever the request itself does not pass one). So every line that goes through such a
session carries ``REQUESTS_CA_BUNDLE=<index CA>`` for that one command
(:func:`requests_ca_env`); uv, Hatch and pdm get the CA in ``SSL_CERT_FILE`` or their
own option. ``tests/test_snippets.py`` pastes every block into bash with those variables
exported and in a clean environment.

A named index (``privrepo.index(..., host="pypi.corp.example")``, ``privrepo serve
--host-name``) exists only behind the privrepo gateway, so every line that connects carries
the proxy variables for that one command (:func:`proxy_env`); the snippets need the gateway
for it (``gateway=privrepo.gateway``) and refuse a named index without one, since
their lines would send the client to whatever the real DNS says that name is.
``tests/test_cli_gateway.py`` runs them through the gateway of a real ``privrepo serve``.
"""

from __future__ import annotations

import shlex
from typing import Protocol

from urllib.parse import urlsplit

from .access import GatewayAccess, IndexAccess
from .clients.env import LOOPBACK_HOSTS
from .clients.indexes import IndexLike as ClientIndexLike
from .clients.uv_config import uv_env_name
from .errors import ConfigError
from .gateway.hosts import is_loopback_host

__all__ = [
    "DIST_PLACEHOLDER",
    "PACKAGE_PLACEHOLDER",
    "IndexLike",
    "all_snippets",
    "flit_lines",
    "hatch_lines",
    "pdm_credential_vars",
    "pdm_lines",
    "pip_lines",
    "poetry_lines",
    "proxy_env",
    "requests_ca_env",
    "twine_lines",
    "uv_lines",
]

#: Stands for the files to upload in the publish snippets (twine, hatch, uv).
DIST_PLACEHOLDER = "dist/*"

#: Stands for the project to install in the install snippets (poetry, pip, uv, pdm).
PACKAGE_PLACEHOLDER = "PACKAGE"


class IndexLike(ClientIndexLike, Protocol):
    """An index object the snippets accept besides an :class:`IndexAccess` (an ``Index``
    has it all): the runners' index protocol plus a name and an upload URL. Read through
    :meth:`IndexAccess.of`, like every client entry point."""

    @property
    def name(self) -> str: ...

    @property
    def upload_url(self) -> str: ...


def _access(index: IndexAccess | IndexLike) -> IndexAccess:
    """``index`` as an :class:`IndexAccess` with the name and upload URL every snippet needs."""
    access = IndexAccess.of(index)
    access.needs_upload_url("a client snippet")
    if not access.name:
        raise ConfigError(f"a client snippet needs an index with a name, got {access!r}")
    return access


def _q(value: object) -> str:
    return shlex.quote(str(value))


def proxy_env(index: IndexAccess | IndexLike, gateway: GatewayAccess | object | None = None) -> list[str]:
    """The proxy variables that take one command to a named index through the gateway
    (empty for a loopback index): ``HTTPS_PROXY`` (``HTTP_PROXY`` for a plain-HTTP index)
    = the gateway, ``NO_PROXY`` = loopback only, each in both spellings.

    Why both spellings: Python's ``urllib.request.getproxies_environment`` (what requests
    2.x: pip, twine, Poetry, flit; and httpx 0.28: pdm, hatch read) lets the lower-case
    variable win when both are set, reqwest (uv) reads the upper-case one first; a shell
    that exports ``https_proxy`` for a corporate proxy would otherwise keep its own. Why
    ``NO_PROXY``: an exported ``no_proxy=.corp.example`` would send the client past the
    gateway to the real DNS name. Every other host the command asks for (PyPI included)
    is refused by the gateway with 403: nothing leaves the machine.
    """
    index = _access(index)
    host = urlsplit(index.url).hostname or ""
    if is_loopback_host(host):
        return []
    if gateway is None:
        raise ConfigError(
            f"index {index.name!r} is at {host}, a named host that exists only behind the "
            "privrepo gateway: pass gateway=privrepo.gateway so the snippets route "
            "their commands through it"
        )
    gateway = GatewayAccess.of(gateway)
    variable = "HTTPS_PROXY" if index.url.startswith("https:") else "HTTP_PROXY"
    no_proxy = ",".join(LOOPBACK_HOSTS)
    return [f"{variable}={_q(gateway.proxy_url)}", f"{variable.lower()}={_q(gateway.proxy_url)}",
            f"NO_PROXY={_q(no_proxy)}", f"no_proxy={_q(no_proxy)}"]


def requests_ca_env(index: IndexAccess | IndexLike) -> list[str]:
    """``REQUESTS_CA_BUNDLE=<index CA>`` (empty without TLS): the prefix for every command
    whose HTTPS goes through a requests session that sets ``verify`` itself.

    requests (2.34.2, ``Session.merge_environment_settings``) takes ``REQUESTS_CA_BUNDLE``,
    else ``CURL_CA_BUNDLE``, whenever a request does not pass ``verify`` explicitly, and
    that beats the session's own ``verify``. So with an exported bundle pip's ``--cert``
    (pip 26.3), twine's ``--cert`` (twine 7.0.0) and ``poetry publish``'s
    ``certificates.<name>.cert`` (Poetry 1.8.5 and 2.5.1: ``Uploader.upload`` in
    ``poetry/publishing/uploader.py`` sets ``session.verify``) fail with
    CERTIFICATE_VERIFY_FAILED (seen in tests/test_snippets.py). Setting
    ``REQUESTS_CA_BUNDLE`` for the one command beats both variables; an exported
    ``SSL_CERT_FILE`` no longer matters once ``verify`` names a file, and ``--cert`` beats
    ``PIP_CERT``. Poetry's installs pass ``verify`` per request, so ``poetry add`` needs
    no prefix.
    """
    index = _access(index)
    return [f"REQUESTS_CA_BUNDLE={_q(index.ca_cert)}"] if index.ca_cert else []


def poetry_lines(index: IndexAccess | IndexLike, gateway: GatewayAccess | object | None = None) -> list[str]:
    """The source (primary, so Poetry asks no other index), its upload repository,
    credentials and certificates, then ``poetry add``, ``poetry build`` and ``poetry
    publish``. Installs pass the source's CA per request (Poetry's ``Authenticator``), so
    only the publish command needs :func:`requests_ca_env`."""
    index = _access(index)
    proxy = proxy_env(index, gateway)
    n = index.name
    lines = [
        f"poetry source add --priority=primary {_q(n)} {_q(index.url)}",
        f"poetry config repositories.{n} {_q(index.upload_url)}",
    ]
    if index.username and index.password:
        lines.append(f"poetry config http-basic.{n} {_q(index.username)} {_q(index.password)}")
    if index.ca_cert:
        lines.append(f"poetry config certificates.{n}.cert {_q(index.ca_cert)}")
    if index.client_cert:
        lines.append(f"poetry config certificates.{n}.client-cert {_q(index.client_cert)}")
    lines.append(" ".join([*proxy, f"poetry add {PACKAGE_PLACEHOLDER}"]))
    publish = " ".join([*proxy, *requests_ca_env(index), f"poetry publish -r {_q(n)}"])
    lines.append(f"poetry build && {publish}")
    return lines


def _cert_args(index: IndexAccess) -> list[str]:
    """``--cert CA --client-cert PEM``: the same two options in pip and twine. ``--cert``
    is kept next to :func:`requests_ca_env` for shells without ``VAR=value cmd``
    (PowerShell, cmd.exe), where the prefix has to go."""
    args = []
    if index.ca_cert:
        args.append(f"--cert {_q(index.ca_cert)}")
    if index.client_cert:
        args.append(f"--client-cert {_q(index.client_cert)}")
    return args


def pip_lines(index: IndexAccess | IndexLike, gateway: GatewayAccess | object | None = None) -> list[str]:
    """``pip install`` with the index as the only index (credentials in the URL)."""
    index = _access(index)
    args = [f"--index-url {_q(index.url_with_credentials())}", *_cert_args(index)]
    return [" ".join([*proxy_env(index, gateway), *requests_ca_env(index), "pip install", *args,
                      PACKAGE_PLACEHOLDER])]


def _uv_tls_env(index: IndexAccess) -> list[str]:
    env = []
    if index.ca_cert:
        env.append(f"SSL_CERT_FILE={_q(index.ca_cert)}")
    if index.client_cert:
        env.append(f"SSL_CLIENT_CERT={_q(index.client_cert)}")
    return env


def uv_lines(index: IndexAccess | IndexLike, gateway: GatewayAccess | object | None = None) -> list[str]:
    """``uv pip install`` with the index as a named extra index (searched before PyPI) and
    ``uv publish --publish-url``.

    uv takes the CA only from ``SSL_CERT_FILE`` (or ``--cert``, from 0.12), and that file
    *replaces* its trust roots instead of adding to them; ``--system-certs``
    (``--native-tls`` before 0.11) does not add them back (older uv read the "native" roots
    through rustls-native-certs, which takes ``SSL_CERT_FILE`` *instead of* the system
    store; newer ones treat a configured file as authoritative: "No default certificates
    will be trusted" when it holds none). So with the index's CA alone uv reaches no other
    HTTPS host, PyPI included, and no option adds a CA to the roots: the printed comment
    says how to build a bundle of public roots plus the CA.
    """
    index = _access(index)
    proxy = proxy_env(index, gateway)
    lines: list[str] = []
    if index.ca_cert:
        lines.append(
            "# SSL_CERT_FILE replaces uv's trust roots: with this CA alone uv reaches no "
            "other HTTPS index, PyPI included. To keep PyPI, point SSL_CERT_FILE at a bundle "
            "of public roots plus this CA: "
            f'cat "$(python3 -m certifi)" {_q(index.ca_cert)} > ca-bundle.pem'
        )
    env = [*proxy, f"UV_INDEX={_q(f'{index.name}={index.url}')}"]
    if index.username and index.password:
        e = uv_env_name(index.name or "")
        env += [f"UV_INDEX_{e}_USERNAME={_q(index.username)}",
                f"UV_INDEX_{e}_PASSWORD={_q(index.password)}"]
    env += _uv_tls_env(index)
    lines.append(" ".join(env) + " uv pip install " + PACKAGE_PLACEHOLDER)
    args = [f"--publish-url {_q(index.upload_url)}"]
    if index.username and index.password:
        args.append(f"--username {_q(index.username)} --password {_q(index.password)}")
    lines.append(" ".join([*proxy, *_uv_tls_env(index), "uv publish", *args, DIST_PLACEHOLDER]))
    return lines


def twine_lines(index: IndexAccess | IndexLike, gateway: GatewayAccess | object | None = None) -> list[str]:
    """``twine upload`` with everything on the command line (twine 7: ``--cert``,
    ``--client-cert`` takes one PEM with key + certificate)."""
    index = _access(index)
    args = [f"--repository-url {_q(index.upload_url)}"]
    if index.username and index.password:
        args.append(f"--username {_q(index.username)} --password {_q(index.password)}")
    args += _cert_args(index)
    return [" ".join([*proxy_env(index, gateway), *requests_ca_env(index), "twine upload", *args,
                      DIST_PLACEHOLDER])]


def hatch_lines(index: IndexAccess | IndexLike, gateway: GatewayAccess | object | None = None) -> list[str]:
    """``hatch publish``. No Hatch release can combine ``--ca-cert`` with ``--client-cert``
    (1.17+ on httpx2 refuse it; older ones on httpx 0.28 silently drop the client
    certificate), so for mTLS the CA goes into ``SSL_CERT_FILE`` instead."""
    index = _access(index)
    env: list[str] = proxy_env(index, gateway)
    args = [f"-r {_q(index.upload_url)}"]
    if index.username and index.password:
        args.append(f"-u {_q(index.username)} -a {_q(index.password)}")
    if index.ca_cert and index.client_cert:
        env.append(f"SSL_CERT_FILE={_q(index.ca_cert)}")
    elif index.ca_cert:
        args.append(f"--ca-cert {_q(index.ca_cert)}")
    if index.client_cert:
        args.append(f"--client-cert {_q(index.client_cert)}")
    return [" ".join([*env, "hatch publish -n", *args, DIST_PLACEHOLDER])]


def flit_lines(index: IndexAccess | IndexLike, gateway: GatewayAccess | object | None = None) -> list[str]:
    """``flit publish`` (run in the project directory). flit has no certificate options:
    it trusts ``REQUESTS_CA_BUNDLE`` and cannot send a client certificate at all."""
    index = _access(index)
    lines: list[str] = []
    if index.client_cert:
        lines.append("# flit cannot send a client certificate: it cannot publish to this "
                     "mTLS index")
    env = [*proxy_env(index, gateway), f"FLIT_INDEX_URL={_q(index.upload_url)}"]
    if index.username and index.password:
        env += [f"FLIT_USERNAME={_q(index.username)}", f"FLIT_PASSWORD={_q(index.password)}"]
    env += requests_ca_env(index)
    lines.append(" ".join(env) + " flit publish")
    return lines


def pdm_credential_vars(index: IndexAccess | IndexLike) -> tuple[str, str]:
    """The variables the pdm snippet reads the credentials from:
    ``INDEX_<NAME>_USERNAME`` / ``INDEX_<NAME>_PASSWORD`` (``<NAME>`` as for uv)."""
    index = _access(index)
    e = uv_env_name(index.name or "")
    return f"INDEX_{e}_USERNAME", f"INDEX_{e}_PASSWORD"


def pdm_lines(index: IndexAccess | IndexLike, gateway: GatewayAccess | object | None = None) -> list[str]:
    """pdm: the source in pyproject.toml, its certificates in pdm's global config under
    ``pypi.<name>`` (pdm matches them by name), a ``repository.<name>`` for ``pdm publish
    -r <name>``, then ``pdm add`` and ``pdm publish``.

    * Credentials: ``pdm config pypi.<name>.password`` hands the password to the keyring
      once a username is set and a keyring (module or ``keyring`` executable) is found; a
      null keyring (``PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring``, common in
      containers) accepts it and it is silently lost. So the password stays out of pdm's
      config: the source URL in pyproject.toml carries ``${VAR}`` placeholders, which pdm
      expands (percent-encoded) from the environment, and ``pdm publish`` gets ``-u``/``-P``.
      (pdm 2.18 and older leave a ``/`` unencoded there, which breaks the URL.)
    * mTLS: pdm 2.29 on httpx 0.28 never presents the client certificate of a source or
      repository that also has a CA file (``ca_certs``, ``--ca-certs``,
      ``REQUESTS_CA_BUNDLE``: httpx returns before loading the certificate), so the CA goes
      into ``SSL_CERT_FILE``, which pdm's truststore context reads on Linux (next to
      certifi's roots, so PyPI still works). macOS and Windows truststore ignores it: the
      CA has to be in the system trust store there. A source without ``ca_certs`` takes
      ``REQUESTS_CA_BUNDLE``, else ``CURL_CA_BUNDLE``, before truststore (pdm 2.29.3
      ``PDMPyPIClient._transport_for``), so an exported one is a CA file too: ``pdm add``
      and ``pdm publish`` run with both set empty (``or`` skips an empty value) and
      ``SSL_CERT_FILE`` set, for that command only, so the user's shell keeps its settings.
    """
    index = _access(index)
    proxy = proxy_env(index, gateway)
    n = index.name
    lines: list[str] = []
    url = index.url
    user_var = password_var = None
    if index.username and index.password:
        user_var, password_var = pdm_credential_vars(index)
        lines += [
            "# credentials from the environment: pdm expands ${VAR} in a source URL "
            f"(`pdm config pypi.{n}.password` goes to the keyring, and a null keyring "
            "loses it)",
            f"export {user_var}={_q(index.username)} {password_var}={_q(index.password)}",
        ]
        scheme, rest = url.split("://", 1)
        url = f"{scheme}://${{{user_var}}}:${{{password_var}}}@{rest}"
    tls_env: list[str] = [*proxy]  # for the commands that connect: pdm add, pdm publish
    if index.ca_cert and index.client_cert:
        tls_env += [f"SSL_CERT_FILE={_q(index.ca_cert)}", "REQUESTS_CA_BUNDLE=", "CURL_CA_BUNDLE="]
        lines.append(
            "# pdm with httpx 0.28 drops the client certificate when it has a CA file "
            "(ca_certs, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE): pdm add and pdm publish get the "
            "CA in SSL_CERT_FILE (read on Linux; on macOS/Windows add it to the system trust "
            "store) and the other two empty")
    elif index.ca_cert:
        lines.append(f"pdm config pypi.{n}.ca_certs {_q(index.ca_cert)}")
    if index.client_cert:
        lines.append(f"pdm config pypi.{n}.client_cert {_q(index.client_cert)}")
    add_env: list[str] = []
    if proxy:
        add_env.append("PDM_IGNORE_STORED_INDEX=1")
        lines.append("# through the gateway pdm's implicit PyPI source is refused (403) and pdm "
                     "add fails on it: PDM_IGNORE_STORED_INDEX=1 leaves only this project's "
                     "sources")
    lines += [
        "cat >> pyproject.toml <<'EOF'",
        "[[tool.pdm.source]]",
        f'name = "{n}"',
        f'url = "{url}"',
        "EOF",
        " ".join([*tls_env, *add_env, f"pdm add {PACKAGE_PLACEHOLDER}"]),
        f"pdm config repository.{n}.url {_q(index.upload_url)}",
    ]
    if index.ca_cert and not index.client_cert:
        lines.append(f"pdm config repository.{n}.ca_certs {_q(index.ca_cert)}")
    if index.client_cert:
        lines.append(f"pdm config repository.{n}.client_cert {_q(index.client_cert)}")
    publish = " ".join([*tls_env, f"pdm publish -r {_q(n)}"])
    if user_var and password_var:
        publish += f' -u "${user_var}" -P "${password_var}"'
    lines.append(publish + " --no-build  # uploads dist/* (run pdm build first)")
    return lines


def all_snippets(index: IndexAccess | IndexLike, gateway: GatewayAccess | object | None = None) -> dict[str, list[str]]:
    """Every client's lines, keyed by client name (``gateway``: the gateway a named index
    is reached through, see :func:`proxy_env`)."""
    index = _access(index)
    return {
        "poetry": poetry_lines(index, gateway),
        "pip": pip_lines(index, gateway),
        "uv": uv_lines(index, gateway),
        "pdm": pdm_lines(index, gateway),
        "twine": twine_lines(index, gateway),
        "hatch": hatch_lines(index, gateway),
        "flit": flit_lines(index, gateway),
    }
