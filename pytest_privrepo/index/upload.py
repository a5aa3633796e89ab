"""The legacy upload API (``POST /legacy/``), with Warehouse's validation rules.

A publish test is only worth something if the index refuses what PyPI refuses: twine,
Poetry, uv, pdm, hatch and flit each send a slightly different form, and each reacts to a
specific status and message (``File already exists`` is a prefix twine matches). Every
refusal is a 400/401/403/413 whose reason phrase and body name the problem, and nothing is
stored.

The form is parsed by :mod:`~pytest_privrepo.index.form` (the file part streamed into a
staging file while its digests are computed; parts, fields and the body bounded by
:class:`UploadLimits` whatever the framing); this module checks it as Warehouse does and
returns a :class:`StagedUpload`, which :meth:`Index.commit
<pytest_privrepo.index.index.Index.commit>` moves into place with :func:`os.replace` under
the index's lock: no reader ever sees a torn file, even when two clients upload the same
name at once. Beyond a limit the answer is a 413 or 400 naming it; METADATA and the
archive scan are bounded by :class:`UploadLimits` too. A wheel whose filename is a case or
normalisation variant of a stored one (``Demo-1.0-py3-none-any.whl`` next to
``demo-1.0-py3-none-any.whl``) is the same
distribution, so the duplicate rule applies to it.
"""

from __future__ import annotations

import hmac
import os
import re
import zipfile
from dataclasses import dataclass, field
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
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from ..dists import DistFile, inspect_dist
from ..dists.inspect import CORRUPT_ARCHIVE_ERRORS, check_zip_directory
from ..errors import ConfigError
from .auth import AuthDecision
from .form import DIGESTS, HashingFile, UploadLimits, UploadRejected, UploadRequest, describe_size
from .responses import text_response

if TYPE_CHECKING:
    from .index import Index, StoredFile

# UploadLimits and UploadRejected live in .form; named here too, where they were first.
__all__ = ["StagedUpload", "Upload", "UploadLimits", "UploadRejected", "handle_upload"]

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
        return self.field("pyversion")

    def field(self, name: str) -> str | None:
        """First value of a form field, or None."""
        values = self.fields.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class StagedUpload:
    """An upload that passed every check needing no index state, waiting to be committed.

    Why a value: the checks that read the index (is this a duplicate? may it replace the
    old file?) and the move into place must be one step under the index's own lock, so
    parsing hands this to :meth:`Index.commit <pytest_privrepo.index.index.Index.commit>`
    instead of touching the index's files itself.
    """

    #: the distribution as read from the staged bytes (``dist.path`` is the staging file)
    dist: DistFile
    filename: str
    #: the project name as the form gave it, and its normalised form
    name: str
    project: str
    version: str
    filetype: str
    sha256: str
    user: str | None
    fields: dict[str, list[str]] = field(repr=False)
    #: the client's User-Agent (pypiserver answers twine's duplicates differently)
    user_agent: str = ""

    def duplicate_of(self, index: "Index") -> StoredFile | None:
        """The stored file this upload would duplicate: the same name, or a variant of it."""
        return _existing(index, self.project, self.filename)

    def refuse_duplicate(self, existing: StoredFile, status: int = 400,
                         message: str = "File already exists") -> "UploadRejected":
        """The refusal of another file under an existing name: Warehouse's by default
        (twine matches its ``File already exists`` prefix), else a product's ``status``
        and ``message`` (its :class:`~pytest_privrepo.index.behaviour.Behaviour`)."""
        same = (f"{self.filename!r}" if existing.filename == self.filename else
                f"{self.filename!r} is the same distribution as {existing.filename!r}")
        if message != "File already exists":
            return UploadRejected(status, f"{message} ({same})")
        return UploadRejected(status, f"File already exists ({same}, with sha256 hash "
                                      f"{existing.sha256!r}). Uploading a different file "
                                      "under an existing name is not allowed.")

    def accepted(self, stored: StoredFile, *, replaced: bool) -> Upload:
        """The record of this upload once ``stored`` serves it."""
        return Upload(filename=self.filename, name=self.name, version=self.version,
                      filetype=self.filetype, sha256=self.sha256, size=stored.dist.size,
                      user=self.user, path=stored.path, fields=self.fields, replaced=replaced)


