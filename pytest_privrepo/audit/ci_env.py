"""The CI variables an audit runs the client with: read from an env file, filtered, adapted.

Why filtered: the audit reproduces what the client reads from CI, not the CI machine. Only
the client's own variables pass (``POETRY_*`` for Poetry, ``UV_*`` for uv, ``PDM_*`` for
pdm) and those a source names (pdm's ``${NAME}`` in a URL); those that point
at the CI machine's own directories and files would break the isolation or cannot exist
here, so they are dropped and reported by name. Why adapted: a CA or client certificate
path of the CI machine means "this source has a private CA"; the audit passes its own
CA (or client certificate) under the same variable instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .credentials import SourceAccess
from .errors import AuditError
from .stage import Stage

__all__ = ["ClientVariables", "client_variables", "load_env_file"]

_PREFIX = {"poetry": "POETRY_", "uv": "UV_", "pdm": "PDM_", "pip": "PIP_"}

#: Client variables that name the CI machine's directories, files or extra indexes, or
#: that the isolated environment must own; never passed (reported as ignored).
_DROPPED = {
    "poetry": {"POETRY_CONFIG_DIR", "POETRY_CACHE_DIR", "POETRY_DATA_DIR", "POETRY_HOME",
               "POETRY_VIRTUALENVS_PATH", "POETRY_VIRTUALENVS_IN_PROJECT",
               "POETRY_KEYRING_ENABLED"},
    "pdm": {"PDM_CONFIG_FILE", "PDM_CACHE_DIR", "PDM_HOME", "PDM_PYTHON", "PDM_CHECK_UPDATE",
            "PDM_NON_INTERACTIVE", "PDM_IGNORE_ACTIVE_VENV", "PDM_PROJECT", "PDM_VENV_IN_PROJECT"},
    "pip": {"PIP_CONFIG_FILE", "PIP_CACHE_DIR", "PIP_CERT", "PIP_CLIENT_CERT", "PIP_FIND_LINKS",
            "PIP_TARGET", "PIP_PREFIX", "PIP_USER", "PIP_REQUIRE_VIRTUALENV", "PIP_NO_INDEX",
            "PIP_REQUIRE_HASHES", "PIP_PYTHON", "PIP_SRC", "PIP_LOG", "PIP_NO_INPUT"},
    "uv": {"UV_CACHE_DIR", "UV_NO_CONFIG", "UV_CONFIG_FILE", "UV_CREDENTIALS_DIR",
           "UV_TOOL_DIR", "UV_PYTHON_INSTALL_DIR", "UV_PROJECT_ENVIRONMENT", "UV_PYTHON",
           "UV_INDEX", "UV_DEFAULT_INDEX", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL",
           "UV_FIND_LINKS", "UV_OFFLINE", "UV_FROZEN", "UV_LOCKED", "UV_NO_SYNC"},
}

_LINE = re.compile(r"^\s*(?:export\s+)?(?P<name>[^=\s#]+)\s*=\s*(?P<value>.*?)\s*$")


def load_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """``NAME=value`` lines (``export`` and ``#`` comments allowed, quotes removed), as a
    CI env file or ``docker --env-file`` has them. Names are kept exactly, ``-`` included:
    that is the mistake the audit looks for."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise AuditError(f"cannot read env file {file}: {exc.strerror or exc}") from None
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise AuditError(f"{file}:{number}: not a NAME=value line")
        value = match["value"]
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[match["name"]] = value
    return out


@dataclass(frozen=True)
class ClientVariables:
    """What the client runs with, and the names of the packaging clients' CI variables it
    does not get (any other variable, PATH or HOME, is simply not passed)."""

    variables: Mapping[str, str]
    ignored: tuple[str, ...]


def client_variables(client: str, env: Mapping[str, str], access: Mapping[str, SourceAccess],
                     stage: Stage) -> ClientVariables:
    """The client's CI variables with certificate paths replaced by the stand-up's."""
    replaced: dict[str, str] = {}
    for source, plan in access.items():
        index = stage.indexes.get(source)
        if index is None:
            continue
        if "cert" in plan.given:
            replaced[plan.given["cert"]] = str(stage.ca_cert)
        if "client_cert" in plan.given and index.client_cert:
            replaced[plan.given["client_cert"]] = index.client_cert
    passed: dict[str, str] = {}
    ignored: list[str] = []
    named = {name for plan in access.values() for name in plan.given.values()}
    for name, value in env.items():
        own = name.upper().startswith(_PREFIX[client]) and name.upper() not in _DROPPED[client]
        if not own and name not in named:
            if name.upper().startswith(tuple(_PREFIX.values())):
                ignored.append(name)  # a client's setting: worth naming in the report
            continue
        passed[name] = replaced.get(name, value)
    return ClientVariables(passed, tuple(sorted(ignored)))
