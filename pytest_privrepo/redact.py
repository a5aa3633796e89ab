"""The one place that decides what a secret looks like and hides it as ``****``.

Everything the package prints or records about a client run (a failing command's
:class:`~pytest_privrepo.errors.ClientError`, a
:class:`~pytest_privrepo.clients.result.CommandResult` repr, an index's policy repr, the
request log) passes through these functions, so a password that reaches a pytest report or
a CI log through one path cannot reach it through another. Four kinds of secret are
recognised, the same way everywhere:

- URL userinfo: ``http://alice:PW@host`` -> ``http://alice:****@host``; a userinfo without
  a password is a token (GitHub, GitLab and Azure accept one as the user name), so
  ``https://TOKEN@host`` -> ``https://****@host``. pip's own ``redact_auth_from_url``
  (pip 26.0, ``pip/_internal/utils/misc.py``) draws the same line.
- The value of a credential option on a command line: ``--password``, ``--token`` and
  ``--auth`` for every client (``--opt VALUE`` and ``--opt=VALUE``), and the short options
  that mean a secret for one client only (:data:`SHORT_SECRET_OPTIONS`: ``-p`` is twine's
  password but uv's and pdm's ``--python``/``--project``), plus the positional secrets of
  ``poetry config http-basic.NAME USER PASSWORD`` / ``pypi-token.NAME TOKEN`` and of a
  ``config`` key ending in ``password``, ``token`` or ``auth`` (pdm, hatch).
- The value of a credential variable (:func:`is_credential_variable`: ``*_PASSWORD``,
  ``*_TOKEN``, ``*PYPI_TOKEN*``, ``*_AUTH``, ``*_SECRET``, ...), as ``NAME=value`` in text or
  as a mapping entry; every other variable's value still has its URL userinfo hidden
  (``PIP_INDEX_URL=http://alice:PW@...``).
- Secrets a caller knows (``secrets=``): the password a runner passed by a variable, so a
  client that echoes it in its stderr is redacted too. They are hidden raw and
  percent-encoded, wherever they occur, however short.

Usernames are not secrets: a report that says *who* was refused is what a test needs.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote, unquote

__all__ = [
    "MASK",
    "SHORT_SECRET_OPTIONS",
    "is_credential_variable",
    "is_credential_header",
    "is_secret_name",
    "redact",
    "redact_argv",
    "redact_env",
    "redact_header",
    "secrets_in_argv",
    "secrets_in_env",
]

#: What a hidden secret is shown as (pip and uv print the same).
MASK = "****"

#: Long options whose value is a secret, for every client (twine, uv, poetry, pdm, hatch:
#: ``--password``; uv publish / uv auth login: ``--token``; hatch publish: ``--auth``).
LONG_SECRET_OPTIONS = frozenset({"--password", "--token", "--auth"})

#: Short options whose value is a secret: client -> {subcommand or "*": options}. Read
#: from each client's ``--help``: twine 7.0.0 ``upload -p``; uv 0.13.9 ``publish -p -t``
#: and ``auth login -t`` (elsewhere ``-p`` is ``--python`` and ``-t`` ``--target``); Poetry
#: 1.8.5 and 2.5.1 ``publish -p`` (2.x's global ``-P`` is ``--project``); pdm 2.29.3
#: ``publish -P`` (``-p`` is ``--project``); hatch 1.18.2 ``publish -a`` (``-p`` is
#: ``--project``). pip 26 and flit 4.2 take no secret on the command line.
SHORT_SECRET_OPTIONS: Mapping[str, Mapping[str, frozenset[str]]] = {
    "twine": {"*": frozenset({"-p"})},
    "uv": {"publish": frozenset({"-p", "-t"}), "login": frozenset({"-t"})},
    "poetry": {"publish": frozenset({"-p"})},
    "pdm": {"publish": frozenset({"-P"})},
    "hatch": {"publish": frozenset({"-a"})},
}

# scheme://authority: the userinfo is everything before the authority's last "@"
# (RFC 3986 3.2); the authority ends at "/", "?", "#", whitespace or a quote.
_URL = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<authority>[^\s/?#'\"<>`\\]*)")

_CREDENTIAL_NAME = re.compile(
    r"(?:^|_)(?:PASSWORD|PASSWD|PASS|TOKEN|AUTH|API_?KEY)$|PYPI_TOKEN|(?:^|_)SECRET(?:_|$)",
    re.IGNORECASE,
)
#: Values of a credential variable that are flags, not secrets (``HATCH_INDEX_AUTH`` is a
#: secret, a hypothetical ``X_AUTH=1`` is not): hiding every "1" in a client's output would
#: make it unreadable and protect nothing.
_FLAG_VALUES = frozenset({"", "0", "1", "true", "false", "yes", "no", "on", "off"})

# NAME=value in text (shell lines, env dumps, keyword arguments); the value may be quoted.
_ASSIGNMENT = re.compile(
    r"(?P<name>\b[A-Za-z_][A-Za-z0-9_]*)=(?P<value>'[^']*'|\"[^\"]*\"|[^\s'\",)]+)"
)
# 'NAME': 'value' as a dict repr shows it
_DICT_ITEM = re.compile(
    r"(?P<name>['\"](?P<key>[A-Za-z_][A-Za-z0-9_]*)['\"]\s*:\s*)(?P<value>'[^']*'|\"[^\"]*\")"
)
# --password VALUE in a command line printed as text
_OPTION = re.compile(r"(?P<name>(?<!\S)--(?:password|token|auth)\s+)(?P<value>[^\s'\"]+|'[^']*'|\"[^\"]*\")")
#: Lower-case names that are secrets in text (``password="x"``, ``{'token': 'x'}``); other
#: lower-case names are left alone, so ``auth="url"`` (a route) stays readable. Upper-case
#: names are variables: :func:`is_credential_variable` decides.
_SECRET_WORDS = frozenset({"password", "passwd", "token", "secret"})

# Authorization-style header lines a verbose client may print
_HEADER_LINE = re.compile(
    r"(?P<name>\b(?:proxy-)?authorization\s*[:=]\s*['\"]?)(?P<scheme>[A-Za-z][\w-]*\s+)?"
    r"(?P<value>[^\s'\",]+)",
    re.IGNORECASE,
)
_COOKIE_LINE = re.compile(r"(?P<name>\b(?:set-)?cookie\s*:\s*)(?P<value>[^\r\n]+)", re.IGNORECASE)

_CREDENTIAL_HEADER = re.compile(r"auth|token|cookie|secret|password|api-?key|art-api", re.I)


def is_credential_variable(name: str) -> bool:
    """True for an environment variable whose value is a secret as a whole.

    ``TWINE_PASSWORD``, ``UV_INDEX_CORP_PASSWORD``, ``POETRY_HTTP_BASIC_CORP_PASSWORD``,
    ``POETRY_PYPI_TOKEN_CORP``, ``UV_PUBLISH_TOKEN``, ``HATCH_INDEX_AUTH``,
    ``FLIT_PASSWORD``, ``GITLAB_API_TOKEN``, ... but not ``UV_INDEX_CORP_USERNAME`` or
    ``PIP_KEYRING_PROVIDER``. URL-valued variables (``PIP_INDEX_URL``) are not secrets as
    a whole: their userinfo is hidden like any URL's.
    """
    return bool(_CREDENTIAL_NAME.search(name))


def is_credential_header(name: str) -> bool:
    """True for an HTTP header that carries credentials (``Authorization``,
    ``Proxy-Authorization``, ``Cookie``, ``X-Auth-Token``, ``Private-Token``, ...)."""
    return bool(_CREDENTIAL_HEADER.search(name))


def redact_header(name: str, value: str, secrets: Iterable[str | None] = ()) -> str:
    """The value of one request header as it may be recorded: a credential header keeps
    only its scheme (``Basic ****``), any other is :func:`redact`-ed (URL userinfo, the
    given ``secrets``)."""
    if not is_credential_header(name):
        return redact(value, secrets)
    if name.lower().endswith("authorization"):
        scheme, sep, rest = value.strip().partition(" ")
        if sep and rest.strip():
            return f"{scheme} {MASK}"
    return MASK if value else value


def _known(secrets: Iterable[str | None]) -> tuple[str, ...]:
    """Every form in which the given secrets may appear, longest first (so that a secret
    containing another is hidden whole)."""
    return _forms(tuple(secrets))


@functools.lru_cache(maxsize=256)
def _forms(secrets: tuple[str | None, ...]) -> tuple[str, ...]:
    # cached: the request log asks for the same index's secrets for every header
    forms: set[str] = set()
    for secret in secrets:
        if not secret or secret == MASK:
            continue
        forms.add(secret)
        forms.add(quote(secret, safe=""))
        forms.add(quote(secret))
    return tuple(sorted(forms, key=len, reverse=True))


def _mask_userinfo(match: re.Match[str]) -> str:
    authority = match["authority"]
    userinfo, at, host = authority.rpartition("@")
    if not at or not userinfo:
        return match[0]
    user, colon, password = userinfo.partition(":")
    if not colon:
        return f"{match['scheme']}{MASK}@{host}"
    return f"{match['scheme']}{user}:{MASK if password else ''}@{host}"


def is_secret_name(name: str) -> bool:
    """True for a name whose value is a secret in text or code: a credential variable
    (upper case or with ``_``: ``TWINE_PASSWORD``, ``user_token``) or one of the words
    ``password``, ``passwd``, ``token``, ``secret``. ``auth`` alone is not one: in this
    package it names a route (``auth="url"``)."""
    if name.isupper() or "_" in name.strip("_"):
        return is_credential_variable(name)
    return name.lower().lstrip("-_") in _SECRET_WORDS


def _mask_assignment(match: re.Match[str]) -> str:
    if not is_secret_name(match["name"]):
        return match[0]
    value = match["value"]
    quote_char = value[0] if value[:1] in ("'", '"') else ""
    return f"{match['name']}={quote_char}{MASK}{quote_char}"


def _mask_dict_item(match: re.Match[str]) -> str:
    if not is_secret_name(match["key"]):
        return match[0]
    quote_char = match["value"][0]
    return f"{match['name']}{quote_char}{MASK}{quote_char}"


def _mask_option(match: re.Match[str]) -> str:
    value = match["value"]
    quote_char = value[0] if value[:1] in ("'", '"') else ""
    return f"{match['name']}{quote_char}{MASK}{quote_char}"


def _mask_header(match: re.Match[str]) -> str:
    return f"{match['name']}{match['scheme'] or ''}{MASK}"


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every secret it shows replaced by :data:`MASK`.

    Hides URL userinfo, ``NAME=value`` of credential variables, ``Authorization`` /
    ``Cookie`` header values, and each of ``secrets`` (raw or percent-encoded) wherever it
    occurs. Safe to apply twice.
    """
    if not text:
        return text
    for secret in _known(secrets):
        text = text.replace(secret, MASK)
    # Each rule runs only where its marker occurs: the request log applies this to every
    # header of every request, and most values (``*/*``, a user agent) have none.
    if "://" in text:
        text = _URL.sub(_mask_userinfo, text)
    if "=" in text:
        text = _ASSIGNMENT.sub(_mask_assignment, text)
    if ":" in text and ("'" in text or '"' in text):
        text = _DICT_ITEM.sub(_mask_dict_item, text)
    if "--" in text:
        text = _OPTION.sub(_mask_option, text)
    lowered = text.lower()
    if "authorization" in lowered:
        text = _HEADER_LINE.sub(_mask_header, text)
    if "cookie" in lowered:
        text = _COOKIE_LINE.sub(lambda m: f"{m['name']}{MASK}", text)
    return text