def _reply(status: int, reason: str) -> Response:
    return text_response(status, reason, phrase=True)


def handle_upload(index: "Index", base: Request, rest: str, decision: AuthDecision) -> Response:
    """Answer a request to the upload endpoint (``<prefix>/legacy/``, or the profile's)."""
    upload_path = index.behaviour.upload_path
    if upload_path.endswith("/") and len(upload_path) > 1 and rest == upload_path[:-1]:
        return text_response(308, "Use the URL with a trailing slash",
                             {"Location": f"{index.prefix}{upload_path}"})
    if base.method != "POST":
        return text_response(405, "Method Not Allowed: uploads are POST requests",
                             {"Allow": "POST"})
    if not index.policy.may_upload(decision):
        return index.deny(decision, "upload")  # the one rule and answer, as for reads

    limits: UploadLimits = index.upload_limits
    max_body = index.max_upload_size + limits.form_overhead
    declared = base.content_length
    if declared is not None and declared > max_body:
        return _reply(413, _too_large(index))

    request = UploadRequest(base.environ)
    # Staging files (".upload-*.part", removed when the request ends) sit in the upload root
    # itself: on the same file system as their destination, so the commit is one os.replace,
    # and no ".incoming" directory is left behind (removing an emptied one would race with
    # a concurrent upload creating its staging file there).
    request.staging = index.upload_root
    request.limit = index.max_upload_size
    request.limits = limits
    request.max_content_length = max_body  # chunked bodies too (werkzeug's LimitedStream)
    try:
        try:
            staged = _stage(index, request, decision)
            if staged is None or index.commit(staged) is None:
                return text_response(200, "OK (identical file already present)")
            return text_response(200, "OK")
        except UploadRejected as exc:
            return _reply(exc.status, exc.reason)
        except RequestEntityTooLarge:
            return _reply(413, _too_large(index))
    finally:
        if request.content is not None:
            request.content.discard()


def _too_large(index: "Index") -> str:
    """Warehouse's wording: 413 for a body too large to read, 400 for a parsed file part."""
    limit = describe_size(index.max_upload_size)
    return f"File too large. Limit for index {index.name!r} is {limit}."


def _stage(index: "Index", request: UploadRequest, decision: AuthDecision
           ) -> StagedUpload | None:
    """Parse and check one upload request; None when the identical file is already served.

    Raises :class:`UploadRejected` for anything Warehouse refuses. Only reads the index
    (an identical re-upload is answered before the archive is inspected); the duplicate
    rule is applied again by :meth:`Index.commit` under the index's lock.
    """
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

    stream: HashingFile = content.stream  # type: ignore[assignment]
    if stream.size > index.max_upload_size:
        raise UploadRejected(400, _too_large(index))
    supplied = [(f, algo, form[f].strip().lower()) for f, algo in DIGESTS if form.get(f, "").strip()]
    if not supplied:
        raise UploadRejected(400, "Include at least one message digest (md5_digest, "
                                  "sha256_digest or blake2_256_digest).")
    for field_name, algo, value in supplied:
        if not hmac.compare_digest(value.encode(), stream.hexdigest(algo).encode()):
            raise UploadRejected(400, f"The digest supplied does not match a digest calculated "
                                      f"from the uploaded file ({field_name}).")

    _check_filename(filename, filetype, name, canonical, version)

    sha256 = stream.hexdigest("sha256")
    existing = _existing(index, canonical, filename)
    if existing is not None and existing.sha256 == sha256:
        behaviour = index.behaviour
        if behaviour.refuse_identical and not index.overwrite:  # GitLab, Nexus
            raise UploadRejected(behaviour.duplicate_status_for(
                                     request.headers.get("User-Agent", "")),
                                 f"{behaviour.duplicate_message} ({filename!r})")
        return None

    stream.flush()
    os.fsync(stream.fileno())
    try:
        dist = _inspect_staged(stream, filename, request.limits)
    except ConfigError as exc:
        raise UploadRejected(400, f"Invalid distribution file: {exc}") from None
    if canonicalize_name(dist.name) != canonical:
        raise UploadRejected(400, f"Name in metadata {dist.name!r} does not match the form's "
                                  f"name {name!r}")
    if Version(dist.version) != version:
        raise UploadRejected(400, f"Version in metadata {dist.version!r} does not match the "
                                  f"form's version {version_text!r}")
    stream.close()  # the staging file stays until committed or discarded
    return StagedUpload(
        dist=dist, filename=filename, name=name, project=canonical, version=str(version),
        filetype=filetype, sha256=sha256, user=decision.user,
        fields={k: form.getlist(k) for k in form.keys()},
        user_agent=request.headers.get("User-Agent", ""),
    )


