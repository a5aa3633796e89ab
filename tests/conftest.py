"""Shared helpers for the plugin's own tests (the plugin itself needs no conftest)."""

from __future__ import annotations

import os

import pytest
import requests


@pytest.fixture
def http() -> requests.Session:
    """A requests session that ignores this machine's REQUESTS_CA_BUNDLE and proxies.

    With ``trust_env`` on, requests lets REQUESTS_CA_BUNDLE override a session's ``verify``;
    tests pass ``verify=`` per request and must not inherit the machine's settings.
    """
    with requests.Session() as session:
        session.trust_env = False
        yield session


@pytest.fixture(scope="session")
def fixtures_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "fixtures"


#: The Poetry lines every Poetry flow is tested on (issue 4): the last 1.x and the newest 2.x.
#: tox narrows it per environment with PRIVREPO_POETRY_VERSIONS.
POETRY_VERSIONS = [
    v.strip()
    for v in os.environ.get("PRIVREPO_POETRY_VERSIONS", "1.8.5,2.5.1").split(",")
    if v.strip()
]


def uv_executable():
    """uv next to this interpreter (the test extra installs it) or named by $PRIVREPO_UV.

    A missing uv fails the test loudly (ClientError): it is never skipped."""
    import sys
    from pathlib import Path

    from pytest_privrepo.clients.provision import find_executable

    sibling = Path(sys.executable).parent / ("uv.exe" if os.name == "nt" else "uv")
    if sibling.exists():
        return sibling
    return find_executable("uv", None, "PRIVREPO_UV")


# Publish clients for test_publish_clients.py and test_snippets.py: twine from the test
# extra, hatch and flit (newest) provisioned once into the shared client cache.
@pytest.fixture(scope="session")
def twine_exe():
    import shutil
    import sys
    from pathlib import Path

    found = shutil.which("twine", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("twine is not installed next to the test interpreter")
    return Path(found)


@pytest.fixture(scope="session")
def hatch_exe(privrepo_cache_dir):
    from pytest_privrepo.clients.provision import provision

    return provision("hatch", None, cache_dir=privrepo_cache_dir)


@pytest.fixture(scope="session")
def flit_exe(privrepo_cache_dir):
    from pytest_privrepo.clients.provision import provision

    return provision("flit", None, cache_dir=privrepo_cache_dir)
