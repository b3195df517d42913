"""dsl/editor.py, what the language server answers, in-process."""
from dsl.editor import Analysis

TEXT = """option steps = 3
shared W: f32[4, 2] = zeros()

def pair(x: f32[n, 4]) -> (f32[n, 2], f32):
    h = x @ W
    return h, sum(h)

xs = zeros((5, 4))
a, b = pair(xs)
for i in range(steps):
    print(i, b)
"""


def pos(needle, offset=0, nth=0):
    for i, line in enumerate(TEXT.split("\n")):
        if needle in line:
            if nth == 0:
                return i + 1, line.index(needle) + 1 + offset
            nth -= 1
    raise AssertionError(needle)


A = Analysis(TEXT, "t.sym")


def test_hover_on_declarations_and_host_values():
    assert A.hover(*pos("x: f32[n, 4]")) == "x: f32[n, 4]"                  # a parameter
    assert A.hover(*pos("h = x")) == "h: f32[n, 2]"                         # a local, where assigned
    assert A.hover(*pos("a, b")) == "a: f32[5, 2]"                          # unpacked on the host
    assert A.hover(*pos("b = pair")) == "b: float"                           # a host number
    assert A.hover(*pos("xs = ")) == "xs: f32[5, 4]"
    assert A.hover(*pos("x @ W", 2)) == "f32[n, 2]"                         # an operator: its expression
    assert A.hover(*pos("steps = 3")) == "option steps = 3 (int)"
    assert A.hover(*pos("range(")) == "range(a, b=none, step=none)\nintegers from `a` (or 0) up to `b`"
    assert A.hover(*pos("def pair", 4)) == "def pair(x: f32[n, 4]) -> (f32[n, 2], f32)"
    assert A.hover(*pos("n, 4]")) == "n: a size variable of `pair`"


def test_definition_on_the_host_and_in_defs():
    assert A.definition(*pos("pair(xs)", 5)) == A.definition(*pos("xs = "))
    assert (A.definition(*pos("print(i, b)", 9)).line, A.definition(*pos("print(i, b)", 9)).col) == pos("a, b", 3)
    assert A.definition(*pos("sum(h)", 4)).line == pos("h = x")[0]
    assert A.definition(*pos("x @ W", 4)).line == pos("shared W")[0]
    assert A.definition(*pos("print(i")) is None                            # a builtin


def test_completion_depends_on_the_place():
    in_def = {c.label: c for c in A.completions(*pos("return h"))}
    on_host = {c.label: c for c in A.completions(*pos("print(i"))}
    assert {"x", "h", "n", "W", "steps", "pair", "sum"} <= set(in_def) and "print" not in in_def
    assert {"xs", "a", "b", "print", "batches", "range"} <= set(on_host) and "h" not in on_host
    assert on_host["batches"].detail == "batches(split, size, drop_last=false)"
    assert in_def["def"].kind == "keyword"


def test_outline_and_a_file_that_does_not_parse():
    assert [(s.name, s.kind) for s in A.symbols()] == [("steps", "option"), ("W", "shared"), ("pair", "def")]
    assert A.symbols()[2].span.end_line == pos("return h")[0]
    broken = Analysis(TEXT + "z = (\n", "t.sym")
    assert not broken.parsed and broken.diagnostics[0].code.startswith("E00")


def test_imports_are_seen_through(tmp_path):
    """An error in an imported file is shown at the import line, naming where
    it is; a def of an imported file is found in that file."""
    (tmp_path / "lib.sym").write_text("def f(x: f32[n]) -> f32:\n    return sum(x) + oops\n"
                                      "def g(x: f32[n]) -> f32:\n    return sum(x)\n")
    main = tmp_path / "main.sym"
    text = 'import "lib.sym"\ndef h(x: f32[n]) -> f32:\n    return g(x)\n'
    main.write_text(text)
    a = Analysis(text, str(main))
    (d,) = [d for d in a.diagnostics if d.code == "E0101"]
    assert (d.span.file, d.span.line) == (str(main), 1)
    assert d.message == f"in {tmp_path / 'lib.sym'}:2:21: unknown name `oops`"
    span = a.definition(3, 12)
    assert (span.file, span.line) == (str(tmp_path / "lib.sym"), 3)
