"""Shared helpers for the plugin's own tests (the plugin itself needs no conftest)."""

from __future__ import annotations

import os
from pathlib import Path

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


@pytest.fixture
def polluted_machine(privrepo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The CI machine's settings, pointed at a 'mirror' index that has a newer demo.

    CA variables keep the machine's real values (the system bundle); if the machine does
    not export them they are set to it. The machine's pip/uv configuration adds the mirror.
    """
    mirror = privrepo.index("machine-mirror")
    mirror.add("demo", "9.9")
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    if not os.path.exists(bundle):
        import certifi

        bundle = certifi.where()
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "PIP_CERT"):
        if not os.environ.get(name):
            monkeypatch.setenv(name, bundle)
    conf = tmp_path / "machine-pip.conf"
    conf.write_text(f"[global]\nextra-index-url = {mirror.url}\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    monkeypatch.setenv("UV_INDEX", mirror.url)
    return mirror


@pytest.fixture
def corp(privrepo):  # type: ignore[no-untyped-def]
    """Index ``corp`` (alice, ``pw-a``) with demo 1.0, plain HTTP: the uv route and publish
    tests' private index. A module that needs another ``corp`` defines its own fixture,
    which pytest prefers to this one."""
    index = privrepo.index("corp", auth=("alice", "pw-a"))
    index.add("demo", "1.0")
    return index
