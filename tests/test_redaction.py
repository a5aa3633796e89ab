"""No secret in any report, message, repr or request log (issue 11, must-have 1).

One mechanism (:mod:`pytest_privrepo.redact`) decides what a secret looks like; these tests
pin its rules (URL userinfo, credential options per client, credential variables, known
secrets), every user of it (``CommandResult``, ``ClientError``, the policy repr, the request
log), and, end to end, that the pytest report of real failing client commands (``-vv -l``)
never shows the password or token the test used.
"""

from __future__ import annotations

import base64
import os
import sys
import uuid
from pathlib import Path

import pytest

from pytest_privrepo.clients.catalog import client_tool, parse_versions
from pytest_privrepo.clients.result import CommandResult, format_command_failure
from pytest_privrepo.clients.env import ClientEnv
from pytest_privrepo.clients.indexes import IndexSpec
from pytest_privrepo.errors import ClientError, ConfigError
from pytest_privrepo.index.auth import AuthDecision, AuthPolicy, Credentials, loggable_identity
from pytest_privrepo.redact import (
    MASK,
    is_credential_variable,
    redact,
    redact_argv,
    redact_env,
    secrets_in_argv,
    secrets_in_env,
)

SECRET = "S3CRET-KNOWN"


# -- redact(): text ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://alice:PW@127.0.0.1:8080/simple/", "http://alice:****@127.0.0.1:8080/simple/"),
        ("https://TOKEN@host/x", "https://****@host/x"),  # a token as the user name
        ("https://__token__:pypi-AgE@[::1]:9/legacy/", "https://__token__:****@[::1]:9/legacy/"),
        ("git+https://a:p%40ss%2Fw@h/r.git", "git+https://a:****@h/r.git"),
        ("url 'http://a:p@ss@h/' end", "url 'http://a:****@h/' end"),  # unencoded @: the last one
        ("http://alice:@h/ http://h/a@b", "http://alice:@h/ http://h/a@b"),  # nothing secret
        ("Looking in indexes: http://alice:****@h/", "Looking in indexes: http://alice:****@h/"),
        ("TWINE_PASSWORD=x UV_INDEX_CORP_PASSWORD='a b' HOME=/h",
         "TWINE_PASSWORD=**** UV_INDEX_CORP_PASSWORD='****' HOME=/h"),
        ("{'POETRY_PYPI_TOKEN_CORP': 'tok', 'PATH': '/bin', 'password': 'p', 'auth': 'url'}",
         "{'POETRY_PYPI_TOKEN_CORP': '****', 'PATH': '/bin', 'password': '****', 'auth': 'url'}"),
        ("uv publish --token abc --username u", "uv publish --token **** --username u"),
        ("twine upload --password 'a b' -u x", "twine upload --password '****' -u x"),
        ("> Authorization: Basic YWxpY2U6cHc=\n< Cookie: s=1; t=2\nnext",
         "> Authorization: Basic ****\n< Cookie: ****\nnext"),
        ("install(auth='url', config='env')", "install(auth='url', config='env')"),
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert redact(expected) == expected  # applying it twice changes nothing


def test_redact_known_secrets_raw_and_percent_encoded() -> None:
    text = "echo: p@ss/w0rd and p%40ss%2Fw0rd, token pypi-xyz, pypi-xyz-longer"
    assert redact(text, secrets=["p@ss/w0rd", "pypi-xyz-longer", "pypi-xyz", None, ""]) == (
        "echo: **** and ****, token ****, ****"
    )
    assert redact("", secrets=["x"]) == ""


# -- redact_argv(): the options each client takes -----------------------------------------

