"""The OpenCL runtime under stress: index errors raised by the call that
caused them, very deep graphs, a damaged or unwritable kernel cache, calls
from several threads (on both backends), and pickling."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import needs_pocl, opencl_skip_reason

import dsl
from dsl import cli
from dsl.diagnostics import SymError

REPO = Path(__file__).resolve().parent.parent
needs_opencl = pytest.mark.skipif(opencl_skip_reason() is not None,
                                  reason=str(opencl_skip_reason()))


def code_of(err: SymError) -> str:
    return err.diagnostics[0].code


# ---- index errors belong to their call -----------------------------------------------------------
GATHER_GOLDENS = ["gather_out_of_range", "ocl_gather_in_statement_call",
                  "ocl_bad_label_in_training_step"]


@needs_opencl
@pytest.mark.parametrize("name", GATHER_GOLDENS)
def test_index_errors_read_the_same_on_opencl(name, capsys, monkeypatch):
    """The runtime goldens (made on numpy) give the same text on OpenCL:
    the error is located at the indexing and at the call that caused it."""
    path = REPO / "tests" / "errors" / "runtime" / f"{name}.sym"
    monkeypatch.chdir(REPO)
    capsys.readouterr()
    rc = cli.main(["run", path.relative_to(REPO).as_posix(), "--backend", "opencl",
                   "--no-progress"])
    assert rc == 1
    assert capsys.readouterr().err == path.with_suffix(".expected").read_text(encoding="utf-8")


PICK = """
shared total: f32 = zeros()

def pick(p: f32[n, 10], y: i32[n]) -> f32[n]:
    picked = p[arange(n), y]
    total <- total + sum(picked)
    return picked
