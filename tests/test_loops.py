"""Loops in defs: `for` over arrays, zip, enumerate and range (a size or a
run-time count), carried values and `.append` stacks. Values against plain
numpy loops; gradients (through the loop, and of gradients: Hessian-vector
products) against central finite differences in float64."""
from __future__ import annotations

import numpy as np
import pytest

from dsl.autodiff import grad
from dsl.build import apply
from dsl.ir import Function, walk
from dsl.program import check_source
from dsl.rewrites import run_pipeline
from gradcheck import fd_grad
from runtime.numpy import Env, evaluate
from runtime.numpy.executor import NumpyExecutor


def compiled(src: str, name: str):
    prog = check_source(src, "t.sym")
    prog.raise_errors()
    return prog.defs[name].function


def run(nodes, values, sizes):
    return evaluate(list(nodes), Env(dict(sizes), dict(values)))


def check_grads(fn, values, sizes, wrt=None):
    cost = fn.outputs[0]
    params = [p for p in fn.params if p.type.is_float and (wrt is None or p.attr("name") in wrt)]
    got = run(grad(cost, params), values, sizes)
    for p, g in zip(params, got):
        want = fd_grad(cost, values, p.attr("name"), sizes)
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-7, err_msg=p.attr("name"))


RNN = """
def rnn(xs: f64[t, n, 3], h0: f64[n, 4], Wx: f64[3, 4], Wh: f64[4, 4]) -> (f64[n, 4], f64[t, n, 4]):
    h = h0
    hs = []
    for x in xs:
        h = tanh(x @ Wx + h @ Wh)
        hs.append(h)
    return h, hs

def rnn_loss(xs: f64[t, n, 3], h0: f64[n, 4], Wx: f64[3, 4], Wh: f64[4, 4]) -> f64:
    h, hs = rnn(xs, h0, Wx, Wh)
    return sum(hs * hs) + sum(log(1.0 + h * h))
"""


def rnn_values(seed=0, t=5):
    r = np.random.default_rng(seed)
    return {"xs": r.normal(size=(t, 2, 3)), "h0": r.normal(size=(2, 4)),
            "Wx": r.normal(size=(3, 4)) * 0.5, "Wh": r.normal(size=(4, 4)) * 0.5}


def numpy_rnn(v):
    h, hs = v["h0"], []
    for x in v["xs"]:
        h = np.tanh(x @ v["Wx"] + h @ v["Wh"])
        hs.append(h)
    return h, np.stack(hs)


def test_an_rnn_runs_as_a_numpy_loop():
    fn = compiled(RNN, "rnn")
    v = rnn_values()
    h, hs = run(fn.outputs, v, {"t": 5, "n": 2})
    want_h, want_hs = numpy_rnn(v)
    np.testing.assert_allclose(h, want_h, rtol=1e-12)
    np.testing.assert_allclose(hs, want_hs, rtol=1e-12)
    assert fn.outputs[1].type.shape[0].single_var() == "t"


def test_the_gradient_of_an_rnn_loss_matches_finite_differences():
    check_grads(compiled(RNN, "rnn_loss"), rnn_values(1), {"t": 5, "n": 2})


def test_a_loop_of_no_steps_gives_the_initial_carries_and_an_empty_stack():
    fn = compiled(RNN, "rnn")
    v = rnn_values(t=0)
    h, hs = run(fn.outputs, v, {"t": 0, "n": 2})
    np.testing.assert_array_equal(h, v["h0"])
    assert hs.shape == (0, 2, 4)


POWER = """
def power(A: f64[m, m], k: i32) -> f64[m, m]:
    r = A
    for i in range(k - 1):
        r = r @ A
    return r

def power_cost(A: f64[m, m], k: i32) -> f64:
    return sum(power(A, k) * power(A, k))

def power_of_size(A: f64[m, m], ks: f64[k]) -> f64:
    r = A
    for i in range(k):
        r = r @ A * ks[0]
    return sum(r)
"""


def test_power_of_a_with_a_run_time_count():
    fn = compiled(POWER, "power")
    A = np.array([[1.0, 1.0], [0.0, 1.0]])
    for k in (1, 2, 5):
        (got,) = run(fn.outputs, {"A": A, "k": np.int32(k)}, {"m": 2})
        np.testing.assert_allclose(got, np.linalg.matrix_power(A, k))


def test_power_of_a_gradient_with_a_run_time_count():
    A = np.random.default_rng(2).normal(size=(3, 3)) * 0.6
    check_grads(compiled(POWER, "power_cost"), {"A": A, "k": np.int32(4)}, {"m": 3})


def test_power_of_a_gradient_with_a_size_count():
    r = np.random.default_rng(3)
    values = {"A": r.normal(size=(3, 3)) * 0.6, "ks": np.array([1.1, 0.0, 0.0])}
    check_grads(compiled(POWER, "power_of_size"), values, {"m": 3, "k": 3})


NESTED = """
def nested(xs: f64[t, n], W: f64[n, n]) -> f64:
    total = 0.0
    for x in xs:
        h = x
        for i in range(3):
            h = tanh(h @ W)
        total = total + sum(h * x)
    return f64(total)
"""