def _dist_key(filename: str) -> tuple[Any, ...] | None:
    """What makes two filenames the same distribution, as Warehouse and clients compare them.

    Wheels: normalised name, version, build tag and the set of tags; so ``Demo-1.0-...whl``
    is ``demo-1.0-...whl`` and ``demo-1.0.0-...whl``. Sdists: normalised name and version
    (Warehouse: one sdist per release) and the archive format. None: not a distribution name.
    """
    try:
        if filename.endswith(".whl"):
            name, version, build, tags = parse_wheel_filename(filename)
            return ("wheel", name, version, build, tags)
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return ("sdist", name, version, filename.endswith(".zip"))
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return None


def _existing(index: "Index", project: str, filename: str) -> "StoredFile | None":
    """The stored file ``filename`` duplicates: the same name, or a variant of it."""
    same = index.file(project, filename)
    if same is not None:
        return same
    key = _dist_key(filename)
    if key is None:
        return None
    for stored in index.files(project):
        if _dist_key(stored.filename) == key:
            return stored
    return None


def _inspect_staged(stream: HashingFile, filename: str, limits: UploadLimits) -> DistFile:
    """Read the staged bytes' metadata under the filename the client gave, within limits."""
    if filename.endswith(".whl"):
        check_zip_directory(stream.path, filename, max_members=limits.max_archive_members)
        _check_wheel_members(stream.path, filename)
    return inspect_dist(stream.path, filename=filename,
                        max_metadata_size=limits.max_metadata_size,
                        max_members=limits.max_archive_members,
                        max_scanned_size=limits.max_scanned_size)


def _check_wheel_members(path: Path, filename: str) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except CORRUPT_ARCHIVE_ERRORS:
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
        _check_wheel_tags(filename)
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


# PEP 427 / the binary distribution format spec: every filename component is escaped, runs
# of other characters become "_"; tags are compressed tag sets joined with ".". packaging's
# parse_wheel_filename does not check the tags' characters (it accepts spaces, ";", "%20",
# "é", U+202E), and a tag is copied into page HTML, JSON and client caches.
_TAG_SET = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*")
_BUILD_TAG = re.compile(r"[0-9][A-Za-z0-9_]*")


def _check_wheel_tags(filename: str) -> None:
    parts = filename[: -len(".whl")].split("-")
    build = parts[2] if len(parts) == 6 else None
    for what, value in zip(("python", "abi", "platform"), parts[-3:]):
        if not _TAG_SET.fullmatch(value):
            raise UploadRejected(400, f"Invalid wheel filename {filename!r}: {what} tag "
                                      f"{value!r} may contain only ASCII letters, digits and "
                                      "'_' ('.' between compressed tags)")
    if build is not None and not _BUILD_TAG.fullmatch(build):
        raise UploadRejected(400, f"Invalid wheel filename {filename!r}: build tag {build!r} "
                                  "must start with a digit and contain only ASCII letters, "
                                  "digits and '_'")
