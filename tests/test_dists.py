"""Tests of pytest_privrepo.dists: synthetic builders, the in-sdist backend, inspect_dist.

The install tests drive real pip and uv with no index at all (``--no-index
--find-links``), which proves the sdists build offline under build isolation. They
share one target venv per module to keep the suite fast.
"""

from __future__ import annotations

import ast
import dataclasses
import gzip
import hashlib
import importlib.util
import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from base64 import urlsafe_b64encode
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from packaging.metadata import Metadata
from packaging.tags import Tag

from pytest_privrepo.dists import (
    DistFile,
    backend_source,
    build_dists,
    build_sdist,
    build_wheel,
    inspect_dist,
    sdist_filename,
    wheel_filename,
)
from pytest_privrepo.dists import backend as backend_mod
from pytest_privrepo.errors import ConfigError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dists"
VENV_PY = Path(sys.executable)
UV = shutil.which("uv", path=str(VENV_PY.parent)) or shutil.which("uv")

RICH: dict[str, Any] = dict(
    requires=["requests>=2; python_version > '3'", "six"],
    extras={"TLS": ["cryptography>=41; os_name == 'nt' or os_name == 'posix'"], "dev": []},
    requires_python=">=3.8",
    summary="Corporate utilities for tests",
)


def _zip_read(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _tar_read(path: Path) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {}
    with tarfile.open(path, "r:gz") as tf:
        for member in tf:
            fh = tf.extractfile(member) if member.isfile() else None
            out[member.name] = fh.read() if fh else None
    return out


# ------------------------------------------------------------------------- wheels


def test_wheel_layout_and_record(tmp_path: Path) -> None:
    dist = build_wheel(tmp_path, "Corp.Utils", "1.0.0", **RICH)
    assert dist.filename == "corp_utils-1.0.0-py3-none-any.whl"
    assert dist.path == tmp_path / dist.filename
    assert (dist.name, dist.version, dist.filetype) == ("Corp.Utils", "1.0.0", "bdist_wheel")
    data = dist.path.read_bytes()
    assert dist.sha256 == hashlib.sha256(data).hexdigest() and dist.size == len(data)

    files = _zip_read(dist.path)
    di = "corp_utils-1.0.0.dist-info"
    with zipfile.ZipFile(dist.path) as zf:
        names = zf.namelist()
    assert names == [
        "corp_utils/__init__.py",
        f"{di}/METADATA",
        f"{di}/WHEEL",
        f"{di}/RECORD",
    ]
    assert b'__version__ = "1.0.0"' in files["corp_utils/__init__.py"]
    assert files[f"{di}/METADATA"] == dist.metadata
    assert files[f"{di}/WHEEL"].decode().splitlines() == [
        "Wheel-Version: 1.0",
        f"Generator: {backend_mod.GENERATOR}",
        "Root-Is-Purelib: true",
        "Tag: py3-none-any",
    ]
    record = files[f"{di}/RECORD"].decode().splitlines()
    assert record[-1] == f"{di}/RECORD,,"
    for line in record[:-1]:
        path, digest, size = line.split(",")
        content = files[path]
        expected = urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
        assert digest == f"sha256={expected}" and int(size) == len(content)
    assert {line.split(",")[0] for line in record} == set(names)


def test_wheel_metadata_is_valid_and_extras_markers_combine(tmp_path: Path) -> None:
    dist = build_wheel(tmp_path, "Corp.Utils", "01.0", **RICH)
    assert dist.version == "1.0"  # normalised
    assert dist.metadata is not None
    meta = Metadata.from_email(dist.metadata, validate=True)
    assert meta.metadata_version == "2.1"
    assert meta.name == "Corp.Utils" and str(meta.version) == "1.0"
    assert meta.summary == "Corporate utilities for tests"
    assert str(meta.requires_python) == ">=3.8"
    assert meta.provides_extra == ["tls", "dev"]  # PEP 685 normalised, order kept
    reqs = {str(r) for r in meta.requires_dist or []}
    assert reqs == {
        'requests>=2; python_version > "3"',
        "six",
        'cryptography>=41; (os_name == "nt" or os_name == "posix") and extra == "tls"',
    }
    crypto = next(r for r in meta.requires_dist or [] if r.name == "cryptography")
    assert crypto.marker is not None
    # The extra must guard the whole original marker, not just its last clause.
    assert not crypto.marker.evaluate({"os_name": "nt", "extra": ""})
    assert crypto.marker.evaluate({"os_name": "posix", "extra": "tls"})
    assert dist.requires_python == ">=3.8"


def test_minimal_metadata_has_no_optional_fields(tmp_path: Path) -> None:
    dist = build_wheel(tmp_path, "plain", "2")
    assert dist.metadata == b"Metadata-Version: 2.1\nName: plain\nVersion: 2\n"
    assert dist.requires_python is None
    Metadata.from_email(dist.metadata, validate=True)


def test_platform_tag_wheel(tmp_path: Path) -> None:
    dist = build_wheel(tmp_path, "fastlib", "1.0", tag="cp311.cp312-abi3-manylinux_2_28_x86_64")
    assert dist.filename == "fastlib-1.0-cp311.cp312-abi3-manylinux_2_28_x86_64.whl"
    wheel = _zip_read(dist.path)["fastlib-1.0.dist-info/WHEEL"].decode().splitlines()
    assert "Root-Is-Purelib: false" in wheel
    assert [line for line in wheel if line.startswith("Tag:")] == [
        "Tag: cp311-abi3-manylinux_2_28_x86_64",
        "Tag: cp312-abi3-manylinux_2_28_x86_64",
    ]
    assert dist.pyversion == "cp311.cp312"
    assert Tag("cp312", "abi3", "manylinux_2_28_x86_64") in dist.tags


def test_distfile_helpers(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "Corp_Utils", "1.0", tag="py2.py3-none-any")
    sdist = build_sdist(tmp_path, "Corp_Utils", "1.0")
    assert wheel.canonical_name == sdist.canonical_name == "corp-utils"
    assert wheel.pyversion == "py2.py3" and sdist.pyversion == "source"
    assert wheel.is_wheel and not sdist.is_wheel
    assert sdist.tags == frozenset()
    assert wheel.metadata is not None
    assert wheel.metadata_sha256 == hashlib.sha256(wheel.metadata).hexdigest()
    assert wheel.url_fragment == f"sha256={wheel.sha256}"
    assert wheel_filename("Corp_Utils", "1.0", "PY2.py3-none-any") == wheel.filename
    assert sdist_filename("Corp_Utils", "1.00") == sdist.filename


# -------------------------------------------------------------------------- sdists


def test_sdist_layout(tmp_path: Path) -> None:
    dist = build_sdist(tmp_path, "Corp.Utils", "1.0.0", **RICH)
    assert dist.filename == "corp_utils-1.0.0.tar.gz"
    assert dist.filetype == "sdist"
    members = _tar_read(dist.path)
    top = "corp_utils-1.0.0"
    assert sorted(members) == [
        top,
        f"{top}/PKG-INFO",
        f"{top}/_backend",
        f"{top}/_backend/privrepo_backend.py",
        f"{top}/corp_utils",
        f"{top}/corp_utils/__init__.py",
        f"{top}/pyproject.toml",
    ]
    assert members[f"{top}/PKG-INFO"] == dist.metadata
    assert members[f"{top}/_backend/privrepo_backend.py"] == backend_source().encode()
    pyproject = tomlkit.parse((members[f"{top}/pyproject.toml"] or b"").decode()).unwrap()
    assert pyproject["build-system"] == {
        "requires": [],
        "build-backend": "privrepo_backend",
        "backend-path": ["_backend"],
    }
    assert pyproject["project"] == {
        "name": "Corp.Utils",
        "version": "1.0.0",
        "description": "Corporate utilities for tests",
        "requires-python": ">=3.8",
        "dependencies": ['requests>=2; python_version > "3"', "six"],
        "optional-dependencies": {
            "tls": ['cryptography>=41; os_name == "nt" or os_name == "posix"'],
            "dev": [],
        },
    }


def test_pyproject_escapes_strings(tmp_path: Path) -> None:
    summary = 'quotes " and \\ backslash, tab\t, unicode \u00e9 \U0001f600'
    dist = build_sdist(tmp_path, "esc", "1", summary=summary)
    members = _tar_read(dist.path)
    pyproject = tomlkit.parse((members["esc-1/pyproject.toml"] or b"").decode()).unwrap()
    assert pyproject["project"]["description"] == summary
    assert Metadata.from_email(dist.metadata or b"", validate=True).summary == summary


def test_build_dists(tmp_path: Path) -> None:
    dists = build_dists(
        tmp_path,
        "multi",
        "1.0",
        kind="both",
        tags=["py3-none-any", "cp311-cp311-win_amd64", "PY3-none-any"],
    )
    assert [d.filename for d in dists] == [
        "multi-1.0-py3-none-any.whl",
        "multi-1.0-cp311-cp311-win_amd64.whl",
        "multi-1.0.tar.gz",
    ]
    assert [d.filename for d in build_dists(tmp_path, "multi", "1.1", tags="py2-none-any")] == [
        "multi-1.1-py2-none-any.whl"
    ]
    assert [d.filetype for d in build_dists(tmp_path, "multi", "1.2", kind="sdist")] == ["sdist"]


# ------------------------------------------------------------------- determinism


def test_byte_identical_rebuilds(tmp_path: Path) -> None:
    first = build_dists(tmp_path / "a", "Corp.Utils", "1.0", kind="both", **RICH)
    second = build_dists(tmp_path / "b", "Corp.Utils", "1.0", kind="both", **RICH)
    for one, two in zip(first, second, strict=True):
        assert one.path.read_bytes() == two.path.read_bytes()
        assert one.sha256 == two.sha256
    # Any change of input changes the bytes.
    other = build_wheel(tmp_path / "c", "Corp.Utils", "1.0.1", **RICH)
    assert other.sha256 != first[0].sha256


def test_byte_identical_across_processes_timezones_and_umasks(tmp_path: Path) -> None:
    local = build_dists(tmp_path / "here", "corp-utils", "2.0", kind="both", **RICH)
    script = (
        "import os, sys\n"
        "os.umask(0o077)\n"
        "from pytest_privrepo.dists import build_dists\n"
        f"ds = build_dists(sys.argv[1], 'corp-utils', '2.0', kind='both', **{RICH!r})\n"
        "print(' '.join(d.sha256 for d in ds))\n"
    )
    env = dict(os.environ, TZ="Asia/Kolkata", SOURCE_DATE_EPOCH="1234567890")
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parent.parent), *sys.path])
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "there")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert out.stdout.split() == [d.sha256 for d in local]


