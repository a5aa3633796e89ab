"""Who may read from and upload to an index.

Private indexes differ in exactly this: which users exist, whether reads are public,
whether a token is sent as ``__token__``, and what an anonymous client gets back (401 with
a challenge, so pip asks keyring or netrc; a bare 403 that makes pip give up; a 404 that
hides the index's existence). Secrets are compared with :func:`hmac.compare_digest`, never
shown in a repr (``****``, :mod:`pytest_privrepo.redact`), and what the request log keeps of
a request's credentials is decided here (:func:`loggable_identity`): user names, never a
password or token, even when a client sends one where the user name belongs.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from werkzeug.datastructures import Authorization

from ..errors import ConfigError
from ..redact import MASK

__all__ = [
    "TOKEN_USER",
    "Credentials",
    "AuthPolicy",
    "AuthDecision",
    "Refusal",
    "loggable_identity",
]

#: The user name under which tokens are sent (PyPI's convention, used by every client).
TOKEN_USER = "__token__"

AuthSpec = tuple[str, str] | Iterable[tuple[str, str]] | Mapping[str, str] | None


@dataclass(frozen=True)
class AuthDecision:
    """Outcome of checking one request: who it claims to be, and whether that holds."""

    user: str | None
    scheme: str | None
    #: None: no credentials sent; True: accepted; False: rejected
    ok: bool | None


@dataclass(frozen=True)
class Refusal:
    """How an index refuses a request: what :meth:`AuthPolicy.refusal` decided."""

    status: int
    #: the response body (one line)
    message: str
    #: send ``WWW-Authenticate: Basic realm=...`` (only with 401)
    challenge: bool = False


def _basic_userinfo(header: str) -> tuple[str, str] | None:
    """``(user, password)`` of a ``Basic`` header, or None when it has no ``user:password``
    (no colon, not base64): werkzeug 3.1 gives the whole decoded value as the user name
    then, which is the secret when a client sends a bare token."""
    _, _, data = header.strip().partition(" ")
    try:
        decoded = base64.b64decode(data.strip(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def loggable_identity(
    decision: AuthDecision, header: str | None, credentials: Credentials | None = None
) -> AuthDecision:
    """What the request log may keep of one request's credentials.

    ``decision`` is the index's (:meth:`AuthPolicy.decide`; ``AuthDecision(None, None,
    None)`` when no index answered), ``header`` the raw ``Authorization`` value,
    ``credentials`` the index's. The result:

    - ``user``: the user name of a Basic ``user:password``, ``__token__`` for a token
      (Bearer, ``__token__:``, Artifactory's ``:<token>``), a Digest-style ``username=``;
      None when no header was sent, when a Basic header has no colon, when the "user name"
      is one of the index's passwords or tokens, and when it is a name the index does not
      know sent with an empty password (``<token>:``, a token sent as the user name). pip
      sends ``alice:`` first for a URL with a user name only (its keyring route): a known
      user, so it is kept. A user name in the log is never a secret.
    - ``ok``: the index's verdict; False for a scheme the index does not accept
      (``Authorization: Token x`` was sent and refused, not "none sent"); None when no index
      checked the request.
    - ``scheme``: the header's scheme, lower case.
    """
    if header is None or not header.strip():
        return AuthDecision(None, None, decision.ok)
    scheme = decision.scheme or header.strip().partition(" ")[0].lower() or None
    known_users = credentials.users if credentials is not None else {}
    withheld = set(credentials.secrets) if credentials is not None else set()
    user: str | None
    if scheme == "basic":
        pair = _basic_userinfo(header)
        if pair is None or (not pair[1] and pair[0] not in known_users):
            user = None
        else:
            user = decision.user if decision.user is not None else pair[0]
    elif decision.user is not None:
        user = decision.user  # Bearer: __token__
    else:
        parsed = Authorization.from_header(header)
        user = parsed.username if parsed is not None else None
    if user is not None and (not user or user in withheld):
        user = None
    return AuthDecision(user, scheme, decision.ok)


def _normalise_users(auth: AuthSpec) -> dict[str, str]:
    if auth is None:
        return {}
    pairs: list[tuple[object, ...]]
    if isinstance(auth, Mapping):
        pairs = list(auth.items())
    elif (
        isinstance(auth, tuple)
        and len(auth) == 2
        and all(isinstance(x, str) for x in auth)
    ):
        pairs = [auth]
    else:
        try:
            pairs = [tuple(p) for p in auth]
        except TypeError:
            raise ConfigError(
                f"auth must be (user, password), a list of them or a dict, not {auth!r}"
            ) from None
    users: dict[str, str] = {}
    for pair in pairs:
        user, password = pair if len(pair) == 2 else (None, None)
        if not isinstance(user, str) or not isinstance(password, str):
            raise ConfigError(f"auth entry {pair!r} is not a (user, password) pair of strings")
        if not user or ":" in user:
            raise ConfigError(f"auth user {user!r} must be non-empty and contain no ':'")
        if not password:
            raise ConfigError(f"auth user {user!r} has an empty password")
        users[user] = password
    return users


@dataclass
class Credentials:
    """The users and tokens an index accepts. The repr shows user names, never secrets."""

    users: dict[str, str] = field(default_factory=dict)
    tokens: tuple[str, ...] = ()

    def __repr__(self) -> str:
        users = {user: MASK for user in self.users}
        return f"Credentials(users={users!r}, tokens={tuple(MASK for _ in self.tokens)!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every password and token: what must never appear in a log or a message."""
        return (*self.users.values(), *self.tokens)

    @classmethod
    def build(cls, auth: AuthSpec, token: str | Iterable[str] | None) -> "Credentials":
        users = _normalise_users(auth)
        if token is None:
            tokens: tuple[str, ...] = ()
        elif isinstance(token, str):
            tokens = (token,)
        else:
            tokens = tuple(token)
        for t in tokens:
            if not isinstance(t, str) or not t:
                raise ConfigError(f"token {t!r} must be a non-empty string")
        if TOKEN_USER in users:
            raise ConfigError(f"use token=... rather than a user named {TOKEN_USER!r}")
        return cls(users, tokens)

    @property
    def enabled(self) -> bool:
        return bool(self.users or self.tokens)

    def verify(self, user: str, secret: str) -> bool:
        """Constant-time check of one user/secret pair (tokens arrive as ``__token__``)."""
        given = secret.encode()
        if user == TOKEN_USER:
            ok = False
            for t in self.tokens:  # check them all: no early exit on a match
                ok |= hmac.compare_digest(given, t.encode())
            return ok
        expected = self.users.get(user)
        if expected is None:
            hmac.compare_digest(given, given)  # same work for unknown users
            return False
        return hmac.compare_digest(given, expected.encode())


@dataclass
class AuthPolicy:
    """Credentials plus the rules for reads and uploads."""

    credentials: Credentials
    #: reads need no credentials (uploads still do when credentials exist)
    public_read: bool = False
    #: users allowed to upload; None means every valid user (and token)
    uploaders: frozenset[str] | None = None
    #: status for a request without credentials: 401 (with challenge), 403 or 404
    anonymous_status: int = 401
    realm: str = "pytest-privrepo"
    #: a 401 carries ``WWW-Authenticate`` (clients send credentials only after one)
    challenge: bool = True
    #: what wrong credentials on a read get: 401, 403 or 404
    wrong_credentials_status: int = 401
    #: user names a token is accepted with (``None``: any user name, as Azure's PATs)
    token_users: tuple[str, ...] | None = (TOKEN_USER, "")
    #: what wrong credentials on an upload get: 403 (Warehouse) or 401
    wrong_upload_status: int = 403
    #: the projects a request without credentials sees (a partial anonymous listing, as a
    #: product with a public "virtual" view shows, uv#3923); None: all or nothing
    anonymous_view: frozenset[str] | None = None

    def __post_init__(self) -> None:
        for label, status in (("anonymous_status", self.anonymous_status),
                              ("wrong_credentials_status", self.wrong_credentials_status)):
            if status not in (401, 403, 404):
                raise ConfigError(f"{label} must be 401, 403 or 404, not {status!r}")
        if not isinstance(self.realm, str) or not (self.realm.isascii() and self.realm.isprintable()) \
                or '"' in self.realm or "\\" in self.realm:
            # It goes into WWW-Authenticate as a quoted string (RFC 9110 section 11.6.1).
            raise ConfigError(f"realm {self.realm!r} must be printable ASCII without '\"' or "
                              "'\\': it is sent in the WWW-Authenticate header")
        if self.wrong_upload_status not in (401, 403):
            raise ConfigError(f"wrong_upload_status must be 401 or 403, "
                              f"not {self.wrong_upload_status!r}")
        if self.uploaders is not None:
            unknown = set(self.uploaders) - set(self.credentials.users) - {TOKEN_USER}
            if unknown:
                raise ConfigError(f"uploaders {sorted(unknown)} are not users of this index")

    def decide(self, authorization: Authorization | None) -> AuthDecision:
        """Parse and check the Authorization header (Basic, or Bearer as a token)."""
        if authorization is None:
            return AuthDecision(None, None, None)
        scheme = authorization.type.lower()
        if scheme == "basic":
            user = authorization.username or ""
            secret = authorization.password or ""
            if user not in self.credentials.users:
                if self.takes_token_as(user) and secret:
                    # a token under one of the index's token user names (``__token__``, an
                    # empty user for Artifactory's JWT, ``aws``, ``oauth2accesstoken``, any)
                    return AuthDecision(TOKEN_USER, scheme,
                                        self.credentials.verify(TOKEN_USER, secret))
                if user == TOKEN_USER:  # a product that takes tokens under other names only
                    return AuthDecision(TOKEN_USER, scheme, False)
        elif scheme == "bearer":
            user, secret = TOKEN_USER, authorization.token or ""
        else:
            return AuthDecision(None, scheme, False)
        return AuthDecision(user, scheme, self.credentials.verify(user, secret))

    def takes_token_as(self, user: str) -> bool:
        """A token sent with ``user`` as its user name is checked as a token."""
        return bool(self.credentials.tokens) and (
            self.token_users is None or user in self.token_users)

    def may_read(self, decision: AuthDecision) -> bool:
        return (self.public_read or not self.credentials.enabled or decision.ok is True
                or (self.anonymous_view is not None and decision.ok is None))

    def visible(self, decision: AuthDecision) -> frozenset[str] | None:
        """The projects this request may see (None: every one): the anonymous view for a
        request without credentials."""
        if self.anonymous_view is not None and decision.ok is None and not self.public_read:
            return self.anonymous_view
        return None

    def may_upload(self, decision: AuthDecision) -> bool:
        if not self.credentials.enabled:
            return True
        if decision.ok is not True:
            return False
        return self.uploaders is None or decision.user in self.uploaders

    def refusal(
        self, decision: AuthDecision, action: Literal["read", "upload"], index: str
    ) -> Refusal:
        """The answer to a request :meth:`may_read` / :meth:`may_upload` refused.

        Without credentials: :attr:`anonymous_status` (401 with a challenge, so pip asks
        its keyring or netrc; a bare 403; a 404). Wrong credentials: 401 with a challenge
        for a read, Warehouse's 403 for an upload; but on a 404 index every refusal before
        a user is known is that same 404, uploads included, or a wrong password would tell
        a probe that the index exists. A valid user who may not upload: 403 naming them.
        """
        hidden = self.anonymous_status == 404
        if decision.ok is not True and hidden:
            return Refusal(404, "Not Found")
        if decision.ok is None:
            if self.anonymous_status == 403:
                return Refusal(403, "Access denied")
            if action == "upload":
                return Refusal(401, "Authentication required for uploads", challenge=self.challenge)
            return Refusal(401, "Authentication required", challenge=self.challenge)
        if decision.ok is False:
            message = "Invalid or non-existent authentication information."
            if action == "upload":
                if self.wrong_upload_status == 401:
                    return Refusal(401, message, challenge=self.challenge)
                return Refusal(403, message)
            if self.wrong_credentials_status == 404:
                return Refusal(404, "Not Found")
            if self.wrong_credentials_status == 403:
                return Refusal(403, message)
            return Refusal(401, message, challenge=self.challenge)
        if action == "upload":
            return Refusal(
                403,
                f"User {decision.user!r} does not have permission to upload to index {index!r}.",
            )
        return Refusal(403, f"User {decision.user!r} may not {action} on index {index!r}.")
