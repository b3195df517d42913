"""The OpenCL backend against the numpy reference, op by op and end to end.

Graphs are built with hypothesis-drawn shapes whose non-1 dimensions are
size variables (`n1` is the last axis, `n2` the one before, ...): the
generated program then depends only on the structure, so the examples of a
test share one build and only the sizes (kernel arguments) change. A few
tests use fixed dimensions to cover the constant-size code paths.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from conftest import needs_pocl
from strategies import broadcast_pair, size_slice_items, slice_items, values

import dsl
from dsl.build import apply
from dsl.diagnostics import SymError
from dsl.ir import Function
from dsl.types import NUMPY_DTYPE, Size, TensorType, dim_mul, dim_sub
from runtime.numpy import Env, IndexOutOfRange, evaluate
from runtime.opencl.device import opencl_available

pytestmark = pytest.mark.skipif(
    not opencl_available(),
    reason="no OpenCL device (pip install pyopencl pocl-binary-distribution for a CPU one)")

SETTINGS = settings(max_examples=15, deadline=None)
FEW_COLUMNS = settings(max_examples=5, deadline=None)
FLOAT = ["f32", "f64"]
NUMERIC = ["f32", "f64", "i32", "i64"]
TOL = {"f32": dict(rtol=1e-5, atol=1e-6), "f64": dict(rtol=1e-12, atol=1e-12)}


@pytest.fixture(scope="module")
def ex():
    from runtime.opencl.executor import OpenCLExecutor
    return OpenCLExecutor({})


# ---- helpers -------------------------------------------------------------------------
def rendering_for(target: str):
    """An executor on the default device that renders kernels as for
    `target` ("cpu" or "gpu"): each rendering's tests run on any device."""
    import dataclasses
    from runtime.opencl.executor import OpenCLExecutor
    e = OpenCLExecutor({})
    e.options = dataclasses.replace(e.options, target=target)
    return e


class Graph:
    """Params with values; dims other than 1 become size variables named by
    their position from the right, so broadcasting shapes agree."""

    def __init__(self, symbolic=True):
        self.params, self.sizes, self.symbolic = {}, {}, symbolic

    def dims(self, shape):
        if not self.symbolic:
            return tuple(shape)
        out = []
        for i, d in enumerate(shape):
            if d == 1:
                out.append(1)
                continue
            name = f"n{len(shape) - i}"
            self.sizes[name] = d
            out.append(Size.var(name))
        return tuple(out)

    def param(self, value, dtype, shape=None):
        name = f"p{len(self.params)}"
        value = np.asarray(value, NUMPY_DTYPE[dtype])
        self.params[name] = value
        dims = self.dims(value.shape) if shape is None else shape
        return apply("param", (), type=TensorType(dtype, dims), name=name)

    def compare(self, ex, *roots, tol=None):
        want = evaluate(list(roots), Env(dict(self.sizes), self.params))
        got = ex.evaluate(list(roots), self.params, dict(self.sizes))
        for r, w, g in zip(roots, want, got):
            assert g.dtype == w.dtype and g.shape == w.shape, (r.op, g.dtype, g.shape, w.shape)
            close(g, w, r.type.dtype, tol)
        return got


def close(got, want, dtype, tol=None):
    if dtype in TOL:
        np.testing.assert_allclose(got, want, **(tol or TOL[dtype]))
    else:
        np.testing.assert_array_equal(got, want)


shapes = st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple)
seeds = st.integers(0, 2**32 - 1)


def total(x):
    return apply("sum", (x,), axes=tuple(range(x.type.rank)), keepdims=False)


# ---- elementwise ---------------------------------------------------------------------------
UNARY_FLOAT = {"exp": (-3, 3), "log": (0.1, 5), "log1p": (-0.9, 5), "log2": (0.1, 5), "sqrt": (0, 5),
               "tanh": (-3, 3), "sigmoid": (-30, 30), "softplus": (-30, 30),
               "sin": (-3, 3), "cos": (-3, 3)}


@pytest.mark.parametrize("op", sorted(UNARY_FLOAT))
@SETTINGS
@given(shape=shapes, seed=seeds, dtype=st.sampled_from(FLOAT))
def test_unary_float(ex, op, shape, seed, dtype):
    low, high = UNARY_FLOAT[op]
    g = Graph()
    x = g.param(values(np.random.default_rng(seed), shape, dtype, low, high), dtype)
    g.compare(ex, apply(op, (x,)))


@pytest.mark.parametrize("op", ["exp", "log", "log1p", "sigmoid", "softplus"])
def test_unary_float_edges(ex, op):
    # infinities, NaN, zero, denormals and overflow: the inline f32 exp/log too
    edge = [0.0, -0.0, 1e-40, -1e-40, 1e-30, 88.0, 89.0, -87.0, -104.0, -200.0, 200.0,
            np.inf, -np.inf, np.nan, 1.0, -1.0, 1e-7, -1e-7, 3.4e38, -0.5]
    for dtype in FLOAT:
        g = Graph(symbolic=False)
        x = g.param(np.array(edge), dtype)
        with np.errstate(all="ignore"):
            g.compare(ex, apply(op, (x,)))


@pytest.mark.parametrize("op", ["neg", "abs", "sign", "relu"])
@SETTINGS
@given(shape=shapes, seed=seeds, dtype=st.sampled_from(NUMERIC))
def test_unary_numeric(ex, op, shape, seed, dtype):
    g = Graph()
    x = g.param(values(np.random.default_rng(seed), shape, dtype), dtype)
    g.compare(ex, apply(op, (x,)))


BINARY = ["add", "sub", "mul", "div", "floordiv", "mod", "pow", "maximum", "minimum"]


@pytest.mark.parametrize("op", BINARY)
@SETTINGS
@given(pair=broadcast_pair(shapes), seed=seeds, dtype=st.sampled_from(NUMERIC))
def test_binary_arith(ex, op, pair, seed, dtype):
    if op == "div" and dtype in ("i32", "i64"):
        dtype = "f32"
    rng = np.random.default_rng(seed)
    a = values(rng, pair[0], dtype)
    b = values(rng, pair[1], dtype)
    if op == "pow":      # keep powers finite and integer exponents non-negative
        a = np.abs(a) + (0.5 if dtype in FLOAT else 0)
        b = np.abs(b) % 4 if dtype not in FLOAT else np.clip(b, -2, 2)
    g = Graph()
    with np.errstate(all="ignore"):
        g.compare(ex, apply(op, (g.param(a, dtype), g.param(b, dtype))))


def test_floordiv_mod_numpy_edges(ex):
    a = np.array([1.0, -1.0, 7.0, -7.0, 0.0, 5.5, -5.5, 1.0, np.inf, 3.0])
    b = np.array([0.1, 0.1, -2.0, 2.0, 3.0, -0.0, 2.5, 0.0, 2.0, np.inf])
    for dtype in FLOAT:
        g = Graph(symbolic=False)
        x, y = g.param(a, dtype), g.param(b, dtype)
        with np.errstate(all="ignore"):
            g.compare(ex, apply("floordiv", (x, y)), apply("mod", (x, y)))
    ai = np.array([7, -7, 7, -7, 0, 5, -2147483648])
    bi = np.array([2, 2, -2, -2, 3, 0, 3])
    g = Graph(symbolic=False)
    x, y = g.param(ai, "i32"), g.param(bi, "i32")
    with np.errstate(all="ignore"):
        g.compare(ex, apply("floordiv", (x, y)), apply("mod", (x, y)))


def test_maximum_minimum_propagate_nan(ex):
    g = Graph(symbolic=False)
    x = g.param([1.0, np.nan, 2.0, np.nan], "f32")
    y = g.param([np.nan, 1.0, 3.0, np.nan], "f32")
    g.compare(ex, apply("maximum", (x, y)), apply("minimum", (x, y)))


