"""pip configured by each route it supports: command line, ``PIP_*`` variables, a
pip.conf named by ``PIP_CONFIG_FILE``, and credentials from the URL, netrc or a keyring
after a 401; and the index options the harness derives for pip (no pip run).

Each test checks both sides: what pip says it did (its report, its own error messages)
and what the index saw (user, status, client certificate), so a route that silently
falls back to another one cannot pass.
"""

from __future__ import annotations

import configparser
import netrc
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from helpers import HARD_PASSWORD, corp_index, fake_pem
from packaging.version import Version

from pytest_privrepo.clients import ClientEnv, IndexSpec, Pip
from pytest_privrepo.clients.pip import TRUSTSTORE_IP_HOST_BUG
from pytest_privrepo.errors import ConfigError

WHEELS = ["demo-1.0-py3-none-any.whl", "helper-2.0-py3-none-any.whl"]


def _assert_installed_from(result, index) -> None:  # type: ignore[no-untyped-def]
    assert result.versions == {"demo": "1.0", "helper": "2.0"}
    for name in ("demo", "helper"):
        assert result.url_of(name).startswith(index.base_url + "/"), result.installed
    assert sorted(h.path.rsplit("/", 1)[-1] for h in index.log.downloads) == WHEELS


def _assert_client_certs(index, tls: str | None) -> None:  # type: ignore[no-untyped-def]
    certs = {h.client_cert for h in index.log}
    if tls == "mtls":
        assert len(certs) == 1 and "CN=corp-client@privrepo.test" in certs.pop()
    else:
        assert certs == {None}


def _truststore_bug(pip: Pip) -> bool:
    """A pip in :data:`TRUSTSTORE_IP_HOST_BUG`: truststore fails on IP-address hosts, so
    the harness adds ``--use-deprecated=legacy-certs`` (pip.py's module docstring)."""
    first, fixed = TRUSTSTORE_IP_HOST_BUG
    return first <= Version(pip.version()) < fixed


#: The sections the harness's pip.conf pins: ``[global]`` and every command that takes
#: index options (pip reads ``[global]``, then the running command's section).
PINNED_SECTIONS = ["global", "install", "download", "wheel", "index", "list", "lock"]


def _global_section(path: Path | None) -> dict[str, str]:
    """The file's ``[global]`` section, after checking every command section repeats
    it (else a machine-wide ``[install]`` would beat it)."""
    assert path is not None and path.is_file()
    parser = configparser.RawConfigParser()  # as pip reads it: no % interpolation
    parser.read(path, encoding="utf-8")
    assert parser.sections() == PINNED_SECTIONS
    sections = [dict(parser[name]) for name in PINNED_SECTIONS]
    assert all(section == sections[0] for section in sections)
    return sections[0]


def _assert_secret_only_in_keyring(pip: Pip, secret: str) -> None:
    forms = {secret.encode(), quote(secret, safe="").encode()}
    holders = [
        path
        for path in pip.env.root.rglob("*")
        if path.is_file()
        and not path.is_symlink()
        and any(form in path.read_bytes() for form in forms)
    ]
    assert holders == [pip.keyring_store]


# -- pip.conf (PIP_CONFIG_FILE) and PIP_* variables ------------------------------------


@pytest.mark.parametrize(
    ("tls", "auth"), [(None, "url"), ("tls", "url"), ("mtls", "url"), ("mtls", "netrc")]
)
def test_config_file_route(privrepo, pip: Pip, tls: str | None, auth: str) -> None:  # type: ignore[no-untyped-def]
    # netrc cannot hold a space
    password = HARD_PASSWORD if auth == "url" else "s3cret"
    corp = corp_index(privrepo, tls, password)
    result = pip.install("demo", index=corp, auth=auth, config="file")  # type: ignore[arg-type]

    _assert_installed_from(result, corp)
    argv = " ".join(result.command.argv)
    for word in ("--index-url", "--cert", "--client-cert", "alice", "pip-config"):
        assert word not in argv  # everything came from the file
    conf = _global_section(result.config_file)
    assert conf["index-url"] == (
        corp.url_with_credentials() if auth == "url" else corp.url
    )
    assert conf["cert"] == (str(corp.ca_cert) if tls else "")
    assert conf["client-cert"] == (str(corp.client_cert) if tls == "mtls" else "")
    # The credentials reached the index from the file (or netrc) on the first request;
    # over TLS the handshake only succeeds with the file's CA (see the next test).
    assert {(h.user, h.auth_ok, h.status) for h in corp.log} == {("alice", True, 200)}
    _assert_client_certs(corp, tls)


