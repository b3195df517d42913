"""One device's context, queue, program cache, buffer allocation and
dataset cache, shared by every executor on that device.

Programs are cached in memory by source text, and on disk by sym's
verified kernel cache around pocl's (kcache.py) or pyopencl's binary cache
for other drivers (both keyed by the source, the device and the driver),
so a second process skips the OpenCL build.
"""
from __future__ import annotations

import atexit
import threading
import time
import warnings
from collections import OrderedDict

import numpy as np

from dsl.diagnostics import Note
from dsl import errors

from . import kcache, precompile
from .device import cache_root, description, has_fp64, import_cl, is_gpu, is_pocl

# -cl-mad-enable: fma for `a * b + c`; -w: no clang notes on stderr;
# -cl-fp32-correctly-rounded-divide-sqrt: f32 `/` and sqrt exact, as numpy
# computes them (OpenCL allows 2.5 ulp, and NVIDIA's driver takes it)
BUILD_OPTIONS = ["-cl-mad-enable", "-cl-fp32-correctly-rounded-divide-sqrt", "-w"]
WARM_UP = "__kernel void sym_warm_up(__global int* a) { a[get_global_id(0)] = 0; }"
_RUNTIMES: dict = {}


def runtime_for(device) -> "Runtime":
    key = (device.platform.name, device.name, device.int_ptr)
    rt = _RUNTIMES.get(key)
    if rt is None:
        if not _RUNTIMES:   # registered after pyopencl's exit handler, so it runs before it
            atexit.register(_finish_queues)
        rt = _RUNTIMES[key] = Runtime(device)
    return rt


def _finish_queues() -> None:
    """Wait for queued kernels before pyopencl releases its objects at exit:
    a script whose last call returned a lazy value would otherwise abort
    (pocl, linking a queued kernel whose program is being released, prints
    "Final linking of kernel ... failed" and calls abort)."""
    for rt in list(_RUNTIMES.values()):
        try:
            rt.queue.finish()
        except Exception:
            pass    # a broken queue has nothing left to wait for


