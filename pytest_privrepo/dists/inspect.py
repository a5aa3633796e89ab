"""Read the facts an index serves about a distribution file from the file itself.

Why: an index fixture is also fed real distributions (downloaded fixtures, wheels a
test built with a real tool) and must serve them exactly as it serves synthetic ones:
name and version for the project page, ``Requires-Python`` for
``data-requires-python``, the core metadata for PEP 658, and the sha256. Taking these
from the metadata inside the file, not just from the filename, and refusing files whose
filename and metadata disagree, catches a mislabelled fixture when it is added rather
than as a baffling client error ("metadata mismatch", "inconsistent version") later.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

from packaging.metadata import ExceptionGroup as MetadataExceptionGroup
from packaging.metadata import Metadata, parse_email
from packaging.utils import (
    InvalidName,
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from ..errors import ConfigError
from .build import DistFile, StrPath

__all__ = [
    "CORRUPT_ARCHIVE_ERRORS",
    "MAX_ARCHIVE_MEMBERS",
    "MAX_METADATA_SIZE",
    "MAX_SCANNED_SIZE",
    "check_zip_directory",
    "inspect_dist",
]

#: Largest METADATA / PKG-INFO read; real ones are kilobytes. Guards against a
#: corrupt or hostile archive making the test process read gigabytes.
MAX_METADATA_SIZE = 16 * 1024 * 1024

#: Most archive members looked at (zip central directory entries, tar members). Big real
#: wheels have a few thousand; each entry costs memory while the archive is open.
MAX_ARCHIVE_MEMBERS = 20_000

#: Most decompressed bytes of a .tar.gz read while looking for PKG-INFO: the whole tar
#: stream is scanned (PKG-INFO may come last), so a gzip bomb would otherwise cost CPU
#: time in proportion to its decompressed size.
MAX_SCANNED_SIZE = 256 * 1024 * 1024

# What the stdlib raises for a corrupt archive (found by tests/test_fuzz.py: a flipped byte
# can surface as any of these from zipfile, tarfile, gzip or zlib).
_CORRUPT_ZIP = (zipfile.BadZipFile, zlib.error, struct.error, EOFError, NotImplementedError,
                ValueError, OSError, KeyError, IndexError, OverflowError)
_CORRUPT_TAR = (tarfile.TarError, zlib.error, struct.error, EOFError, OSError, ValueError,
                KeyError, IndexError, OverflowError)

#: Every exception a corrupt zip or tar can raise from the stdlib readers.
CORRUPT_ARCHIVE_ERRORS = tuple(dict.fromkeys(_CORRUPT_ZIP + _CORRUPT_TAR))

#: Central directory bytes allowed per allowed member: zipfile reads the whole directory
#: into memory before it looks at a single entry.
_CD_BYTES_PER_MEMBER = 256

_DIST_INFO_METADATA = re.compile(r"([^/]+)\.dist-info/METADATA")
_TOP_PKG_INFO = re.compile(r"(?:\./)?([^/]+)/PKG-INFO")


def inspect_dist(path: StrPath, *, strict: bool = False, filename: str | None = None,
                 max_metadata_size: int = MAX_METADATA_SIZE,
                 max_members: int = MAX_ARCHIVE_MEMBERS,
                 max_scanned_size: int = MAX_SCANNED_SIZE) -> DistFile:
    """Describe a wheel (``.whl``) or sdist (``.tar.gz``, ``.zip``) on disk.

    The name and version come from the core metadata (METADATA or PKG-INFO) and must
    agree with the filename after normalisation, else ConfigError. With ``strict`` the
    whole metadata must also pass :class:`packaging.metadata.Metadata` validation;
    that is off by default because many published distributions carry small
    irregularities that clients tolerate and a test index should serve anyway.

    The ``max_*`` bounds keep a hostile archive (an upload) from costing more than a few
    MiB and a second or so: the metadata size, the members looked at, and for a tarball the
    decompressed bytes scanned. Beyond any of them: ConfigError naming the limit.
    """
    limits = _Limits(max_metadata_size, max_members, max_scanned_size)
    path = Path(path)
    # ``filename`` lets an index inspect a staged upload under the name the client gave it
    filename = filename or path.name
    if not path.is_file():
        raise ConfigError(f"no such distribution file: {str(path)!r}")

    if filename.endswith(".whl"):
        filetype = "bdist_wheel"
        try:
            fn_canonical, fn_version, _build, _tags = parse_wheel_filename(filename)
        except InvalidWheelFilename as exc:
            raise ConfigError(f"not a wheel: bad filename {filename!r}: {exc}") from None
        fn_name = filename.split("-", 1)[0]
        metadata = _wheel_metadata(path, fn_canonical, filename, limits)
    elif filename.endswith((".tar.gz", ".zip")):
        filetype = "sdist"
        try:
            fn_canonical, fn_version = parse_sdist_filename(filename)
        except InvalidSdistFilename as exc:
            raise ConfigError(f"not an sdist: bad filename {filename!r}: {exc}") from None
        stem = filename[: -len(".tar.gz")] if filename.endswith(".tar.gz") else filename[:-4]
        fn_name = stem.rpartition("-")[0]
        metadata = _sdist_metadata(path, fn_canonical, filename, limits)
    else:
        raise ConfigError(
            f"unsupported distribution file {filename!r}: expected a .whl, .tar.gz or .zip"
        )

    meta_file = "METADATA" if filetype == "bdist_wheel" else "PKG-INFO"
    raw, _unparsed = parse_email(_header_block(metadata))
    meta_name = raw.get("name")
    meta_version = raw.get("version")
    if not meta_name:
        raise ConfigError(f"no Name in {meta_file} of {filename!r}")
    if not meta_version:
        raise ConfigError(f"no Version in {meta_file} of {filename!r}")
    try:
        meta_canonical = canonicalize_name(meta_name, validate=True)
    except InvalidName:
        raise ConfigError(
            f"invalid project name {meta_name!r} in {meta_file} of {filename!r}"
        ) from None
    try:
        version = Version(meta_version)
    except InvalidVersion as exc:
        raise ConfigError(
            f"malformed version {meta_version!r} for {meta_name!r} in {meta_file} of "
            f"{filename!r}: {exc}"
        ) from None

    if meta_canonical != fn_canonical:
        raise ConfigError(
            f"name in filename {fn_name!r} does not match metadata {meta_name!r} in {filename!r}"
        )
    if version != fn_version:
        raise ConfigError(
            f"version in filename {str(fn_version)!r} does not match metadata "
            f"{meta_version!r} in {filename!r}"
        )
    if strict:
        try:
            Metadata.from_email(metadata, validate=True)
        except MetadataExceptionGroup as exc:
            problems = "; ".join(str(e) for e in exc.exceptions)
            raise ConfigError(f"invalid {meta_file} in {filename!r}: {problems}") from None

    requires_python = raw.get("requires_python")
    sha256, size = _hash_file(path)
    return DistFile(
        path=path,
        filename=filename,
        name=meta_name,
        version=str(version),
        filetype=filetype,
        requires_python=requires_python.strip() if requires_python else None,
        metadata=metadata,
        sha256=sha256,
        size=size,
    )


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _pick(candidates: dict[str, str], canonical: str, what: str, filename: str) -> str:
    """Choose the archive member holding the metadata.

    ``candidates`` maps member name to the directory it sits in. One candidate is taken
    as is (its name is then checked against the metadata); with several, the one whose
    directory names this project wins, so stray vendored metadata does not confuse us.
    """
    if len(candidates) == 1:
        return next(iter(candidates))
    matching = [
        member for member, directory in candidates.items() if _dir_canonical(directory) == canonical
    ]
    if len(matching) == 1:
        return matching[0]
    raise ConfigError(f"several {what} in {filename!r}: {sorted(candidates)}")


def _dir_canonical(directory: str) -> str:
    # "{name}-{version}" (version has no "-"), tolerant of odd spellings.
    name = directory.rpartition("-")[0] or directory
    return canonicalize_name(name)


class _Limits:
    __slots__ = ("metadata", "members", "scanned")

    def __init__(self, metadata: int, members: int, scanned: int) -> None:
        self.metadata, self.members, self.scanned = metadata, members, scanned


def _header_block(metadata: bytes) -> bytes:
    """The header fields of a core metadata file, without the description body.

    Name, Version and Requires-Python are headers; the body is the README, and parsing it
    with the email parser costs about seven times its size in memory.
    """
    ends = [i for i in (metadata.find(b"\n\n"), metadata.find(b"\r\n\r\n")) if i >= 0]
    return metadata[: min(ends)] + b"\n\n" if ends else metadata


def check_zip_directory(path: StrPath, filename: str, *,
                        max_members: int = MAX_ARCHIVE_MEMBERS) -> None:
    """ConfigError if the zip at ``path`` has more than ``max_members`` entries (or a
    central directory too big for that many): call it before opening the zip with zipfile."""
    _check_zip_directory(Path(path), filename,
                         _Limits(MAX_METADATA_SIZE, max_members, MAX_SCANNED_SIZE))


def _check_zip_directory(path: Path, filename: str, limits: _Limits) -> None:
    """Count the central directory entries before zipfile builds one object per entry.

    zipfile reads the whole directory (its size comes from the end record) into memory and
    parses every entry; its entry count is not used, so the walk here counts for itself.
    An archive that cannot be read this way is left to zipfile to refuse.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        tail_len = min(size, 22 + 65535)
        fh.seek(size - tail_len)
        tail = fh.read(tail_len)
        pos = tail.rfind(b"PK\x05\x06")
        if pos < 0 or len(tail) - pos < 22:
            return
        cd_size = int.from_bytes(tail[pos + 12: pos + 16], "little")
        eocd = size - tail_len + pos
        start = eocd - cd_size
        if cd_size == 0xFFFFFFFF or tail[pos + 10: pos + 12] == b"\xff\xff":
            loc = eocd - 20
            if loc < 0:
                return
            fh.seek(loc)
            locator = fh.read(20)
            if locator[:4] != b"PK\x06\x07":
                return
            fh.seek(eocd - 20 - 56)
            record = fh.read(56)
            if record[:4] != b"PK\x06\x06":
                return
            cd_size = int.from_bytes(record[40:48], "little")
            start = eocd - 20 - 56 - cd_size
        if cd_size > limits.members * _CD_BYTES_PER_MEMBER:
            raise ConfigError(f"{filename!r} has a zip central directory of {cd_size} bytes, "
                              f"more than the {limits.members * _CD_BYTES_PER_MEMBER} allowed "
                              f"for {limits.members} members")
        if start < 0:
            return
        fh.seek(start)
        directory = fh.read(cd_size)
    count = 0
    offset = 0
    while offset + 46 <= len(directory) and directory[offset: offset + 4] == b"PK\x01\x02":
        count += 1
        if count > limits.members:
            raise ConfigError(f"{filename!r} has more than {limits.members} archive members")
        n, m, k = (int.from_bytes(directory[offset + i: offset + i + 2], "little")
                   for i in (28, 30, 32))
        offset += 46 + n + m + k


