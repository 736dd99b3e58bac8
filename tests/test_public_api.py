"""The public API is explicit: the top-level names are pinned, and every module's
``__all__`` names only things that exist."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import rapport_sync

TOP_LEVEL = ["__version__", "RapportSyncError", "DecodeError", "ConfigError", "SourceError",
             "SessionFileError", "StoreError"]
# Modules that pull in Qt are checked too, but only where Qt is importable (offscreen).
MODULES = sorted(m.name for m in pkgutil.walk_packages(rapport_sync.__path__, "rapport_sync.")
                 if not m.name.endswith("__main__"))


def test_top_level_names_are_pinned():
    assert rapport_sync.__all__ == TOP_LEVEL
    assert issubclass(rapport_sync.DecodeError, rapport_sync.RapportSyncError)


# Layer folders that export nothing themselves (their modules do).
NAMESPACE_ONLY = {"rapport_sync.protocol", "rapport_sync.session", "rapport_sync.sources",
                  "rapport_sync.ui"}


@pytest.mark.parametrize("name", MODULES)
def test_every_module_declares_what_it_exports(name):
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if name in NAMESPACE_ONLY:
        assert exported is None, f"{name} now exports names: pin them here"
        return
    assert exported is not None, f"{name} has no __all__"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not define: {missing}"


def test_the_package_is_typed():
    from importlib.resources import files
    assert files("rapport_sync").joinpath("py.typed").is_file()
