"""Names, static host checks and host builtin arguments.

The host checker and the interpreter share the rules for host builtins'
arguments: a bad argument the checker sees (a literal) and the same one
only the run sees (a value the checker cannot know) give the same message.
"""
import io
import re
import time

import numpy as np
import pytest

import dsl
from dsl.program import check_source

# A value the checker cannot know: a tuple before the loop, `VALUE` in it.
HIDDEN = "v = (0, 0)\nfor _i in range(1):\n    v = {value}\n"

# (the argument's value, a statement using it as `v`)
BAD_CALLS = [
    ("5", "save(v)"),
    ("5", "load(v)"),
    ("5", "data = mnist(v)"),
    ('""', "save(v)"),
    ("5", "print(1, sep=v)"),
    ("3.5", "print(range(v))"),
    ("0", "print(range(1, 10, v))"),
    ("print(1)", "print(1, sep=v)"),
    ("3", "print(len(v))"),
    ('"a"', "print(abs(v))"),
    ("zeros((3,))", "print(max(v, 2))"),
    ("5", "record(v, 1.0)"),
    ("zeros((3,))", 'record("loss", v)'),
    ('"d"', "print(format(1.5, v))"),
    ("zeros((2,))", 'print(format(v, "f"))'),
    ('"a"', "print(sum(v))"),
    ('"a"', "print(f32(v))"),
    ("3", "for x, y in batches(v, 10):\n    print(x)"),
    ('"a"', "print(1 + v)"),
    ('"a"', "print(-v)"),
    ("zeros((3,))", "print(v + zeros((4,)))"),
    ("zeros((3, 4))", "print(v @ zeros((3, 4)))"),
    ("zeros((3,))", "print(v @ 2)"),
    ("(1, 2, 3)", "print(v[5])"),
    ("zeros((3,))", "print(v[5])"),
    ("zeros((3,))", "if v > 0.5:\n    print(v)"),
    ("0", "print(1 / v)"),
    ("10 ** 10", "print(10 ** v)"),
    ("-1.0", "shared W: f32[3] = normal(0.0, v, seed=1)"),
    ("-1", "shared W: f32[3] = normal(0.0, 1.0, seed=v)"),
    ("1.5", "shared W: f32[3] = uniform(0.0, 1.0, seed=v)"),
    ('"a"', "shared W: f32[3] = full(v)"),
    ("0.5", "shared W: i32[3] = full(v)"),
    ("true", "shared W: f32[3] = full(v)"),
    ("3000000000", "shared W: i32[3] = full(v)"),
    ("0.5", "shared W: i32[2] = [1, v]"),
    ("3000000000", "print([1, v])"),
    ("2 ** 61", "print(v * 4)"),
    ("i32([1, 2])", "print(v + 0.5)"),
    ("i32([1, 2])", "print(-v // 0.5)"),
    ("zeros((3,), dtype=bool)", "print(-v)"),
    ("f64([1.0])", "print(v * zeros((1,)))"),
]


def message(diagnostic_text: str) -> tuple:
    """The parts of a rendered diagnostic that do not depend on where it is."""
    lines = diagnostic_text.splitlines()
    return lines[0], [l.strip() for l in lines if l.strip().startswith("= help")]


def run_error(src: str) -> str:
    with pytest.raises(dsl.SymError) as e:
        dsl.compile(src, backend="numpy", out=io.StringIO()).run()
    return str(e.value)


@pytest.mark.parametrize("value,stmt", BAD_CALLS, ids=[s.split("\n")[0] for _, s in BAD_CALLS])
def test_bad_argument_same_error_before_and_during_the_run(value, stmt):
    static = check_source(f"v = {value}\n{stmt}", "static.sym")
    assert static.errors, f"the checker should see {value!r} in {stmt!r}"
    hidden = HIDDEN.format(value=value) + stmt
    assert not check_source(hidden, "hidden.sym").errors, "the hidden value must not be known"
    text = run_error(hidden)
    assert "E9999" not in text and "Traceback" not in text
    assert message(text) == message(static.errors[0].render())


def test_the_checker_reports_before_anything_runs():
    out = io.StringIO()
    src = ("def f(x: f32[n, 784], y: i32[n]) -> f32:\n    return mean(x)\n"
           "print(\"training...\")\n"
           "print(f(zeros((600, 784)), zeros((500,), dtype=i32)))\n")
    with pytest.raises(dsl.SymError) as e:
        dsl.compile(src, backend="numpy", out=out).run()
    assert "E0602" in str(e.value) and ":4:" in str(e.value)
    assert out.getvalue() == ""


def test_size_and_dtype_conflict_both_named():
    prog = check_source("def f(x: f32[n, 784], y: i32[n]) -> f32:\n    return mean(x)\n"
                        "print(f(zeros((600, 784)), zeros((500,))))\n", "t.sym")
    (d,) = prog.errors
    assert d.code == "E0602" and "600" in d.message and "500" in d.message
    assert "i32(...)" in d.hint


def test_shadowing_def_is_called_everywhere(backend):
    src = ("def zeros() -> f32[3]:\n    return [1.0, 2.0, 3.0]\n"
           "shared W: f32[3] = zeros()\n"
           "def sum(x: f32[n]) -> f32:\n    return max(x)\n"
           "def total(x: f32[n]) -> f32:\n    return sum(x) * 2.0\n"
           "print(W, sum(W), total(W))\n")
    prog = check_source(src, "s.sym")
    assert [d.code for d in prog.diagnostics] == ["W0101", "W0101"]
    out = io.StringIO()
    dsl.compile(src, backend=backend, out=out).run()
    assert out.getvalue() == "[1. 2. 3.] 3.0 6.0\n"