def _wheel_metadata(path: Path, canonical: str, filename: str, limits: _Limits) -> bytes:
    return _zip_metadata(path, canonical, filename, limits, _DIST_INFO_METADATA, "METADATA",
                         "*.dist-info/METADATA", ".dist-info/METADATA files", "a wheel")


def _zip_metadata(path: Path, canonical: str, filename: str, limits: _Limits,
                  pattern: re.Pattern[str], what: str, where: str, plural: str,
                  kind: str) -> bytes:
    """The one member matching ``pattern`` (a wheel's METADATA, a zip sdist's PKG-INFO),
    after the central directory passed its bounds and the member its size limit."""
    _check_zip_directory(path, filename, limits)
    try:
        with zipfile.ZipFile(path) as zf:
            candidates = {}
            for info in zf.infolist():
                m = pattern.fullmatch(info.filename)
                if m and not info.is_dir():
                    candidates[info.filename] = m.group(1)
            if not candidates:
                raise ConfigError(f"no {what} in {filename!r}: no top-level {where}")
            member = _pick(candidates, canonical, plural, filename)
            _check_metadata_size(zf.getinfo(member).file_size, what, filename, limits)
            return zf.read(member)
    except ConfigError:
        raise
    except _CORRUPT_ZIP as exc:
        raise ConfigError(f"not {kind}: {filename!r} is not a valid zip archive: {exc}") from None


