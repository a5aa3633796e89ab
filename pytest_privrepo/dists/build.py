"""Synthetic wheels and sdists for tests, built in-process and deterministically.

Why synthetic: a test of an index (or of a client against it) needs many distributions
with chosen names, versions, dependencies, ``Requires-Python`` and tags, and it needs
them fast and offline. Building them with a real build tool would be slow and need the
network; checking them into the repo would freeze the cases a test can express.

Why deterministic: lock files (pip ``--require-hashes``, uv, poetry, ...) pin sha256
hashes. Equal inputs therefore must give byte-identical files on every run and every
machine, so that a test can compute an expected hash up front, build the same
distribution in two processes, or rebuild it after a server restart. Every timestamp,
mode, owner and ordering in the archives is fixed (see :mod:`.backend`, which holds the
archive writers shared with the in-sdist build backend).

Every input is validated with :mod:`packaging` and a bad one raises
:class:`~pytest_privrepo.errors.ConfigError` naming the problem, because a typo in a
test's distribution spec should fail at the line that made it, not as a confusing
resolver error from a client much later.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from packaging.markers import Marker
from packaging.metadata import ExceptionGroup as MetadataExceptionGroup
from packaging.metadata import Metadata
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, parse_tag
from packaging.utils import InvalidName, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from ..errors import ConfigError
from . import backend

__all__ = [
    "DEFAULT_TAG",
    "DistFile",
    "DistKind",
    "build_dists",
    "build_sdist",
    "build_wheel",
    "sdist_filename",
    "wheel_filename",
]

#: The tag of a pure-Python wheel; also what the in-sdist backend builds.
DEFAULT_TAG = "py3-none-any"

DistKind = Literal["wheel", "sdist", "both"]

StrPath = str | os.PathLike[str]


@dataclass(frozen=True)
class DistFile:
    """One distribution file on disk and the facts an index needs to serve it.

    Both the builders and :func:`~pytest_privrepo.dists.inspect.inspect_dist` return
    this, so a server can treat synthetic and real distributions alike; for a
    synthetic file ``inspect_dist(d.path) == d``.
    """

    path: Path
    filename: str
    name: str
    """Project name as written in the metadata (not normalised)."""
    version: str
    """Normalised version, ``str(Version(v))``."""
    filetype: str
    """``"bdist_wheel"`` or ``"sdist"``, the values of the upload API's ``filetype``."""
    requires_python: str | None
    metadata: bytes | None = field(repr=False)
    """Core metadata: the wheel's METADATA or the sdist's PKG-INFO (None if absent)."""
    sha256: str
    size: int

    @property
    def canonical_name(self) -> str:
        """The PEP 503 normalised name, the key of the project's index page."""
        return canonicalize_name(self.name)

    @property
    def is_wheel(self) -> bool:
        """True for ``.whl`` files (which have tags and a ``pyversion``), False for sdists."""
        return self.filetype == "bdist_wheel"

    @property
    def pyversion(self) -> str:
        """Upload API ``pyversion``: the wheel's python tag (``py3``) or ``"source"``."""
        if not self.is_wheel:
            return "source"
        return self.filename[:-4].split("-")[-3]

    @property
    def tags(self) -> frozenset[Tag]:
        """The wheel's expanded tags; empty for an sdist."""
        if not self.is_wheel:
            return frozenset()
        return parse_wheel_filename(self.filename)[3]

    @property
    def metadata_sha256(self) -> str | None:
        """sha256 of :attr:`metadata`, for PEP 658/714 ``data-core-metadata`` attributes."""
        if self.metadata is None:
            return None
        return hashlib.sha256(self.metadata).hexdigest()

    @property
    def url_fragment(self) -> str:
        """``sha256=<hex>``, the hash fragment a simple index appends to file URLs."""
        return "sha256=" + self.sha256


# ----------------------------------------------------------------------- validation


@dataclass(frozen=True)
class _Spec:
    name: str
    canonical: str
    version: str
    requires: tuple[str, ...]
    requires_python: str | None
    extras: tuple[tuple[str, tuple[str, ...]], ...]
    summary: str | None

    @property
    def stem(self) -> str:
        return backend.dist_stem(self.canonical, self.version)

    @property
    def package(self) -> str:
        return backend.import_name(self.canonical)


# The checks below are cached: test suites build the same names and requirements over
# and over, and Requirement parsing dominates the cost of a small wheel otherwise.


def _check_name(name: str) -> str:
    if not isinstance(name, str):
        raise ConfigError(f"project name must be a str, not {type(name).__name__}: {name!r}")
    return _canonical_name(name)


