"""The rewrite pipeline: which rules fire, that results do not change
(numpy reference, random inputs, before vs after), that shape errors stay
errors, and that stabilisation turns inf/NaN into finite values."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import dsl
from dsl.diagnostics import SymError
from dsl.ir import Function, toposort
from dsl.program import check_source
from dsl.rewrites import PIPELINE, LogEntry, Pass, RewriteBug, run_pipeline
from dsl.types import NUMPY_DTYPE
from runtime.numpy import Env, bind_sizes, evaluate

LOGREG = """
shared W: f32[4, 3] = zeros()
shared b: f32[3] = zeros()

def p_y_given_x(x: f32[n, 4]) -> f32[n, 3]:
    return softmax(x @ W + b)

def nll(x: f32[n, 4], y: i32[n]) -> f32:
    return -mean(log(p_y_given_x(x))[arange(n), y])

def errors(x: f32[n, 4], y: i32[n]) -> f32:
    return mean(f32(argmax(p_y_given_x(x), axis=1) != y))

def grads(x: f32[n, 4], y: i32[n]) -> (f32[4, 3], f32[3]):
    cost = nll(x, y)
    return grad(cost, W), grad(cost, b)

def train(x: f32[n, 4], y: i32[n]) -> f32:
    cost = nll(x, y)
    W <- W - 0.13 * grad(cost, W)
    b <- b - 0.13 * grad(cost, b)
    return cost
"""

SIMPLIFY = """
def ident(x: f32[n, 3]) -> f32[n, 3]:
    return ((x * 1.0 + 0.0) - 0.0) / 1.0

def ones_wider(x: f32[3], m: f32[n]) -> f32[n, 3]:
    return x * ones((n, 3)) + zeros((n, 3)) + 0.0 * x

def sized(x: f32[3], m: f32[n]) -> f32[n, 3]:
    return x * ones((n, 3))

def negneg(x: f32[n, 3]) -> f32[n, 3]:
    return -(-x)

def explog(x: f32[n, 3]) -> f32[n, 3]:
    return exp(log(x))

def transposes(x: f32[n, 3], v: f32[3]) -> (f32[n, 3], f32[3]):
    return x.T.T, v.T

def casts(x: f32[n, 3]) -> f32[3, n]:
    return reshape(f32(x), (n, 3)).T
"""

STABLE = """
def logsig(x: f32[n]) -> (f32[n], f32[n], f32[n]):
    return log(sigmoid(x)), log(sigmoid(-x)), log(1.0 - sigmoid(x))

def log1ps(x: f32[n]) -> (f32[n], f32[n], f32[n, 2]):
    return log(1.0 + x), log(x + 1.0), log(ones((n, 2)) + reshape(x, (n, 1)))

def logexp(x: f32[n]) -> f32[n]:
    return log(exp(x))

def picked(z: f32[n, 4], y: i32[n]) -> f32:
    return -mean(log(softmax(z)[arange(n), y]))

def picked_grad(z: f32[n, 4], y: i32[n]) -> f32[n, 4]:
    return grad(-mean(log(softmax(z)[arange(n), y])), z)

def full_grad(z: f32[n, 4]) -> f32[n, 4]:
    return grad(sum(log(softmax(z, axis=1)) * z), z)

def bce_grad(x: f32[n], t: f32[n]) -> f32[n]:
    return grad(-sum(t * log(sigmoid(x))), x)
"""

FOLD = """
def consts(x: f32[n]) -> (f32[n], f32, f32):
    a = f32(2) * f32(3)
    return x * a + zeros(n) * 2.0, exp(f32(0)), f32(1) / f32(0)

def twice(x: f32[n]) -> f32:
    return sum(sq(x)) + sum(sq(x))

def sq(x: f32[n]) -> f32[n]:
    return x * x