@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # pip takes no secret option; its -p does not exist and --python is a path
        (["/v/bin/pip", "--python", "/py", "install", "--index-url", "http://a:PW@h/simple/"],
         ["/v/bin/pip", "--python", "/py", "install", "--index-url", "http://a:****@h/simple/"]),
        (["/v/bin/pip3.12", "install", "--extra-index-url=https://TOK@h/"],
         ["/v/bin/pip3.12", "install", "--extra-index-url=https://****@h/"]),
        # twine 7: -p/--password in every form argparse accepts
        (["twine", "upload", "-u", "alice", "-p", "PW", "-pPW2", "--password=PW3", "d.whl"],
         ["twine", "upload", "-u", "alice", "-p", MASK, f"-p{MASK}", f"--password={MASK}", "d.whl"]),
        (["/usr/bin/python3.11", "-m", "twine", "upload", "--password", "PW"],
         ["/usr/bin/python3.11", "-m", "twine", "upload", "--password", MASK]),
        # uv 0.13: -p is --python and -t --target, except in `uv publish` / `uv auth login`
        (["uv", "pip", "install", "-p", "/py", "-t", "/tgt", "--default-index", "c=http://a:PW@h/"],
         ["uv", "pip", "install", "-p", "/py", "-t", "/tgt", "--default-index", "c=http://a:****@h/"]),
        (["uv", "publish", "-u", "alice", "-p", "PW", "-t", "TOK", "--token=T2", "f.whl"],
         ["uv", "publish", "-u", "alice", "-p", MASK, "-t", MASK, f"--token={MASK}", "f.whl"]),
        (["uv", "auth", "login", "-t", "TOK", "--password", "PW", "h"],
         ["uv", "auth", "login", "-t", MASK, "--password", MASK, "h"]),
        # Poetry: publish -p, and the positional secrets of `poetry config`
        (["poetry", "config", "http-basic.corp", "alice", "PW"],
         ["poetry", "config", "http-basic.corp", "alice", MASK]),
        (["poetry", "--no-ansi", "config", "--local", "pypi-token.corp", "TOK"],
         ["poetry", "--no-ansi", "config", "--local", "pypi-token.corp", MASK]),
        (["poetry", "config", "repositories.corp", "http://h/legacy/"],
         ["poetry", "config", "repositories.corp", "http://h/legacy/"]),
        (["poetry", "-P", "/proj", "publish", "-u", "alice", "-p", "PW"],
         ["poetry", "-P", "/proj", "publish", "-u", "alice", "-p", MASK]),
        # pdm: -P is the password, -p the project
        (["pdm", "-p", "/proj", "publish", "-u", "alice", "-P", "PW"],
         ["pdm", "-p", "/proj", "publish", "-u", "alice", "-P", MASK]),
        (["pdm", "config", "repository.corp.password", "PW"],
         ["pdm", "config", "repository.corp.password", MASK]),
        # hatch: -a/--auth; -p is the project
        (["hatch", "-p", "proj", "publish", "-u", "alice", "-a", "PW", "--auth=PW2"],
         ["hatch", "-p", "proj", "publish", "-u", "alice", "-a", MASK, f"--auth={MASK}"]),
        (["hatch", "config", "set", "publish.index.auth", "PW"],
         ["hatch", "config", "set", "publish.index.auth", MASK]),
        (["flit", "publish", "--repository", "corp"], ["flit", "publish", "--repository", "corp"]),
    ],
)
def test_redact_argv_per_client(argv: list[str], expected: list[str]) -> None:
    assert redact_argv(argv) == tuple(expected)


def test_secrets_in_argv_are_hidden_wherever_they_occur() -> None:
    argv = ["twine", "upload", "--password", "PW-1", "--comment", "PW-1 again",
            "--repository-url", "http://u:p%40w@h/"]
    assert secrets_in_argv(argv) == {"PW-1", "p%40w", "p@w"}
    assert redact_argv(argv)[5] == "**** again"
    assert format_command_failure("failed", tuple(argv), None, "sent PW-1", "as p@w").count(
        "PW-1") == 0


# -- variables ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "name",
    ["TWINE_PASSWORD", "UV_INDEX_CORP_PASSWORD", "POETRY_HTTP_BASIC_CORP_PASSWORD",
     "POETRY_PYPI_TOKEN_CORP", "UV_PUBLISH_TOKEN", "UV_PUBLISH_PASSWORD", "PDM_PUBLISH_PASSWORD",
     "HATCH_INDEX_AUTH", "HATCH_PYPI_AUTH", "FLIT_PASSWORD", "GITLAB_API_TOKEN", "PYPI_TOKEN",
     "AWS_SECRET_ACCESS_KEY", "twine_password"],
)
def test_credential_variables(name: str) -> None:
    assert is_credential_variable(name)


