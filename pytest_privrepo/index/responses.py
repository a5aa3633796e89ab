"""The plain-text answers of an index: one way to build them, refusals included.

Why one function: every answer an index makes up itself (a refusal, a redirect hint, a
405, an upload's verdict) is ``text/plain`` with the message and a newline as the body,
and the upload API also puts the message into the reason phrase, as Warehouse does: twine
and uv print the phrase, and a duplicate is recognised by its ``File already exists``
prefix. Built in one place, the header rules (latin-1, one line, bounded) and the
``WWW-Authenticate`` challenge are the same for pages and uploads.
"""

from __future__ import annotations

from collections.abc import Mapping

from werkzeug.wrappers import Response

from .auth import Refusal

__all__ = ["refusal_response", "text_response"]

#: the longest reason phrase sent (the body carries the whole message)
MAX_PHRASE = 300


def text_response(status: int, message: str, headers: Mapping[str, str] | None = None, *,
                  phrase: bool = False) -> Response:
    """``message`` + newline as a ``text/plain`` answer.

    ``phrase``: the status line's reason phrase is the message's first line (latin-1,
    at most :data:`MAX_PHRASE` characters) instead of the standard one (``FORBIDDEN``).
    """
    if phrase:
        reason = message.splitlines()[0] if message else ""
        reason = reason.encode("latin-1", "replace").decode("latin-1")[:MAX_PHRASE]
        return Response(message + "\n", f"{status} {reason}", headers, mimetype="text/plain")
    return Response(message + "\n", status, headers, mimetype="text/plain")


def refusal_response(refusal: Refusal, realm: str, *, upload: bool,
                     empty: bool = False) -> Response:
    """The answer for one :meth:`~pytest_privrepo.index.auth.AuthPolicy.refusal`.

    A challenge (401) names ``realm`` and keeps the standard phrase, for pages and uploads
    alike; any other upload refusal carries its message as the phrase, as Warehouse's do.
    ``empty``: no body at all (Google Artifact Registry's anonymous 403).
    """
    if empty:
        headers = {"WWW-Authenticate": f'Basic realm="{realm}"'} if refusal.challenge else {}
        return Response(b"", refusal.status, headers)
    if refusal.challenge:
        return text_response(refusal.status, refusal.message,
                             {"WWW-Authenticate": f'Basic realm="{realm}"'})
    return text_response(refusal.status, refusal.message, phrase=upload)