def test_nested_loops_and_their_gradient():
    r = np.random.default_rng(4)
    v = {"xs": r.normal(size=(4, 3)), "W": r.normal(size=(3, 3)) * 0.7}
    fn = compiled(NESTED.replace("0.0", "f64(0.0)"), "nested")
    (got,) = run(fn.outputs, v, {"t": 4, "n": 3})
    want = 0.0
    for x in v["xs"]:
        h = x
        for _ in range(3):
            h = np.tanh(h @ v["W"])
        want += np.sum(h * x)
    np.testing.assert_allclose(got, want)
    check_grads(fn, v, {"t": 4, "n": 3})


ENUMERATE_ZIP = """
def poly(coef: f64[c], x: f64) -> f64:
    total = f64(0.0)
    for i, a in enumerate(coef):
        total = total + a * x ** f64(i)
    return total

def dot_steps(xs: f64[t, n], ys: f64[t, n]) -> f64[t]:
    out = []
    for x, y in zip(xs, ys):
        out.append(sum(x * y))
    return out
"""


def test_enumerate_and_zip():
    poly = compiled(ENUMERATE_ZIP, "poly")
    (got,) = run(poly.outputs, {"coef": np.array([1.0, 2.0, 3.0]), "x": np.float64(2.0)}, {"c": 3})
    assert got == 17.0
    check_grads(poly, {"coef": np.array([1.0, 2.0, 3.0]), "x": np.array(0.7)}, {"c": 3})
    dots = compiled(ENUMERATE_ZIP, "dot_steps")
    r = np.random.default_rng(5)
    v = {"xs": r.normal(size=(4, 3)), "ys": r.normal(size=(4, 3))}
    (got,) = run(dots.outputs, v, {"t": 4, "n": 3})
    np.testing.assert_allclose(got, np.sum(v["xs"] * v["ys"], axis=1))


def test_hessian_vector_product_through_a_loop():
    """grad of <grad(cost, W), V> is H V: against differences of the gradient."""
    fn = compiled(RNN, "rnn_loss")
    v = rnn_values(6, t=3)
    sizes = {"t": 3, "n": 2}
    W = next(p for p in fn.params if p.attr("name") == "Wh")
    (g,) = grad(fn.outputs[0], [W])
    V = np.random.default_rng(7).normal(size=(4, 4))
    Vn = apply("param", (), type=W.type, name="V")
    gv = apply("sum", (apply("mul", (g, Vn)),), axes=(0, 1), keepdims=False)
    (hv,) = grad(gv, [W])
    (got,) = run([hv], {**v, "V": V}, sizes)
    eps = 1e-5
    up = run([g], {**v, "Wh": v["Wh"] + eps * V}, sizes)[0]
    down = run([g], {**v, "Wh": v["Wh"] - eps * V}, sizes)[0]
    np.testing.assert_allclose(got, (up - down) / (2 * eps), rtol=1e-5, atol=1e-7)


def test_shared_values_are_read_in_a_body_as_its_params():
    src = """
shared W: f64[3, 3] = zeros()
def f(xs: f64[t, 3]) -> f64[3]:
    h = xs[0]
    for x in xs:
        h = tanh(h @ W + x)
    return h
"""
    fn = compiled(src, "f")
    loop = fn.outputs[0].inputs[0]
    assert loop.op == "loop"
    assert "shared" in [n.op for n in loop.inputs]
    assert "shared" not in [n.op for n in walk(loop.attr("body").roots)]


def test_rewrites_work_inside_the_body_and_keep_the_values():
    src = """
def f(xs: f64[t, n]) -> f64[n]:
    h = xs[0]
    for x in xs:
        h = -(-(h * 1.0)) + x
    return h
"""
    fn = compiled(src, "f")
    new, log = run_pipeline(fn)
    assert {"neg-neg", "mul-one"} <= {e.rule for e in log}
    v = {"xs": np.random.default_rng(8).normal(size=(4, 3))}
    np.testing.assert_allclose(run(new.outputs, v, {"t": 4, "n": 3})[0],
                               run(fn.outputs, v, {"t": 4, "n": 3})[0])


def test_the_gradient_runs_the_forward_loop_once_after_rewrites():
    fn = compiled(RNN, "rnn_loss")
    params = [p for p in fn.params if p.attr("name") in ("Wx", "Wh")]
    full = Function("f", fn.params, fn.outputs + tuple(grad(fn.outputs[0], params)))
    new, log = run_pipeline(full)
    loops = [n for n in walk(new.roots) if n.op == "loop"]
    assert len(loops) == 2       # the forward loop (saving its carries) and the backward one
    assert "merge-loop" in {e.rule for e in log}
    v = rnn_values(9)
    before = run(full.roots, v, {"t": 5, "n": 2})
    after = run(new.roots, v, {"t": 5, "n": 2})
    for a, b in zip(before, after):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_the_backward_loop_reads_the_saved_step_values_and_recomputes_none():
    fn = compiled(RNN, "rnn_loss")
    params = [p for p in fn.params if p.attr("name") in ("Wx", "Wh")]
    new, _ = run_pipeline(Function("f", fn.params, fn.outputs + tuple(grad(fn.outputs[0], params))))
    forward, backward = sorted((n for n in walk(new.roots) if n.op == "loop"),
                               key=lambda n: n.attr("reverse"))
    back = walk(backward.attr("body").roots)
    # tanh's VJP reads tanh's value, saved by the forward loop: not computed again
    assert "tanh" not in [n.op for n in back]
    # the products are the VJP's (for x, h, Wx and Wh), none of the forward step
    # (the two bodies name their params alike, so equal nodes compute the same)
    products = {n for n in walk(forward.attr("body").roots) if n.op == "matmul"}
    assert len(products) == 2 and not products & set(back)
    assert forward.attr("stacks") > 2       # hs, the carry h and the saved tanh


