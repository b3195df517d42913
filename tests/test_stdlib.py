"""The standard library: every optimizer of `optim`, written once for a
group, applied to parameters of four shapes (a matrix, a vector, a 3-D
tensor, a scalar) and compared step by step with a numpy implementation;
docs/stdlib.md is generated from the library's doc comments; the library
ships as package data.
"""
import re
from pathlib import Path

import numpy as np
import pytest

import dsl
from dsl.modules import STDLIB, stdlib_markdown, stdlib_modules

ROOT = Path(__file__).resolve().parent.parent
SHAPES = {"W": (3, 2), "b": (4,), "c": (2, 2, 2), "s": ()}
TYPES = {"W": "f32[3, 2]", "b": "f32[4]", "c": "f32[2, 2, 2]", "s": "f32"}


def gradients(p):
    """d cost / d p for cost = 0.5 sum(W**2) + sum(b*b) + sum(exp(c)) + sin(s)."""
    return {"W": p["W"], "b": 2 * p["b"], "c": np.exp(p["c"]), "s": np.cos(p["s"])}


# name: (state groups, extra shared scalars, arguments after the state, numpy step)
def sgd_step(p, g, st):
    return {k: p[k] - 0.1 * g[k] for k in p}, {}


def momentum_step(p, g, st):
    v = {k: 0.9 * st["velocity"][k] - 0.1 * g[k] for k in p}
    return {k: p[k] + v[k] for k in p}, {"velocity": v}


def nesterov_step(p, g, st):
    v = {k: 0.9 * st["velocity"][k] - 0.1 * g[k] for k in p}
    return {k: p[k] + 0.9 * v[k] - 0.1 * g[k] for k in p}, {"velocity": v}


def rmsprop_step(p, g, st):
    rg = {k: 0.95 * st["mean_g"][k] + 0.05 * g[k] for k in p}
    rg2 = {k: 0.95 * st["mean_g2"][k] + 0.05 * g[k] ** 2 for k in p}
    ud = {k: 0.9 * st["step"][k] - 1e-4 * g[k] / np.sqrt(rg2[k] - rg[k] ** 2 + 1e-4) for k in p}
    return {k: p[k] + ud[k] for k in p}, {"mean_g": rg, "mean_g2": rg2, "step": ud}


def adadelta_step(p, g, st):
    rg2 = {k: 0.95 * st["mean_g2"][k] + 0.05 * g[k] ** 2 for k in p}
    up = {k: -np.sqrt(st["mean_up2"][k] + 1e-6) / np.sqrt(rg2[k] + 1e-6) * g[k] for k in p}
    ru2 = {k: 0.95 * st["mean_up2"][k] + 0.05 * up[k] ** 2 for k in p}
    return {k: p[k] + up[k] for k in p}, {"mean_g2": rg2, "mean_up2": ru2}


def adam_step(p, g, st):
    t = st["t"] + 1.0
    m = {k: 0.9 * st["m"][k] + 0.1 * g[k] for k in p}
    v = {k: 0.999 * st["v"][k] + 0.001 * g[k] ** 2 for k in p}
    new = {k: p[k] - 0.01 * (m[k] / (1 - 0.9 ** t)) / (np.sqrt(v[k] / (1 - 0.999 ** t)) + 1e-8)
           for k in p}
    return new, {"m": m, "v": v, "t": t}


OPTIMIZERS = {
    "sgd": ([], "0.1", sgd_step),
    "momentum": (["velocity"], "0.1, 0.9", momentum_step),
    "nesterov": (["velocity"], "0.1, 0.9", nesterov_step),
    "rmsprop": (["mean_g", "mean_g2", "step"], "", rmsprop_step),
    "adadelta": (["mean_g2", "mean_up2"], "", adadelta_step),
    "adam": (["m", "v", "t"], "0.01, 0.9, 0.999, 0.00000001", adam_step),
}


def program(name: str) -> str:
    groups, settings, _ = OPTIMIZERS[name]
    lines = ["import optim"] + [f"shared {k}: {TYPES[k]} = zeros()" for k in SHAPES]
    lines.append(f"shared params = [{', '.join(SHAPES)}]")
    for group in groups:
        lines.append("shared t: f32 = zeros()" if group == "t" else f"shared {group} like params = zeros()")
    args = ", ".join(["params"] + groups + ([settings] if settings else []))
    lines += ["def train() -> f32:",
              "    cost = 0.5 * sum(W ** 2) + sum(b * b) + sum(exp(c)) + sin(s)",
              f"    {name}(cost, {args})",
              "    return cost"]
    return "\n".join(lines) + "\n"


