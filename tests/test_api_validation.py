"""Every Python API entry validates its arguments: a wrong one is a SymError
located at the caller's line, with the entry's signature in a note — never a
KeyError, a TypeError or an argument silently dropped."""
from pathlib import Path

import numpy as np
import pytest

import dsl

HERE = Path(__file__).resolve()
F32 = np.float32
PROGRAM = """\
shared W: f32[3] = zeros()
option rate = 0.5

def train(x: f32[n, 3], y: i32[n]) -> f32:
    cost = sum(x @ W) + rate * f32(sum(y))
    W <- W - 0.1 * grad(cost, W)
    return cost
"""
X, Y = np.ones((2, 3), F32), np.ones(2, np.int32)


def raises(code, fn, *args, **kwargs) -> str:
    with pytest.raises(dsl.SymError) as info:
        fn(*args, **kwargs)
    d = info.value.diagnostics[0]
    assert d.code == code, str(info.value)
    return str(info.value)


def with_signature(text: str, signature: str) -> str:
    assert f"= note: signature: {signature}" in text, text
    return text


@pytest.fixture
def program(tmp_path):
    path = tmp_path / "m.sym"
    path.write_text(PROGRAM)
    return dsl.load(path, backend="numpy")


# ---- calls of a program's defs ---------------------------------------------------------------
SIG = "def train(x: f32[n, 3], y: i32[n]) -> f32"


def test_an_extra_argument_is_an_error_not_ignored(program):
    text = raises("E0103", program.train, X, Y, Y)
    assert "`train` takes 2 arguments, got 3" in text
    with_signature(text, SIG)
    assert f"{HERE}:" in text        # located at the caller's line
    np.testing.assert_array_equal(program.W, np.zeros(3))       # nothing ran


def test_a_missing_argument_is_named(program):
    text = raises("E0103", program.train, X)
    assert "`train` is missing 1 argument: `y`" in text
    with_signature(text, SIG)


def test_keyword_arguments_bind_by_parameter_name(program):
    m1 = dsl.compile(PROGRAM, backend="numpy")
    m2 = dsl.compile(PROGRAM, backend="numpy")
    assert m1.train(X, Y) == m2.train(y=Y, x=X)
    np.testing.assert_array_equal(m1.W, m2.W)
    with_signature(raises("E0104", program.train, X, Y, z=1), SIG)
    assert "did you mean `y`?" in raises("E0104", program.train, X, yy=Y)
    assert "`train` got argument `x` twice" in raises("E0104", program.train, X, x=X)


def test_runtime_argument_errors_are_located_at_the_callers_line(program):
    text = raises("E0604", program.train, X.astype(np.float64), Y)
    assert f"{HERE}:" in text


def test_explain_of_an_unknown_def(program):
    text = raises("E0906", program.explain, "trian")
    assert "the program has no def `trian`" in text and "did you mean `train`?" in text
    with_signature(text, "Program.explain(name=None, after=None, kernels=False)")
    raises("E0906", program.explain, 5)


# ---- dsl.load and dsl.compile -------------------------------------------------------------
LOAD = "dsl.load(path, backend=None"
COMPILE = "dsl.compile(source, name='<inline>'"


@pytest.mark.parametrize("kwargs, message", [
    ({"options": [1]}, "`options` maps option names to values, got a list"),
    ({"options": {1: 2}}, "`options` maps option names to values, got a dict with a key that is not a string"),
    ({"rewrites": "no"}, "`rewrites` is True or False, got a str"),
    ({"nan_check": None}, "`nan_check` is True or False, got None"),
    ({"progress": "yes"}, "`progress` is None, True or False, got a str"),
    ({"out": 5}, "`out` is a text stream (with a `write` method), got an int"),
])
def test_load_and_compile_check_their_keyword_arguments(tmp_path, kwargs, message):
    path = tmp_path / "m.sym"
    path.write_text(PROGRAM)
    text = raises("E0905", dsl.load, path, backend="numpy", **kwargs)
    assert message in with_signature(text, LOAD)
    text = raises("E0905", dsl.compile, PROGRAM, backend="numpy", **kwargs)
    assert message in with_signature(text, COMPILE)


def test_options_take_numpy_scalars():
    m = dsl.compile(PROGRAM, backend="numpy", options={"rate": np.float32(2.0)})
    assert m.train(X, Y) == 4.0


def test_load_of_a_path_that_is_not_a_path_or_a_missing_file(tmp_path):
    for bad in (5, None, ["m.sym"]):
        assert "`path` is a file path" in with_signature(raises("E0905", dsl.load, bad), LOAD)
    text = raises("E0902", dsl.load, tmp_path / "missing.sym")
    assert "No such file or directory" in text and "relative paths start at" in text
    assert f"{HERE}:" in text
    raises("E0902", dsl.load, tmp_path)


def test_compile_of_something_that_is_not_text():
    assert "use `dsl.load(path)`" in with_signature(raises("E0905", dsl.compile, b"print(1)"), COMPILE)
    raises("E0905", dsl.compile, "print(1)", 5)