def _program(argv: Sequence[str]) -> tuple[str, int]:
    """``(client name, index of its first argument)``: ``/x/bin/pip3.12 ...`` -> pip,
    ``python -m twine ...`` -> twine."""
    if not argv:
        return "", 0
    name = os.path.basename(argv[0]).lower()
    if name.endswith(".exe"):
        name = name[:-4]
    if name.startswith("python") and len(argv) > 2 and argv[1] == "-m":
        return argv[2].lower(), 3
    return name.rstrip("0123456789.") or name, 1


def _secret_positions(argv: Sequence[str]) -> dict[int, tuple[str, str]]:
    """``{position: (as shown, the secret)}`` for every argument of ``argv`` that is a
    secret or carries one (``--password=X`` is shown as ``--password=****``)."""
    program, start = _program(argv)
    shorts_by_command = SHORT_SECRET_OPTIONS.get(program, {})
    shorts: frozenset[str] = shorts_by_command.get("*", frozenset())
    positions: dict[int, tuple[str, str]] = {}
    config_at: int | None = None
    i = start
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            break
        option, eq, value = arg.partition("=")
        if option in LONG_SECRET_OPTIONS or option in shorts:
            if eq:
                positions[i] = (f"{option}={MASK}", value)
            elif i + 1 < len(argv):
                positions[i + 1] = (MASK, argv[i + 1])
                i += 1
        elif arg[:2] in shorts and len(arg) > 2:
            positions[i] = (f"{arg[:2]}{MASK}", arg[2:])  # argparse's -pVALUE
        elif not arg.startswith("-"):
            if arg in shorts_by_command:
                shorts = shorts | shorts_by_command[arg]
            if config_at is None and arg == "config":
                config_at = i
            elif config_at is not None and _config_key(argv, config_at) == i:
                for offset in _config_secret_offsets(arg):
                    j = _nth_positional(argv, i, offset)
                    if j is not None:
                        positions[j] = (MASK, argv[j])
        i += 1
    return positions