# ---- OpenCL: the same values, the loop run as stages -----------------------------------
TRAIN = """
shared Wh: f32[4, 4] = normal(0.0, 0.3, 1)
shared Wx: f32[3, 4] = normal(0.0, 0.3, 2)

def loss(xs: f32[t, n, 3], y: f32[n, 4]) -> f32:
    h = zeros((n, 4))
    for x in xs:
        h = tanh(x @ Wx + h @ Wh)
    return mean((h - y) ** 2.0)

def train(xs: f32[t, n, 3], y: f32[n, 4], k: i32) -> f32:
    cost = loss(xs, y)
    gh = grad(cost, Wh)
    gx = grad(cost, Wx)
    Wh <- Wh - 0.5 * gh
    Wx <- Wx - 0.5 * gx
    return cost

def power(A: f32[m, m], k: i32) -> f32[m, m]:
    r = A
    for i in range(k - 1):
        for j in range(1):
            r = r @ A
    return r
"""


def opencl_or_skip():
    from runtime.opencl.device import opencl_available
    if not opencl_available():
        pytest.skip("no OpenCL device (pip install pyopencl pocl-binary-distribution for a CPU one)")
    from runtime.opencl.executor import OpenCLExecutor
    return OpenCLExecutor


def opencl_pair(src: str, rows_of: int = 0):
    """(functions, OpenCL executor, numpy executor) of a program; skipped
    without a device, or where rows of `rows_of` bytes cannot start a
    sub-buffer on it."""
    OpenCLExecutor = opencl_or_skip()
    from dsl.api import compile_functions
    prog = check_source(src, "t.sym")
    prog.raise_errors()
    fns, _ = compile_functions(prog)
    ex, ref = OpenCLExecutor(prog.shareds), NumpyExecutor(prog.shareds)
    if rows_of and rows_of % (ex.rt.device.mem_base_addr_align // 8):
        pytest.skip("this device starts sub-buffers at coarser boundaries")
    return fns, ex, ref


def test_opencl_trains_through_a_loop_as_numpy_does():
    OpenCLExecutor = opencl_or_skip()
    from dsl.api import compile_functions
    prog = check_source(TRAIN, "t.sym")
    prog.raise_errors()
    fns, _ = compile_functions(prog)
    backends = [NumpyExecutor(prog.shareds), OpenCLExecutor(prog.shareds)]
    for name in ("Wh", "Wx"):
        value = np.random.default_rng(len(name)).normal(size=prog.shareds[name].shape) * 0.3
        for e in backends:
            e.set_shared(name, value)
    r = np.random.default_rng(10)
    xs, y = r.normal(size=(6, 2, 3)).astype(np.float32), r.normal(size=(2, 4)).astype(np.float32)
    costs = [[float(np.asarray(e.call(fns["train"], [xs, y, np.int32(0)], {"t": 6, "n": 2})[0]))
              for _ in range(3)] for e in backends]
    np.testing.assert_allclose(costs[1], costs[0], rtol=1e-4)
    for name in ("Wh", "Wx"):
        np.testing.assert_allclose(backends[1].get_shared(name), backends[0].get_shared(name),
                                   rtol=1e-4, atol=1e-6)
    A = np.array([[1.0, 1.0], [0.0, 1.0]], np.float32)
    for k in (1, 4):
        got = backends[1].call(fns["power"], [A, np.int32(k)], {"m": 2})[0]
        np.testing.assert_allclose(np.asarray(got), np.linalg.matrix_power(A, k))


STACKS = """
def rnn(xs: f32[t, n, 3], Wx: f32[3, 4]) -> f32[t, n, 4]:
    h = zeros((n, 4))
    hs = []
    for x in xs:
        h = tanh(x @ Wx + h)
        hs.append(h)
    return hs
"""


def test_opencl_stacks_stay_on_the_device_and_a_held_stack_keeps_its_values(monkeypatch):
    fns, ex, ref = opencl_pair(STACKS)
    reads = []
    real_read = ex._read_into
    monkeypatch.setattr(ex, "_read_into", lambda host, buf: reads.append(1) or real_read(host, buf))
    r = np.random.default_rng(3)
    args = [[r.normal(size=(5, 2, 3)).astype(np.float32), r.normal(size=(3, 4)).astype(np.float32)]
            for _ in range(3)]
    held = ex.call(fns["rnn"], args[0], {"t": 5, "n": 2})[0]
    assert reads == []              # stacking read nothing back
    ex.call(fns["rnn"], args[1], {"t": 5, "n": 2})      # dropped unread: its buffer is reused
    last = ex.call(fns["rnn"], args[2], {"t": 5, "n": 2})[0]
    for got, a in ((held, args[0]), (last, args[2])):
        np.testing.assert_allclose(np.asarray(got), ref.call(fns["rnn"], a, {"t": 5, "n": 2})[0],
                                   rtol=1e-5, atol=1e-6)



def test_opencl_passes_on_what_a_loop_reads_and_stacks_without_copying(monkeypatch):
    """The backward loop reads the forward loop's stacks and the forward
    loop stacks the carries each step starts from: values already on the
    device, bound as they are, where a stage's output copied them (the
    LSTM: 8 copies of 1.4 to 5.7 MB a call). Only the stacked rows are copied."""
    from runtime.opencl import stages
    fns, ex, ref = opencl_pair(BIASED_RNN)
    v = dict(rnn_values(6), b=np.random.default_rng(6).normal(size=4))
    args = [v[k] for k in ("xs", "h0", "Wx", "Wh", "b")]
    copies, rows = [], []
    monkeypatch.setattr(ex, "_copy", lambda *a: copies.append(a))
    real_row = stages.copy_row
    monkeypatch.setattr(stages, "copy_row", lambda *a: rows.append(1) or real_row(*a))
    monkeypatch.setattr(stages, "row_buffer", lambda *a: None)     # every row copied, counted
    got = ex.call(fns["grads"], args, {"t": 5, "n": 2})
    assert copies == []
    plan = ex._staged(fns["grads"])
    assert len(rows) == 5 * sum(len(s.loop.type.elts) - s.loop.attr("carries") for s in plan.loops)
    for g, w in zip(got, ref.call(fns["grads"], args, {"t": 5, "n": 2})):
        np.testing.assert_allclose(np.asarray(g), w, rtol=1e-10)


PLACED = """
def rnn(xs: f32[t, n, 4], W: f32[4, 4]) -> (f32[t, n, 4], f32[n, 4]):
    h = zeros((n, 4))
    ys = []
    for x in xs:
        h = tanh(x @ W + h)
        ys.append(h * 2.0)
    return ys, h
"""


def test_opencl_writes_a_stacked_value_straight_into_its_row(monkeypatch):
    """Rows of 8 x 4 f32 (128 bytes, where this device can start a
    sub-buffer): the step's kernel writes each row of `ys` itself, no copy;
    a stack held from one call keeps its values through the next."""
    from runtime.opencl import stages
    fns, ex, ref = opencl_pair(PLACED, rows_of=128)
    copied = []
    real_row = stages.copy_row
    monkeypatch.setattr(stages, "copy_row", lambda *a: copied.append(1) or real_row(*a))
    r = np.random.default_rng(8)
    args = [[r.normal(size=(5, 8, 4)).astype(np.float32), r.normal(size=(4, 4)).astype(np.float32)]
            for _ in range(2)]
    held = ex.call(fns["rnn"], args[0], {"t": 5, "n": 8})
    last = ex.call(fns["rnn"], args[1], {"t": 5, "n": 8})
    assert copied == []
    for got, a in ((held, args[0]), (last, args[1])):
        for g, w in zip(got, ref.call(fns["rnn"], a, {"t": 5, "n": 8})):
            np.testing.assert_allclose(np.asarray(g), w, rtol=1e-5, atol=1e-6)

def test_opencl_rows_of_a_reused_stack_buffer_follow_its_number_of_rows():
    """A stack buffer is reused by the loop's next run when it has as many
    bytes: 2 rows of 16 x 4 then 4 rows of 8 x 4 f32 (256 then 128 bytes a
    row), each row written where numpy's is."""
    fns, ex, ref = opencl_pair(PLACED)
    r = np.random.default_rng(11)
    W = r.normal(size=(4, 4)).astype(np.float32)
    for t, n in ((2, 16), (4, 8)):
        args = [r.normal(size=(t, n, 4)).astype(np.float32), W]
        got = [np.asarray(v) for v in ex.call(fns["rnn"], args, {"t": t, "n": n})]
        for g, w in zip(got, ref.call(fns["rnn"], args, {"t": t, "n": n})):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_opencl_uploads_a_host_sequence_once_not_row_by_row(monkeypatch):
    """A def's argument that a loop steps through goes to the device once;
    each step binds its row (a row uploaded per step was half a tiny
    step's host time)."""
    fns, ex, ref = opencl_pair(PLACED)
    uploads = []
    real_upload = ex._upload
    monkeypatch.setattr(ex, "_upload", lambda buf, host: uploads.append(host.nbytes) or real_upload(buf, host))
    r = np.random.default_rng(9)
    args = [r.normal(size=(7, 3, 4)).astype(np.float32), r.normal(size=(4, 4)).astype(np.float32)]
    got = ex.call(fns["rnn"], args, {"t": 7, "n": 3})
    assert 7 * 3 * 4 * 4 in uploads and 3 * 4 * 4 not in uploads
    for g, w in zip(got, ref.call(fns["rnn"], args, {"t": 7, "n": 3})):
        np.testing.assert_allclose(np.asarray(g), w, rtol=1e-5, atol=1e-6)


def test_opencl_writes_a_saved_carry_into_the_next_steps_row(monkeypatch):
    """The forward loop of a gradient stacks the carry each step starts
    from: each step writes its new carry straight into the next step's
    row, which that step reads it from, so of that stack only the first
    row (the initial carry) is copied (the stack of the new carry's
    `tanh`, the same buffer, is copied row by row); the gradients are
    numpy's."""
    from runtime.opencl import stages
    fns, ex, ref = opencl_pair(BIASED_RNN, rows_of=128)
    r = np.random.default_rng(10)
    v = {"xs": r.normal(size=(5, 4, 3)), "h0": r.normal(size=(4, 4)), "Wx": r.normal(size=(3, 4)),
         "Wh": r.normal(size=(4, 4)) * 0.5, "b": r.normal(size=4)}
    args = [v[k] for k in ("xs", "h0", "Wx", "Wh", "b")]       # rows of 4 x 4 f64: 128 bytes
    copied = {}
    real_row = stages.copy_row
    monkeypatch.setattr(stages, "copy_row", lambda ex_, stack, t, value: copied.setdefault(
        id(stack), []).append(t) or real_row(ex_, stack, t, value))
    got = ex.call(fns["grads"], args, {"t": 5, "n": 4})
    assert sorted(copied.values()) == [[0], [0, 1, 2, 3, 4]]
    for g, w in zip(got, ref.call(fns["grads"], args, {"t": 5, "n": 4})):
        np.testing.assert_allclose(np.asarray(g), w, rtol=1e-10)


def test_a_negative_count_is_the_same_error_on_opencl():
    OpenCLExecutor = opencl_or_skip()
    from dsl.api import compile_functions
    from semantics import RunFault
    prog = check_source(TRAIN, "t.sym")
    fns, _ = compile_functions(prog)
    texts = []
    for e in (NumpyExecutor(prog.shareds), OpenCLExecutor(prog.shareds)):
        with pytest.raises(RunFault) as info:
            e.call(fns["power"], [np.eye(2, dtype=np.float32), np.int32(0)], {"m": 2})
        texts.append(info.value.diagnostics[0].render())
    assert texts[0] == texts[1] and "E1310" in texts[0]


LOOP_RUN_GOLDENS = ["loop_negative_count.sym", "loop_window_out_of_range.sym"]


@pytest.mark.parametrize("name", LOOP_RUN_GOLDENS)
def test_loop_run_errors_are_the_same_text_on_opencl(name, capsys, monkeypatch):
    opencl_or_skip()
    import os
    from dsl import cli
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    monkeypatch.chdir(repo)
    path = f"tests/errors/runtime/{name}"
    capsys.readouterr()
    rc = cli.main(["run", path, "--backend", "opencl", "--no-progress"])
    with open(os.path.join(repo, path[:-4] + ".expected"), encoding="utf-8") as f:
        assert (rc, capsys.readouterr().err) == (1, f.read())


def test_a_window_with_a_computed_start_is_a_checked_gather():
    src = """
def windows(X: f64[m, 2], k: i32) -> f64:
    s = f64(0.0)
    for i in range(k):
        s = s + sum(X[i * 2 : i * 2 + 2] ** 2.0)
    return s
"""
    fn = compiled(src, "windows")
    X = np.arange(12.0).reshape(6, 2)
    (got,) = run(fn.outputs, {"X": X, "k": np.int32(3)}, {"m": 6})
    assert got == np.sum(X ** 2)
    check_grads(fn, {"X": X / 10, "k": np.int32(2)}, {"m": 6})


# ---- cumsum and stop_gradient, on both backends ------------------------------------------
from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=8, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple),
       dtype=st.sampled_from(["f32", "f64", "i32"]), seed=st.integers(0, 2**31), data=st.data())
