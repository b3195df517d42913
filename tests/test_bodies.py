"""Ops with a body: the IR, every rewrite pass, autodiff, the printers and
both backends see inside a body. `apply_body(x; body) = body(x)` is the
smallest such op."""
import numpy as np
import pytest

from dsl.autodiff import grad
from dsl.build import apply, const
from dsl.explain import explain_function, format_function
from dsl.ir import Body, Function, node, toposort, walk
from dsl.rewrites import run_pipeline
from dsl.types import Size, TensorType
from runtime.numpy import Env, evaluate

N = Size.var("n")
VEC = TensorType("f32", (N,))
X = np.array([-1.5, 0.25, 2.0], np.float32)


def param(name, type=VEC):
    return node("param", (), type, name=name)


def body_of(make, type=VEC):
    """A one-param body: make(a) is its root."""
    a = param("a", type)
    return Body((a,), (make(a),))


def exp_times(a):
    return apply("mul", (apply("exp", (a,)), a))


def call(body, x):
    return apply("apply_body", (x,), body=body)


def run(*roots, x=X):
    return evaluate(list(roots), Env({"n": len(x)}, {"x": x}))


def function(root):
    return Function("f", (param("x"),), (root,), signature="def f(x: f32[n]) -> f32[n]")


def body_nodes(fn):
    """The nodes inside the bodies of fn (walk minus the outer scope)."""
    return len(walk(fn.roots)) - len(toposort(fn.roots))


# ---- the IR -----------------------------------------------------------------------
def test_equal_bodies_make_equal_nodes_and_other_bodies_do_not():
    x = param("x")
    a, b = call(body_of(exp_times), x), call(body_of(exp_times), x)
    assert a is not b and a == b and hash(a) == hash(b)
    assert a != call(body_of(lambda p: apply("exp", (p,))), x)


def test_walk_sees_the_body_and_toposort_stays_in_its_scope():
    y = call(body_of(exp_times), param("x"))
    assert [n.op for n in toposort([y])] == ["param", "apply_body"]
    assert [n.op for n in walk([y])] == ["param", "param", "exp", "mul", "apply_body"]


def test_a_body_reads_only_its_params():
    outer = param("x")
    with pytest.raises(ValueError, match="not one of its params"):
        body_of(lambda a: apply("add", (a, outer)))


def test_the_result_type_is_the_body_root_type():
    y = call(body_of(lambda a: apply("sum", (a,), axes=(0,), keepdims=False)), param("x"))
    assert y.type == TensorType("f32", ())


# ---- the numpy reference ------------------------------------------------------------
def test_numpy_runs_the_body_on_the_input():
    (got,) = run(call(body_of(exp_times), param("x")))
    np.testing.assert_allclose(got, np.exp(X) * X, rtol=1e-6)


# ---- every rewrite pass sees into the body ---------------------------------------------
def rewritten(make, stop_after=None):
    fn = function(call(body_of(make), param("x")))
    new, log = run_pipeline(fn, stop_after=stop_after)
    return fn, new, log


def fired(log, pass_name):
    return [e.rule for e in log if e.pass_name == pass_name]


def test_fold_folds_constants_inside_a_body():
    fn, new, log = rewritten(lambda a: apply("mul", (a, apply("add", (const(1, "f32"), const(2, "f32"))))),
                             stop_after="fold")
    assert fired(log, "fold") == ["elementwise-of-constants"]
    body = new.outputs[0].attr("body")
    assert body.roots[0].inputs[1].attr("value") == 3.0


def test_simplify_drops_identities_inside_a_body():
    fn, new, log = rewritten(lambda a: apply("mul", (apply("exp", (a,)), const(1, "f32"))))
    assert "mul-one" in fired(log, "simplify")
    assert [n.op for n in walk(new.roots)] == ["param", "param", "exp", "apply_body"]