def _config_key(argv: Sequence[str], config_at: int) -> int | None:
    """Position of the key in ``config [set] KEY VALUE...`` (hatch says ``config set``)."""
    j = _nth_positional(argv, config_at, 1)
    if j is not None and argv[j] == "set":
        j = _nth_positional(argv, j, 1)
    return j


def _config_secret_offsets(key: str) -> tuple[int, ...]:
    """Which positional arguments after a ``config`` key are secrets.

    ``poetry config http-basic.NAME USER PASSWORD`` (the second), ``poetry config
    pypi-token.NAME TOKEN``, ``pdm config repository.NAME.password X``, ``hatch config set
    publish.index.auth X`` (the first)."""
    lowered = key.lower()
    if lowered.startswith("http-basic."):
        return (2,)
    if lowered.startswith("pypi-token."):
        return (1,)
    if re.search(r"(?:^|[._-])(?:password|token|auth)$", lowered):
        return (1,)
    return ()


def _nth_positional(argv: Sequence[str], after: int, n: int) -> int | None:
    seen = 0
    for j in range(after + 1, len(argv)):
        if argv[j].startswith("-"):
            continue
        seen += 1
        if seen == n:
            return j
    return None


def secrets_in_argv(argv: Sequence[str]) -> frozenset[str]:
    """The secrets a command line carries: credential option values, poetry/pdm/hatch
    ``config`` secrets, URL passwords and tokens. Used to hide the same strings when the
    client echoes them in its output."""
    found = {secret for _, secret in _secret_positions(argv).values()}
    for arg in argv:
        found.update(_url_secrets(arg))
    found.discard("")
    return frozenset(found)


