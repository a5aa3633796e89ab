"""Who may read from and upload to an index.

Private indexes differ in exactly this: which users exist, whether reads are public,
whether a token is sent as ``__token__``, and what an anonymous client gets back (401 with
a challenge, so pip asks keyring or netrc; a bare 403 that makes pip give up; a 404 that
hides the index's existence). Secrets are compared with :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from werkzeug.datastructures import Authorization

from ..errors import ConfigError

__all__ = ["TOKEN_USER", "Credentials", "AuthPolicy", "AuthDecision"]

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


def _normalise_users(auth: AuthSpec) -> dict[str, str]:
    if auth is None:
        return {}
    if isinstance(auth, Mapping):
        pairs = list(auth.items())
    elif (
        isinstance(auth, tuple)
        and len(auth) == 2
        and all(isinstance(x, str) for x in auth)
    ):
        pairs = [auth]  # type: ignore[list-item]
    else:
        try:
            pairs = [tuple(p) for p in auth]  # type: ignore[union-attr]
        except TypeError:
            raise ConfigError(
                f"auth must be (user, password), a list of them or a dict, not {auth!r}"
            ) from None
    users: dict[str, str] = {}
    for pair in pairs:
        if len(pair) != 2 or not all(isinstance(x, str) for x in pair):
            raise ConfigError(f"auth entry {pair!r} is not a (user, password) pair of strings")
        user, password = pair
        if not user or ":" in user:
            raise ConfigError(f"auth user {user!r} must be non-empty and contain no ':'")
        if not password:
            raise ConfigError(f"auth user {user!r} has an empty password")
        users[user] = password
    return users


@dataclass
class Credentials:
    """The users and tokens an index accepts."""

    users: dict[str, str] = field(default_factory=dict)
    tokens: tuple[str, ...] = ()

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

    def __post_init__(self) -> None:
        if self.anonymous_status not in (401, 403, 404):
            raise ConfigError(
                f"anonymous_status must be 401, 403 or 404, not {self.anonymous_status!r}"
            )
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
            if user == "" and secret:  # Artifactory style: empty user + token
                user = TOKEN_USER
        elif scheme == "bearer":
            user, secret = TOKEN_USER, authorization.token or ""
        else:
            return AuthDecision(None, scheme, False)
        return AuthDecision(user, scheme, self.credentials.verify(user, secret))

    def may_read(self, decision: AuthDecision) -> bool:
        return self.public_read or not self.credentials.enabled or decision.ok is True

    def may_upload(self, decision: AuthDecision) -> bool:
        if not self.credentials.enabled:
            return True
        if decision.ok is not True:
            return False
        return self.uploaders is None or decision.user in self.uploaders
