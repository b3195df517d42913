"""conv2d and pooling on the numpy backend against straightforward loops
over output positions, their gradients against finite differences, and
their sizes in the checker."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dsl.autodiff import grad
from dsl.build import apply
from dsl.diagnostics import SymError
from dsl.program import check_source
from dsl.types import NotDivisible, Size, TensorType, dim_add, dim_floordiv, dim_mul
from gradcheck import fd_grad
from runtime.numpy import Env, evaluate

SETTINGS = settings(max_examples=25, deadline=None)
H = Size.var("h")


# ---- references: one loop iteration per output position ----------------------
def ref_conv2d(x, k, mode, stride):
    b, c, h, w = x.shape
    o, _, kh, kw = k.shape
    if mode == "full":
        x = np.pad(x, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    rows = (x.shape[2] - kh) // stride[0] + 1
    cols = (x.shape[3] - kw) // stride[1] + 1
    flipped = k[:, :, ::-1, ::-1]
    y = np.zeros((b, o, rows, cols))
    for i in range(rows):
        for j in range(cols):
            patch = x[:, :, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw]
            for n in range(b):
                for f in range(o):
                    y[n, f, i, j] = np.sum(patch[n] * flipped[f])
    return y


def pool_starts(size, window, stride, ignore_border):
    """Where Theano's windows start (a partial window is clipped to the input)."""
    return [i * stride for i in range(theano_pool_size(size, window, stride, ignore_border))]


def ref_pool2d(x, kind, window, stride, ignore_border):
    rows = pool_starts(x.shape[2], window[0], stride[0], ignore_border)
    cols = pool_starts(x.shape[3], window[1], stride[1], ignore_border)
    y = np.zeros(x.shape[:2] + (len(rows), len(cols)))
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            patch = x[:, :, r:r + window[0], c:c + window[1]]
            y[:, :, i, j] = patch.max(axis=(2, 3)) if kind == "max" else patch.mean(axis=(2, 3))
    return y


def theano_pool_size(size, window, stride, ignore_border):
    """Theano's Pool.out_shape, as written there."""
    if ignore_border:
        return (size - window) // stride + 1
    if stride >= window:
        return (size - 1) // stride + 1
    return max(0, (size - 1 - window + stride) // stride) + 1


# ---- graphs ------------------------------------------------------------------
def param(name, value):
    return apply("param", (), type=TensorType("f64", value.shape), name=name)


def run(nodes, params):
    return evaluate(list(nodes), Env(params=params))


@st.composite
def conv_case(draw):
    mode = draw(st.sampled_from(["valid", "full"]))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    low_h, low_w = (kh, kw) if mode == "valid" else (1, 1)
    h, w = draw(st.integers(low_h, 8)), draw(st.integers(low_w, 8))
    b, c, o = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return (b, c, h, w), (o, c, kh, kw), mode, stride


@st.composite
def pool_case(draw):
    kind = draw(st.sampled_from(["max", "mean"]))
    ignore_border = draw(st.booleans())
    window = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    low = window if ignore_border else (1, 1)
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)),
             draw(st.integers(low[0], 7)), draw(st.integers(low[1], 7)))
    return shape, kind, window, stride, ignore_border


def distinct(rng, shape):
    # well-spaced values in random order: no ties, so max pooling is smooth here
    return rng.permutation(np.arange(np.prod(shape)) * 0.37 - 1.5).reshape(shape)


@SETTINGS
@given(case=conv_case(), seed=st.integers(0, 2**32 - 1))
def test_conv2d_matches_loops(case, seed):
    xs, ks, mode, stride = case
    rng = np.random.default_rng(seed)
    x, k = rng.normal(size=xs), rng.normal(size=ks)
    y = apply("conv2d", (param("x", x), param("k", k)), mode=mode, stride=stride)
    (got,) = run([y], {"x": x, "k": k})
    want = ref_conv2d(x, k, mode, stride)
    assert y.type.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@SETTINGS