def test_stabilize_rewrites_inside_a_body():
    fn, new, log = rewritten(lambda a: apply("log", (apply("softmax", (a,), axis=0),)))
    assert "log-softmax" in fired(log, "stabilize")
    assert new.outputs[0].attr("body").roots[0].op == "log_softmax"


def test_cse_merges_equal_nodes_inside_a_body():
    fn, new, log = rewritten(lambda a: apply("add", (apply("exp", (a,)), apply("exp", (a,)))))
    assert fired(log, "cse") == ["merge"]
    assert body_nodes(fn) == 4 and body_nodes(new) == 3


def test_node_counts_per_pass_count_the_body_and_what_rewrites_orphan_is_gone():
    fn, new, log = rewritten(lambda a: apply("neg", (apply("neg", (apply("exp", (a,)),)),)))
    assert body_nodes(fn) == 4 and body_nodes(new) == 2
    assert dict((name, (before, after)) for name, before, after in log.counts)["simplify"] == (6, 4)
    (before,), (after,) = run(fn.outputs[0]), run(new.outputs[0])
    np.testing.assert_allclose(after, before)


# ---- autodiff ---------------------------------------------------------------------------
def test_the_gradient_goes_through_the_body():
    x = param("x")
    cost = apply("sum", (call(body_of(exp_times), x),), axes=(0,), keepdims=False)
    (gx,) = grad(cost, [x])
    assert gx.op == "apply_body" and gx.type == VEC
    (got,) = run(gx)
    np.testing.assert_allclose(got, np.exp(X) * (X + 1), rtol=1e-5)


def test_second_order_gradient_through_a_body():
    x = param("x")
    cost = apply("sum", (call(body_of(exp_times), x),), axes=(0,), keepdims=False)
    (gx,) = grad(cost, [x])
    (gxx,) = grad(apply("sum", (gx,), axes=(0,), keepdims=False), [x])
    (got,) = run(gxx)
    np.testing.assert_allclose(got, np.exp(X) * (X + 2), rtol=1e-5)


def test_an_input_the_body_ignores_gets_a_zero_gradient():
    x = param("x")
    cost = apply("sum", (call(body_of(lambda a: apply("full", (), type=VEC, value=2.0)), x),),
                 axes=(0,), keepdims=False)
    (got,) = run(*grad(cost, [x]))
    np.testing.assert_array_equal(got, np.zeros_like(X))


# ---- the printers -----------------------------------------------------------------------
def test_the_ir_dump_prints_the_body_under_its_node():
    text = format_function(function(call(body_of(exp_times), param("x"))))
    lines = [line.split("#")[0].rstrip() for line in text.splitlines()]
    assert lines == [
        "  %0 = param[name=x] : f32[n]",
        "  %1 = apply_body[body={a -> mul(exp(a), a)}] %0 : f32[n]",
        "      %1.0 = param[name=a] : f32[n]",
        "      %1.1 = exp %1.0 : f32[n]",
        "      %1.2 = mul %1.1, %1.0 : f32[n]",
        "      return %1.2",
        "  return %1",
    ]


def test_explain_logs_rewrites_inside_a_body():
    fn = function(call(body_of(lambda a: apply("neg", (apply("neg", (a,)),))), param("x")))
    text = explain_function(fn)
    assert "simplify  neg-neg  neg(neg(a))  →  a" in text
    assert "IR before rewrites (5 nodes)" in text and "IR after rewrites (3 nodes)" in text


# ---- OpenCL -------------------------------------------------------------------------------
def test_opencl_computes_the_body_and_its_gradient_as_numpy_does():
    from runtime.opencl.device import opencl_available
    if not opencl_available():
        pytest.skip("no OpenCL device (pip install pyopencl pocl-binary-distribution for a CPU one)")
    from runtime.opencl.executor import OpenCLExecutor
    x = param("x")
    y = call(body_of(exp_times), x)
    (gx,) = grad(apply("sum", (y,), axes=(0,), keepdims=False), [x])
    want = run(y, gx)
    got = OpenCLExecutor({}).evaluate([y, gx], {"x": X}, {"n": len(X)})
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5)