def test_cumsum_matches_numpy_on_both_backends(shape, dtype, seed, data):
    from dsl.types import NUMPY_DTYPE, TensorType
    axis = data.draw(st.integers(0, len(shape) - 1))
    x = (np.random.default_rng(seed).normal(size=shape) * 3).astype(NUMPY_DTYPE[dtype])
    p = apply("param", (), type=TensorType(dtype, shape), name="x")
    y = apply("cumsum", (p,), axis=axis)
    want = np.cumsum(x, axis=axis, dtype=x.dtype)
    (got,) = run([y], {"x": x}, {})
    np.testing.assert_allclose(got, want, rtol=1e-6)
    from runtime.opencl.device import opencl_available
    if opencl_available():
        from runtime.opencl.executor import OpenCLExecutor
        (dev,) = OpenCLExecutor({}).evaluate([y], {"x": x}, {})
        np.testing.assert_allclose(dev, want, rtol=1e-5, atol=1e-5)


def test_stop_gradient_blocks_the_gradient_and_keeps_the_value():
    src = """
def f(x: f64[n]) -> f64:
    return sum(x * stop_gradient(x)) + sum(cumsum(x) ** 2.0)
"""
    fn = compiled(src, "f")
    x = np.array([0.5, -1.0, 2.0])
    (g,) = run(grad(fn.outputs[0], list(fn.params)), {"x": x}, {"n": 3})
    c = np.cumsum(x)
    want = x + np.cumsum((2 * c)[::-1])[::-1]        # stop_gradient(x) is a constant
    np.testing.assert_allclose(g, want)
    (v,) = run(fn.outputs, {"x": x}, {"n": 3})
    np.testing.assert_allclose(v, np.sum(x * x) + np.sum(c ** 2))