@given(case=pool_case(), seed=st.integers(0, 2**32 - 1))
def test_pool2d_matches_loops(case, seed):
    shape, kind, window, stride, ignore_border = case
    x = np.random.default_rng(seed).normal(size=shape)
    y = apply("pool2d", (param("x", x),), kind=kind, window=window, stride=stride,
              ignore_border=ignore_border)
    (got,) = run([y], {"x": x})
    sizes = tuple(theano_pool_size(s, p, t, ignore_border) for s, p, t in zip(shape[2:], window, stride))
    assert y.type.shape[2:] == sizes
    want = ref_pool2d(x, kind, window, stride, ignore_border)
    assert want.shape[2:] == sizes
    np.testing.assert_allclose(got, want, rtol=1e-12)


# ---- gradients against finite differences ---------------------------------------
def weighted_sum(y, r):
    return apply("sum", (apply("mul", (y, r)),), axes=tuple(range(4)), keepdims=False)


def check_against_fd(y, params, wrts, rng):
    r = rng.normal(size=y.type.shape)
    cost = weighted_sum(y, param("r", r))
    params = {**params, "r": r}
    got = run(grad(cost, wrts), params)
    for w, g in zip(wrts, got):
        np.testing.assert_allclose(g, fd_grad(cost, params, w.attr("name")), rtol=1e-5, atol=1e-7)


@settings(max_examples=12, deadline=None)
@given(case=conv_case(), seed=st.integers(0, 2**32 - 1))
def test_conv2d_gradients(case, seed):
    xs, ks, mode, stride = case
    rng = np.random.default_rng(seed)
    x, k = rng.normal(size=xs), rng.normal(size=ks)
    X, K = param("x", x), param("k", k)
    check_against_fd(apply("conv2d", (X, K), mode=mode, stride=stride), {"x": x, "k": k}, [X, K], rng)


@settings(max_examples=12, deadline=None)
@given(case=pool_case(), seed=st.integers(0, 2**32 - 1))
def test_pool2d_gradients(case, seed):
    shape, kind, window, stride, ignore_border = case
    rng = np.random.default_rng(seed)
    x = distinct(rng, shape)
    X = param("x", x)
    y = apply("pool2d", (X,), kind=kind, window=window, stride=stride, ignore_border=ignore_border)
    check_against_fd(y, {"x": x}, [X], rng)


def test_max_pool_gradient_goes_to_the_first_maximum():
    x = np.array([[[[1.0, 3.0], [3.0, 0.0]]]])
    X = param("x", x)
    y = apply("pool2d", (X,), kind="max", window=(2, 2), stride=(2, 2), ignore_border=True)
    (g,) = run(grad(apply("sum", (y,), axes=(0, 1, 2, 3), keepdims=False), [X]), {"x": x})
    np.testing.assert_array_equal(g, [[[[0.0, 1.0], [0.0, 0.0]]]])


def test_overlapping_max_windows_accumulate():
    x = np.array([[[[0.0, 5.0, 1.0]]]])
    X = param("x", x)
    y = apply("pool2d", (X,), kind="max", window=(1, 2), stride=(1, 1), ignore_border=True)
    (g,) = run(grad(apply("sum", (y,), axes=(0, 1, 2, 3), keepdims=False), [X]), {"x": x})
    np.testing.assert_array_equal(g, [[[[0.0, 2.0, 0.0]]]])


# ---- sizes -------------------------------------------------------------------
def test_floordiv_of_sizes():
    assert dim_floordiv(dim_add(dim_mul(2, H), -1), 2) == dim_add(H, -1)
    assert dim_floordiv(7, 2) == 3
    with pytest.raises(NotDivisible):
        dim_floordiv(dim_add(H, -2), 2)


def signatures(text):
    prog = check_source(text, "t.sym")
    assert not prog.diagnostics, [d.render() for d in prog.diagnostics]
    return prog


