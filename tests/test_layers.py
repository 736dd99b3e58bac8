"""The layer rule of DESIGN.md, checked on the source and on what importing loads."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rapport_sync"
IO_AND_GUI = {"bleak", "serial", "asyncio", "threading", "PySide6", "PyQt6", "PyQt5",
              "pyqtgraph", "sqlite3", "pylsl", "pyedflib", "socket", "matplotlib"}
RULES = {
    "protocol": IO_AND_GUI | {"rapport_sync.sources", "rapport_sync.session", "rapport_sync.ui"},
    "dsp": IO_AND_GUI | {"rapport_sync.sources", "rapport_sync.session", "rapport_sync.ui"},
    "sources": {"PySide6", "PyQt6", "pyqtgraph", "rapport_sync.dsp", "rapport_sync.ui",
                "rapport_sync.session"},
    "session": {"PySide6", "PyQt6", "pyqtgraph", "rapport_sync.ui"},
    "export": {"PySide6", "PyQt6", "pyqtgraph", "rapport_sync.ui", "rapport_sync.sources"},
}


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module a file imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names |= {f"{module}.{alias.name}" for alias in node.names}
    return names


def violates(name: str, forbidden: set[str]) -> bool:
    return any(name == f or name.startswith(f + ".") for f in forbidden)


@pytest.mark.parametrize("layer", sorted(RULES))
def test_layer_imports_nothing_forbidden(layer):
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, f"layer {layer} has no modules"
    bad = {f"{f.relative_to(PACKAGE)} imports {name}"
           for f in files for name in imported_modules(f) if violates(name, RULES[layer])}
    # Simulated sources (sim, ble_sim, sim_serial) need the simulator, and only it: the
    # issue puts the generator in dsp/simulate.py and its device side in sources/.
    bad = {b for b in bad
           if not ("sim" in b.split(" ")[0] and b.split(" ")[-1].startswith("rapport_sync.dsp.simulate"))}
    assert not bad, "\n".join(sorted(bad))


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_importing_the_package_loads_no_backend():
    loaded = loaded_after("import rapport_sync, rapport_sync.cli")
    heavy = {"bleak", "serial", "PySide6", "PyQt6", "pyqtgraph", "pylsl", "pyedflib", "scipy"}
    assert not {m.split(".")[0] for m in loaded} & heavy


def test_protocol_and_dsp_modules_load_no_io_or_gui():
    modules = [f"rapport_sync.{p.relative_to(PACKAGE).with_suffix('').as_posix().replace('/', '.')}"
               for layer in ("protocol", "dsp") for p in (PACKAGE / layer).glob("*.py")
               if p.name != "__init__.py"]
    loaded = loaded_after("; ".join(f"import {m}" for m in modules))
    assert not {m.split(".")[0] for m in loaded} & IO_AND_GUI - {"threading", "asyncio", "socket"}
