"""conv2d, its two gradients and pooling on the OpenCL backend against the
numpy backend: random shapes, modes, strides (each example compiles a
program, so few examples), both the CPU and the GPU renderings, the fused
bias + tanh epilogue, and VJPs through the OpenCL backend."""
from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import ROOT, needs_mnist
from hypothesis import given, settings, strategies as st
from test_opencl import Graph, rendering_for

import dsl
from dsl.autodiff import grad
from dsl.build import apply
from dsl.ir import Function
from dsl.types import Size, dim_eval
from runtime.opencl.conv import windows_tile
from runtime.opencl.device import opencl_available

pytestmark = pytest.mark.skipif(not opencl_available(), reason="no OpenCL device")

FEW = settings(max_examples=6, deadline=None)
TOL = {"f32": dict(rtol=2e-4, atol=2e-4), "f64": dict(rtol=1e-10, atol=1e-10)}
TARGETS = ["cpu", "gpu"]


@pytest.fixture(scope="module", params=TARGETS)
def ex(request):
    return rendering_for(request.param)


def image_param(g: Graph, rng, shape, dtype, batch=None):
    """A param of `shape` whose first axis is the size variable `b` when batch is given."""
    value = rng.standard_normal(shape).round(2)
    dims = ((Size.var("b"),) if batch else (shape[0],)) + tuple(shape[1:])
    if batch:
        g.sizes["b"] = shape[0]
    return g.param(value, dtype, dims)


def cotangent(g: Graph, rng, like, dtype):
    shape = tuple(dim_eval(d, g.sizes) for d in like.type.shape)
    return g.param(rng.standard_normal(shape), dtype, like.type.shape)


@st.composite
def conv_case(draw):
    mode = draw(st.sampled_from(["valid", "full"]))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    low = (kh, kw) if mode == "valid" else (1, 1)
    h, w = draw(st.integers(low[0], low[0] + 6)), draw(st.integers(low[1], low[1] + 9))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return dict(b=draw(st.integers(1, 3)), c=draw(st.integers(1, 3)), o=draw(st.integers(1, 5)),
                h=h, w=w, kh=kh, kw=kw, mode=mode, stride=stride)


@FEW
@given(case=conv_case(), seed=st.integers(0, 2**32 - 1), dtype=st.sampled_from(["f32", "f64"]),
       batch=st.booleans())
def test_conv2d_and_its_gradients(ex, case, seed, dtype, batch):
    rng = np.random.default_rng(seed)
    g = Graph(symbolic=False)
    c = case
    x = image_param(g, rng, (c["b"], c["c"], c["h"], c["w"]), dtype, batch)
    k = g.param(rng.standard_normal((c["o"], c["c"], c["kh"], c["kw"])), dtype)
    attrs = dict(mode=c["mode"], stride=c["stride"])
    y = apply("conv2d", (x, k), **attrs)
    gy = cotangent(g, rng, y, dtype)
    gx = apply("conv2d_grad_x", (gy, k), image=x.type.shape[2:], **attrs)
    gk = apply("conv2d_grad_k", (x, gy), kernel=k.type.shape[2:], **attrs)
    g.compare(ex, y, gx, gk, tol=TOL[dtype])


@pytest.mark.parametrize("gy_shape, k_shape", [
    ((2, 3, 8, 8), (3, 5, 5, 5)),       # LeNet's layer 2 in small: 5 channels, 2 a work-item
    ((3, 2, 4, 5), (2, 4, 3, 2)),       # rows of 5 (lanes past them zero), 4 channels
    ((1, 1, 1, 1), (1, 1, 1, 1)),
])
@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_image_gradient_without_padding(ex, gy_shape, k_shape, dtype, monkeypatch):
    """Valid, stride 1, gy rows of at most 8: the CPU kernel reads gy as it
    is (no padded copy); the GPU rendering convolves the padded copy."""
    from runtime.opencl.conv import scatters_rows
    from runtime.opencl.render import render_function
    rng = np.random.default_rng(sum(gy_shape))
    g = Graph(symbolic=False)
    gy = image_param(g, rng, gy_shape, dtype, batch=True)
    k = g.param(rng.standard_normal(k_shape), dtype)
    image = (gy_shape[2] + k_shape[2] - 1, gy_shape[3] + k_shape[3] - 1)
    gx = apply("conv2d_grad_x", (gy, k), image=image, mode="valid", stride=(1, 1))
    assert scatters_rows(gx)
    (got,) = g.compare(ex, gx, tol=TOL[dtype])
    ops = {n.op for spec in render_function(Function("f", (gy, k), (gx,)), ex.options).kernels
           for n in spec.fused}
    padded = ex.options.target == "gpu" and k_shape[2:] != (1, 1)    # 1x1: nothing to pad
    assert ("unslice" in ops) == padded, ops
    if ex.options.target == "cpu":      # the same sums in the same order as the padded one
        from runtime.opencl import conv
        monkeypatch.setattr(conv, "scatters_rows", lambda n: False)
        padded_way = rendering_for("cpu").evaluate([gx], g.params, dict(g.sizes))[0]
        np.testing.assert_array_equal(got, padded_way)