@pytest.mark.parametrize("expr,result", [
    ("conv2d(x, k)", "f32[n, o, h - kh + 1, w - kw + 1]"),
    ('conv2d(x, k, mode="full")', "f32[n, o, h + kh - 1, kw + w - 1]"),
    ("max_pool2d(conv2d(x, k), (1, 1))", "f32[n, o, h - kh + 1, w - kw + 1]"),
])
def test_result_sizes_are_kept(expr, result):
    text = (f"def f(x: f32[n, c, h, w], k: f32[o, c, kh, kw]) -> f32[n, o, h, w]:\n"
            f"    return {expr}\n")
    prog = check_source(text, "t.sym")
    # the declared type is wrong on purpose: the message shows the kept sizes
    assert f"returns {result}, but" in prog.diagnostics[0].message


def test_strided_sizes_divide_exactly():
    signatures("def f(x: f32[n, 3, 2*h, 2*w], ref: f32[h, w]) -> f32[n, 3, h, w]:\n"
               "    return max_pool2d(x, (2, 2))\n")
    signatures("def f(x: f32[n, 1, 28, 28], k: f32[6, 1, 5, 5]) -> f32[n, 6, 12, 12]:\n"
               "    return conv2d(x, k, stride=(2, 2))\n")


def test_lenet_shapes_and_bias():
    signatures("""shared W0: f32[20, 1, 5, 5] = zeros()
shared b0: f32[20] = zeros()
shared W1: f32[50, 20, 5, 5] = zeros()

def features(x: f32[n, 784]) -> f32[n, 800]:
    h0 = tanh(max_pool2d(conv2d(reshape(x, (n, 1, 28, 28)), W0), (2, 2)) + b0[none, :, none, none])
    return reshape(max_pool2d(conv2d(h0, W1), (2, 2)), (n, 800))
""")


def test_none_adds_axes_of_size_one():
    prog = check_source("def f(b: f32[k], x: f32[m, k]) -> f32[1, k, 1, 1]:\n"
                        "    return b[none, :, none, none]\n"
                        "def g(x: f32[m, k]) -> f32[k, 1]:\n"
                        "    return x[0, :, none]\n", "t.sym")
    assert not prog.diagnostics, [d.render() for d in prog.diagnostics]


# ---- the tensor API under Theano's names -----------------------------------------
def test_theano_names_compute_the_same(monkeypatch):
    import dsl
    monkeypatch.setenv("SYM_BACKEND", "numpy")
    rng = np.random.default_rng(3)
    w = rng.normal(size=(4, 1, 3, 3)).astype(np.float32)
    b = rng.normal(size=4).astype(np.float32)
    xv = rng.normal(size=(5, 64)).astype(np.float32)
    x = dsl.matrix("x")
    W, B = dsl.shared(w, name="W"), dsl.shared(b, name="B")
    img = x.reshape((x.shape[0], 1, 8, 8))          # binds x's second size to 64
    conv = dsl.conv2d(img, W, border_mode="full", subsample=(2, 1))
    corr = dsl.conv2d(img, W, filter_flip=False)
    pooled = dsl.pool_2d(conv, (3, 2), ignore_border=False, stride=(2, 2), mode="average_exc_pad")
    hidden = dsl.tanh(dsl.pool_2d(corr, (2, 2)) + B.dimshuffle("x", 0, "x", "x")).flatten(2)
    got_conv, got_pooled, got_hidden = dsl.function([x], [conv, pooled, hidden])(xv)
    images = xv.reshape(5, 1, 8, 8).astype(np.float64)
    want_conv = ref_conv2d(images, w, "full", (2, 1))
    np.testing.assert_allclose(got_conv, want_conv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_pooled, ref_pool2d(want_conv, "mean", (3, 2), (2, 2), False),
                               rtol=1e-5, atol=1e-5)
    corr_want = ref_conv2d(images, w[:, :, ::-1, ::-1], "valid", (1, 1))     # cross-correlation
    want = np.tanh(ref_pool2d(corr_want, "max", (2, 2), (2, 2), True) + b[None, :, None, None])
    np.testing.assert_allclose(got_hidden, want.reshape(5, 36), rtol=1e-5, atol=1e-5)


