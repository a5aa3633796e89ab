"""The legacy upload API (``POST /legacy/``), with Warehouse's validation rules.

A publish test is only worth something if the index refuses what PyPI refuses: twine,
Poetry, uv, pdm, hatch and flit each send a slightly different form, and each reacts to a
specific status and message (``File already exists`` is a prefix twine matches). Every
refusal is a 400/401/403/413 whose reason phrase and body name the problem, and nothing is
stored.

The file part is streamed into a staging file next to its destination while its digests are
computed, then moved into place with :func:`os.replace`: no upload is held in memory and no
reader ever sees a torn file, even when two clients upload the same name at once.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version
from werkzeug.wrappers import Request, Response

from ..dists import inspect_dist
from ..errors import ConfigError
from .auth import AuthDecision

if TYPE_CHECKING:
    from .index import Index

__all__ = ["Upload", "UploadRejected", "handle_upload"]

_DIGESTS = (("md5_digest", "md5"), ("sha256_digest", "sha256"), ("blake2_256_digest", "blake2b"))
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EXTENSIONS = {"sdist": (".tar.gz", ".zip"), "bdist_wheel": (".whl",)}


@dataclass(frozen=True)
class Upload:
    """One accepted upload, as the index stored it."""

    filename: str
    name: str
    version: str
    filetype: str
    sha256: str
    size: int
    user: str | None
    path: Path
    #: every form field except the file, lists for repeated fields (e.g. classifiers)
    fields: dict[str, list[str]] = field(repr=False)
    time: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    #: True when an existing file of that name was replaced (``overwrite=True``)
    replaced: bool = False

    @property
    def pyversion(self) -> str | None:
        return (self.fields.get("pyversion") or [None])[0]

    def field(self, name: str) -> str | None:
        """First value of a form field, or None."""
        values = self.fields.get(name)
        return values[0] if values else None


class UploadRejected(Exception):
    """Raised inside validation; becomes a response with that status and reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _HashingFile:
    """The stream werkzeug writes the file part into: hashes while writing to disk."""

    def __init__(self, directory: Path, limit: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".upload-", suffix=".part", dir=directory)
        self.path = Path(name)
        self._f = os.fdopen(fd, "w+b")
        self.hashes = {algo: hashlib.new(algo, digest_size=32) if algo == "blake2b"
                       else hashlib.new(algo) for _, algo in _DIGESTS}
        self.size = 0
        self.limit = limit

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size <= self.limit:  # past the limit: count only, refuse later
            for h in self.hashes.values():
                h.update(data)
            self._f.write(data)
        return len(data)

    def hexdigest(self, algo: str) -> str:
        return self.hashes[algo].hexdigest()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)

    def discard(self) -> None:
        self._f.close()
        self.path.unlink(missing_ok=True)


class _UploadRequest(Request):
    """werkzeug Request whose file parts go to a :class:`_HashingFile` in the staging dir."""

    max_form_memory_size = 16 * 1024 * 1024  # long descriptions (READMEs) are form fields
    max_form_parts = 10_000
    staging: Path
    limit: int
    streams: list[_HashingFile]

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None, content_length: int | None = None) -> Any:
        stream = _HashingFile(self.staging, self.limit)
        self.streams.append(stream)
        return stream


_commit_lock = threading.Lock()


def _reply(status: int, reason: str) -> Response:
    # The reason phrase must be one latin-1 line; the body carries the full message.
    phrase = reason.splitlines()[0].encode("latin-1", "replace").decode("latin-1")[:300]
    return Response(reason + "\n", status=f"{status} {phrase}", mimetype="text/plain")