def test_a_device_is_for_opencl(tmp_path):
    text = raises("E0904", dsl.compile, PROGRAM, backend="numpy", device="0:0")
    assert "device `0:0` names an OpenCL device, but the backend is numpy" in text
    raises("E0905", dsl.compile, PROGRAM, backend="opencl", device=0)
    x = dsl.vector("x")
    raises("E0904", dsl.function, [x], x * 2, backend="numpy", device="cpu")


# ---- dsl.function and the tensor entries ------------------------------------------------------
FUNCTION = "dsl.function(inputs, outputs=None, updates=None"


def test_function_checks_the_kinds_of_its_arguments():
    x = dsl.vector("x")
    W = dsl.shared(np.zeros(3, F32), name="W")
    for inputs in (5, "x", {x}):
        assert "`inputs` is a list of input variables" in with_signature(
            raises("E1005", dsl.function, inputs, x), FUNCTION)
    assert "`updates` is a list of (shared, new value) pairs, got an int" in with_signature(
        raises("E1005", dsl.function, [x], x, updates=5), FUNCTION)
    raises("E0501", dsl.function, [x], x, updates=[W])
    raises("E0215", dsl.function, [x], x, updates=[(W, "a")])
    raises("E0215", dsl.function, [x], "a")
    assert "`name` is an identifier, got 'a b'" in raises("E1005", dsl.function, [x], x, name="a b")
    raises("E1005", dsl.function, [x], x, name=5)
    raises("E1005", dsl.function, [x], x, rewrites="yes")
    text = with_signature(raises("E0104", dsl.function, [x], x, givens=[(x, x)]), FUNCTION)
    assert "`dsl.function` has no argument `givens`" in text
    assert "did you mean `updates`?" in raises("E0104", dsl.function, [x], x, update=[])


def test_compiled_function_calls():
    x, y = dsl.vector("x"), dsl.vector("y")
    f = dsl.function([x, y], x + y, backend="numpy", name="add")
    signature = f.signature
    assert signature.startswith("def add(x: f32[n") and ", y: f32[n" in signature
    np.testing.assert_array_equal(f(y=[1.0], x=[2.0]), [3.0])
    with_signature(raises("E0103", f, [1.0], [1.0], [1.0]), signature)
    assert "`add` is missing 1 argument: `y`" in raises("E0103", f, [1.0])
    text = raises("E0604", f, [[1.0], [1.0, 2.0]], [1.0])
    assert "argument `x` of `add` must be f32" in text and "rows have different lengths" in text


def test_tensor_entries_check_their_arguments():
    raises("E1005", dsl.tensor, "t", shape=5)
    raises("E1005", dsl.tensor, "t", shape="nm")
    raises("E1005", dsl.shared, np.zeros(2, F32), name=5)
    x = dsl.vector("x")
    assert "`eval` takes a dict of input variables to values, got an int" in raises(
        "E1005", (x * 2).eval, 5)


def test_index_errors_have_the_same_text_as_in_a_sym_def():
    p, y = dsl.matrix("p"), dsl.ivector("y")
    f = dsl.function([p, y], p[dsl.arange(y.shape[0]), y], backend="numpy", name="pick")
    text = raises("E0603", f, np.zeros((2, 3), F32), np.array([0, 5], np.int32))
    m = dsl.compile("def pick(p: f32[n, 3], y: i32[n]) -> f32[n]:\n    return p[arange(n), y]\n",
                    backend="numpy")
    sym_text = raises("E0603", m.pick, np.zeros((2, 3), F32), np.array([0, 5], np.int32))
    first = "error[E0603]: index 5 is out of range for axis 1 of size 3 (in a call of `pick`)"
    assert text.splitlines()[0] == sym_text.splitlines()[0] == first
    assert "= note: called here" in text and "= help: indices come from the data here" in text


def test_an_unnamed_expression_is_not_named_like_a_variable():
    x, c = dsl.vector("x"), dsl.scalar("c")
    text = raises("E0403", dsl.grad, dsl.sum(x), c * 2)
    assert "the cost does not depend on `mul(...)`" in text
    raises("E0501", dsl.function, [x], x, updates=[(x * 2, x)])
    assert "`mul(...)` is not a shared value" in raises("E0501", dsl.function, [x], x,
                                                         updates=[(x * 2, x)])


def test_a_loaded_program_is_not_pickled_on_any_backend(tmp_path):
    import pickle
    path = tmp_path / "p.sym"
    path.write_text("shared W: f32[2] = zeros()\n")
    m = dsl.load(str(path), backend="numpy")
    with pytest.raises(dsl.SymError) as info:
        pickle.dumps(m)
    assert info.value.diagnostics[0].code == "E0907"
    assert "a loaded program cannot be pickled" in str(info.value)


def test_a_numpy_function_pickles_and_runs_after():
    import pickle
    x = dsl.vector("x")
    f = dsl.function([x], x * 2.0, backend="numpy")
    g = pickle.loads(pickle.dumps(f))
    np.testing.assert_array_equal(g(np.array([1.0, 2.0], np.float32)), [2.0, 4.0])