@functools.lru_cache(maxsize=4096)
def _canonical_name(name: str) -> str:
    try:
        return canonicalize_name(name, validate=True)
    except InvalidName:
        raise ConfigError(
            f"invalid project name {name!r}: a name is ASCII letters, digits, '.', '_' "
            "and '-', starting and ending with a letter or digit (PEP 508)"
        ) from None


def _check_version(version: str | Version, name: str) -> str:
    if isinstance(version, Version):
        return str(version)
    if not isinstance(version, str):
        raise ConfigError(
            f"malformed version {version!r} for {name!r}: must be a str, "
            f"not {type(version).__name__}"
        )
    return _normal_version(version, name)


@functools.lru_cache(maxsize=4096)
def _normal_version(version: str, name: str) -> str:
    try:
        return str(Version(version))
    except InvalidVersion as exc:
        raise ConfigError(f"malformed version {version!r} for {name!r}: {exc}") from None


@functools.lru_cache(maxsize=4096)
def _check_requirement(req: str, name: str) -> str:
    """The requirement in packaging's normalised spelling (as METADATA will hold it)."""
    try:
        return str(Requirement(req))
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0]
        raise ConfigError(f"bad requirement {req!r} for {name!r}: {reason}") from None


def _check_requires(reqs: Sequence[str] | str, name: str, what: str) -> tuple[str, ...]:
    """Parse and normalise requirement strings (``what`` names the list in errors)."""
    # A lone string is taken as one requirement rather than iterated char by char.
    items = (reqs,) if isinstance(reqs, str) else tuple(reqs)
    out = []
    for req in items:
        if not isinstance(req, str):
            raise ConfigError(
                f"bad requirement {req!r} in {what}: must be a PEP 508 string, "
                f"not {type(req).__name__}"
            )
        out.append(_check_requirement(req, name))
    return tuple(out)


@functools.lru_cache(maxsize=1024)
def _check_requires_python(spec: str, name: str) -> str:
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(
            f"bad requires_python {spec!r} for {name!r}: give a specifier such as '>=3.9', "
            "or None for no constraint"
        )
    try:
        return str(SpecifierSet(spec))
    except InvalidSpecifier as exc:
        raise ConfigError(f"bad requires_python {spec!r} for {name!r}: {exc}") from None


def _check_extras(
    extras: Mapping[str, Sequence[str]] | None, name: str
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not extras:
        return ()
    if not isinstance(extras, Mapping):
        raise ConfigError(
            f"extras for {name!r} must be a mapping of extra name to requirements, "
            f"not {type(extras).__name__}"
        )
    out: dict[str, tuple[str, ...]] = {}
    for extra, reqs in extras.items():
        try:
            # PEP 685: extras are compared, and written, in normalised form.
            norm = canonicalize_name(extra, validate=True)
        except (InvalidName, TypeError, AttributeError):
            raise ConfigError(
                f"bad extra name {extra!r} for {name!r}: an extra is a valid PEP 508 name"
            ) from None
        if norm in out:
            raise ConfigError(
                f"duplicate extra {extra!r} for {name!r}: normalises to {norm!r} like another"
            )
        out[norm] = _check_requires(reqs, name, f"extra {norm!r} of {name!r}")
    return tuple(out.items())


def _check_summary(summary: str | None, name: str) -> str | None:
    if summary is None:
        return None
    if not isinstance(summary, str) or "\n" in summary or "\r" in summary:
        raise ConfigError(f"bad summary {summary!r} for {name!r}: must be a single line")
    return summary.strip() or None


_TAG_PART = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)*")


@functools.lru_cache(maxsize=256)
def _check_tag(tag: str) -> str:
    """Validate a (compressed) wheel tag and return it lower-cased, order kept."""
    if not isinstance(tag, str):
        raise ConfigError(f"bad wheel tag {tag!r}: must be a str like 'py3-none-any'")
    lowered = tag.lower()
    try:
        parse_tag(lowered)
    except ValueError as exc:  # packaging.tags.InvalidTag is a ValueError
        raise ConfigError(f"bad wheel tag {tag!r}: {exc}") from None
    if not all(_TAG_PART.fullmatch(part) for part in lowered.split("-")):
        raise ConfigError(
            f"bad wheel tag {tag!r}: each of interpreter-abi-platform is letters, digits "
            "and '_', several joined by '.'"
        )
    return lowered


def _spec(
    name: str,
    version: str,
    requires: Sequence[str] | str,
    requires_python: str | None,
    extras: Mapping[str, Sequence[str]] | None,
    summary: str | None,
) -> _Spec:
    canonical = _check_name(name)
    return _Spec(
        name=name,
        canonical=canonical,
        version=_check_version(version, name),
        requires=_check_requires(requires, name, f"requires of {name!r}"),
        requires_python=(
            None if requires_python is None else _check_requires_python(requires_python, name)
        ),
        extras=_check_extras(extras, name),
        summary=_check_summary(summary, name),
    )


