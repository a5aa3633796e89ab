"""An isolated keyring backend that stores secrets in a JSON file of the test's own.

Why: Poetry (and pip, twine, uv via subprocess) store and look up passwords in the system
keyring. A test must exercise that route without ever touching the developer's or the CI
machine's real keyring, and must be able to assert what landed there. This module is copied
into the client environment and named by ``PYTHON_KEYRING_BACKEND``; it runs inside the
*client's* interpreter (Poetry's own virtualenv), so it imports only ``keyring`` (which every
such client has) and the standard library.

Its name must not start with "fail", "null" or "chainer" nor contain "plaintext": Poetry
treats such backends as unusable and falls back to auth.toml.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

__all__ = ["FileKeyring", "STORE_VARIABLE"]

#: environment variable naming the JSON file that holds the secrets
STORE_VARIABLE = "PRIVREPO_KEYRING_FILE"


def _store() -> Path:
    path = os.environ.get(STORE_VARIABLE)
    if not path:
        raise RuntimeError(f"{STORE_VARIABLE} is not set: the privrepo keyring has no file")
    return Path(path)


def _load() -> dict[str, dict[str, str]]:
    path = _store()
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8") or "{}")


def _save(data: dict[str, dict[str, str]]) -> None:
    path = _store()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


class FileKeyring(KeyringBackend):
    """Keyring backend over one JSON file: ``{service: {username: password}}``."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        return _load().get(service, {}).get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        data = _load()
        data.setdefault(service, {})[username] = password
        _save(data)

    def delete_password(self, service: str, username: str) -> None:
        data = _load()
        if username not in data.get(service, {}):
            raise PasswordDeleteError(f"no password for {username!r} in {service!r}")
        del data[service][username]
        if not data[service]:
            del data[service]
        _save(data)