"""


# ---- helpers ---------------------------------------------------------------------
def functions(text: str) -> dict[str, Function]:
    prog = check_source(text, "<test>")
    assert not prog.errors, "\n".join(d.render() for d in prog.errors)
    return {name: info.function for name, info in prog.defs.items()}


def ops(fn: Function) -> Counter:
    return Counter(n.op for n in toposort(fn.roots))


def random_value(t, rng, n):
    shape = tuple(d if isinstance(d, int) else n for d in t.shape)
    if t.dtype in ("f32", "f64"):
        return rng.uniform(-2, 2, shape).astype(NUMPY_DTYPE[t.dtype])
    if t.dtype == "bool":
        return rng.uniform(size=shape) < 0.5
    return rng.integers(0, 3, shape).astype(NUMPY_DTYPE[t.dtype])


def run(fn: Function, args: list, shared: dict) -> list:
    sizes = bind_sizes(list(fn.params), args)
    params = {p.attr("name"): a for p, a in zip(fn.params, args)}
    return evaluate(list(fn.roots), Env(sizes, params, shared))


def shared_leaves(fn: Function, rng) -> dict:
    return {n.attr("name"): random_value(n.type, rng, 0)
            for n in toposort(fn.roots) if n.op == "shared"}


# ---- values do not change ----------------------------------------------------------
@pytest.mark.parametrize("text", [LOGREG, SIMPLIFY, STABLE, FOLD], ids=["logreg", "simplify",
                                                                        "stable", "fold"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_values_agree_before_and_after(text, seed):
    rng = np.random.default_rng(seed)
    for name, fn in functions(text).items():
        new, _ = run_pipeline(fn)
        assert [r.type for r in new.roots] == [r.type for r in fn.roots]
        args = [random_value(p.type, rng, 5) for p in fn.params]
        shared = shared_leaves(fn, rng)
        before, after = run(fn, args, shared), run(new, args, shared)
        for b, a in zip(before, after):
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6, equal_nan=True,
                                       err_msg=f"def {name}")


# ---- what fires --------------------------------------------------------------------
def rules_fired(fn):
    _, log = run_pipeline(fn)
    return Counter(e.rule for e in log)


def test_tutorial_loss_becomes_log_softmax():
    fns = functions(LOGREG)
    for name in ("nll", "train"):
        new, log = run_pipeline(fns[name])
        counts = ops(new)
        assert counts["log_softmax"] == 1, name
        assert counts["gather"] == 1, name
        assert counts["log"] == 0, name
        assert not any(n.op == "log" and n.inputs[0].op == "softmax"
                       for n in toposort(new.roots))
    # the gradients alone (no cost output): no log, no division by p
    new, _ = run_pipeline(fns["grads"])
    assert ops(new)["log"] == 0 and ops(new)["div"] == 1
    # the gradients of W and b share one backward pass after CSE
    new, _ = run_pipeline(fns["train"])
    assert ops(new)["scatter_add"] == 1
    assert ops(new)["softmax"] == 1
    assert ops(new)["div"] == 1         # only the mean's 1/n is left


def test_log_of_gathered_softmax():
    new, log = run_pipeline(functions(STABLE)["picked"])
    assert ops(new)["log_softmax"] == 1 and ops(new)["softmax"] == 0
    gathers = [n for n in toposort(new.roots) if n.op == "gather"]
    assert len(gathers) == 1 and gathers[0].inputs[0].op == "log_softmax"
    assert [e.rule for e in log if e.pass_name == "stabilize"] == ["log-of-moved-softmax"]


def test_stabilize_rules():
    fns = functions(STABLE)
    assert rules_fired(fns["logsig"])["log-sigmoid"] == 2
    assert rules_fired(fns["logsig"])["log-one-minus-sigmoid"] == 1
    new, _ = run_pipeline(fns["logsig"])
    # log(sigmoid(-x)) and log(1 - sigmoid(x)) are both -softplus(x), which
    # CSE shares; no double negation is left
    assert ops(new)["log"] == 0 and ops(new)["softplus"] == 2
    assert ops(new)["neg"] == 3
    assert rules_fired(fns["log1ps"])["log1p"] == 3
    new, _ = run_pipeline(fns["log1ps"])
    assert ops(new)["log1p"] == 2 and ops(new)["log"] == 0   # log(1+x), log(x+1) shared
    assert ops(new)["broadcast_to"] == 1        # ones((n, 2)) + x[:, None] is wider than x
    assert rules_fired(fns["logexp"]) == {"log-exp": 1}
    assert rules_fired(fns["picked_grad"])["softmax-grad-of-log"] == 1
    assert rules_fired(fns["full_grad"])["softmax-grad-of-log"] == 1
    assert rules_fired(fns["bce_grad"])["sigmoid-grad-of-log"] == 1


def test_simplify_rules():
    fns = functions(SIMPLIFY)
    assert ops(run_pipeline(fns["ident"])[0]) == {"param": 1}
    assert rules_fired(fns["ident"]) == {"mul-one": 1, "add-zero": 1, "sub-zero": 1, "div-one": 1}
    # x * ones((n, 3)) is not x: it becomes broadcast_to(x), never x itself
    new, _ = run_pipeline(fns["sized"])
    assert new.outputs[0].op == "broadcast_to" and new.outputs[0].type == fns["sized"].outputs[0].type
    assert ops(run_pipeline(fns["negneg"])[0]) == {"param": 1}
    new, _ = run_pipeline(fns["explog"])
    assert ops(new)["where"] == 1 and ops(new)["exp"] == 0 and ops(new)["log"] == 0
    new, _ = run_pipeline(fns["transposes"])
    assert ops(new) == {"param": 2}
    assert rules_fired(fns["transposes"]) == {"transpose-transpose": 1, "transpose-identity": 1}
    new, _ = run_pipeline(fns["casts"])
    assert ops(new) == {"param": 1, "transpose": 1}


def test_fold_and_cse():
    fns = functions(FOLD)
    new, log = run_pipeline(fns["consts"])
    out, e, inf = new.outputs
    assert e.op == "const" and e.attr("value") == 1.0
    assert inf.op == "const" and inf.attr("value") == float("inf")
    assert out.op == "add" or out.op == "mul"
    assert ops(new)["cast"] == 0
    fired = Counter(e.rule for e in log)
    assert fired["elementwise-of-constants"] >= 4
    new, log = run_pipeline(fns["twice"])
    merges = [e for e in log if e.pass_name == "cse"]
    assert len(merges) == 1 and merges[0].note == "2 nodes"     # sum(x * x) once
    assert ops(new)["mul"] == 1 and ops(new)["sum"] == 1


# ---- the log -----------------------------------------------------------------------
def test_every_entry_keeps_the_span_of_what_it_replaced():
    fn = functions(LOGREG)["train"]
    _, log = run_pipeline(fn)
    assert log and all(isinstance(e, LogEntry) for e in log)
    for e in log:
        assert e.span is not None and e.span == e.before.span
        if e.pass_name != "cse" and e.after is not e.before and e.after.op not in ("param",):
            assert e.after.span == e.before.span or e.after in set(toposort([e.before]))
    lines = {e.rule: e.span.line for e in log}
    assert lines["log-softmax"] == 9          # the loss line
    assert lines["softmax-grad-of-log"] == 6  # the softmax line


def test_pipeline_is_a_literal_list_of_passes():
    assert [p.name for p in PIPELINE] == ["fold", "simplify", "stabilize", "cse", "dce"]
    assert all(isinstance(p, Pass) and p.description for p in PIPELINE)
    fn = functions(LOGREG)["train"]
    _, log = run_pipeline(fn, stop_after="simplify")
    assert {e.pass_name for e in log} <= {"fold", "simplify"}
    assert [c[0] for c in log.counts] == ["fold", "simplify"]
    with pytest.raises(SymError) as exc:
        run_pipeline(fn, stop_after="fuse")
    assert exc.value.diagnostics[0].code == "E0903"
    assert "fold, simplify, stabilize, cse, dce" in str(exc.value)


def test_a_failing_rewrite_raises():
    def broken(fn):
        raise ZeroDivisionError("rule bug")
    fn = functions(LOGREG)["nll"]
    with pytest.raises(ZeroDivisionError):
        run_pipeline(fn, passes=[Pass("broken", "raises", broken)])


def test_a_rule_that_changes_a_type_is_a_bug():
    from dsl.build import apply
    from dsl.rewrites.engine import apply_rules

    def to_sum(n):
        if n.op == "neg":
            return apply("sum", n.inputs, axes=(0,), keepdims=False) if n.type.rank else None
        return None
    fn = functions(SIMPLIFY)["negneg"]
    with pytest.raises(RewriteBug):
        apply_rules(fn, "bad", [("to-sum", to_sum)])


def test_dce_drops_identity_updates():
    text = """
