"""Signed storage URLs: where Artifactory and Azure Artifacts send a client for a file.

Why: a product that keeps files in cloud storage answers a file request with a redirect to
a signed URL on another host (Artifactory for files over ~512 KB, pip#13396; Azure
Artifacts to Blob storage, uv#13208). The storage host authenticates by the signature in
the URL and refuses a request that also carries an ``Authorization`` header (S3: 400 "Only
one auth mechanism allowed"), so a client that forwards the index's credentials across the
redirect fails the download (setuptools#1417) and, worse, has handed them to another host:
the egress log shows it as a credential leak.

:func:`signed_url` makes the redirect's target, :func:`check_signed` is the storage side's
verdict; the signature is an HMAC of the path and expiry with the index's own key.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import TYPE_CHECKING
from urllib.parse import quote

from werkzeug.wrappers import Request, Response

from .responses import text_response

if TYPE_CHECKING:
    from .index import Index, StoredFile

__all__ = ["SIGNATURE_TTL", "check_signed", "signed_url"]

#: Seconds a signed URL stays valid.
SIGNATURE_TTL = 300

_EXPIRES = "X-Privrepo-Expires"
_SIGNATURE = "X-Privrepo-Signature"


def _sign(key: bytes, path: str, expires: int) -> str:
    return hmac.new(key, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()


def signed_url(storage: Index, stored: StoredFile, key: bytes) -> str:
    """The storage host's URL of ``stored``, signed with ``key`` for :data:`SIGNATURE_TTL`."""
    path = f"{storage.prefix}/{stored.project}/{quote(stored.filename)}"
    expires = int(time.time()) + SIGNATURE_TTL
    return (f"{storage.origin.scheme}://{storage.origin.netloc}{path}"  # type: ignore[union-attr]
            f"?{_EXPIRES}={expires}&{_SIGNATURE}={_sign(key, path, expires)}")


def check_signed(request: Request, key: bytes) -> Response | None:
    """The storage host's refusal of ``request``, or None when it may have the file: any
    ``Authorization`` header is a 400 (whatever the signature), a missing, wrong or expired
    signature a 403, as S3 answers them."""
    if request.headers.get("Authorization") is not None:
        return text_response(400, "InvalidArgument: Only one auth mechanism allowed; only the "
                                  "signature query string parameters or the Authorization "
                                  "header should be specified")
    try:
        expires = int(request.args.get(_EXPIRES, ""))
    except ValueError:
        return text_response(403, "AccessDenied: Request has no valid signature")
    given = request.args.get(_SIGNATURE, "")
    if not hmac.compare_digest(given, _sign(key, request.path, expires)):
        return text_response(403, "AccessDenied: The request signature does not match")
    if expires < time.time():
        return text_response(403, "AccessDenied: Request has expired")
    return None
