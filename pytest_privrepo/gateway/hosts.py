"""Host names a test may declare, and the names PyPI really answers at.

Why a module of its own: the index factory, the gateway and the CLI all have to agree on
what a declared host is (a DNS name, lower case, with a port that defaults by scheme), and
the PyPI stand-in has to answer at exactly the names the clients hard-code.
"""

from __future__ import annotations

import ipaddress
import re

from ..errors import ConfigError

__all__ = [
    "PYPI_FILES_HOST",
    "PYPI_HOST",
    "PYPI_HOSTS",
    "PYPI_SIMPLE_URL",
    "PYPI_UPLOAD_HOST",
    "check_host_name",
    "default_port",
    "is_loopback_host",
]

#: The simple API and JSON API host. Poetry's PyPI URL is hard-coded (poetry 1.8.5 and 2.5.1,
#: ``repositories/pypi_repository.py``: ``https://pypi.org/``); pip's, uv's and pdm's default
#: index is ``https://pypi.org/simple``.
PYPI_HOST = "pypi.org"

#: pip's, uv's and pdm's default index (the one value the runners and the audit use).
PYPI_SIMPLE_URL = f"https://{PYPI_HOST}/simple"

#: Where PyPI's pages link the distribution files.
PYPI_FILES_HOST = "files.pythonhosted.org"

#: The legacy upload API of PyPI: twine's, flit's, hatch's, Poetry's and uv's default
#: publish URL is ``https://upload.pypi.org/legacy/``.
PYPI_UPLOAD_HOST = "upload.pypi.org"

#: Every name the stand-in answers at (one certificate covers them all).
PYPI_HOSTS: tuple[str, ...] = (PYPI_HOST, PYPI_FILES_HOST, PYPI_UPLOAD_HOST)

_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.1``, ``[::1]``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host_name(host: object) -> str:
    """``host`` as a declared name (lower case), or a :class:`ConfigError` naming the problem.

    A declared host is a DNS name with at least two labels (``pypi.corp.example``): the
    clients reach it through the gateway, which is why an address is refused here (a
    loopback address is served directly; any other address is a real machine).
    """
    if not isinstance(host, str) or not host:
        raise ConfigError(f"host name must be a non-empty string such as 'pypi.corp.example', "
                          f"not {host!r}")
    name = host.lower()
    if is_loopback_host(name):
        raise ConfigError(
            f"host {host!r} is a loopback address: it is served directly (use host= without "
            "a name, or no host at all); a named host needs a DNS name such as "
            "'pypi.corp.example'"
        )
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        pass
    else:
        raise ConfigError(
            f"host {host!r} is not a loopback address: indexes listen only on loopback, and a "
            "named index needs a DNS name such as 'pypi.corp.example', not an address"
        )
    labels = name.split(".")
    if (len(name) > 253 or len(labels) < 2
            or not all(_LABEL.fullmatch(label) for label in labels)
            or labels[-1].isdigit()):
        raise ConfigError(
            f"malformed host name {host!r}: use dot-separated labels of letters, digits and "
            "'-' (each 1-63 characters, not starting or ending with '-'), at least two of "
            "them, such as 'pypi.corp.example'"
        )
    return name


def default_port(scheme: str) -> int:
    """The port a URL of ``scheme`` means when it names none."""
    return 443 if scheme == "https" else 80