def test_archive_members_are_normalised(tmp_path: Path) -> None:
    wheel, sdist = build_dists(tmp_path, "norm", "1.0", kind="both")
    with zipfile.ZipFile(wheel.path) as zf:
        for info in zf.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.external_attr >> 16 == 0o100644
            assert info.create_system == 3
            assert info.compress_type == zipfile.ZIP_DEFLATED
    raw = sdist.path.read_bytes()
    assert raw[:3] == b"\x1f\x8b\x08"
    assert raw[3] == 0, "gzip header must carry no FNAME (file name)"
    assert raw[4:8] == b"\0\0\0\0", "gzip header mtime must be 0"
    with tarfile.open(sdist.path, "r:gz") as tf:
        for member in tf:
            assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "", "")
            assert member.mtime == backend_mod.EPOCH
            assert member.mode == (0o755 if member.isdir() else 0o644)
    assert gzip.decompress(raw)  # well-formed


# -------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(name="corp utils"), "invalid project name 'corp utils'"),
        (dict(name="-corp"), "invalid project name '-corp'"),
        (dict(name=""), "invalid project name ''"),
        (dict(version="1.x"), "malformed version '1.x' for 'corp-utils': "),
        (dict(version=""), "malformed version '' for 'corp-utils'"),
        (dict(requires=["requests>="]), "bad requirement 'requests>=' for 'corp-utils'"),
        (dict(requires=[42]), "bad requirement 42 in requires of 'corp-utils'"),
        (dict(requires_python=">=3.x"), "bad requires_python '>=3.x' for 'corp-utils'"),
        (dict(requires_python=""), "bad requires_python '' for 'corp-utils'"),
        (dict(extras={"bad extra": ["six"]}), "bad extra name 'bad extra' for 'corp-utils'"),
        (dict(extras={"x": ["six>>1"]}), "bad requirement 'six>>1' for 'corp-utils'"),
        (dict(extras={"TLS": [], "tls": []}), "duplicate extra 'tls' for 'corp-utils'"),
        (dict(extras=["tls"]), "extras for 'corp-utils' must be a mapping"),
        (dict(summary="two\nlines"), "bad summary 'two\\nlines' for 'corp-utils'"),
    ],
)
@pytest.mark.parametrize("builder", [build_wheel, build_sdist])
def test_invalid_inputs(
    tmp_path: Path, builder: Callable[..., DistFile], kwargs: dict[str, Any], message: str
) -> None:
    kwargs = {"name": "corp-utils", "version": "1.0", **kwargs}
    with pytest.raises(ConfigError) as excinfo:
        builder(tmp_path, **kwargs)
    assert message in str(excinfo.value)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("py3-none", "bad wheel tag 'py3-none': Tag 'py3-none' must have exactly three components"),
        ("py3--any", "bad wheel tag 'py3--any'"),
        ("py3-none-an y", "bad wheel tag 'py3-none-an y'"),
        ("py3-none-any.", "bad wheel tag 'py3-none-any.'"),
    ],
)
def test_invalid_tags(tmp_path: Path, tag: str, message: str) -> None:
    with pytest.raises(ConfigError, match="bad wheel tag") as excinfo:
        build_wheel(tmp_path, "corp-utils", "1.0", tag=tag)
    assert message in str(excinfo.value)
    with pytest.raises(ConfigError, match="bad wheel tag"):
        build_dists(tmp_path, "corp-utils", "1.0", kind="both", tags=["py3-none-any", tag])
    assert list(tmp_path.iterdir()) == []  # validated before anything was written