"""


def test_index_error_raised_by_its_call_through_load(backend):
    m = dsl.compile(PICK, "pick.sym", backend=backend)
    p = np.ones((3, 10), np.float32)
    kept = m.pick(p, np.array([1, 2, 3], np.int32))
    with pytest.raises(SymError) as e:
        m.pick(p, np.array([1, 12, 3], np.int32))
    assert code_of(e.value) == "E0603" and "index 12 is out of range" in str(e.value)
    assert "in a call of `pick`" in str(e.value)
    later = m.pick(p, np.array([0, 0, 0], np.int32))     # a later call is not blamed
    np.testing.assert_array_equal(np.asarray(later), [1, 1, 1])
    np.testing.assert_array_equal(np.asarray(kept), [1, 1, 1])
    assert float(m.total) == 6.0        # the failed call changed nothing, as on numpy


def test_index_error_raised_by_its_call_through_function(backend):
    p = dsl.matrix("p")
    y = dsl.ivector("y")
    f = dsl.function([p, y], p[dsl.arange(y.shape[0]), y], backend=backend)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    kept = f(x, np.array([0, 1], np.int32))
    with pytest.raises(SymError) as e:
        f(x, np.array([0, 5], np.int32))
    assert code_of(e.value) == "E0603"
    np.testing.assert_array_equal(np.asarray(f(x, np.array([2, 2], np.int32))), [2, 5])
    np.testing.assert_array_equal(np.asarray(kept), [0, 4])


def test_index_computed_on_the_device_raises_at_its_call(backend):
    p = dsl.matrix("p")
    y = dsl.ivector("y")
    f = dsl.function([p, y], p[dsl.arange(y.shape[0]), y * 2], backend=backend)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    with pytest.raises(SymError) as e:
        f(x, np.array([0, 2], np.int32))
    assert code_of(e.value) == "E0603" and "index 4 is out of range for axis 1 of size 3" \
        in str(e.value)
    np.testing.assert_array_equal(np.asarray(f(x, np.array([1, 1], np.int32))), [2, 5])


# ---- deep graphs ----------------------------------------------------------------------------------
def deep_program(lines: int) -> str:
    """A def of `lines` straight-line assignments and its gradient."""
    body = [f"    a{i} = a{i - 1} * x + 1.0" for i in range(1, lines)]
    return "\n".join(["def f(x: f32[n]) -> f32[n]:", "    a0 = x", *body,
                      f"    return grad(sum(a{lines - 1}), x)"]) + "\n"


@needs_opencl
@pytest.mark.parametrize("lines", [300, 1000])
def test_deep_def_with_grad_compiles_and_agrees(lines):
    """300 lines ended in a RecursionError once; both are seconds now."""
    source = deep_program(lines)
    x = np.array([0.5, -0.25, 0.125], np.float32)
    want = dsl.compile(source, "deep.sym", backend="numpy").f(x)
    got = dsl.compile(source, "deep.sym", backend="opencl").f(x)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4)


def test_deep_graph_is_cut_into_kernels_of_bounded_depth():
    from runtime.opencl.analysis import INLINE_LIMIT
    from runtime.opencl.render import RenderOptions, render_function
    prog = dsl.compile(deep_program(1000), "deep.sym", backend="numpy")
    plan = render_function(prog._functions["f"], RenderOptions())
    # a kernel per 64 levels or so, not one per line, nor one for everything
    assert 10 < len(plan.kernels) < 4000 // INLINE_LIMIT * 2


EXIT_PROBE = """
import numpy as np, dsl
m = dsl.load("programs/mnist_lstm.sym", backend="opencl")
m.train(np.random.default_rng(0).random((100, 784), np.float32), np.arange(100, dtype=np.int32) % 10)
"""


@needs_opencl
def test_exit_while_kernels_are_queued():
    """A script whose last call is still running on the device exits
    cleanly: it once aborted (rc 134, "Final linking of kernel
    train_step0_1 failed") when pyopencl released the programs first."""
    out = subprocess.run([sys.executable, "-c", EXIT_PROBE], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert (out.returncode, out.stderr) == (0, "")


# ---- the kernel cache -------------------------------------------------------------------------------
CACHE_PROBE = """
import numpy as np, dsl
x = dsl.matrix("x")
f = dsl.function([x], dsl.softmax(dsl.tanh(x)).sum(axis=1), backend="opencl")
print(float(np.asarray(f(np.ones((3, 5), np.float32))).sum()))
"""


def probe(cache: Path, **env) -> subprocess.CompletedProcess:
    """A fresh process compiling and running a small function with `cache`
    as XDG_CACHE_HOME."""
    env = dict(os.environ, XDG_CACHE_HOME=str(cache), SYM_DEVICE="cpu", **env)
    for name in ("POCL_CACHE_DIR", "SYM_POCL_STAGING", "PYOPENCL_NO_CACHE"):
        env.pop(name, None)
    out = subprocess.run([sys.executable, "-c", CACHE_PROBE], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert abs(float(out.stdout) - 3.0) < 1e-5
    return out


def stored_files(cache: Path) -> list[Path]:
    return [p for p in (cache / "sym" / "opencl" / "kernels").rglob("*") if p.is_file()]


@needs_pocl
def test_damaged_cached_kernels_are_rebuilt(tmp_path):
    """A truncated kernel once aborted every later process (rc 134)."""
    assert probe(tmp_path).stderr == ""
    kernels = [p for p in stored_files(tmp_path) if p.suffix == ".so"]
    bitcode = [p for p in stored_files(tmp_path) if p.name == "program.bc"]
    assert kernels and bitcode
    for p in kernels:
        os.truncate(p, 100)
    for p in bitcode:
        p.write_bytes(os.urandom(p.stat().st_size))     # same size, other bytes
    stale = tmp_path / "sym" / "opencl" / "staging" / f"{2**22 + 1}-killed"   # above pid_max
    stale.mkdir()
    err = probe(tmp_path).stderr
    assert not stale.exists()
    assert "were damaged" in err and "they are rebuilt" in err and "Traceback" not in err
    assert probe(tmp_path).stderr == ""                  # stored again, intact


@needs_pocl
def test_unwritable_cache_builds_for_this_run_with_one_warning(tmp_path):
    (tmp_path / "sym").write_text("a file where the cache folder should be")
    err = probe(tmp_path).stderr
    assert err.count("\n") == 1 and err.startswith("sym: warning: cannot write the OpenCL "
                                                  "kernel cache"), err
    assert "bug" not in err


def test_a_stored_entry_cannot_write_outside_the_staging_folder(tmp_path, capsys):
    from runtime.opencl.kcache import KernelStore
    entry = tmp_path / "kernels" / "k"
    (entry / "files").mkdir(parents=True)
    (entry / "files" / "program.bc").write_bytes(b"x")
    (entry / "sums.json").write_text('{"folder": "../../escaped", "files": {"program.bc": "0"}}')
    store = KernelStore(tmp_path)
    try:
        store.restore("k")
        assert not entry.exists() and not (tmp_path / "escaped").exists()
        assert "were damaged (sums.json)" in capsys.readouterr().err
    finally:
        store.close()


def test_a_nearly_full_disk_counts_as_unwritable(tmp_path, monkeypatch):
    from runtime.opencl import kcache
    assert kcache.unusable(tmp_path) is None
    monkeypatch.setattr(kcache.shutil, "disk_usage", lambda path: SimpleNamespace(free=5 * 2**20))
    assert kcache.unusable(tmp_path) == "the disk is full (5 MiB free)"


# ---- concurrency ------------------------------------------------------------------------------------
THREADS, CALLS = 4, 600
COUNTER = """
shared counter: i32 = zeros()

def bump() -> i32:
    new = counter + 1
    counter <- new
    return new

def bump_by_two_minus_one() -> i32:
    counter <- counter + 2 - 1
    return counter
"""   # bump's update is also its result: on OpenCL, a kernel then a copy


def hammer(call_for_thread):
    errors = []

    def work(k):
        try:
            call = call_for_thread(k)
            for _ in range(CALLS):
                call()
        except Exception as exc:      # a thread's failure must fail the test
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(THREADS)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)       # switch threads often: inside calls too
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors


def test_threads_never_lose_an_update_through_load(backend):
    m = dsl.compile(COUNTER, "counter.sym", backend=backend)
    hammer(lambda k: m.bump if k % 2 else m.bump_by_two_minus_one)
    assert int(m.counter) == THREADS * CALLS


def test_threads_never_lose_an_update_through_function(backend):
    c = dsl.shared(np.int32(0), name="c")
    new = c + 1
    f = dsl.function([], new, updates=[(c, new)], backend=backend)
    g = dsl.function([], [], updates=[(c, c + 2 - 1)], backend=backend)
    hammer(lambda k: f if k % 2 else g)
    assert int(c.get_value()) == THREADS * CALLS


# ---- pickling ---------------------------------------------------------------------------------------
@needs_opencl
def test_pickling_an_opencl_function_or_program_says_what_to_do():
    x = dsl.vector("x")
    f = dsl.function([x], x * 2, backend="opencl")
    m = dsl.compile(COUNTER, "counter.sym", backend="opencl")
    for thing, code in ((f, "E0806"), (m, "E0907")):     # a program refuses on any backend
        with pytest.raises(SymError) as e:
            pickle.dumps(thing)
        assert code_of(e.value) == code and "cannot be pickled" in str(e.value)
    result = f(np.array([1, 2], np.float32))           # a result pickles as its array
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(result)), [2, 4])