# ------------------------------------------------------------------------ rendering


def _with_extra(req: str, extra: str) -> str:
    """``req`` restricted to ``extra``, ANDed with any marker it already has.

    packaging parenthesises the existing marker, so ``a; x or y`` becomes
    ``a; (x or y) and extra == "e"`` and not the wrong ``x or y and extra == "e"``.
    """
    parsed = Requirement(req)
    extra_marker = f'extra == "{extra}"'
    if parsed.marker is None:
        parsed.marker = Marker(extra_marker)
    else:
        parsed.marker = Marker(f"({parsed.marker}) and {extra_marker}")
    return str(parsed)


def _render_metadata(spec: _Spec) -> bytes:
    head, tail = _metadata_parts(
        spec.name, spec.summary, spec.requires_python, spec.requires, spec.extras
    )
    return head + f"Version: {spec.version}\n".encode("ascii") + tail


@functools.lru_cache(maxsize=4096)
def _metadata_parts(
    name: str,
    summary: str | None,
    requires_python: str | None,
    requires: tuple[str, ...],
    extras: tuple[tuple[str, tuple[str, ...]], ...],
) -> tuple[bytes, bytes]:
    """METADATA before and after the ``Version:`` line, validated once per shape.

    Split out and cached because tests typically build many versions of one project
    with the same dependencies, and re-validating identical metadata dominated the
    cost of a wheel (the version itself was already validated on its own).
    """
    head = ["Metadata-Version: 2.1", f"Name: {name}"]
    tail = []
    if summary is not None:
        tail.append(f"Summary: {summary}")
    if requires_python is not None:
        tail.append(f"Requires-Python: {requires_python}")
    tail.extend(f"Requires-Dist: {req}" for req in requires)
    for extra, reqs in extras:
        tail.append(f"Provides-Extra: {extra}")
        tail.extend(f"Requires-Dist: {_with_extra(req, extra)}" for req in reqs)
    head_bytes = "".join(line + "\n" for line in head).encode("utf-8")
    tail_bytes = "".join(line + "\n" for line in tail).encode("utf-8")
    # Belt and braces: the inputs were checked one by one, but this is what clients parse.
    try:
        Metadata.from_email(head_bytes + b"Version: 0\n" + tail_bytes, validate=True)
    except MetadataExceptionGroup as exc:
        problems = "; ".join(str(e) for e in exc.exceptions)
        raise ConfigError(f"generated metadata for {name!r} is invalid: {problems}") from None
    return head_bytes, tail_bytes


def _toml_str(value: str) -> str:
    # A JSON string without \\u escapes beyond the BMP is a valid TOML basic string.
    return json.dumps(value, ensure_ascii=False)


def _toml_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(_toml_str(v) for v in values) + "]"


def _render_pyproject(spec: _Spec) -> bytes:
    # The [project] table is static and complete, so tools that read sdist metadata
    # from pyproject.toml see the same facts as PKG-INFO.
    lines = [
        "[build-system]",
        "requires = []",
        f"build-backend = {_toml_str(backend.BACKEND_MODULE)}",
        f"backend-path = [{_toml_str(backend.BACKEND_DIR)}]",
        "",
        "[project]",
        f"name = {_toml_str(spec.name)}",
        f"version = {_toml_str(spec.version)}",
    ]
    if spec.summary is not None:
        lines.append(f"description = {_toml_str(spec.summary)}")
    if spec.requires_python is not None:
        lines.append(f"requires-python = {_toml_str(spec.requires_python)}")
    lines.append(f"dependencies = {_toml_list(spec.requires)}")
    if spec.extras:
        lines += ["", "[project.optional-dependencies]"]
        lines.extend(f"{_toml_str(extra)} = {_toml_list(reqs)}" for extra, reqs in spec.extras)
    return ("\n".join(lines) + "\n").encode("utf-8")


def _render_init(spec: _Spec) -> bytes:
    return (
        f'"""{spec.name} {spec.version}: synthetic distribution made by pytest-privrepo."""\n'
        "\n"
        f'__version__ = "{spec.version}"\n'
    ).encode()


@functools.lru_cache(maxsize=1)
def _backend_bytes() -> bytes:
    return backend.backend_source().encode("utf-8")


# -------------------------------------------------------------------------- writing


