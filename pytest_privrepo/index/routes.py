"""The HTTP face of one index: which path below its prefix is a page, a file or the upload API.

Why apart from :class:`~pytest_privrepo.index.index.Index`: the index is its content (files,
pages, users, uploads); this is how requests map onto it, through its public methods only.
Pages and files are read with GET or HEAD; ``/simple`` and non-normalised project names are
redirected (301, query kept) to the one URL a client should cache; a file is answered the
way werkzeug's ``send_file`` answers a path (length, Last-Modified, ETag, Range, 304).
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from packaging.utils import InvalidName, canonicalize_name
from werkzeug.exceptions import NotFound
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import wrap_file

from .auth import AuthDecision, Refusal
from .json_api import render_project, render_release
from .responses import refusal_response, text_response
from .storage import check_signed, signed_url
from .simple import MIME_JSON, MIME_TEXT_HTML, negotiate_header

if TYPE_CHECKING:
    from .index import Index

__all__ = ["answer", "route_of"]

_READ_METHODS = frozenset({"GET", "HEAD"})


def answer(index: "Index", request: Request, rest: str, decision: AuthDecision) -> Response:
    """Answer one request whose path, below ``index``'s prefix, is ``rest``.

    The paths are the index's behaviour's (``/simple``, ``/files``, ``/legacy/``, or a
    product's: devpi's ``/+simple`` and ``/+f``, GitLab's upload at the prefix itself).
    """
    behaviour = index.behaviour
    if behaviour.storage:
        if route_of(index, rest) != "file":
            raise NotFound()
        if request.method not in _READ_METHODS:
            return text_response(405, "Method Not Allowed", {"Allow": "GET, HEAD"})
        refusal = check_signed(request, index.signing_key)
        if refusal is not None:
            return refusal
        project, filename = rest.split("/")[1:]
        return _serve_file(index, request, project, filename)
    if route_of(index, rest, request.method) == "upload":
        if behaviour.upload_slash_required and not request.path.endswith("/"):
            return text_response(400, "Repository path must have another '/' after the "
                                      "repository name", phrase=True)
        return index.handle_upload(request, rest, decision)
    if not index.policy.may_read(decision):
        return index.deny(decision, "read")
    simple = behaviour.simple_path
    files = index.files_path
    if index.json_api and rest.startswith("/pypi/"):
        return _serve_json_api(index, request, rest)
    if rest == simple or rest.startswith((simple + "/", files)):
        if request.method not in _READ_METHODS:
            return text_response(405, f"Method Not Allowed: {rest.split('/')[1]} pages and "
                                      "files are read with GET or HEAD", {"Allow": "GET, HEAD"})
    if rest == simple:
        return _moved(request, index.prefix + simple + "/")
    if rest == simple + "/":
        return _serve_page(index, request, None, decision)
    if rest.startswith(simple + "/"):
        name = rest[len(simple) + 1:]
        slash = name.endswith("/")
        if slash:
            name = name[:-1]
        if not name or "/" in name:
            raise NotFound()
        try:  # no project has an invalid name; and a CR/LF must not reach Location
            canonical = canonicalize_name(name, validate=True)
        except InvalidName:
            raise NotFound() from None
        if name != canonical or not slash:
            return _moved(request, f"{index.prefix}{simple}/{canonical}/")
        return _serve_page(index, request, canonical, decision)
    if rest.startswith(files):
        parts = rest[len(files):].split("/")
        if len(parts) != 2:
            raise NotFound()
        project, filename = parts
        visible = index.policy.visible(decision)
        if visible is not None and project not in visible:
            raise NotFound()
        return _serve_file(index, request, project, filename)
    raise NotFound()


def route_of(index: "Index", rest: str, method: str | None = None) -> str | None:
    """What ``rest`` (below the prefix) is for ``index``: ``"page"``, ``"file"``,
    ``"upload"``, ``"json"`` (the JSON API), or None when the index serves no such path.

    The one statement of the index's path vocabulary (its behaviour's simple, files and
    upload paths), for :func:`answer` and for whoever must know what a path is (fault
    injection refuses a fault on a path the index does not serve). ``method`` None:
    any method (an upload at the prefix root is a POST there).
    """
    behaviour = index.behaviour
    if behaviour.storage:  # /<project>/<filename> only
        parts = rest.split("/")[1:]
        return "file" if len(parts) == 2 and all(parts) else None
    upload = behaviour.upload_path
    if upload in ("", "/"):
        if rest == "/" and method in (None, "POST"):
            return "upload"
    elif rest in (upload, upload.rstrip("/")):
        return "upload"
    simple = behaviour.simple_path
    if rest in (simple, simple + "/"):
        return "page"
    if rest.startswith(simple + "/"):
        name = rest[len(simple) + 1:].removesuffix("/")
        return "page" if name and "/" not in name else None
    files = index.files_path
    if rest.startswith(files):
        parts = rest[len(files):].split("/")
        return "file" if len(parts) == 2 and all(parts) else None
    if index.json_api and rest.startswith("/pypi/"):
        parts = rest[len("/pypi/"):].removesuffix("/").split("/")
        return "json" if len(parts) in (2, 3) and parts[-1] == "json" and all(parts) else None
    return None


def _missing(index: "Index", project: str | None) -> Response:
    """A page the index does not have: 404, a product's other status, or its redirect
    (GitLab's 302 and pypiserver's 303 to PyPI)."""
    behaviour = index.behaviour
    if project is not None and behaviour.missing_redirect:
        return redirect(behaviour.missing_redirect.format(name=project),
                        behaviour.missing_redirect_status)
    if behaviour.missing_status == 401:  # Azure: "not found" is an auth failure
        return refusal_response(Refusal(401, "Authentication required",
                                        challenge=index.policy.challenge),
                                index.policy.realm, upload=False)
    return text_response(behaviour.missing_status, "404 Not Found", {"Cache-Control": "no-cache"})


def _serve_json_api(index: "Index", request: Request, rest: str) -> Response:
    """``/pypi/<name>/json`` and ``/pypi/<name>/<version>/json`` (see :mod:`.json_api`)."""
    if request.method not in _READ_METHODS:
        return text_response(405, "Method Not Allowed: the JSON API is read with GET or HEAD",
                             {"Allow": "GET, HEAD"})
    parts = rest[len("/pypi/"):].split("/")
    if parts[-1] == "":
        parts = parts[:-1]
    if len(parts) not in (2, 3) or parts[-1] != "json":
        raise NotFound()
    try:
        project = canonicalize_name(parts[0], validate=True)
    except InvalidName:
        raise NotFound() from None
    files = index.files(project)
    body = (render_project(files, index.file_url) if len(parts) == 2
            else render_release(files, parts[1], index.file_url)) if files else None
    if body is None:
        return text_response(404, "404 Not Found", {"Cache-Control": "no-cache"})
    return Response(body, 200, {"Content-Type": "application/json", "Cache-Control": "no-cache"})


def _serve_page(index: "Index", request: Request, project: str | None,
                decision: AuthDecision) -> Response:
    if index.behaviour.pep691:
        mime = negotiate_header(request.headers.get("Accept"), request.args.get("format"))
    else:  # HTML whatever the client asks for (Nexus, GitLab without its feature flag)
        mime = MIME_TEXT_HTML
    page = index.page(project, mime, index.policy.visible(decision))
    if page is None:
        return _missing(index, project)
    content_type = mime + ("; charset=utf-8" if mime != MIME_JSON else "")
    return Response(
        page,
        200,
        {"Content-Type": content_type, "Vary": "Accept", "Cache-Control": "no-cache"},
    )


def _serve_file(index: "Index", request: Request, project: str, filename: str) -> Response:
    if filename.endswith(".metadata"):
        stored = index.file(project, filename[: -len(".metadata")])
        if stored is None or stored.metadata_sha256 is None or not index.behaviour.pep658:
            raise NotFound()
        return Response(stored.dist.metadata, 200, mimetype="application/octet-stream")
    storage = index.storage
    if storage is not None:
        stored = index.file(project, filename)
        if stored is not None and stored.dist.size >= index.behaviour.redirect_min_size:
            return redirect(signed_url(storage, stored, index.signing_key),
                            index.behaviour.files_redirect)
    opened = index.open_file(project, filename)
    if opened is None:
        raise NotFound()
    stored, fh = opened
    stat = os.fstat(fh.fileno())
    # What werkzeug's send_file does for a path, for an already open file: length,
    # Last-Modified, ETag, then conditional and Range answers (206/304/416).
    response = Response(wrap_file(request.environ, fh), mimetype="application/octet-stream",
                        direct_passthrough=True)
    response.content_length = stat.st_size
    response.last_modified = datetime.fromtimestamp(int(stat.st_mtime), timezone.utc)
    response.cache_control.no_cache = True
    response.set_etag(stored.sha256)
    try:
        return response.make_conditional(request.environ, accept_ranges=True,
                                         complete_length=stat.st_size)
    except BaseException:  # 416 for an unsatisfiable Range: do not leak the descriptor
        fh.close()
        raise


def _moved(request: Request, location: str) -> Response:
    if request.query_string:
        location += "?" + request.query_string.decode("latin-1")
    return redirect(location, 301)
