"""Values are exact and the backends agree on edge cases.

Literals keep their value and dtype (an f64 literal is never rounded through
f32, an integer that does not fit is an error, never a wrap, a float never
becomes an integer); edge cases (empty reductions, negative integer powers,
division by zero, casts of NaN) give the same value or the same error text on
numpy and OpenCL. docs/language.md ("Edge cases") states the semantics.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import opencl_skip_reason

import dsl
from dsl import cli
from dsl.checker import fold

REPO = Path(__file__).resolve().parent.parent


def run(src: str, backend: str) -> str:
    """The program's output, or its error text after what it printed."""
    out = io.StringIO()
    try:
        dsl.compile(src, backend=backend, out=out).run()
    except dsl.SymError as e:
        return out.getvalue() + "error: " + str(e)
    return out.getvalue()


def error_of(src: str, backend: str = "numpy") -> str:
    with pytest.raises(dsl.SymError) as e:
        dsl.compile(src, backend=backend, out=io.StringIO()).run()
    return str(e.value)


# ---- f64 literals are exact -------------------------------------------------------------
F64_PROGRAMS = {
    "def": "def f(x: f64[n]) -> f64:\n    return f64([0.1])[0] + x[0]\nprint(f(f64([0.0])) == 0.1)\n",
    "host": "print(f64([0.1])[0] == 0.1, f64([[0.1], [0.2]])[1, 0] == 0.2)\n",
    "host variable": "a = 0.1\nprint(f64([a, 0.2])[0] == 0.1)\n",
    "shared literal": "shared W: f64[2] = [0.1, 0.2]\nprint(W[0] == 0.1)\n",
    "shared cast": "shared W: f64[2] = f64([0.1, 0.2])\nprint(W[1] == 0.2)\n",
    "def argument": "def f(x: f64[n]) -> f64:\n    return x[0]\nprint(f([0.1]) == 0.1)\n",
    "operand": "def f(x: f64[2]) -> f64[2]:\n    return x + [0.1, 0.2]\nprint(f(f64([0.0, 0.0]))[0] == 0.1)\n",
    "return": "def f(x: f64[n]) -> f64[2]:\n    return [0.1, 0.2]\nprint(f(f64([0.0]))[0] == 0.1)\n",
    "inlined call": ("def f(x: f64[n]) -> f64:\n    return x[0]\n"
                     "def g(x: f64[n]) -> f64:\n    return f([0.1]) + 0.0 * x[0]\n"
                     "print(g(f64([1.0])) == 0.1)\n"),
}


@pytest.mark.parametrize("where", sorted(F64_PROGRAMS))
def test_f64_literals_are_exact(backend, where):
    assert set(run(F64_PROGRAMS[where], backend).split()) == {"True"}


def test_f64_literals_in_the_tensor_api(backend):
    assert dsl.f64([0.1]).eval()[0] == 0.1
    x = dsl.vector("x", "f64")
    f = dsl.function([x], x + [0.1, 0.2], backend=backend)
    assert np.asarray(f(np.zeros(2)))[0] == 0.1
    assert dsl.shared(np.array([0.1])).get_value()[0] == 0.1


# ---- integers never wrap ------------------------------------------------------------------
def test_i64_list_keeps_large_integers(backend):
    src = ("def f(x: i64[n]) -> i64[2]:\n    return i64([1, 4294967296]) + 0 * x[0]\n"
           "print(i64([1, 4294967296]), f(i64([0])))\n")
    assert run(src, backend) == "[         1 4294967296] [         1 4294967296]\n"


def test_an_i64_index_that_does_not_fit_is_not_index_zero(backend):
    src = "def pick(x: f32[n], i: i64[k]) -> f32[k]:\n    return x[i]\nprint(pick([5.0, 6.0], i64([1, 4294967296])))\n"
    text = error_of(src, backend)
    assert "E0603" in text and "4294967296" in text


def test_i32_list_out_of_range_is_an_error_with_a_hint():
    text = error_of("print([1, 3000000000, 3])\n")
    assert "E0218" in text and "<inline>:1:11" in text and "i64([...])" in text


def test_host_integers_are_i64_and_powers_do_not_hang():
    assert "E0218" in error_of("print(10 ** 10 ** 10)\n")      # refused before it is computed
    assert "E0218" in error_of("print(2 ** 62 + 2 ** 62)\n")
    assert run("print(2 ** 62 + (2 ** 62 - 1))\n", "numpy") == f"{2 ** 63 - 1}\n"


