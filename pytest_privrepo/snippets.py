"""Ready-to-paste client configuration for an index (printed by ``privrepo serve``).

Each function returns shell lines a person can paste to point a real client at the index,
with its credentials and certificates. The same facts drive the test harnesses, so what
the CLI prints is what the tests exercise.
"""

from __future__ import annotations

import shlex
from typing import Protocol

from .clients.env import IndexLike as ClientIndexLike
from .clients.uv import uv_env_name

__all__ = [
    "DIST_PLACEHOLDER",
    "IndexLike",
    "all_snippets",
    "flit_lines",
    "hatch_lines",
    "pdm_lines",
    "pip_lines",
    "poetry_lines",
    "twine_lines",
    "uv_lines",
]

#: Stands for the files to upload in the publish snippets (twine, hatch).
DIST_PLACEHOLDER = "dist/*"


class IndexLike(ClientIndexLike, Protocol):
    """What the snippets need: the runners' index protocol plus a name and an upload URL."""

    @property
    def name(self) -> str: ...

    @property
    def upload_url(self) -> str: ...

    def url_with_credentials(self, url: str | None = None) -> str: ...


def _q(value: object) -> str:
    return shlex.quote(str(value))


def poetry_lines(index: IndexLike) -> list[str]:
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
    lines.append(f"poetry publish -r {_q(n)}")
    return lines


def pip_lines(index: IndexLike) -> list[str]:
    args = [f"--index-url {_q(index.url_with_credentials())}"]
    if index.ca_cert:
        args.append(f"--cert {_q(index.ca_cert)}")
    if index.client_cert:
        args.append(f"--client-cert {_q(index.client_cert)}")
    return ["pip install " + " ".join(args) + " PACKAGE"]


def uv_lines(index: IndexLike) -> list[str]:
    env = [f"UV_INDEX={_q(f'{index.name}={index.url}')}"]
    if index.username and index.password:
        e = uv_env_name(index.name)
        env += [f"UV_INDEX_{e}_USERNAME={_q(index.username)}",
                f"UV_INDEX_{e}_PASSWORD={_q(index.password)}"]
    if index.ca_cert:
        env.append(f"SSL_CERT_FILE={_q(index.ca_cert)}")
    if index.client_cert:
        env.append(f"SSL_CLIENT_CERT={_q(index.client_cert)}")
    return [" ".join(env) + " uv pip install PACKAGE"]


def twine_lines(index: IndexLike) -> list[str]:
    """``twine upload`` with everything on the command line (twine 7: ``--cert``,
    ``--client-cert`` takes one PEM with key + certificate)."""
    args = [f"--repository-url {_q(index.upload_url)}"]
    if index.username and index.password:
        args.append(f"--username {_q(index.username)} --password {_q(index.password)}")
    if index.ca_cert:
        args.append(f"--cert {_q(index.ca_cert)}")
    if index.client_cert:
        args.append(f"--client-cert {_q(index.client_cert)}")
    return ["twine upload " + " ".join(args) + " " + DIST_PLACEHOLDER]


def hatch_lines(index: IndexLike) -> list[str]:
    """``hatch publish``. No Hatch release can combine ``--ca-cert`` with ``--client-cert``
    (1.17+ on httpx2 refuse it; older ones on httpx 0.28 silently drop the client
    certificate), so for mTLS the CA goes into ``SSL_CERT_FILE`` instead."""
    env: list[str] = []
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


def flit_lines(index: IndexLike) -> list[str]:
    """``flit publish`` (run in the project directory). flit has no certificate options:
    it trusts ``REQUESTS_CA_BUNDLE`` and cannot send a client certificate at all."""
    lines: list[str] = []
    if index.client_cert:
        lines.append("# flit cannot send a client certificate: it cannot publish to this "
                     "mTLS index")
    env = [f"FLIT_INDEX_URL={_q(index.upload_url)}"]
    if index.username and index.password:
        env += [f"FLIT_USERNAME={_q(index.username)}", f"FLIT_PASSWORD={_q(index.password)}"]
    if index.ca_cert:
        env.append(f"REQUESTS_CA_BUNDLE={_q(index.ca_cert)}")
    lines.append(" ".join(env) + " flit publish")
    return lines


def pdm_lines(index: IndexLike) -> list[str]:
    """pdm: credentials and certificates in pdm's config under ``pypi.<name>``, the source
    itself in pyproject.toml (pdm matches them by name)."""
    n = index.name
    lines = [f"pdm config pypi.{n}.url {_q(index.url)}"]
    if index.username and index.password:
        lines += [f"pdm config pypi.{n}.username {_q(index.username)}",
                  f"pdm config pypi.{n}.password {_q(index.password)}"]
    if index.ca_cert:
        lines.append(f"pdm config pypi.{n}.ca_certs {_q(index.ca_cert)}")
    if index.client_cert:
        lines.append(f"pdm config pypi.{n}.client_cert {_q(index.client_cert)}")
    lines += [
        "cat >> pyproject.toml <<'EOF'",
        "[[tool.pdm.source]]",
        f'name = "{n}"',
        f'url = "{index.url}"',
        "EOF",
    ]
    return lines


def all_snippets(index: IndexLike) -> dict[str, list[str]]:
    """Every client's lines, keyed by client name."""
    return {
        "poetry": poetry_lines(index),
        "pip": pip_lines(index),
        "uv": uv_lines(index),
        "pdm": pdm_lines(index),
        "twine": twine_lines(index),
        "hatch": hatch_lines(index),
        "flit": flit_lines(index),
    }
