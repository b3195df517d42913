"""Imports, host functions (`proc`) and groups of shared values: what the
golden diagnostics in tests/errors/modules/ do not show, the behaviour."""
import io
import textwrap

import numpy as np
import pytest

import dsl
from dsl import cli
from dsl.diagnostics import SymError
from dsl.program import check_source


def write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def run(path, **options) -> str:
    out = io.StringIO()
    dsl.load(path, backend="numpy", out=out, progress=False, options=options or None).run()
    return out.getvalue()


# ---- imports ----------------------------------------------------------------------
def test_import_relative_to_the_importing_file_nested(tmp_path):
    write(tmp_path, "lib/inner.sym", """
        option scale = 3.0
        def triple(x: f32[n]) -> f32[n]:
            return scale * x
    """)
    write(tmp_path, "lib/outer.sym", """
        import "inner.sym"
        proc total(v):
            return sum(triple(v))
    """)
    main = write(tmp_path, "main.sym", """
        import "lib/outer.sym"
        print(total(f32([1.0, 2.0])))
    """)
    assert run(main) == "9.0\n"
    assert run(main, scale=1.0) == "3.0\n"       # an imported option is set like any


def test_a_file_imported_twice_is_imported_once(tmp_path):
    write(tmp_path, "leaf.sym", "shared W: f32[2] = ones()\n")
    write(tmp_path, "mid.sym", 'import "leaf.sym"\n')
    main = write(tmp_path, "main.sym", 'import "leaf.sym"\nimport "mid.sym"\nprint(W)\n')
    prog = check_source(main.read_text(), str(main))
    assert not prog.diagnostics
    assert list(prog.shareds) == ["W"]


def test_library_modules_by_name():
    prog = check_source("import optim\nimport training\nimport layers\n", "main.sym")
    assert not prog.diagnostics
    assert {"sgd", "adam", "dense", "nll_of"} <= set(prog.defs) | {
        d.name.id for d in prog.ast.items if hasattr(d, "body") and hasattr(d, "ret")}
    assert {"early_stopping", "mean_error"} <= set(prog.procs)


def test_check_explain_and_trace_see_through_imports(tmp_path, capsys):
    write(tmp_path, "lib.sym", "def double(x: f32[n]) -> f32[n]:\n    return 2.0 * x\n")
    main = write(tmp_path, "main.sym", 'import "lib.sym"\nprint(double(f32([1.0])))\n')
    assert cli.main(["check", str(main)]) == 0
    assert cli.main(["explain", str(main), "double", "--backend", "numpy"]) == 0
    assert "def double(x: f32[n]) -> f32[n]" in capsys.readouterr().out
    assert cli.main(["trace", str(main), "--def", "double"]) == 0
    bad = write(tmp_path, "bad.sym", 'import "missing.sym"\n')
    assert cli.main(["check", str(bad)]) == 1
    assert "E1101" in capsys.readouterr().err


def test_run_time_error_in_an_imported_file_names_the_import(tmp_path, capsys):
    write(tmp_path, "lib.sym", "proc pick(v, i):\n    return v[i]\n")
    main = write(tmp_path, "main.sym", 'import "lib.sym"\nfor i in range(3):\n    print(pick(f32([1.0]), i))\n')
    with pytest.raises(SymError) as info:
        run(main)
    text = str(info.value)
    assert "E0603" in text and "in this call of `pick`" in text and "is imported here" in text


# ---- host functions -------------------------------------------------------------
def test_proc_returns_and_takes_defs_and_procs(tmp_path):
    main = write(tmp_path, "main.sym", """
        def square(x: f32[n]) -> f32[n]:
            return x * x
        proc apply_twice(f, v):
            return f(f(v))
        proc both(g, h, v):
            return g(h, v), len(v)
        def total(x: f32[n]) -> f32:
            return sum(x)
        a, k = both(apply_twice, square, f32([2.0, 3.0]))
        print(total(a), k)
    """)
    prog = check_source(main.read_text(), str(main))
    assert not prog.errors, [d.render() for d in prog.errors]
    assert run(main) == "97.0 2\n"


def test_proc_recursion_with_a_base_case(tmp_path):
    main = write(tmp_path, "main.sym", """
        proc fact(k):
            if k <= 1:
                return 1
            return k * fact(k - 1)
        print(fact(10))
    """)
    assert run(main) == "3628800\n"


