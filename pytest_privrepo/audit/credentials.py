"""Which CI variables give which source its credentials and certificates, per client.

Why the audit needs its own matching: the mistake it must catch is a variable that *looks*
right to a person and is never read by the client. Each client derives the variable name
from the source name by its own rule; the audit finds every CI variable whose name matches
a source's once case and punctuation are ignored, makes the stood-up source require exactly
those credentials, and then lets the real client show whether it found them.

Facts (each client's own code):

- Poetry 1.8.5 and 2.5.1, ``poetry/config/config.py`` ``Config.get``: the variable of
  setting ``http-basic.<name>.username`` is ``"POETRY_" + "_".join(k.upper().replace("-",
  "_") for k in keys)``: ``-`` becomes ``_`` (a ``.`` is kept by 2.5.1, which passes the
  name as one key, and becomes ``_`` in 1.8.5, which splits the dotted setting), so source ``acme-pypi``
  reads ``POETRY_HTTP_BASIC_ACME_PYPI_USERNAME`` / ``_PASSWORD`` and
  ``POETRY_CERTIFICATES_ACME_PYPI_CERT`` / ``_CLIENT_CERT``; ``..._ACME-PYPI_...`` (valid in
  an env file, a docker ``--env-file``, a CI variable table) is never read.
- pdm 2.29 (``pdm/utils.py`` ``expand_env_vars_in_auth``): the source URL's userinfo with
  ``${NAME}`` replaced by variable ``NAME``; a near miss is a CI variable whose name
  matches ``NAME`` but for case and punctuation.
- pip 26.3 (``req/req_file.py`` ``ENV_VAR_RE``): ``${NAME}`` of upper-case letters,
  digits and ``_`` in a requirements file, then the URL's userinfo.
- uv 0.13, ``UV_INDEX_<NAME>_USERNAME`` / ``_PASSWORD``: ``<NAME>`` is the index name upper
  cased with every other character than ``A-Z0-9`` as ``_``
  (:func:`~pytest_privrepo.clients.uv_config.uv_env_name`). uv has no per-index CA setting
  (``SSL_CERT_FILE`` replaces its roots for every host).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..clients.poetry import poetry_env_name
from ..clients.uv_config import uv_env_name
from .model import ProjectModel, Source
from .uv_reader import UNNAMED_ROLES

__all__ = ["SourceAccess", "expected_variables", "plan_access", "poetry_setting_name"]


def poetry_setting_name(name: str) -> str:
    """``<NAME>`` in Poetry's variables for source ``name``, as Poetry 2.x reads them
    (:func:`~pytest_privrepo.clients.poetry.poetry_env_name`: 1.8.5 turns a dot into
    ``_`` too)."""
    return poetry_env_name(name, keep_dots=True)


def _fuzzy(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper())


@dataclass(frozen=True)
class SourceAccess:
    """What the CI variables give one source (never shown with the secret)."""

    source: str
    #: the variable names the client reads for this source: ``{role: name}`` with roles
    #: ``username``, ``password``, ``cert``, ``client_cert``
    expected: Mapping[str, str]
    #: the CI variables meant for this source (same name but for case and punctuation):
    #: ``{role: variable name}``
    given: Mapping[str, str]
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def misnamed(self) -> dict[str, tuple[str, str]]:
        """``{role: (given name, the name the client reads)}`` for each variable the
        client never reads."""
        return {role: (name, self.expected[role]) for role, name in self.given.items()
                if role in self.expected and self.expected[role] != name}

    @property
    def credentials(self) -> tuple[str, str] | None:
        """The user and password the stood-up source requires (None: it is open)."""
        if self.username is None and self.password is None:
            return None
        return (self.username or "", self.password or "")

    @property
    def has_certificate(self) -> bool:
        """A CA certificate is configured for it: its host has a private CA."""
        return "cert" in self.given

    @property
    def has_client_certificate(self) -> bool:
        return "client_cert" in self.given


def expected_variables(client: str, source: Source) -> dict[str, str]:
    """``{role: variable}`` the client reads for ``source``."""
    if client == "poetry":
        n = poetry_setting_name(source.name)
        return {"username": f"POETRY_HTTP_BASIC_{n}_USERNAME",
                "password": f"POETRY_HTTP_BASIC_{n}_PASSWORD",
                "cert": f"POETRY_CERTIFICATES_{n}_CERT",
                "client_cert": f"POETRY_CERTIFICATES_{n}_CLIENT_CERT"}
    if source.role in UNNAMED_ROLES:
        return {}  # uv reads their credentials from the URL, netrc or keyring only
    n = uv_env_name(source.name)
    return {"username": f"UV_INDEX_{n}_USERNAME", "password": f"UV_INDEX_{n}_PASSWORD"}


_PATTERNS: dict[str, tuple[tuple[re.Pattern[str], dict[str, str]], ...]] = {
    "poetry": (
        (re.compile(r"^POETRY_HTTP_BASIC_(?P<n>.+)_(?P<f>USERNAME|PASSWORD)$", re.IGNORECASE),
         {"USERNAME": "username", "PASSWORD": "password"}),
        (re.compile(r"^POETRY_CERTIFICATES_(?P<n>.+?)_(?P<f>CLIENT_CERT|CLIENT-CERT|CERT)$", re.IGNORECASE),
         {"CERT": "cert", "CLIENT_CERT": "client_cert", "CLIENT-CERT": "client_cert"}),
    ),
    "uv": (
        (re.compile(r"^UV_INDEX_(?P<n>.+)_(?P<f>USERNAME|PASSWORD)$", re.IGNORECASE),
         {"USERNAME": "username", "PASSWORD": "password"}),
    ),
}


_PLACEHOLDER = re.compile(r"\$\{(.+?)\}")


def _userinfo_access(source: Source, env: Mapping[str, str]) -> SourceAccess:
    """pdm and pip: the variables the URL's ``${NAME}`` userinfo names; literal parts are
    the credentials themselves (the readers refuse a literal password in a committed
    file; pip's may come from ``PIP_EXTRA_INDEX_URL``)."""
    expected: dict[str, str] = {}
    literal: dict[str, str] = {}
    for role, text in source.credential_parts:
        match = _PLACEHOLDER.fullmatch(text)
        if match:
            expected[role] = match.group(1)
        else:
            literal[role] = text
    given: dict[str, str] = {}
    for role, variable in expected.items():
        if variable in env:
            given[role] = variable
        else:
            near = [n for n in sorted(env) if _fuzzy(n) == _fuzzy(variable)]
            if near:
                given[role] = near[0]
    values = {role: env[name] for role, name in given.items()}
    return SourceAccess(source=source.name, expected=expected, given=given,
                        username=values.get("username", literal.get("username")),
                        password=values.get("password", literal.get("password")))


def plan_access(model: ProjectModel, env: Mapping[str, str]) -> dict[str, SourceAccess]:
    """``{source name: SourceAccess}`` for every private source of ``model``."""
    plans: dict[str, SourceAccess] = {}
    for source in model.private_sources:
        if model.client in ("pdm", "pip"):
            plans[source.name] = _userinfo_access(source, env)
            continue
        expected = expected_variables(model.client, source)
        given: dict[str, str] = {}
        key = _fuzzy(source.name)
        for variable in sorted(env):
            for pattern, roles in _PATTERNS.get(model.client, ()):
                match = pattern.match(variable)
                if match and _fuzzy(match["n"]) == key:
                    role = roles[match["f"].upper()]
                    # the exact name wins over a near miss of the same role
                    if role not in given or variable == expected.get(role):
                        given[role] = variable
        plans[source.name] = SourceAccess(
            source=source.name, expected=expected, given=given,
            username=env.get(given["username"]) if "username" in given else None,
            password=env.get(given["password"]) if "password" in given else None,
        )
    return plans
