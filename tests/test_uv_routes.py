"""uv configured by each route a user has, against real indexes.

Indexes: ``[[index]]`` tables in a uv.toml passed with ``--config-file``, and
``UV_INDEX`` (space-separated, ``name=url``) / ``UV_DEFAULT_INDEX`` (pyproject
``[[tool.uv.index]]`` is test_precedence.py). Credentials:
``UV_INDEX_<NAME>_USERNAME/PASSWORD``, URL userinfo, netrc. TLS: ``SSL_CERT_FILE``,
``SSL_CLIENT_CERT``. Publishing: ``--publish-url`` and ``--index NAME`` (from a uv.toml
and from pyproject), with and without ``--check-url``.

Each test asserts uv's own result (uv.lock's ``source.registry``, the install summary,
the publish output) and what the indexes saw (user, status, client certificate).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
import tomlkit
from helpers import TLS, flat
from packaging.version import Version

from pytest_privrepo import Index, Privrepo
from pytest_privrepo.clients.env import ClientEnv
from pytest_privrepo.clients.indexes import IndexSpec
from pytest_privrepo.clients.uv import Uv, UvAuth, UvConfig, UvIndexRoute
from pytest_privrepo.clients.uv_project import UvProject
from pytest_privrepo.errors import ConfigError

CI = ("ci", "s3cret-pw")
TOKEN = "pypi-tok-1234"
#: uv's words for an upload the index refused with 403: from uv 0.9.29 (to 0.13.9) ...
UV_AUTH_ERROR = ("Server returned status code 403 Forbidden.",
                 "Server says: Invalid or non-existent authentication information.")
#: ... and before it
UV_AUTH_ERROR_BEFORE_0_9_29 = (
    "Upload failed with status code 403 Forbidden.",
    "Server says: Invalid or non-existent authentication information.")


def uv_auth_error(uv: Uv) -> tuple[str, ...]:
    return UV_AUTH_ERROR if uv_version(uv) >= Version("0.9.29") else UV_AUTH_ERROR_BEFORE_0_9_29


def uv_version(uv: Uv) -> Version:
    return Version(uv.version())


def pages(index: Index, project: str) -> list:  # type: ignore[type-arg]
    return index.log.filter(path_prefix=f"/simple/{project}/")


def assert_client_certs(index: Index) -> None:
    """Over mTLS every request carried the index's client certificate, else none."""
    assert list(index.log)
    for hit in index.log:
        if index.tls == "mtls":
            assert hit.client_cert
            assert f"{index.name}-client@privrepo.test" in hit.client_cert
        else:
            assert hit.client_cert is None


def uv_config(path: Path) -> dict:  # type: ignore[type-arg]
    return tomlkit.parse(path.read_text(encoding="utf-8")).unwrap()


@pytest.fixture
def corp(privrepo: Privrepo) -> Index:
    index = privrepo.index("corp", auth=("alice", "pw-a"))
    index.add("demo", "1.0")
    return index


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


def _dists(privrepo: Privrepo, out: Path, project: str) -> list[Path]:
    return [privrepo.build_dist(out, project, "1.0"),
            privrepo.build_dist(out, project, "1.0", kind="sdist")]


@pytest.mark.parametrize("kind", ["basic", "token"])
@pytest.mark.parametrize("tls", TLS)
def test_publish_by_url_then_install(uv: Uv, privrepo: Privrepo, tmp_path: Path,
                                     tls: str | None, kind: str) -> None:
    index = privrepo.index("corp", auth=CI, token=TOKEN, tls=tls)
    project = f"uvpub-{tls or 'http'}-{kind}"
    files = _dists(privrepo, tmp_path / "dist", project)
    creds = {"token": TOKEN} if kind == "token" else {}
    user = "__token__" if kind == "token" else "ci"

    result = uv.publish(files, index, **creds)  # type: ignore[arg-type]

    assert result.ok, result.output
    assert sorted((u.filename, u.user) for u in index.uploads) == sorted(
        (f.name, user) for f in files)
    assert [(h.method, h.path, h.status) for h in index.log] == [
        ("POST", "/legacy/", 200)] * 2  # no check URL: nothing but the uploads
    assert_client_certs(index)
    argv = result.argv
    assert argv[argv.index("--publish-url") + 1] == index.upload_url
    assert argv[argv.index("--trusted-publishing") + 1] == "never"
    assert ("--token" in argv, "--username" in argv) == (
        (True, False) if kind == "token" else (False, True))

    # wrong credentials: uv's own error, nothing stored
    published = list(index.uploads)
    v2 = privrepo.build_dist(tmp_path / "dist2", project, "2.0")
    bad = {"token": TOKEN + "-wrong"} if kind == "token" else {"password": "wrong"}
    result = uv.publish([v2], index, check=False, **bad)  # type: ignore[arg-type]
    assert not result.ok
    for phrase in uv_auth_error(uv):
        assert phrase in flat(result.output), result.output
    assert index.uploads == published
    assert [h.status for h in index.log if h.method == "POST"][-1] == 403

    # uv installs what it published, from the same index
    index.log.clear()
    venv = uv.venv(tmp_path / "venv")
    installed = uv.pip_install(project, venv=venv, index=index)
    assert installed.versions == {project: "1.0"}
    assert [(h.path.rsplit("/", 1)[-1], h.user) for h in index.log.downloads] == [
        (files[0].name, "ci")]