# ---- the Python API: dsl.scan ------------------------------------------------------------
def test_scan_runs_backwards_and_keeps_theanos_order():
    import dsl
    x = dsl.vector("x")
    acc, _ = dsl.scan(lambda v, total: total + v, sequences=x, outputs_info=dsl.zeros_like(x[0]),
                      go_backwards=True)
    f = dsl.function([x], acc, backend="numpy")
    np.testing.assert_allclose(f(np.array([1.0, 2.0, 4.0], np.float32)), [4.0, 6.0, 7.0])


def test_scan_gradient_matches_finite_differences():
    import dsl
    W = dsl.dmatrix("W")
    xs = dsl.dmatrix("xs")
    hs, _ = dsl.scan(lambda x, h, W: dsl.tanh(dsl.dot(W, h) + x), sequences=xs,
                     outputs_info=dsl.zeros_like(xs[0]), non_sequences=W)
    cost = (hs ** 2).sum()
    g = dsl.function([W, xs], dsl.grad(cost, W), backend="numpy")
    c = dsl.function([W, xs], cost, backend="numpy")
    r = np.random.default_rng(11)
    Wv, xv = r.normal(size=(3, 3)) * 0.5, r.normal(size=(4, 3))
    want = np.zeros_like(Wv)
    for i in np.ndindex(Wv.shape):
        d = np.zeros_like(Wv)
        d[i] = 1e-6
        want[i] = (float(c(Wv + d, xv)) - float(c(Wv - d, xv))) / 2e-6
    np.testing.assert_allclose(g(Wv, xv), want, rtol=1e-5, atol=1e-8)