@pytest.mark.parametrize(
    "name",
    ["UV_INDEX_CORP_USERNAME", "TWINE_USERNAME", "PIP_INDEX_URL", "PIP_KEYRING_PROVIDER",
     "POETRY_KEYRING_ENABLED", "PWD", "PATH", "PRIVREPO_KEYRING_FILE", "TOKENIZERS_PARALLELISM"],
)
def test_other_variables(name: str) -> None:
    assert not is_credential_variable(name)


def test_redact_env_and_secrets_in_env() -> None:
    env = {"TWINE_PASSWORD": "tw-pw", "PIP_INDEX_URL": "http://a:url-pw@h/simple/",
           "PIP_EXTRA_INDEX_URL": "http://h/one https://tok@h/two", "HOME": "/home/x",
           "UV_INDEX_CORP_USERNAME": "alice", "SOME_AUTH": "1"}
    assert redact_env(env) == {
        "TWINE_PASSWORD": MASK, "PIP_INDEX_URL": "http://a:****@h/simple/",
        "PIP_EXTRA_INDEX_URL": "http://h/one https://****@h/two", "HOME": "/home/x",
        "UV_INDEX_CORP_USERNAME": "alice", "SOME_AUTH": MASK,
    }
    # a flag value is not a secret to hide in a client's output
    assert secrets_in_env(env) == {"tw-pw", "url-pw", "tok"}


# -- CommandResult / ClientError ----------------------------------------------------------

def test_command_result_keeps_argv_but_never_shows_secrets() -> None:
    argv = ("/v/bin/uv", "publish", "--password", SECRET, "--check-url",
            f"http://alice:{SECRET}@h/simple/", "f.whl")
    result = CommandResult(argv=argv, returncode=1, stdout=f"echo {SECRET}\n",
                           stderr="uv: UV_PUBLISH_TOKEN=env-tok refused\n", duration=0.5,
                           secrets=frozenset({"env-tok"}))
    assert result.argv == argv and SECRET in result.stdout  # the evidence is kept
    for text in (repr(result), str(result), result.command_line):
        assert SECRET not in text and "env-tok" not in text and MASK in text
    assert result.command_line == (
        "/v/bin/uv publish --password '****' --check-url 'http://alice:****@h/simple/' f.whl")
    with pytest.raises(ClientError) as err:
        result.check()
    message = str(err.value)
    assert SECRET not in message and "env-tok" not in message
    assert "command: /v/bin/uv publish --password '****'" in message
    assert "echo ****" in message and "UV_PUBLISH_TOKEN=**** refused" in message
    assert SECRET not in repr(err.value)


def test_format_command_failure_hides_given_secrets() -> None:
    """The timeout path of ClientEnv.run and check() share this; a secret passed by a
    variable is hidden where the client echoes it."""
    text = format_command_failure("command timed out", ("pip", "install", "x"), Path("/w"),
                                  f"using {SECRET}", "", secrets=[SECRET])
    assert SECRET not in text and "using ****" in text