@pytest.mark.parametrize("op", ["eq", "ne", "lt", "le", "gt", "ge"])
@SETTINGS
@given(pair=broadcast_pair(shapes), seed=seeds, dtype=st.sampled_from(NUMERIC + ["bool"]))
def test_compare(ex, op, pair, seed, dtype):
    rng = np.random.default_rng(seed)
    g = Graph()
    a, b = g.param(values(rng, pair[0], dtype, -2, 2), dtype), g.param(values(rng, pair[1], dtype, -2, 2), dtype)
    g.compare(ex, apply(op, (a, b)))


@SETTINGS
@given(pair=broadcast_pair(shapes), seed=seeds)
def test_logic(ex, pair, seed):
    rng = np.random.default_rng(seed)
    g = Graph()
    a, b = g.param(values(rng, pair[0], "bool"), "bool"), g.param(values(rng, pair[1], "bool"), "bool")
    g.compare(ex, apply("and", (a, b)), apply("or", (a, b)), apply("not", (a,)))


@SETTINGS
@given(shape=shapes, seed=seeds, src=st.sampled_from(NUMERIC + ["bool"]),
       dst=st.sampled_from(NUMERIC + ["bool"]))
def test_cast(ex, shape, seed, src, dst):
    g = Graph()
    x = g.param(values(np.random.default_rng(seed), shape, src, -100, 100), src)
    g.compare(ex, apply("cast", (x,), dtype=dst))


@SETTINGS
@given(pair=broadcast_pair(shapes), seed=seeds, dtype=st.sampled_from(NUMERIC))
def test_where(ex, pair, seed, dtype):
    rng = np.random.default_rng(seed)
    g = Graph()
    c = g.param(values(rng, pair[0], "bool"), "bool")
    a = g.param(values(rng, pair[1], dtype), dtype)
    b = g.param(values(rng, pair[0][-1:], dtype), dtype)
    g.compare(ex, apply("where", (c, a, b)))


def test_elementwise_chain_is_one_kernel():
    from runtime.opencl.render import render_function
    n = Size.var("n")
    x = apply("param", (), type=TensorType("f32", (n, 4)), name="x")
    y = apply("param", (), type=TensorType("f32", (4,)), name="y")
    two = apply("const", (), type=TensorType("f32", ()), value=2.0)
    one = apply("const", (), type=TensorType("f32", ()), value=1.0)
    out = apply("mul", (apply("exp", (apply("add", (apply("mul", (x, two)), one)),)), y))
    plan = render_function(Function("f", (x, y), (out,)))
    assert len(plan.kernels) == 1
    assert plan.source.count("__kernel") == 1


def test_a_map_over_whole_work_groups_stores_without_a_guard():
    """The store guard of work-items past the end costs 2x on big maps:
    it is left out when every work-group is full for every size."""
    from runtime.opencl.render import render_function
    n = Size.var("n")
    for cols, guarded in ((64, False), (128, False), (3, True)):
        x = apply("param", (), type=TensorType("f32", (n, cols)), name="x")
        plan = render_function(Function("f", (x,), (apply("exp", (x,)),)))
        assert ("if (valid) out[gid]" in plan.source) == guarded, plan.source


@pytest.mark.parametrize("dims", [(6, 7), (1, 9), (5, 1)])
def test_fused_with_fixed_sizes(ex, dims):
    rng = np.random.default_rng(0)
    g = Graph(symbolic=False)
    x = g.param(values(rng, dims, "f32"), "f32")
    y = g.param(values(rng, dims[-1:], "f32"), "f32")
    t = apply("transpose", (apply("mul", (x, y)),), perm=(1, 0))
    g.compare(ex, apply("sigmoid", (t,)), apply("sum", (apply("tanh", (x,)),), axes=(1,), keepdims=True))


# ---- reductions --------------------------------------------------------------------------
@st.composite
def reduce_case(draw):
    shape = draw(shapes)
    axes = tuple(sorted(draw(st.sets(st.integers(0, len(shape) - 1)))))
    return shape, axes, draw(st.booleans())


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "prod"])
@SETTINGS
@given(case=reduce_case(), seed=seeds, dtype=st.sampled_from(NUMERIC))
def test_reduce(ex, op, case, seed, dtype):
    shape, axes, keep = case
    if op == "mean" and dtype not in FLOAT:
        dtype = "f32"
    low, high = (0.5, 1.5) if op == "prod" else (-3, 3)
    g = Graph()
    x = g.param(values(np.random.default_rng(seed), shape, dtype, low, high), dtype)
    extent = int(np.prod([shape[a] for a in axes]))
    tol = dict(rtol=1e-5, atol=1e-6 * extent) if dtype == "f32" else None
    g.compare(ex, apply(op, (x,), axes=axes, keepdims=keep), tol=tol)


@pytest.mark.parametrize("op", ["sum", "max", "mean"])
@pytest.mark.parametrize("n", [3000, 70000])
def test_long_reduction_uses_a_tree(ex, op, n):
    rng = np.random.default_rng(1)
    g = Graph(symbolic=False)
    x = g.param(values(rng, (n, 2), "f32"), "f32")
    g.compare(ex, apply(op, (x,), axes=(0,), keepdims=False), tol=dict(rtol=1e-5, atol=1e-4))


@pytest.mark.parametrize("op", ["sum", "mean", "sum_to"])
@FEW_COLUMNS
@given(rows=st.lists(st.integers(1, 40), min_size=1, max_size=2), columns=st.sampled_from([72, 96, 128]),
       seed=seeds)