def test_config_file_route_without_the_ca_fails_tls(privrepo, pip: Pip) -> None:  # type: ignore[no-untyped-def]
    corp = corp_index(privrepo, "tls")
    no_ca = IndexSpec(corp.url, username="alice", password=HARD_PASSWORD)
    result = pip.install("demo", index=no_ca, config="file", check=False)
    assert not result.ok
    assert _global_section(result.config_file)["cert"] == ""
    assert "CERTIFICATE_VERIFY_FAILED" in result.command.output
    assert list(corp.log) == []  # the handshake failed: no request got through


def test_env_route(privrepo, pip: Pip) -> None:  # type: ignore[no-untyped-def]
    corp = corp_index(privrepo, "mtls")
    args, env = pip.index_options(corp, config="env")
    assert args == []
    # pip 24.2 to 26.0.x also get their way around truststore's IP-host failure
    legacy_certs = {"PIP_USE_DEPRECATED": "legacy-certs"} if _truststore_bug(pip) else {}
    assert env == {
        "PIP_INDEX_URL": corp.url_with_credentials(),
        "PIP_CERT": str(corp.ca_cert),
        "PIP_CLIENT_CERT": str(corp.client_cert),
        **legacy_certs,
    }
    result = pip.install("demo", index=corp, config="env")
    assert "--index-url" not in result.command.argv and result.config_file is None
    _assert_installed_from(result, corp)
    assert {(h.user, h.auth_ok) for h in corp.log} == {("alice", True)}
    _assert_client_certs(corp, "mtls")