def test_proc_variables_are_its_own(tmp_path):
    """A parameter may take a declared name; the program's variables are
    not seen inside, nor the proc's outside."""
    main = write(tmp_path, "main.sym", """
        option rate = 2.0
        proc scaled(rate, v):
            inner = rate * v
            return inner
        outer = 5.0
        print(scaled(3.0, 1.0), rate)
        print(outer)
    """)
    assert run(main) == "3.0 2.0\n5.0\n"
    hidden = write(tmp_path, "hidden.sym", "outer = 1\nproc f():\n    return outer\nprint(f())\n")
    prog = check_source(hidden.read_text(), str(hidden))
    assert [d.code for d in prog.errors] == ["E0101"]


def test_a_proc_statement_call_of_a_def_computes_only_its_updates(tmp_path):
    main = write(tmp_path, "main.sym", """
        shared W: f32[2] = ones()
        def step(x: f32[2]) -> f32:
            cost = sum(W * x)
            W <- W - 0.5 * grad(cost, W)
            return cost
        proc train(f, v):
            f(v)
            f(v)
        train(step, f32([1.0, 2.0]))
        print(W)
    """)
    assert run(main) == "[ 0. -1.]\n"


# ---- groups -------------------------------------------------------------------------
GROUPS = """
shared W: f32[3, 2] = full(1.0)
shared b: f32[2] = zeros()
shared params = [W, b]
shared velocity like params = full(0.5)
"""


def test_grad_of_a_list_gives_every_gradient():
    m = dsl.compile(GROUPS + textwrap.dedent("""
        def grads(x: f32[n, 3]) -> (f32[3, 2], f32[2]):
            cost = sum(x @ W + b)
            gW, gb = grad(cost, [W, b])
            return gW, gb
    """), backend="numpy")
    gW, gb = m.grads(np.ones((4, 3), np.float32))
    np.testing.assert_allclose(gW, np.full((3, 2), 4.0))
    np.testing.assert_allclose(gb, np.full(2, 4.0))


def test_like_declares_state_shaped_like_each_member():
    prog = check_source(GROUPS, "g.sym")
    assert not prog.diagnostics
    assert prog.groups == {"params": ("W", "b"), "velocity": ("velocity_W", "velocity_b")}
    assert str(prog.shareds["velocity_W"]) == "f32[3, 2]" and str(prog.shareds["velocity_b"]) == "f32[2]"
    m = dsl.compile(GROUPS, backend="numpy")
    np.testing.assert_array_equal(m.velocity_W, np.full((3, 2), 0.5, np.float32))


def test_a_rule_written_once_updates_every_member_with_a_local_group():
    m = dsl.compile(GROUPS + textwrap.dedent("""
        def train(x: f32[n, 3]) -> f32:
            cost = sum(x @ W + b)
            g = grad(cost, params)
            velocity <- 0.5 * velocity - g
            params <- params + 0.5 * velocity - g
            return cost
    """), backend="numpy")
    m.train(np.ones((1, 3), np.float32))
    np.testing.assert_allclose(m.velocity_W, np.full((3, 2), -0.75))
    np.testing.assert_allclose(m.W, np.full((3, 2), 0.25))
    np.testing.assert_allclose(m.b, np.full(2, -0.75))
    assert m.signatures["train"] == "def train(x: f32[n, 3]) -> f32"


def test_a_def_updating_state_joins_its_updates_only_as_a_statement():
    base = GROUPS + textwrap.dedent("""
        def decay(cost: f32, params: group) -> f32:
            params <- 0.5 * params
            return cost
    """)
    ok = check_source(base + "def train(x: f32[n, 3]) -> f32:\n    cost = sum(x @ W)\n"
                      "    decay(cost, params)\n    return cost\n", "g.sym")
    assert not ok.errors and ok.defs["train"].updates == {"W", "b"}
    twice = check_source(base + "def train(x: f32[n, 3]) -> f32:\n    cost = sum(x @ W)\n"
                         "    decay(cost, params)\n    W <- W\n    return cost\n", "g.sym")
    assert [d.code for d in twice.errors] == ["E0505"]
    inside = check_source(base + "def train(x: f32[n, 3]) -> f32:\n"
                          "    return decay(sum(x @ W), params)\n", "g.sym")
    assert [d.code for d in inside.errors] == ["E0504"]