shared S: f32[3] = zeros()
def keep(x: f32[3]) -> f32:
    S <- S * 1.0
    return sum(x)
"""
    fn = functions(text)["keep"]
    assert len(fn.updates) == 1
    new, log = run_pipeline(fn)
    assert new.updates == ()
    assert [(e.pass_name, e.rule) for e in log][-1] == ("dce", "identity-update")


# ---- no rewrite hides a shape error -------------------------------------------------------
def test_shape_error_under_times_one_is_still_reported():
    text = "def f(x: f32[3], y: f32[4]) -> f32[3]:\n    return (x + y) * 1.0\n"
    prog = check_source(text, "bad.sym")
    codes = [(d.code, d.span.line) for d in prog.errors]
    assert codes == [("E0201", 2)]
    with pytest.raises(SymError) as exc:
        dsl.compile(text, "bad.sym", backend="numpy")
    assert "E0201" in str(exc.value) and "do not broadcast" in str(exc.value)


# ---- stabilisation: finite where the naive graph is not -----------------------------------
def extreme_case():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((6, 4)) * 1e4).astype(np.float32)   # logits of about ±1e4
    y = np.array([0, 1, 2, 0, 1, 2], np.int32)
    W = rng.standard_normal((4, 3)).astype(np.float32)
    return x, y, W


def compiled(rewrites: bool):
    m = dsl.compile(LOGREG, "logreg.sym", backend="numpy", rewrites=rewrites)
    m.W = extreme_case()[2]
    return m


def reference_grads(x, y, W):
    z = x.astype(np.float64) @ W
    z -= z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    p = np.exp(log_p)
    cost = -np.mean(log_p[np.arange(len(y)), y])
    d = (p - np.eye(3)[y]) / len(y)
    return cost, x.T.astype(np.float64) @ d, d.sum(axis=0)


def test_stabilized_logreg_is_finite_and_right_at_extreme_logits():
    x, y, W = extreme_case()
    m = compiled(rewrites=True)
    gW, gb = m.grads(x, y)
    cost = m.nll(x, y)
    want_cost, want_gW, want_gb = reference_grads(x, y, W)
    assert np.isfinite(cost) and np.isfinite(gW).all() and np.isfinite(gb).all()
    np.testing.assert_allclose(cost, want_cost, rtol=1e-4)
    np.testing.assert_allclose(gW, want_gW, rtol=1e-3, atol=1e-2)
    np.testing.assert_allclose(gb, want_gb, rtol=1e-4, atol=1e-6)
    m.train(x, y)
    assert np.isfinite(m.W).all() and np.isfinite(m.b).all()


def test_without_rewrites_the_same_program_gives_inf_and_nan():
    x, y, _ = extreme_case()
    m = compiled(rewrites=False)
    gW, gb = m.grads(x, y)
    assert np.isinf(m.nll(x, y))
    assert np.isnan(gW).any() and np.isnan(gb).any()
    m.train(x, y)
    assert np.isnan(m.W).any()


@pytest.mark.parametrize("name", ["picked", "picked_grad", "full_grad", "bce_grad", "logsig"])
def test_stable_forms_stay_finite_at_extreme_inputs(name):
    fn = functions(STABLE)[name]
    new, _ = run_pipeline(fn)
    rng = np.random.default_rng(3)
    args = [random_value(p.type, rng, 6) * (1e4 if p.type.is_float else 1) for p in fn.params]
    before, after = run(fn, args, {}), run(new, args, {})
    assert all(np.isfinite(a).all() for a in after)
    assert not all(np.isfinite(b).all() for b in before)


PROGRAMS = sorted((Path(__file__).resolve().parent.parent / "programs").glob("*.sym"))


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_every_example_program_means_the_same_after_rewrites(path):
    prog = check_source(path.read_text(encoding="utf-8"), str(path))
    assert not prog.errors
    rng = np.random.default_rng(7)
    for name, info in prog.defs.items():
        fn = info.function
        new, _ = run_pipeline(fn)
        args = [random_value(p.type, rng, 5) for p in fn.params]
        shared = shared_leaves(fn, rng)
        for b, a in zip(run(fn, args, shared), run(new, args, shared)):
            # random weights over 784 inputs give logits far apart, where the
            # unstable form is inf/NaN and the stabilised one is finite: only
            # the finite values of the original must agree. A rewrite may
            # add in another order (sum-after-loop): an element near 0 made
            # of terms near the output's largest is off by their rounding
            finite = np.isfinite(b)
            scale = float(np.abs(b[finite]).max(initial=1.0))
            np.testing.assert_allclose(a[finite], b[finite], rtol=2e-5, atol=max(1e-6, 1e-7 * scale),
                                       err_msg=f"{path.name}: def {name}")


def test_log_one_plus_exp_is_softplus():
    text = "def f(x: f32[n]) -> f32[n]:\n    return log(1.0 + exp(x))\n"
    fn = functions(text)["f"]
    new, log = run_pipeline(fn)
    assert ops(new) == {"param": 1, "softplus": 1}
    assert [e.rule for e in log] == ["log1p", "log1p-exp"]
    x = np.array([-100.0, 0.0, 100.0], np.float32)
    (value,) = run(new, [x], {})
    np.testing.assert_allclose(value, [0.0, np.log(2.0), 100.0], atol=1e-6)
