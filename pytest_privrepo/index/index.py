"""One ephemeral package index: its files, its pages, its users, its request log.

An :class:`Index` is mounted on an :class:`~pytest_privrepo.index.server.IndexServer` under
a path prefix (empty for a server of its own), so several indexes can share one host:port
the way Artifactory or Nexus repositories do. That sharing is what breaks clients that
match credentials per host, and a test has to be able to reproduce it. Mounting binds the
index's :class:`~pytest_privrepo.index.origin.Origin` (scheme, host, port, prefix) into it:
its URLs are built from that value, never by asking the server.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal
from urllib.parse import quote

from packaging.utils import canonicalize_name
from werkzeug.wrappers import Request, Response

from ..access import IndexAccess
from ..dists import DistFile, build_dists, inspect_dist
from ..errors import ConfigError
from .auth import AuthDecision, AuthPolicy, Credentials
from .behaviour import STORAGE, Behaviour
from .faults import FaultInjection
from .form import UploadLimits
from .log import RequestLog
from .origin import Origin
from .simple import (
    MIME_JSON,
    FileEntry,
    render_project_html,
    render_project_json,
    render_root_html,
    render_root_json,
)
from .responses import refusal_response
from .routes import answer
from .upload import StagedUpload, Upload, handle_upload

if TYPE_CHECKING:
    from .server import IndexServer

__all__ = ["Index", "StoredFile"]

_INDEX_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")


def check_index_name(name: object) -> str:
    """Index names become directory names and client config keys: keep them plain."""
    if not isinstance(name, str) or not _INDEX_NAME.match(name):
        raise ConfigError(
            f"invalid index name {name!r}: use letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return name


def check_prefix(prefix: str) -> str:
    """'' or '/a/b' (no trailing slash, no '..')."""
    if prefix in ("", "/"):
        return ""
    if not prefix.startswith("/") or prefix.endswith("/") or ".." in prefix.split("/"):
        raise ConfigError(
            f"invalid path prefix {prefix!r}: it must start with '/', not end with '/', "
            "and contain no '..'"
        )
    if any(c in prefix for c in "?#% \\"):
        raise ConfigError(f"invalid path prefix {prefix!r}: no '?', '#', '%', spaces or '\\'")
    return prefix


@dataclass(frozen=True)
class StoredFile:
    """A distribution file an index serves."""

    dist: DistFile
    project: str  # normalised project name
    upload_time: datetime
    yanked: str | None = None  # None, "" (no reason) or the reason
    uploaded_by: str | None = None

    @property
    def filename(self) -> str:
        return self.dist.filename

    @property
    def path(self) -> Path:
        return self.dist.path

    @property
    def version(self) -> str:
        return self.dist.version

    @property
    def sha256(self) -> str:
        return self.dist.sha256

    @property
    def metadata_sha256(self) -> str | None:
        import hashlib

        if self.dist.filetype != "bdist_wheel" or not self.dist.metadata:
            return None
        return hashlib.sha256(self.dist.metadata).hexdigest()


def _yank_value(yanked: bool | str | None) -> str | None:
    if yanked is None or yanked is False:
        return None
    if yanked is True:
        return ""
    if isinstance(yanked, str):
        return yanked
    raise ConfigError(f"yanked must be a bool or a reason string, not {yanked!r}")


class Index(FaultInjection):
    """A package index with a simple API, file downloads and an upload endpoint.

    Create indexes with ``privrepo.index(...)`` (pytest) or
    :meth:`pytest_privrepo.Privrepo.index`; this constructor is internal.
    """

    def __init__(
        self,
        name: str,
        *,
        prefix: str,
        directory: Path,
        policy: AuthPolicy,
        ca_cert: Path | None,
        client_cert: Path | None,
        overwrite: bool = False,
        max_upload_size: int = 100 * 1024 * 1024,
        upload_dir: Path | None = None,
        upload_limits: UploadLimits | None = None,
        behaviour: Behaviour | None = None,
    ) -> None:
        self.name = check_index_name(name)
        #: how this index bends the protocol (a product profile; Warehouse's by default)
        self.behaviour = behaviour if behaviour is not None else Behaviour()
        self.prefix = check_prefix(prefix)
        self._server: IndexServer | None = None
        #: where this index answers; bound by :meth:`IndexServer.mount`, None until then
        self.origin: Origin | None = None
        #: the server's TLS mode: None, ``"tls"`` or ``"mtls"``; bound with the origin
        self.tls: str | None = None
        self.directory = Path(directory)
        self.policy = policy
        # str, not Path: requests' ``cert=`` and most config writers want plain strings
        #: path of a PEM bundle that verifies the server (None without TLS)
        self.ca_cert: str | None = str(ca_cert) if ca_cert else None
        #: path of ONE PEM with the client key and certificate (mTLS only)
        self.client_cert: str | None = str(client_cert) if client_cert else None
        #: every request this index answered
        self.log = RequestLog()
        #: a re-upload of an existing filename with other bytes replaces it (devpi volatile)
        self.overwrite = overwrite
        #: uploads larger than this are refused ("File too large")
        self.max_upload_size = max_upload_size
        #: every other bound on one upload request (parts, fields, METADATA, archive scan)
        self.upload_limits = upload_limits if upload_limits is not None else UploadLimits()
        #: where uploaded files are stored (``<upload_root>/<project>/<filename>``)
        self.upload_root = Path(upload_dir) if upload_dir else self.directory / "files"
        #: every accepted upload, in order (see :class:`~pytest_privrepo.index.upload.Upload`)
        self.uploads: list[Upload] = []
        self._lock = threading.RLock()
        self._projects: dict[str, dict[str, StoredFile]] = {}
        self._display: dict[str, str] = {}
        self._pages: dict[tuple[str, str], bytes] = {}
        #: the key this index signs its storage URLs with (see :mod:`.storage`)
        self.signing_key = secrets.token_bytes(32)
        #: where this index's files are kept when its behaviour has a storage host
        #: (:meth:`storage_view`); None: it serves them itself
        self.storage: Index | None = None

    def storage_view(self) -> Index:
        """A files-only view of this index for its storage host (mounted there by the
        factory): the same files, served at signed URLs, refusing any ``Authorization``."""
        view = Index(f"{self.name}-storage", prefix=f"/{self.name}", directory=self.directory,
                     policy=AuthPolicy(Credentials()), ca_cert=None, client_cert=None,
                     behaviour=STORAGE)
        view._projects, view._display, view._lock = self._projects, self._display, self._lock
        view.signing_key = self.signing_key
        self.storage = view
        return view

    # -- addresses and credentials ----------------------------------------------------
    def bind(self, server: "IndexServer", origin: Origin, tls: str | None) -> None:
        """Fix where this index answers (called by :meth:`IndexServer.mount`, once)."""
        if self.origin is not None:
            raise ConfigError(f"index {self.name!r} is already mounted at {self.origin.base_url}")
        if origin.prefix != self.prefix:
            raise ConfigError(f"index {self.name!r} has prefix {self.prefix!r}, "
                              f"not {origin.prefix!r}")
        self._server, self.origin, self.tls = server, origin, tls

    @property
    def server(self) -> "IndexServer":
        """The server this index is mounted on: its ``tls_failures``, its ``log`` (every
        index on it, and requests no index matched)."""
        if self._server is None:
            raise self._not_mounted()
        return self._server

    @property
    def _bound(self) -> Origin:
        if self.origin is None:
            raise self._not_mounted()
        return self.origin

    def _not_mounted(self) -> ConfigError:
        return ConfigError(f"index {self.name!r} is not mounted on a server yet")

    @property
    def base_url(self) -> str:
        """``scheme://host:port<prefix>`` without a trailing slash."""
        return self._bound.base_url

    @property
    def url(self) -> str:
        """The simple API root, with its trailing slash."""
        return self.base_url + self.behaviour.simple_path + "/"

    @property
    def upload_url(self) -> str:
        """The legacy upload endpoint (``<base_url>/legacy/``, or the profile's, on its
        upload host when it has one: PyPI's ``upload.pypi.org``)."""
        host = self.behaviour.upload_host
        if host:
            return f"{self._bound.scheme}://{host}{self.behaviour.upload_path}"
        return self.base_url + self.behaviour.upload_path

    @property
    def json_api(self) -> bool:
        """Serves PyPI's JSON API (``/pypi/<name>/json``), which Poetry's PyPI source reads."""
        return self.behaviour.json_api

    @property
    def files_url(self) -> str | None:
        """The absolute base of the file links when the files are on another host than
        the pages (``https://files.pythonhosted.org/packages``); None: relative links."""
        host = self.behaviour.files_host
        return f"{self._bound.scheme}://{host}{self.behaviour.files_path}" if host else None

    @property
    def files_path(self) -> str:
        """The path below the prefix that file links point into (``/files/``)."""
        return self.behaviour.files_path + "/"

    def file_url(self, stored: StoredFile) -> str:
        """The absolute URL of one served file."""
        base = self.files_url or self.base_url + self.behaviour.files_path
        return f"{base}/{stored.project}/{quote(stored.filename)}"

    @property
    def host(self) -> str:
        return self._bound.host

    @property
    def port(self) -> int:
        return self._bound.port

    @property
    def netloc(self) -> str:
        """``host:port`` as it stands in a URL (``[::1]:8080``)."""
        return self._bound.netloc

    @property
    def username(self) -> str | None:
        """The first user given in ``auth=``, else ``__token__`` when a token is set."""
        users = self.policy.credentials.users
        if users:
            return next(iter(users))
        return self.behaviour.token_user if self.policy.credentials.tokens else None

    @property
    def password(self) -> str | None:
        creds = self.policy.credentials
        if creds.users:
            return next(iter(creds.users.values()))
        return creds.tokens[0] if creds.tokens else None

    @property
    def token(self) -> str | None:
        tokens = self.policy.credentials.tokens
        return tokens[0] if tokens else None

    @property
    def auth(self) -> tuple[str, str] | None:
        """``(username, password)`` for requests' ``auth=``, or None without auth."""
        if self.username is None or self.password is None:
            return None
        return (self.username, self.password)

    @property
    def access(self) -> IndexAccess:
        """How a client reaches this index, as one frozen value: what every client entry
        point takes. Vary it with ``dataclasses.replace(index.access, password="wrong")``."""
        return IndexAccess(
            self.url,
            name=self.name,
            upload_url=self.upload_url,
            username=self.username,
            password=self.password,
            token=self.token,
            ca_cert=Path(self.ca_cert) if self.ca_cert else None,
            client_cert=Path(self.client_cert) if self.client_cert else None,
        )

    def url_with_credentials(self, url: str | None = None) -> str:
        """``url`` (default: the simple URL) with the credentials as percent-encoded userinfo."""
        return self.access.url_with_credentials(url)

    def __repr__(self) -> str:
        where = self.url if self.origin is not None else f"(not mounted) prefix={self.prefix!r}"
        return f"<Index {self.name} {where}>"

    # -- content ------------------------------------------------------------------------
    def add(
        self,
        name: str,
        version: str,
        *,
        requires: Sequence[str] = (),
        requires_python: str | None = None,
        extras: Mapping[str, Sequence[str]] | None = None,
        yanked: bool | str | None = None,
        kind: str = "wheel",
        tags: str | Sequence[str] = ("py3-none-any",),
        summary: str | None = None,
        upload_time: datetime | None = None,
    ) -> list[StoredFile]:
        """Write synthetic, deterministic distributions of ``name`` ``version`` and serve them."""
        project_dir = self.directory / "files" / _safe_dir(name)
        dists = build_dists(
            project_dir,
            name,
            version,
            kind=kind,
            tags=tags,
            requires=requires,
            requires_python=requires_python,
            extras=extras,
            summary=summary,
        )
        return [self._store(d, yanked=yanked, upload_time=upload_time) for d in dists]

    def add_file(
        self, path: str | Path, *, yanked: bool | str | None = None, upload_time: datetime | None = None
    ) -> StoredFile:
        """Serve a real distribution file (copied into the index), reading its metadata."""
        src = Path(path)
        if not src.is_file():
            raise ConfigError(f"add_file: {src} is not a file")
        dist = inspect_dist(src)
        target_dir = self.directory / "files" / canonicalize_name(dist.name)
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / dist.filename
        if src.resolve() != target.resolve():
            target.write_bytes(src.read_bytes())
        return self._store(replace(dist, path=target), yanked=yanked, upload_time=upload_time)

    def _store(
        self,
        dist: DistFile,
        *,
        yanked: bool | str | None = None,
        upload_time: datetime | None = None,
        uploaded_by: str | None = None,
    ) -> StoredFile:
        project = canonicalize_name(dist.name)
        stored = StoredFile(
            dist=dist,
            project=project,
            upload_time=upload_time or datetime.now(timezone.utc),
            yanked=_yank_value(yanked),
            uploaded_by=uploaded_by,
        )
        with self._lock:
            self._projects.setdefault(project, {})[dist.filename] = stored
            self._display.setdefault(project, dist.name)
            self._pages.clear()
        return stored

    def yank(self, name: str, version: str | None = None, reason: str = "") -> None:
        """Mark files of ``name`` (one version, or all) as yanked (PEP 592)."""
        self._update(name, version, lambda f: replace(f, yanked=reason))

    def unyank(self, name: str, version: str | None = None) -> None:
        self._update(name, version, lambda f: replace(f, yanked=None))

    def remove(self, name: str, version: str | None = None) -> None:
        """Stop serving files of ``name`` (one version, or all). Files stay on disk."""
        project = canonicalize_name(name)
        with self._lock:
            files = self._projects.get(project, {})
            for fn in [fn for fn, f in files.items() if version is None or f.version == version]:
                del files[fn]
            if not files:
                self._projects.pop(project, None)
                self._display.pop(project, None)
            self._pages.clear()

    def _update(self, name: str, version: str | None,
                change: Callable[[StoredFile], StoredFile]) -> None:
        project = canonicalize_name(name)
        with self._lock:
            files = self._projects.get(project)
            if not files:
                raise ConfigError(f"index {self.name!r} has no project {name!r}")
            matched = False
            for fn, f in list(files.items()):
                if version is None or f.version == version:
                    files[fn] = change(f)
                    matched = True
            if not matched:
                raise ConfigError(f"index {self.name!r} has no {name} {version}")
            self._pages.clear()

    @property
    def projects(self) -> list[str]:
        """Normalised names of the projects served, sorted."""
        with self._lock:
            return sorted(self._projects)

    def files(self, name: str | None = None) -> list[StoredFile]:
        """Files served (of one project, or all), sorted by project and filename."""
        with self._lock:
            if name is not None:
                return sorted(self._projects.get(canonicalize_name(name), {}).values(),
                              key=lambda f: f.filename)
            return [f for p in sorted(self._projects) for f in
                    sorted(self._projects[p].values(), key=lambda f: f.filename)]

    def file(self, project: str, filename: str) -> StoredFile | None:
        """The file served as ``filename`` in the (normalised) ``project``, or None."""
        with self._lock:
            return self._projects.get(project, {}).get(filename)

    def commit(self, staged: StagedUpload) -> Upload | None:
        """Serve a staged upload: the duplicate rule and the move into place, as one step.

        Under this index's lock, so two uploads of one name cannot both pass the duplicate
        check, and a reader sees the old file or the new one, never neither. Returns the
        :class:`Upload` (also appended to :attr:`uploads`), or None when the identical file
        is already served. Raises :class:`UploadRejected` for another file under an existing
        name unless :attr:`overwrite`; a replaced file whose name differs (a case or
        normalisation variant of the same distribution) stops being served.
        """
        with self._lock:
            existing = staged.duplicate_of(self)
            if existing is not None:
                behaviour = self.behaviour
                refuse = (not self.overwrite and (existing.sha256 != staged.sha256
                                                  or behaviour.refuse_identical))
                if refuse:
                    raise staged.refuse_duplicate(
                        existing, behaviour.duplicate_status_for(staged.user_agent),
                        behaviour.duplicate_message)
                if existing.sha256 == staged.sha256:
                    return None
            target_dir = self.upload_root / staged.project  # only now: a refusal leaves no dir
            target_dir.mkdir(parents=True, exist_ok=True)
            target = target_dir / staged.filename
            os.replace(staged.dist.path, target)
            if existing is not None and existing.filename != staged.filename:
                self._projects.get(existing.project, {}).pop(existing.filename, None)
            stored = self._store(replace(staged.dist, path=target), uploaded_by=staged.user)
            upload = staged.accepted(stored, replaced=existing is not None)
            self.uploads.append(upload)
            return upload

    # -- pages ------------------------------------------------------------------------
    def page(self, project: str | None, mime: str,
             visible: frozenset[str] | None = None) -> bytes | None:
        """The root page (``project`` None) or a project's page as ``mime``, or None for a
        project not served; rendered once per change of the index. ``visible``: only these
        projects exist for this request (an anonymous view)."""
        if visible is not None and project is not None and project not in visible:
            return None
        fmt = "json" if mime == MIME_JSON else "html"
        key = (project or ("" if visible is None else "\0anonymous"), fmt)
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                return page
            if project is None:
                names = [(self._display[p], p) for p in sorted(self._projects)
                         if visible is None or p in visible]
                page = render_root_json(names) if fmt == "json" else render_root_html(names)
            else:
                files = self._projects.get(project)
                if not files:
                    return None
                entries = [
                    FileEntry(
                        filename=f.filename,
                        url=(self.file_url(f) if self.files_url else
                             f"../..{self.behaviour.files_path}/{project}/{quote(f.filename)}"),
                        sha256=f.sha256,
                        size=f.dist.size,
                        upload_time=f.upload_time,
                        requires_python=f.dist.requires_python,
                        yanked=f.yanked,
                        metadata_sha256=f.metadata_sha256,
                        version=f.version,
                    )
                    for f in sorted(files.values(), key=lambda f: f.filename)
                ]
                display = self._display[project]
                page = (
                    render_project_json(project, entries, self.behaviour)
                    if fmt == "json"
                    else render_project_html(display, entries, self.behaviour)
                )
            self._pages[key] = page
            return page

    # -- HTTP (the routes are :mod:`pytest_privrepo.index.routes`) ---------------------
    def handle(self, request: Request, rest: str, decision: AuthDecision) -> Response:
        """Answer one request whose path, below this index's prefix, is ``rest``."""
        return answer(self, request, rest, decision)

    def handle_upload(self, request: Request, rest: str, decision: AuthDecision) -> Response:
        """The legacy upload API (see :mod:`pytest_privrepo.index.upload`)."""
        return handle_upload(self, request, rest, decision)

    def deny(self, decision: AuthDecision, action: Literal["read", "upload"]) -> Response:
        """The answer to a request :attr:`policy` refused: its rule, one response shape."""
        refusal = self.policy.refusal(decision, action, self.name)
        return refusal_response(refusal, self.policy.realm, upload=action == "upload",
                                empty=self.behaviour.empty_refusal_body)

    def open_file(self, project: str, filename: str) -> tuple[StoredFile, BinaryIO] | None:
        """The file served as ``filename`` and an open handle on its bytes, or None.

        Looked up and opened under the lock :meth:`commit` replaces files under, so the
        record (its sha256, the ETag) and the bytes are those of one version of the file
        even while ``overwrite=True`` uploads replace it.
        """
        with self._lock:
            stored = self.file(project, filename)
            if stored is None:
                return None
            try:
                return stored, open(stored.path, "rb")
            except FileNotFoundError:
                return None


def _safe_dir(name: str) -> str:
    try:
        return canonicalize_name(name, validate=True)
    except Exception:
        raise ConfigError(f"invalid project name {name!r}") from None