def test_build_dists_argument_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown dist kind 'egg' for 'x'"):
        build_dists(tmp_path, "x", "1", kind="egg")
    with pytest.raises(ConfigError, match="no wheel tags given for 'x'"):
        build_dists(tmp_path, "x", "1", kind="wheel", tags=[])


def test_single_requirement_string_is_one_requirement(tmp_path: Path) -> None:
    dist = build_wheel(tmp_path, "x", "1", requires="six>=1", extras={"e": "attrs"})
    meta = Metadata.from_email(dist.metadata or b"", validate=True)
    assert [str(r) for r in meta.requires_dist or []] == ["six>=1", 'attrs; extra == "e"']


# ----------------------------------------------------------------------- inspect


def test_inspect_roundtrips_synthetic(tmp_path: Path) -> None:
    for dist in build_dists(tmp_path, "Corp.Utils", "1.0.0", kind="both", **RICH):
        assert inspect_dist(dist.path) == dist
        assert inspect_dist(str(dist.path), strict=True) == dist


@pytest.mark.parametrize(
    ("filename", "name", "version", "filetype", "pyversion", "requires_python"),
    [
        (
            "six-1.16.0-py2.py3-none-any.whl",
            "six",
            "1.16.0",
            "bdist_wheel",
            "py2.py3",
            ">=2.7, !=3.0.*, !=3.1.*, !=3.2.*",
        ),
        (
            "six-1.16.0.tar.gz",
            "six",
            "1.16.0",
            "sdist",
            "source",
            ">=2.7, !=3.0.*, !=3.1.*, !=3.2.*",
        ),
        (
            "jaraco.classes-3.4.0-py3-none-any.whl",
            "jaraco.classes",
            "3.4.0",
            "bdist_wheel",
            "py3",
            ">=3.8",
        ),
    ],
)
def test_inspect_real_distributions(
    filename: str, name: str, version: str, filetype: str, pyversion: str, requires_python: str
) -> None:
    path = FIXTURES / filename
    dist = inspect_dist(path)
    data = path.read_bytes()
    assert (dist.name, dist.version, dist.filetype) == (name, version, filetype)
    assert dist.filename == filename and dist.path == path
    assert dist.pyversion == pyversion
    assert dist.requires_python == requires_python
    assert dist.sha256 == hashlib.sha256(data).hexdigest() and dist.size == len(data)
    assert dist.metadata is not None and dist.metadata.startswith(b"Metadata-Version: ")


