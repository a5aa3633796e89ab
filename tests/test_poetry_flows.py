"""The real Poetry (1.8 and 2.x) against ephemeral private indexes: the core flows.

Every test runs once per version in the ``privrepo_poetry_versions`` ini key (pyproject.toml;
tox narrows it with $PRIVREPO_POETRY_VERSIONS): the plugin parametrizes ``poetry``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pytest_privrepo import ClientError
from pytest_privrepo.clients import PoetryProject


@pytest.fixture
def corp(privrepo):
    idx = privrepo.index("corp", auth=("alice", "s3cret"), tls="tls")
    idx.add("corp-utils", "1.2.0", requires=["attrs>=21"])
    idx.add("corp-utils", "1.3.0", yanked="broken build")
    idx.add("attrs", "23.1.0")
    return idx


def test_source_add_lock_install(corp, poetry, tmp_path):
    """Flow 1 + 2 + 10: a pyproject source, http-basic and a CA; add, lock, install."""
    poetry.configure(corp, repository=False)
    proj = PoetryProject(tmp_path / "app", poetry).create("corp-app")
    proj.add_source("corp", corp.url)
    proj.add("corp-utils@^1.2")
    lock = proj.lock_result()
    assert lock.lock_version == ("2.0" if poetry.major == 1 else "2.1")
    assert lock.sources() == {"attrs": "corp", "corp-utils": "corp"}
    assert lock["corp-utils"].version == "1.2.0"  # 1.3.0 is yanked
    assert lock["corp-utils"].source_url == corp.url.rstrip("/")
    assert lock["corp-utils"].files[0][1] == "sha256:" + corp.files("corp-utils")[0].sha256
    proj.install()
    assert proj.python("import corp_utils; print(corp_utils.__version__)").stdout.strip() == "1.2.0"
    # credentials went to pages and to file downloads
    assert corp.log.users == {"alice"}
    assert {h.path.split("/")[-1] for h in corp.log.downloads} >= {"corp_utils-1.2.0-py3-none-any.whl"}


def test_lock_is_stable(corp, poetry, tmp_path):
    """Deterministic dists: locking twice (fresh projects) gives identical hashes."""
    poetry.configure(corp, repository=False)
    hashes = []
    for n in range(2):
        proj = PoetryProject(tmp_path / f"app{n}", poetry).create("corp-app")
        proj.add_source("corp", corp.url)
        proj.add_dependency("corp-utils", "^1.2")
        hashes.append({p.name: p.files for p in proj.lock().packages})
    assert hashes[0] == hashes[1]


def test_build_and_publish_with_repository_config(corp, poetry, tmp_path):
    """Flows 4, 5, 6: repositories.<name> as target, poetry build, publish -r."""
    poetry.configure(corp)
    proj = PoetryProject(tmp_path / "app", poetry).create("corp-app", "0.1.0")
    dists = proj.build()
    assert sorted(d.filetype for d in dists) == ["bdist_wheel", "sdist"]
    proj.publish("corp")
    assert sorted((u.filename, u.user) for u in corp.uploads) == sorted(
        (d.filename, "alice") for d in dists)
    for d in dists:
        (stored,) = [f for f in corp.files("corp-app") if f.filename == d.filename]
        assert stored.sha256 == d.sha256
    assert {h.path for h in corp.log.filter(method="POST")} == {"/legacy/"}


def test_publish_build_with_username_password_on_command_line(corp, poetry, tmp_path):
    """Flow 6: --build and --username/--password, no http-basic configured."""
    poetry.configure(corp, credentials=False)
    proj = PoetryProject(tmp_path / "app", poetry).create("cli-app", "1.0.0")
    proj.publish("corp", username="alice", password="s3cret", build=True)
    assert {u.version for u in corp.uploads} == {"1.0.0"} and len(corp.uploads) == 2
    assert {u.user for u in corp.uploads} == {"alice"}


def test_publish_wrong_password_fails_with_poetrys_error(corp, poetry, tmp_path):
    poetry.configure(corp, credentials=False)
    proj = PoetryProject(tmp_path / "app", poetry).create("bad-app", "1.0.0")
    proj.build()
    result = proj.publish("corp", username="alice", password="wrong", check=False)
    assert result.returncode != 0
    assert "403" in result.output
    assert corp.uploads == []


def test_version_bump_then_publish_again(corp, poetry, tmp_path):
    """Flow 13: poetry version <rule>, then publish the new version next to the old."""
    poetry.configure(corp)
    proj = PoetryProject(tmp_path / "app", poetry).create("bump-app", "0.1.0")
    proj.publish("corp", build=True)
    assert proj.version("minor") == "0.2.0"
    proj.publish("corp", build=True)
    versions = sorted({f.version for f in corp.files("bump-app")})
    assert versions == ["0.1.0", "0.2.0"]


def test_republish_same_version_is_refused_as_existing(corp, poetry, tmp_path):
    poetry.configure(corp)
    proj = PoetryProject(tmp_path / "app", poetry).create("dup-app", "0.1.0")
    proj.publish("corp", build=True)
    (proj.path / "dup_app" / "__init__.py").write_text("changed = True\n")
    proj.build()
    result = proj.publish("corp", check=False)
    assert result.returncode != 0 and "File already exists" in result.output
    skipped = proj.publish("corp", extra=["--skip-existing"])
    assert skipped.ok


def test_failed_command_error_is_readable(poetry, tmp_path):
    proj = PoetryProject(tmp_path / "app", poetry).create("err-app")
    proj.add_source("nowhere", "http://127.0.0.1:9/simple/")
    with pytest.raises(ClientError) as info:
        proj.add("does-not-exist")
    text = str(info.value)
    assert "poetry" in text and "add does-not-exist" in text and "exit" in text.lower()


def test_existing_pyproject_keeps_comments(poetry, tmp_path):
    proj_dir = tmp_path / "existing"
    proj_dir.mkdir()
    original = PoetryProject(proj_dir, poetry).create("keep-app")
    text = original.pyproject.read_text()
    original.pyproject.write_text("# company template, do not remove\n" + text.replace(
        "[build-system]", "# the build backend\n[build-system]"))
    proj = PoetryProject(proj_dir, poetry).load()
    proj.add_source("corp", "https://127.0.0.1:1/simple/", priority="supplemental")
    after = proj.pyproject.read_text()
    assert after.startswith("# company template, do not remove\n")
    # tomlkit keeps comments; one that preceded [build-system] is trivia of the table
    # before it, so it stays in that table's body, now above the new source
    assert "# the build backend\n" in after
    assert 'priority = "supplemental"' in after
    proj.run("check")


def test_demo_runs_every_step(poetry, tmp_path):
    """The README's main job: `privrepo demo` with this Poetry."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest_privrepo.cli", "demo", "--poetry", str(poetry.executable)],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1].startswith("demo: all") and "passed" in lines[-1]
    assert sum(" ok " in line for line in lines) == 11
