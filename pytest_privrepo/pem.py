"""One PEM bundle from several CA files: what a client that takes one trust file needs.

Why one function: pip ``--cert``, uv ``SSL_CERT_FILE`` and the CA bundle of an index whose
files live on a publicly signed storage host all need "these CAs, in one file". The
client environment (:meth:`ClientEnv.ca_bundle
<pytest_privrepo.clients.env.ClientEnv.ca_bundle>`) and the index factory both write it
here, the same way: each file once, in order, named by the content's hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from .errors import ConfigError

__all__ = ["read_pem", "write_pem_bundle"]


def read_pem(path: Path) -> bytes:
    """The bytes of a CA file, or a :class:`ConfigError` naming the file and why not."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read CA certificate {path}: {exc.strerror}") from None


def write_pem_bundle(files: Iterable[Path], directory: Path) -> Path:
    """``directory/ca-bundle-<hash>.pem`` holding every file of ``files`` (each once, in
    order): identical inputs give the same file. A file that cannot be read is a
    :class:`ConfigError` naming it."""
    parts: list[bytes] = []
    seen: set[Path] = set()
    for file in files:
        path = Path(file).absolute()
        if path in seen:
            continue
        seen.add(path)
        parts.append(read_pem(path))
    data = b"\n".join(p.rstrip(b"\n") for p in parts) + b"\n"
    directory.mkdir(parents=True, exist_ok=True)
    bundle = directory / f"ca-bundle-{hashlib.sha256(data).hexdigest()[:16]}.pem"
    if not bundle.exists():
        bundle.write_bytes(data)
    return bundle