def test_scan_errors_are_located_at_the_call():
    import dsl
    from dsl.diagnostics import SymError
    x = dsl.vector("x")
    with pytest.raises(SymError) as e:
        dsl.scan(lambda v, h: (v, v * 2.0), sequences=x, outputs_info=[x[0]])
    assert e.value.diagnostics[0].code == "E1314"
    with pytest.raises(SymError) as e:
        dsl.scan(lambda h: dsl.stack((h, h)), outputs_info=x, n_steps=3)
    assert e.value.diagnostics[0].code == "E1301"
    assert "test_loops.py" in e.value.diagnostics[0].render()


# ---- `@` on stacks of matrices -------------------------------------------------------------
STACK_SHAPES = [((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)), ((1, 3, 4), (6, 4, 5)),
                ((2, 3, 4), (4,)), ((4,), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2))]


@settings(max_examples=6, deadline=None)
@given(case=st.sampled_from(STACK_SHAPES), seed=st.integers(0, 2**31))
def test_matmul_of_stacks_matches_numpy_on_both_backends(case, seed):
    from dsl.types import TensorType
    r = np.random.default_rng(seed)
    a, b = r.normal(size=case[0]), r.normal(size=case[1])
    pa = apply("param", (), type=TensorType("f64", case[0]), name="a")
    pb = apply("param", (), type=TensorType("f64", case[1]), name="b")
    y = apply("matmul", (pa, pb))
    (got,) = run([y], {"a": a, "b": b}, {})
    np.testing.assert_allclose(got, np.matmul(a, b), rtol=1e-12)
    from runtime.opencl.device import opencl_available
    if opencl_available():
        from runtime.opencl.executor import OpenCLExecutor
        (dev,) = OpenCLExecutor({}).evaluate([y], {"a": a, "b": b}, {})
        np.testing.assert_allclose(dev, np.matmul(a, b), rtol=1e-10)


@pytest.mark.parametrize("case", STACK_SHAPES)
def test_matmul_of_stacks_gradient_matches_finite_differences(case):
    from dsl.types import TensorType
    r = np.random.default_rng(3)
    values = {"a": r.normal(size=case[0]), "b": r.normal(size=case[1])}
    pa = apply("param", (), type=TensorType("f64", case[0]), name="a")
    pb = apply("param", (), type=TensorType("f64", case[1]), name="b")
    y = apply("matmul", (pa, pb))
    R = apply("param", (), type=y.type, name="R")
    values["R"] = r.normal(size=y.type.concrete_shape({}))
    cost = apply("sum", (apply("mul", (y, R)),), axes=tuple(range(y.type.rank)), keepdims=False)
    for p, g in zip((pa, pb), run(grad(cost, [pa, pb]), values, {})):
        np.testing.assert_allclose(g, fd_grad(cost, values, p.attr("name"), {}), rtol=1e-6, atol=1e-8)


# ---- ifelse: only the chosen side runs -----------------------------------------------------
IFELSE = """
def pick(x: f64[n], s: f64) -> f64:
    big = sum(x * x)
    return ifelse(s > 0.0, sum(log(x)) * s, big / s)
"""


def test_ifelse_computes_only_the_chosen_side_and_differentiates():
    fn = compiled(IFELSE, "pick")
    x = np.array([0.5, 2.0, 3.0])
    (pos,) = run(fn.outputs, {"x": x, "s": np.array(2.0)}, {"n": 3})
    assert pos == np.sum(np.log(x)) * 2.0
    # log of a negative x is NaN, but that side is not chosen: no NaN anywhere
    from runtime.nancheck import NanGuard
    values = {"x": -x, "s": np.array(-1.0)}
    (neg,) = evaluate(list(fn.outputs), Env({"n": 3}, values), NanGuard("pick"))
    assert neg == np.sum(x * x) / -1.0
    check_grads(fn, {"x": x, "s": np.array(2.0)}, {"n": 3})
    check_grads(fn, {"x": x, "s": np.array(-2.0)}, {"n": 3})


def test_ifelse_on_opencl_is_numpys():
    OpenCLExecutor = opencl_or_skip()
    from dsl.api import compile_functions
    prog = check_source(IFELSE.replace("f64", "f32"), "t.sym")
    prog.raise_errors()
    fns, _ = compile_functions(prog)
    for s in (2.0, -2.0):
        args = [np.array([0.5, 2.0, 3.0], np.float32), np.float32(s)]
        want = NumpyExecutor({}).call(fns["pick"], args, {"n": 3})[0]
        got = OpenCLExecutor({}).call(fns["pick"], args, {"n": 3})[0]
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)


