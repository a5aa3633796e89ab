"""The public API: static ``__all__`` lists that match the modules, and a cheap import."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest_privrepo
import pytest_privrepo.clients as clients


def test_clients_package_exports_exactly_its_modules_public_names() -> None:
    expected: set[str] = set()
    for info in pkgutil.iter_modules(clients.__path__):
        module = importlib.import_module(f"{clients.__name__}.{info.name}")
        names = set(module.__all__)
        assert not names & expected, f"{info.name} exports a name another module exports"
        expected |= names
    assert sorted(clients.__all__) == sorted(expected)
    for name in clients.__all__:
        assert getattr(clients, name) is not None


def test_every_package_has_a_static_all() -> None:
    for info in pkgutil.walk_packages(pytest_privrepo.__path__, prefix="pytest_privrepo."):
        if info.name.endswith(".plugin"):
            continue  # pytest hooks and fixtures: nothing to import from it
        module = importlib.import_module(info.name)
        assert isinstance(getattr(module, "__all__", None), list), f"{info.name} has no __all__"
        for name in module.__all__:
            assert hasattr(module, name), f"{info.name}.__all__ names a missing {name!r}"


def test_loading_the_plugin_does_not_import_keyring() -> None:
    """Every pytest process loads the plugin; only tests that use the isolated keyring
    backend should pay for importing keyring."""
    code = "import sys, pytest_privrepo.plugin; print('keyring' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
