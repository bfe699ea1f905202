"""The library's layers, as CONTRIBUTING.md draws them, checked on every test run.

Each crmlib module belongs to one layer and may import only from its own layer or the layers
below it. Imports are read from the source (every ``import`` statement, also those inside
functions; only ``if TYPE_CHECKING:`` blocks are left out, as they never run), so an import
hidden in a function to dodge a cycle is caught as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "crmlib"

#: Layers from the bottom up; a module's layer is given by the longest matching prefix.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "base",
        (
            "crmlib",
            "crmlib.errors",
            "crmlib.config",
            "crmlib.compat",
            "crmlib.i18n",
            "crmlib.stats",
            "crmlib.measure",
            "crmlib.currency",
            "crmlib.membership",
            "crmlib.fonts",
        ),
    ),
    (
        "data",
        (
            "crmlib.data",
            "crmlib.datasets",
            "crmlib.simulate",
            # deprecated shims of modules that moved into crmlib.data
            "crmlib.cleaning",
            "crmlib.quality",
            "crmlib.privacy",
        ),
    ),
    (
        "analyses",
        (
            "crmlib.periods",
            "crmlib.rfm",
            "crmlib.segments",
            "crmlib.value",
            "crmlib.lifecycle",
            "crmlib.lifecycle_rules",
            "crmlib.lifecycle_tables",
            "crmlib.cohorts",
            "crmlib.trends",
            "crmlib.campaigns",
            "crmlib.campaign_effect",
            "crmlib.coupons",
            "crmlib.profile",
            "crmlib.channels",
            "crmlib.kpis",
            "crmlib.kpi_coverage",
            "crmlib.benchmark",
            "crmlib.executive",
            "crmlib.outlook",
            "crmlib.summary",
            "crmlib.alerts",
            "crmlib.basket",
            "crmlib.clv",
        ),
    ),
    ("present", ("crmlib.present", "crmlib.reporting")),
    ("plots", ("crmlib.plots",)),
    ("report", ("crmlib.report",)),
)

#: What each layer may import besides itself: charts take frames and labels, never analyses.
ALLOWED: dict[str, set[str]] = {
    "base": set(),
    "data": {"base"},
    "analyses": {"base", "data"},
    "present": {"base", "data", "analyses"},
    "plots": {"base", "data", "present"},
    "report": {"base", "data", "analyses", "present", "plots"},
}

MAX_LINES = 600


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def layer_of(module: str) -> str:
    best, best_len = None, -1
    for layer, prefixes in LAYERS:
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = layer, len(prefix)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")
    return best


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(module: str) -> list[tuple[str, list[str], int]]:
    """(imported crmlib module, names taken from it, line) for every import in ``module``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("crmlib")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if not base.startswith("crmlib"):
                continue
            names = [a.name for a in node.names]
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in MODULES]
            plain = [n for n in names if f"{base}.{n}" not in MODULES]
            out += [(s, [], node.lineno) for s in submodules]
            if plain:
                out.append((base, plain, node.lineno))
    return out


def _known(target: str) -> str:
    while target not in MODULES and "." in target:
        target = target.rpartition(".")[0]
    return target


def test_every_module_imports_only_its_layer_or_below() -> None:
    wrong = []
    for module in MODULES:
        mine = layer_of(module)
        for target, _, line in imports_of(module):
            theirs = layer_of(_known(target))
            if theirs != mine and theirs not in ALLOWED[mine]:
                wrong.append(
                    f"{MODULES[module].name}:{line} {module} ({mine}) imports {target} ({theirs})"
                )
    assert not wrong, "layer contract broken (see CONTRIBUTING.md):\n" + "\n".join(wrong)


def test_no_private_name_is_imported_across_modules() -> None:
    wrong = [
        f"{module} line {line}: from {target} import {name}"
        for module in MODULES
        for target, names, line in imports_of(module)
        for name in names
        if name.startswith("_") and _known(target) != module
    ]
    assert not wrong, "private names imported across modules:\n" + "\n".join(wrong)


def test_no_import_cycle() -> None:
    graph = {
        m: {_known(t) for t, _, _ in imports_of(m) if _known(t) != m and _known(t) in MODULES}
        for m in MODULES
    }
    # Tarjan's strongly connected components; any component of two or more is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_is_short_enough_to_read(module: str) -> None:
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{MODULES[module]} has {lines} lines (at most {MAX_LINES})"


def test_the_contract_catches_a_broken_layer(tmp_path: Path) -> None:
    # The checker itself: a plot importing an analysis is reported.
    assert "analyses" not in ALLOWED["plots"]
    assert layer_of("crmlib.plots.rfm") == "plots"
    assert layer_of("crmlib.rfm") == "analyses"
    assert layer_of("crmlib.present.rfm") == "present"
    assert layer_of("crmlib.data.cleaning") == "data"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_lists_its_public_api(module: str) -> None:
    import importlib
    import warnings

    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    shim = any(
        isinstance(n, ast.Assign)
        and any(getattr(t, "id", None) == "__getattr__" for t in n.targets)
        for n in tree.body
    ) and not any(isinstance(n, ast.FunctionDef | ast.ClassDef) for n in tree.body)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        mod = importlib.import_module(module)
    if shim:  # a deprecated alias module: its names are served by __getattr__
        return
    exported = getattr(mod, "__all__", None)
    assert exported is not None, f"{module} has no __all__"
    missing = [name for name in exported if not hasattr(mod, name)]
    assert not missing, f"{module}.__all__ names what it does not define: {missing}"