def handle_upload(index: "Index", base: Request, rest: str, decision: AuthDecision) -> Response:
    """Answer a request to ``<prefix>/legacy`` or ``<prefix>/legacy/``."""
    if rest == "/legacy":
        return Response("Use the URL with a trailing slash\n", 308,
                        {"Location": f"{index.prefix}/legacy/"}, mimetype="text/plain")
    if base.method != "POST":
        return Response("Method Not Allowed: uploads are POST requests\n", 405,
                        {"Allow": "POST"}, mimetype="text/plain")
    policy = index.policy
    if not policy.may_upload(decision):
        if decision.ok is None:
            return Response("Authentication required for uploads\n", 401,
                            {"WWW-Authenticate": f'Basic realm="{policy.realm}"'},
                            mimetype="text/plain")
        if decision.ok is False:
            return _reply(403, "Invalid or non-existent authentication information.")
        return _reply(403, f"User {decision.user!r} does not have permission to upload "
                           f"to index {index.name!r}.")

    declared = base.content_length
    if declared is not None and declared > index.max_upload_size + (1 << 20):
        return _reply(413, f"File too large. Limit for index {index.name!r} is "
                           f"{_mib(index.max_upload_size)}.")

    request = _UploadRequest(base.environ)
    request.staging = index.upload_root / ".incoming"
    request.limit = index.max_upload_size
    request.streams = []
    try:
        try:
            return _accept(index, request, decision)
        except UploadRejected as exc:
            return _reply(exc.status, exc.reason)
    finally:
        for stream in request.streams:
            stream.discard()


def _mib(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size} bytes"
    return f"{size / (1024 * 1024):g} MiB"


def _accept(index: "Index", request: _UploadRequest, decision: AuthDecision) -> Response:
    if not (request.mimetype or "").startswith("multipart/form-data"):
        raise UploadRejected(400, "Invalid request: expected multipart/form-data")
    form = request.form
    files = request.files
    action = form.get(":action")
    if action is None:
        raise UploadRejected(400, "Missing :action field")
    if action != "file_upload":
        raise UploadRejected(400, f"Unknown :action {action!r}: only 'file_upload' is supported")
    protocol = form.get("protocol_version", "1")
    if protocol != "1":
        raise UploadRejected(400, f"Unknown protocol version {protocol!r}: only 1 is supported")
    for required in ("name", "version", "filetype"):
        if not form.get(required, "").strip():
            raise UploadRejected(400, f"Missing required field: {required}")
    content = files.get("content")
    if content is None or not content.filename:
        raise UploadRejected(400, "Missing required field: content (the file)")
    name, version_text, filetype = form["name"].strip(), form["version"].strip(), form["filetype"]
    try:
        canonical = canonicalize_name(name, validate=True)
    except Exception:
        raise UploadRejected(400, f"Invalid name {name!r}") from None
    try:
        version = Version(version_text)
    except InvalidVersion:
        raise UploadRejected(400, f"Invalid version {version_text!r}") from None
    if filetype not in _EXTENSIONS:
        raise UploadRejected(400, f"Unsupported filetype {filetype!r}: use 'sdist' or 'bdist_wheel'")

    filename = content.filename
    if "/" in filename or "\\" in filename or ".." in filename or _CONTROL.search(filename):
        raise UploadRejected(400, f"Invalid filename {filename!r}: no path separators, '..' "
                                  "or control characters")
    if len(filename.encode()) > 255:
        raise UploadRejected(400, f"Invalid filename: {len(filename.encode())} bytes is longer "
                                  "than the 255 allowed")
    if not filename.endswith(_EXTENSIONS[filetype]):
        raise UploadRejected(400, f"Invalid file extension for filetype {filetype!r} in "
                                  f"{filename!r}: use {' or '.join(_EXTENSIONS[filetype])}")

    stream: _HashingFile = content.stream  # type: ignore[assignment]
    if stream.size > index.max_upload_size:
        raise UploadRejected(400, f"File too large. Limit for index {index.name!r} is "
                                  f"{_mib(index.max_upload_size)}.")
    supplied = [(f, algo, form[f].strip().lower()) for f, algo in _DIGESTS if form.get(f, "").strip()]
    if not supplied:
        raise UploadRejected(400, "Include at least one message digest (md5_digest, "
                                  "sha256_digest or blake2_256_digest).")
    for field_name, algo, value in supplied:
        if not hmac.compare_digest(value.encode(), stream.hexdigest(algo).encode()):
            raise UploadRejected(400, f"The digest supplied does not match a digest calculated "
                                      f"from the uploaded file ({field_name}).")

    _check_filename(filename, filetype, name, canonical, version)

    sha256 = stream.hexdigest("sha256")
    existing = index._file(canonical, filename)
    if existing is not None and existing.sha256 == sha256:
        return Response("OK (identical file already present)\n", 200, mimetype="text/plain")

    stream.flush()
    os.fsync(stream.fileno())
    try:
        dist = _inspect_staged(stream, filename)
    except ConfigError as exc:
        raise UploadRejected(400, f"Invalid distribution file: {exc}") from None
    if canonicalize_name(dist.name) != canonical:
        raise UploadRejected(400, f"Name in metadata {dist.name!r} does not match the form's "
                                  f"name {name!r}")
    if Version(dist.version) != version:
        raise UploadRejected(400, f"Version in metadata {dist.version!r} does not match the "
                                  f"form's version {version_text!r}")

    target_dir = index.upload_root / canonical
    target = target_dir / filename
    with _commit_lock:  # duplicate check and move are one step
        existing = index._file(canonical, filename)
        replaced = False
        if existing is not None:
            if existing.sha256 == sha256:
                return Response("OK (identical file already present)\n", 200, mimetype="text/plain")
            if not index.overwrite:
                raise UploadRejected(400, f"File already exists ({filename!r}, with sha256 hash "
                                          f"{existing.sha256!r}). Uploading a different file "
                                          "under an existing name is not allowed.")
            replaced = True
        stream.close()
        target_dir.mkdir(parents=True, exist_ok=True)
        os.replace(stream.path, target)
        stored = index._store(replace(dist, path=target), uploaded_by=decision.user)
        fields = {k: form.getlist(k) for k in form.keys()}
        index.uploads.append(Upload(
            filename=filename, name=name, version=str(version), filetype=filetype,
            sha256=sha256, size=stored.dist.size, user=decision.user, path=target,
            fields=fields, replaced=replaced,
        ))
    return Response("OK\n", 200, mimetype="text/plain")