@st.composite
def pool_case(draw):
    window = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    ignore_border = draw(st.booleans())
    low = window if ignore_border else (1, 1)
    return dict(shape=(draw(st.integers(1, 2)), draw(st.integers(1, 3)),
                       draw(st.integers(low[0], low[0] + 6)), draw(st.integers(low[1], low[1] + 6))),
                kind=draw(st.sampled_from(["max", "mean"])), window=window,
                stride=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
                ignore_border=ignore_border)


@FEW
@given(case=pool_case(), seed=st.integers(0, 2**32 - 1), dtype=st.sampled_from(["f32", "f64"]))
def test_pool2d_and_its_gradient(ex, case, seed, dtype):
    rng = np.random.default_rng(seed)
    g = Graph(symbolic=False)
    # few distinct values: ties, which max pooling's gradient breaks by the first
    x = g.param(rng.integers(-3, 3, case.pop("shape")), dtype)
    y = apply("pool2d", (x,), **case)
    gy = cotangent(g, rng, y, dtype)
    g.compare(ex, y, apply("pool2d_grad", (x, gy), **case), tol=TOL[dtype])


@pytest.mark.parametrize("kind", ["max", "mean"])
@pytest.mark.parametrize("ignore_border", [True, False])
@pytest.mark.parametrize("shape", [(2, 2, 7, 8), (2, 2, 6, 9)])
def test_pooling_windows_that_tile_the_input(ex, kind, ignore_border, shape):
    """stride = window (LeNet's) has its own gradient code: one window per
    element; where the windows cover the input exactly, a max-pooling
    gradient runs one work-item per window (window_grad_kernel)."""
    rng = np.random.default_rng(2)
    g = Graph(symbolic=False)
    x = g.param(rng.integers(-2, 2, shape), "f32")
    attrs = dict(kind=kind, window=(2, 3), stride=(2, 3), ignore_border=ignore_border)
    y = apply("pool2d", (x,), **attrs)
    gy = cotangent(g, rng, y, "f32")
    gx = apply("pool2d_grad", (x, gy), **attrs)
    assert windows_tile(gx) == (kind == "max" and shape == (2, 2, 6, 9))
    g.compare(ex, y, gx)


def test_max_pooling_propagates_nan_and_sends_its_gradient_to_the_first_nan(ex):
    g = Graph(symbolic=False)
    x = g.param(np.array([[[[1, np.nan, 2, 2], [np.nan, 0, 2, 2]]]]), "f32")
    attrs = dict(kind="max", window=(2, 2), stride=(2, 2), ignore_border=True)
    y = apply("pool2d", (x,), **attrs)
    gy = g.param(np.array([[[[3.0, 5.0]]]]), "f32")
    pooled, gx = g.compare(ex, y, apply("pool2d_grad", (x, gy), **attrs))
    assert np.isnan(np.asarray(pooled)[0, 0, 0, 0])
    np.testing.assert_array_equal(np.asarray(gx)[0, 0], [[0, 3, 5, 0], [0, 0, 0, 0]])


@pytest.mark.parametrize("kind, what", [("max", "pool"), ("mean", "pool"), ("max", "pool+tanh"),
                                        ("mean", "pool+tanh"), ("max", "pool*tanh(pool)"),
                                        ("max", "gradient")])