def test_config_file_route_ignores_the_machines_pip_config(
    privrepo,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:  # type: ignore[no-untyped-def]
    """A decoy index with a better version is configured everywhere a machine
    configures pip, in ``[global]`` and in the command sections pip reads after it;
    only the test's pip.conf may count. Machine-independent: the decoys are planted,
    whatever this machine's own files and variables are."""
    corp = corp_index(privrepo, "tls")
    decoy = privrepo.index("decoy")
    links = decoy.add("demo", "9.9")[0].path.parent
    decoy.add("helper", "9.9")
    # Exported variables (this CI machine exports PIP_FIND_LINKS and PIP_CERT), set
    # before the fixture builds client_env from os.environ.
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", decoy.url)
    monkeypatch.setenv("PIP_CERT", str(tmp_path / "no-such-ca.pem"))
    pip: Pip = request.getfixturevalue("pip")
    # User files (skipped by pip once PIP_CONFIG_FILE names a file) and a global file
    # (always merged by pip: the XDG_CONFIG_DIRS one stands in for /etc/pip.conf).
    # Most values on their own break the run (another index, no index at all, a dead
    # proxy, a CA that does not exist); the others are checked in the file below.
    decoys = {
        "index-url": decoy.url,
        "extra-index-url": decoy.url,
        "find-links": str(links),
        "no-index": "true",
        "trusted-host": "127.0.0.1",  # would only weaken TLS
        "cert": str(tmp_path / "no-such-ca.pem"),
        "proxy": "http://127.0.0.1:9",
        "no-proxy-env": "true",  # pip >= 26.2; invisible here (loopback is NO_PROXY)
        "keyring-provider": "import",  # invisible here: no 401
    }
    decoy_conf = configparser.RawConfigParser()
    # pip reads [global], then the running command's section ([install] beats [global])
    for section in ("global", "install", "download"):
        decoy_conf[section] = decoys
    planted = [
        pip.env.xdg_config / "pip" / "pip.conf",
        pip.env.home / ".pip" / "pip.conf",
        pip.env.xdg_config_dirs / "pip" / "pip.conf",
    ]
    for path in planted:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as handle:
            decoy_conf.write(handle)

    result = pip.install("demo", index=corp, config="file")

    _assert_installed_from(result, corp)
    assert list(decoy.log) == []
    # pip's own account of what it read, in the same environment as the install.
    _, env = pip.index_options(corp, config="file")
    assert env == {"PIP_CONFIG_FILE": str(result.config_file)}
    debug = pip.run("config", "debug", extra_env=env).stdout
    assert "\nuser:" not in debug  # no user file is even looked at
    for variable in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_CERT"):
        assert variable not in debug
    for real in (Path.home() / ".config" / "pip", Path.home() / ".pip"):
        assert str(real) not in debug
    # pip does merge a global file, so ...
    assert f"{planted[2]}, exists: True" in debug
    conf = _global_section(result.config_file)  # the same in [install], [download] ...
    assert conf["index-url"] == corp.url_with_credentials()
    assert conf["cert"] == str(corp.ca_cert)
    # ... the test's file sets these keys too (empty or pip's default) and wins
    for key in ("extra-index-url", "find-links", "trusted-host", "client-cert", "proxy"):
        assert conf[key] == "", key
    assert conf["keyring-provider"] == ""
    assert (conf["no-index"], conf["no-proxy-env"]) == ("false", "false")

    # `pip download` reads [download]: the same file wins there too.
    downloads = tmp_path / "downloads"
    pip.run(
        "download", "--no-deps", "--retries", "0", "--dest", str(downloads), "demo",
        extra_env=env,
    )
    assert sorted(p.name for p in downloads.iterdir()) == ["demo-1.0-py3-none-any.whl"]
    assert list(decoy.log) == []


# -- keyring after a 401 ---------------------------------------------------------------


def _assert_keyring_retry(index) -> None:  # type: ignore[no-untyped-def]
    """pip sends the URL's user name with an empty password, gets a 401, asks the
    keyring and retries the same page; every later request carries its password."""
    hits = list(index.log)
    page = hits[0].path
    assert page.endswith("/simple/demo/")
    assert [(h.path, h.status, h.user, h.auth_ok) for h in hits[:2]] == [
        (page, 401, "alice", False),
        (page, 200, "alice", True),
    ]
    assert {(h.status, h.user, h.auth_ok) for h in hits[1:]} == {(200, "alice", True)}


@pytest.mark.parametrize("config", ["args", "env", "file"])
def test_keyring_route(privrepo, pip: Pip, config: str) -> None:  # type: ignore[no-untyped-def]
    corp = corp_index(privrepo, "tls")
    result = pip.install("demo", index=corp, auth="keyring", config=config)  # type: ignore[arg-type]

    _assert_installed_from(result, corp)
    _assert_keyring_retry(corp)
    assert pip.keyring_contents() == {corp.url: {"alice": HARD_PASSWORD}}
    if config == "args":
        assert "--keyring-provider" in result.command.argv
    if config == "file":
        conf = _global_section(result.config_file)
        assert conf["keyring-provider"] == "subprocess"
        assert conf["index-url"] == corp.url.replace("://", "://alice@")
    assert HARD_PASSWORD not in " ".join(result.command.argv)
    _assert_secret_only_in_keyring(pip, HARD_PASSWORD)


@pytest.mark.parametrize("pip", ["24.2"], indirect=True)
def test_keyring_route_with_a_provisioned_pip(privrepo, pip: Pip) -> None:  # type: ignore[no-untyped-def]
    """pip 24.2's venv has no keyring: the subprocess provider runs the test
    environment's ``keyring get URL alice`` (before 26.2 pip needs the user name in the
    URL). Over TLS: pip 24.2's truststore fails on any TLS host given as an IP address
    ("check_hostname requires server_hostname"), so the harness's pip.conf also says
    ``use-deprecated = legacy-certs``, and ``cert`` is what verifies the index."""
    assert pip.version() == "24.2"
    corp = corp_index(privrepo, "tls")
    result = pip.install("demo", index=corp, auth="keyring", config="file")
    _assert_installed_from(result, corp)
    _assert_keyring_retry(corp)
    conf = _global_section(result.config_file)
    assert conf["keyring-provider"] == "subprocess"
    assert (conf["use-deprecated"], conf["cert"]) == ("legacy-certs", str(corp.ca_cert))
    _assert_secret_only_in_keyring(pip, HARD_PASSWORD)


def test_keyring_import_provider(privrepo, client_env: ClientEnv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``import`` works when keyring is importable by the interpreter pip runs in: here
    pip runs in pytest's own interpreter (no ``--python``) and installs with
    ``--target``."""
    corp = corp_index(privrepo, None)
    own = Pip(client_env, None, pip=[sys.executable, "-m", "pip"])
    site = tmp_path / "site"
    result = own.install(
        "demo",
        index=corp,
        auth="keyring",
        keyring_provider="import",
        target=site,
        extra_args=["-v"],
    )
    assert "Keyring provider set: import" in result.command.output
    _assert_installed_from(result, corp)
    _assert_keyring_retry(corp)
    assert sorted(p.name for p in site.glob("*.dist-info")) == [
        "demo-1.0.dist-info",
        "helper-2.0.dist-info",
    ]


def test_keyring_import_provider_is_silently_off_under_python(
    privrepo, pip: Pip
) -> None:  # type: ignore[no-untyped-def]
    """With ``--python`` pip re-executes itself in the target venv, which has no
    keyring: the import fails, pip turns the keyring off (said only with -v) and sees
    two 401s."""
    corp = corp_index(privrepo, None)
    result = pip.install(
        "demo",
        index=corp,
        auth="keyring",
        keyring_provider="import",
        extra_args=["-v"],
        check=False,
    )
    assert not result.ok
    assert "Keyring provider set: disabled" in result.command.output
    assert [(h.status, h.user, h.auth_ok) for h in corp.log] == [
        (401, "alice", False)
    ] * 2


def test_wrong_keyring_password_fails_with_pips_error(privrepo, pip: Pip) -> None:  # type: ignore[no-untyped-def]
    corp = corp_index(privrepo, None)
    wrong = IndexSpec(corp.url, username="alice", password="not-the-password")
    result = pip.install("demo", index=wrong, auth="keyring", check=False)
    assert not result.ok
    output = result.command.output
    assert f"401 Error, Credentials not correct for {corp.url}demo/" in output
    assert "No matching distribution found for demo" in output
    assert [(h.status, h.user, h.auth_ok) for h in corp.log] == [
        (401, "alice", False),  # user name from the URL, empty password
        (401, "alice", False),  # the keyring's (wrong) password
    ]
    assert pip.keyring_contents() == {corp.url: {"alice": "not-the-password"}}


# -- choices ---------------------------------------------------------------------------


def test_route_names_and_versions_are_checked(tmp_path: Path) -> None:
    env = ClientEnv(tmp_path / "env")
    pip = Pip(env)
    url = "http://127.0.0.1:1/simple/"
    with pytest.raises(ConfigError, match="use 'url', 'netrc', 'keyring' or 'none'"):
        pip.index_options(url, auth="keyrings")  # type: ignore[arg-type]
    with pytest.raises(
        ConfigError, match="pip route 'pip.conf': use 'cli', 'env' or 'file'"
    ):
        pip.index_options(url, config="pip.conf")  # type: ignore[arg-type]
    with pytest.raises(
        ConfigError, match="keyring provider 'auto': use 'subprocess' or"
    ):
        pip.index_options(url, auth="keyring", keyring_provider="auto")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="index_options"):
        pip.index_args(url, auth="keyring")  # type: ignore[arg-type]
    # pip < 23.1 has no --keyring-provider and never asks the keyring without a prompt.
    old = Pip(
        env, pip=[sys.executable, "-c", "print('pip 23.0.1 from /x (python 3.11)')"]
    )
    with pytest.raises(ConfigError, match=r"pip 23\.0\.1 has no --keyring-provider"):
        old.install(
            "demo", index=IndexSpec(url, username="u", password="p"), auth="keyring"
        )
    assert not old.keyring_store.exists()


def test_pip_index_args(tmp_path: Path) -> None:
    env = ClientEnv(tmp_path / "client")
    ca1, ca2 = fake_pem(tmp_path / "ca1.pem", "one"), fake_pem(tmp_path / "ca2.pem", "two")
    client = tmp_path / "client.pem"
    a = IndexSpec(
        "https://127.0.0.1:1/simple/",
        ca_cert=ca1,
        client_cert=client,
        username="u",
        password="p",
    )
    b = IndexSpec("https://127.0.0.1:2/simple/", ca_cert=ca2, client_cert=client)
    pip = Pip(env)
    args = pip.index_args(a, [b, "http://127.0.0.1:3/simple/"])
    assert args[:6] == [
        "--index-url",
        "https://u:p@127.0.0.1:1/simple/",
        "--extra-index-url",
        "https://127.0.0.1:2/simple/",
        "--extra-index-url",
        "http://127.0.0.1:3/simple/",
    ]
    bundle = Path(args[args.index("--cert") + 1])
    assert bundle.is_relative_to(env.root)
    assert "one" in bundle.read_text() and "two" in bundle.read_text()
    assert args[args.index("--client-cert") + 1] == str(client)
    assert Pip(env).index_args(a)[3] == str(ca1)  # one CA: used in place

    with pytest.raises(ConfigError, match="one --client-cert"):
        pip.index_args(a, [IndexSpec(b.url, client_cert=tmp_path / "other.pem")])
    with pytest.raises(ConfigError, match="auth route"):
        pip.index_args(a, auth="keyring")  # type: ignore[arg-type]

    pip.index_args(IndexSpec(a.url, username="u", password="p"), auth="netrc")
    user, _account, password = netrc.netrc(str(env.netrc)).authenticators("127.0.0.1")
    assert (user, password) == ("u", "p")
