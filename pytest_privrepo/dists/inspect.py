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

import hashlib
import re
import tarfile
import zipfile
from pathlib import Path

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

__all__ = ["MAX_METADATA_SIZE", "inspect_dist"]

#: Largest METADATA / PKG-INFO read; real ones are kilobytes. Guards against a
#: corrupt or hostile archive making the test process read gigabytes.
MAX_METADATA_SIZE = 16 * 1024 * 1024

_DIST_INFO_METADATA = re.compile(r"([^/]+)\.dist-info/METADATA")
_TOP_PKG_INFO = re.compile(r"(?:\./)?([^/]+)/PKG-INFO")


def inspect_dist(path: StrPath, *, strict: bool = False, filename: str | None = None) -> DistFile:
    """Describe a wheel (``.whl``) or sdist (``.tar.gz``, ``.zip``) on disk.

    The name and version come from the core metadata (METADATA or PKG-INFO) and must
    agree with the filename after normalisation, else ConfigError. With ``strict`` the
    whole metadata must also pass :class:`packaging.metadata.Metadata` validation;
    that is off by default because many published distributions carry small
    irregularities that clients tolerate and a test index should serve anyway.
    """
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
        metadata = _wheel_metadata(path, fn_canonical, filename)
    elif filename.endswith((".tar.gz", ".zip")):
        filetype = "sdist"
        try:
            fn_canonical, fn_version = parse_sdist_filename(filename)
        except InvalidSdistFilename as exc:
            raise ConfigError(f"not an sdist: bad filename {filename!r}: {exc}") from None
        stem = filename[: -len(".tar.gz")] if filename.endswith(".tar.gz") else filename[:-4]
        fn_name = stem.rpartition("-")[0]
        metadata = _sdist_metadata(path, fn_canonical, filename)
    else:
        raise ConfigError(
            f"unsupported distribution file {filename!r}: expected a .whl, .tar.gz or .zip"
        )

    meta_file = "METADATA" if filetype == "bdist_wheel" else "PKG-INFO"
    raw, _unparsed = parse_email(metadata)
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


def _wheel_metadata(path: Path, canonical: str, filename: str) -> bytes:
    try:
        with zipfile.ZipFile(path) as zf:
            candidates = {}
            for info in zf.infolist():
                m = _DIST_INFO_METADATA.fullmatch(info.filename)
                if m:
                    candidates[info.filename] = m.group(1)
            if not candidates:
                raise ConfigError(f"no METADATA in {filename!r}: no top-level *.dist-info/METADATA")
            member = _pick(candidates, canonical, ".dist-info/METADATA files", filename)
            if zf.getinfo(member).file_size > MAX_METADATA_SIZE:
                raise ConfigError(f"METADATA in {filename!r} is implausibly large")
            return zf.read(member)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ConfigError(f"not a wheel: {filename!r} is not a valid zip archive: {exc}") from None


def _sdist_metadata(path: Path, canonical: str, filename: str) -> bytes:
    if filename.endswith(".zip"):
        try:
            with zipfile.ZipFile(path) as zf:
                zcandidates = {}
                for zinfo in zf.infolist():
                    m = _TOP_PKG_INFO.fullmatch(zinfo.filename)
                    if m and not zinfo.is_dir():
                        zcandidates[zinfo.filename] = m.group(1)
                if not zcandidates:
                    raise ConfigError(f"no PKG-INFO in {filename!r}: no top-level */PKG-INFO")
                member = _pick(zcandidates, canonical, "top-level PKG-INFO files", filename)
                if zf.getinfo(member).file_size > MAX_METADATA_SIZE:
                    raise ConfigError(f"PKG-INFO in {filename!r} is implausibly large")
                return zf.read(member)
        except (zipfile.BadZipFile, EOFError) as exc:
            raise ConfigError(
                f"not an sdist: {filename!r} is not a valid zip archive: {exc}"
            ) from None
    try:
        with tarfile.open(path, "r:gz") as tf:
            members: dict[str, tarfile.TarInfo] = {}
            candidates = {}
            for tinfo in tf:
                m = _TOP_PKG_INFO.fullmatch(tinfo.name)
                if m and tinfo.isfile():
                    candidates[tinfo.name] = m.group(1)
                    members[tinfo.name] = tinfo
            if not candidates:
                raise ConfigError(f"no PKG-INFO in {filename!r}: no top-level */PKG-INFO")
            chosen = members[_pick(candidates, canonical, "top-level PKG-INFO files", filename)]
            if chosen.size > MAX_METADATA_SIZE:
                raise ConfigError(f"PKG-INFO in {filename!r} is implausibly large")
            fh = tf.extractfile(chosen)
            assert fh is not None  # a regular file always has contents
            return fh.read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        # gzip.BadGzipFile is an OSError; a truncated stream is an EOFError.
        raise ConfigError(f"not an sdist: {filename!r} is not a valid .tar.gz: {exc}") from None