class Runtime:
    def __init__(self, device):
        cl = self.cl = import_cl()
        self.device = device
        self.description = description(device)
        self.context = cl.Context([device])
        self.queue = cl.CommandQueue(self.context)
        self.fp64 = has_fp64(device)
        self.target = "gpu" if is_gpu(device) else "cpu"
        self.programs: dict[tuple, object] = {}   # (source, wide_index) -> program
        self.built_as: dict[int, tuple] = {}      # id(program) -> (source, options, store key)
        self.stats = {"builds": 0, "build_seconds": 0.0, "program_cache_hits": 0}
        self.max_alloc = int(device.max_mem_alloc_size)
        self.datasets = DatasetCache(self, budget=int(device.global_mem_size) // 4)
        # sym's verified store wraps pocl's cache; other drivers keep pyopencl's
        self.store = kcache.store_for(cache_root()) if is_pocl(device) else None
        self.device_id = "|".join([device.platform.name, device.platform.version,
                                   device.name, device.driver_version])
        self._build_lock = threading.Lock()
        self._offsets: dict[int, object] = {}
        self.helper = precompile.Helper() if self.store is not None and self.target == "cpu" \
            and precompile.enabled() else None
        if self.helper is not None:
            atexit.register(self.helper.close)  # after the store's registration: runs before it
        # The first build in a process also starts the driver's compiler
        # (~0.3 s with pocl). Do that in the background now (the build
        # releases the GIL), while the host typically loads its data.
        self._warm_up = threading.Thread(target=self._build_warm_up, name="sym-opencl-warm-up")
        self._warm_up.start()

    def _build_warm_up(self) -> None:
        try:
            self._build(WARM_UP, BUILD_OPTIONS)
        except Exception:
            pass    # a real build will report any problem

    def _build(self, source: str, options: list) -> tuple:
        """(program, its key in the kernel store or None without one): built,
        from the kernel cache when it holds this program."""
        with self._build_lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")     # pyopencl's CompilerWarning for any build log
            if self.store is None:
                return self.cl.Program(self.context, source).build(
                    options=options, cache_dir=str(cache_root() / "pyopencl")), None
            key = kcache.cache_key(source, options, self.device_id)
            if not self.store.restore(key) and self.helper is not None and source != WARM_UP:
                self.helper.start()     # a new program: its kernels come with its first call
            before = self.store.folders()
            prg = self.cl.Program(self.context, source).build(options=options, cache_dir=False)
            self.store.remember(key, before)
            return prg, key

    # ---- programs -------------------------------------------------------------------
    def program(self, source: str, fn_name: str, wide_index: bool = False):
        """The built program (cached by source); wide_index: 64-bit index
        arithmetic (the source's SYM_WIDE_INDEX), for arrays of 2**31
        elements or more."""
        options = BUILD_OPTIONS + (["-D", "SYM_WIDE_INDEX"] if wide_index else [])
        prg = self.programs.get((source, wide_index))
        if prg is not None:
            self.stats["program_cache_hits"] += 1
            return prg
        cl = self.cl
        self._warm_up.join()
        start = time.perf_counter()
        try:
            prg, key = self._build(source, options)
        except cl.Error as exc:
            raise errors.opencl_build_failed(fn_name, self.description, [_build_note(exc, source)])
        self.stats["builds"] += 1
        self.stats["build_seconds"] += time.perf_counter() - start
        self.programs[(source, wide_index)] = prg
        if key is not None:
            self.built_as[id(prg)] = (source, options, key)
        return prg

    def compile_ahead(self, program, launches: list) -> None:
        """Hand the kernels of `program` that pocl has not compiled yet to
        the helper process (precompile.py); launches: (kernel name, local
        size, args) in the order the first call launches them."""
        if self.helper is None or id(program) not in self.built_as:
            return
        source, options, key = self.built_as[id(program)]
        name = self.store.built.get(key)
        if name is None:
            return
        job = precompile.job(self.device.platform.name, self.device.name, source, options,
                             self.store.staging / name, launches)
        if len(job["launches"]) >= precompile.MIN_KERNELS:
            self.helper.submit(job)

    # ---- buffers --------------------------------------------------------------------
    def alloc(self, nbytes: int, label: str, hostbuf=None):
        """A device buffer; E0803 naming what it was for when the device
        cannot hold it."""
        cl = self.cl
        nbytes = max(int(nbytes), 8)    # zero-size buffers are invalid in OpenCL
        if nbytes > self.max_alloc:
            raise oom(label, nbytes, self, f"larger than this device's largest buffer "
                      f"({self.max_alloc} bytes)")
        flags = cl.mem_flags.READ_WRITE
        try:
            if hostbuf is not None and hostbuf.nbytes:
                return cl.Buffer(self.context, flags | cl.mem_flags.COPY_HOST_PTR, hostbuf=hostbuf)
            return cl.Buffer(self.context, flags, nbytes)
        except (cl.MemoryError, cl.RuntimeError) as exc:
            if is_oom(exc):
                raise oom(label, nbytes, self, str(exc))
            raise

    def zeros(self, nbytes: int, label: str):
        buf = self.alloc(nbytes, label)
        self.cl.enqueue_fill_buffer(self.queue, buf, np.uint8(0), 0, buf.size)
        return buf

    def offset_buffer(self, offset: int):
        """A tiny buffer holding an element offset (kernels read params at
        base + off[0]): binding a buffer is ~50x cheaper than a scalar arg."""
        buf = self._offsets.get(offset)
        if buf is None:
            if len(self._offsets) > 100_000:
                self._offsets.clear()
            buf = self._offsets[offset] = self.alloc(8, "an offset", np.array([offset], np.int64))
        return buf


def is_oom(exc) -> bool:
    text = str(exc).upper()
    return "MEM_OBJECT_ALLOCATION_FAILURE" in text or "OUT_OF_RESOURCES" in text \
        or "OUT_OF_HOST_MEMORY" in text or type(exc).__name__ == "MemoryError"


def oom(label: str, nbytes: int, rt: Runtime, why: str):
    return errors.out_of_device_memory(label, nbytes, nbytes / 2**20, rt.description, [Note(why)])


def _build_note(exc, source: str):
    numbered = "\n".join(f"{i + 1:5d}  {line}" for i, line in enumerate(source.splitlines()))
    return Note(f"build log:\n{exc}\n\ngenerated source:\n{numbered}")


class DatasetCache:
    """Read-only host arrays (e.g. an MNIST split) uploaded once; a view of
    one (a minibatch) is then passed as the cached buffer plus an offset.
    Keyed by the root array's identity, address, shape and dtype; holds a
    reference so the key stays valid; least recently used go first."""

    def __init__(self, rt: Runtime, budget: int):
        self.rt = rt
        self.budget = budget
        self.entries: OrderedDict = OrderedDict()   # key -> (root, buffer)
        self.bytes = 0

    def lookup(self, arr: np.ndarray):
        """(buffer, element offset) or None when arr is not such a view."""
        root = arr
        while isinstance(root.base, np.ndarray):
            root = root.base
        if root.flags.writeable or not root.flags.c_contiguous or root.dtype != arr.dtype \
                or not arr.flags.c_contiguous or root.nbytes > self.budget:
            return None
        start = arr.__array_interface__["data"][0] - root.__array_interface__["data"][0]
        if start < 0 or start % arr.itemsize or start + arr.nbytes > root.nbytes:
            return None
        key = (id(root), root.__array_interface__["data"][0], root.shape, root.dtype.str)
        entry = self.entries.get(key)
        if entry is None:
            entry = self._upload(key, root)
        else:
            self.entries.move_to_end(key)
        return entry[1], start // arr.itemsize

    def _upload(self, key, root):
        while self.entries and self.bytes + root.nbytes > self.budget:
            _, (old, _buf) = self.entries.popitem(last=False)
            self.bytes -= old.nbytes
        buf = self.rt.alloc(root.nbytes, f"a dataset array {root.dtype}{list(root.shape)}",
                            hostbuf=np.ascontiguousarray(root))
        self.entries[key] = (root, buf)
        self.bytes += root.nbytes
        return self.entries[key]
