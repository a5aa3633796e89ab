"""pytest wiring: fixtures and options around the library objects. No logic lives here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .session import Privrepo
from .tls.ca import CertificateAuthority


@pytest.fixture(scope="session")
def privrepo_ca() -> CertificateAuthority:
    """The session's certificate authority (one per pytest process / xdist worker)."""
    return CertificateAuthority()


@pytest.fixture
def privrepo(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
             privrepo_ca: CertificateAuthority) -> Iterator[Privrepo]:
    """Start ephemeral indexes for one test; everything stops when the test ends.

    ``privrepo.index("corp", auth=("alice", "s3cret"), tls="mtls")`` returns a running index.
    Files (PEMs, distributions) live under the test's tmp dir.
    """
    tmp = request.getfixturevalue("tmp_path")
    repo = Privrepo(tmp / "privrepo", ca=privrepo_ca)
    try:
        yield repo
    finally:
        repo.close()


@pytest.fixture(scope="session")
def privrepo_session(tmp_path_factory: pytest.TempPathFactory,
                     privrepo_ca: CertificateAuthority) -> Iterator[Privrepo]:
    """Like ``privrepo`` but shared by every test of the session (per xdist worker).

    Use it for expensive, read-only setups; tests that mutate an index or assert on its
    request log should use the function-scoped ``privrepo`` (or clear the log first).
    """
    repo = Privrepo(tmp_path_factory.mktemp("privrepo-session"), ca=privrepo_ca)
    try:
        yield repo
    finally:
        repo.close()