def test_inspect_strict_validates_whole_metadata() -> None:
    """Strict mode is opt-in: real wheels carry fields newer than their Metadata-Version."""
    path = FIXTURES / "jaraco.classes-3.4.0-py3-none-any.whl"
    with pytest.raises(ConfigError, match="invalid METADATA in 'jaraco.classes-3.4.0-py3-none-any"):
        inspect_dist(path, strict=True)
    assert inspect_dist(FIXTURES / "six-1.16.0.tar.gz", strict=True).name == "six"


def test_inspect_zip_sdist(tmp_path: Path) -> None:
    path = tmp_path / "Old_Pkg-0.9.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("Old_Pkg-0.9/setup.py", "from distutils.core import setup\n")
        zf.writestr("Old_Pkg-0.9/Old_Pkg.egg-info/PKG-INFO", "Metadata-Version: 1.0\nName: x\n")
        zf.writestr("Old_Pkg-0.9/PKG-INFO", "Metadata-Version: 1.0\nName: old.pkg\nVersion: 0.9\n")
    dist = inspect_dist(path)
    assert (dist.name, dist.version, dist.filetype, dist.pyversion) == (
        "old.pkg",
        "0.9",
        "sdist",
        "source",
    )


def _rewrite_wheel(
    src: Path, dest: Path, edit: Callable[[str, bytes], tuple[str, bytes] | None]
) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for name in zin.namelist():
            new = edit(name, zin.read(name))
            if new is not None:
                zout.writestr(*new)
    return dest


