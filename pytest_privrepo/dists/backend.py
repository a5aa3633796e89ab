"""A tiny PEP 517 build backend that is copied, as text, into every synthetic sdist.

Why this exists: an sdist is only useful in a test if a real client (pip, uv, ...) can
build it. Real backends (setuptools, hatchling, ...) would have to be fetched from an
index during build isolation, which would make every sdist test depend on a second
index, the network, or a pre-seeded cache. Instead each sdist carries this file as
``_backend/privrepo_backend.py`` and its ``pyproject.toml`` says::

    [build-system]
    requires = []
    build-backend = "privrepo_backend"
    backend-path = ["_backend"]

so the build needs nothing but the standard library of whatever interpreter the client
uses, and installs offline.

Why it is a real module and not a string constant: :mod:`pytest_privrepo.dists.build`
imports :func:`wheel_bytes` and :func:`sdist_bytes` from here, so a wheel built by
``build_wheel()`` and a wheel the client builds from the sdist come out of the *same*
code and are byte-identical (the tests check this). The text embedded into sdists is this
file's own source, returned by :func:`backend_source`.

Rules for editing this file:

* standard library only, and keep it working on Python 3.7+ (no ``match``, no walrus,
  no PEP 604 unions evaluated at run time): it runs under whatever Python the client
  under test uses, and a wheel built by it on 3.7 is byte-identical to one built here;
* every change changes the bytes (and so the sha256) of every synthetic sdist, and a
  change to :func:`wheel_bytes` or :func:`sdist_bytes` also changes every wheel: bump
  :data:`FORMAT_VERSION` when output changes on purpose.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os
import tarfile
import zipfile
from email.parser import BytesParser

__all__ = [
    "BACKEND_DIR",
    "BACKEND_MODULE",
    "EPOCH",
    "FORMAT_VERSION",
    "GENERATOR",
    "ZIP_DATE_TIME",
    "backend_source",
    "build_sdist",
    "build_wheel",
    "dist_stem",
    "expand_tag",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "import_name",
    "is_purelib_tag",
    "prepare_metadata_for_build_wheel",
    "sdist_bytes",
    "wheel_bytes",
    "wheel_file",
]

#: Version of the synthetic file layout; part of the WHEEL ``Generator`` line so that a
#: change of bytes is visible in the files themselves.
FORMAT_VERSION = 1

#: ``Generator:`` value of WHEEL files. Deliberately not the package version: the bytes
#: (and thus lock-file hashes) must not change with every release of the plugin.
GENERATOR = f"pytest-privrepo (dists format {FORMAT_VERSION})"

#: Timestamp of every archive member: 1980-01-01T00:00:00Z, the earliest a zip can hold,
#: used for tar members too so that tools that re-zip extracted files never see mtime 0.
EPOCH = 315532800
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)

#: Module name and directory of the backend inside an sdist (see ``pyproject.toml``).
BACKEND_MODULE = "privrepo_backend"
BACKEND_DIR = "_backend"

_FILE_MODE = 0o644
_DIR_MODE = 0o755
_ZIP_LEVEL = 6
_GZIP_LEVEL = 9


def backend_source() -> str:
    """Return the text of this module, which is what sdists embed as their backend.

    Read from the file (not kept as a second copy in a string) so there is exactly one
    implementation to keep correct. Newlines are normalised to ``\\n`` so a checkout
    with CRLF line endings still produces the same sdist bytes.
    """
    path = os.path.abspath(__file__)
    if path.endswith((".pyc", ".pyo")):  # pragma: no cover - sourceless installs
        raise RuntimeError(f"pytest-privrepo needs the source of {path} to build sdists")
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def import_name(canonical_name: str) -> str:
    """Import (package directory) name for a canonical project name: ``-`` -> ``_``."""
    return canonical_name.replace("-", "_")


def dist_stem(canonical_name: str, version: str) -> str:
    """``{name}-{version}`` as used by wheel/sdist filenames and the ``.dist-info`` dir.

    Per the binary distribution spec, the name is the canonical name with ``-`` replaced
    by ``_``; a normalised version contains no ``-``.
    """
    return f"{import_name(canonical_name)}-{version}"


def expand_tag(tag: str) -> list[str]:
    """Expand a compressed tag set (``py2.py3-none-any``) into WHEEL ``Tag:`` values.

    Order follows the input (not a set) so the WHEEL file is deterministic.
    """
    interpreters, abis, platforms = tag.split("-")
    return [
        f"{i}-{a}-{p}"
        for i in interpreters.split(".")
        for a in abis.split(".")
        for p in platforms.split(".")
    ]


def is_purelib_tag(tag: str) -> bool:
    """``Root-Is-Purelib`` is true only for pure-Python tags (``py*-none-any``)."""
    interpreters, abis, platforms = tag.split("-")
    return (
        all(i.startswith("py") for i in interpreters.split("."))
        and abis == "none"
        and platforms == "any"
    )


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _zip_info(name: str) -> zipfile.ZipInfo:
    # Everything that could vary between machines or runs is pinned here.
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
    info.create_system = 3  # unix, so external_attr carries the mode everywhere
    info.external_attr = (0o100000 | _FILE_MODE) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def wheel_file(tag: str) -> bytes:
    """The ``.dist-info/WHEEL`` file for a (possibly compressed) tag set."""
    lines = [
        "Wheel-Version: 1.0",
        "Generator: " + GENERATOR,
        "Root-Is-Purelib: " + ("true" if is_purelib_tag(tag) else "false"),
    ]
    lines.extend("Tag: " + t for t in expand_tag(tag))
    return ("\n".join(lines) + "\n").encode("utf-8")


def wheel_bytes(stem: str, files: dict[str, bytes], metadata: bytes, tag: str) -> bytes:
    """Return the bytes of a wheel holding ``files`` plus a complete ``.dist-info``.

    ``stem`` is :func:`dist_stem`; ``files`` maps archive paths (``/``-separated) to
    contents; ``metadata`` is the METADATA file. The WHEEL and RECORD files are made
    here. Entries are sorted with the ``.dist-info`` directory last and RECORD at the
    very end, as the wheel spec recommends, and written with fixed timestamps and modes
    so equal inputs give equal bytes.
    """
    dist_info = stem + ".dist-info"
    entries = sorted(files.items())
    entries.append((dist_info + "/METADATA", metadata))
    entries.append((dist_info + "/WHEEL", wheel_file(tag)))
    record_path = dist_info + "/RECORD"

    record = io.StringIO()
    for path, data in entries:
        record.write(f"{path},{_record_hash(data)},{len(data)}\n")
    record.write(record_path + ",,\n")
    entries.append((record_path, record.getvalue().encode("utf-8")))

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path, data in entries:
            zf.writestr(_zip_info(path), data, compresslevel=_ZIP_LEVEL)
    return buf.getvalue()


def _tar_info(name: str, size: int, is_dir: bool) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = EPOCH
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if is_dir:
        info.type = tarfile.DIRTYPE
        info.mode = _DIR_MODE
    else:
        info.type = tarfile.REGTYPE
        info.mode = _FILE_MODE
        info.size = size
    return info


def sdist_bytes(stem: str, files: dict[str, bytes]) -> bytes:
    """Return the bytes of a ``.tar.gz`` sdist with ``files`` under the top dir ``stem``.

    Directory entries are added for every parent, all entries are sorted, and owner,
    modes and mtimes are fixed. The gzip header carries mtime 0 and no file name, so the
    bytes do not depend on when or where the sdist was written.
    """
    members: dict[str, bytes | None] = {stem: None}
    for rel, data in files.items():
        path = stem + "/" + rel
        members[path] = data
        parent = path.rsplit("/", 1)[0]
        while parent not in members:
            members[parent] = None
            parent = parent.rsplit("/", 1)[0]

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for path in sorted(members):
            content = members[path]
            if content is None:
                tf.addfile(_tar_info(path, 0, True))
            else:
                tf.addfile(_tar_info(path, len(content), False), io.BytesIO(content))

    out = io.BytesIO()
    with gzip.GzipFile(
        filename="", mode="wb", fileobj=out, mtime=0, compresslevel=_GZIP_LEVEL
    ) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


# --------------------------------------------------------------------------- PEP 517
# The hooks below run inside the unpacked sdist (PEP 517: the working directory is the
# source tree). All metadata comes from PKG-INFO, which build.py wrote from validated
# input, so nothing needs re-validating here and METADATA is PKG-INFO verbatim.

_WHEEL_TAG = "py3-none-any"


def _canonicalize(name: str) -> str:
    # Same rule as packaging.utils.canonicalize_name, without importing packaging.
    out = []
    prev_sep = False
    for ch in name.lower():
        if ch in "-_.":
            if not prev_sep:
                out.append("-")
            prev_sep = True
        else:
            out.append(ch)
            prev_sep = False
    return "".join(out)


def _source_info(source_dir: str) -> tuple[bytes, str, str]:
    with open(os.path.join(source_dir, "PKG-INFO"), "rb") as fh:
        pkg_info = fh.read()
    headers = BytesParser().parsebytes(pkg_info, headersonly=True)
    name, version = headers["Name"], headers["Version"]
    if not name or not version:
        raise RuntimeError(f"PKG-INFO in {source_dir} lacks Name or Version")
    return pkg_info, _canonicalize(str(name).strip()), str(version).strip()


def _read_tree(source_dir: str, rel_top: str) -> dict[str, bytes]:
    """Files under ``source_dir/rel_top`` keyed by ``/``-separated relative path.

    Byte-code caches are skipped: importing this backend (or a test importing the
    package from the source tree) may have created them, and they must not leak into
    what is built.
    """
    found: dict[str, bytes] = {}
    top = os.path.join(source_dir, rel_top)
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for fname in filenames:
            if fname.endswith((".pyc", ".pyo")):
                continue
            full = os.path.join(dirpath, fname)
            rel = os.path.relpath(full, source_dir).replace(os.sep, "/")
            with open(full, "rb") as fh:
                found[rel] = fh.read()
    return found


def get_requires_for_build_wheel(config_settings: dict[str, object] | None = None) -> list[str]:
    """Nothing to install: the backend is stdlib only (keeps builds offline)."""
    return []


def get_requires_for_build_sdist(config_settings: dict[str, object] | None = None) -> list[str]:
    """Nothing to install: the backend is stdlib only (keeps builds offline)."""
    return []


def prepare_metadata_for_build_wheel(
    metadata_directory: str, config_settings: dict[str, object] | None = None
) -> str:
    """Write ``{stem}.dist-info/{METADATA,WHEEL}`` so a resolver need not build a wheel."""
    pkg_info, canonical, version = _source_info(".")
    stem = dist_stem(canonical, version)
    dist_info = stem + ".dist-info"
    target = os.path.join(metadata_directory, dist_info)
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(target, "METADATA"), "wb") as fh:
        fh.write(pkg_info)
    with open(os.path.join(target, "WHEEL"), "wb") as fh:
        fh.write(wheel_file(_WHEEL_TAG))
    return dist_info


def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, object] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """Build the same ``py3-none-any`` wheel that ``dists.build_wheel()`` would."""
    pkg_info, canonical, version = _source_info(".")
    stem = dist_stem(canonical, version)
    files = _read_tree(".", import_name(canonical))
    filename = f"{stem}-{_WHEEL_TAG}.whl"
    data = wheel_bytes(stem, files, pkg_info, _WHEEL_TAG)
    os.makedirs(wheel_directory, exist_ok=True)
    with open(os.path.join(wheel_directory, filename), "wb") as fh:
        fh.write(data)
    return filename


def build_sdist(sdist_directory: str, config_settings: dict[str, object] | None = None) -> str:
    """Rebuild the sdist from its own tree (byte-identical to the one it came from)."""
    pkg_info, canonical, version = _source_info(".")
    stem = dist_stem(canonical, version)
    files = {"PKG-INFO": pkg_info}
    with open("pyproject.toml", "rb") as fh:
        files["pyproject.toml"] = fh.read()
    files.update(_read_tree(".", BACKEND_DIR))
    files.update(_read_tree(".", import_name(canonical)))
    filename = stem + ".tar.gz"
    os.makedirs(sdist_directory, exist_ok=True)
    with open(os.path.join(sdist_directory, filename), "wb") as fh:
        fh.write(sdist_bytes(stem, files))
    return filename
