"""Data parallel on K ranks: the plans (no MPI needed), and real `mpiexec -n 2`
runs on loopback (the dev extra installs mpi4py and the mpich wheel)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, needs_mnist
from dsl import cli
from dsl.parallel import plan_def
from dsl.ir import toposort
from dsl.program import check_source
from runtime import parallel
from semantics import philox

PYTHON = sys.executable
MPIEXEC = str(Path(PYTHON).parent / "mpiexec")

TINY = """option epochs = 2
shared W: f32[4, 3] = uniform(-0.5, 0.5, seed=7)
shared b: f32[3] = zeros()

def p(x: f32[n, 4]) -> f32[n, 3]:
    return softmax(x @ W + b)

def errors(x: f32[n, 4], y: i32[n]) -> f32:
    return mean(f32(argmax(p(x), axis=1) != y))

def rate(wrong: f32[n]) -> f32:
    return mean(wrong)

def train(x: f32[n, 4], y: i32[n]) -> f32:
    cost = -mean(log(p(x))[arange(n), y]) + 0.001 * sum(W ** 2)
    W <- W - 0.5 * grad(cost, W)
    b <- b - 0.5 * grad(cost, b)
    return cost

x = f32(reshape(arange(96), (24, 4))) / 96.0
y = i32(arange(24) % 3)
for epoch in range(epochs):
    for i in range(3):
        c = train(x[i * 8:(i + 1) * 8], y[i * 8:(i + 1) * 8])
        record("cost", c)
        print("epoch", epoch, "cost", format(c, ".6f"))
    train(x[0:8], y[0:8])
print("errors", format(errors(x, y) * 100.0, "f"), "rows", p(x).shape)
# 5 of 6 wrong: 2/3 and 3/3 on the ranks; their mean, 0.8333334 in f32, is not 5/6 = 0.8333333
print("rate", rate([1.0, 1.0, 0.0, 1.0, 1.0, 1.0]))
"""


def plans(text: str) -> dict:
    prog = check_source(text, "t.sym")
    prog.raise_errors()
    return {name: plan_def(info.function, prog.gradients) for name, info in prog.defs.items()}


# ---- the plans ---------------------------------------------------------------------------
def test_training_def_is_split_at_its_gradients():
    p = plans(TINY)
    assert p["train"].sliced == ("x", "y") and p["train"].batch == "n"
    assert [(g.param, g.mean) for g in p["train"].grads] == [("grad_W", True), ("grad_b", True)]
    assert p["train"].outputs == ("mean",)
    assert {name for name, _ in p["train"].apply.updates} == {"W", "b"}
    # the apply function reads the reduced gradients, never the minibatch
    assert [q.attr("name") for q in p["train"].apply.params] == ["grad_W", "grad_b"]
    assert p["errors"].outputs == ("mean_of_sum",) and p["errors"].apply is None
    assert p["errors"].compute.outputs[0].op == "sum"      # divided after the all-reduce
    assert p["p"].outputs == ("rows",)


def test_sum_costs_are_summed_and_sum_over_n_is_a_mean():
    base = """shared W: f32[3, 2] = zeros()
def train(x: f32[n, 3], y: i32[n]) -> f32:
    cost = COST
    W <- W - 0.1 * grad(cost, W)
    return cost
"""
    total = plans(base.replace("COST", "-sum(log_softmax(x @ W)[arange(n), y])"))["train"]
    assert [g.mean for g in total.grads] == [False] and total.outputs == ("sum",)
    mean = plans(base.replace("COST", "-sum(log_softmax(x @ W)[arange(n), y]) / f32(n)"
                              " + 0.5 * sum(W ** 2)"))["train"]
    assert [g.mean for g in mean.grads] == [True] and mean.outputs == ("mean",)


def test_defs_that_cannot_be_split_run_whole_on_every_rank():
    p = plans("""shared W: f32[3] = zeros()
def centred(x: f32[n, 3]) -> f32[n, 3]:
    return x - mean(x, axis=0)
def scale(k: f32) -> f32:
    return k * sum(W)