@pytest.mark.parametrize("kind", ["basic", "token"])
def test_publish_check_url_skips_what_the_index_has(uv: Uv, privrepo: Privrepo,
                                                    tmp_path: Path, kind: str) -> None:
    """``check_url=True``: the index URL with the publish credentials in it (uv 0.13
    sends none to ``--check-url`` on its own); the identical file is skipped after one
    GET."""
    index = privrepo.index("corp", auth=CI, token=TOKEN)
    wheel = privrepo.build_dist(tmp_path / "dist", "checked", "1.0")
    creds = {"token": TOKEN} if kind == "token" else {}
    assert uv.publish([wheel], index, **creds).ok  # type: ignore[arg-type]
    published = list(index.uploads)
    index.log.clear()

    result = uv.publish([wheel], index, check_url=True, **creds)  # type: ignore[arg-type]

    assert result.ok, result.output
    assert f"File {wheel.name} already exists, skipping" in result.output
    assert index.uploads == published
    user = "__token__" if kind == "token" else "ci"
    assert [(h.method, h.path, h.status, h.user) for h in index.log] == [
        ("GET", "/simple/checked/", 200, user)]
    argv = result.argv
    assert argv[argv.index("--check-url") + 1].startswith(f"http://{user}:")


def test_publish_by_index_name_from_uv_toml(uv: Uv, privrepo: Privrepo,
                                            tmp_path: Path) -> None:
    """``route="index"`` over mTLS with a token: ``--index corp`` of a uv.toml with
    ``publish-url``. uv checks the index URL first (with the index's ``UV_INDEX_CORP_*``
    reader credentials), uploads with the token, skips it the second time, and the
    published file installs by the same uv.toml route."""
    index = privrepo.index("corp", auth=CI, token=TOKEN, tls="mtls")
    wheel = privrepo.build_dist(tmp_path / "dist", "by-name", "1.0")

    result = uv.publish([wheel], index, route="index", token=TOKEN)

    assert result.ok, result.output
    assert [(u.filename, u.user) for u in index.uploads] == [(wheel.name, "__token__")]
    assert [(h.method, h.path, h.status, h.user) for h in index.log] == [
        ("GET", "/simple/by-name/", 404, "ci"), ("POST", "/legacy/", 200, "__token__")]
    assert_client_certs(index)
    argv = result.argv
    assert argv[argv.index("--index") + 1] == "corp" and "--publish-url" not in argv
    config = Path(argv[argv.index("--config-file") + 1])
    assert uv_config(config) == {"index": [
        {"name": "corp", "url": index.url, "publish-url": index.upload_url}]}

    index.log.clear()
    again = uv.publish([wheel], index, route="index", token=TOKEN)
    assert again.ok and f"File {wheel.name} already exists, skipping" in again.output
    assert [h.method for h in index.log] == ["GET"] and len(index.uploads) == 1

    venv = uv.venv(tmp_path / "venv")
    installed = uv.pip_install(
        "by-name", venv=venv, index=index, auth="env", route="config"
    )
    assert installed.versions == {"by-name": "1.0"}