def _write(out_dir: StrPath, filename: str, data: bytes) -> Path:
    """Write ``data`` atomically: a server may be listing ``out_dir`` at the same time."""
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    tmp = directory / f".{filename}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _dist_file(path: Path, data: bytes, spec: _Spec, filetype: str, metadata: bytes) -> DistFile:
    return DistFile(
        path=path,
        filename=path.name,
        name=spec.name,
        version=spec.version,
        filetype=filetype,
        requires_python=spec.requires_python,
        metadata=metadata,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


def wheel_filename(name: str, version: str, tag: str = DEFAULT_TAG) -> str:
    """The filename :func:`build_wheel` would write, without building anything."""
    return f"{backend.dist_stem(_check_name(name), _check_version(str(version), name))}-{_check_tag(tag)}.whl"


def sdist_filename(name: str, version: str) -> str:
    """The filename :func:`build_sdist` would write, without building anything."""
    return f"{backend.dist_stem(_check_name(name), _check_version(str(version), name))}.tar.gz"


def build_wheel(
    out_dir: StrPath,
    name: str,
    version: str,
    *,
    requires: Sequence[str] = (),
    requires_python: str | None = None,
    extras: Mapping[str, Sequence[str]] | None = None,
    tag: str = DEFAULT_TAG,
    summary: str | None = None,
) -> DistFile:
    """Write ``{name}-{version}-{tag}.whl`` into ``out_dir`` and describe it.

    The wheel installs a package importable as the canonical name with ``-`` -> ``_``
    whose ``__version__`` is the normalised version, so a test can prove which version
    a client really installed. ``extras`` maps extra names to requirements, written as
    ``Requires-Dist: req; extra == "name"``. Raises ConfigError for any invalid input.
    """
    spec = _spec(name, version, requires, requires_python, extras, summary)
    tag = _check_tag(tag)
    metadata = _render_metadata(spec)
    files = {f"{spec.package}/__init__.py": _render_init(spec)}
    data = backend.wheel_bytes(spec.stem, files, metadata, tag)
    path = _write(out_dir, f"{spec.stem}-{tag}.whl", data)
    return _dist_file(path, data, spec, "bdist_wheel", metadata)


def build_sdist(
    out_dir: StrPath,
    name: str,
    version: str,
    *,
    requires: Sequence[str] = (),
    requires_python: str | None = None,
    extras: Mapping[str, Sequence[str]] | None = None,
    summary: str | None = None,
) -> DistFile:
    """Write ``{name}-{version}.tar.gz`` into ``out_dir`` and describe it.

    The sdist carries PKG-INFO, a static ``pyproject.toml``, the package source and the
    stdlib-only build backend of :mod:`.backend`, so real clients build it offline even
    with build isolation; the wheel they build equals :func:`build_wheel`'s default one.
    """
    spec = _spec(name, version, requires, requires_python, extras, summary)
    metadata = _render_metadata(spec)
    files = {
        "PKG-INFO": metadata,
        "pyproject.toml": _render_pyproject(spec),
        f"{backend.BACKEND_DIR}/{backend.BACKEND_MODULE}.py": _backend_bytes(),
        f"{spec.package}/__init__.py": _render_init(spec),
    }
    data = backend.sdist_bytes(spec.stem, files)
    path = _write(out_dir, f"{spec.stem}.tar.gz", data)
    return _dist_file(path, data, spec, "sdist", metadata)


def build_dists(
    out_dir: StrPath,
    name: str,
    version: str,
    *,
    kind: DistKind | str = "wheel",
    tags: Sequence[str] | str = (DEFAULT_TAG,),
    requires: Sequence[str] = (),
    requires_python: str | None = None,
    extras: Mapping[str, Sequence[str]] | None = None,
    summary: str | None = None,
) -> list[DistFile]:
    """Build one release: a wheel per tag and/or an sdist (wheels first, then the sdist).

    ``tags`` may be a single tag string; duplicates (after lower-casing) are built once.
    All inputs are validated before anything is written, so a bad tag leaves no partial
    release behind.
    """
    if kind not in ("wheel", "sdist", "both"):
        raise ConfigError(
            f"unknown dist kind {kind!r} for {name!r}: use 'wheel', 'sdist' or 'both'"
        )
    tag_list = [tags] if isinstance(tags, str) else list(tags)
    checked = list(dict.fromkeys(_check_tag(t) for t in tag_list))
    if kind != "sdist" and not checked:
        raise ConfigError(f"no wheel tags given for {name!r} with kind={kind!r}")
    _spec(name, version, requires, requires_python, extras, summary)  # validate first
    out: list[DistFile] = []
    if kind in ("wheel", "both"):
        for t in checked:
            out.append(
                build_wheel(
                    out_dir,
                    name,
                    version,
                    tag=t,
                    requires=requires,
                    requires_python=requires_python,
                    extras=extras,
                    summary=summary,
                )
            )
    if kind in ("sdist", "both"):
        out.append(
            build_sdist(
                out_dir,
                name,
                version,
                requires=requires,
                requires_python=requires_python,
                extras=extras,
                summary=summary,
            )
        )
    return out