""")
    assert p["centred"].whole and "line 3" in p["centred"].why_whole
    assert p["scale"].whole


def test_explain_ranks_shows_where_the_all_reduce_goes(capsys):
    assert cli.main(["explain", str(ROOT / "programs" / "mnist_logreg.sym"), "train", "--ranks", "4"]) == 0
    out = capsys.readouterr().out
    assert "each rank takes rows [r*n/4, (r+1)*n/4) of `x`, `y`" in out
    assert ("all-reduce: ONE MPI Allreduce (sum) per call, in place on one f32 buffer of "
            "7850 elements (31400 bytes)") in out
    # the optimizer is written once for the group `params` (optim.sgd): its W member
    assert re.search(r"%\d+  `grad\(cost, params\)` : f32\[784, 10\]  -> grad_W \(sum / 4\)", out)
    apply_part = out.split("apply, the same on every rank")[1]
    assert "param[name=grad_W]" in apply_part and "W <- " in apply_part
    assert "param[name=x]" not in apply_part


DROPOUT = """shared W: f32[4, 3] = uniform(-0.5, 0.5, seed=7)
shared rng: stream = 99

def masks(x: f32[n, 4]) -> i64[n, 4]:
    return integers(rng, (n, 4), 0, 1000) + i64(x * 0.0)

def centred(x: f32[n, 4]) -> f32[n, 4]:
    h = x * bernoulli(rng, x.shape, 0.5)
    return h - mean(h, axis=0)

def train(x: f32[n, 4], y: i32[n]) -> f32:
    h = x * bernoulli(rng, x.shape, 0.5) / 0.5 + normal(rng, (n, 4), std=0.01)
    cost = -mean(log_softmax(h @ W + 0.0 * sum(uniform(rng, (3,))))[arange(n), y])
    W <- W - 0.5 * grad(cost, W)
    return cost

x = f32(reshape(arange(96), (24, 4))) / 96.0
y = i32(arange(24) % 3)
for step in range(6):
    c = train(x[step * 4:step * 4 + 8], y[step * 4:step * 4 + 8])
    print("cost", format(c, ".6f"))