def test_setting_a_shared_value_waits_for_running_calls(backend):
    # a set lands between two calls: a call that started before it cannot
    # finish after it and write back a value computed from the old one
    c = dsl.shared(np.int32(0), name="c")
    f = dsl.function([], [], updates=[(c, c + 1)], backend=backend)
    last = [0]

    def setter(k):
        def call():
            last[0] += 10 ** 6
            c.set_value(np.int32(last[0]))
        return call if k == 0 else f
    hammer(setter)
    assert last[0] <= int(c.get_value()) <= last[0] + (THREADS - 1) * CALLS


# ---- kernels compiled ahead by a helper process (precompile.py) --------------------------
def fresh_source(kernels: int) -> str:
    """A program pocl has never built (a nonce in a comment), `kernels` kernels."""
    return f"/* {os.urandom(8).hex()} */\n" + "\n".join(
        f"__kernel __attribute__((reqd_work_group_size(4, 1, 1))) "
        f"void k{i}(__global float* a, const long n) {{ a[get_global_id(0)] = n + {i}; }}"
        for i in range(kernels))


def pocl_runtime():
    from runtime.opencl.device import choose_device
    from runtime.opencl.runtime import runtime_for
    rt = runtime_for(choose_device("cpu")[0])      # needs_pocl: it is pocl's
    if rt.store is None:
        pytest.skip("the kernel store is off (POCL_CACHE_DIR set by the user)")
    return rt


def run_kernel(rt, program, name: str) -> np.ndarray:
    cl = rt.cl
    buf = rt.alloc(16, "a test")
    getattr(program, name)(rt.queue, (4,), (4,), buf, np.int64(10))
    out = np.empty(4, np.float32)
    cl.enqueue_copy(rt.queue, out, buf, is_blocking=True)
    return out


