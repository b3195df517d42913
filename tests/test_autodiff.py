"""Gradients against central finite differences, the VJP inner-product
identity <J v, g> = <v, J^T g> for every rule, second derivatives, and the
diagnostic codes. Everything runs in float64 on the numpy backend."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dsl.autodiff import NONDIFF, VJP, grad
from dsl.diagnostics import Span, SymError
from dsl.build import apply, const
from dsl.ir import Body, node
from dsl.ops import Op
from dsl.types import Size, TensorType
from gradcheck import fd_grad
from runtime.numpy import Env, evaluate

SETTINGS = settings(max_examples=30, deadline=None)

EPS = 1e-6
N = Size.var("n")


# ---- helpers ---------------------------------------------------------------
def param(name, value, dtype="f64", shape=None):
    shape = np.shape(value) if shape is None else shape
    return apply("param", (), type=TensorType(dtype, tuple(shape)), name=name)


def total(x):
    return apply("sum", (x,), axes=tuple(range(x.type.rank)), keepdims=False)


def run(nodes, params, sizes=None):
    return evaluate(list(nodes), Env(sizes=sizes or {}, params=params))


def check_grads(cost, nodes, params, sizes=None, rtol=1e-4, atol=1e-6):
    """grad(cost, nodes) against finite differences, and the result types."""
    gs = grad(cost, nodes)
    got = run(gs, params, sizes)
    for node, g, value in zip(nodes, gs, got):
        assert g.type == node.type
        want = fd_grad(cost, params, node.attr("name"), sizes)
        np.testing.assert_allclose(value, want, rtol=rtol, atol=atol,
                                   err_msg=f"d cost / d {node.attr('name')}")
    return got


# ---- one case per differentiable op ----------------------------------------
# name -> (make(rng) -> {param: value}, build(P) -> y). P maps names to param
# nodes. Inputs stay away from kinks and poles so finite differences hold.
def away(rng, shape, low=0.3, high=2.0):
    """Values with |x| in [low, high], random sign: no kink at 0."""
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


def unary(op, low=-2.0, high=2.0):
    return (lambda r: {"x": r.uniform(low, high, (3, 4))}, lambda P: apply(op, (P["x"],)))


def binary(op, make_ab):
    return (lambda r: dict(zip("ab", make_ab(r))), lambda P: apply(op, (P["a"], P["b"])))


def reduce_case(op, axes, keepdims, make=None):
    make = make or (lambda r: {"x": r.uniform(-2, 2, (3, 4, 2))})
    return (make, lambda P: apply(op, (P["x"],), axes=axes, keepdims=keepdims))


def distinct(r, shape):
    # a permutation of well-spaced values: no ties anywhere
    return r.permutation(np.arange(np.prod(shape)) * 0.37 - 1.5).reshape(shape)


def mod_pair(r):
    b = r.uniform(1.0, 2.0, (4,))
    a = b * (r.integers(-2, 3, (3, 1)) + r.uniform(0.1, 0.9, (3, 4)))   # a/b off integers
    return a, b


def max_pair(r):
    b = r.uniform(-2, 2, (4,))
    return b + away(r, (3, 4), 0.1, 1.0), b


CASES = {
    "exp": unary("exp"), "log": unary("log", 0.3, 3.0), "log1p": unary("log1p", -0.5, 3.0),
    "log2": unary("log2", 0.3, 3.0),
    "sqrt": unary("sqrt", 0.3, 3.0), "tanh": unary("tanh"), "sigmoid": unary("sigmoid", -4, 4),
    "softplus": unary("softplus", -4, 4), "sin": unary("sin", -3, 3), "cos": unary("cos", -3, 3),
    "neg": unary("neg"),
    "abs": (lambda r: {"x": away(r, (3, 4))}, lambda P: apply("abs", (P["x"],))),
    "relu": (lambda r: {"x": away(r, (3, 4))}, lambda P: apply("relu", (P["x"],))),
    # binaries broadcast f64[3, 1] against f64[4]
    "add": binary("add", lambda r: (r.normal(size=(3, 1)), r.normal(size=(4,)))),
    "sub": binary("sub", lambda r: (r.normal(size=(3, 1)), r.normal(size=(4,)))),
    "mul": binary("mul", lambda r: (r.normal(size=(3, 1)), r.normal(size=(4,)))),
    "div": binary("div", lambda r: (r.normal(size=(3, 1)), away(r, (4,), 0.5))),
    "pow": binary("pow", lambda r: (r.uniform(0.5, 2, (3, 1)), r.uniform(-1.5, 1.5, (4,)))),
    "mod": binary("mod", mod_pair),
    "maximum": binary("maximum", max_pair),
    "minimum": binary("minimum", max_pair),
    "cast": (lambda r: {"x": r.normal(size=(3, 4))},
             lambda P: apply("cast", (P["x"],), dtype="f64")),
    "where": (lambda r: {"a": r.normal(size=(3, 1)), "b": r.normal(size=(4,))},
              lambda P: apply("where", (const_mask(), P["a"], P["b"]))),
    "sum": reduce_case("sum", (0, 2), False),
    "mean": reduce_case("mean", (1,), True),
    "prod": reduce_case("prod", (1,), False, lambda r: {"x": away(r, (3, 4, 2), 0.5, 1.5)}),
    "max": reduce_case("max", (0, 1), False, lambda r: {"x": distinct(r, (3, 4, 2))}),
    "min": reduce_case("min", (2,), True, lambda r: {"x": distinct(r, (3, 4, 2))}),
    "softmax": (lambda r: {"x": r.normal(size=(3, 4))},
                lambda P: apply("softmax", (P["x"],), axis=1)),
    "log_softmax": (lambda r: {"x": r.normal(size=(3, 4))},
                    lambda P: apply("log_softmax", (P["x"],), axis=0)),
    "logsumexp": (lambda r: {"x": r.normal(size=(3, 4))},
                  lambda P: apply("logsumexp", (P["x"],), axis=1)),
    "matmul": binary("matmul", lambda r: (r.normal(size=(3, 4)), r.normal(size=(4, 2)))),
    "transpose": (lambda r: {"x": r.normal(size=(2, 3, 4))},
                  lambda P: apply("transpose", (P["x"],), perm=(2, 0, 1))),
    "reshape": (lambda r: {"x": r.normal(size=(2, 6))},
                lambda P: apply("reshape", (P["x"],), type=TensorType("f64", (3, 4)))),
    "broadcast_to": (lambda r: {"x": r.normal(size=(3, 1))},
                     lambda P: apply("broadcast_to", (P["x"],), type=TensorType("f64", (2, 3, 4)))),
    "sum_to": (lambda r: {"x": r.normal(size=(2, 3, 4))},
               lambda P: apply("sum_to", (P["x"],), type=TensorType("f64", (3, 1)))),
    "concat": (lambda r: {"a": r.normal(size=(2, 1)), "b": r.normal(size=(2, 3)),
                          "c": r.normal(size=(2, 2))},
               lambda P: apply("concat", (P["a"], P["b"], P["c"]), axis=1)),
    "slice": (lambda r: {"x": r.normal(size=(4, 5, 2))},
              lambda P: apply("slice", (P["x"],), items=SLICE_ITEMS)),
    "unslice": (lambda r: {"x": r.normal(size=(2, 2))},
                lambda P: apply("unslice", (P["x"],), type=TensorType("f64", (4, 5, 2)),
                                items=SLICE_ITEMS)),
    "gather": (lambda r: {"x": r.normal(size=(4, 3))},
               lambda P: apply("gather", (P["x"], index([0, 2, 2, -1]), index([1, 1, 1, 0])))),
    "scatter_add": (lambda r: {"x": r.normal(size=(4,))},
                    lambda P: apply("scatter_add", (P["x"], index([0, 2, 2, -1])),
                                    type=TensorType("f64", (5,)))),
    "cumsum": (lambda r: {"x": r.normal(size=(3, 4))},
               lambda P: apply("cumsum", (P["x"],), axis=1)),
    "apply_body": (lambda r: {"x": r.normal(size=(3, 4))},
                   lambda P: apply("apply_body", (P["x"],), body=exp_sin_body(P["x"].type))),
    # images f64[2, 3, 6, 5] and filters f64[4, 3, 3, 2]; stride 2 leaves rows unread
    "conv2d": (lambda r: {"x": r.normal(size=(2, 3, 6, 5)), "k": r.normal(size=(4, 3, 3, 2))},
               lambda P: apply("conv2d", (P["x"], P["k"]), mode="valid", stride=(2, 1))),
    "conv2d_grad_x": (lambda r: {"gy": r.normal(size=(2, 4, 4, 3)), "k": r.normal(size=(4, 3, 3, 2))},
                      lambda P: apply("conv2d_grad_x", (P["gy"], P["k"]), mode="full", stride=(2, 2),
                                      image=(6, 4))),
    "conv2d_grad_k": (lambda r: {"x": r.normal(size=(2, 3, 6, 5)), "gy": r.normal(size=(2, 4, 2, 4))},
                      lambda P: apply("conv2d_grad_k", (P["x"], P["gy"]), mode="valid", stride=(2, 1),
                                      kernel=(3, 2))),
    "pool2d": (lambda r: {"x": distinct(r, (2, 3, 5, 4))},
               lambda P: apply("pool2d", (P["x"],), kind="max", window=(2, 2), stride=(2, 1),
                               ignore_border=False)),
    # the max pooling's gradient is piecewise constant in x: mean pooling's is
    # linear in its cotangent (x is a constant here: it gets no gradient)
    "pool2d_grad": (lambda r: {"gy": r.normal(size=(2, 3, 2, 2))},
                    lambda P: apply("pool2d_grad", (image_const((2, 3, 5, 4)), P["gy"]), kind="mean",
                                    window=(3, 2), stride=(2, 2), ignore_border=False)),
}
# x[1, ::2][..., 1:] would be: index 1 on axis 0, then slice 4:0:-2 on axis 1
SLICE_ITEMS = (("index", 1), ("slice", 4, 0, -2, 2))


def exp_sin_body(t):
    """The body a -> exp(a) * sin(a)."""
    a = node("param", (), t, name="a")
    return Body((a,), (apply("mul", (apply("exp", (a,)), apply("sin", (a,)))),))


def const_mask():
    mask = ((True, False, True, True), (False, False, True, False), (True, True, True, False))
    return apply("const", (), type=TensorType("bool", (3, 4)), value=mask)


def image_const(shape):
    value = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    return apply("const", (), type=TensorType("f64", shape), value=_nested(value))


def _nested(a):
    return tuple(_nested(x) for x in a) if a.ndim else float(a)


def index(values):
    return apply("const", (), type=TensorType("i64", (len(values),)), value=tuple(values))


# a loop gives a tuple that only `item` reads: both are tested in tests/test_loops.py
TUPLE_OPS = (Op.LOOP, Op.ITEM)


def test_every_rule_has_a_case():
    assert sorted(op for op in VJP if op not in TUPLE_OPS) == sorted(CASES)


def make_case(op, seed):
    make, build = CASES[op]
    rng = np.random.default_rng(seed)
    values = {k: np.asarray(v, np.float64) for k, v in make(rng).items()}
    P = {k: param(k, v) for k, v in values.items()}
    y = build(P)
    R = rng.normal(size=y.type.concrete_shape({}))
    return values, P, y, R, rng


@pytest.mark.parametrize("op", sorted(CASES))
@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_rule_vs_finite_differences(op, seed):
    values, P, y, R, _ = make_case(op, seed)
    cost = total(apply("mul", (y, param("R", R))))
    check_grads(cost, list(P.values()), {**values, "R": R})


@pytest.mark.parametrize("op", sorted(CASES))
@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_vjp_inner_product_identity(op, seed):
    """<J v, g> by central differences along v equals <v, VJP(g)> from the rule."""
    values, P, y, g, rng = make_case(op, seed)
    g_node = param("g", g)
    cts = VJP[op](y, g_node)
    float_inputs = [(x, ct) for x, ct in zip(y.inputs, cts) if x.op == "param"]
    assert all(ct is not None for _, ct in float_inputs)
    v = {x.attr("name"): rng.normal(size=values[x.attr("name")].shape) for x, _ in float_inputs}
    shifted = [run([y], {k: values[k] + s * EPS * v.get(k, 0) for k in values})[0]
               for s in (1, -1)]
    jv = (shifted[0] - shifted[1]) / (2 * EPS)
    vjps = run([ct for _, ct in float_inputs], {**values, "g": g})
    lhs = np.sum(jv * g)
    rhs = sum(np.sum(v[x.attr("name")] * ct) for (x, _), ct in zip(float_inputs, vjps))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op", sorted(CASES))
def test_second_order(op):
    """Every rule builds differentiable IR: the gradient of <grad, R2>
    agrees with finite differences of the first gradient."""
    values, P, y, R, rng = make_case(op, 7)
    cost = total(apply("mul", (y, param("R", R))))
    wrts = list(P.values())
    first = grad(cost, wrts)
    R2 = {w.attr("name"): rng.normal(size=values[w.attr("name")].shape) for w in wrts}
    cost2 = apply("add", (const(0.0, "f64"), const(0.0, "f64")))
    for w, g in zip(wrts, first):
        cost2 = apply("add", (cost2, total(apply("mul", (g, param("R2" + w.attr("name"), R2[w.attr("name")]))))))
    params = {**values, "R": R, **{"R2" + k: v for k, v in R2.items()}}
    if op == "pool2d":      # max pooling: differentiable once (documented)
        with pytest.raises(SymError, match="E0404"):
            grad(cost2, wrts)
        return
    if op in ("add", "sub", "neg", "cast", "where", "sum", "mean", "transpose", "reshape",
              "broadcast_to", "sum_to", "concat", "slice", "unslice", "gather",
              "scatter_add", "cumsum", "relu", "abs", "mod", "maximum", "minimum", "max", "min",
              "pool2d_grad"):
        # linear or piecewise linear: the second derivative is 0 (or the cost
        # no longer depends on the input at all)
        try:
            got = run(grad(cost2, wrts), params)
        except SymError as e:
            assert e.diagnostic.code == "E0403"
            return
        for value in got:
            np.testing.assert_allclose(value, 0, atol=1e-12)
        return
    check_grads(cost2, wrts, params, rtol=1e-4, atol=1e-5)


# ---- composite models ------------------------------------------------------
def test_softmax_regression():
    rng = np.random.default_rng(0)
    n, d, k = 6, 5, 3
    values = {"x": rng.normal(size=(n, d)), "W": rng.normal(size=(d, k)) * 0.5,
              "b": rng.normal(size=(k,)), "y": rng.integers(0, k, n).astype(np.int32)}
    x = param("x", None, shape=(N, d))
    W, b = param("W", values["W"]), param("b", values["b"])
    y = param("y", None, "i32", shape=(N,))
    n_node = apply("size", (), type=TensorType("i64", ()), dim=N)
    rows = apply("arange", (n_node,), type=TensorType("i32", (N,)))
    logits = apply("add", (apply("matmul", (x, W)), b))
    picked = apply("gather", (apply("log_softmax", (logits,), axis=1), rows, y))
    cost = apply("neg", (apply("mean", (picked,), axes=(0,), keepdims=False),))
    check_grads(cost, [W, b, x], values, sizes={"n": n})


def test_two_layer_tanh_mlp():
    rng = np.random.default_rng(1)
    values = {"x": rng.normal(size=(5, 4)), "t": rng.normal(size=(5, 2)),
              "W1": rng.normal(size=(4, 3)), "b1": rng.normal(size=(3,)),
              "W2": rng.normal(size=(3, 2)), "b2": rng.normal(size=(2,))}
    P = {k: param(k, v) for k, v in values.items()}
    h = apply("tanh", (apply("add", (apply("matmul", (P["x"], P["W1"])), P["b1"])),))
    out = apply("add", (apply("matmul", (h, P["W2"])), P["b2"]))
    err = apply("pow", (apply("sub", (out, P["t"])), const(2.0, "f64")))
    cost = apply("mean", (err,), axes=(0, 1), keepdims=False)
    check_grads(cost, [P["W1"], P["b1"], P["W2"], P["b2"]], values)


@pytest.mark.parametrize("ranks", [(1, 1), (1, 2), (2, 1), (2, 2)])
def test_matmul_all_ranks(ranks):
    rng = np.random.default_rng(2)
    values = {"a": rng.normal(size=(3, 4)[2 - ranks[0]:]), "b": rng.normal(size=(4, 2)[:ranks[1]])}
    a, b = param("a", values["a"]), param("b", values["b"])
    y = apply("matmul", (a, b))
    R = rng.normal(size=y.type.concrete_shape({}))
    check_grads(total(apply("mul", (y, param("R", R)))), [a, b], {**values, "R": R})


def test_broadcast_add_reduces_cotangent():
    a, b = param("a", None, shape=(3, 1)), param("b", None, shape=(4,))
    ga, gb = grad(total(apply("add", (a, b))), [a, b])
    out = run([ga, gb], {"a": np.zeros((3, 1)), "b": np.zeros(4)})
    np.testing.assert_array_equal(out[0], np.full((3, 1), 4.0))
    np.testing.assert_array_equal(out[1], np.full(4, 3.0))


def test_mean_over_size_variable():
    x = param("x", None, shape=(N, 3))
    (g,) = grad(apply("mean", (x,), axes=(0, 1), keepdims=False), [x])
    assert g.type == x.type
    out = run([g], {"x": np.zeros((4, 3))}, {"n": 4})[0]
    np.testing.assert_allclose(out, np.full((4, 3), 1 / 12))


def test_f32_gradient_keeps_f32():
    x = param("x", None, "f32", shape=(N, 2))
    (g,) = grad(total(apply("sigmoid", (x,))), [x])
    assert g.type == x.type
    out = run([g], {"x": np.zeros((3, 2), np.float32)}, {"n": 3})[0]
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, 0.25)


# ---- documented conventions -------------------------------------------------
def test_maximum_tie_goes_to_first_operand():
    a, b = param("a", None, shape=(3,)), param("b", None, shape=(3,))
    ga, gb = grad(total(apply("maximum", (a, b))), [a, b])
    out = run([ga, gb], {"a": np.array([1.0, 2.0, 3.0]), "b": np.array([1.0, 5.0, 0.0])})
    np.testing.assert_array_equal(out[0], [1, 0, 1])
    np.testing.assert_array_equal(out[1], [0, 1, 0])


def test_max_reduce_splits_ties():
    x = param("x", None, shape=(2, 3))
    (g,) = grad(total(apply("max", (x,), axes=(1,), keepdims=False)), [x])
    out = run([g], {"x": np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])})[0]
    np.testing.assert_allclose(out, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


def test_prod_with_zeros_is_exact():
    x = param("x", None, shape=(3, 3))
    (g,) = grad(total(apply("prod", (x,), axes=(1,), keepdims=False)), [x])
    xv = np.array([[2.0, 3.0, 4.0], [2.0, 0.0, 4.0], [0.0, 3.0, 0.0]])
    out = run([g], {"x": xv})[0]
    np.testing.assert_allclose(out, [[12, 8, 6], [0, 8, 0], [0, 0, 0]])


def test_pow_exponent_gradient_at_nonpositive_base():
    a, b = param("a", None, shape=(2,)), param("b", None, shape=(2,))
    (gb,) = grad(total(apply("pow", (a, b))), [b])
    out = run([gb], {"a": np.array([0.0, -2.0]), "b": np.array([2.0, 2.0])})[0]
    np.testing.assert_array_equal(out, [0.0, 0.0])


# ---- higher order and grad's contract ----------------------------------------
def test_second_derivative_of_cube():
    x = param("x", None, shape=(4,))
    (g,) = grad(total(apply("pow", (x, const(3.0, "f64")))), [x])
    (h,) = grad(total(g), [x])
    xv = np.array([-1.5, -0.5, 0.5, 2.0])
    out = run([g, h], {"x": xv})
    np.testing.assert_allclose(out[0], 3 * xv ** 2)
    np.testing.assert_allclose(out[1], 6 * xv)


def test_second_derivative_of_sum_sigmoid():
    x = param("x", None, shape=(5,))
    (g,) = grad(total(apply("sigmoid", (x,))), [x])
    (h,) = grad(total(g), [x])
    xv = np.linspace(-3, 3, 5)
    s = 1 / (1 + np.exp(-xv))
    np.testing.assert_allclose(run([h], {"x": xv})[0], s * (1 - s) * (1 - 2 * s), rtol=1e-12)


def test_grad_wrt_interior_node():
    x = param("x", None, shape=(3,))
    y = apply("exp", (x,))
    cost = total(apply("mul", (y, y)))
    gy, gx = grad(cost, [y, x])
    xv = np.array([0.0, 0.5, -1.0])
    out = run([gy, gx], {"x": xv})
    np.testing.assert_allclose(out[0], 2 * np.exp(xv))
    np.testing.assert_allclose(out[1], 2 * np.exp(2 * xv))


def test_structurally_equal_nodes_count_once_each_use():
    x = param("x", None, shape=(3,))
    e1, e2 = apply("exp", (x,)), apply("exp", (x,))    # distinct objects, equal nodes
    cost = apply("add", (total(e1), total(e2)))
    (g,) = grad(cost, [param("x", None, shape=(3,))])
    xv = np.array([0.0, 1.0, 2.0])
    np.testing.assert_allclose(run([g], {"x": xv})[0], 2 * np.exp(xv))


def test_nondifferentiable_path_gives_zeros():
    x = param("x", None, shape=(3,))
    picked = apply("cast", (apply("argmax", (x,), axis=None, keepdims=False),), dtype="f64")
    cost = apply("add", (picked, total(apply("where", (apply("gt", (x, const(0.0, "f64"))),
                                                       const(1.0, "f64"), const(2.0, "f64"))))))
    (g,) = grad(cost, [x])
    assert g.type == x.type
    np.testing.assert_array_equal(run([g], {"x": np.array([1.0, -2.0, 3.0])})[0], 0)


def test_error_non_scalar_cost():
    x = param("x", None, shape=(3,))
    with pytest.raises(SymError) as e:
        grad(apply("exp", (x,)), [x])
    assert e.value.diagnostic.code == "E0401" and "sum(...)" in e.value.diagnostic.hint


def test_error_integer_cost():
    i, x = param("i", None, "i32", shape=(3,)), param("x", None, shape=(3,))
    with pytest.raises(SymError) as e:
        grad(total(i), [x])
    assert e.value.diagnostic.code == "E0402"


def test_error_cost_does_not_depend():
    at_w = Span("t.sym", 2, 1, 2, 2)
    x, w = param("x", None, shape=(3,)), apply("param", (), at_w, type=TensorType("f64", (3,)), name="w")
    with pytest.raises(SymError) as e:
        grad(total(x), [w])
    d = e.value.diagnostic
    assert d.code == "E0403" and "`w`" in d.message and d.span == at_w


def test_error_integer_wrt():
    x, i = param("x", None, shape=(3,)), param("i", None, "i32", shape=(3,))
    cost = total(apply("mul", (x, apply("cast", (i,), dtype="f64"))))
    with pytest.raises(SymError) as e:
        grad(cost, [i])
    assert e.value.diagnostic.code == "E0405"


def test_error_op_without_rule(monkeypatch):
    x = param("x", None, shape=(3,))
    at_y = Span("t.sym", 3, 1, 3, 4)
    y = apply("exp", (x,), at_y)
    monkeypatch.delitem(VJP, Op.EXP)     # restored under the same Op key
    with pytest.raises(SymError) as e:
        grad(total(y), [x])
    d = e.value.diagnostic
    assert d.code == "E0404" and "`exp`" in d.message and d.span == at_y


def test_nondiff_ops_are_skipped_without_error():
    assert "argmax" in NONDIFF and "floordiv" in NONDIFF


def test_concat_and_slice_with_size_bounds():
    # concat's VJP slices g at offsets that are sizes (n, n + 2)
    a, b = param("a", None, shape=(N, 1)), param("b", None, shape=(N, 2))
    c = apply("concat", (b, a), axis=1)
    d = apply("concat", (param("v", None, shape=(N,)), param("w", None, shape=(2,))), axis=0)
    rng = np.random.default_rng(3)
    values = {"a": rng.normal(size=(4, 1)), "b": rng.normal(size=(4, 2)),
              "v": rng.normal(size=(4,)), "w": rng.normal(size=(2,)),
              "R": rng.normal(size=(4, 3)), "S": rng.normal(size=(6,))}
    cost = apply("add", (total(apply("mul", (c, param("R", None, shape=(N, 3))))),
                         total(apply("mul", (d, param("S", None, shape=d.type.shape))))))
    P = [a, b, param("v", None, shape=(N,)), param("w", None, shape=(2,))]
    check_grads(cost, P, values, sizes={"n": 4})


def test_gradient_nodes_carry_user_spans():
    from dsl.diagnostics import Span
    from dsl.ir import Node, toposort
    span = Span("model.sym", 3, 5, 3, 20)
    x = Node("param", (), TensorType("f64", (3,)), (("name", "x"),), span)
    y = apply("softmax", (apply("mul", (x, x), span),), span, axis=0)
    cost = apply("sum", (apply("log", (y,), span),), span, axes=(0,), keepdims=False)
    (g,) = grad(cost, [x])
    (h,) = grad(apply("sum", (g,), span, axes=(0,), keepdims=False), [x])
    for n in toposort([g, h]):
        if n.op != "const" or n.inputs:
            assert n.span == span, n.op


def column_slices(x, ranges):
    """x[:, a:b] for each (a, b), as the checker writes `x[:, a:b]`."""
    n = x.type.shape[0]
    return [apply("slice", (x,), items=(("slice", None, None, None, n), ("slice", a, b, None, len(range(6)[a:b]))))
            for a, b in ranges]


@pytest.mark.parametrize("ranges, joined", [
    ([(2, 4), (0, 2), (4, 6)], True),          # an LSTM's gates: side by side, any order
    ([(0, 2), (-2, 6)], True),                 # a gap (zeros) and a negative start
    ([(0, 3), (2, 5)], False),                 # overlapping: summed
])
def test_gradients_of_side_by_side_slices_are_concatenated(ranges, joined):
    from dsl.ir import toposort
    x = param("x", None, shape=(N, 6))
    rng = np.random.default_rng(5)
    values = {"x": rng.normal(size=(3, 6))}
    terms = []
    for k, piece in enumerate(column_slices(x, ranges)):
        w = param(f"w{k}", None, shape=piece.type.shape)
        values[f"w{k}"] = rng.normal(size=(3, piece.type.shape[1]))
        terms.append(total(apply("mul", (apply("tanh", (piece,)), w))))
    cost = terms[0]
    for t in terms[1:]:
        cost = apply("add", (cost, t))
    (g,) = check_grads(cost, [x], values, sizes={"n": 3})
    ops = {n.op for n in toposort(grad(cost, [x]))}
    assert (Op.CONCAT in ops and Op.UNSLICE not in ops) == joined
    assert (Op.UNSLICE in ops) == (not joined)
