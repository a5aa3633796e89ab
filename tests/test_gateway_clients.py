"""No client slips past the gateway: every real client's request to a host the test did not
declare arrives at the gateway (a refused ``CONNECT`` in ``privrepo.egress``), none goes to
the network by itself.

Why a test of its own: the gateway can only refuse and record what reaches it. A client that
ignores ``HTTPS_PROXY`` would resolve the name and connect on its own (Hatch >= 1.7.0 on
publish does, hatch#1908; its runner refuses such uploads, see test_pypi_publish.py).
Each client here is pointed at ``https://nowhere.corp.example/simple/`` and must fail with
the gateway's refusal recorded.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_privrepo import Privrepo
from pytest_privrepo.access import IndexAccess
from pytest_privrepo.clients.flit import write_flit_project

NOWHERE = "https://nowhere.corp.example/simple/"
UPLOAD = "https://nowhere.corp.example/legacy/"


def refused_connects(privrepo: Privrepo) -> set[tuple[str, int]]:
    return {(r.host, r.port) for r in privrepo.egress.refused if r.method == "CONNECT"}


def test_pip_goes_through_the_gateway(privrepo: Privrepo, pip) -> None:
    """pip 26.3 shows only "from versions: none": the tunnel's 403 is a debug line."""
    result = pip.install("anything", index=NOWHERE, check=False)
    assert not result.ok and "from versions: none" in result.command.output
    assert refused_connects(privrepo) == {("nowhere.corp.example", 443)}


def test_uv_goes_through_the_gateway(privrepo: Privrepo, uv) -> None:
    result = uv.pip_install("anything", index=NOWHERE, check=False)
    assert not result.ok
    assert refused_connects(privrepo) == {("nowhere.corp.example", 443)}


def test_poetry_goes_through_the_gateway(privrepo: Privrepo, poetry_project) -> None:
    poetry_project.add_source("nowhere", NOWHERE, priority="primary")
    poetry_project.add_dependency("anything")
    result = poetry_project.run("lock", check=False)
    assert not result.ok
    assert refused_connects(privrepo) == {("nowhere.corp.example", 443)}


def test_pdm_goes_through_the_gateway(privrepo: Privrepo, pdm_project) -> None:
    pdm_project.add_source("nowhere", NOWHERE)
    pdm_project.add_dependency("anything")
    result = pdm_project.lock(check=False)
    assert not result.ok
    assert ("nowhere.corp.example", 443) in refused_connects(privrepo)


TARGET = IndexAccess(NOWHERE, upload_url=UPLOAD, username="u", password="a-long-password")


def test_twine_goes_through_the_gateway(privrepo: Privrepo, tmp_path: Path, twine) -> None:
    result = twine.upload([privrepo.build_dist(tmp_path, "x", "1.0")], TARGET, check=False)
    assert not result.ok
    assert refused_connects(privrepo) == {("nowhere.corp.example", 443)}


def test_flit_goes_through_the_gateway(privrepo: Privrepo, tmp_path: Path, flit) -> None:
    project = write_flit_project(tmp_path / "p", "x-flit", "1.0")
    result = flit.publish(project, TARGET, check=False)
    assert not result.ok
    assert refused_connects(privrepo) == {("nowhere.corp.example", 443)}