def test_dimshuffle_reorders_and_adds_axes(monkeypatch):
    import dsl
    monkeypatch.setenv("SYM_BACKEND", "numpy")
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = dsl.matrix("x")
    got = dsl.function([x], x.dimshuffle(1, "x", 0))(a)
    np.testing.assert_array_equal(got, a.T[:, None, :])
    assert x.flatten().ndim == 1 and x[None].ndim == 3


# ---- initial weights drawn as the tutorial draws them ------------------------------
def test_after_continues_the_generator(tmp_path):
    import dsl
    src = tmp_path / "draws.sym"
    src.write_text("shared W0: f32[2, 1, 2, 2] = uniform(-0.2, 0.2, seed=23455)\n"
                   "shared b0: f32[2] = zeros()\n"
                   "shared W1: f32[3, 2, 2, 2] = uniform(-0.1, 0.1, after=W0)\n"
                   "shared W2: f32[4, 3] = normal(0.0, 1.0, after=W1)\n")
    m = dsl.load(src, backend="numpy").run()
    rng = np.random.RandomState(23455)
    np.testing.assert_array_equal(m.W0, rng.uniform(-0.2, 0.2, (2, 1, 2, 2)).astype(np.float32))
    np.testing.assert_array_equal(m.W1, rng.uniform(-0.1, 0.1, (3, 2, 2, 2)).astype(np.float32))
    np.testing.assert_array_equal(m.W2, rng.normal(0.0, 1.0, (4, 3)).astype(np.float32))


def test_an_initial_value_without_free_memory_is_a_located_error(tmp_path, monkeypatch):
    """It fits the physical memory but not what is free: E0221, not an internal error."""
    import dsl
    import runtime.host

    class Exhausted:
        def __init__(self, seed):
            pass

        def normal(self, *args, **kwargs):
            raise MemoryError("Unable to allocate 8.00 GiB")
    monkeypatch.setattr(runtime.host.np.random, "RandomState", Exhausted)
    src = tmp_path / "big.sym"
    src.write_text("shared S: f32[4] = normal(0.0, 1.0, seed=3)\n")
    with pytest.raises(dsl.SymError) as info:
        dsl.load(src, backend="numpy").run()
    assert info.value.diagnostics[0].code == "E0221"
    assert "initial value of `S`" in info.value.diagnostics[0].message


def test_shared_storage_without_free_memory_is_named(monkeypatch):
    import dsl
    import runtime.numpy.executor as executor

    def exhausted(name, t):
        raise executor.SharedOutOfMemory(name, t, MemoryError("Unable to allocate 8.00 GiB"))
    monkeypatch.setattr(executor, "zeros_of", exhausted)
    with pytest.raises(SymError) as info:
        dsl.compile("shared S0: f32[4] = zeros()\n", backend="numpy")
    d = info.value.diagnostics[0]
    assert d.code == "E0221" and "shared `S0`" in d.message and d.span.line == 1


def test_a_full_convolution_of_an_empty_image_is_refused_before_it_runs():
    from runtime.numpy import check_sizes
    from dsl.ir import toposort
    x = apply("param", (), type=TensorType("f32", (2, 1, Size.var("h"), 5)), name="x")
    k = apply("param", (), type=TensorType("f32", (2, 1, 1, 3)), name="k")
    y = apply("conv2d", (x, k), mode="full", stride=(1, 1))
    with pytest.raises(SymError) as info:
        check_sizes(toposort([y]), {"h": 0})
    assert info.value.diagnostics[0].code == "E0234"
    check_sizes(toposort([y]), {"h": 1})
