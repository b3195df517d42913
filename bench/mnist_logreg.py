"""MNIST logistic regression: one SGD epoch on every backend, same process,
same data, interleaved repeats, medians and ratios to hand-written numpy.

    SYM_DATA=../shared/data .venv/bin/python bench/mnist_logreg.py [--repeats 5] [--full]

What is timed: one epoch of programs/mnist_logreg.sym's training, that is the
83 full minibatches of 600 rows of data.train, SGD with learning rate 0.13,
from zero weights; after the 83 steps W is read back to the host, so the time
includes finishing any queued device work. Before the timed repeats each
backend runs one untimed warm-up epoch (its time, which includes compiling
on first use, is the "first epoch" column). The repeats interleave the
backends, starting each repeat with a different one.

Correctness: after each epoch, untimed, the validation error on the 16 full
validation minibatches (as the tutorial computes it); after one epoch from
zero weights it is 12.458333 % on the numpy backend. The last column is the
largest |W - W_handwritten| after the epoch.

--full also times each sym backend's whole tutorial run (m.run(), default
options: early stopping, 74 epochs) and parses its final figures. The OpenCL
first-call (cold vs warm kernel cache) times come from subprocesses, unless
bench/compile_time.py exists, which then owns them.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path



def _early_value(argv, flag):
    """The value of `flag N` or `flag=N` in argv, or None."""
    for i, arg in enumerate(argv):
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
    return None


def _early_threads(argv):
    """--threads N and --openblas-timeout N must act before numpy (OpenBLAS)
    is imported: they set variables that the BLAS, OpenMP and pocl read at
    start-up."""
    value = _early_value(argv, "--threads")
    if value and value.isdigit() and int(value) > 0:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                    "POCL_MAX_PTHREAD_COUNT", "POCL_CPU_MAX_CU_COUNT"):
            os.environ[var] = value
    # OpenBLAS's idle workers spin for 2**N cycles (default N = 28, about
    # 0.1 s) after each call before they sleep; in one process with pocl
    # they take the cores pocl's workers need (see README.md, "Noise").
    value = _early_value(argv, "--openblas-timeout")
    if value and value.isdigit():
        os.environ["OPENBLAS_THREAD_TIMEOUT"] = value


if __name__ == "__main__":
    _early_threads(sys.argv[1:])

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (GPU_HELP, REPO, Unavailable, ensure_repo_on_path, fmt_ms, fmt_ratio,  # noqa: E402
                    machine_lines, median, opencl_devices, rotated, short_reason,
                    table, timed, torch_device)

ensure_repo_on_path()

import numpy as np  # noqa: E402
from hand_opencl import HandOpenCL  # noqa: E402

PROGRAM = REPO / "programs" / "mnist_logreg.sym"
BATCH = 600
LR = 0.13
N_TRAIN_BATCHES = 83
N_VALID_BATCHES = 16
EXPECTED_VAL_1_EPOCH = 12.458333    # % after one epoch from zero weights
EXPECTED_FULL = (7.5, 7.489583, 74)  # best valid %, test %, epochs
TORCH_VERSION = "2.13.0"
TORCH_COMPILE_TIMEOUT_S = 180


# ---------------------------------------------------------------- runners ---

class Runner:
    """One backend. setup() may raise Unavailable; epoch() is what is timed."""
    key = ""
    name = ""
    note = ""

    def setup(self, data, train_batches, valid_batches):
        self.train_batches = train_batches
        self.valid_batches = valid_batches

    def reset(self):
        raise NotImplementedError

    def epoch(self):
        """Run the 83 steps; return W as a numpy array (forces device sync)."""
        raise NotImplementedError

    def val_error(self) -> float:
        """Validation error in %, mean over the 16 full minibatches."""
        raise NotImplementedError


class NumpyHand(Runner):
    key = "numpy"
    name = "numpy hand-written"

    def reset(self):
        self.W = np.zeros((784, 10), np.float32)
        self.b = np.zeros(10, np.float32)

    def epoch(self):
        W, b = self.W, self.b
        lr = np.float32(LR)
        for x, y in self.train_batches:
            n = x.shape[0]
            z = x @ W + b
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(n), y] -= np.float32(1.0)     # p - onehot(y)
            p /= np.float32(n)
            gW = x.T @ p
            gb = p.sum(axis=0)
            W -= lr * gW
            b -= lr * gb
        return W

    def val_error(self):
        errs = [np.mean(np.argmax(x @ self.W + self.b, axis=1) != y)
                for x, y in self.valid_batches]
        return float(np.mean(errs)) * 100.0


class SymBackend(Runner):
    def __init__(self, backend: str):
        self.backend = backend
        self.key = f"sym-{backend}"
        self.name = f"sym {backend}"

    def setup(self, data, train_batches, valid_batches):
        super().setup(data, train_batches, valid_batches)
        reason = backend_unavailable_reason(self.backend)
        if reason:
            raise Unavailable(reason)
        import dsl
        self.m = dsl.load(PROGRAM, backend=self.backend, options={"epochs": 1},
                          out=io.StringIO(), progress=False)
        if self.backend == "opencl":
            self.note = getattr(self.m, "device", "")

    def reset(self):
        self.m.W = np.zeros((784, 10), np.float32)
        self.m.b = np.zeros(10, np.float32)

    def epoch(self):
        train = self.m.train
        for x, y in self.train_batches:
            train(x, y)              # the cost may be lazy: not forced here
        return self.m.W              # a host copy: waits for the device

    def val_error(self):
        errs = [float(np.asarray(self.m.errors(x, y))) for x, y in self.valid_batches]
        return float(np.mean(errs)) * 100.0


class OpenCLHand(HandOpenCL, Runner):
    """hand_opencl.py: one pass over each minibatch, two kernels per step."""

    def setup(self, data, train_batches, valid_batches):
        reason = opencl_unavailable_reason()
        if reason:
            raise Unavailable(reason)
        super().setup(data, train_batches, valid_batches, LR)


class TorchEager(Runner):
    key = "torch"
    name = "torch eager (autograd)"
    device = "cpu"

    def setup(self, data, train_batches, valid_batches):
        super().setup(data, train_batches, valid_batches)
        self.torch = import_torch()
        t = self.torch
        # int64 targets for cross_entropy; converted once, outside the timing
        self.tb = [(t.from_numpy(x), t.from_numpy(y.astype(np.int64)))
                   for x, y in train_batches]
        self.vb = [(t.from_numpy(x).to(self.device), t.from_numpy(y.astype(np.int64)).to(self.device))
                   for x, y in valid_batches]
        self.note = self.device

    def reset(self):
        t = self.torch
        self.W = t.zeros(784, 10, dtype=t.float32, requires_grad=True, device=self.device)
        self.b = t.zeros(10, dtype=t.float32, requires_grad=True, device=self.device)

    def epoch(self):
        t, dev = self.torch, self.device
        F = t.nn.functional
        W, b = self.W, self.b
        for x, y in self.tb:        # uploaded each step, as sym's train(x, y) uploads
            x, y = x.to(dev), y.to(dev)
            loss = F.cross_entropy(x @ W + b, y)
            loss.backward()
            with t.no_grad():
                W -= LR * W.grad
                b -= LR * b.grad
            W.grad = None
            b.grad = None
        return W.detach().cpu().numpy()     # waits for the device

    def val_error(self):
        t = self.torch
        with t.no_grad():
            errs = [float((t.argmax(x @ self.W + self.b, dim=1) != y).float().mean())
                    for x, y in self.vb]
        return float(np.mean(errs)) * 100.0


def _analytic_step(W, b, x, y):
    """One SGD step with the analytic gradient X.T @ (p - onehot) / n."""
    import torch
    n = x.shape[0]
    p = torch.softmax(x @ W + b, dim=1)
    g = (p - torch.nn.functional.one_hot(y, 10).to(p.dtype)) / n
    return W - LR * (x.t() @ g), b - LR * g.sum(dim=0)


class TorchCompiled(TorchEager):
    key = "torch-compile"
    name = "torch.compile (analytic step)"

    def setup(self, data, train_batches, valid_batches):
        super().setup(data, train_batches, valid_batches)
        t = self.torch
        self.step = t.compile(_analytic_step, dynamic=False)
        self.reset()
        x, y = self.tb[0]
        # Compile now, with a time limit, so a slow or broken inductor is skipped.
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(TORCH_COMPILE_TIMEOUT_S)
        try:
            t0 = time.perf_counter()
            self.step(self.W, self.b, x.to(self.device), y.to(self.device))
            self.note = f"compile {time.perf_counter() - t0:.1f} s"
        except _Timeout:
            raise Unavailable(f"torch.compile took over {TORCH_COMPILE_TIMEOUT_S} s")
        except Exception as exc:
            raise Unavailable(f"torch.compile failed: {short_reason(exc)}")
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)

    def reset(self):
        t = self.torch
        self.W = t.zeros(784, 10, dtype=t.float32, device=self.device)
        self.b = t.zeros(10, dtype=t.float32, device=self.device)

    def epoch(self):
        W, b, step, dev = self.W, self.b, self.step, self.device
        for x, y in self.tb:
            W, b = step(W, b, x.to(dev), y.to(dev))
        self.W, self.b = W, b
        return W.cpu().numpy()


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


TORCH_THREADS = 2


def import_torch():
    try:
        import torch
    except ImportError:
        raise Unavailable(f"torch not installed (.venv/bin/pip install torch=={TORCH_VERSION})")
    torch.set_num_threads(TORCH_THREADS)
    # MNIST's arrays are read-only; the tensors made from them are never written
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
    return torch


def backend_unavailable_reason(backend: str):
    """Why a sym backend cannot run here, or None (numpy always can)."""
    return opencl_unavailable_reason() if backend == "opencl" else None


def opencl_unavailable_reason() -> str | None:
    try:
        from runtime.opencl.device import opencl_available
    except ImportError as exc:
        return f"runtime.opencl.device cannot be imported ({exc})"
    try:
        if not opencl_available():
            return "no OpenCL device (opencl_available() is false)"
    except Exception as exc:
        return f"opencl_available() raised {short_reason(exc, 60)}"
    try:
        import runtime.opencl.executor  # noqa: F401
    except ImportError as exc:
        return f"runtime.opencl.executor cannot be imported ({exc})"
    return None


# ------------------------------------------------------------- the epochs ---

def measure_epochs(runners, data, repeats):
    """Warm up each runner, then time `repeats` interleaved epochs.
    Returns {key: result dict} in runner order."""
    from runtime.data import batches
    train = list(batches(data.train, BATCH, drop_last=True, progress=False))
    valid = list(batches(data.valid, BATCH, drop_last=True, progress=False))
    assert len(train) == N_TRAIN_BATCHES and len(valid) == N_VALID_BATCHES

    results = {r.key: {"name": r.name, "times": [], "vals": [], "error": None,
                       "first": None, "dW": None} for r in runners}
    live = []
    for r in runners:
        res = results[r.key]
        try:
            print(f"  setting up {r.name} ...", file=sys.stderr, flush=True)
            r.setup(data, train, valid)
            r.reset()
            res["first"], _ = timed(r.epoch)     # warm-up epoch: compiles, caches
            live.append(r)
        except Exception as exc:
            res["error"] = short_reason(exc, 150)

    for k in range(repeats):
        print(f"  repeat {k + 1}/{repeats}", file=sys.stderr, flush=True)
        for r in rotated(list(live), k):
            res = results[r.key]
            try:
                r.reset()
                seconds, W = timed(r.epoch)
                res["times"].append(seconds)
                res["vals"].append(r.val_error())
                res["W"] = np.array(W, copy=True)
            except Exception as exc:
                res["error"] = f"failed in repeat {k + 1}: {short_reason(exc, 150)}"
                live.remove(r)
    for res in results.values():
        res["note"] = next((r.note for r in runners if r.name == res["name"]), "")
    return add_weight_differences(results)


def add_weight_differences(results):
    """Each result's dW: its largest |W - W of hand-written numpy|."""
    ref = results.get("numpy", {}).get("W")
    for res in results.values():
        res["dW"] = (float(np.max(np.abs(res["W"] - ref)))
                     if ref is not None and res.get("W") is not None else None)
    return results


