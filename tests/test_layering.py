"""The rule for imports (docs/architecture.md), checked on every module's
imports, those inside functions included:

    core (dsl/ but the facade) <- semantics/ <- runtime/ <- facade

- the compiler core imports neither runtime/ nor the facade;
- semantics/ (what each op means, the value boundary) imports only the core;
- runtime/ imports the core and semantics/, never the facade or dsl.explain;
- only dsl/api.py, dsl/cli.py and dsl/trace.py import runtime/ (the tensor
  API reaches the backends through dsl.api);
- no module imports itself back through others (no cycles).
"""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("dsl", "semantics", "runtime")
FACADE = {"dsl", "dsl.api", "dsl.cli", "dsl.trace", "dsl.tensor", "dsl.tensor_function", "symcli",
          "dsl.notebook", "dsl.lsp", "dsl.tensor_random"}
RUNTIME_USERS = {"dsl.api", "dsl.cli", "dsl.trace"}
REPORTS = {"dsl.explain"}       # printers the facade uses; the runtime does not call back into them


def module_files() -> dict[str, Path]:
    found = {"symcli": REPO / "symcli.py"}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = module_files()


def imported_modules(module: str, node: ast.AST, is_package: bool) -> set[str]:
    """The project modules an import statement reaches (`from . import ast`
    in dsl/api.py reaches dsl.ast, not the package dsl)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            here = module.split(".") if is_package else module.split(".")[:-1]
            here = here[:len(here) - (node.level - 1)]
            base = ".".join(here + ([base] if base else []))
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
    return {known(n) for n in names} - {None, module}


def known(name: str) -> str | None:
    """The project module `name` is, or lies in; None outside the project."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports() -> list[tuple[str, str, int]]:
    """(importer, imported, line) for every import of a project module."""
    edges = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in sorted(imported_modules(module, node, path.name == "__init__.py")):
                    edges.append((module, target, node.lineno))
    return edges


EDGES = imports()


def where(module: str, line: int) -> str:
    return f"{MODULES[module].relative_to(REPO).as_posix()}:{line}"


def layer(module: str) -> str:
    if module in FACADE:
        return "facade"
    return module.split(".")[0]       # dsl (the core), semantics, runtime


def offending(rule) -> list[str]:
    return sorted(f"{where(a, line)} imports {b}" for a, b, line in EDGES if rule(a, b))


def test_the_core_imports_neither_the_runtime_nor_the_facade():
    assert not offending(lambda a, b: layer(a) == "dsl" and layer(b) in ("runtime", "facade"))


def test_semantics_imports_only_the_core():
    assert not offending(lambda a, b: layer(a) == "semantics" and layer(b) in ("runtime", "facade"))


def test_the_runtime_does_not_call_back_into_the_facade():
    assert not offending(lambda a, b: layer(a) == "runtime" and (layer(b) == "facade" or b in REPORTS))


def test_only_the_api_and_the_cli_import_the_runtime():
    assert not offending(lambda a, b: layer(b) == "runtime" and layer(a) != "runtime"
                         and a not in RUNTIME_USERS)


def test_no_import_cycles():
    graph: dict[str, set[str]] = {}
    for a, b, _ in EDGES:
        graph.setdefault(a, set()).add(b)
    cycles = [c for c in strongly_connected(graph) if len(c) > 1]
    assert not cycles, "modules that import each other: " + "; ".join(
        " <-> ".join(sorted(c)) for c in cycles)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                found.append(component)
    return found


def test_the_checks_see_the_imports():
    """Imports the rules must see, inside a function too: the facade's lazy
    backend import and the core's import of the leaf package."""
    pairs = {(a, b) for a, b, _ in EDGES}
    assert ("dsl.api", "runtime.host") in pairs
    assert ("dsl.rewrites.fold", "semantics.impl") in pairs
    assert ("dsl.api", "dsl.ast") in pairs
    assert ("dsl.api", "dsl") not in pairs


def test_a_cycle_is_found():
    assert strongly_connected({"a": {"b"}, "b": {"a"}}) != [["a"], ["b"]]
    assert sorted(map(sorted, strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}}))) == [["a", "b", "c"]]
