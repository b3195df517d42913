"""Shared helpers for the bench scripts: timing, interleaved repeats,
machine description and plain-text tables.

Nothing here is part of sym itself; the bench scripts import it as
`from common import ...` (they put bench/ on sys.path) or
`from bench.common import ...` when run from the repository root.
"""
from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def ensure_repo_on_path() -> None:
    """Let `python bench/x.py` import dsl and runtime without installing."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))


GPU_HELP = ("sym OpenCL on the GPU (as SYM_DEVICE=gpu) and PyTorch on CUDA, "
            "in place of both on the CPU")


def torch_device(gpu: bool) -> str:
    """The device PyTorch rows use: 'cuda' with --gpu, which also makes the
    GPU sym OpenCL's default device; else 'cpu'."""
    if gpu:
        os.environ["SYM_DEVICE"] = "gpu"
        return "cuda"
    return "cpu"


class Unavailable(Exception):
    """A backend that cannot run here; its row reads 'unavailable: <reason>'."""


def short_reason(exc: BaseException, limit: int = 90) -> str:
    """One line naming an exception, cut to `limit` characters."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if not isinstance(exc, Unavailable):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def timed(fn, *args):
    """(seconds, result) of fn(*args), with the garbage collector off during
    the call (as timeit does) and a collection just before it."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        result = fn(*args)
        seconds = time.perf_counter() - t0
    finally:
        if was_enabled:
            gc.enable()
    return seconds, result


def rotated(items: list, k: int) -> list:
    """items rotated left by k: repeat k starts with a different backend, so
    no backend always runs first (or always right after a heavy one)."""
    if not items:
        return []
    k %= len(items)
    return items[k:] + items[:k]


def median(values):
    return statistics.median(values) if values else float("nan")


def fmt_ms(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:
        return "-"
    ms = seconds * 1e3
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}"


def fmt_ratio(value: float | None) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:.2f}x"


def table(headers: list[str], rows: list[list[str]], right: set[int] | None = None) -> str:
    """A plain-text table with | separators. `right`: column indexes to
    right-align (numbers); a row of a single cell spans the table."""
    right = right or set()
    widths = [len(h) for h in headers]
    for row in rows:
        if len(row) == len(headers):
            for i, cell in enumerate(row):
                widths[i] = max(widths[i], len(cell))

    def line(cells):
        out = []
        for i, cell in enumerate(cells):
            out.append(cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]))
        return " | ".join(out).rstrip()

    rule = "-+-".join("-" * w for w in widths)
    lines = [line(headers), rule]
    for row in rows:
        if len(row) == len(headers):
            lines.append(line(row))
        else:       # a row that spans: backend name, then free text
            lines.append(f"{row[0].ljust(widths[0])} | {' '.join(row[1:])}")
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        for text_line in Path("/proc/cpuinfo").read_text().splitlines():
            if text_line.lower().startswith("model name"):
                return text_line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def usable_cores() -> str:
    total = os.cpu_count() or 0
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = total
    return f"{usable}" if usable == total else f"{usable} usable of {total}"


def numpy_blas() -> str:
    try:
        import numpy as np
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        name = blas.get("name", "?")
        version = blas.get("version", "")
        return f"{name} {version}".strip()
    except Exception:
        return "?"


def thread_env() -> str:
    keys = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
            "OPENBLAS_THREAD_TIMEOUT")
    set_ = [f"{k}={os.environ[k]}" for k in keys if k in os.environ]
    return ", ".join(set_) if set_ else "no thread variables set"


def machine_lines(extra: dict[str, str] | None = None) -> list[str]:
    """'key: value' lines describing the machine and library versions."""
    import numpy as np
    info = {
        "CPU": f"{cpu_model()}, {usable_cores()} cores ({platform.machine()})",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "numpy": f"{np.__version__} (BLAS: {numpy_blas()}; {thread_env()})",
    }
    try:
        import pyopencl
        info["pyopencl"] = pyopencl.VERSION_TEXT
    except Exception as exc:
        info["pyopencl"] = f"not importable ({short_reason(exc)})"
    try:
        import torch
        info["torch"] = f"{torch.__version__} ({torch.get_num_threads()} threads)"
    except Exception:
        info["torch"] = "not installed"
    info.update(extra or {})
    width = max(len(k) for k in info)
    return [f"{k.ljust(width)} : {v}" for k, v in info.items()]


def opencl_devices() -> str:
    """Every OpenCL device pyopencl sees, as 'platform / device'."""
    try:
        from runtime.opencl.device import import_cl
        cl = import_cl()    # sym's kernel cache is set up before pocl starts
        names = [f"{p.name} / {d.name.strip()}"
                 for p in cl.get_platforms() for d in p.get_devices()]
        return "; ".join(names) if names else "none"
    except Exception as exc:
        return f"none ({short_reason(exc)})"
