"""The README's examples are run as tests, so they cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S) if "def test_" in b]


def test_readme_has_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("block", BLOCKS, ids=[f"example{i}" for i in range(len(BLOCKS))])
def test_readme_example(pytester, block, privrepo_cache_dir, monkeypatch):
    from pytest_privrepo.clients.catalog import TOOLS

    for tool in TOOLS.values():  # tox's PRIVREPO_<TOOL>_VERSIONS would multiply the examples
        monkeypatch.delenv(tool.versions_env_var, raising=False)
    if "privrepo_audit(" in block:  # the audit example's project: fixtures/audit/uv-clean
        import shutil

        shutil.copytree(README.parent / "fixtures" / "audit" / "uv-clean", pytester.path / "project")
    pytester.makepyfile(block)
    expected = 2 if 'parametrize("poetry"' in block else 1
    pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", f"--privrepo-cache-dir={privrepo_cache_dir}"
    ).assert_outcomes(passed=expected)


def test_readme_commands_match_ci():
    text = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()
    test_cmd = re.search(r"\.venv/bin/python -m pytest[^\n`]*", text).group(0)
    assert test_cmd in ci