def test_inspect_errors(tmp_path: Path) -> None:
    good = build_wheel(tmp_path / "src", "corp-utils", "1.0")

    renamed = tmp_path / "other_name-1.0-py3-none-any.whl"
    shutil.copy(good.path, renamed)
    with pytest.raises(
        ConfigError, match="name in filename 'other_name' does not match metadata 'corp-utils'"
    ):
        inspect_dist(renamed)

    wrong_version = tmp_path / "corp_utils-2.0-py3-none-any.whl"
    shutil.copy(good.path, wrong_version)
    with pytest.raises(
        ConfigError, match="version in filename '2.0' does not match metadata '1.0'"
    ):
        inspect_dist(wrong_version)

    # A different spelling of the same name and version is fine (normalised compare).
    respelled = tmp_path / "Corp.Utils-1.0.0-py3-none-any.whl"
    shutil.copy(good.path, respelled)
    assert inspect_dist(respelled).name == "corp-utils"

    not_zip = tmp_path / "junk-1.0-py3-none-any.whl"
    not_zip.write_bytes(b"this is not a zip")
    with pytest.raises(
        ConfigError, match="not a wheel: 'junk-1.0-py3-none-any.whl' is not a valid zip"
    ):
        inspect_dist(not_zip)

    bad_name = tmp_path / "junk.whl"
    bad_name.write_bytes(b"")
    with pytest.raises(ConfigError, match="not a wheel: bad filename 'junk.whl'"):
        inspect_dist(bad_name)

    (tmp_path / "nm").mkdir()
    no_meta = _rewrite_wheel(
        good.path,
        tmp_path / "nm" / good.filename,
        lambda name, data: None if name.endswith("METADATA") else (name, data),
    )
    with pytest.raises(ConfigError, match="no METADATA in 'corp_utils-1.0-py3-none-any.whl'"):
        inspect_dist(no_meta)

    (tmp_path / "bv").mkdir()
    bad_version = _rewrite_wheel(
        good.path,
        tmp_path / "bv" / good.filename,
        lambda name, data: (
            (name, data.replace(b"Version: 1.0\n", b"Version: 1.x\n"))
            if name.endswith("/METADATA")
            else (name, data)
        ),
    )
    with pytest.raises(ConfigError, match="malformed version '1.x' for 'corp-utils' in METADATA"):
        inspect_dist(bad_version)

    with pytest.raises(ConfigError, match="unsupported distribution file 'x-1.0.tar.bz2'"):
        (tmp_path / "x-1.0.tar.bz2").write_bytes(b"")
        inspect_dist(tmp_path / "x-1.0.tar.bz2")
    with pytest.raises(ConfigError, match="no such distribution file"):
        inspect_dist(tmp_path / "missing-1.0.tar.gz")