def test_column_sums_as_vectors_give_the_same_bits(op, rows, columns, seed):
    """On a CPU a sum over the leading axes whose outputs are a multiple of
    8 (a bias's gradient; more than 64 outputs, fewer take a work-group
    tree each) computes 8 outputs a work-item as vectors; the
    values are those of one output a work-item, bit for bit (NaN and
    infinities among the values; extents of 1 to 1600 rows, so the f32
    and the double accumulator)."""
    from runtime.opencl import render
    shape = tuple(rows) + (2, columns // 2)
    g = Graph()
    value = values(np.random.default_rng(seed), shape, "f32")
    value.flat[::97] = np.resize([np.nan, np.inf, -np.inf], value.flat[::97].size)
    g.sizes.update({f"r{i}": r for i, r in enumerate(rows)})
    x = g.param(value, "f32", tuple(Size.var(f"r{i}") for i in range(len(rows))) + shape[len(rows):])
    lead = tuple(range(len(rows)))
    y = apply("sum_to", (x,), type=x.type.with_shape(x.type.shape[len(rows):])) if op == "sum_to" \
        else apply(op, (x,), axes=lead, keepdims=False)
    ex = rendering_for("cpu")
    plan = render.render_function(Function("f", (x,), (y,)), ex.options)
    assert [spec.text.count("float8u*") >= 2 for spec in plan.kernels] == [True]
    vectors = np.asarray(ex.evaluate([y], g.params, dict(g.sizes))[0])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(render, "sums_columns", lambda k, root: False)
        scalars = np.asarray(rendering_for("cpu").evaluate([y], g.params, dict(g.sizes))[0])
    # NaN's sign bit is the hardware's (an NVIDIA GPU's vector and scalar adds differ)
    np.testing.assert_array_equal(np.where(np.isnan(vectors), np.nan, vectors).view(np.int32),
                                  np.where(np.isnan(scalars), np.nan, scalars).view(np.int32))
    g.compare(ex, y, tol=dict(rtol=1e-5, atol=1e-5 * value.size, equal_nan=True))


@pytest.mark.parametrize("op", ["argmax", "argmin"])
@SETTINGS
@given(shape=shapes, seed=seeds, dtype=st.sampled_from(NUMERIC), data=st.data())
def test_arg_reduce(ex, op, shape, seed, dtype, data):
    axis = data.draw(st.sampled_from([None] + list(range(len(shape)))))
    keep = data.draw(st.booleans())
    g = Graph()
    v = values(np.random.default_rng(seed), shape, dtype, -2, 2)   # many ties: first index wins
    if dtype in FLOAT and data.draw(st.booleans()):
        v.flat[data.draw(st.integers(0, v.size - 1))] = np.nan
    x = g.param(v, dtype)
    g.compare(ex, apply(op, (x,), axis=axis, keepdims=keep))


@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
@SETTINGS
@given(shape=shapes, seed=seeds, dtype=st.sampled_from(FLOAT), data=st.data())
def test_row_ops(ex, op, shape, seed, dtype, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    scale = data.draw(st.sampled_from([1.0, 100.0]))
    g = Graph(symbolic=data.draw(st.booleans()))     # fixed row lengths use vector lanes
    x = g.param(values(np.random.default_rng(seed), shape, dtype) * scale, dtype)
    g.compare(ex, apply(op, (x,), axis=axis))


def test_row_ops_with_infinities(ex):
    v = np.array([[1.0, -np.inf, 2.0], [-np.inf, -np.inf, -np.inf], [np.inf, 1.0, 0.0],
                  [np.nan, 1.0, 2.0]])
    for op in ["softmax", "log_softmax", "logsumexp"]:
        g = Graph(symbolic=False)
        with np.errstate(all="ignore"):
            g.compare(ex, apply(op, (g.param(v, "f32"),), axis=1))


@SETTINGS
@given(shape=shapes, seed=seeds, depth=st.integers(1, 6), dtype=st.sampled_from(["i32", "i64"]))
def test_one_hot(ex, shape, seed, depth, dtype):
    g = Graph()
    y = g.param(np.random.default_rng(seed).integers(0, depth, shape), dtype)
    g.compare(ex, apply("one_hot", (y,), depth=depth))


# ---- matmul -------------------------------------------------------------------------------
@SETTINGS
@given(m=st.integers(1, 20), k=st.integers(1, 20), n=st.integers(1, 20), seed=seeds,
       ranks=st.sampled_from([(1, 1), (1, 2), (2, 1), (2, 2)]),
       dtype=st.sampled_from(NUMERIC), flip=st.sampled_from([(False, False), (True, False),
                                                             (False, True), (True, True)]),
       symbolic=st.booleans())
def test_matmul(ex, m, k, n, seed, ranks, dtype, flip, symbolic):
    rng = np.random.default_rng(seed)
    g = Graph(symbolic=False)
    if symbolic:
        g.sizes.update(m=m, k=k, n=n)
    dim = {name: (Size.var(name) if symbolic else v) for name, v in (("m", m), ("k", k), ("n", n))}
    value = {"m": m, "k": k, "n": n}
    names_of = [("m", "k") if ranks[0] == 2 else ("k",), ("k", "n") if ranks[1] == 2 else ("k",)]
    operands = []
    for names, transposed in zip(names_of, flip):
        shape = tuple(value[a] for a in names)
        dims = tuple(dim[a] for a in names)
        if transposed and len(shape) == 2:     # pass the stored transpose and transpose it back
            p = g.param(values(rng, shape[::-1], dtype), dtype, dims[::-1])
            operands.append(apply("transpose", (p,), perm=(1, 0)))
        else:
            operands.append(g.param(values(rng, shape, dtype), dtype, dims))
    g.compare(ex, apply("matmul", tuple(operands)),
              tol=dict(rtol=1e-5, atol=1e-5) if dtype == "f32" else None)


@pytest.mark.parametrize("m,k,n", [(600, 784, 10), (37, 129, 45), (64, 64, 64)])
def test_matmul_shapes_and_epilogue(ex, m, k, n):
    """The flagship shapes: x @ W + b, and W - lr * (x.T @ g) in one kernel."""
    rng = np.random.default_rng(2)
    g = Graph(symbolic=False)
    x = g.param(values(rng, (m, k), "f32", 0, 1), "f32")
    W = g.param(values(rng, (k, n), "f32", -0.1, 0.1), "f32")
    b = g.param(values(rng, (n,), "f32"), "f32")
    gr = g.param(values(rng, (m, n), "f32"), "f32")
    lr = apply("const", (), type=TensorType("f32", ()), value=0.13)
    fwd = apply("add", (apply("matmul", (x, W)), b))
    xt = apply("transpose", (x,), perm=(1, 0))
    upd = apply("sub", (W, apply("mul", (lr, apply("matmul", (xt, gr))))))
    g.compare(ex, fwd, upd, tol=dict(rtol=1e-5, atol=1e-5))


def test_kernels_for_lists_kernels_and_what_they_fuse(ex):
    n = Size.var("n")
    x = apply("param", (), type=TensorType("f32", (n, 4)), name="x")
    y = apply("exp", (apply("neg", (x,)),))
    listing = ex.kernels_for(Function("f", (x,), (y,)))
    assert len(listing) == 1
    name, source, fused = listing[0]
    assert name in source and "__kernel" in source
    assert [f.op for f in fused] == ["neg", "exp"]


def test_backend_passes_logged_for_explain():
    from runtime.opencl.render import pass_listing
    n = Size.var("n")
    x = apply("param", (), type=TensorType("f32", (n, 4)), name="x")
    twice = [apply("exp", (apply("neg", (x,)),)) for _ in range(2)]
    sm = apply("softmax", (x,), axis=1)
    ls = apply("log_softmax", (x,), axis=1)
    listing = pass_listing(Function("f", (x,), (apply("add", tuple(twice)), sm, ls)))
    did = {name: what for name, _, what in listing}
    assert [name for name, _, _ in listing] == ["cse", "share_rows", "conv_pad", "groups"]
    assert did["cse"] == "8 → 6 nodes"
    assert did["share_rows"] == "1 softmax computed as exp(log_softmax)"
    assert did["groups"].startswith("3 kernel root(s)")


def test_matmul_reads_transpose_in_place():
    from runtime.opencl.render import render_function
    n = Size.var("n")
    x = apply("param", (), type=TensorType("f32", (n, 784)), name="x")
    gr = apply("param", (), type=TensorType("f32", (n, 10)), name="g")
    out = apply("matmul", (apply("transpose", (x,), perm=(1, 0)), gr))
    plan = render_function(Function("f", (x, gr), (out,)))
    assert len(plan.kernels) == 1      # no kernel materialises x.T


# ---- shapes --------------------------------------------------------------------------------
@SETTINGS
@given(shape=shapes, seed=seeds, data=st.data())
def test_transpose(ex, shape, seed, data):
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    g = Graph()
    x = g.param(values(np.random.default_rng(seed), shape, "f32"), "f32")
    g.compare(ex, apply("transpose", (x,), perm=perm), apply("exp", (apply("transpose", (x,), perm=perm),)))


@SETTINGS
@given(shape=shapes, seed=seeds)
def test_reshape(ex, shape, seed):
    g = Graph()
    x = g.param(values(np.random.default_rng(seed), shape, "f32"), "f32")
    flat = TensorType("f32", (_prod(x.type.shape),))
    back = apply("reshape", (apply("neg", (apply("reshape", (x,), type=flat),)),), type=x.type)
    g.compare(ex, apply("reshape", (x,), type=flat), back)


def _prod(dims):
    out = 1
    for d in dims:
        out = dim_mul(out, d)
    return out


@SETTINGS
@given(pair=broadcast_pair(shapes), seed=seeds)
def test_broadcast_to_and_sum_to(ex, pair, seed):
    small, big = sorted(pair, key=len)
    if len(small) == len(big) and any(s != b and s != 1 for s, b in zip(small, big)):
        small, big = big, small
    if any(s != b and s != 1 for s, b in zip(small[::-1], big[::-1])):
        return
    rng = np.random.default_rng(seed)
    g = Graph()
    x = g.param(values(rng, small, "f32"), "f32")
    y = g.param(values(rng, big, "f32"), "f32")
    b = apply("broadcast_to", (x,), type=y.type.with_dtype("f32"))
    s = apply("sum_to", (y,), type=x.type)
    g.compare(ex, b, s, tol=dict(rtol=1e-5, atol=1e-5))


@SETTINGS
@given(shape=shapes, seed=seeds, data=st.data())
def test_concat(ex, shape, seed, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    lengths = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    rng = np.random.default_rng(seed)
    g = Graph(symbolic=False)
    parts = [g.param(values(rng, shape[:axis] + (k,) + shape[axis + 1:], "f32"), "f32") for k in lengths]
    g.compare(ex, apply("concat", parts, axis=axis))


@FEW_COLUMNS
@given(shape=shapes, seed=seeds, data=st.data())
def test_a_computed_concat_written_piece_by_piece_gives_the_same_bits(shape, seed, data):
    """On a CPU each computed piece of a concatenation is its own kernel
    writing its slab of the output (work-items that branch to their piece
    do not run as vector lanes); the values are one kernel's, bit for bit,
    with pieces of size 0 among them (launched never), on any axis."""
    from runtime.opencl import render
    axis = data.draw(st.integers(0, len(shape) - 1))
    lengths = data.draw(st.lists(st.integers(0, 4), min_size=2, max_size=4))
    rng = np.random.default_rng(seed)
    g = Graph(symbolic=False)
    ops = ["sigmoid", "tanh", "exp", "neg"]
    pieces = []
    for j, k in enumerate(lengths):
        x = g.param(values(rng, shape[:axis] + (k,) + shape[axis + 1:], "f32"), "f32")
        pieces.append(apply("mul", (apply(ops[j % 4], (x,)), x)))
    y = apply("concat", pieces, axis=axis)
    ex = rendering_for("cpu")
    fn = Function("f", tuple(collect_params(y)), (y,))
    assert len(render.render_function(fn, ex.options).kernels) == len(lengths)
    apart = np.asarray(ex.evaluate([y], g.params, dict(g.sizes))[0])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(render, "concat_in_pieces", lambda *a: False)
        together = np.asarray(rendering_for("cpu").evaluate([y], g.params, dict(g.sizes))[0])
    np.testing.assert_array_equal(apart.view(np.int32), together.view(np.int32))
    g.compare(ex, y)


MAP_OPS = {"sigmoid": 1, "tanh": 1, "exp": 1, "neg": 1, "add": 2, "mul": 2}


@FEW_COLUMNS
@given(shape=shapes, seed=seeds, data=st.data())
def test_roots_of_one_shape_are_one_kernel_with_the_same_bits(shape, seed, data):
    """Consecutive elementwise roots of one shape (an LSTM step's gates,
    cell and state) are one map kernel writing each root's buffer, a root
    reading an earlier one from a register: the values are those of a
    kernel per root, bit for bit, and numpy's."""
    from runtime.opencl import render
    from runtime.opencl.executor import OpenCLExecutor
    rng = np.random.default_rng(seed)
    g = Graph()
    params = [g.param(values(rng, shape, "f32", -3, 3), "f32") for _ in range(2)]
    steps = data.draw(st.lists(st.tuples(st.sampled_from(sorted(MAP_OPS)), st.integers(0, 99),
                                         st.integers(0, 99)), min_size=2, max_size=render.MAPS_MAX))
    seen = list(params)
    for op, i, j in steps:
        seen.append(apply(op, (seen[i % len(seen)], seen[j % len(seen)])[:MAP_OPS[op]]))
    roots = seen[len(params):]
    fn = Function("f", tuple(params), tuple(roots))
    ex = OpenCLExecutor({})
    assert len(render.render_function(fn, ex.options).kernels) == 1
    together = ex.evaluate(roots, g.params, dict(g.sizes))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(render, "MAPS_MAX", 1)
        assert len(render.render_function(fn, ex.options).kernels) == len(set(roots))   # equal roots merged
        apart = OpenCLExecutor({}).evaluate(roots, g.params, dict(g.sizes))
    for a, b in zip(together, apart):
        np.testing.assert_array_equal(np.asarray(a).view(np.int32), np.asarray(b).view(np.int32))
    g.compare(ex, *roots)


def test_a_map_kernel_of_several_roots_binds_a_bounded_number_of_buffers(ex):
    """Roots that read many arguments are split among kernels so that none
    binds more than MAPS_ARGS buffers (every device takes 1024 bytes of
    arguments); the values are numpy's."""
    from runtime.opencl import render
    g = Graph(symbolic=False)
    rng = np.random.default_rng(1)
    roots = []
    for _ in range(8):
        terms = [g.param(values(rng, (4, 3), "f32"), "f32") for _ in range(5)]
        total = terms[0]
        for t in terms[1:]:
            total = apply("add", (total, t))
        roots.append(apply("tanh", (total,)))
    fn = Function("f", tuple(collect_params(apply("concat", roots, axis=0))), tuple(roots))
    kernels = render.render_function(fn, ex.options).kernels
    assert len(kernels) == 2 and all(len(k.args) <= render.MAPS_ARGS for k in kernels)
    g.compare(ex, *roots)


def test_a_root_read_at_another_index_is_not_in_its_readers_kernel(ex):
    """A root read elsewhere than at its own index (transposed) must be
    whole before its reader runs: two kernels, in order."""
    from runtime.opencl import render
    g = Graph(symbolic=False)
    x = g.param(np.arange(9.0).reshape(3, 3) / 9, "f32")
    y = apply("sigmoid", (x,))
    z = apply("add", (apply("transpose", (y,), perm=(1, 0)), y))
    fn = Function("f", (x,), (y, z))
    assert [k.writes for k in render.render_function(fn, ex.options).kernels] == [("t1",), ("t2",)]
    g.compare(ex, y, z)


def test_a_concatenation_of_same_shape_pieces_joins_their_kernel(ex):
    """A concatenation of pieces of the roots' shape (an LSTM's four gate
    gradients) is written piece by piece by the same work-items."""
    from runtime.opencl import render
    g = Graph()
    x = g.param(values(np.random.default_rng(0), (4, 3), "f32", -3, 3), "f32")
    y = apply("sigmoid", (x,))
    c = apply("concat", (apply("mul", (y, x)), apply("tanh", (x,)), y), axis=1)
    fn = Function("f", (x,), (y, c))
    kernels = render.render_function(fn, ex.options).kernels
    assert len(kernels) == 1 and len(kernels[0].writes) == 2
    g.compare(ex, y, c)


@FEW_COLUMNS
@given(rows=st.integers(1, 7), width=st.sampled_from([64, 128, 192]), seed=seeds)
def test_a_map_over_rows_of_whole_groups_reads_slices_as_neighbours(ex, rows, width, seed):
    """A map kernel whose last axis is a multiple of its work-group size
    indexes by the group's row and the local id (so the C compiler sees
    neighbouring work-items read neighbouring elements of a slice); the
    values are numpy's, on any number of rows."""
    from runtime.opencl import render
    g = Graph(symbolic=False)
    z = g.param(values(np.random.default_rng(seed), (rows, 4 * width), "f32", -3, 3), "f32")
    gate = apply("slice", (z,), items=(("slice", 0, rows, 1, rows), ("slice", width, 2 * width, 1, width)))
    y = apply("mul", (apply("sigmoid", (gate,)), apply("tanh", (gate,))))
    text = render.render_function(Function("f", (z,), (y,)), ex.options).kernels[0].text
    assert "get_group_id(0) * 64" in text and "% (sym_ix)" not in text
    g.compare(ex, y)


@FEW_COLUMNS
@given(rows=st.integers(1, 9), width=st.sampled_from([28, 20, 48]), seed=seeds)
def test_a_map_whose_last_axis_is_not_a_multiple_of_64_takes_groups_of_a_divisor(ex, rows, width, seed):
    """A transpose of [n, w, w] to [w, n, w] (an image read row by row)
    takes work-groups of the largest divisor of w from 16 to 64, one row
    each, so n divides once a group, not once a work-item; numpy's values."""
    from runtime.opencl import render
    g = Graph(symbolic=False)
    x = g.param(values(np.random.default_rng(seed), (rows, width, width), "f32"), "f32",
                shape=(Size.var("n"), width, width))
    g.sizes["n"] = rows
    y = apply("transpose", (x,), perm=(1, 0, 2))
    (kernel,) = render.render_function(Function("f", (x,), (y,)), ex.options).kernels
    local = max(d for d in range(16, 65) if width % d == 0)
    assert kernel.grid.local == (local,) and f"get_group_id(0) * {local}" in kernel.text
    g.compare(ex, y)


def collect_params(root):
    from dsl.ir import toposort
    return [n for n in toposort([root]) if n.op == "param"]


@SETTINGS
@given(shape=shapes, seed=seeds, data=st.data())
def test_slice_and_unslice(ex, shape, seed, data):
    items = data.draw(slice_items(shape))
    g = Graph(symbolic=False)
    x = g.param(values(np.random.default_rng(seed), shape, "f32"), "f32")
    s = apply("slice", (x,), items=items)
    u = apply("unslice", (s,), type=x.type, items=items)
    g.compare(ex, s, u)


@SETTINGS
@given(shape=shapes, seed=seeds, data=st.data())
def test_slice_with_size_indices(ex, shape, seed, data):
    # p[n - 1], p[:, k - 1]: an index computed from a size, and its VJP
    g = Graph()
    x = g.param(values(np.random.default_rng(seed), shape, "f32"), "f32")
    names = [d.single_var() if isinstance(d, Size) else None for d in x.type.shape]
    items, _ = data.draw(size_slice_items(shape, names))
    s = apply("slice", (x,), items=items)
    g.compare(ex, s, apply("unslice", (s,), type=x.type, items=items))


def test_slice_with_size_bounds(ex):
    from dsl.types import dim_add
    n = Size.var("n")
    g = Graph()
    g.sizes["n"] = 3
    g.params["x"] = np.arange(5, dtype=np.float32)
    x = apply("param", (), type=TensorType("f32", (dim_add(n, 2),)), name="x")
    s = apply("slice", (x,), items=(("slice", 1, dim_add(n, 1), 1, n),))
    tail = apply("slice", (x,), items=(("slice", -2, None, None, 2),))
    g.compare(ex, s, tail, apply("unslice", (s,), type=x.type, items=(("slice", 1, dim_add(n, 1), 1, n),)))


@SETTINGS
@given(shape=shapes, seed=seeds, data=st.data())
def test_gather_and_scatter_add(ex, shape, seed, data):
    k = data.draw(st.integers(1, len(shape)))
    idx_shape = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=2).map(tuple))
    rng = np.random.default_rng(seed)
    g = Graph(symbolic=False)
    x = g.param(values(rng, shape, "f64"), "f64")
    idx = [g.param(rng.integers(-d, d, idx_shape), "i32") for d in shape[:k]]
    gathered = apply("gather", (x, *idx))
    gv = g.param(values(rng, gathered.type.shape, "f64"), "f64")
    g.compare(ex, gathered, apply("scatter_add", (gv, *idx), type=x.type))


@SETTINGS
@given(n=st.integers(1, 30), c=st.integers(1, 12), seed=seeds)
def test_gather_rows_and_its_gradient(ex, n, c, seed):
    """p[arange(n), y] and its VJP: the pattern of every classifier's loss."""
    rng = np.random.default_rng(seed)
    g = Graph()
    p = g.param(values(rng, (n, c), "f32"), "f32")
    y = g.param(rng.integers(-c, c, n), "i32", p.type.shape[:1])
    rows = apply("arange", (), type=TensorType("i64", p.type.shape[:1]))
    picked = apply("gather", (p, rows, y))
    gv = g.param(values(rng, (n,), "f32"), "f32", p.type.shape[:1])
    g.compare(ex, picked, apply("scatter_add", (gv, rows, y), type=p.type))


@pytest.mark.parametrize("bad", [3, -4, 10])
def test_gather_out_of_range_raises_at_its_call(ex, bad):
    g = Graph(symbolic=False)
    x = g.param(np.zeros((3, 2)), "f64")
    i = g.param(np.array([0, bad, 1]), "i64")
    node = apply("gather", (x, i))
    fn = Function("f", (x, i), (node,))
    (before,) = ex.call(fn, [g.params["p0"], np.array([2, 1, 0])], {})
    with pytest.raises(IndexOutOfRange) as e:
        ex.call(fn, [g.params["p0"], g.params["p1"]], {})
    assert e.value.value == bad and e.value.size == 3 and e.value.axis == 0
    assert e.value.node is node or e.value.node == node
    (after,) = ex.call(fn, [g.params["p0"], np.array([0, 1, 2])], {})
    np.asarray(after)       # the flag was cleared: a later call is not blamed
    assert np.asarray(before).shape == (3, 2)     # nor is reading an earlier result


def test_wide_index_build_computes_the_same(monkeypatch):
    """Arrays over 2**31 elements get the program built with 64-bit index
    arithmetic: forced here by lowering the limit to 0."""
    import runtime.opencl.executor as E
    monkeypatch.setattr(E, "NARROW_LIMIT", 0)
    ex = E.OpenCLExecutor({})
    rng = np.random.default_rng(5)
    g = Graph()
    x = g.param(values(rng, (4, 3, 5), "f32"), "f32")         # f32[n3, n2, n1]
    b = g.param(values(rng, (5,), "f32"), "f32")              # f32[n1]
    i = g.param(np.array([2, 0, 3]), "i64", shape=(Size.var("k"),))
    g.sizes["k"] = 3
    g.compare(ex, apply("exp", (apply("add", (x, b)),)), apply("gather", (x, i)))
    assert all(c.wide is not None for _, c in ex.compiled.values())
    fn = Function("f", (x, i), (apply("gather", (x, i)),))
    with pytest.raises(IndexOutOfRange) as e:
        ex.call(fn, [g.params["p0"], np.array([2, 9, 3])], dict(g.sizes))
    assert (e.value.value, e.value.size, e.value.axis) == (9, 4, 0)


def test_one_hot_out_of_range(ex):
    y = apply("param", (), type=TensorType("i32", (3,)), name="y")
    fn = Function("f", (y,), (apply("one_hot", (y,), depth=4),))
    with pytest.raises(IndexOutOfRange):
        ex.call(fn, [np.array([0, 4, 1], np.int32)], {})


# ---- memory safety -------------------------------------------------------------------------
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOUNDS_GOLDENS = sorted(f for f in os.listdir(os.path.join(REPO, "tests", "errors", "runtime"))
                        if f.startswith("bounds_") and f.endswith(".sym"))


@pytest.mark.parametrize("name", BOUNDS_GOLDENS)
def test_bounds_errors_are_the_same_text_as_numpy(name, capsys, monkeypatch):
    """An index or slice outside an axis known by name is found before the
    kernels run (they would read outside the buffer): numpy's exact text."""
    from dsl import cli
    monkeypatch.chdir(REPO)
    path = f"tests/errors/runtime/{name}"
    capsys.readouterr()
    rc = cli.main(["run", path, "--backend", "opencl", "--no-progress"])
    with open(os.path.join(REPO, path[:-4] + ".expected"), encoding="utf-8") as f:
        assert (rc, capsys.readouterr().err) == (1, f.read())


def test_python_api_index_error_is_the_same_on_both_backends():
    import dsl
    x = dsl.vector("x")
    texts = []
    for backend in ("numpy", "opencl"):
        f = dsl.function([x], [x[10], x[x.shape[0] - 1]], backend=backend)
        assert [float(v) for v in f(np.arange(11, dtype=np.float32))] == [10.0, 10.0]
        with pytest.raises(SymError) as e:
            f(np.arange(3, dtype=np.float32))
        texts.append(str(e.value))
    assert texts[0] == texts[1] and "E0603" in texts[0] and "index 10" in texts[0]


def launches(monkeypatch, ex, fn, args, sizes):
    """The global sizes of the kernels one call enqueues."""
    seen = []
    real = ex.cl.enqueue_nd_range_kernel
    monkeypatch.setattr(ex.cl, "enqueue_nd_range_kernel",
                        lambda q, k, g, *rest: (seen.append(g), real(q, k, g, *rest))[1])
    out = [np.asarray(o) for o in ex.call(fn, args, sizes)]
    monkeypatch.undo()
    return seen, out


def test_a_kernel_with_no_element_to_compute_is_not_launched(ex, monkeypatch):
    # exp(x[5:]) of 5 elements is empty; a launched kernel computes element 0
    # anyway, reading x[5], one past the end
    n = Size.var("n")
    x = apply("param", (), type=TensorType("f32", (n,)), name="x")
    tail = apply("slice", (x,), items=(("slice", 5, None, None, dim_sub(n, 5)),))
    fn = Function("f", (x,), (apply("exp", (tail,)),))
    seen, (out,) = launches(monkeypatch, ex, fn, [np.ones(5, np.float32)], {"n": 5})
    assert out.shape == (0,) and seen == []
    seen, (out,) = launches(monkeypatch, ex, fn, [np.zeros(7, np.float32)], {"n": 7})
    np.testing.assert_array_equal(out, [1.0, 1.0])
    assert len(seen) == 1


def guarded_loads(source: str, pointer: str) -> bool:
    """Every read of `pointer` in the kernel is inside an `if` block."""
    depth, inside = 0, []
    for line in source.splitlines():
        if f"{pointer}[" in line:
            inside.append(depth > 0)
        if line.strip().startswith("if (") and line.rstrip().endswith("{"):
            depth += 1
        elif line.strip() == "}" and depth:
            depth -= 1
    return bool(inside) and all(inside)


def test_concat_and_unslice_read_a_piece_only_where_it_is_selected(ex):
    # an empty piece has no element at all: the old clamped read of it was
    # outside its buffer even when its value was not used
    m, n = Size.var("m"), Size.var("n")
    a = apply("param", (), type=TensorType("f32", (m, 5)), name="a")
    b = apply("param", (), type=TensorType("f32", (n, 5)), name="b")
    joined = apply("concat", (a, b), axis=0)
    items = (("slice", 1, None, None, dim_sub(n, 1)),)
    spread = apply("unslice", (apply("slice", (b,), items=items),), type=b.type, items=items)
    for root, pointer in ((joined, "in0"), (joined, "in1"), (spread, "in0")):
        listing = ex.kernels_for(Function("f", (a, b), (apply("mul", (root, root)),)))
        source = "\n".join(src for _, src, _ in listing)
        assert guarded_loads(source, pointer), source
    g = Graph()
    g.params.update(p0=np.zeros((0, 5), np.float32), p1=np.ones((3, 5), np.float32))
    g.sizes.update(m=0, n=3)
    a, b = (apply("param", (), type=t.type, name=f"p{i}") for i, t in enumerate((a, b)))
    g.compare(ex, apply("concat", (a, b), axis=0), apply("concat", (b, a), axis=0))


def test_an_unslice_whose_piece_cannot_be_empty_reads_without_a_branch(ex):
    # a whole axis and a slice of known positive length: the piece is empty
    # only when the output is, which launches nothing; the read is clamped
    # and selected, so pocl vectorises it (LeNet's padded cotangent)
    n = Size.var("n")
    b = apply("param", (), type=TensorType("f32", (n, 6)), name="b")
    items = (("slice", 0, None, None, n), ("slice", 2, 5, 1, 3))
    spread = apply("unslice", (apply("slice", (b,), items=items),), type=b.type, items=items)
    listing = ex.kernels_for(Function("f", (b,), (apply("mul", (spread, spread)),)))
    source = "\n".join(src for _, src, _ in listing)
    assert "in0[" in source and not guarded_loads(source, "in0"), source
    g = Graph()
    g.sizes["n"] = 2
    g.params["p0"] = np.arange(12, dtype=np.float32).reshape(2, 6)
    p = apply("param", (), type=b.type, name="p0")
    g.compare(ex, apply("unslice", (apply("slice", (p,), items=items),), type=b.type, items=items))


def test_a_kernel_variable_never_takes_an_argument_name(ex):
    # found by the differential fuzzer: the unslice's condition was named
    # `in` + a counter, and `in2` was also the kernel's third argument
    src = """
def f0(a: f32[n], b: f32[1], d: f32) -> (f32[n], f32[1]):
    t0 = exp(tanh(b))
    t2 = t0[0]
    t3 = grad(t2 * t2, b)
    t4 = exp(tanh(d))
    return a + t2, t3
"""
    a, b = np.zeros(2, np.float32), np.full(1, 0.5, np.float32)
    want = dsl.compile(src, backend="numpy").f0(a, b, 0.0)
    got = dsl.compile(src, backend="opencl").f0(a, b, 0.0)
    for w, g in zip(want, got):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-6)