print("masks", masks(x[0:6]))
masks(x[0:2])
print("masks", masks(x[0:6]))
print("odd rows", masks(x[0:5]))
print("centred", sum(centred(x) ** 2.0))
print("rng", rng)
"""


def test_draws_by_rows_start_at_the_ranks_first_row():
    p = plans(DROPOUT)["train"]
    assert p.first_row == "first_row" and p.compute.params[-1].attr("name") == "first_row"
    draws = [n for n in toposort(p.compute.outputs) if n.op == "random"]
    # the mask and the noise are split by rows; the (3,) draw is the same on every rank
    assert sorted((str(n.type), n.attr("dist"), bool(n.attr("from_row"))) for n in draws) == [
        ("f32[3]", "uniform", False), ("f32[n, 4]", "normal", True), ("f32[n, 4]", "uniform", True)]
    assert all(n.inputs[-1] is p.compute.params[-1] for n in draws if n.attr("from_row"))
    # the stream advances in the apply part, the same on every rank
    assert [name for name, _ in p.apply.updates] == ["W", "rng"]
    assert plans(DROPOUT)["masks"].first_row == "first_row"
    # a value that mixes the rows: every rank runs it whole, draws and advance alike
    assert plans(DROPOUT)["centred"].whole
    assert plans(TINY)["train"].first_row == ""


def test_explain_ranks_shows_the_draws_split_by_rows(capsys):
    program = str(ROOT / "programs" / "mnist_mlp_dropout.sym")
    assert cli.main(["explain", program, "train", "--ranks", "2"]) == 0
    out = capsys.readouterr().out
    assert "random draws with n rows start at the rank's first row (`first_row` = r*n/2)" in out
    assert re.search(r"random\[dist=uniform, draw=0, from_row=True\] %\d+, %\d+, %\d+, %\d+ : f32\[n, 500\]", out)


@pytest.mark.parametrize("dist, per", [("bits", 1), ("uniform f32", 1), ("uniform f64", 2),
                                       ("normal f32", 2), ("normal f64", 4)])
def test_a_draw_from_an_element_on_is_that_part_of_the_whole_draw(dist, per):
    state = np.array([12345, 6], np.int64)
    name, *dtype = dist.split()
    def draw(first, count):
        if name == "bits":
            return philox.bits(state, 3, count, first)
        return getattr(philox, name)(state, 3, count, dtype[0], first=first)
    whole = draw(0, 23)
    for first in range(23):
        for count in range(23 - first):
            assert np.array_equal(draw(first, count), whole[first:first + count]), (first, count)


# ---- real runs on 2 ranks -------------------------------------------------------------------
def sym_run(*args, timeout=120, env=None):
    return subprocess.run([PYTHON, "-m", "dsl.cli", "run", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=env or run_env())


def run_env(**extra):
    env = dict(os.environ, PYTHONPATH=str(ROOT), **extra)
    for name in parallel.SIZE_VARIABLES:      # not a rank of an outer MPI job
        env.pop(name, None)
    return env


def tiny(tmp_path, text=TINY) -> Path:
    path = tmp_path / "tiny.sym"
    path.write_text(text)
    return path


def test_two_ranks_print_the_one_process_figures_once(tmp_path):
    path = tiny(tmp_path)
    one = sym_run(str(path), "--backend", "numpy")
    assert one.returncode == 0, one.stderr
    two = sym_run(str(path), "--backend", "numpy", "--ranks", "2", "-v",
                  "--metrics", str(tmp_path / "m.csv"))
    assert two.returncode == 0, two.stderr
    assert two.stdout == one.stdout          # printed once, and the same figures
    assert "errors 62.500000 rows (24, 3)" in two.stdout
    assert "rate 0.8333333" in two.stdout         # a sum on each rank, then / 6: as one process
    assert "data parallel on 2 ranks" in two.stderr
    # the ranks compared a digest of their parameters at the end
    assert re.search(r"shared values bit-identical on all 2 ranks \(sha256 [0-9a-f]{64}\)", two.stderr)
    assert (tmp_path / "m.csv").read_text().count("\n") == 7     # rank 0 wrote it, once


def test_two_ranks_draw_the_one_process_numbers(tmp_path, backend):
    """Dropout on 2 ranks: each rank draws the one-process numbers of its
    rows (the masks gathered are equal to the bit), the streams advance
    alike, and the run prints the one-process figures. A drawing def run
    whole (5 rows, or a value that mixes rows) draws the same numbers too."""
    path = tiny(tmp_path, DROPOUT)
    one = sym_run(str(path), "--backend", "numpy")
    assert one.returncode == 0, one.stderr
    two = sym_run(str(path), "--backend", backend, "--ranks", "2", "-v")
    assert two.returncode == 0, two.stderr
    assert two.stdout == one.stdout
    assert "rng [99 11]" in two.stdout      # 6 + 5 calls; compared on every rank at the end
    assert "bit-identical on all 2 ranks" in two.stderr


def test_mpiexec_started_by_the_user(tmp_path):
    """`mpiexec -n 2 sym run`: the same as `sym run --ranks 2`."""
    path = tiny(tmp_path)
    done = subprocess.run([MPIEXEC, "-n", "2", PYTHON, "-m", "dsl.cli", "run", str(path),
                           "--backend", "numpy", "-v"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=run_env())
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("errors 62.500000") == 1
    assert "bit-identical on all 2 ranks" in done.stderr


def test_ranks_with_other_options_are_refused(tmp_path):
    path = str(tiny(tmp_path))
    command = [MPIEXEC, "-n", "1", PYTHON, "-m", "dsl.cli", "run", path, "--backend", "numpy",
               "--set", "epochs=1", ":", "-n", "1", PYTHON, "-m", "dsl.cli", "run", path,
               "--backend", "numpy", "--set", "epochs=2"]
    start = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=run_env())
    assert time.monotonic() - start < 60
    assert done.returncode != 0
    assert done.stderr.count("error[E1407]: rank 1 runs a different program or options than rank 0") == 1
    assert done.stdout == ""


def test_a_rank_that_dies_stops_the_others_and_is_named(tmp_path):
    forever = TINY.replace("option epochs = 2", "option epochs = 100000000")
    path = tiny(tmp_path, forever)
    proc = subprocess.Popen([PYTHON, "-m", "dsl.cli", "run", str(path), "--backend", "numpy",
                             "--ranks", "2"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=run_env())
    try:
        proc.stdout.readline()           # rank 0 is training
        victim = rank_process(str(path), 1)
        os.kill(victim, signal.SIGKILL)
        start = time.monotonic()
        err = proc.communicate(timeout=60)[1]
        assert time.monotonic() - start < 30
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1
    assert f"error[E1406]: rank 1 of 2 (pid {victim}) was killed by signal 9 before the run ended" in err
    assert "BAD TERMINATION" not in err


def rank_process(program: str, rank: int) -> int:
    """The pid of the process running `program` as this rank."""
    for _ in range(200):
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
                environ = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if program.encode() in cmdline and f"PMI_RANK={rank}".encode() in environ:
                return int(entry.name)
        time.sleep(0.05)
    raise AssertionError(f"no rank {rank} running {program}")


def test_a_rank_that_fails_names_itself(tmp_path):
    path = tiny(tmp_path, TINY.replace("x[0:8], y[0:8])\n", "x[0:7], y[0:7])\n"))
    done = sym_run(str(path), "--backend", "numpy", "--ranks", "2")
    assert done.returncode == 1
    assert done.stderr.startswith("sym: rank 0 of 2 failed:\nerror[E1405]: `train` is called with 7 rows")
    assert done.stderr.count("E1405") == 1


# ---- without MPI ------------------------------------------------------------------------------
def test_started_by_mpiexec_without_mpi4py(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PMI_SIZE", "2")
    monkeypatch.setitem(sys.modules, "mpi4py", None)      # import fails as when not installed
    monkeypatch.setattr(parallel, "_WORLD", [])
    assert cli.main(["run", str(tiny(tmp_path)), "--backend", "numpy"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error[E1408]: this process was started by an MPI launcher with 2 ranks, "
                          "but mpi4py is not installed")


def test_no_launcher(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SYM_MPIEXEC", str(tmp_path / "no-such-mpiexec"))
    assert cli.main(["run", str(tiny(tmp_path)), "--backend", "numpy", "--ranks", "2"]) == 2
    assert "error[E1409]: cannot start" in capsys.readouterr().err


def test_ranks_need_a_file_not_stdin(capsys):
    assert cli.main(["run", "-", "--ranks", "2"]) == 2
    assert "give a file, not `-`" in capsys.readouterr().err


def test_different_shared_values_are_a_reported_bug():
    class Comm:
        def allgather(self, value):
            return [value, "0" * 64]
    world = object.__new__(parallel.World)
    world.comm, world.rank, world.size = Comm(), 0, 2

    class Executor:
        def get_shared(self, name):
            return __import__("numpy").zeros(3)
    with pytest.raises(Exception) as info:
        world.same_shared_values(Executor(), ["W"])
    assert "E1410" in str(info.value) and "rank 1" in str(info.value)


# ---- the flagship, shortened ---------------------------------------------------------------------
@needs_mnist
def test_mnist_logreg_one_epoch_on_two_ranks_prints_the_one_process_figures():
    args = [str(ROOT / "programs" / "mnist_logreg.sym"), "--backend", "numpy", "--set", "epochs=1",
            "--no-progress"]
    one = sym_run(*args, timeout=300)
    two = sym_run(*args, "--ranks", "2", "-v", timeout=300)
    assert one.returncode == 0 and two.returncode == 0, two.stderr
    assert two.stdout == one.stdout
    assert "validation error 12.458333 %" in two.stdout
    assert "bit-identical on all 2 ranks" in two.stderr


@pytest.mark.parametrize("name", ["mpi_rows_not_divisible", "c_mpi_draw_rows_not_first"])
def test_a_run_time_error_on_ranks_has_the_same_text_on_both_backends(backend, name):
    golden = ROOT / "tests" / "errors" / "runtime" / f"{name}.sym"
    done = sym_run(str(golden.relative_to(ROOT)), "--backend", backend, "--no-progress",
                   "--ranks", "2")
    assert done.returncode == 1
    assert done.stderr == golden.with_suffix(".expected").read_text()


def test_recording_gradients_never_compares_deep_graphs():
    """Two defs building equal deep gradients: the record is keyed by
    identity, so it never compares them node by node (which recursed too deep)."""
    body = ["    t0 = a * a - 0.25"]
    for i in range(1, 150):
        body.append(f"    t{i} = tanh(t{i - 1}) * 0.5 + a" if i % 2 else f"    t{i} = t{i - 1} * t{i - 1} - 0.25")
    body += ["    g = grad(sum(t149), a)", "    return g"]
    text = "".join(f"def {f}(a: f32[n]) -> f32[n]:\n" + "\n".join(body) + "\n\n" for f in ("f0", "f1"))
    assert check_source(text, "deep.sym").diagnostics == []