def test_runner_config_errors_show_no_secret(uv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A hand-built IndexSpec (its dataclass repr shows the password) or a check URL with
    userinfo named in a ConfigError."""
    from pytest_privrepo.clients.indexes import IndexSpec
    from pytest_privrepo.errors import ConfigError

    spec = IndexSpec(url="http://127.0.0.1:9/simple/", username="alice", password=SECRET)
    with pytest.raises(ConfigError, match="needs an index with url and upload_url") as err:
        uv.publish([tmp_path / "x.whl"], spec)
    assert SECRET not in str(err.value)

    class Target:
        url, upload_url, name = "http://127.0.0.1:9/simple/", "http://127.0.0.1:9/legacy/", "t"

    with pytest.raises(ConfigError, match="check_url must be None or True") as err:
        uv.publish([tmp_path / "x.whl"], Target(), route="index",
                   check_url=f"http://alice:{SECRET}@127.0.0.1:9/simple/")
    assert SECRET not in str(err.value)


# -- policy repr and the request log ------------------------------------------------------

def test_policy_and_credentials_repr_show_no_secret(privrepo) -> None:  # type: ignore[no-untyped-def]
    index = privrepo.index("corp", auth=[("alice", SECRET), ("bob", "pw-2")], token="pypi-" + SECRET)
    for text in (repr(index.policy), repr(index.policy.credentials), repr(index)):
        assert SECRET not in text and "pw-2" not in text
    assert repr(index.policy.credentials) == (
        "Credentials(users={'alice': '****', 'bob': '****'}, tokens=('****',))")
    assert set(index.policy.credentials.secrets) == {SECRET, "pw-2", "pypi-" + SECRET}


def _basic(raw: str) -> str:
    return "Basic " + base64.b64encode(raw.encode()).decode()


def test_request_log_records_no_secret(privrepo, http) -> None:  # type: ignore[no-untyped-def]
    """What a client sends in the user name's place, in proxy or cookie headers, or by a
    scheme the index does not know, never reaches a Hit."""
    index = privrepo.index("corp", auth=("alice", SECRET), token="pypi-" + SECRET, prefix="/corp")
    sent = [
        (_basic(SECRET), 401),                       # no colon: the whole value is a secret
        (_basic("pypi-" + SECRET + ":"), 401),       # a token as the user name, no password
        (_basic(SECRET + ":x-oauth-basic"), 401),    # the password as the user name
        (_basic(f"mallory:{SECRET}"), 401),          # a wrong user: the name is kept
        (_basic(f"alice:{SECRET}"), 200),
        (f"Token {SECRET}", 401),                    # an unsupported scheme
        (f"Bearer pypi-{SECRET}", 200),
    ]
    others = {"Proxy-Authorization": _basic(f"proxy:{SECRET}"), "Cookie": f"session={SECRET}",
              "X-Auth-Token": SECRET, "Referer": f"http://alice:{SECRET}@elsewhere/"}
    for header, status in sent:
        response = http.get(index.url, headers={"Authorization": header, **others})
        assert response.status_code == status, header
    unrouted = http.get(f"http://{index.netloc}/elsewhere/",
                        headers={"Authorization": _basic(f"alice:{SECRET}"), **others})
    assert unrouted.status_code == 404

    hits = list(index.server.log)
    assert [(h.user, h.auth_ok, h.auth_scheme) for h in hits] == [
        (None, False, "basic"), (None, False, "basic"), (None, False, "basic"),
        ("mallory", False, "basic"), ("alice", True, "basic"), (None, False, "token"),
        ("__token__", True, "bearer"),
        ("alice", None, "basic"),  # no index answered: the name, unchecked
    ]
    for hit in hits:
        assert SECRET not in repr(hit) and SECRET not in repr(hit.headers)
        assert hit.header("Authorization") is None
        assert hit.header("Proxy-Authorization") == "Basic ****"
        assert hit.header("Cookie") == hit.header("X-Auth-Token") == MASK
        assert hit.header("Referer") == "http://alice:****@elsewhere/"
    assert SECRET not in repr(index.log.users)


def test_loggable_identity_rules() -> None:
    creds = Credentials.build(("alice", "pw"), "tok")
    checked = AuthDecision("alice", "basic", True)
    assert loggable_identity(checked, _basic("alice:pw"), creds) == checked
    # pip's keyring route sends a known user with an empty password first: kept
    assert loggable_identity(AuthDecision("alice", "basic", False), _basic("alice:"), creds) == (
        AuthDecision("alice", "basic", False))
    # an unknown name with an empty password is likely a token; a secret as a name is one
    for raw in ("ghp_unknown:", "tok:x", "pw:pw"):
        assert loggable_identity(AuthDecision(raw.partition(":")[0], "basic", False),
                                 _basic(raw), creds) == AuthDecision(None, "basic", False)
    assert loggable_identity(AuthDecision(None, None, None), None) == AuthDecision(None, None, None)
    # malformed Basic (werkzeug gives no Authorization): treated as anonymous, no user
    assert loggable_identity(AuthDecision(None, None, None), "Basic !!!") == AuthDecision(
        None, "basic", None)
    assert loggable_identity(AuthDecision(None, "digest", False), 'Digest username="bob"') == (
        AuthDecision("bob", "digest", False))


def test_refusals() -> None:
    """Wrong credentials on a 404 index get the same 404 as no credentials (a 401 would
    reveal the index); uploads follow anonymous_status too."""
    creds = Credentials.build(("alice", "pw"), None)
    anonymous, wrong = AuthDecision(None, None, None), AuthDecision("alice", "basic", False)
    valid = AuthDecision("alice", "basic", True)

    def answer(status: int, decision: AuthDecision, action: str) -> tuple[int, bool]:
        refusal = AuthPolicy(creds, anonymous_status=status).refusal(decision, action, "corp")  # type: ignore[arg-type]
        return refusal.status, refusal.challenge

    assert answer(401, anonymous, "read") == (401, True)
    assert answer(401, wrong, "read") == (401, True)
    assert answer(403, anonymous, "read") == (403, False)
    assert answer(403, wrong, "read") == (401, True)
    assert answer(404, anonymous, "read") == answer(404, wrong, "read") == (404, False)
    assert answer(401, anonymous, "upload") == (401, True)
    assert answer(401, wrong, "upload") == (403, False)
    assert answer(403, anonymous, "upload") == (403, False)
    assert answer(404, anonymous, "upload") == answer(404, wrong, "upload") == (404, False)
    refusal = AuthPolicy(creds, uploaders=frozenset()).refusal(valid, "upload", "corp")
    assert (refusal.status, refusal.message) == (
        403, "User 'alice' does not have permission to upload to index 'corp'.")


def test_frame_secrets_reads_what_pytest_l_would_print() -> None:
    """The report hook hides what the failing frames hold, beside the indexes' secrets."""
    from pytest_privrepo.redact_report import frame_secrets

    def runner(password: str) -> None:
        argv = ["twine", "upload", "--password", "argv-pw", "--repository-url", "http://u:url-pw@h/"]
        extra_env = {"TWINE_PASSWORD": "env-pw", "HOME": "/home/x"}
        result = CommandResult(argv=("uv", "publish", "-t", "result-tok"), returncode=1,
                               stdout="", stderr="", duration=0.1, secrets=frozenset({"var-pw"}))
        auth, route = "url", "cli"  # not secrets
        check_url = "http://__token__:check-tok@h/simple/"
        raise ClientError(f"{len(argv)} {extra_env} {result} {auth}{route}{check_url}")

    with pytest.raises(ClientError) as err:
        runner("arg-pw")
    assert frame_secrets(err.tb) == {"arg-pw", "argv-pw", "url-pw", "env-pw", "result-tok", "var-pw",
                                     "check-tok"}


# -- end to end: the pytest report of real failing commands -------------------------------

#: Inner tests: each runs a real client command that fails while it holds the secret (a
#: missing project, a wrong password or token, a refused config). Every secret the inner
#: tests use contains the probe, read from a file so that no source line shows it and no
#: inherited variable carries it into the clients' environment.
#: The autouse fixture prints, uncaptured (-s), the request log, headers and reprs, so the
#: outer test checks those too.
INNER_COMMON = '''
from pathlib import Path
import pytest

def probe():
    return Path(__file__).with_name("probe.txt").read_text()

@pytest.fixture
def corp(privrepo):
    return privrepo.index("corp", auth=("alice", probe()), token="pypi-" + probe())

@pytest.fixture(autouse=True)
def dump_evidence(privrepo):
    yield
    for index in privrepo.indexes.values():
        print("POLICY", repr(index.policy), repr(index.policy.credentials))
        for hit in index.log:
            print("HIT", repr(hit), hit.headers)
'''

INNER_BASIC = INNER_COMMON + '''
def test_pip_url_args(pip, corp):
    pip.install("no-such-project", index=corp, auth="url")

@pytest.mark.parametrize("config", ["env", "file"])
def test_pip_url_other_routes(pip, corp, config):
    pip.install("no-such-project", index=corp, auth="url", config=config)

@pytest.mark.parametrize("auth", ["netrc", "keyring"])
def test_pip_other_auth(pip, corp, auth):
    pip.install("no-such-project", index=corp, auth=auth)

def test_pip_result_assertion(pip, corp):
    assert pip.install("no-such-project", index=corp, check=False).ok

@pytest.mark.parametrize("route", ["cli", "env", "pypirc"])
def test_twine_wrong_password(twine, corp, privrepo, tmp_path, route):
    dist = privrepo.build_dist(tmp_path, "demo", "1.0")
    twine.upload([dist], corp, route=route, password="wrong-" + probe())

@pytest.mark.parametrize(("route", "auth"), [("options", "url"), ("env", "env"),
                                             ("config", "url"), ("options", "netrc")])
def test_uv_pip_install(uv, corp, tmp_path, route, auth):
    uv.pip_install("no-such-project", venv=uv.venv(tmp_path / "venv"), index=corp,
                   route=route, auth=auth)

def test_uv_publish_password(uv, corp, privrepo, tmp_path):
    uv.publish([privrepo.build_dist(tmp_path, "demo", "1.0")], corp,
               password="wrong-" + probe(), check_url=True)

def test_uv_publish_token(uv, corp, privrepo, tmp_path):
    uv.publish([privrepo.build_dist(tmp_path, "demo", "1.0")], corp, token="wrong-" + probe())

def test_uv_publish_index_route(uv, corp, privrepo, tmp_path):
    uv.publish([privrepo.build_dist(tmp_path, "demo", "1.0")], corp, route="index",
               password="wrong-" + probe())
'''

INNER_PROVISIONED = INNER_COMMON + '''
from pytest_privrepo.clients.flit import write_flit_project
from pytest_privrepo.clients.pdm import PdmProject
from pytest_privrepo.clients.poetry_project import PoetryProject

@pytest.fixture
def broken_poetry(poetry, tmp_path):
    """A Poetry whose config directory is a file: every `poetry config` that stores fails."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    poetry.env.set(POETRY_CONFIG_DIR=str(blocker))
    return poetry

def test_poetry_config_http_basic(broken_poetry, corp):
    broken_poetry.config("http-basic.corp", "alice", corp.password)

def test_poetry_config_pypi_token(broken_poetry, corp):
    broken_poetry.config("pypi-token.corp", corp.token)

@pytest.mark.parametrize("route", ["command", "keyring"])
def test_poetry_configure(broken_poetry, corp, route):
    broken_poetry.configure(corp, route=route, repository=False)

def test_poetry_publish_password_option(poetry, corp, tmp_path):
    poetry.configure(corp, credentials=False)
    project = PoetryProject(tmp_path / "app", poetry).create("bad-app", "1.0.0")
    project.publish("corp", username="alice", password="wrong-" + probe())

@pytest.mark.parametrize("route", ["files", "env"])
def test_poetry_publish_nothing_built(poetry, corp, tmp_path, route):
    # the right credentials by the route, and nothing to publish: Poetry refuses
    poetry.configure(corp, route=route)
    PoetryProject(tmp_path / "app", poetry).create("bad-app", "1.0.0").publish("corp")

@pytest.mark.parametrize("route", ["config", "cli", "env"])
def test_pdm_publish_wrong_password(pdm, corp, privrepo, tmp_path, route):
    project = PdmProject(tmp_path / "p", pdm).create("pdm-pub", "1.0", distribution=True)
    project.publish(corp, dists=[privrepo.build_dist(tmp_path / "d", "pdm-pub", "1.0")],
                    route=route, password="wrong-" + probe())

@pytest.mark.parametrize("route", ["cli", "env"])
def test_hatch_publish_wrong_password(hatch, corp, privrepo, tmp_path, route):
    hatch.publish([privrepo.build_dist(tmp_path, "ha", "1.0")], corp, route=route,
                  password="wrong-" + probe())

@pytest.mark.parametrize("route", ["env", "pypirc"])
def test_flit_publish_wrong_password(flit, corp, tmp_path, route):
    flit.publish(write_flit_project(tmp_path / "p", "flit-pub", "1.0"), corp, route=route,
                 password="wrong-" + probe())
'''


def _version(config: pytest.Config, tool: str) -> str:
    """The newest version of ``tool`` this suite is configured for (env var, else ini)."""
    spec = client_tool(tool)
    raw = os.environ.get(spec.versions_env_var) or config.getini(spec.versions_ini)
    return parse_versions(raw, source=spec.versions_ini)[-1]


@pytest.mark.parametrize(
    ("source", "failures", "flags", "readable"),
    [(INNER_BASIC, 16, (), ['auth="url"', "--username alice --password '****'",
                            "--index-url 'http://alice:****@127.0.0.1:"]),
     (INNER_PROVISIONED, 14, ("--tb=long",), ["config http-basic.corp alice '****'",
                                               "-u alice -a '****'",
                                               "--username alice --password '****'"])],
    ids=["pip-twine-uv", "poetry-pdm-hatch-flit"],
)
def test_no_secret_in_the_report_of_failing_commands(
        pytester: pytest.Pytester, pytestconfig: pytest.Config, privrepo_cache_dir: Path,
        source: str, failures: int, flags: tuple[str, ...], readable: list[str]) -> None:
    probe = f"PROBE{uuid.uuid4().hex[:12]}"  # unique: no other text contains it by chance
    (pytester.path / "probe.txt").write_text(probe)
    pytester.makepyfile(test_inner=source)
    versions = [f"--privrepo-{tool}-versions={_version(pytestconfig, tool)}"
                for tool in ("poetry", "pdm", "hatch", "flit")]
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider",
        f"--privrepo-cache-dir={privrepo_cache_dir}", *versions, "-vv", "-l", "-s", "-rA",
        *flags)
    output = result.stdout.str() + result.stderr.str()
    outcomes = result.parseoutcomes()
    # every inner test fails (more than `failures` when a tox env asks for several versions)
    assert outcomes.get("failed", 0) >= failures, output[-3000:]
    assert not outcomes.get("passed") and not outcomes.get("errors"), output[-3000:]
    assert "ClientError" in output and MASK in output and "POLICY" in output and "HIT" in output
    assert probe not in output, [line for line in output.splitlines() if probe in line][:20]
    for text in readable:  # only the secrets are hidden: the rest still reads as it ran
        assert text in output, text