def test_the_python_ifelse_is_lazy_and_checked_as_in_sym():
    import dsl
    from dsl.diagnostics import SymError
    x, s = dsl.vector("x"), dsl.scalar("s")
    y = dsl.ifelse(s > 0, dsl.log(x).sum(), (x * x).sum())
    f = dsl.function([x, s], y, backend="numpy")
    assert float(f(np.array([-1.0, 2.0], np.float32), -1.0)) == 5.0
    with pytest.raises(SymError) as e:
        dsl.ifelse(x > 0, x, x)
    assert e.value.diagnostics[0].code == "E1313"


def test_loop_invariant_work_is_hoisted_and_logged():
    src = """
def f(xs: f64[t, n], W: f64[n, n]) -> f64[n]:
    h = xs[0]
    for x in xs:
        h = tanh(h @ (W.T * 2.0) + x)
    return h
"""
    fn = compiled(src, "f")
    new, log = run_pipeline(fn)
    assert [e.rule for e in log if e.rule == "hoist"] == ["hoist"]
    body = next(n for n in walk(new.roots) if n.op == "loop").attr("body")
    assert "transpose" not in [n.op for n in walk(body.roots)]
    r = np.random.default_rng(12)
    v = {"xs": r.normal(size=(4, 3)), "W": r.normal(size=(3, 3)) * 0.3}
    np.testing.assert_allclose(run(new.outputs, v, {"t": 4, "n": 3})[0],
                               run(fn.outputs, v, {"t": 4, "n": 3})[0], rtol=1e-12)



def loop_nodes(fn):
    return [n for n in walk(fn.roots) if n.op == "loop"]


