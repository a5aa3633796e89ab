"""``privrepo audit`` on the command line and the ``privrepo_audit`` fixture: the same library
(pytest_privrepo.audit, tested in test_audit.py) behind both, exit statuses 0/1/2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "audit"


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def privrepo_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_privrepo.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)


def test_audit_command_reports_a_planted_mistake_as_json(tmp_path, uv) -> None:
    project = tmp_path / "uv-best-match"
    shutil.copytree(FIXTURES / "uv-best-match", project)
    before = tree(project)
    done = privrepo_cli("audit", str(project), "--client", "uv", "--client-path", str(uv.executable),
                        "--env-file", str(project / "ci.env"), "--json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["findings"], report
    assert "privrepo audit:" in done.stderr  # progress lines
    assert tree(project) == before


def test_audit_command_exits_2_on_bad_input(tmp_path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n')
    done = privrepo_cli("audit", str(tmp_path), "--client", "uv", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("privrepo") and "Traceback" not in done.stderr


def test_privrepo_audit_fixture_passes_a_clean_project(pytester, uv) -> None:
    project = FIXTURES / "uv-clean"
    pytester.makepyfile(f"""
        from pytest_privrepo.audit import load_env_file

        def test_clean(privrepo_audit):
            report = privrepo_audit({str(project)!r}, client="uv", executable={str(uv.executable)!r},
                                    env=load_env_file({str(project / "ci.env")!r}))
            report.assert_clean()
            assert report.clean and report.exit_code == 0
    """)
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
