"""The house keeps its shape: one job per module, the flow runs downhill, one place per fact.

Read from the source (imports anywhere in a module count, lazy ones included), so a change
that brings back an import circle, a step importing a later step, a private name used across
modules, a module over 700 lines or a second list of states fails here.
"""

from __future__ import annotations

import ast
import builtins
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from mobset_campaign import states
from mobset_campaign.ledger._schema import MIGRATIONS

PACKAGE = Path(__file__).resolve().parents[1] / "mobset_campaign"
MAX_LINES = 700

#: The campaign's steps in flow order: a step may use the facts and steps before it, never a
#: later one (the sender must not import merge).
FLOW = [
    "contacts",
    "render",
    "estimate",
    "sender",
    "collector",
    "merge",
    "status",
    "outcomes",
    "plots",
    "export",
    "demo",
    "cli",
]
#: The wire layer knows no templates, rows, campaigns or ledgers.
WIRE = ["_protocol", "answers", "client"]
CONTENT = ["segments", "templates", "checks", "render", "rows", "ledger", "sender", "estimate"]


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts) or "__init__"] = path
    return found


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The package-relative module a ``from … import`` names ("" for the package)."""
    if node.level == 0:
        name = node.module or ""
        if not name.startswith("mobset_campaign"):
            return "<outside>"
        return name.removeprefix("mobset_campaign").lstrip(".")
    is_package = _modules().get(module, Path()).name == "__init__.py"
    base = module.split(".") if module not in ("__init__", "") else []
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    return ".".join([*base, *([node.module] if node.module else [])])


def _imports(module: str) -> dict[str, set[str]]:
    """Package modules ``module`` imports, each with the names it takes from it."""
    known = _modules()
    out: dict[str, set[str]] = {}
    for node in ast.walk(_tree(known[module])):
        if isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            if target == "<outside>":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}" if target else alias.name
                if sub in known:  # `from . import plots`: the module itself
                    out.setdefault(sub, set())
                else:
                    out.setdefault(target or "__init__", set()).add(alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("mobset_campaign."):
                    out.setdefault(alias.name.removeprefix("mobset_campaign."), set())
    out.pop(module, None)
    return {k: v for k, v in out.items() if k in known}


def _graph() -> dict[str, dict[str, set[str]]]:
    return {m: _imports(m) for m in _modules() if m not in ("__init__", "simulator.__main__")}


def _family(module: str) -> str:
    return module.split(".")[0]


def test_no_import_circle() -> None:
    graph = {m: set(deps) for m, deps in _graph().items()}
    seen: dict[str, int] = {}  # 1 = on the path, 2 = done
    path: list[str] = []

    def visit(m: str) -> None:
        seen[m] = 1
        path.append(m)
        for d in sorted(graph.get(m, ())):
            if d == "__init__" or (_family(d) == _family(m) and d.endswith("__init__")):
                continue
            if seen.get(d) == 1:
                cycle = [*path[path.index(d) :], d]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if d not in seen:
                visit(d)
        path.pop()
        seen[m] = 2

    for m in sorted(graph):
        if m not in seen:
            visit(m)


def test_no_private_name_crosses_a_module() -> None:
    found = []
    for module, deps in _graph().items():
        for dep, names in deps.items():
            private = sorted(n for n in names if n.startswith("_") and not n.startswith("__"))
            if private and _family(dep) != _family(module):
                found.append(f"{module} imports {private} from {dep}")
    # `module._name` on a package module imported whole
    for module, path in _modules().items():
        aliases = {
            alias.asname or alias.name
            for node in ast.walk(_tree(path))
            if isinstance(node, ast.ImportFrom) and node.level
            for alias in node.names
            if f"{alias.name}" in {m.split(".")[-1] for m in _modules()}
        }
        for node in ast.walk(_tree(path)):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                found.append(f"{module} uses {node.value.id}.{node.attr}")
    assert not found, "\n".join(found)


def test_steps_never_import_a_later_step() -> None:
    graph = _graph()
    wrong = []
    for i, step in enumerate(FLOW):
        for later in FLOW[i + 1 :]:
            if any(_family(dep) == later for dep in graph.get(step, {})):
                wrong.append(f"{step} imports the later step {later}")
    for wire in WIRE:
        for dep in graph[wire]:
            if _family(dep) in CONTENT:
                wrong.append(f"the wire module {wire} imports {dep}")
    assert not wrong, "\n".join(wrong)


def test_no_module_is_over_700_lines() -> None:
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines (split them by job): {long}"


def test_importing_the_package_does_not_load_matplotlib() -> None:
    code = "import sys, mobset_campaign as mc; print('matplotlib' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert loaded.stdout.strip() == "False", loaded.stderr
    code += "; mc.plot_funnel; print('matplotlib' in sys.modules)"
    drawn = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert drawn.stdout.split() == ["False", "True"], drawn.stderr


def test_every_state_has_a_label_a_colour_and_a_place_in_the_schema() -> None:
    assert list(states.STATE_LABELS) != list(states.ROW_STATES)  # a report's order, not the flow's
    assert set(states.STATE_LABELS) == set(states.STATE_COLOURS) == set(states.ROW_STATES)
    assert set(states.ACCEPTED_STATES) | set(states.ANSWERABLE_STATES) < set(states.MESSAGE_STATES)
    pattern = r"state\s+TEXT NOT NULL DEFAULT 'pending' CHECK \(state IN\s*\(([^)]*)\)"
    checks = [c for _, _, sql in MIGRATIONS for c in re.findall(pattern, sql)]
    assert checks, "no migration defines the messages' states"
    assert re.findall(r"'(\w+)'", checks[-1]) == list(states.MESSAGE_STATES)  # the latest one


def test_no_state_list_is_written_twice() -> None:
    """A tuple or set of two or more state names outside states.py is a second copy."""
    names = set(states.ROW_STATES)
    copies = []
    for module, path in _modules().items():
        if module in ("states", "ledger._schema"):
            continue
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Tuple | ast.List | ast.Set):
                items = [e.value for e in node.elts if isinstance(e, ast.Constant)]
                if len(items) >= 2 and len(items) == len(node.elts) and set(items) <= names:
                    copies.append(f"{module}:{node.lineno} {items}")
    assert not copies, "\n".join(copies)


def test_the_package_raises_only_its_own_errors() -> None:
    """A builtin exception may be raised only where the same function catches it."""
    builtin_errors = {
        name
        for name in dir(builtins)
        if isinstance(getattr(builtins, name), type)
        and issubclass(getattr(builtins, name), Exception)
    }
    loose = []
    for module, path in _modules().items():
        for func in ast.walk(_tree(path)):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if not isinstance(node, ast.Raise) or node.exc is None:
                    continue
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                name = exc.id if isinstance(exc, ast.Name) else None
                if func.name == "__getattr__" and name == "AttributeError":
                    continue  # the protocol of a module's or class's __getattr__
                if name in builtin_errors and not _caught_around(func, node, name):
                    loose.append(f"{module}.{func.name}:{node.lineno} raises {name}")
    assert not loose, "\n".join(loose)


def _caught_around(func: ast.AST, raise_node: ast.Raise, name: str) -> bool:
    kind = getattr(builtins, name)
    for node in ast.walk(func):
        if not isinstance(node, ast.Try):
            continue
        inside = any(raise_node is sub for stmt in node.body for sub in ast.walk(stmt))
        if not inside:
            continue
        for handler in node.handlers:
            caught = handler.type
            names = (
                [e.id for e in caught.elts if isinstance(e, ast.Name)]
                if isinstance(caught, ast.Tuple)
                else [caught.id]
                if isinstance(caught, ast.Name)
                else []
            )
            if any(issubclass(kind, getattr(builtins, n, ())) for n in names if hasattr(builtins, n)):
                return True
    return False


def test_the_simulator_bills_by_its_own_reading() -> None:
    """No simulator module reaches the package's counting code, directly or through another
    module: a test comparing the estimate with the simulator's billing would compare the
    estimator with itself (STYLE: the simulator bills by its own reading of the vendor text)."""
    graph = _graph()
    counting = {"segments", "estimate", "render", "rows", "checks", "templates"}
    reached: dict[str, str] = {}
    for module in (m for m in graph if _family(m) == "simulator"):
        todo, seen = [module], {module}
        while todo:
            for dep in graph.get(todo.pop(), {}):
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        for dep in seen & counting:
            reached[f"{module} -> {dep}"] = dep
    assert not reached, "the simulator reaches counting code: " + ", ".join(sorted(reached))