def test_inspect_sdist_errors(tmp_path: Path) -> None:
    not_gz = tmp_path / "corp_utils-1.0.tar.gz"
    not_gz.write_bytes(b"plain text")
    with pytest.raises(
        ConfigError, match="not an sdist: 'corp_utils-1.0.tar.gz' is not a valid .tar.gz"
    ):
        inspect_dist(not_gz)

    no_pkg_info = tmp_path / "empty-1.0.tar.gz"
    with tarfile.open(no_pkg_info, "w:gz") as tf:
        data = b"print('hi')\n"
        info = tarfile.TarInfo("empty-1.0/setup.py")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    with pytest.raises(ConfigError, match="no PKG-INFO in 'empty-1.0.tar.gz'"):
        inspect_dist(no_pkg_info)

    sdist = build_sdist(tmp_path / "src", "corp-utils", "1.0")
    renamed = tmp_path / "corp_tools-1.0.tar.gz"
    shutil.copy(sdist.path, renamed)
    with pytest.raises(
        ConfigError, match="name in filename 'corp_tools' does not match metadata 'corp-utils'"
    ):
        inspect_dist(renamed)


# ------------------------------------------------------------------------ backend


def test_backend_is_stdlib_only_and_embedded_verbatim() -> None:
    source = backend_source()
    assert source == Path(backend_mod.__file__).read_text(encoding="utf-8")
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
    assert imported and imported <= set(sys.stdlib_module_names) | {"__future__"}