# ---- constructors and leaves ------------------------------------------------------------------
def test_constructors_and_leaves(ex):
    n = Size.var("n")
    g = Graph()
    g.sizes["n"] = 4
    x = g.param(np.arange(4.0), "f32", (n,))
    full = apply("full", (), type=TensorType("f32", (n, 3)), value=2.5)
    ar = apply("arange", (), type=TensorType("i64", (n,)))
    size = apply("size", (), type=TensorType("i64", ()), dim=n)
    table = apply("const", (), type=TensorType("f32", (2, 3)), value=((1.0, 2.0, 3.0), (4.0, 5.0, 6.0)))
    scalar = apply("const", (), type=TensorType("i32", ()), value=-7)
    g.compare(ex, full, ar, size, table, scalar, apply("mul", (x, apply("cast", (ar,), dtype="f32"))))


# ---- executor semantics -------------------------------------------------------------------
def shared(name, t):
    return apply("shared", (), type=t, name=name)


def test_updates_see_old_values():
    from runtime.opencl.executor import OpenCLExecutor
    from runtime.numpy.executor import NumpyExecutor
    t = TensorType("f32", (3,))
    types = {"a": t, "b": t}
    a, b = shared("a", t), shared("b", t)
    swap = Function("swap", (), (a,), (("a", b), ("b", a)))
    mix = Function("mix", (), (apply("add", (a, b)),),
                   (("a", apply("add", (a, b))), ("b", apply("mul", (a, b)))))
    runs = []
    for cls in (NumpyExecutor, OpenCLExecutor):
        e = cls(types)
        e.set_shared("a", np.array([1, 2, 3], np.float32))
        e.set_shared("b", np.array([10, 20, 30], np.float32))
        out = [np.asarray(e.call(swap, [], {})[0]).copy()]
        out.append(np.asarray(e.call(mix, [], {})[0]).copy())
        out += [e.get_shared("a"), e.get_shared("b")]
        runs.append(out)
    for got, want in zip(runs[1], runs[0]):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(runs[1][0], [1, 2, 3])      # the old a, not b