def _check_metadata_size(size: int, what: str, filename: str, limits: _Limits) -> None:
    if size > limits.metadata:
        raise ConfigError(f"{what} in {filename!r} is {size} bytes, more than the "
                          f"{limits.metadata} allowed")


class _BoundedStream:
    """The decompressed tar stream, refusing to go past ``limit`` bytes.

    Seeks forward (tarfile skipping member data) decompress and discard, so they are
    counted like reads; one read is also bounded, since tarfile reads a PAX or GNU long-name
    header in one piece of the size the header claims.
    """

    def __init__(self, raw: Any, filename: str, limits: _Limits) -> None:
        self._raw = raw
        self._filename = filename
        self._limits = limits

    def _check(self, end: int) -> None:
        if end > self._limits.scanned:
            raise ConfigError(f"{self._filename!r} decompresses to more than the "
                              f"{self._limits.scanned} bytes scanned for PKG-INFO")

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > self._limits.metadata + 1024 * 1024:
            raise ConfigError(f"{self._filename!r} has a tar header or member too large to read")
        self._check(self._raw.tell() + size)
        return self._raw.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            self._check(offset)
        elif whence == 1:
            self._check(self._raw.tell() + offset)
        else:
            raise ConfigError(f"{self._filename!r}: cannot scan from the end of a tarball")
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()