def test_backend_hooks_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the PEP 517 hooks the way a frontend does: cwd = unpacked sdist."""
    sdist = build_sdist(tmp_path / "sdist", "Corp.Utils", "1.0.0", **RICH)
    wheel = build_wheel(tmp_path / "wheel", "Corp.Utils", "1.0.0", **RICH)
    with tarfile.open(sdist.path, "r:gz") as tf:
        # filter="data" where supported (3.12+ warns without a filter).
        extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tf.extractall(tmp_path / "src", **extra)  # type: ignore[arg-type]
    tree = tmp_path / "src" / "corp_utils-1.0.0"
    monkeypatch.chdir(tree)
    spec = importlib.util.spec_from_file_location(
        "privrepo_backend_under_test", tree / "_backend" / "privrepo_backend.py"
    )
    assert spec and spec.loader
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    (tree / "corp_utils" / "__pycache__").mkdir()  # must not leak into builds
    (tree / "corp_utils" / "__pycache__" / "x.pyc").write_bytes(b"junk")

    assert hooks.get_requires_for_build_wheel() == []
    assert hooks.get_requires_for_build_sdist({}) == []
    dist_info = hooks.prepare_metadata_for_build_wheel(str(tmp_path / "meta"))
    assert dist_info == "corp_utils-1.0.0.dist-info"
    assert (tmp_path / "meta" / dist_info / "METADATA").read_bytes() == sdist.metadata
    name = hooks.build_wheel(str(tmp_path / "built"), {}, str(tmp_path / "meta"))
    assert name == wheel.filename
    assert (tmp_path / "built" / name).read_bytes() == wheel.path.read_bytes()
    name = hooks.build_sdist(str(tmp_path / "resdist"))
    assert name == sdist.filename
    assert (tmp_path / "resdist" / name).read_bytes() == sdist.path.read_bytes()


# ------------------------------------------------------------- real installations


def _client_env(tmp_path: Path) -> dict[str, str]:
    """The environment minus any pip/uv configuration this machine or user has."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INPUT="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        UV_NO_CONFIG="1",
        UV_CACHE_DIR=str(tmp_path / "uv-cache"),
        UV_PYTHON_DOWNLOADS="never",
    )
    return env


def _run(cmd: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def target_venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """One empty venv (no pip in it: pip runs from outside via --python) per module."""
    root = tmp_path_factory.mktemp("venv")
    env = _client_env(root)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    python = root / "venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    return python, env


def _pip_install(python: Path, env: dict[str, str], links: Path, project: str) -> None:
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-cache-dir",
            "--no-index",
            "--find-links",
            str(links),
            project,
        ],
        env,
    )


def _imported_version(python: Path, env: dict[str, str], module: str) -> str:
    return _run([str(python), "-c", f"import {module}; print({module}.__version__)"], env).strip()


def test_pip_installs_built_wheel(tmp_path: Path, target_venv: tuple[Path, dict[str, str]]) -> None:
    python, env = target_venv
    build_wheel(tmp_path, "Privrepo.Wheel-Demo", "1.2.3", requires_python=">=3.8")
    _pip_install(python, env, tmp_path, "privrepo-wheel-demo")
    assert _imported_version(python, env, "privrepo_wheel_demo") == "1.2.3"


def test_pip_installs_built_sdist_offline(
    tmp_path: Path, target_venv: tuple[Path, dict[str, str]]
) -> None:
    """pip builds the sdist with build isolation and no index: only the in-tree backend."""
    python, env = target_venv
    sdist = build_sdist(tmp_path / "links", "privrepo_sdist_demo", "2.0rc1")
    _pip_install(python, env, sdist.path.parent, "privrepo-sdist-demo==2.0rc1")
    assert _imported_version(python, env, "privrepo_sdist_demo") == "2.0rc1"

    # pip's own build of the sdist is byte-identical to build_wheel's wheel.
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-cache-dir",
            "--no-deps",
            "--no-index",
            "-w",
            str(tmp_path / "built"),
            str(sdist.path),
        ],
        env,
    )
    reference = build_wheel(tmp_path / "ref", "privrepo_sdist_demo", "2.0rc1")
    built = tmp_path / "built" / reference.filename
    assert built.read_bytes() == reference.path.read_bytes()
    # ... and a wheel made by a real frontend inspects like our own.
    assert inspect_dist(built) == dataclasses.replace(reference, path=built)


def test_uv_installs_built_sdist_offline(
    tmp_path: Path, target_venv: tuple[Path, dict[str, str]]
) -> None:
    python, env = target_venv
    build_sdist(tmp_path, "privrepo-uv-demo", "3.1", requires_python=">=3.8")
    assert UV is not None
    _run(
        [
            UV,
            "pip",
            "install",
            "--python",
            str(python),
            "--no-index",
            "--find-links",
            str(tmp_path),
            "privrepo-uv-demo",
        ],
        env,
    )
    assert _imported_version(python, env, "privrepo_uv_demo") == "3.1"
