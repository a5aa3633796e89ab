"""Shared helpers for the plugin's own tests (the plugin itself needs no conftest)."""

from __future__ import annotations

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