def test_a_loop_computes_no_result_that_nothing_reads():
    """The gradient with respect to the weights only: the backward loop
    would stack the cotangent of each x (x @ Wx.T) every step for nothing."""
    src = RNN + """
def grads(xs: f64[t, n, 3], h0: f64[n, 4], Wx: f64[3, 4], Wh: f64[4, 4]) -> (f64[3, 4], f64[4, 4]):
    cost = rnn_loss(xs, h0, Wx, Wh)
    return grad(cost, Wx), grad(cost, Wh)
"""
    fn = compiled(src, "grads")
    new, log = run_pipeline(fn)
    notes = [e.note for e in log if e.rule == "unused-loop-result"]
    assert notes == ["nothing reads stacked value 0: not computed"]
    backward = next(n for n in loop_nodes(new) if n.attr("reverse"))
    # no root of the shape of an x (n, 3): its cotangent is not stacked
    assert 3 not in [r.type.shape[-1] for r in backward.attr("body").roots]
    v = rnn_values(3)
    sizes = {"t": 5, "n": 2}
    for got, want in zip(run(new.outputs, v, sizes), run(fn.outputs, v, sizes)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_an_unread_carry_goes_with_the_work_only_it_needs():
    src = """
def f(xs: f64[t, n]) -> f64[n]:
    h = xs[0]
    s = xs[0]
    for x in xs:
        s = s * exp(x)
        h = tanh(h + x)
    return h
"""
    fn = compiled(src, "f")
    (loop,) = loop_nodes(fn)
    new, log = run_pipeline(fn)
    (kept,) = loop_nodes(new)
    assert (loop.attr("carries"), kept.attr("carries")) == (2, 1)
    assert "exp" not in [n.op for n in walk(kept.attr("body").roots)]
    assert [e.note for e in log if e.rule == "unused-loop-result"] == ["nothing reads carry `s`: not computed"]
    v = {"xs": np.random.default_rng(4).normal(size=(6, 3))}
    np.testing.assert_allclose(run(new.outputs, v, {"t": 6, "n": 3})[0],
                               run(fn.outputs, v, {"t": 6, "n": 3})[0], rtol=1e-12)


BIASED_RNN = """
def loss(xs: f64[t, n, 3], h0: f64[n, 4], Wx: f64[3, 4], Wh: f64[4, 4], b: f64[4]) -> f64:
    h = h0
    for x in xs:
        h = tanh(x @ Wx + h @ Wh + b)
    return sum(h * h)

def grads(xs: f64[t, n, 3], h0: f64[n, 4], Wx: f64[3, 4], Wh: f64[4, 4], b: f64[4]) -> (f64[4], f64[4, 4]):
    cost = loss(xs, h0, Wx, Wh, b)
    return grad(cost, b), grad(cost, Wh)
"""


def test_a_bias_gradient_is_summed_once_after_the_loop():
    """`#gb = #gb + sum_to(dz)` each step becomes one sum_to of the stacked
    dz after the backward loop; the gradients still match finite differences."""
    fn = compiled(BIASED_RNN, "grads")
    new, log = run_pipeline(fn)
    assert [e.note for e in log if e.rule == "sum-after-loop"] == \
        ["the steps' sums as one sum_to after the loop"]
    backward = next(n for n in loop_nodes(new) if n.attr("reverse"))
    assert "sum_to" not in [n.op for n in walk(backward.attr("body").roots)]
    assert backward.attr("carries") == 2        # #gh and #gWh; not #gb
    r = np.random.default_rng(5)
    v = dict(rnn_values(5), b=r.normal(size=4))
    sizes = {"t": 5, "n": 2}
    cost = compiled(BIASED_RNN, "loss").outputs[0]
    for name, got in zip(["b", "Wh"], run(new.outputs, v, sizes)):
        np.testing.assert_allclose(got, fd_grad(cost, v, name, sizes), rtol=1e-5, atol=1e-7)


def test_a_carry_another_result_reads_is_kept():
    src = """
def f(xs: f64[t, n]) -> f64[n]:
    h = xs[0]
    s = xs[0]
    for x in xs:
        h = tanh(h + s)
        s = s * 0.5 + x
    return h
"""
    new, log = run_pipeline(compiled(src, "f"))
    assert loop_nodes(new)[0].attr("carries") == 2
    assert not [e for e in log if e.rule == "unused-loop-result"]

def test_dimshuffle_as_in_theano():
    import dsl
    m = dsl.matrix("m")
    f = dsl.function([m], [m.dimshuffle(1, 0), m.dimshuffle("x", 0, 1), m[0].dimshuffle(0, "x")],
                     backend="numpy")
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t, row, col = f(a)
    np.testing.assert_array_equal(t, a.T)
    assert row.shape == (1, 2, 3) and col.shape == (3, 1)


def test_a_shared_value_that_does_not_fit_the_free_memory_is_e0221(monkeypatch):
    """Not a loop's: a shared value of 8 GiB on a busy machine (the fuzzer's
    mutant `shared W: f32[2147483648] = zeros()`) was E9999."""
    import dsl
    from dsl.diagnostics import SymError

    def no_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 8.00 GiB")
    monkeypatch.setattr(np, "full", no_memory)
    with pytest.raises(SymError) as e:
        dsl.compile("shared W: f32[3] = zeros()\nprint(1)\n", backend="numpy").run()
    assert e.value.diagnostics[0].code == "E0221"
    assert "initial value of `W`" in e.value.diagnostics[0].message


def test_out_of_memory_anywhere_in_a_run_is_e0221_not_e9999(monkeypatch, capsys, tmp_path):
    from dsl import api, cli

    def no_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 8.00 GiB")
    monkeypatch.setattr(api, "make_executor", no_memory)
    path = tmp_path / "p.sym"
    path.write_text("shared W: f32[3] = zeros()\nprint(1)\n")
    assert cli.main(["run", str(path), "--backend", "numpy", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error[E0221]: out of memory") and "E9999" not in err


def test_a_loop_element_used_as_an_index_on_opencl():
    """Theano's Jacobian: the element of an arange indexes y (a row of the
    sequence on the device, checked by the kernels)."""
    opencl_or_skip()
    import dsl
    x = dsl.dvector("x")
    J, _ = dsl.scan(lambda i, y, x: dsl.grad(y[i], x), sequences=dsl.arange(x.shape[0]),
                    non_sequences=[x ** 2, x])
    f = dsl.function([x], J, backend="opencl")
    np.testing.assert_allclose(f(np.array([1.0, 2.0])), [[2.0, 0.0], [0.0, 4.0]])


RUN_TIME_STACKS = """
def doubling_sum(x: f64[n], k: i32) -> f64[n]:
    hs = []
    for i in range(k):
        x = x * 2.0
        hs.append(x)
    return sum(hs, axis=0)

def last_and_loss(x: f64[n], k: i32) -> (f64[n], f64):
    hs = []
    for i in range(k):
        x = sin(x) * 1.5
        hs.append(x)
    return hs[k - 1], sum(hs * hs)
"""


def numpy_doublings(x, k):
    return np.stack([x * 2.0 ** (i + 1) for i in range(k)]) if k else np.zeros((0,) + x.shape)


@pytest.mark.parametrize("k", [0, 1, 4])
def test_a_run_time_count_loop_collects_a_stack_of_that_length(k):
    fn = compiled(RUN_TIME_STACKS, "doubling_sum")
    x = np.array([1.0, -2.0, 0.5])
    (got,) = run(fn.outputs, {"x": x, "k": np.int32(k)}, {"n": 3})
    np.testing.assert_allclose(got, numpy_doublings(x, k).sum(axis=0))


def test_the_gradient_through_a_run_time_count_stack_matches_finite_differences():
    fn = compiled(RUN_TIME_STACKS, "last_and_loss")
    cost = Function("loss", fn.params, (fn.outputs[1],))
    check_grads(cost, {"x": np.array([0.3, -1.2, 2.0]), "k": np.int32(3)}, {"n": 3}, wrt=["x"])


def test_a_run_time_count_stack_on_opencl_is_numpys():
    OpenCLExecutor = opencl_or_skip()
    from dsl.api import compile_functions
    prog = check_source(RUN_TIME_STACKS.replace("f64", "f32"), "t.sym")
    prog.raise_errors()
    fns, _ = compile_functions(prog)
    x = np.array([0.3, -1.2, 2.0], np.float32)
    for k in (0, 3):
        for name in ("doubling_sum", "last_and_loss") if k else ("doubling_sum",):
            want = NumpyExecutor(prog.shareds).call(fns[name], [x, np.int32(k)], {"n": 3})
            got = OpenCLExecutor(prog.shareds).call(fns[name], [x, np.int32(k)], {"n": 3})
            for g, w in zip(got, want):
                np.testing.assert_allclose(np.asarray(g), w, rtol=1e-5, atol=1e-6)