def test_views_of_arguments_and_state_are_copied_out():
    from runtime.opencl.executor import OpenCLExecutor
    from runtime.opencl.render import render_function
    t = TensorType("f32", (2, 3))
    W = shared("W", t)
    x = apply("param", (), type=t, name="x")
    flat = TensorType("f32", (6,))
    fn = Function("f", (x,), (apply("reshape", (x,), type=flat), apply("reshape", (W,), type=flat), W),
                  (("W", apply("add", (W, x))),))
    assert render_function(fn).kernels[0].writes == ("s:W",)     # no kernel writes x or W's view
    e = OpenCLExecutor({"W": t})
    w0 = np.arange(6, dtype=np.float32).reshape(2, 3)
    e.set_shared("W", w0)
    xs = np.ones((2, 3), np.float32)
    a, b, c = e.call(fn, [xs], {})
    np.testing.assert_array_equal(np.asarray(a), xs.ravel())
    np.testing.assert_array_equal(np.asarray(b), w0.ravel())
    np.testing.assert_array_equal(np.asarray(c), w0)
    np.testing.assert_array_equal(e.get_shared("W"), w0 + 1)


def test_update_in_place_when_safe_and_double_buffered_otherwise():
    from runtime.opencl.render import render_function
    t = TensorType("f32", (4, 4))
    W = shared("W", t)
    step = Function("step", (), (), (("W", apply("mul", (W, W))),))
    assert render_function(step).in_place == {"W": True}
    # W @ W reads W away from the element it writes: it must not be in place
    sq = Function("sq", (), (), (("W", apply("matmul", (W, W))),))
    assert render_function(sq).in_place == {"W": False}
    from runtime.opencl.executor import OpenCLExecutor
    e = OpenCLExecutor({"W": t})
    w = np.arange(16, dtype=np.float32).reshape(4, 4) / 10
    e.set_shared("W", w)
    e.call(sq, [], {})
    np.testing.assert_allclose(e.get_shared("W"), w @ w, rtol=1e-6)