def _url_secrets(text: str) -> set[str]:
    out = set()
    for match in _URL.finditer(text):
        userinfo, at, _ = match["authority"].rpartition("@")
        if at and userinfo:
            user, colon, password = userinfo.partition(":")
            secret = password if colon else user
            if secret:
                out.update({secret, unquote(secret)})
    return out


def redact_argv(argv: Sequence[str], secrets: Iterable[str | None] = ()) -> tuple[str, ...]:
    """``argv`` with each secret (see the module docstring) shown as :data:`MASK`; the
    number and order of arguments is kept, so the result is still a readable command.
    The secrets found in ``argv`` are also hidden wherever else they occur in it."""
    positions = _secret_positions(argv)
    known = [*secrets, *secrets_in_argv(argv)]
    return tuple(
        positions[i][0] if i in positions else redact(arg, known) for i, arg in enumerate(argv)
    )


def secrets_in_env(env: Mapping[str, str | None]) -> frozenset[str]:
    """The values of credential variables and the URL secrets of all others."""
    found: set[str] = set()
    for name, value in env.items():
        if not value:
            continue
        if is_credential_variable(name):
            if value.lower() not in _FLAG_VALUES:
                found.add(value)
        else:
            found.update(_url_secrets(value))
    return frozenset(found)


def redact_env(env: Mapping[str, str | None], secrets: Iterable[str | None] = ()) -> dict[str, str | None]:
    """A copy of ``env`` safe to print: credential variables' values are :data:`MASK`,
    other values have their secrets hidden by :func:`redact`."""
    known = list(secrets)
    return {
        name: (MASK if value and is_credential_variable(name) else
               redact(value, known) if value else value)
        for name, value in env.items()
    }
