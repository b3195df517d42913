"""OpenCL platforms and devices: is there one, which to use, and a table.

    opencl_available() -> bool          never raises
    describe_devices() -> str           a table, or how to get a runtime
    choose_device(spec) -> (device, description)
        spec: None (a GPU if present, else the CPU), "cpu", "gpu", or "P:D"

The first `import_cl()` sets up sym's verified kernel cache (kcache.py,
under ~/.cache/sym/opencl or $XDG_CACHE_HOME/sym/opencl) and points pocl at
its staging folder, unless POCL_CACHE_DIR is set; it must happen before
pocl initialises, so sym asks for platforms only through import_cl().
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from dsl import errors

INSTALL_HINT = ("pip install pyopencl pocl-binary-distribution (CPU), or install your GPU "
                "vendor's OpenCL driver; `--backend numpy` works meanwhile")
NO_PLATFORM = ("no OpenCL platform found: pip install pocl-binary-distribution (CPU), or "
               "install your GPU vendor's OpenCL driver; `--backend numpy` works meanwhile")


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sym" / "opencl"


def import_cl():
    """pyopencl, or SymError E0804 saying how to install it."""
    try:
        if importlib.util.find_spec("pyopencl") is not None:
            from .kcache import store_for
            store_for(cache_root())     # first: pyopencl and pocl read cache settings once
        import pyopencl
    except ImportError as exc:
        raise errors.pyopencl_missing(exc, INSTALL_HINT)
    return pyopencl


def _devices():
    """[(platform index, device index, platform, device)]; [] when there
    is no runtime (pyopencl raises for an empty ICD list)."""
    try:
        cl = import_cl()
        platforms = cl.get_platforms()
    except Exception:
        return []
    out = []
    for p_i, p in enumerate(platforms):
        try:
            devices = p.get_devices()
        except Exception:
            continue
        for d_i, d in enumerate(devices):
            out.append((p_i, d_i, p, d))
    return out


def opencl_available() -> bool:
    try:
        return bool(_devices())
    except Exception:
        return False


def has_fp64(device) -> bool:
    try:
        return "cl_khr_fp64" in device.extensions or bool(device.double_fp_config)
    except Exception:
        return False


def is_gpu(device) -> bool:
    cl = import_cl()
    return bool(device.type & cl.device_type.GPU)


def is_pocl(device) -> bool:
    """pocl's device: sym's kernel store wraps its cache, and a helper
    process compiles its kernels ahead."""
    return "Portable Computing Language" in device.platform.name


def kind(device) -> str:
    cl = import_cl()
    t = device.type
    if t & cl.device_type.GPU:
        return "GPU"
    if t & cl.device_type.CPU:
        return "CPU"
    if t & cl.device_type.ACCELERATOR:
        return "accelerator"
    return "other"


def description(device) -> str:
    return f"OpenCL: {device.name.strip()} ({device.platform.name.strip()})"


def describe_devices() -> str:
    try:
        import_cl()
    except Exception as exc:
        return str(exc)
    rows = _devices()
    if not rows:
        return NO_PLATFORM
    table = [("P:D", "platform", "device", "type", "fp64", "global mem")]
    for p_i, d_i, p, d in rows:
        table.append((f"{p_i}:{d_i}", p.name.strip(), d.name.strip(), kind(d),
                      "yes" if has_fp64(d) else "no", f"{d.global_mem_size / 2**30:.1f} GiB"))
    widths = [max(len(r[c]) for r in table) for c in range(len(table[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def choose_device(spec: str | None = None):
    """(device, description) for `spec`; SymError E0801 when none fits."""
    import_cl()
    rows = _devices()
    if not rows:
        raise errors.no_opencl_device("no_platform", reason=NO_PLATFORM)
    spec = (spec or "").strip().lower() or None
    if spec is None:
        gpus = [r for r in rows if kind(r[3]) == "GPU"]
        chosen = (gpus or rows)[0]
    elif spec in ("cpu", "gpu"):
        matching = [r for r in rows if kind(r[3]).lower() == spec]
        if not matching:
            raise errors.no_opencl_device("none_of_type",
                                          "the devices here are:\n" + describe_devices(),
                                          type=spec.upper())
        chosen = matching[0]
    else:
        chosen = _by_index(spec, rows)
    device = chosen[3]
    return device, description(device)


def _by_index(spec: str, rows):
    parts = spec.split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise errors.no_opencl_device("bad_spec", spec=spec)
    p_i, d_i = int(parts[0]), int(parts[1])
    for row in rows:
        if row[0] == p_i and row[1] == d_i:
            return row
    raise errors.no_opencl_device("no_such", "the devices here are:\n" + describe_devices(),
                                  p_i=p_i, d_i=d_i)