def test_project_publish_by_index_name_then_sync(
    uv: Uv, uv_project: UvProject, privrepo: Privrepo, tmp_path: Path
) -> None:
    """pyproject ``[[tool.uv.index]]`` with ``publish-url``: ``uv publish --index corp``
    uploads with the index's ``UV_INDEX_CORP_*`` credentials (no ``--username``), a
    wrong password on the command line wins over them and fails, and the project then
    syncs the published version from the same index."""
    index = privrepo.index("corp", auth=CI)
    uv_project.add_index("corp", index, default=True, publish_url=index.upload_url)
    files = _dists(privrepo, tmp_path / "dist", "proj-pub")
    # Why project runs drop UV_NO_CONFIG: with it, uv does not see [tool.uv] at all.
    hidden = uv.run("publish", "--index", "corp", str(files[0]), check=False,
                    cwd=uv_project.path)
    assert "No indexes were found, can't use index: `corp`" in hidden.output
    assert list(index.log) == []

    result = uv_project.publish(files, "corp")

    assert result.ok, result.output
    assert "--username" not in result.argv
    assert sorted((u.filename, u.user) for u in index.uploads) == sorted(
        (f.name, "ci") for f in files)
    assert {(h.method, h.user, h.auth_ok) for h in index.log} == {
        ("GET", "ci", True), ("POST", "ci", True)}

    published = list(index.uploads)
    index.log.clear()
    v2 = privrepo.build_dist(tmp_path / "dist2", "proj-pub", "2.0")
    result = uv_project.publish([v2], "corp", password="wrong", check=False)
    assert not result.ok
    for phrase in uv_auth_error(uv):
        assert phrase in flat(result.output), result.output
    assert index.uploads == published
    # the check (before, and again after the failed upload) reads with the index's
    # credentials; only the upload carries the command line's wrong password
    assert [(h.method, h.status, h.user, h.auth_ok) for h in index.log] == [
        ("GET", 200, "ci", True), ("POST", 403, "ci", False), ("GET", 200, "ci", True)]

    uv_project.add_dependency("proj-pub")
    lock = uv_project.lock()
    assert (lock["proj-pub"].version, lock["proj-pub"].index) == ("1.0", "corp")
    uv_project.run("sync", "--python", sys.executable, "--no-progress")
    shown = uv.env.run([uv_project.path / ".venv" / "bin" / "python", "-c",
                        "import proj_pub; print(proj_pub.__version__)"])
    assert shown.stdout.strip() == "1.0"


def test_publish_mtls_without_client_cert_fails_at_handshake(
    uv: Uv, privrepo: Privrepo, tmp_path: Path
) -> None:
    """The CA but no ``SSL_CLIENT_CERT``: the server refuses the handshake, no request
    gets through, and uv reports its own publish error (the TLS detail below it is
    CertificateRequired or a closed connection, depending on timing)."""
    index = privrepo.index("corp", auth=CI, tls="mtls")
    wheel = privrepo.build_dist(tmp_path / "dist", "nocert", "1.0")
    no_cert = dataclasses.replace(index.access, client_cert=None)

    result = uv.publish([wheel], no_cert, check=False)

    assert not result.ok
    failure = index.server.wait_for_tls_failure()
    assert failure.reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE"
    assert index.uploads == [] and list(index.log) == []
    if uv_version(uv) >= Version("0.12.19"):
        expected = f"Failed to publish `{wheel}` to `{index.upload_url}`"
    else:  # the URL without backticks
        expected = f"Failed to publish `{wheel}` to {index.upload_url}\n"
    assert expected in result.output, result.output


def test_publish_by_index_needs_uv_0_8_14(tmp_path: Path, corp: Index) -> None:
    """Before 0.8.14 uv sends the index's ``UV_INDEX_<NAME>_*`` credentials neither to
    the check nor to the upload of ``uv publish --index``: both index routes refuse such
    a uv with a ConfigError naming the version, before anything runs (a stand-in uv
    that only answers ``--version``)."""
    fake = tmp_path / "bin" / "uv"
    fake.parent.mkdir()
    fake.write_text(f"#!{sys.executable}\nprint('uv 0.8.13 (1e2b1d7a8 2025-08-21)')\n")
    fake.chmod(0o755)
    old = Uv(ClientEnv(tmp_path / "env"), fake)
    wheel = tmp_path / "x-1.0-py3-none-any.whl"
    message = r"uv 0\.8\.13 sends the index's UV_INDEX_<NAME>_\* credentials .* use uv >= 0\.8\.14"
    with pytest.raises(ConfigError, match=message):
        old.publish([wheel], corp, route="index")
    project = UvProject(tmp_path / "project", old).create()
    project.add_index("corp", corp, publish_url=corp.upload_url)
    with pytest.raises(ConfigError, match=message):
        project.publish([wheel], "corp")
    assert list(corp.log) == [] and corp.uploads == []
    assert old.version() == "0.8.13"


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