def test_values_named_like_builtins_leave_calls_to_builtins(backend):
    src = ("def f(x: f32[n]) -> f32:\n    max = 2.0\n    return max(x) * max\n"
           "max = 3\nprint(max, max(1, 2), f([1.0, 4.0]))\n")
    out = io.StringIO()
    dsl.compile(src, backend=backend, out=out).run()
    assert out.getvalue() == "3 2 8.0\n"


def test_parameter_named_like_updated_shared_is_refused(backend):
    # used to pass the checker and fail on OpenCL with KeyError: 's:W'
    src = ("shared W: f32[3] = zeros()\n"
           "def f(W: f32[3]) -> f32:\n    W <- W * 2.0\n    return sum(W)\n"
           "print(f(ones((3,))))\n")
    with pytest.raises(dsl.SymError) as e:
        dsl.compile(src, backend=backend, out=io.StringIO())
    assert "E0118" in str(e.value) and "E9999" not in str(e.value)


def test_host_builtin_too_large_is_refused_before_allocation():
    text = run_error(HIDDEN.format(value="10 ** 12") + "print(arange(v))\n")
    assert re.search(r"error\[E0221\]: .* 8000000000000 bytes \(7.3 TiB\) for i64\[1000000000000\]", text)


def test_float_overflow_on_the_host_is_inf():
    src = HIDDEN.format(value="10000.0") + "print(2.0 ** v, 1e308 * v, -1e308 * v)\n"
    assert not check_source(src, "f.sym").diagnostics
    out = io.StringIO()
    dsl.compile(src, backend="numpy", out=out).run()
    assert out.getvalue() == "inf inf -inf\n"


def test_power_with_a_huge_exponent_is_refused_before_it_is_computed():
    start = time.perf_counter()
    text = run_error(HIDDEN.format(value="2 ** 62") + "print(10 ** v)\n")
    assert "error[E0218]" in text and "(10 ** 4611686018427387904) does not fit in i64" in text
    assert time.perf_counter() - start < 5.0


def test_huge_integer_is_refused_where_it_is_computed():
    text = run_error(HIDDEN.format(value="2 ** 14000 * 2 ** 1000") + "print(v)\n")
    assert "error[E0218]" in text and ":3:9" in text and "E9999" not in text


def test_list_literals_take_the_dtype_they_meet_statically_too():
    src = ("def f(x: f64[n]) -> f64:\n    return x[0]\n"
           "shared W: f64[2] = [0.1, 0.2]\nprint(f([0.1, 0.2]) == 0.1, W[1] == 0.2, i64([1, 4294967296]))\n")
    assert not check_source(src, "l.sym").diagnostics
    out = io.StringIO()
    dsl.compile(src, backend="numpy", out=out).run()
    assert out.getvalue() == "True True [         1 4294967296]\n"


def test_draws_need_finite_bounds():
    # no literal is infinite (E0218); an overflowing computation is
    text = run_error("shared W: f32[3] = uniform(0.0, 1e308 * 10.0, seed=1)\n")
    assert "error[E0615]: `uniform` needs a finite `high`, got inf" in text


def test_initialiser_arguments_are_bound_by_name():
    m = dsl.compile("shared W: f32[3] = full(value=2.0)\n"
                    "shared V: f32[2] = normal(std=0.5, mean=1.0, seed=3)\n", backend="numpy")
    np.testing.assert_array_equal(m.W, [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(m.V, np.random.RandomState(3).normal(1.0, 0.5, (2,)).astype(np.float32))


def test_unused_variable_warning_skips_loops_and_underscores():
    prog = check_source("a = 1\n_b = 2\nfor i in range(3):\n    c = i\n    print(c)\n", "u.sym")
    assert [(d.code, d.span.line) for d in prog.diagnostics] == [("W0103", 1)]


def test_deeply_nested_loops_check_quickly():
    src, indent = "x = 0\n", ""
    for i in range(20):
        src += f"{indent}for i{i} in range(2):\n"
        indent += "    "
        src += f"{indent}x = x + {i}\n"
    src += f"{indent}print(x)\n"
    start = time.perf_counter()
    assert not check_source(src, "deep.sym").diagnostics
    assert time.perf_counter() - start < 5.0


def test_loop_types_are_joined_not_guessed():
    # `v` is an int on the first pass and a string on the next: no static error
    src = "v = 0\nfor i in range(3):\n    print(v + 1)\n    v = \"x\"\n"
    assert not check_source(src, "j.sym").errors
    assert "E0606" in run_error(src)


def test_bad_value_from_a_def_reads_the_same_on_every_backend(backend):
    # on OpenCL a def's result stays on the device until the host reads it
    src = ("def f(x: f32[n]) -> f32[n]:\n    return x * 2.0\n"
           + HIDDEN.format(value="f([1.0, 2.0])") + "record(\"loss\", v)\n")
    with pytest.raises(dsl.SymError) as e:
        dsl.compile(src, backend=backend, out=io.StringIO()).run()
    text = str(e.value)
    assert text.startswith("error[E0615]: argument `value` of `record` must be a number, "
                           "got a tensor f32[2]"), text
    assert ":6:16" in text


def test_host_abs_of_a_tensor_evaluates_its_argument_once(backend):
    src = ("shared c: f32[2] = zeros()\ndef step() -> f32[2]:\n    c <- c + 1.0\n    return c - 5.0\n"
           "print(abs(step()))\nprint(c)\n")
    out = io.StringIO()
    dsl.compile(src, backend=backend, out=out).run()
    assert out.getvalue() == "[5. 5.]\n[1. 1.]\n"
