"""pytest hook: no secret in a test's report, whatever pytest chose to show.

:mod:`pytest_privrepo.redact` keeps secrets out of every text this package writes (error
messages, reprs, the request log). A report also shows text the package does not write:
with ``-l`` the local variables of every frame in the traceback (a runner's ``secret``, its
``argv`` and the environment it passed), the source lines of the test, an assertion's
operands, captured output. So the report of each test phase is passed through the same
:func:`~pytest_privrepo.redact.redact` once more, with as known secrets the passwords and
tokens of every index the test's :class:`~pytest_privrepo.session.Privrepo` objects started,
and what the failing frames hold (:func:`frame_secrets`): a runner's ``password`` or
``token`` argument, the credential options and URLs of an ``argv`` list, the credential
variables of an environment mapping, the ``password``/``token`` of an index-like object.
``--full-trace`` still shows every frame; only the secrets are hidden.

The walk over the report is duck-typed (pytest's report parts are dataclasses whose text
is in ``str`` fields, lists and tuples of them), so it needs none of pytest's private names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Iterable, Mapping
from types import TracebackType
from typing import Any

import pytest

from .redact import is_secret_name, redact, secrets_in_argv, secrets_in_env
from .session import Privrepo

__all__ = ["frame_secrets", "known_secrets", "pytest_runtest_makereport", "redact_report"]


def known_secrets(values: Iterable[object]) -> set[str]:
    """The passwords and tokens of every index of the :class:`Privrepo` objects among
    ``values`` (a test's fixture values)."""
    found: set[str] = set()
    for value in values:
        if isinstance(value, Privrepo):
            found.update(value.secrets)
    return found


def _value_secrets(name: str, value: object) -> set[str]:
    found: set[str] = set()
    if isinstance(value, str):
        if is_secret_name(name):
            found.add(value)
        else:
            found.update(secrets_in_argv((value,)))  # a URL with userinfo (check_url)
    elif isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        found.update(secrets_in_argv(value))
    elif isinstance(value, Mapping):
        try:
            found.update(secrets_in_env({str(k): v for k, v in value.items() if isinstance(v, str)}))
        except Exception:  # an exotic mapping: it has nothing we could read safely
            pass
    else:
        for attribute in ("password", "token", "secrets"):
            try:
                held = getattr(value, attribute, None)
            except Exception:  # a property that fails: nothing to hide from it
                continue
            if isinstance(held, str):
                found.add(held)
            elif isinstance(held, (frozenset, set, tuple)) and attribute == "secrets":
                found.update(s for s in held if isinstance(s, str))
            argv = getattr(value, "argv", None) if attribute == "secrets" else None
            if isinstance(argv, tuple) and all(isinstance(a, str) for a in argv):
                found.update(secrets_in_argv(argv))  # a CommandResult
    found.discard("")
    return found


def frame_secrets(tb: TracebackType | None) -> set[str]:
    """Secrets held by the local variables of the frames of a traceback (what ``-l``
    prints): see the module docstring."""
    found: set[str] = set()
    while tb is not None:
        for name, value in tb.tb_frame.f_locals.items():
            found.update(_value_secrets(name, value))
        tb = tb.tb_next
    return found


def _redacted(value: Any, known: list[str], seen: set[int]) -> Any:
    if isinstance(value, str):
        return redact(value, known)
    if isinstance(value, list):
        value[:] = [_redacted(v, known, seen) for v in value]
        return value
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_redacted(v, known, seen) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if id(value) not in seen:
            seen.add(id(value))
            for field in dataclasses.fields(value):
                current = getattr(value, field.name, None)
                new = _redacted(current, known, seen)
                if new is not current:
                    try:
                        object.__setattr__(value, field.name, new)
                    except (AttributeError, TypeError):
                        pass
    return value


def redact_report(report: pytest.TestReport, secrets: Iterable[str] = ()) -> None:
    """Hide secrets in ``report``'s failure text and captured sections, in place."""
    known = sorted(set(secrets), key=len, reverse=True)
    seen: set[int] = set()
    if report.longrepr is not None:
        report.longrepr = _redacted(report.longrepr, known, seen)
    report.sections = [(title, redact(text, known)) for title, text in report.sections]


# Old-style wrapper: pytest >= 7.4 is supported, whose pluggy may predate wrapper=True.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.longrepr is not None or report.sections:
        funcargs = getattr(item, "funcargs", None) or {}
        secrets = known_secrets(funcargs.values())
        if call.excinfo is not None:
            secrets |= frame_secrets(call.excinfo.tb)
        redact_report(report, secrets)