def test_client_env_hides_the_secrets_it_passed(tmp_path: Path) -> None:
    """A secret handed to a client by a variable, echoed by the client, is hidden in the
    error, the result's repr, a timeout, a not-found executable, netrc and IndexSpec errors."""
    env = ClientEnv(tmp_path / "env")
    echo = [sys.executable, "-c", "import os, sys, time; print(os.environ['TWINE_PASSWORD']); "
            "sys.stdout.flush(); time.sleep(float(sys.argv[1])); sys.exit(3)"]
    with pytest.raises(ClientError, match="exit code 3") as err:
        env.run([*echo, "0"], extra_env={"TWINE_PASSWORD": SECRET})
    assert SECRET not in str(err.value) and "****" in str(err.value)
    result = env.run([*echo, "0"], extra_env={"TWINE_PASSWORD": SECRET}, check=False)
    assert result.stdout == SECRET + "\n" and SECRET not in repr(result)
    with pytest.raises(ClientError, match="timed out") as err:
        env.run([*echo, "30"], extra_env={"TWINE_PASSWORD": SECRET}, timeout=1)
    assert SECRET not in str(err.value)
    with pytest.raises(ClientError, match="executable not found") as err:
        env.run(["/nonexistent/twine", "upload", "--password", SECRET])
    assert SECRET not in str(err.value)
    with pytest.raises(ConfigError, match="netrc password") as err:
        env.write_netrc("127.0.0.1", "alice", SECRET + " x")
    assert SECRET not in str(err.value)
    assert SECRET not in repr(IndexSpec(url="http://h/", username="alice", password=SECRET))
    with pytest.raises(ConfigError) as err:
        IndexSpec.of(f"ftp://alice:{SECRET}@h/")
    assert SECRET not in str(err.value)


def test_index_access_repr_hides_url_passwords_and_tokens() -> None:
    from pytest_privrepo.access import IndexAccess

    access = IndexAccess.of(f"http://alice:{SECRET}@127.0.0.1:1/simple/")
    assert SECRET not in repr(access) and "alice:****@" in repr(access)
    access = IndexAccess("https://127.0.0.1:1/simple/", username="alice", password=SECRET,
                         token=SECRET + "-tok", upload_url="https://127.0.0.1:1/legacy/")
    assert SECRET not in repr(access) and "username='alice'" in repr(access)


def test_serve_does_not_echo_a_rejected_auth_value() -> None:
    import subprocess

    result = subprocess.run([sys.executable, "-m", "pytest_privrepo.cli", "serve", "--auth", f":{SECRET}"],
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and "expected USER:PASS" in result.stderr
    assert SECRET not in result.stdout + result.stderr
