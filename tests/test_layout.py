"""The package's layering, as the README's "How it is built" describes it, checked from the source: the pure
protocol imports nothing outside itself, SimPy stays in the simulated world, and no two modules import each other
(counting every import: at the top, inside functions and for type checking only)."""

from __future__ import annotations

import ast
from pathlib import Path

SIM = Path(__file__).resolve().parent.parent / "sim"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SIM.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Module -> every module it imports (absolute names; relative imports resolved)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(SIM.rglob("*.py")):
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    target = f"{base}.{node.module}" if node.module else base
                else:
                    target = node.module or ""
                found.add(target)
                # ``from sim.check import safety`` imports the module sim.check.safety
                found.update(
                    f"{target}.{a.name}"
                    for a in node.names
                    if (SIM.parent / f"{target}.{a.name}".replace(".", "/")).with_suffix(".py").exists()
                )
        graph[name] = found
    return graph


GRAPH = _imports()


def test_the_protocol_imports_nothing_outside_itself() -> None:
    for module, deps in GRAPH.items():
        if module.startswith("sim.raft"):
            outside = {d for d in deps if d.startswith("sim") and not d.startswith("sim.raft")}
            assert not outside, f"{module} imports {sorted(outside)}"
            assert not any(d.split(".")[0] == "simpy" for d in deps), f"{module} imports SimPy"


def test_simpy_only_in_the_world_and_the_benchmark() -> None:
    users = sorted(m for m, deps in GRAPH.items() if any(d.split(".")[0] == "simpy" for d in deps))
    assert users and all(m.startswith("sim.world.") or m == "sim.experiments.bench" for m in users), users


def test_no_import_cycles() -> None:
    """Edges into a package's ``__init__`` (its re-exported API) from the package's own modules are not counted:
    Python runs a package's ``__init__`` before any of its modules, whatever they import."""
    modules = set(GRAPH)
    edges = {
        m: {d for d in deps if d in modules and d != m and not (m.startswith(d + ".") and d in modules)}
        for m, deps in GRAPH.items()
    }
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(edges[m]):
            if state.get(d) == 1:
                cycle = [*stack[stack.index(d) :], d]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(modules):
        if m not in state:
            visit(m)
