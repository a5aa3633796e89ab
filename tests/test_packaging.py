"""The project as a user receives it: ``python -m build`` and ``twine check`` on the project itself.

The build runs with build isolation, as a release job and ``pip install <sdist>`` do: that
is the only way to prove that ``[build-system] requires`` is enough (a ``--no-isolation``
build would pass with whatever setuptools the test venv happens to hold, and Python 3.12+
venvs hold none). The isolated environment installs setuptools through the machine's own
pip settings, like any user's build; CI reaches the registry, and pip's cache makes repeat
runs take a few seconds.

It builds from a copy of the project in ``tmp_path``: setuptools writes ``build/`` and
``*.egg-info`` next to the sources it builds, and the checkout must stay untouched.

One test builds once and checks every artifact: a build takes seconds, and separate tests
sharing a module fixture would each build again on another pytest-xdist worker.
"""

from __future__ import annotations

import configparser
import email.parser
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import tomlkit

import pytest_privrepo

ROOT = Path(__file__).resolve().parent.parent
#: what a checkout may hold besides the sources; none of it belongs in a build's input
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", ".tox", ".pytest_cache", ".mypy_cache", ".ruff_cache", "__pycache__",
    "build", "dist", "*.egg-info", "*.log",
)
#: build outputs that setuptools would leave in the tree it builds from
BUILD_LITTER = ("build", "dist", "pytest_privrepo.egg-info")
URLS = {
    "Homepage": "https://github.com/pytest-privrepo/pytest-privrepo",
    "Source": "https://github.com/pytest-privrepo/pytest-privrepo",
    "Issues": "https://github.com/pytest-privrepo/pytest-privrepo/issues",
    "Changelog": "https://github.com/pytest-privrepo/pytest-privrepo/blob/main/CHANGELOG.md",
}


@dataclass(frozen=True)
class Built:
    sdist: Path
    wheel: Path
    output: str


def _litter() -> dict[str, int]:
    """Build outputs in the checkout, with their modification times."""
    return {name: (ROOT / name).stat().st_mtime_ns for name in BUILD_LITTER if (ROOT / name).exists()}


def _build(base: Path) -> Built:
    source, out = base / "source", base / "dist"
    before = _litter()
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    # default mode: the sdist first, then the wheel built from that sdist (so the sdist
    # is proven complete enough to build from)
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(source)],
        capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"python -m build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert _litter() == before, "the build wrote into the checkout"
    sdists, wheels = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, sorted(p.name for p in out.iterdir())
    return Built(sdists[0], wheels[0], result.stdout)


def _wheel_text(wheel: Path, name: str) -> str:
    with zipfile.ZipFile(wheel) as zf:
        (member,) = [n for n in zf.namelist() if n.endswith(f".dist-info/{name}")]
        return zf.read(member).decode()


def _metadata(wheel: Path) -> Message:
    return email.parser.Parser().parsestr(_wheel_text(wheel, "METADATA"))


def test_build_twine_check_and_contents(tmp_path):
    built = _build(tmp_path)
    _check_twine(built)
    _check_wheel_files(built)
    _check_metadata(built)
    _check_sdist(built)


def _check_twine(built: Built) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(built.sdist), str(built.wheel)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2, result.stdout


def _check_wheel_files(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as zf:
        names = zf.namelist()
        (license_member,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        assert zf.read(license_member) == (ROOT / "LICENSE").read_bytes()
    assert "pytest_privrepo/py.typed" in names
    assert "pytest_privrepo/cli.py" in names and "pytest_privrepo/plugin.py" in names
    assert not [n for n in names if n.startswith("tests/")]
    entry_points = configparser.ConfigParser()
    entry_points.optionxform = str  # type: ignore[assignment,method-assign]  # names are case-sensitive
    entry_points.read_string(_wheel_text(built.wheel, "entry_points.txt"))
    assert dict(entry_points["pytest11"]) == {"privrepo": "pytest_privrepo.plugin"}
    assert dict(entry_points["console_scripts"]) == {"privrepo": "pytest_privrepo.cli:main"}


def _check_metadata(built: Built) -> None:
    meta = _metadata(built.wheel)
    urls = dict(entry.split(", ", 1) for entry in meta.get_all("Project-URL", []))
    assert urls == URLS
    assert meta["License-Expression"] == "MIT" and meta.get_all("License-File") == ["LICENSE"]
    assert meta["Requires-Python"] == ">=3.10"
    assert meta["Description-Content-Type"] == "text/markdown"
    assert meta["Version"] == pytest_privrepo.__version__
    # one source: the version written in pyproject.toml is the one the package reports
    pyproject = tomlkit.parse((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pytest_privrepo.__version__ == pyproject["project"]["version"]
    assert built.wheel.name == f"pytest_privrepo-{pytest_privrepo.__version__}-py3-none-any.whl"


def _check_sdist(built: Built) -> None:
    top = f"pytest_privrepo-{pytest_privrepo.__version__}"
    with tarfile.open(built.sdist) as tf:
        names = set(tf.getnames())
        license_file = tf.extractfile(f"{top}/LICENSE")
        assert license_file is not None and license_file.read() == (ROOT / "LICENSE").read_bytes()
    for name in ("README.md", "pyproject.toml", "PKG-INFO", "pytest_privrepo/py.typed"):
        assert f"{top}/{name}" in names