def epoch_table(results) -> str:
    base = median(results["numpy"]["times"]) if results.get("numpy", {}).get("times") else None
    headers = ["backend", "epoch median ms", "min ms", "ratio vs numpy hand-written",
               "val error after 1 epoch", "max |W - W_numpy|", "first epoch ms",
               "notes"]
    rows = []
    for res in results.values():
        if not res["times"]:
            rows.append([res["name"], f"unavailable: {res['error']}"])
            continue
        med = median(res["times"])
        vals = res["vals"]
        val = f"{vals[-1]:.6f} %"
        if max(vals) - min(vals) > 1e-9:
            val += f" (varies: {min(vals):.6f}..{max(vals):.6f})"
        dW = "-" if res["dW"] is None else f"{res['dW']:.1e}"
        note = res["note"] or ""
        if res["error"]:
            note = (note + "; " if note else "") + res["error"]
        rows.append([res["name"], fmt_ms(med), fmt_ms(min(res["times"])),
                     fmt_ratio(med / base) if base else "-", val, dW,
                     fmt_ms(res["first"]), note])
    return table(headers, rows, right={1, 2, 3, 5, 6})


# ------------------------------------------------------------- --isolate ---

ISOLATE_ROUNDS = 3


def run_worker(key, data, repeats) -> int:
    """One backend alone in this process; its results on stdout as a
    RESULT line (W in a .npy file named by SYM_BENCH_W)."""
    results = measure_epochs(make_runners([key]), data, repeats)
    res = results[key]
    W = res.pop("W", None)
    if W is not None:
        np.save(os.environ["SYM_BENCH_W"], W)
    print("RESULT " + json.dumps(res))
    return 0