def _sdist_metadata(path: Path, canonical: str, filename: str, limits: _Limits) -> bytes:
    if filename.endswith(".zip"):
        return _zip_metadata(path, canonical, filename, limits, _TOP_PKG_INFO, "PKG-INFO",
                             "*/PKG-INFO", "top-level PKG-INFO files", "an sdist")
    try:
        with gzip.open(path, "rb") as gz:
            stream = _BoundedStream(gz, filename, limits)
            with tarfile.open(fileobj=stream, mode="r:") as tf:  # type: ignore[call-overload]
                return _scan_tar(tf, canonical, filename, limits)
    except ConfigError:
        raise
    except _CORRUPT_TAR as exc:
        # gzip.BadGzipFile is an OSError; a truncated stream is an EOFError.
        raise ConfigError(f"not an sdist: {filename!r} is not a valid .tar.gz: {exc}") from None


def _scan_tar(tf: tarfile.TarFile, canonical: str, filename: str, limits: _Limits) -> bytes:
    """One pass over the members; each candidate PKG-INFO is read when it is reached (the
    stream is only read forward) and only member headers are kept, one at a time."""
    contents: dict[str, bytes] = {}
    candidates: dict[str, str] = {}
    count = 0
    while True:
        tinfo = tf.next()
        if tinfo is None:
            break
        # tarfile keeps every header it saw; only the current one matters. ``members`` is
        # TarFile's public list (CPython's tarfile.py) but typeshed does not declare it.
        tf.members.clear()  # type: ignore[attr-defined]
        count += 1
        if count > limits.members:
            raise ConfigError(f"{filename!r} has more than {limits.members} archive members")
        if tinfo.offset_data + max(tinfo.size, 0) > limits.scanned:
            raise ConfigError(f"{filename!r} decompresses to more than the {limits.scanned} "
                              "bytes scanned for PKG-INFO")
        m = _TOP_PKG_INFO.fullmatch(tinfo.name)
        if m and tinfo.isfile():
            candidates[tinfo.name] = m.group(1)
            if len(candidates) > 16:
                raise ConfigError(f"more than 16 top-level PKG-INFO files in {filename!r}")
            _check_metadata_size(tinfo.size, "PKG-INFO", filename, limits)
            fh = tf.extractfile(tinfo)
            assert fh is not None  # a regular file always has contents
            contents[tinfo.name] = fh.read()
    if not candidates:
        raise ConfigError(f"no PKG-INFO in {filename!r}: no top-level */PKG-INFO")
    return contents[_pick(candidates, canonical, "top-level PKG-INFO files", filename)]