def test_update_in_place_by_the_last_stage_of_a_long_reduction():
    from runtime.opencl.executor import OpenCLExecutor
    from runtime.opencl.render import render_function
    t = TensorType("f32", ())
    W = shared("W", t)
    x = apply("param", (), type=TensorType("f32", (100000,)), name="x")
    fn = Function("acc", (x,), (), (("W", apply("add", (W, apply("sum", (x,), axes=(0,),
                                                                  keepdims=False)))),))
    plan = render_function(fn)
    assert plan.in_place == {"W": True}
    assert [s.kernel.name for s in plan.steps] == ["acc_0_part", "acc_0"]
    (part,) = [b for k, b in plan.buffers.items() if k.endswith("_part")]
    assert part.label.startswith("partial sums of the result of `add`")
    e = OpenCLExecutor({"W": t})
    e.set_shared("W", np.float32(2.0))
    e.call(fn, [np.ones(100000, np.float32)], {})
    assert float(e.get_shared("W")) == 100002.0


def test_the_partials_of_a_long_reduction_are_planned_before_any_c(monkeypatch):
    """Rendering only writes C text: the plan (every buffer, the partials
    of a long reduction too) is fixed before, so the renderer gets it read-only."""
    from types import MappingProxyType

    from runtime.opencl import render
    planned = {}

    class ReadOnly(render.Context):
        def __init__(self, groups, keys, buffers, *rest):
            planned.update(buffers)
            super().__init__(groups, keys, MappingProxyType(buffers), *rest)
    monkeypatch.setattr(render, "Context", ReadOnly)
    x = apply("param", (), type=TensorType("f32", (100000,)), name="x")
    total = apply("sum", (apply("exp", (x,)),), axes=(0,), keepdims=False)
    plan = render.render_function(Function("total", (x,), (total,)))
    (key,) = [k for k in planned if k.endswith("_part")]
    assert planned[key] == plan.buffers[key]
    assert (plan.buffers[key].dtype, plan.buffers[key].shape) == ("f64", (8,))  # 8 groups, in double
    assert plan.steps[0].kernel.writes == (key,) and (key, False) in plan.steps[1].kernel.reads


