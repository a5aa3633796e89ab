"""uv configured by each route a user has, against real indexes.

Indexes: ``[[index]]`` tables in a uv.toml passed with ``--config-file``, and
``UV_INDEX`` (space-separated, ``name=url``) / ``UV_DEFAULT_INDEX`` (pyproject
``[[tool.uv.index]]`` is test_precedence.py). Credentials:
``UV_INDEX_<NAME>_USERNAME/PASSWORD``, URL userinfo, netrc. TLS: ``SSL_CERT_FILE``,
``SSL_CLIENT_CERT``. ``uv lock`` with a token (``[[tool.uv.index]]`` +
``UV_INDEX_CORP_USERNAME=__token__``) over HTTP, HTTPS and mTLS. Bad routes and arguments are
config errors; the index options the harness derives for uv (no uv run). Publishing is in test_uv_publish.py, ``uv pip install`` in test_uv_install.py.

Each test asserts uv's own result (uv.lock's ``source.registry``, the install summary) and
what the indexes saw (user, status, client certificate).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import (
    DEMO_METADATA,
    DEMO_PAGES,
    READ_TOKEN,
    TLS,
    assert_client_certs,
    assert_token_hits,
    fake_pem,
    pages,
    token_index,
    token_spec,
    uv_config,
)

from pytest_privrepo import Index, Privrepo
from pytest_privrepo.clients.env import ClientEnv
from pytest_privrepo.clients.indexes import IndexSpec
from pytest_privrepo.clients.uv import Uv, UvAuth, UvConfig, UvIndexRoute
from pytest_privrepo.clients.uv_project import UvProject
from pytest_privrepo.errors import ConfigError


@pytest.fixture
def tools(privrepo: Privrepo) -> Index:
    index = privrepo.index("tools", auth=("bob", "pw-b"))
    index.add("helper", "2.0")
    return index


@pytest.fixture
def public(privrepo: Privrepo) -> Index:
    """Anonymous, with higher versions of everything: what must not win."""
    index = privrepo.index("public", public_read=True)
    index.add("demo", "9.9")
    index.add("helper", "9.9")
    return index


# --------------------------------------------------------------------------- indexes


@pytest.mark.parametrize("route", ["config", "env"])
def test_lock_from_indexes_in_uv_toml_or_uv_index(
    uv: Uv, uv_project: UvProject, corp: Index, tools: Index, public: Index,
    route: UvIndexRoute,
) -> None:
    """Two named extra indexes and a default, by uv.toml ``[[index]]`` or ``UV_INDEX`` /
    ``UV_DEFAULT_INDEX``: each package comes from the first index that has it, each
    index gets its own ``UV_INDEX_<NAME>_*`` credentials, the default is never asked."""
    uv_project.add_dependency("demo").add_dependency("helper")
    args, env = uv.index_options(public, [corp, tools], auth="env", route=route)

    lock = uv_project.lock(extra_args=args, extra_env=env)

    assert lock.versions() == {"demo": "1.0", "helper": "2.0"}
    assert lock.registries() == {"demo": corp.url, "helper": tools.url}
    assert {(h.path, h.user, h.auth_ok) for h in pages(corp, "demo")} == {
        ("/simple/demo/", "alice", True)}
    assert [(h.status, h.user) for h in pages(corp, "helper")] == [(404, "alice")]
    assert {(h.user, h.auth_ok) for h in pages(tools, "helper")} == {("bob", True)}
    assert list(public.log) == [], "uv asked the default index although an extra had it"
    assert not {"--index", "--default-index"} & set(lock.command.argv)
    assert {k: v for k, v in env.items() if k.startswith("UV_INDEX_")} == {
        "UV_INDEX_CORP_USERNAME": "alice", "UV_INDEX_CORP_PASSWORD": "pw-a",
        "UV_INDEX_TOOLS_USERNAME": "bob", "UV_INDEX_TOOLS_PASSWORD": "pw-b"}
    if route == "env":
        assert args == []
        assert env["UV_INDEX"] == f"corp={corp.url} tools={tools.url}"
        assert env["UV_DEFAULT_INDEX"] == public.url  # no credentials: no name needed
    else:
        assert args[0] == "--config-file" and "UV_INDEX" not in env
        config = Path(args[1])
        assert config.is_relative_to(uv.env.root)
        assert uv_config(config) == {"index": [
            {"name": "corp", "url": corp.url},
            {"name": "tools", "url": tools.url},
            {"name": "public", "url": public.url, "default": True}]}
        assert "pw-" not in config.read_text(), "credentials were written into uv.toml"


@pytest.mark.parametrize(("route", "auth", "tls"), [
    ("config", "env", "mtls"), ("config", "url", "tls"), ("config", "netrc", None),
    ("env", "env", "tls"), ("env", "url", "mtls"), ("env", "netrc", None),
])
def test_install_by_route_with_credentials_and_tls(
    uv: Uv, privrepo: Privrepo, route: UvIndexRoute, auth: UvAuth, tls: str | None
) -> None:
    """``uv pip install`` from an index named only in a uv.toml or in
    ``UV_DEFAULT_INDEX``, with each credential route, over HTTP, TLS (``SSL_CERT_FILE``)
    and mTLS (``SSL_CLIENT_CERT``)."""
    corp = privrepo.index("corp", auth=("alice", "p@ss:w/rd"), tls=tls)
    corp.add("demo", "1.0", requires=["helper>=2"])
    corp.add("helper", "2.0")
    venv = uv.venv(uv.env.root / "venv")

    result = uv.pip_install("demo", venv=venv, index=corp, auth=auth, route=route)

    assert sorted(result.installed) == [("demo", "1.0"), ("helper", "2.0")]
    # netrc is consulted only after an anonymous 401; the others send credentials first
    anonymous = {(None, None, 401)} if auth == "netrc" else set()
    seen = {(h.user, h.auth_ok, h.status) for h in corp.log}
    assert seen == {("alice", True, 200)} | anonymous
    served = [h.path.rsplit("/", 1)[-1] for h in corp.log.downloads if h.status == 200]
    assert sorted(served) == ["demo-1.0-py3-none-any.whl",
                              "helper-2.0-py3-none-any.whl"]
    assert_client_certs(corp)
    argv = result.command.argv
    assert not {"--index", "--default-index"} & set(argv)
    if route == "config":
        text = Path(argv[argv.index("--config-file") + 1]).read_text()
        # the URL route puts percent-encoded credentials into the file; the others never
        assert ("alice:p%40ss%3Aw%2Frd@" in text) == (auth == "url"), text
        assert "p@ss" not in text


@pytest.mark.parametrize("place", ["user", "system", "project"])
def test_uv_toml_route_hides_the_machines_uv_config(
    uv: Uv, uv_project: UvProject, privrepo: Privrepo, corp: Index, place: str
) -> None:
    """A uv.toml where uv would discover one (``$XDG_CONFIG_HOME/uv``,
    ``$XDG_CONFIG_DIRS/uv``, the project directory) names a mirror with a higher
    ``demo``: with ``--config-file`` uv never reads it, although project runs do not set
    ``UV_NO_CONFIG``. Guard: without the route the same project locks from the mirror,
    so the planted file is live."""
    mirror = privrepo.index("mirror", public_read=True)
    mirror.add("demo", "9.9")
    directory = {
        "user": uv.env.xdg_config / "uv",
        "system": uv.env.xdg_config_dirs / "uv",
        "project": uv_project.path,
    }[place]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "uv.toml").write_text(
        f'[[index]]\nname = "mirror"\nurl = "{mirror.url}"\n'
    )
    uv_project.add_dependency("demo")

    args, env = uv.index_options(corp, auth="env", route="config")
    lock = uv_project.lock(extra_args=args, extra_env=env)

    assert lock.registries() == {"demo": corp.url}
    assert lock.versions() == {"demo": "1.0"}
    assert list(mirror.log) == [], f"uv read the {place} uv.toml"

    guard = uv_project.lock()
    assert guard.registries() == {"demo": mirror.url}, guard.command.output
    assert pages(mirror, "demo")


def test_uv_toml_indexes_cannot_serve_pyproject_sources(
    uv: Uv, uv_project: UvProject, corp: Index
) -> None:
    """The limit of the uv.toml route in a project: ``[tool.uv.sources]`` is still read
    from pyproject, but may only name pyproject's own indexes, not the uv.toml's."""
    uv_project.add_dependency("demo", index="corp")
    args, env = uv.index_options(corp, auth="env", route="config")

    lock = uv_project.lock(extra_args=args, extra_env=env, check=False)

    assert not lock.command.ok
    out = lock.command.output
    assert "Package `demo` references an undeclared index: `corp`" in out, out
    assert list(corp.log) == []


# --------------------------------------------------------------------------- publish


# --------------------------------------------------------------------------- bad input


def test_bad_routes_and_arguments_are_config_errors(
    uv: Uv, uv_project: UvProject, corp: Index, tmp_path: Path
) -> None:
    wheel = tmp_path / "x-1.0-py3-none-any.whl"
    with pytest.raises(ConfigError, match="'cli', 'env' or 'file'"):
        uv.index_options(corp, route="pyproject")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="'url' or 'index'"):
        uv.publish([wheel], corp, route="pypirc")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="check_url must be None or True"):
        uv.publish([wheel], corp, route="index", check_url=corp.url)
    with pytest.raises(ConfigError, match="token= or username=/password="):
        uv.publish([wheel], corp, token="t", password="p")
    with pytest.raises(ConfigError, match="url and upload_url"):
        uv.publish([wheel], IndexSpec(corp.url))
    with pytest.raises(ConfigError, match="at least one"):
        uv.publish([], corp)
    with pytest.raises(ConfigError, match="both map to UV_INDEX_CORP_A_"):
        uv.index_options(IndexSpec(corp.url, name="corp.a"),
                         [IndexSpec(corp.url, name="corp-a")], route="config")
    config = UvConfig(tmp_path / "uv.toml", ClientEnv(tmp_path / "env"))
    config.add_index("corp", corp)
    with pytest.raises(ConfigError, match="already has an index named 'corp'"):
        config.add_index("corp", corp)
    with pytest.raises(ConfigError, match="cannot be a uv index name"):
        config.add_index("my corp", corp)
    uv_project.add_index("corp", corp)
    with pytest.raises(ConfigError, match="has no publish-url"):
        uv_project.publish([wheel], "corp")
    with pytest.raises(ConfigError, match="no \\[\\[tool.uv.index\\]\\] named 'other'"):
        uv_project.publish([wheel], "other")


@pytest.mark.parametrize("tls", TLS)
def test_uv_locks_with_token(privrepo: Privrepo, uv_project: UvProject, tls: str | None) -> None:
    """``[[tool.uv.index]]`` + ``UV_INDEX_CORP_USERNAME=__token__``: uv.lock records the
    index URL (no credentials) for every package; locking reads pages and metadata only."""
    index = token_index(privrepo, tls)
    uv_project.add_dependency("demo")
    uv_project.add_index("corp", token_spec(index))

    lock = uv_project.lock()

    assert lock.versions() == {"demo": "1.0", "helper": "2.0"}
    assert lock.registries() == {"demo": index.url, "helper": index.url}
    assert lock.indexes() == {"demo": "corp", "helper": "corp"}
    assert [url for url, _ in lock["demo"].files] == [
        f"{index.base_url}/files/demo/demo-1.0-py3-none-any.whl"]
    assert READ_TOKEN not in uv_project.lockfile.read_text() + uv_project.pyproject.read_text()
    assert_token_hits(index, DEMO_PAGES | DEMO_METADATA)


def test_uv_index_options(tmp_path: Path) -> None:
    env = ClientEnv(tmp_path / "client")
    ca = fake_pem(tmp_path / "ca.pem", "private")
    corp = IndexSpec(
        "https://127.0.0.1:1/simple/",
        ca_cert=ca,
        username="u",
        password="p",
        name="corp.internal",
        client_cert=tmp_path / "c.pem",
    )
    extra = IndexSpec(
        "https://127.0.0.1:2/simple/",
        ca_cert=ca,
        username="v",
        password="q",
        name="extra",
    )
    uv = Uv(env, "uv")
    args, variables = uv.index_options(corp, [extra], auth="env")
    assert args == [
        "--index",
        "extra=https://127.0.0.1:2/simple/",
        "--default-index",
        "corp.internal=https://127.0.0.1:1/simple/",
    ]
    assert variables["UV_INDEX_CORP_INTERNAL_USERNAME"] == "u"
    assert variables["UV_INDEX_CORP_INTERNAL_PASSWORD"] == "p"
    assert variables["UV_INDEX_EXTRA_USERNAME"] == "v"
    assert variables["SSL_CERT_FILE"] == str(
        ca
    )  # only private indexes: no public roots
    assert variables["SSL_CLIENT_CERT"] == str(tmp_path / "c.pem")

    args, variables = uv.index_options(None, [corp])  # PyPI stays the default index
    assert args == ["--index", "https://u:p@127.0.0.1:1/simple/"]
    bundle = Path(variables["SSL_CERT_FILE"])
    assert (
        bundle != ca and bundle.stat().st_size > ca.stat().st_size
    )  # certifi roots added
