"""dsl/errors.py is the one place a diagnostic code is written: one
constructor per code, the codes exactly those docs/errors.md documents, and
no code literal anywhere else in dsl/, runtime/ or semantics/ (every other
module calls the constructor named for the mistake)."""
from __future__ import annotations

import ast
import re
import string
from pathlib import Path

from test_errors import documented_codes

REPO = Path(__file__).resolve().parent.parent
CATALOG = REPO / "dsl" / "errors.py"
FOLDERS = ("dsl", "runtime", "semantics")
CODE = re.compile(r"[EW]\d{4}")


def sources() -> dict[str, ast.Module]:
    return {p.relative_to(REPO).as_posix(): ast.parse(p.read_text(encoding="utf-8"))
            for folder in FOLDERS for p in sorted((REPO / folder).rglob("*.py"))}


SOURCES = sources()


def code_literals(tree: ast.AST) -> list[tuple[str, int]]:
    """(code, line) of each string that is a code (`"E0101"`) or renders
    one (`f"error[E0221]: ..."`)."""
    found, skipped = [], docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node not in skipped:
            if CODE.fullmatch(node.value):
                found.append((node.value, node.lineno))
            found += [(c, node.lineno) for c in re.findall(r"\[([EW]\d{4})\]", node.value)]
    return found


def docstrings(tree: ast.AST) -> set[ast.AST]:
    """Docstrings, whose examples may show a rendered diagnostic."""
    return {node.body[0].value for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body
            and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}


def catalog_codes() -> dict[str, str]:
    """The constructor of each code: the function of dsl/errors.py that writes it."""
    owners: dict[str, list[str]] = {}
    for fn in SOURCES["dsl/errors.py"].body:
        if isinstance(fn, ast.FunctionDef):
            for code, _ in code_literals(fn):
                owners.setdefault(code, []).append(fn.name)
    twice = {c: names for c, names in owners.items() if len(set(names)) > 1}
    assert not twice, f"codes with more than one constructor: {twice}"
    return {c: names[0] for c, names in owners.items()}


def test_no_code_outside_the_catalog():
    stray = [f"{path}:{line} writes {code}" for path, tree in SOURCES.items()
             if path != "dsl/errors.py"
             for code, line in code_literals(tree)]
    assert not stray, "call the constructor in dsl/errors.py instead:\n" + "\n".join(stray)


def test_each_constructor_writes_one_code():
    for fn in SOURCES["dsl/errors.py"].body:
        if isinstance(fn, ast.FunctionDef) and not fn.name.startswith("_"):
            codes = {c for c, _ in code_literals(fn)}
            assert len(codes) <= 1, f"{fn.name} writes {sorted(codes)}"


def test_the_catalog_has_exactly_the_documented_codes():
    catalog = set(catalog_codes())
    documented = documented_codes()
    assert not catalog - documented, f"undocumented codes: {sorted(catalog - documented)}"
    missing = documented - catalog
    assert not missing, f"documented codes without a constructor: {sorted(missing)}"


def constructor_calls() -> list[tuple[str, str, int]]:
    """(module path, constructor, line) of each use of a catalog constructor,
    as `errors.NAME` (under any alias of the module) or an imported NAME."""
    names = set(catalog_codes().values())
    calls = []
    for path, tree in SOURCES.items():
        aliases = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                   for a in node.names if a.name == "errors" and (node.module or "") in ("", "dsl")}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr in names
                    and isinstance(node.value, ast.Name) and node.value.id in aliases):
                calls.append((path, node.attr, node.lineno))
            elif isinstance(node, ast.ImportFrom) and (node.module or "").endswith("errors"):
                calls += [(path, a.name, node.lineno) for a in node.names if a.name in names]
    return calls


def test_constructors_are_used():
    used = {name for _, name, _ in constructor_calls()}
    unused = set(catalog_codes().values()) - used
    assert not unused, f"constructors nothing calls: {sorted(unused)}"


# A code's range says which stage emits it (docs/errors.md has the table); a
# code reused by another stage would mean two different errors to users.
RANGE_OWNERS = {"E08": ("runtime/opencl/",), "E10": ("dsl/tensor",)}


def test_code_ranges_belong_to_their_stage():
    code_of = {name: code for code, name in catalog_codes().items()}
    wrong = []
    for path, name, line in constructor_calls():
        owners = RANGE_OWNERS.get(code_of[name][:3])
        if owners and not path.startswith(owners):
            wrong.append(f"{path}:{line} raises {code_of[name]} (the {code_of[name][:3]}xx range "
                         f"is {', '.join(owners)})")
    assert not wrong, "\n".join(wrong)


def test_a_stray_code_is_found():
    tree = ast.parse('raise error("E0101", "x", None)\nprint(f"error[E0221]: {x}")')
    assert [c for c, _ in code_literals(tree)] == ["E0101", "E0221"]


def wording_tables() -> dict[str, dict]:
    """The table of wordings of each constructor that picks one by `kind`:
    {constructor: {kind: (message, hint)}}."""
    tree = SOURCES["dsl/errors.py"]
    tables = {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
              if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)}
    found = {}
    for fn in tree.body:
        if isinstance(fn, ast.FunctionDef):
            used = [n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and n.id in tables]
            if used:
                found[fn.name] = tables[used[0]]
    return found


def fields(text: str | None) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text or "") if name}


def test_each_kind_gets_exactly_its_facts():
    """A call `errors.NAME("kind", ..., fact=...)` names a kind of NAME's table
    and passes the facts its wording uses, no more: a mistake here would
    otherwise show only when that error is raised."""
    tables = wording_tables()
    assert len(tables) >= 60        # the tables are found at all
    wrong = []
    for path, tree in SOURCES.items():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in tables and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in ("errors", "catalog")):
                continue
            where = f"{path}:{node.lineno} {node.func.attr}"
            kind = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
            if kind not in tables[node.func.attr]:
                wrong.append(f"{where}: no kind {kind!r}")
                continue
            message, hint = tables[node.func.attr][kind]
            given = {k.arg for k in node.keywords} - {"hint", "notes"}
            needed = fields(message) | (fields(hint) if hint else set())
            if given != needed:
                wrong.append(f"{where}({kind!r}): facts {sorted(given)}, its wording uses {sorted(needed)}")
    assert not wrong, "\n".join(wrong)