@pytest.mark.parametrize("src", ["print(1e400)\n", "option r = 1e400\n",
                                 "def f(x: f64[n]) -> f64[n]:\n    return x * [1e400]\n"])
def test_a_float_literal_too_large_for_f64_is_not_inf(src):
    assert "E0218" in error_of(src)


def test_float_overflow_is_inf_as_numpy():
    assert run("print(2.0 ** 10000, -(2.0 ** 10001))\n", "numpy") == "inf -inf\n"
    src = "def f(x: f32[n]) -> f32[n]:\n    return x + 2.0 ** 10000\nprint(f(zeros((1,))))\n"
    assert run(src, "numpy") == "[inf]\n"


def test_folding_follows_numpy_floats_and_bounds_integers():
    assert fold("pow", 2.0, 10000) == float("inf")
    assert np.isnan(fold("pow", -8.0, 0.5))
    assert fold("pow", 2, 40) == 2 ** 40
    with pytest.raises(Exception) as e:
        fold("pow", 10, 10 ** 10)
    assert e.value.diagnostic.code == "E0218"


def test_tensor_api_shared_values_never_wrap():
    with pytest.raises(dsl.SymError, match="E0218"):
        dsl.shared([1, 3000000000])
    with pytest.raises(dsl.SymError, match="E0218"):
        dsl.shared([1e39])
    k = dsl.shared(np.zeros((), np.int32))
    with pytest.raises(dsl.SymError, match="E0218"):
        k.set_value(3000000000)
    assert dsl.shared([0.5, 2]).get_value().dtype == np.float32


def test_numbers_passed_to_defs_keep_their_value(backend):
    src = "def f(k: i32, x: f32, b: bool) -> i32:\n    return k\n"
    m = dsl.compile(src, backend=backend)
    with pytest.raises(dsl.SymError, match="E0218"):
        m.f(3000000000, 1.0, True)
    with pytest.raises(dsl.SymError, match="E0218"):
        m.f(1, 1e39, True)
    with pytest.raises(dsl.SymError, match="E0604"):
        m.f(1, 1.0, 2)
    with pytest.raises(dsl.SymError, match="E0604"):
        m.f(True, 1.0, True)
    k = dsl.iscalar("k")
    with pytest.raises(dsl.SymError, match="E0218"):
        dsl.function([k], k + 1, backend=backend)(3000000000)


def test_host_powers_follow_numpy_floats():
    assert run("print((-8) ** 0.5, 2 ** -1)\n", "numpy") == "nan 0.5\n"


# ---- a float never becomes an integer --------------------------------------------------------
@pytest.mark.parametrize("src,code", [
    ("shared W: i32[3] = full(0.5)\n", "E0605"),         # shared initialisers: E0605
    ("h = 0.5\nshared W: i32[3] = full(h)\n", "E0605"),
    ("shared W: i32[3] = normal(0.0, 1.0, seed=1)\n", "E0605"),
    ("shared W: i32[2] = [0.5, 1.0]\n", "E0206"),        # literals, as in a def
    ("def f(x: i32[n]) -> i32[3]:\n    return full((3,), 0.5, dtype=i32)\n", "E0206"),
    ("print(i32([1, 2]) + 0.5)\n", "E0206"),
])
def test_floats_never_fill_integers(src, code):
    assert code in error_of(src)


def test_option_overrides_are_finite_and_in_range():
    src = "option rate = 0.1\noption steps = 3\nprint(rate, steps)\n"
    for bad in ({"rate": "nan"}, {"rate": "1e400"}, {"steps": str(2 ** 63)}):
        with pytest.raises(dsl.SymError, match="E0703"):
            dsl.compile(src, options=bad, backend="numpy")