def test_kernel_reads_come_from_the_ir():
    from runtime.opencl.passes import run_passes
    from runtime.opencl.render import assign_buffers, read_set
    n = Size.var("n")
    t = TensorType("f32", (4, 4))
    W = shared("W", t)
    x = apply("param", (), type=TensorType("f32", (n, 4)), name="x")
    g = apply("param", (), type=TensorType("f32", (n, 4)), name="g")
    xt = apply("transpose", (x,), perm=(1, 0))
    step = apply("sub", (W, apply("mul", (apply("const", (), type=TensorType("f32", ()), value=0.5),
                                          apply("matmul", (xt, g))))))
    turned = apply("add", (W, apply("transpose", (W,), perm=(1, 0))))
    for root, expected in ((step, {"s:W": True, "p:x": False, "p:g": False}),
                           (turned, {"s:W": False})):
        state = run_passes([root])
        keys, _ = assign_buffers("f", state.groups)
        root = state.roots[0]
        core = state.groups.cores.get(id(root))
        assert dict(read_set(state.groups, keys, root, core)) == expected


def test_results_are_lazy_and_survive_later_calls():
    from runtime.opencl.executor import OpenCLExecutor
    from runtime.opencl.lazy import LazyArray
    t = TensorType("f32", ())
    c = shared("c", t)
    one = apply("const", (), type=t, value=1.0)
    inc = Function("inc", (), (c,), (("c", apply("add", (c, one))),))
    e = OpenCLExecutor({"c": t})
    kept = [e.call(inc, [], {})[0] for _ in range(5)]
    assert all(isinstance(k, LazyArray) and not k.is_read for k in kept)
    assert [float(k) for k in kept] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert kept[0].shape == () and kept[0].dtype == np.float32
    assert kept[2] + 1 == 3.0 and f"{kept[3]:.1f}" == "3.0" and int(kept[4]) == 4
    assert np.asarray(kept[1]).dtype == np.float32 and kept[1].item() == 1.0
    assert str(kept[1]) == "1.0" and bool(kept[1])


def test_new_batch_size_does_not_rebuild():
    from runtime.opencl.executor import OpenCLExecutor
    n = Size.var("n")
    x = apply("param", (), type=TensorType("f32", (n, 3)), name="x")
    fn = Function("f", (x,), (apply("sum", (apply("exp", (x,)),), axes=(0,), keepdims=False),))
    e = OpenCLExecutor({})
    e.call(fn, [np.ones((5, 3), np.float32)], {"n": 5})
    builds = e.stats["builds"]
    for rows in (7, 1, 600, 5):
        (out,) = e.call(fn, [np.ones((rows, 3), np.float32)], {"n": rows})
        np.testing.assert_allclose(np.asarray(out), np.full(3, rows * np.e, np.float32), rtol=1e-6)
    assert e.stats["builds"] == builds


def test_dataset_views_upload_once():
    from runtime.opencl.executor import OpenCLExecutor
    n = Size.var("n")
    x = apply("param", (), type=TensorType("f32", (n, 4)), name="x")
    fn = Function("f", (x,), (apply("sum", (x,), axes=(1,), keepdims=False),))
    data = np.random.default_rng(0).random((100, 4), dtype=np.float32)
    data.flags.writeable = False
    e = OpenCLExecutor({})
    cache = e.rt.datasets
    before = len(cache.entries)
    for lo in range(0, 100, 30):
        batch = data[lo:lo + 30]
        (out,) = e.call(fn, [batch], {"n": len(batch)})
        np.testing.assert_allclose(np.asarray(out), batch.sum(1), rtol=1e-6)
    assert len(cache.entries) == before + 1
    writable = np.ones((8, 4), np.float32)
    (out,) = e.call(fn, [writable[2:5]], {"n": 3})    # a writable array is copied per call
    writable[:] = 0
    np.testing.assert_array_equal(np.asarray(out), [4, 4, 4])
    assert len(cache.entries) == before + 1