def measure_isolated(keys, args, argv):
    """measure_epochs' results, each backend timed in subprocesses of its own."""
    per_round = max(1, -(-args.repeats // ISOLATE_ROUNDS))
    results = {}
    passthrough = []
    for i, a in enumerate(argv):       # the thread settings go to every worker
        if a in ("--threads", "--openblas-timeout"):
            passthrough += argv[i:i + 2]
        elif a.startswith(("--threads=", "--openblas-timeout=")):
            passthrough.append(a)
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(ISOLATE_ROUNDS):
            for key in rotated(list(keys), k):
                print(f"  round {k + 1}/{ISOLATE_ROUNDS}: {key}", file=sys.stderr, flush=True)
                w_path = os.path.join(tmp, f"{key}.npy")
                proc = subprocess.run(
                    [sys.executable, __file__, "--worker", key, "--repeats", str(per_round),
                     *passthrough], capture_output=True, text=True,
                    env=dict(os.environ, SYM_BENCH_W=w_path))
                try:
                    got = child_result(proc)
                except RuntimeError as exc:
                    got = {"name": key, "times": [], "vals": [], "first": None, "note": "",
                           "error": short_reason(exc, 150)}
                res = results.get(key)
                if res is None:
                    results[key] = got
                else:
                    res["times"] += got["times"]
                    res["vals"] += got["vals"]
                    res["error"] = res["error"] or got["error"]
                if os.path.exists(w_path):
                    results[key]["W"] = np.load(w_path)
    return add_weight_differences(results)


# ------------------------------------------------------------ --full runs ---

FINAL_RE = re.compile(r"best validation score of\s+([0-9.]+)\s*%.*?test performance\s+"
                      r"([0-9.]+)\s*%", re.S)
EPOCHS_RE = re.compile(r"ran for\s+(\d+)\s+epochs")


def full_runs(backends) -> str:
    import dsl
    headers = ["backend", "run s", "s per epoch", "best valid %", "test %", "epochs",
               "matches tutorial"]
    rows = []
    for backend in backends:
        name = f"sym {backend}"
        reason = backend_unavailable_reason(backend)
        if reason:
            rows.append([name, f"unavailable: {reason}"])
            continue
        print(f"  full run: {name} ...", file=sys.stderr, flush=True)
        try:
            out = io.StringIO()
            m = dsl.load(PROGRAM, backend=backend, out=out, progress=False)
            seconds, _ = timed(m.run)
        except Exception as exc:
            rows.append([name, f"unavailable: {short_reason(exc, 150)}"])
            continue
        text = out.getvalue()
        final, ep = FINAL_RE.search(text), EPOCHS_RE.search(text)
        if not final or not ep:
            rows.append([name, f"{seconds:.1f} s, but the final figures were not found"
                         f" in its output: {text[-200:]!r}"])
            continue
        best, test, epochs = float(final.group(1)), float(final.group(2)), int(ep.group(1))
        ok = (abs(best - EXPECTED_FULL[0]) < 1e-4 and abs(test - EXPECTED_FULL[1]) < 1e-4
              and epochs == EXPECTED_FULL[2])
        rows.append([name, f"{seconds:.1f}", f"{seconds / epochs:.3f}", final.group(1),
                     final.group(2), str(epochs), "yes" if ok else "NO"])
    return table(headers, rows, right={1, 2, 3, 4, 5})


# ------------------------------------------------- first call, cold / warm ---

CHILD = r"""
import io, json, sys, time
sys.path.insert(0, {repo!r})
import numpy as np
import dsl
rng = np.random.default_rng(0)
x = rng.random((600, 784), dtype=np.float32)
y = rng.integers(0, 10, 600).astype(np.int32)
t0 = time.perf_counter()
m = dsl.load({program!r}, backend={backend!r}, options={{"epochs": 1}},
             out=io.StringIO(), progress=False)
t1 = time.perf_counter()
m.train(x, y); W = m.W
t2 = time.perf_counter()
m.train(x, y); W = m.W
t3 = time.perf_counter()
print("RESULT " + json.dumps({{"load": t1 - t0, "first": t2 - t1, "second": t3 - t2}}))
"""


def first_call(backend, cache_root) -> dict:
    env = dict(os.environ)
    env["XDG_CACHE_HOME"] = str(Path(cache_root) / "xdg")
    env["POCL_CACHE_DIR"] = str(Path(cache_root) / "pocl")
    code = CHILD.format(repo=str(REPO), program=str(PROGRAM), backend=backend)
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    return child_result(proc)


def child_result(proc) -> dict:
    """The dict a child process printed as its `RESULT {json}` line."""
    for text_line in proc.stdout.splitlines():
        if text_line.startswith("RESULT "):
            return json.loads(text_line[7:])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    raise RuntimeError(f"child exited {proc.returncode}: {tail}")


def cold_warm(backends, warm_runs=2) -> str:
    headers = ["backend", "cache", "load ms", "first train ms", "second train ms"]
    rows = []
    for backend in backends:
        name = f"sym {backend}"
        reason = backend_unavailable_reason(backend)
        if reason:
            rows.append([name, f"unavailable: {reason}"])
            continue
        print(f"  first call: {name} ...", file=sys.stderr, flush=True)
        try:
            with tempfile.TemporaryDirectory(prefix="sym-bench-cache-") as cache:
                runs = [first_call(backend, cache)]           # empty cache dirs
                runs += [first_call(backend, cache) for _ in range(warm_runs)]
        except Exception as exc:
            rows.append([name, f"unavailable: {short_reason(exc, 150)}"])
            continue
        cold, warm = runs[0], runs[1:]
        rows.append([name, "cold (empty)", fmt_ms(cold["load"]), fmt_ms(cold["first"]),
                     fmt_ms(cold["second"])])
        rows.append([name, f"warm (median of {len(warm)})",
                     fmt_ms(median([w["load"] for w in warm])),
                     fmt_ms(median([w["first"] for w in warm])),
                     fmt_ms(median([w["second"] for w in warm]))])
    return table(headers, rows, right={2, 3, 4})


# ------------------------------------------------------------------- main ---

def load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except (AttributeError, OSError):
        return "?"


ALL_KEYS = ["numpy", "sym-numpy", "sym-opencl", "opencl-hand", "torch", "torch-compile"]


def make_runners(keys):
    make = {"numpy": NumpyHand, "sym-numpy": lambda: SymBackend("numpy"),
            "sym-opencl": lambda: SymBackend("opencl"), "opencl-hand": OpenCLHand,
            "torch": TorchEager,
            "torch-compile": TorchCompiled}
    return [make[k]() for k in keys]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="timed epochs per backend (5)")
    ap.add_argument("--full", action="store_true",
                    help="also time the whole tutorial run on each sym backend")
    ap.add_argument("--backends", default=",".join(ALL_KEYS),
                    help=f"comma-separated subset of {','.join(ALL_KEYS)} "
                         "(numpy is always included: it is the baseline)")
    ap.add_argument("--no-torch-compile", action="store_true",
                    help="skip torch.compile (its first compile takes a while)")
    ap.add_argument("--no-first-call", action="store_true",
                    help="skip the cold/warm first-call subprocesses")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for every library: sets OPENBLAS/OMP/MKL_NUM_THREADS "
                         "and pocl's before numpy loads, and torch's (default: the "
                         "libraries' own; torch 2)")
    ap.add_argument("--openblas-timeout", type=int, default=None, metavar="N",
                    help="set OPENBLAS_THREAD_TIMEOUT=N before numpy loads: OpenBLAS's idle "
                         "threads spin 2**N cycles, not 2**28, before sleeping (4 to 30; "
                         "default: OpenBLAS's own)")
    ap.add_argument("--isolate", action="store_true",
                    help="run each backend in processes of its own (3 rounds, interleaved), "
                         "so no library's threads compete with another's")
    ap.add_argument("--gpu", action="store_true", help=GPU_HELP)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    TorchEager.device = torch_device(args.gpu)
    global TORCH_THREADS
    if args.threads:
        TORCH_THREADS = args.threads

    keys = [k.strip() for k in args.backends.split(",") if k.strip()]
    unknown = [k for k in keys if k not in ALL_KEYS]
    if unknown:
        ap.error(f"unknown backend(s) {', '.join(unknown)}; choose from {', '.join(ALL_KEYS)}")
    if args.no_torch_compile and "torch-compile" in keys:
        keys.remove("torch-compile")
    keys = ["numpy"] + [k for k in ALL_KEYS if k in keys and k != "numpy"]
    sym_backends = [k[4:] for k in keys if k.startswith("sym-")]

    from runtime.data import mnist
    if args.worker:
        return run_worker(args.worker, mnist(), args.repeats)
    runners = make_runners(keys)
    load_before = load_average()
    if args.isolate:
        results = measure_isolated(keys, args, argv if argv is not None else sys.argv[1:])
    else:
        results = measure_epochs(runners, mnist(), args.repeats)
    load_after = load_average()

    ocl = next((r for r in runners if r.key == "sym-opencl"), None)
    ocl_note = (ocl.note if ocl is not None else "") or \
        results.get("sym-opencl", {}).get("note", "")
    ocl_device = ocl_note or f"sym backend not used; pyopencl sees: {opencl_devices()}"
    print("MNIST logistic regression (programs/mnist_logreg.sym): one SGD epoch")
    print(f"= {N_TRAIN_BATCHES} minibatches x {BATCH} rows, lr {LR}, from zero weights; "
          f"{args.repeats} interleaved repeats after one warm-up epoch each")
    if args.isolate:
        print(f"each backend in processes of its own: {ISOLATE_ROUNDS} rounds, one process "
              "per backend per round, backends rotated; 'first epoch' is the first round's")
    print()
    extra = {"OpenCL device": ocl_device,
             "load average": f"{load_before} before, {load_after} after the epochs "
                             f"(1-minute, {os.cpu_count()} cores)"}
    for text_line in machine_lines(extra):
        print(text_line)
    print()
    print(epoch_table(results))
    print()
    print(f"ratio = median / median of numpy hand-written (above 1 = slower). "
          f"Expected val error after 1 epoch: {EXPECTED_VAL_1_EPOCH:.6f} %.")
    print("first epoch = the untimed warm-up epoch (includes compiling on first use).")
    busy = [v for v in (load_before, load_after) if v != "?"]
    if busy and max(map(float, busy)) >= 0.75 * (os.cpu_count() or 1):
        print("WARNING: the machine was busy (load average near or above the core "
              "count): multi-threaded BLAS/OpenMP slow down badly when a core is "
              "taken; rerun with --threads 1, or on a quiet machine.")

    if args.full:
        print()
        print("Whole tutorial run (m.run(), default options, early stopping), once each; "
              f"expected best valid {EXPECTED_FULL[0]:.6f} %, test {EXPECTED_FULL[1]:.6f} %, "
              f"{EXPECTED_FULL[2]} epochs")
        print(full_runs(sym_backends))

    if not args.no_first_call:
        print()
        if (REPO / "bench" / "compile_time.py").exists():
            print("First-call (compile) time, cold vs warm cache: see bench/compile_time.py.")
        else:
            print("First call in a fresh process: cold = empty XDG_CACHE_HOME and "
                  "POCL_CACHE_DIR, warm = the same dirs again")
            print(cold_warm(sym_backends))
    return 0


if __name__ == "__main__":
    sys.exit(main())
