"""Ready-to-paste client configuration for an index (printed by ``privrepo serve``).

Each function returns shell lines a person can paste to point a real client at the index,
with its credentials and certificates. The same facts drive the test harnesses, so what
the CLI prints is what the tests exercise.
"""

from __future__ import annotations

import re
import shlex
from typing import Protocol

__all__ = ["IndexLike", "env_name", "poetry_lines", "pip_lines", "uv_lines", "all_snippets"]


class IndexLike(Protocol):
    name: str
    url: str
    upload_url: str
    ca_cert: object
    client_cert: object
    username: str | None
    password: str | None

    def url_with_credentials(self, url: str | None = None) -> str: ...


def env_name(name: str) -> str:
    """Upper-case a source name for env vars: non-alphanumerics become '_' (Poetry, uv)."""
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


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
        e = env_name(index.name)
        env += [f"UV_INDEX_{e}_USERNAME={_q(index.username)}",
                f"UV_INDEX_{e}_PASSWORD={_q(index.password)}"]
    if index.ca_cert:
        env.append(f"SSL_CERT_FILE={_q(index.ca_cert)}")
    if index.client_cert:
        env.append(f"SSL_CLIENT_CERT={_q(index.client_cert)}")
    return [" ".join(env) + " uv pip install PACKAGE"]


def all_snippets(index: IndexLike) -> dict[str, list[str]]:
    """Every client's lines, keyed by client name."""
    return {"poetry": poetry_lines(index), "pip": pip_lines(index), "uv": uv_lines(index)}