def test_windows_read_as_vectors_give_the_same_bits(kind, what, monkeypatch):
    """On a CPU, 2x2 windows of stride 2 on rows of a multiple of 8
    (LeNet's) are read as float8 rows, 4 windows a work-item, by the
    pooling's map kernel and by the max-pooling gradient; the values are
    those of one window a work-item, bit for bit, with NaNs, infinities,
    ties and signed zeros in the windows."""
    from runtime.opencl import conv, render
    rng = np.random.default_rng(3)
    g = Graph(symbolic=False)
    # a row past the last window, except for the gradient's windows that tile the image
    values = rng.standard_normal((3, 2, 6 if what == "gradient" else 7, 16)).round(1)
    values.flat[rng.choice(values.size, 40, replace=False)] = [np.nan, np.inf, -np.inf, -0.0] * 10
    g.sizes["b"] = values.shape[0]
    x = g.param(values, "f32", (Size.var("b"),) + values.shape[1:])
    bias = g.param(rng.standard_normal((1, 2, 1, 1)), "f32")
    attrs = dict(kind=kind, window=(2, 2), stride=(2, 2), ignore_border=True)
    y = apply("pool2d", (x,), **attrs)
    if what == "pool+tanh":
        y = apply("tanh", (apply("add", (y, bias)),))
    elif what == "pool*tanh(pool)":      # one pooling, read twice
        y = apply("mul", (y, apply("tanh", (y,))))
    inputs = [x, bias]
    if what == "gradient":
        inputs.append(cotangent(g, rng, y, "f32"))
        y = apply("pool2d_grad", (x, inputs[-1]), **attrs)
    plan = render.render_function(Function("f", tuple(inputs), (y,)), rendering_for("cpu").options)
    assert ["vload8" in spec.text for spec in plan.kernels] == [True]
    vectors = np.asarray(rendering_for("cpu").evaluate([y], g.params, dict(g.sizes))[0])
    monkeypatch.setattr(conv, "vector_windows", lambda k, n: False)
    scalars = np.asarray(rendering_for("cpu").evaluate([y], g.params, dict(g.sizes))[0])
    assert (np.isnan(scalars).any() and np.isinf(scalars).any()) or what != "pool"
    np.testing.assert_array_equal(vectors.view(np.int32), scalars.view(np.int32))


def lenet_layer(g: Graph, rng, dtype="f32"):
    """tanh(max_pool(conv2d(x, k)) + b[None, :, None, None]) and tanh(conv2d(x, k) + b)."""
    x = image_param(g, rng, (3, 2, 12, 10), dtype, batch=True)
    k = g.param(rng.standard_normal((4, 2, 5, 3)) * 0.3, dtype)
    b = g.param(rng.standard_normal((1, 4, 1, 1)), dtype)
    conv = apply("conv2d", (x, k), mode="valid", stride=(1, 1))
    pooled = apply("pool2d", (conv,), kind="max", window=(2, 2), stride=(2, 2), ignore_border=True)
    return x, k, b, apply("tanh", (apply("add", (pooled, b)),)), \
        apply("tanh", (apply("add", (conv, b)),))


def test_bias_and_tanh_are_fused_with_the_conv_or_the_pooling():
    from runtime.opencl.render import render_function
    g = Graph(symbolic=False)
    x, k, b, pooled, direct = lenet_layer(g, np.random.default_rng(0))
    for out, ops in ((direct, ("conv2d", "add", "tanh")), (pooled, ("pool2d", "add", "tanh"))):
        plan = render_function(Function("f", (x, k, b), (out,)))
        fused = [[n.op for n in spec.fused] for spec in plan.kernels]
        assert any(all(op in f for op in ops) for f in fused), fused


def test_gradients_through_opencl_equal_numpys(ex):
    """The VJPs of a LeNet layer (conv, max pooling, bias, tanh) and of a
    strided full convolution after it, with respect to the filters, the
    bias and the image."""
    rng = np.random.default_rng(1)
    g = Graph(symbolic=False)
    x, k, b, pooled, direct = lenet_layer(g, rng)
    weights = g.param(rng.standard_normal((3, 4, 4, 4)), "f32", pooled.type.shape)
    k2 = g.param(rng.standard_normal((2, 4, 2, 3)) * 0.3, "f32")
    full = apply("conv2d", (direct, k2), mode="full", stride=(2, 1))
    loss = apply("add", (
        apply("sum", (apply("mul", (pooled, weights)),), axes=(0, 1, 2, 3), keepdims=False),
        apply("sum", (apply("mul", (full, full)),), axes=(0, 1, 2, 3), keepdims=False)))
    g.compare(ex, loss, *grad(loss, [x, k, b, k2]), tol=dict(rtol=1e-4, atol=1e-4))


@needs_mnist
def test_lenet_first_minibatches_cost_the_same_on_both_backends(tmp_path):
    from runtime.data import mnist
    train = mnist(None).train
    costs = []
    for backend in ("numpy", "opencl"):
        prog = dsl.load(ROOT / "programs" / "mnist_lenet.sym", backend=backend, progress=False,
                        options={"epochs": 0, "filters_png": str(tmp_path / "filters.png")},
                        out=io.StringIO()).run()
        costs.append([float(prog.train(train.x[i * 500:(i + 1) * 500], train.y[i * 500:(i + 1) * 500]))
                      for i in range(20)])
    np.testing.assert_allclose(costs[1], costs[0], rtol=1e-4)