def state_of(m, groups):
    out = {}
    for group in groups:
        if group == "t":
            out["t"] = float(np.asarray(m.t))
        else:
            out[group] = {k: np.asarray(getattr(m, f"{group}_{k}"), np.float64) for k in SHAPES}
    return out


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_matches_numpy(name):
    groups, _, step = OPTIMIZERS[name]
    m = dsl.compile(program(name), f"{name}.sym", backend="numpy")
    rng = np.random.RandomState(7)
    for k, shape in SHAPES.items():
        setattr(m, k, rng.uniform(-1, 1, shape).astype(np.float32))
    for _ in range(3):
        p = {k: np.asarray(getattr(m, k), np.float64) for k in SHAPES}
        want, want_state = step(p, gradients(p), state_of(m, groups))
        m.train()
        for k in SHAPES:
            got = np.asarray(getattr(m, k))
            assert got.shape == SHAPES[k] and got.dtype == np.float32
            np.testing.assert_allclose(got, want[k], rtol=1e-4, atol=1e-6, err_msg=f"{name} {k}")
        got_state = state_of(m, groups)
        for group, values in want_state.items():
            if group == "t":
                assert got_state["t"] == values
                continue
            for k in SHAPES:
                np.testing.assert_allclose(got_state[group][k], values[k], rtol=1e-4, atol=1e-6,
                                           err_msg=f"{name} {group}_{k}")


def test_optimizer_on_opencl_matches_numpy(backend):
    """The unrolled updates run on OpenCL as on numpy."""
    results = []
    for b in ("numpy", backend):
        m = dsl.compile(program("adam"), "adam.sym", backend=b)
        for k, shape in SHAPES.items():
            setattr(m, k, np.linspace(-1, 1, int(np.prod(shape)) or 1, dtype=np.float32).reshape(shape))
        m.train()
        m.train()
        results.append({k: np.asarray(getattr(m, k)) for k in SHAPES})
    for k in SHAPES:
        np.testing.assert_allclose(results[1][k], results[0][k], rtol=1e-5, atol=1e-6)


def test_unrolled_updates_are_in_explain():
    m = dsl.compile(program("momentum"), "momentum.sym", backend="numpy")
    text = m.explain("train")
    for k in SHAPES:
        assert f"velocity_{k} <-" in text or f"velocity_{k}" in text
        assert re.search(rf"\b{k}\b", text)


def test_docs_stdlib_is_generated_from_the_library():
    text = (ROOT / "docs" / "stdlib.md").read_text()
    marker = "<!-- generated from dsl/stdlib/*.sym by dsl.modules.stdlib_markdown() -->\n"
    assert marker in text, "docs/stdlib.md lost its generated part"
    assert text.split(marker, 1)[1] == stdlib_markdown(), \
        "regenerate docs/stdlib.md's reference with dsl.modules.stdlib_markdown()"


def test_every_library_def_and_proc_has_a_doc_comment():
    from dsl.modules import doc_comments
    for name in stdlib_modules():
        module_doc, entries = doc_comments((STDLIB / f"{name}.sym").read_text())
        assert module_doc, name
        for header, doc in entries:
            assert doc, f"{name}: {header}"


def test_library_is_package_data_and_checks_clean():
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^dsl = \[.*"stdlib/\*\.sym".*\]', text, re.M)
    assert set(stdlib_modules()) >= {"optim", "training", "layers"}
    for name in stdlib_modules():
        prog = dsl.program.check_source(f"import {name}\n", "main.sym")
        assert not prog.diagnostics, "\n".join(d.render() for d in prog.diagnostics)


TRAINING_PROGRAM = """import training
option pkl = ""
data = mnist(pkl)
def train(x: f32[n, 784], y: i32[n]) -> f32:
    return sum(x) * 0.0
def errors(x: f32[n, 784], y: i32[n]) -> f32:
    return 0.5 + 0.0 * sum(x)
proc lines(event, epoch, minibatch, n_batches, iter, error):
    print(event, epoch, minibatch, n_batches, iter, error)
"""


def tiny_mnist(tmp_path, sizes=(40, 20, 20)):
    import gzip
    import pickle
    splits = tuple((np.full((n, 784), 0.5, np.float32), np.zeros(n, np.int64)) for n in sizes)
    path = tmp_path / "tiny.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(splits)))
    return str(path)


def run_training(tmp_path, call: str) -> str:
    import io
    out = io.StringIO()
    dsl.compile(TRAINING_PROGRAM + call + "\n", "training_test.sym", backend="numpy",
                options={"pkl": tiny_mnist(tmp_path)}, out=out).run()
    return out.getvalue()


def test_patience_loop_reports_each_event_and_stops_when_patience_runs_out(tmp_path):
    # 4 minibatches an epoch, patience 4: validation every 2 (min(4, 4 // 2)); the
    # first validation is the only best (errors is always 0.5); iteration 4 ends it
    got = run_training(tmp_path, "print(patience_loop(train, errors, lines, data.train, data.valid, "
                                 "data.test, 10, 5, 4, 2, 0.995))")
    assert got.splitlines() == [
        "minibatch 1 0 4 0 0.0", "minibatch 1 1 4 1 0.0",
        "validation 1 2 4 1 0.5", "test 1 2 4 1 0.5",
        "minibatch 1 2 4 2 0.0", "minibatch 1 3 4 3 0.0", "validation 1 4 4 3 0.5",
        "minibatch 2 0 4 4 0.0",
        "(0.5, 1, 1, 0.5, 2)"]


def test_train_epochs_prints_each_epochs_validation_and_the_test_error(tmp_path):
    got = run_training(tmp_path, "print(train_epochs(train, errors, data.train, data.valid, "
                                 "data.test, 10, 5, 2, true))")
    assert got.splitlines() == ["epoch 1 validation error 50.00 %", "epoch 2 validation error 50.00 %",
                                "test error 50.00 %", "50.0"]
