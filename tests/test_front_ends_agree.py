"""For the same mistake, a `.sym` program and the tensor API give the same
code and the same message and help (the location differs: a .sym line, a
Python line)."""
import numpy as np
import pytest

import dsl
from dsl.program import check_source

F32 = np.float32


def sym_error(body: str, header: str = ""):
    prog = check_source(header + body, "pair.sym")
    assert prog.diagnostics, "the .sym program checked"
    d = prog.diagnostics[0]
    return d.code, d.message, d.hint


def api_error(fn):
    with pytest.raises(dsl.SymError) as info:
        fn()
    d = info.value.diagnostics[0]
    return d.code, d.message, d.hint


def broadcasting():
    a, b = dsl.tensor("a", shape=("n", 3)), dsl.tensor("b", shape=("n", 4))
    return a + b


def matmul():
    return dsl.dot(dsl.tensor("a", shape=("n", 3)), dsl.tensor("b", shape=(4, "k")))


def dtype_mix():
    return dsl.tensor("a", shape=("n",)) + dsl.tensor("b", "f64", shape=("n",))


def boolean_mask():
    a = dsl.tensor("a", shape=("n",))
    return a[a > 0]


def grad_of_a_non_scalar():
    a = dsl.tensor("a", shape=("n",))
    return dsl.grad(a * 2.0, a)


def grad_wrt_an_integer():
    a, k = dsl.tensor("a", shape=("n",)), dsl.tensor("k", "i32", shape=())
    return dsl.grad(dsl.sum(a), k)


def update_shape():
    W = dsl.shared(np.zeros((2, 3), F32), name="W")
    return dsl.function([], [], updates=[(W, dsl.sum(W))])


def update_dtype():
    W = dsl.shared(np.zeros((2, 3), F32), name="W")
    return dsl.function([], [], updates=[(W, dsl.f64(W))])


def conv_channels():
    return dsl.conv2d(dsl.tensor("x", shape=("n", 1, 28, 28)), dsl.tensor("w", shape=(20, 3, 5, 5)))


def conv_filter_too_large():
    return dsl.conv2d(dsl.tensor("x", shape=("n", 1, 4, 28)), dsl.tensor("w", shape=(8, 1, 5, 5)))


def pool_window_too_large():
    return dsl.pool_2d(dsl.tensor("x", shape=("n", 8, 3, 3)), (4, 4))


def conv_mode():
    return dsl.conv2d(dsl.tensor("x", shape=("n", 1, 28, 28)), dsl.tensor("w", shape=(8, 1, 5, 5)),
                      border_mode="same")


PAIRS = {
    "broadcasting": ("def f(a: f32[n, 3], b: f32[n, 4]) -> f32[n, 3]:\n    return a + b\n",
                     broadcasting),
    "matmul": ("def f(a: f32[n, 3], b: f32[4, k]) -> f32[n, k]:\n    return a @ b\n", matmul),
    "dtype mix": ("def f(a: f32[n], b: f64[n]) -> f32[n]:\n    return a + b\n", dtype_mix),
    "boolean mask": ("def f(a: f32[n]) -> f32[n]:\n    return a[a > 0]\n", boolean_mask),
    "grad of a non-scalar": ("def f(a: f32[n]) -> f32[n]:\n    return grad(a * 2.0, a)\n",
                             grad_of_a_non_scalar),
    "grad wrt an integer": ("def f(a: f32[n], k: i32) -> f32:\n    return grad(sum(a), k)\n",
                            grad_wrt_an_integer),
    "update shape": ("shared W: f32[2, 3] = zeros()\n"
                     "def f() -> f32:\n    W <- sum(W)\n    return 0.0\n", update_shape),
    "update dtype": ("shared W: f32[2, 3] = zeros()\n"
                     "def f() -> f32:\n    W <- f64(W)\n    return 0.0\n", update_dtype),
    "conv channels": ("def f(x: f32[n, 1, 28, 28], w: f32[20, 3, 5, 5]) -> f32:\n"
                      "    return sum(conv2d(x, w))\n", conv_channels),
    "conv filter too large": ("def f(x: f32[n, 1, 4, 28], w: f32[8, 1, 5, 5]) -> f32:\n"
                              "    return sum(conv2d(x, w))\n", conv_filter_too_large),
    "pool window too large": ("def f(x: f32[n, 8, 3, 3]) -> f32:\n"
                              "    return sum(max_pool2d(x, (4, 4)))\n", pool_window_too_large),
    "conv mode": ("def f(x: f32[n, 1, 28, 28], w: f32[8, 1, 5, 5]) -> f32:\n"
                  "    return sum(conv2d(x, w, mode=\"same\"))\n", conv_mode),
}


@pytest.mark.parametrize("name", PAIRS)
def test_same_mistake_same_diagnostic(name):
    src, fn = PAIRS[name]
    assert api_error(fn) == sym_error(src)