def test_logistic_regression_matches_numpy():
    """20 SGD steps of the flagship program on random data, both backends."""
    from dsl.api import compile_functions
    from dsl.program import check_source
    from runtime.numpy.executor import NumpyExecutor
    from runtime.opencl.executor import OpenCLExecutor
    source = textwrap.dedent("""
        shared W: f32[784, 10] = zeros()
        shared b: f32[10] = zeros()

        def p_y_given_x(x: f32[n, 784]) -> f32[n, 10]:
            return softmax(x @ W + b)

        def train(x: f32[n, 784], y: i32[n]) -> f32:
            cost = -mean(log(p_y_given_x(x))[arange(n), y])
            W <- W - 0.13 * grad(cost, W)
            b <- b - 0.13 * grad(cost, b)
            return cost

        def predict(x: f32[n, 784]) -> i32[n]:
            return argmax(p_y_given_x(x), axis=1)
        """)
    prog = check_source(source, "lr.sym")
    prog.raise_errors()
    fns, _ = compile_functions(prog)
    rng = np.random.default_rng(0)
    X = rng.random((20 * 100, 784), dtype=np.float32)
    X.flags.writeable = False
    Y = rng.integers(0, 10, len(X)).astype(np.int32)
    backends = [NumpyExecutor(prog.shareds), OpenCLExecutor(prog.shareds)]
    costs = [[], []]
    for step in range(20):
        x, y = X[step * 100:(step + 1) * 100], Y[step * 100:(step + 1) * 100]
        for e, c in zip(backends, costs):
            c.append(e.call(fns["train"], [x, y], {"n": 100})[0])
    np.testing.assert_allclose([float(c) for c in costs[1]], [float(c) for c in costs[0]], rtol=1e-4)
    for name in ("W", "b"):
        np.testing.assert_allclose(backends[1].get_shared(name), backends[0].get_shared(name),
                                   rtol=1e-3, atol=1e-6)
    preds = [np.asarray(e.call(fns["predict"], [X[:100]], {"n": 100})[0]) for e in backends]
    assert (preds[0] == preds[1]).mean() > 0.95


def test_gpu_code_paths_on_this_device():
    """The GPU renderings (local-memory tiled matmul, strided tree
    reductions, two-stage reductions) are plain OpenCL: run them here."""
    e = rendering_for("gpu")
    rng = np.random.default_rng(3)
    for m, k, n in [(37, 53, 19), (1, 16, 16), (40, 1, 3)]:
        g = Graph(symbolic=False)
        a = g.param(values(rng, (k, m), "f32"), "f32")
        b = g.param(values(rng, (k, n), "f32"), "f32")
        c = g.param(values(rng, (m, n), "f64"), "f64")
        d = g.param(values(rng, (n, k), "f64"), "f64")
        at = apply("transpose", (a,), perm=(1, 0))
        g.compare(e, apply("matmul", (at, b)), apply("matmul", (c, d)),
                  tol=dict(rtol=1e-5, atol=1e-5))
    g = Graph(symbolic=False)
    x = g.param(values(rng, (3, 40000), "f32"), "f32")
    i = g.param(rng.integers(-9, 9, (5000,)), "i64")
    g.compare(e, apply("sum", (x,), axes=(1,), keepdims=False),
              apply("max", (x,), axes=(0, 1), keepdims=True),
              apply("sum", (i,), axes=(0,), keepdims=False),
              tol=dict(rtol=1e-5, atol=1e-3))


def test_arguments_of_every_kind():
    from runtime.opencl.executor import OpenCLExecutor
    from runtime.opencl.lazy import LazyArray
    n = Size.var("n")
    x = apply("param", (), type=TensorType("f32", (n, 3)), name="x")
    m = apply("param", (), type=TensorType("bool", (3,)), name="m")
    s = apply("param", (), type=TensorType("f64", ()), name="s")
    out = apply("where", (m, apply("cast", (x,), dtype="f64"), s))
    fn = Function("f", (x, m, s), (out, apply("neg", (x,))))
    e = OpenCLExecutor({})
    big = np.arange(24, dtype=np.float32).reshape(4, 6)
    strided = big[:, ::2]                          # not contiguous: copied
    mask = np.array([True, False, True])
    got, neg = e.call(fn, [strided, mask, 2.5], {"n": 4})
    np.testing.assert_array_equal(np.asarray(got), np.where(mask, strided, 2.5))
    assert isinstance(neg, LazyArray)
    # an unread result passed back in stays on the device
    again, _ = e.call(fn, [neg, mask, np.float64(0.0)], {"n": 4})
    np.testing.assert_array_equal(np.asarray(again), np.where(mask, -strided, 0.0))
    empty, _ = e.call(fn, [np.zeros((0, 3), np.float32), mask, 1.0], {"n": 0})
    assert np.asarray(empty).shape == (0, 3)


# ---- faults and devices ------------------------------------------------------------------------
def test_describe_devices_and_choice():
    from runtime.opencl.device import choose_device, describe_devices
    table = describe_devices()
    assert "P:D" in table and "fp64" in table
    _, desc = choose_device(None)
    assert desc.startswith("OpenCL: ")
    for bad in ("7:7", "banana", "1:"):
        with pytest.raises(SymError) as e:
            choose_device(bad)
        assert "E0801" in str(e.value)


def test_build_failure_shows_log_and_source(ex):
    with pytest.raises(SymError) as e:
        ex.rt.program("__kernel void broken(__global float* a) { a[0] = nope; }", "broken")
    text = str(e.value)
    assert "E0802" in text and "nope" in text and "generated source" in text


def test_out_of_memory_names_the_buffer():
    from runtime.opencl.executor import OpenCLExecutor
    huge = TensorType("f32", (1 << 20, 1 << 14))     # 64 GiB
    with pytest.raises(SymError) as e:
        OpenCLExecutor({"big": huge})
    assert "E0803" in str(e.value) and "shared `big`" in str(e.value)


def test_f64_on_a_device_without_fp64_is_an_error():
    from runtime.opencl.render import RenderOptions, render_function
    x = apply("param", (), type=TensorType("f64", (3,)), name="x")
    with pytest.raises(SymError) as e:
        render_function(Function("needs_double", (x,), (apply("exp", (x,)),)), RenderOptions(fp64=False))
    assert "E0805" in str(e.value) and "needs_double" in str(e.value)


DISK_CACHE_SCRIPT = """
import time, numpy as np
from dsl.build import apply
from dsl.ir import Function
from dsl.types import TensorType, Size
from runtime.opencl.executor import OpenCLExecutor
n = Size.var("n")
x = apply("param", (), type=TensorType("f32", (n, 5)), name="x")
fn = Function("cached_probe", (x,), (apply("softmax", (apply("tanh", (x,)),), axis=1),))
e = OpenCLExecutor({})
t = time.perf_counter()
out = np.asarray(e.call(fn, [np.ones((3, 5), np.float32)], {"n": 3})[0])
print(time.perf_counter() - t, e.rt.store.restored, float(out.sum()))
"""


@needs_pocl
def test_second_process_hits_the_disk_cache(tmp_path):
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path), SYM_DEVICE="cpu")
    env.pop("POCL_CACHE_DIR", None)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    restored = []
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", DISK_CACHE_SCRIPT], env=env, cwd=root,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        _seconds, hits, total_ = (float(v) for v in out.stdout.split())
        assert abs(total_ - 3.0) < 1e-5
        restored.append(int(hits))
    assert any((tmp_path / "sym" / "opencl" / "kernels").iterdir())
    # the first process builds and stores; the second finds every kernel in the store
    assert restored[0] == 0 and restored[1] > 0, restored