@needs_pocl
def test_the_helper_compiles_the_kernels_a_first_call_has_not_reached():
    from runtime.opencl import precompile
    rt = pocl_runtime()
    source = fresh_source(4)
    program = rt.program(source, "test")
    folder = rt.store.staging / rt.store.built[rt.built_as[id(program)][2]]
    assert run_kernel(rt, program, "k0").tolist() == [10.0] * 4     # reached: compiled here
    launches = [(f"k{i}", (4,), [("buf", 16), ("long", 10)]) for i in range(4)]
    job = precompile.job(rt.device.platform.name, rt.device.name, source, rt.built_as[id(program)][1],
                         folder, launches)
    assert [name for name, _, _ in job["launches"]] == ["k3", "k2", "k1"]   # last first, k0 done
    helper = precompile.Helper()
    helper.submit(job)
    helper.finish(timeout=120)
    assert helper.process.returncode == 0
    made = {k: next((folder / k).glob("*/*.so")) for k in ("k1", "k2", "k3")}
    inodes = {k: p.stat().st_ino for k, p in made.items()}
    for i in (1, 2, 3):         # pocl loads the helper's kernel rather than compiling its own
        assert run_kernel(rt, program, f"k{i}").tolist() == [10.0 + i] * 4
        assert made[f"k{i}"].stat().st_ino == inodes[f"k{i}"]


class RecordingHelper:
    def __init__(self):
        self.started, self.jobs = 0, []

    def start(self):
        self.started += 1

    def submit(self, job):
        self.jobs.append(job)


@needs_pocl
def test_a_new_programs_first_call_hands_its_kernels_to_the_helper(monkeypatch):
    rt = pocl_runtime()
    helper = RecordingHelper()
    monkeypatch.setattr(rt, "helper", helper)
    x = dsl.matrix("x")
    # a nonce constant: a program no earlier run has built
    scale = float(int.from_bytes(os.urandom(2), "little") + 2)
    f = dsl.function([x], (dsl.softmax(dsl.tanh(x) * scale) @ dsl.exp(x).T).sum(axis=0),
                     backend="opencl", device="cpu")
    np.asarray(f(np.ones((6, 5), np.float32)))      # run: pocl has compiled them all
    assert helper.started == 1 and len(helper.jobs) == 1
    plan = f.executor._compiled(f.function).plan
    kernels = [step.kernel for step in plan.steps if step.kind == "kernel"]
    launches = helper.jobs[0]["launches"]
    assert [name for name, _, _ in launches] == [k.name for k in kernels][::-1]
    for (name, local, args), kernel in zip(launches, kernels[::-1]):
        assert tuple(local) == kernel.grid.local and len(args) == len(kernel.args)
    x_bytes = [a[1] for (_, _, args), k in zip(launches, kernels[::-1])
               for a, spec in zip(args, k.args) if spec[0] == "buf" and spec[1] == plan.params[0][1]]
    assert x_bytes and set(x_bytes) == {6 * 5 * 4}
    f(np.ones((7, 5), np.float32))      # new sizes, the same kernels: compiled already
    assert len(helper.jobs) == 1


def test_the_helper_is_off_on_one_core_or_when_asked(monkeypatch):
    from runtime.opencl import precompile
    monkeypatch.setattr(precompile.os, "cpu_count", lambda: 2)
    assert precompile.enabled()
    monkeypatch.setenv("SYM_PRECOMPILE", "0")
    assert not precompile.enabled()
    monkeypatch.delenv("SYM_PRECOMPILE")
    monkeypatch.setattr(precompile.os, "cpu_count", lambda: 1)
    assert not precompile.enabled()


def test_the_helpers_job_leaves_out_compiled_kernels_and_large_buffers(tmp_path):
    from runtime.opencl import precompile
    launches = [("k0", (4,), [("buf", 16)]), ("big", (4,), [("buf", precompile.MAX_BYTES), ("buf", 8)]),
                ("k1", (4,), [("buf", 16), ("long", 3)]), ("k2", (4,), [("int", 0)])]

    def names():
        return [name for name, _, _ in precompile.job("p", "d", "", [], tmp_path, launches)["launches"]]
    assert names() == ["k2", "k1", "k0"]
    (tmp_path / "k1" / "4-1-1-goffs0-smallgrid").mkdir(parents=True)
    assert names() == ["k2", "k1", "k0"]        # a folder without the kernel: not compiled
    (tmp_path / "k1" / "4-1-1-goffs0-smallgrid" / "k1.so").write_bytes(b"")
    assert names() == ["k2", "k0"]


def test_no_helper_where_no_process_can_start(monkeypatch):
    """An embedding whose sys.executable is not a Python (or a full process
    table): the first call compiles alone, nothing is raised."""
    from runtime.opencl import precompile
    monkeypatch.setattr(precompile.sys, "executable", "/nonexistent/python")
    helper = precompile.Helper()
    helper.start()
    helper.submit({"launches": []})
    helper.finish(timeout=1)
    helper.close()
    assert helper.process is None and helper.jobs == 0
