"""The numpy reference backend against direct numpy expressions, op by op,
on hypothesis-drawn shapes (1-4 dims of size 1-5, the first often a size
variable) and values. Every result must have its node's exact dtype and shape."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from strategies import broadcast_pair, size_slice_items, slice_items, values

from dsl.build import apply, const
from dsl.ir import toposort
from dsl.types import NUMPY_DTYPE, Size, TensorType, dim_add, dim_mul
from runtime.numpy import (IMPL, BackendBug, Env, IndexOutOfRange, ShapeMismatch,
                           bind_sizes, evaluate)

SETTINGS = settings(max_examples=40, deadline=None)

N = Size.var("n")
FLOAT = ["f32", "f64"]
NUMERIC = ["f32", "f64", "i32", "i64"]
TOL = {"f32": dict(rtol=2e-5, atol=1e-6), "f64": dict(rtol=1e-12, atol=1e-12)}


# ---- helpers ---------------------------------------------------------------
class Graph:
    """Params with concrete values; `run` evaluates and checks types."""

    def __init__(self):
        self.params, self.sizes = {}, {}

    def param(self, value: np.ndarray, dtype: str, var: bool = False):
        name = f"p{len(self.params)}"
        shape = tuple(value.shape)
        if var and shape:
            self.sizes["n"] = shape[0]
            shape = (N,) + shape[1:]
        self.params[name] = np.asarray(value, NUMPY_DTYPE[dtype])
        return apply("param", (), type=TensorType(dtype, shape), name=name), self.params[name]

    def run(self, *roots):
        values = evaluate(list(roots), Env(sizes=dict(self.sizes), params=self.params))
        for r, v in zip(roots, values):
            assert isinstance(v, np.ndarray)
            assert v.dtype == np.dtype(NUMPY_DTYPE[r.type.dtype]), (r.op, v.dtype, r.type)
            assert v.shape == r.type.concrete_shape(self.sizes), (r.op, v.shape, r.type)
        return values[0] if len(values) == 1 else values


def close(got, want, dtype):
    if dtype in TOL:
        np.testing.assert_allclose(got, want, **TOL[dtype])
    else:
        np.testing.assert_array_equal(got, want)


shapes = st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)
seeds = st.integers(0, 2**32 - 1)


# ---- elementwise -----------------------------------------------------------
UNARY_FLOAT = {
    "exp": (np.exp, -3, 3), "log": (np.log, 0.1, 5), "log1p": (np.log1p, -0.9, 5),
    "log2": (np.log2, 0.1, 5),
    "sqrt": (np.sqrt, 0, 5), "tanh": (np.tanh, -3, 3),
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), -6, 6),
    "softplus": (lambda x: np.log(1 + np.exp(x)), -6, 6),
    "sin": (np.sin, -4, 4), "cos": (np.cos, -4, 4),
}


@pytest.mark.parametrize("op", sorted(UNARY_FLOAT))
@SETTINGS
@given(shape=shapes, seed=seeds, dtype=st.sampled_from(FLOAT), var=st.booleans())
def test_unary_float(op, shape, seed, dtype, var):
    fn, lo, hi = UNARY_FLOAT[op]
    g = Graph()
    x, xv = g.param(values(np.random.default_rng(seed), shape, dtype, lo, hi), dtype, var)
    close(g.run(apply(op, (x,))), fn(xv.astype(np.float64)), dtype)


UNARY_NUMERIC = {"neg": np.negative, "abs": np.abs, "sign": np.sign,
                 "relu": lambda x: np.where(x > 0, x, 0)}


@pytest.mark.parametrize("op", sorted(UNARY_NUMERIC))
@SETTINGS
@given(shape=shapes, seed=seeds, dtype=st.sampled_from(NUMERIC), var=st.booleans())
def test_unary_numeric(op, shape, seed, dtype, var):
    g = Graph()
    x, xv = g.param(values(np.random.default_rng(seed), shape, dtype), dtype, var)
    close(g.run(apply(op, (x,))), UNARY_NUMERIC[op](xv), dtype)


@pytest.mark.parametrize("op", ["sigmoid", "softplus", "exp", "tanh"])
def test_unary_large_inputs_no_warnings(op):
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], np.float32)
    node = apply(op, (apply("param", (), type=TensorType("f32", (5,)), name="x"),))
    # underflow to 0 is fine; overflow, inf - inf and 0/0 are not
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        if op == "exp":
            return      # exp overflows by definition; only the others must not
        got = IMPL[op](node, [x], Env())
    assert np.all(np.isfinite(got))
    if op == "sigmoid":
        np.testing.assert_allclose(got, [0, 0, 0.5, 1, 1], atol=1e-7)


BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
          "floordiv": np.floor_divide, "mod": np.mod, "pow": np.power,
          "maximum": np.maximum, "minimum": np.minimum}


@pytest.mark.parametrize("op", sorted(BINARY))
@SETTINGS
@given(pair=broadcast_pair(shapes), seed=seeds, dtype=st.sampled_from(NUMERIC))
def test_binary_arith(op, pair, seed, dtype):
    if op == "div" and dtype not in FLOAT:
        dtype = "f64"
    rng = np.random.default_rng(seed)
    av, bv = values(rng, pair[0], dtype), values(rng, pair[1], dtype)
    if op in ("div", "floordiv", "mod"):
        bv = np.where(bv == 0, 1, bv).astype(bv.dtype)      # no division by zero
    if op == "pow":
        av = np.abs(av) + (0.5 if dtype in FLOAT else 0)    # no negative bases
        bv = np.abs(bv)                                     # or negative int powers
    g = Graph()
    a, av = g.param(av, dtype)
    b, bv = g.param(bv, dtype)
    close(g.run(apply(op, (a, b))), BINARY[op](av, bv), dtype)


def test_binary_scalar_f32_stays_f32():
    g = Graph()
    a, av = g.param(np.array([1.5, 2.5], np.float32), "f32")
    out = g.run(apply("mul", (a, const(0.1, "f32"))), apply("add", (const(1, "f32"), const(2, "f32"))))
    assert out[0].dtype == np.float32 and out[1].dtype == np.float32 and out[1].shape == ()


COMPARE = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
           "gt": np.greater, "ge": np.greater_equal}


@pytest.mark.parametrize("op", sorted(COMPARE))
@SETTINGS
@given(pair=broadcast_pair(shapes), seed=seeds, dtype=st.sampled_from(NUMERIC + ["bool"]))
def test_compare(op, pair, seed, dtype):
    rng = np.random.default_rng(seed)
    g = Graph()
    a, av = g.param(values(rng, pair[0], dtype, -2, 2), dtype)   # small ints: ties
    b, bv = g.param(values(rng, pair[1], dtype, -2, 2), dtype)
    close(g.run(apply(op, (a, b))), COMPARE[op](av, bv), "bool")


@SETTINGS
@given(pair=broadcast_pair(shapes), seed=seeds)
def test_logic(pair, seed):
    rng = np.random.default_rng(seed)
    g = Graph()
    a, av = g.param(values(rng, pair[0], "bool"), "bool")
    b, bv = g.param(values(rng, pair[1], "bool"), "bool")
    got = g.run(apply("and", (a, b)), apply("or", (a, b)), apply("not", (a,)))
    close(got[0], av & bv, "bool")
    close(got[1], av | bv, "bool")
    close(got[2], ~av, "bool")


@SETTINGS
@given(shape=shapes, seed=seeds, src=st.sampled_from(NUMERIC + ["bool"]),
       dst=st.sampled_from(NUMERIC + ["bool"]))
def test_cast(shape, seed, src, dst):
    g = Graph()
    x, xv = g.param(values(np.random.default_rng(seed), shape, src), src, True)
    close(g.run(apply("cast", (x,), dtype=dst)), xv.astype(NUMPY_DTYPE[dst]), dst)


@SETTINGS
@given(pair=broadcast_pair(shapes), seed=seeds, dtype=st.sampled_from(NUMERIC))
def test_where(pair, seed, dtype):
    rng = np.random.default_rng(seed)
    g = Graph()
    c, cv = g.param(values(rng, pair[0], "bool"), "bool")
    a, av = g.param(values(rng, pair[1], dtype), dtype)
    b, bv = g.param(values(rng, pair[0][-1:], dtype), dtype)
    close(g.run(apply("where", (c, a, b))), np.where(cv, av, bv), dtype)


# ---- reductions ------------------------------------------------------------
@st.composite
def reduce_case(draw):
    shape = draw(shapes)
    axes = tuple(sorted(draw(st.sets(st.integers(0, len(shape) - 1)))))
    return shape, axes, draw(st.booleans())


REDUCE = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "prod": np.prod}


@pytest.mark.parametrize("op", sorted(REDUCE))
@SETTINGS
@given(case=reduce_case(), seed=seeds, dtype=st.sampled_from(NUMERIC), var=st.booleans())
def test_reduce(op, case, seed, dtype, var):
    shape, axes, keepdims = case
    if op == "mean" and dtype not in FLOAT:
        dtype = "f32"
    g = Graph()
    x, xv = g.param(values(np.random.default_rng(seed), shape, dtype, -2, 2), dtype, var)
    got = g.run(apply(op, (x,), axes=axes, keepdims=keepdims))
    # numpy in the input's own dtype is the meaning (ints wrap, f32 rounds)
    extra = {"dtype": xv.dtype} if op in ("sum", "prod") else {}
    close(got, REDUCE[op](xv, axis=axes, keepdims=keepdims, **extra), dtype)


@pytest.mark.parametrize("op", ["argmax", "argmin"])
@SETTINGS
@given(shape=shapes, seed=seeds, dtype=st.sampled_from(NUMERIC), data=st.data())
def test_arg_reduce(op, shape, seed, dtype, data):
    axis = data.draw(st.one_of(st.none(), st.integers(0, len(shape) - 1)))
    keepdims = data.draw(st.booleans())
    g = Graph()
    # values in {-1, 0, 1}: plenty of ties, which numpy breaks by the first index
    x, xv = g.param(values(np.random.default_rng(seed), shape, dtype, -1, 1).round(), dtype, True)
    got = g.run(apply(op, (x,), axis=axis, keepdims=keepdims))
    close(got, getattr(np, op)(xv, axis=axis, keepdims=keepdims), "i32")


# ---- row ops ---------------------------------------------------------------
def ref_log_softmax(x, axis):
    x = x.astype(np.float64)
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
@SETTINGS
@given(shape=shapes, seed=seeds, dtype=st.sampled_from(FLOAT), data=st.data())
def test_row_ops(op, shape, seed, dtype, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    scale = data.draw(st.sampled_from([1.0, 100.0]))    # 100: exp would overflow
    g = Graph()
    x, xv = g.param(values(np.random.default_rng(seed), shape, dtype) * scale, dtype, True)
    got = g.run(apply(op, (x,), axis=axis))
    ls = ref_log_softmax(xv, axis)
    want = {"softmax": np.exp(ls), "log_softmax": ls,
            "logsumexp": np.squeeze((xv - ls).mean(axis=axis, keepdims=True), axis)}[op]
    assert np.all(np.isfinite(got))
    close(got, want, dtype)


@SETTINGS
@given(shape=shapes, seed=seeds, depth=st.integers(1, 6), dtype=st.sampled_from(["i32", "i64"]))
def test_one_hot(shape, seed, depth, dtype):
    g = Graph()
    y, yv = g.param(np.random.default_rng(seed).integers(0, depth, shape), dtype, True)
    got = g.run(apply("one_hot", (y,), depth=depth))
    close(got, np.eye(depth, dtype=np.float32)[yv], "f32")


def test_one_hot_out_of_range():
    g = Graph()
    y, _ = g.param(np.array([0, 3]), "i32")
    with pytest.raises(IndexOutOfRange) as e:
        g.run(apply("one_hot", (y,), depth=3))
    assert e.value.value == 3 and e.value.size == 3


# ---- linear algebra and shapes ---------------------------------------------
@SETTINGS
@given(m=st.integers(1, 5), k=st.integers(1, 5), n=st.integers(1, 5), seed=seeds,
       ranks=st.sampled_from([(1, 1), (1, 2), (2, 1), (2, 2)]), dtype=st.sampled_from(NUMERIC))
def test_matmul(m, k, n, seed, ranks, dtype):
    rng = np.random.default_rng(seed)
    g = Graph()
    a, av = g.param(values(rng, (m, k)[2 - ranks[0]:], dtype), dtype, ranks[0] == 2)
    b, bv = g.param(values(rng, (k, n)[:ranks[1]], dtype), dtype)
    close(g.run(apply("matmul", (a, b))), np.matmul(av, bv), dtype)


@SETTINGS
@given(shape=shapes, seed=seeds, data=st.data())
def test_transpose(shape, seed, data):
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    g = Graph()
    x, xv = g.param(values(np.random.default_rng(seed), shape, "f32"), "f32", True)
    close(g.run(apply("transpose", (x,), perm=perm)), np.transpose(xv, perm), "f32")


@SETTINGS
@given(shape=shapes, seed=seeds)
def test_reshape(shape, seed):
    g = Graph()
    x, xv = g.param(values(np.random.default_rng(seed), shape, "i32"), "i32", True)
    # [n, a, b] -> [a*b, n] and -> [n * a * b]: target shapes with size variables
    rest = int(np.prod(shape[1:]))
    both = g.run(apply("reshape", (x,), type=TensorType("i32", (rest, N))),
                 apply("reshape", (x,), type=TensorType("i32", (dim_mul(N, rest),))))
    close(both[0], xv.reshape(rest, shape[0]), "i32")
    close(both[1], xv.reshape(-1), "i32")


@SETTINGS
@given(pair=broadcast_pair(shapes), seed=seeds)
def test_broadcast_to_and_sum_to(pair, seed):
    small, big = sorted(pair, key=lambda s: (len(s), np.prod(s)))
    try:
        target = np.broadcast_shapes(small, big)
    except ValueError:
        return
    g = Graph()
    x, xv = g.param(values(np.random.default_rng(seed), small, "f64"), "f64")
    y, yv = g.param(values(np.random.default_rng(seed + 1), target, "f64"), "f64")
    got = g.run(apply("broadcast_to", (x,), type=TensorType("f64", target)),
                apply("sum_to", (y,), type=TensorType("f64", small)))
    close(got[0], np.broadcast_to(xv, target), "f64")
    lead = len(target) - len(small)
    want = yv.sum(axis=tuple(range(lead)))
    want = want.sum(axis=tuple(i for i, d in enumerate(small) if d == 1), keepdims=True)
    close(got[1], want, "f64")


@SETTINGS
@given(shape=shapes, seed=seeds, data=st.data())
def test_concat(shape, seed, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    lengths = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    rng = np.random.default_rng(seed)
    g = Graph()
    parts = [g.param(values(rng, shape[:axis] + (k,) + shape[axis + 1:], "f32"), "f32")
             for k in lengths]
    got = g.run(apply("concat", [p for p, _ in parts], axis=axis))
    close(got, np.concatenate([v for _, v in parts], axis=axis), "f32")


@SETTINGS
@given(shape=shapes, seed=seeds, data=st.data())
def test_slice_and_unslice(shape, seed, data):
    items = data.draw(slice_items(shape))
    index = tuple(i[1] if i[0] == "index" else slice(*i[1:4]) for i in items)
    g = Graph()
    x, xv = g.param(values(np.random.default_rng(seed), shape, "f32"), "f32")
    check_slice_and_its_vjp(g, x, xv, items, index)


def check_slice_and_its_vjp(g, x, xv, items, index):
    s = apply("slice", (x,), items=items)
    u = apply("unslice", (s,), type=x.type, items=items)
    got_s, got_u = g.run(s, u)
    close(got_s, xv[index], "f32")
    want = np.zeros_like(xv)
    want[index] = xv[index]
    close(got_u, want, "f32")


@SETTINGS
@given(shape=shapes, seed=seeds, data=st.data())
def test_slice_with_size_indices(shape, seed, data):
    # p[n - 1], p[:, k - 1]: an index computed from a size, and its VJP
    g = Graph()
    x, xv = g.param(values(np.random.default_rng(seed), shape, "f32"), "f32", var=True)
    items, index = data.draw(size_slice_items(shape, ("n",) + (None,) * (len(shape) - 1)))
    check_slice_and_its_vjp(g, x, xv, items, index)


def test_slice_with_size_bounds():
    # x[1:n+1] of an f32[n + 2]: bounds that are sizes, as concat's VJP makes
    g = Graph()
    xv = np.arange(5, dtype=np.float32)
    g.sizes["n"] = 3
    g.params["x"] = xv
    x = apply("param", (), type=TensorType("f32", (dim_add(N, 2),)), name="x")
    s = apply("slice", (x,), items=(("slice", 1, dim_add(N, 1), 1, N),))
    close(g.run(s), xv[1:4], "f32")


@SETTINGS
@given(shape=shapes, seed=seeds, data=st.data())
def test_gather_and_scatter_add(shape, seed, data):
    k = data.draw(st.integers(1, len(shape)))
    idx_shape = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=2).map(tuple))
    rng = np.random.default_rng(seed)
    g = Graph()
    x, xv = g.param(values(rng, shape, "f64"), "f64", True)
    idx = [g.param(rng.integers(-d, d, idx_shape), "i32") for d in shape[:k]]
    got = g.run(apply("gather", (x, *[i for i, _ in idx])))
    index = tuple(v for _, v in idx)
    close(got, xv[index], "f64")
    gv = values(rng, got.shape, "f64")
    src, gv = g.param(gv, "f64")
    sc = g.run(apply("scatter_add", (src, *[i for i, _ in idx]), type=x.type))
    want = np.zeros_like(xv)
    np.add.at(want, index, gv)     # repeated indices accumulate
    close(sc, want, "f64")


@pytest.mark.parametrize("bad", [3, -4, 10])
def test_gather_out_of_range(bad):
    g = Graph()
    x, _ = g.param(np.zeros((3, 2)), "f64")
    i, _ = g.param(np.array([0, bad, 1]), "i64")
    node = apply("gather", (x, i))
    with pytest.raises(IndexOutOfRange) as e:
        g.run(node)
    assert (e.value.node, e.value.axis, e.value.value, e.value.size) == (node, 0, bad, 3)
    with pytest.raises(IndexOutOfRange):
        g.run(apply("scatter_add", (x, i), type=x.type))


def test_gather_negative_follows_numpy():
    g = Graph()
    x, xv = g.param(np.arange(6.0).reshape(3, 2), "f64")
    r, _ = g.param(np.array([-1, -3]), "i32")
    c, _ = g.param(np.array([1, -2]), "i32")
    close(g.run(apply("gather", (x, r, c))), xv[[-1, -3], [1, -2]], "f64")


# ---- constructors and leaves ----------------------------------------------
@SETTINGS
@given(shape=shapes, dtype=st.sampled_from(NUMERIC + ["bool"]), value=st.integers(0, 3))
def test_full(shape, dtype, value):
    g = Graph()
    g.sizes["n"] = shape[0]
    t = TensorType(dtype, (N,) + shape[1:])
    close(g.run(apply("full", (), type=t, value=value)),
          np.full(shape, value, NUMPY_DTYPE[dtype]), dtype)


@SETTINGS
@given(n=st.integers(0, 6), dtype=st.sampled_from(["i32", "i64"]))
def test_arange_and_size(n, dtype):
    g = Graph()
    g.sizes["n"] = n
    size = apply("size", (), type=TensorType("i64", ()), dim=N)
    compound = apply("size", (), type=TensorType("i64", ()),
                     dim=dim_add(dim_mul(N, 2), 1))
    got = g.run(apply("arange", (size,), type=TensorType(dtype, (N,))), size, compound)
    close(got[0], np.arange(n), dtype)
    assert got[1] == n and got[2] == 2 * n + 1


@pytest.mark.parametrize("dtype,value", [("f32", 0.1), ("f64", -2.5), ("i32", 7),
                                         ("i64", -3), ("bool", True)])
def test_const_scalar(dtype, value):
    got = Graph().run(const(value, dtype))
    assert got.shape == () and got == np.array(value, NUMPY_DTYPE[dtype])


def test_const_tensor_literal():
    lit = ((1.0, 2.0), (3.0, 4.0))
    node = apply("const", (), type=TensorType("f32", (2, 2)), value=lit)
    close(Graph().run(node), np.array(lit, np.float32), "f32")


def test_param_and_shared():
    t = TensorType("f32", (2,))
    p = apply("param", (), type=t, name="x")
    s = apply("shared", (), type=t, name="W")
    env = Env(params={"x": np.array([1, 2], np.float32)},
              shared={"W": np.array([3, 4], np.float32)})
    out = evaluate([apply("add", (p, s))], env)[0]
    close(out, [4, 6], "f32")


# ---- evaluate and bind_sizes -----------------------------------------------
def test_evaluate_visits_each_node_once_in_order():
    t = TensorType("f64", (3,))
    x = apply("param", (), type=t, name="x")
    y = apply("exp", (x,))
    z = apply("add", (y, y))
    w = apply("mul", (z, y))
    seen = []
    out = evaluate([w, z], Env(params={"x": np.zeros(3)}), on_value=lambda n, v: seen.append(n))
    assert seen == toposort([w, z]) and len(seen) == 4
    close(out[0], np.full(3, 2.0), "f64")


def test_evaluate_checks_impl_results(monkeypatch):
    x = apply("param", (), type=TensorType("f32", (2,)), name="x")
    node = apply("exp", (x,))
    monkeypatch.setitem(IMPL, "exp", lambda n, xs, env: np.exp(xs[0].astype(np.float64)))
    with pytest.raises(BackendBug):
        evaluate([node], Env(params={"x": np.zeros(2, np.float32)}))


def _p(name, dtype, shape):
    return apply("param", (), type=TensorType(dtype, shape), name=name)


def test_bind_sizes():
    k = Size.var("k")
    params = [_p("x", "f32", (N, 784)), _p("y", "i32", (N,)), _p("z", "f32", (dim_add(N, 1), k))]
    args = [np.zeros((5, 784)), np.zeros(5), np.zeros((6, 2))]
    assert bind_sizes(params, args) == {"n": 5, "k": 2}


@pytest.mark.parametrize("args,reason", [
    ([np.zeros((5, 784)), np.zeros(4)], "size `n` is 5"),
    ([np.zeros((5, 783)), np.zeros(5)], "axis 1 should be 784"),
    ([np.zeros(5), np.zeros(5)], "expected rank 2"),
])
def test_bind_sizes_mismatch(args, reason):
    params = [_p("x", "f32", (N, 784)), _p("y", "i32", (N,))]
    with pytest.raises(ShapeMismatch) as e:
        bind_sizes(params, args)
    assert reason in e.value.reason


def test_bind_sizes_compound_checked_after_binding():
    # z comes first, but n is bound from y before n + 1 is checked
    params = [_p("z", "f32", (dim_add(N, 1),)), _p("y", "f32", (N,))]
    assert bind_sizes(params, [np.zeros(4), np.zeros(3)]) == {"n": 3}
    with pytest.raises(ShapeMismatch) as e:
        bind_sizes(params, [np.zeros(5), np.zeros(3)])
    assert e.value.param_name == "z" and "n + 1 = 4" in e.value.reason