# ---- the backends agree on edge cases --------------------------------------------------------
EDGES = {
    "empty max": ("def f(x: f32[n]) -> f32:\n    return max(x)\nprint(f(zeros((0,))))\n", "E0219"),
    "empty argmin": ("def f(x: f32[n, m]) -> i32[n]:\n    return argmin(x, axis=1)\n"
                     "print(f(zeros((2, 0))))\n", "E0219"),
    "empty softmax": ("def f(x: f32[n]) -> f32[n]:\n    return softmax(x)\nprint(f(zeros((0,))))\n", "[]\n"),
    "empty logsumexp": ("def f(x: f32[n, m]) -> f32[m]:\n    return logsumexp(x, axis=0)\n"
                        "print(f(zeros((0, 2))))\n", "[-inf -inf]\n"),
    "empty sums": ("def f(x: f32[n]) -> f32:\n    return sum(x) + prod(x)\n"
                   "def g(x: f32[n]) -> f32:\n    return mean(x)\n"
                   "print(f(zeros((0,))), g(zeros((0,))))\n", "1.0 nan\n"),
    "negative power": ("def f(x: i32[n], k: i32[n]) -> i32[n]:\n    return x ** k\n"
                       "print(f([2, 2], [3, -1]))\n", "E0220"),
    "negative power read partly": ("def f(x: i32[n], k: i32[n]) -> i32:\n    return (x ** k)[0]\n"
                                   "print(f([2, 2], [3, -1]))\n", "E0220"),
    "integer powers": ("def f(x: i64[n], k: i64[n]) -> i64[n]:\n    return x ** k\n"
                       "print(f(i64([2, 3, 5]), i64([40, 0, 1])))\n", "[1099511627776             1             5]\n"),
    "division by zero": ("def f(x: i32[n], y: i32[n]) -> i32[n]:\n    return x // y + x % y\n"
                         "print(f([7, -7, -2147483648], [0, 0, -1]))\n", "[          0           0 -2147483648]\n"),
    "float casts": ("def f(x: f32[n]) -> i32[n]:\n    return i32(x) + i32(x / 0.0)\n"
                    "print(f([1.5, -1.5, 3e9]))\n", "[-2147483647  2147483647           0]\n"),
    "one_hot depth": ("def f(y: i32[n]) -> f32[n, 5]:\n    return one_hot(y, -5)\nprint(f([1]))\n", "E0213"),
    "one_hot labels": ("def f(y: i32[n]) -> f32[n, 3]:\n    return one_hot(y, 3)\nprint(f([1, 3]))\n", "E0603"),
    "too large": ("def f(x: f32[n]) -> f32[n, n]:\n    return zeros((n, n)) + x\n"
                  "print(f(zeros((10000000,))))\n", "E0221"),
}


@pytest.mark.parametrize("case", sorted(EDGES))
def test_edge_case_on_numpy(case):
    src, want = EDGES[case]
    got = run(src, "numpy")
    assert (f"[{want}]" in got) if want.startswith("E0") else got == want, got


@pytest.mark.parametrize("case", sorted(EDGES))
def test_edge_case_opencl_agrees_with_numpy(case):
    reason = opencl_skip_reason()
    if reason:
        pytest.skip(reason)
    src, _ = EDGES[case]
    numpy_text, opencl_text = run(src, "numpy"), run(src, "opencl")
    assert opencl_text == numpy_text


def test_mean_of_nothing_warns_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert run("def g(x: f32[n]) -> f32:\n    return mean(x)\nprint(g(zeros((0,))))\n", "numpy") == "nan\n"


def test_size_checks_run_once_per_size(monkeypatch):
    import runtime.numpy.executor as E
    calls = []
    real = E.check_sizes
    monkeypatch.setattr(E, "check_sizes", lambda nodes, sizes: calls.append(sizes) or real(nodes, sizes))
    m = dsl.compile("def f(x: f32[n]) -> f32:\n    return max(x)\n", backend="numpy")
    for _ in range(3):
        m.f(np.ones(4, np.float32))
    m.f(np.ones(5, np.float32))
    assert calls == [{"n": 4}, {"n": 5}]


# ---- the runtime goldens of these checks read the same on OpenCL -------------------------------
OPENCL_GOLDENS = sorted((REPO / "tests" / "errors" / "runtime").glob("value_*.sym"))


@pytest.mark.parametrize("path", OPENCL_GOLDENS, ids=lambda p: p.stem)
def test_runtime_golden_on_opencl(path, capsys, monkeypatch):
    reason = opencl_skip_reason()
    if reason:
        pytest.skip(reason)
    monkeypatch.chdir(REPO)
    capsys.readouterr()
    rc = cli.main(["run", path.relative_to(REPO).as_posix(), "--backend", "opencl", "--no-progress"])
    got, want = capsys.readouterr().err, path.with_suffix(".expected").read_text()
    assert rc == 1
    assert got == want