def _inspect_staged(stream: _HashingFile, filename: str):  # type: ignore[no-untyped-def]
    """Read the staged bytes' metadata under the filename the client gave."""
    if filename.endswith(".whl"):
        _check_wheel_members(stream.path, filename)
    return inspect_dist(stream.path, filename=filename)


def _check_wheel_members(path: Path, filename: str) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, EOFError):
        raise ConfigError("the wheel is not a valid zip archive") from None
    if len(names) != len(set(names)):
        raise ConfigError("the wheel contains duplicate entries")
    stem = "-".join(filename.split("-")[:2])
    for member in ("METADATA", "WHEEL", "RECORD"):
        if f"{stem}.dist-info/{member}" not in names:
            raise ConfigError(f"the wheel does not contain {stem}.dist-info/{member}")


def _check_filename(filename: str, filetype: str, name: str, canonical: str,
                    version: Version) -> None:
    if filetype == "bdist_wheel":
        try:
            fn_name, fn_version, _, _ = parse_wheel_filename(filename)
        except InvalidWheelFilename as exc:
            raise UploadRejected(400, f"Invalid wheel filename {filename!r}: {exc}") from None
    else:
        expected = f"{canonical.replace('-', '_')}-{version}"
        stem = filename[: -len(".tar.gz")] if filename.endswith(".tar.gz") else filename[:-4]
        if stem != expected:
            raise UploadRejected(400, f"Invalid sdist filename {filename!r}: it must be "
                                      f"{expected}{filename[len(stem):]!s} (normalised name "
                                      "and version)")
        try:
            fn_name, fn_version = parse_sdist_filename(filename)
        except InvalidSdistFilename as exc:
            raise UploadRejected(400, f"Invalid sdist filename {filename!r}: {exc}") from None
    if fn_name != canonical:
        raise UploadRejected(400, f"Start filename for {name!r} with "
                                  f"{canonical.replace('-', '_')!r} (got {filename!r})")
    if fn_version != version:
        raise UploadRejected(400, f"Version in filename {filename!r} does not match the form's "
                                  f"version {str(version)!r}")
