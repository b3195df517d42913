"""Running compiled defs on an OpenCL device: the NumpyExecutor interface.

Shared values live on the device between calls. A function is rendered and
built once (render.py, runtime.py); each distinct binding of its size
variables gets an `Instance`: its buffers and kernel objects with their
arguments bound once, so a call only re-binds what changed (an argument's
buffer) and enqueues. Results come back as `LazyArray`s, read when the host
looks. An index error is raised by the call that caused it, never by a
later one: indices that are arguments (labels) or aranges are checked on
the host before the launch, as numpy checks them; a call whose kernels
check indices computed on the device waits for them and reads the error
flag. Every method that touches the queue or the shared buffers holds the
executor's lock, so a call is atomic with respect to the shared values.

Outputs are computed from the old state and every update is applied after
them (Theano's rule): update kernels run last, in place when nothing later
reads the old value, otherwise into a temporary copied over at the end.
"""
from __future__ import annotations

import math
import threading
import weakref
from collections import deque

import numpy as np

from dsl import errors
from dsl.ir import Function, Node, toposort
from dsl.types import NUMPY_DTYPE, TensorType, dim_eval
from semantics.impl import check_sizes

from .device import choose_device, import_cl
from .lazy import LazyArray
from .render import Plan, RenderOptions, render_function
from .runtime import is_oom, oom, runtime_for
from .stages import Row, has_loops, plan_stages, run_staged, stage_functions

MARK_EVERY = 32        # calls between queue markers
MAX_AHEAD = 4          # markers the host may run ahead before it waits
ERR_BYTES = 32         # the index-error flag: 8 int32s


def nbytes_of(shape, dtype: str) -> int:
    return int(np.prod(shape, dtype=np.int64)) * np.dtype(NUMPY_DTYPE[dtype]).itemsize


NARROW_LIMIT = 2**31 - 1   # elements: larger arrays need 64-bit index division


class Compiled:
    """A function's plan, its program, and its instances by size binding.
    `wide` is the same source built with 64-bit index arithmetic, made
    only for a binding with an array of more than NARROW_LIMIT elements."""

    def __init__(self, fn: Function, plan: Plan, program, site_base: int):
        self.fn, self.plan, self.program, self.site_base = fn, plan, program, site_base
        self.wide = None
        self.instances: dict[tuple, Instance] = {}
        self.host_checks = host_checks(fn, plan)
        # per param: its buffer key and numpy dtype (looked up once, not per call)
        self.param_specs = [(key, np.dtype(NUMPY_DTYPE[plan.buffers[key].dtype]))
                            for _, key in plan.params]

    def program_for(self, rt, sizes: dict):
        largest = max((int(np.prod([dim_eval(d, sizes) for d in spec.shape], dtype=np.int64))
                       for spec in self.plan.buffers.values()), default=0)
        if largest <= NARROW_LIMIT:
            return self.program
        if self.wide is None:
            self.wide = rt.program(self.plan.source, self.fn.name, wide_index=True)
        return self.wide


def host_checks(fn: Function, plan: Plan) -> list | None:
    """The plan's index checks as the host can do them before a launch,
    in numpy's order: [(node, axis, argument position or None for an
    arange, the arange's length, the axis size, negatives allowed)]; None
    when some checked index is computed on the device."""
    position = {p.attr("name"): i for i, p in enumerate(fn.params)}
    rank: dict[Node, int] = {}
    for i, n in enumerate(toposort(fn.roots)):
        rank.setdefault(n, i)
    checks = []
    for node, axis in dict.fromkeys(plan.sites):
        if node.op == "one_hot":
            index, size, negative = node.inputs[0], node.attr("depth"), False
        elif node.op in ("gather", "scatter_add") and 0 <= axis < len(node.inputs) - 1:
            shape = node.inputs[0].type.shape if node.op == "gather" else node.type.shape
            index, size, negative = node.inputs[1 + axis], shape[axis], True
        else:
            return None
        if index.op == "param":
            checks.append((node, axis, position[index.attr("name")], None, size, negative))
        elif index.op == "arange" and index.type.rank == 1:
            checks.append((node, axis, None, index.type.shape[0], size, negative))
        else:
            return None
    checks.sort(key=lambda c: (rank.get(c[0], len(rank)), c[1]))
    return checks


def placeable_outputs(plan: Plan) -> dict:
    """The output keys a caller may have written elsewhere (a loop's step
    writing a stacked value straight into its row): temps that only
    kernels write and read, no copy step; each with the indices of the
    outputs it is."""
    copied = {k for step in plan.steps if step.kind == "copy" for k in (step.src, step.dst)}
    written = {k for step in plan.steps if step.kind == "kernel" for k in step.kernel.writes}
    out: dict = {}
    for i, k in enumerate(plan.outputs):
        if plan.buffers[k].kind == "temp" and k in written and k not in copied:
            out.setdefault(k, []).append(i)
    return out


class Instance:
    """Buffers and bound kernels for one binding of the size variables."""

    def __init__(self, ex: "OpenCLExecutor", c: Compiled, sizes: dict):
        cl = ex.cl
        self.sizes = sizes
        plan = c.plan
        self.temps = {}
        for key, spec in plan.buffers.items():
            if spec.kind == "temp":
                shape = tuple(dim_eval(d, sizes) for d in spec.shape)
                self.temps[key] = ex.rt.alloc(nbytes_of(shape, spec.dtype), spec.label)
        self.param_bufs: dict[str, object] = {}
        self.launches = []        # (kernel, global, local, param slots, bound)
        self.steps = []
        ahead = []                # for the helper that compiles ahead (precompile.py)
        program = c.program_for(ex.rt, sizes)
        self.placeable = placeable_outputs(plan)
        for step in plan.steps:
            if step.kind == "copy":
                self.steps.append(("copy", step.src, step.dst))
                continue
            spec = step.kernel
            if spec.grid.is_empty(sizes):
                # no element to compute; launched, its work-items would still
                # compute element 0, reading its inputs where they may have none
                continue
            kernel = cl.Kernel(program, spec.name)
            slots = []
            for i, arg in enumerate(spec.args):
                if arg[0] in ("buf", "off") and plan.buffers[arg[1]].kind == "param" \
                        or arg[0] == "buf" and arg[1] in self.placeable:
                    slots.append((i, arg))     # bound per call: it may change
                else:
                    kernel.set_arg(i, self.static_arg(ex, c, arg))
            launch = [kernel, spec.grid.global_size(sizes), spec.grid.local, slots,
                      [None] * len(spec.args)]
            self.steps.append(("kernel", launch))
            if ex.rt.helper is not None:
                ahead.append((spec.name, spec.grid.local, [self.arg_for_helper(c, a) for a in spec.args]))
        self.output_types = [(tuple(dim_eval(d, sizes) for d in t.shape), NUMPY_DTYPE[t.dtype])
                             for t in plan.output_types]
        self.live: list = []      # weakrefs to LazyArrays reading our output buffers
        self.own_outputs = {k: (self.temps[k], None, 0) for k in self.placeable}
        if ahead:
            ex.rt.compile_ahead(program, ahead)

    def arg_for_helper(self, c: Compiled, arg) -> tuple:
        """A kernel argument as the helper process makes it: a zeroed buffer
        of the same size, or the same scalar."""
        kind = arg[0]
        if kind == "buf":
            spec = c.plan.buffers[arg[1]]
            return ("buf", nbytes_of(tuple(dim_eval(d, self.sizes) for d in spec.shape), spec.dtype))
        if kind == "size":
            return ("long", int(self.sizes[arg[1]]))
        if kind == "site":
            return ("int", c.site_base)
        return ("buf", 8 if kind == "off" else ERR_BYTES)   # an offset; the index-error flag

    def static_arg(self, ex, c: Compiled, arg):
        kind = arg[0]
        if kind == "buf":
            spec = c.plan.buffers[arg[1]]
            return ex.shared_bufs[spec.name] if spec.kind == "shared" else self.temps[arg[1]]
        if kind == "off":
            return ex.rt.offset_buffer(0)
        if kind == "size":
            return np.int64(self.sizes[arg[1]])
        if kind == "err":
            return ex.err
        if kind == "site":
            return np.int32(c.site_base)
        raise AssertionError(f"unknown kernel argument {arg}")


class OpenCLExecutor:
    name = "opencl"

    def __init__(self, shared_types: dict[str, TensorType], device: str | None = None,
                 options: RenderOptions | None = None, fast_math: bool = False):
        self.cl = import_cl()
        dev, self.description = choose_device(device)
        self.rt = runtime_for(dev)
        self.queue = self.rt.queue
        self.options = options or RenderOptions(target=self.rt.target, fp64=self.rt.fp64,
                                                f64_accumulate=self.rt.fp64, fast_math=fast_math)
        self.shared_types = dict(shared_types)
        self.shared_bufs = {}
        for name, t in self.shared_types.items():
            nbytes = nbytes_of(t.concrete_shape({}), t.dtype)
            self.shared_bufs[name] = self.rt.zeros(nbytes, f"shared `{name}` ({t})")
        self.err = self.rt.zeros(ERR_BYTES, "the index-error flag")
        self.lock = threading.RLock()
        self.sites: list[tuple[Node, int]] = []
        self.compiled: dict[int, tuple[Function, Compiled]] = {}
        self.by_value: dict[Function, Compiled] = {}
        self.staged: dict[int, tuple] = {}      # id(fn) -> (fn, its StagedPlan or None)
        self.stack_buffers: dict = {}           # a loop's stack -> (buffer, its last stack): stages.py
        self.step_numbers: dict = {}            # a loop's length -> its step numbers: stages.py
        self.stack_rows: dict = {}              # id(stack buffer) -> its rows' sub-buffers: stages.py
        self.pending: deque = deque()     # events of uploads whose host copy must live
        self.markers: deque = deque()
        self.calls = 0

    @property
    def stats(self) -> dict:
        return self.rt.stats

    def __reduce_ex__(self, protocol):
        # pickle reaches here from a compiled function or program holding us
        raise errors.opencl_not_picklable()

    # ---- shared state ---------------------------------------------------------------
    def get_shared(self, name: str) -> np.ndarray:
        t = self.shared_types[name]
        host = np.empty(t.concrete_shape({}), NUMPY_DTYPE[t.dtype])
        with self.lock:
            return self._read_into(host, self.shared_bufs[name])

    def set_shared(self, name: str, value) -> None:
        t = self.shared_types[name]
        host = np.array(value, dtype=NUMPY_DTYPE[t.dtype], order="C", copy=True)
        if host.shape != t.concrete_shape({}):
            host = np.broadcast_to(host, t.concrete_shape({})).copy()
        if host.nbytes:
            with self.lock:
                self._upload(self.shared_bufs[name], host)

    # ---- calls ----------------------------------------------------------------------
    def call(self, fn: Function, args: list, sizes: dict, on_value=None) -> list:
        with self.lock:
            if on_value is not None:
                return self._call_traced(fn, args, sizes, on_value)
            return self._call(fn, args, sizes)

    def _call(self, fn: Function, args: list, sizes: dict, into: dict | None = None) -> list:
        """fn's outputs for args. into: output index -> a buffer of its size
        that output is written to instead of the call's own (see placed)."""
        staged = self._staged(fn)
        if staged is not None:       # a def with loops runs as stages (stages.py)
            return run_staged(self, fn, staged, args, sizes)
        c = self._compiled(fn)
        checked = c.host_checks is not None and self._check_on_host(c.host_checks, args, sizes)
        key = tuple(sorted(sizes.items()))
        inst = c.instances.get(key)
        if inst is None:
            check_sizes(toposort(fn.roots), sizes)      # as numpy: before anything runs
            inst = c.instances[key] = Instance(self, c, dict(sizes))
        self._release_outputs(inst)
        params = self._bind_params(c, inst, args)
        placed = self._placed(inst, into or {})
        params.update(placed)
        try:
            self._enqueue(inst, params)
        except self.cl.Error as exc:
            if is_oom(exc):
                total = sum(b.size for b in inst.temps.values())
                raise oom(f"the buffers of `{fn.name}`", total, self.rt, str(exc))
            raise
        if c.plan.sites and not checked:
            self._check_indices()
        outputs = []
        for key_out, (shape, dtype) in zip(c.plan.outputs, inst.output_types):
            buf = placed[key_out][0] if key_out in placed else inst.temps[key_out]
            lazy = LazyArray(self, buf, shape, dtype)
            if buf is inst.temps.get(key_out):
                inst.live.append(weakref.ref(lazy))
            outputs.append(lazy)
        self._throttle()
        return outputs

    def evaluate(self, roots: list[Node], params: dict, sizes: dict) -> list:
        """A free-standing graph (host expressions, `.eval()`), as arrays."""
        leaves = {}
        for n in toposort(roots):
            if n.op == "param":
                leaves.setdefault(n.attr("name"), n)
        fn = Function("eval", tuple(leaves.values()), tuple(roots))
        args = [params[name] for name in leaves]
        return [np.asarray(v) for v in self.call(fn, args, sizes)]

    def _call_traced(self, fn, args, sizes, on_value):
        """Tracing (on_value) is the reference backend's: run this call on
        numpy from the device's state, then store the new state back."""
        from runtime.numpy import Env, evaluate
        shared = {name: self.get_shared(name) for name in self.shared_types}
        params = {p.attr("name"): a for p, a in zip(fn.params, args)}
        values = evaluate(list(fn.roots), Env(sizes, params, shared), on_value)
        for (name, _), value in zip(fn.updates, values[len(fn.outputs):]):
            self.set_shared(name, value)
        return values[:len(fn.outputs)]

    def kernels_for(self, fn: Function) -> list:
        """[(kernel name, OpenCL C source, IR nodes it computes)]: what
        `sym explain --kernels` prints (rendered only, nothing is built)."""
        from .render import kernel_listing
        staged = self._staged(fn)
        if staged is not None:
            return [k for sub in stage_functions(staged) for k in self.kernels_for(sub)]
        return kernel_listing(fn, self.options)

    def _staged(self, fn: Function):
        """fn's stages when it holds loops, else None (decided once per def)."""
        hit = self.staged.get(id(fn))
        if hit is None or hit[0] is not fn:
            hit = self.staged[id(fn)] = (fn, plan_stages(fn) if has_loops(fn) else None)
        return hit[1]

    def backend_passes_for(self, fn: Function) -> list:
        """[(pass name, description, what it did)]: the backend's own passes
        as `sym explain --kernels` prints them above the kernels."""
        from .render import pass_listing
        staged = self._staged(fn)
        if staged is not None:
            return [p for sub in stage_functions(staged) for p in self.backend_passes_for(sub)]
        return pass_listing(fn, self.options)

    # ---- compiling ---------------------------------------------------------------------
    def _compiled(self, fn: Function) -> Compiled:
        hit = self.compiled.get(id(fn))
        if hit is not None and hit[0] is fn:
            return hit[1]
        c = self.by_value.get(fn)
        if c is None:
            plan = render_function(fn, self.options)
            for spec in plan.buffers.values():
                if spec.kind == "shared" and spec.name not in self.shared_bufs:
                    raise errors.shared_value_mismatch("executor", fn.span, name=fn.name,
                                                       shared=spec.name)
            program = self.rt.program(plan.source, fn.name)
            c = Compiled(fn, plan, program, len(self.sites))
            self.sites.extend(plan.sites)
            self.by_value[fn] = c
        self.compiled[id(fn)] = (fn, c)
        return c

    # ---- one call's work -------------------------------------------------------------
    def _bind_params(self, c: Compiled, inst: Instance, args) -> dict:
        """key -> (buffer, offset buffer, byte offset) per argument: a view of a
        cached read-only dataset is not copied; anything else is uploaded."""
        out = {}
        for (key, dtype), arg in zip(c.param_specs, args):
            if isinstance(arg, Row):         # a loop's element: its row, in place
                base = arg.base
                if isinstance(base, LazyArray) and base._executor is self and not base.is_read \
                        and base._buffer is not None and base.dtype == dtype:
                    offset = arg.index * math.prod(base.shape[1:])
                    out[key] = (base._buffer, self.rt.offset_buffer(offset), offset * dtype.itemsize)
                    continue
                arg = np.asarray(base)[arg.index]
            if isinstance(arg, LazyArray):
                if arg._executor is self and not arg.is_read and arg.dtype == dtype \
                        and arg._buffer is not None:
                    out[key] = (arg._buffer, self.rt.offset_buffer(0), 0)   # stays on the device
                    continue
                arg = arg.numpy()
            arr = arg if isinstance(arg, np.ndarray) and arg.dtype == dtype else np.asarray(arg, dtype)
            hit = self.rt.datasets.lookup(arr) if arr.base is not None or not arr.flags.writeable \
                else None
            if hit is not None:
                buf, offset = hit
                out[key] = (buf, self.rt.offset_buffer(offset), offset * dtype.itemsize)
                continue
            buf = inst.param_bufs.get(key)
            if buf is None:
                buf = inst.param_bufs[key] = self.rt.alloc(arr.nbytes, c.plan.buffers[key].label)
            if arr.nbytes:
                # a private copy: the caller may change arr before the upload runs
                self._upload(buf, np.array(arr, order="C", copy=True))
            out[key] = (buf, self.rt.offset_buffer(0), 0)
        return out

    @staticmethod
    def _placed(inst: Instance, into: dict) -> dict:
        """key -> (buffer, None, 0) for every placeable output of this call:
        the buffer `into` names for it, where every output with that key is
        in `into` (a key that is also a carry's stays the call's own: the
        next step reads it), else the call's own."""
        if not into:
            return inst.own_outputs
        out = dict(inst.own_outputs)
        for key, indices in inst.placeable.items():
            if all(i in into for i in indices):
                out[key] = (into[indices[0]], None, 0)
        return out

    def _enqueue(self, inst: Instance, params: dict) -> None:
        cl = self.cl
        q = self.queue
        for kind, *step in inst.steps:
            if kind == "copy":
                self._copy(inst, params, *step)
                continue
            kernel, gsize, lsize, slots, bound = step[0]
            for i, (what, key) in slots:
                obj = params[key][0 if what == "buf" else 1]
                if bound[i] is not obj:
                    kernel.set_arg(i, obj)
                    bound[i] = obj
            cl.enqueue_nd_range_kernel(q, kernel, gsize, lsize)

    def _copy(self, inst: Instance, params: dict, src: str, dst: str) -> None:
        src_buf, offset = self._locate(inst, params, src)
        dst_buf, _ = self._locate(inst, params, dst)
        nbytes = min(dst_buf.size, src_buf.size - offset)
        self.cl.enqueue_copy(self.queue, dst_buf, src_buf, byte_count=nbytes,
                             src_offset=offset)

    def _locate(self, inst, params, key):
        """(buffer, byte offset) of a plan key in this call."""
        if key.startswith("s:"):
            return self.shared_bufs[key[2:]], 0
        if key.startswith("p:"):
            buf, _, byte_offset = params[key]
            return buf, byte_offset
        return inst.temps[key], 0

    def _release_outputs(self, inst: Instance) -> None:
        """Before a call overwrites its output buffers, give every earlier
        result nobody has read yet a copy of its own (on the device)."""
        for ref in inst.live:
            lazy = ref()
            if lazy is not None and not lazy.is_read and lazy._buffer is not None:
                old = lazy._buffer
                new = self.rt.alloc(old.size, "a kept result")
                self.cl.enqueue_copy(self.queue, new, old, byte_count=old.size)
                lazy._move(new)
        inst.live.clear()

    def _upload(self, buf, host: np.ndarray) -> None:
        # non-blocking; the event keeps `host` alive until the copy has run
        self.pending.append(self.cl.enqueue_copy(self.queue, buf, host, is_blocking=False))

    def _throttle(self) -> None:
        """Never wait per call; but keep the host at most a few hundred calls
        ahead of the device, and drop upload events that have completed."""
        done = self.cl.command_execution_status.COMPLETE
        while self.pending and self.pending[0].command_execution_status == done:
            self.pending.popleft()
        self.calls += 1
        if self.calls % MARK_EVERY == 0:
            self.markers.append(self.cl.enqueue_marker(self.queue))
            if len(self.markers) > MAX_AHEAD:
                self.markers.popleft().wait()

    # ---- reading back --------------------------------------------------------------------
    def _read_lazy(self, lazy: LazyArray) -> np.ndarray:
        """A result's value (under the lock: a call may be moving its buffer)."""
        with self.lock:
            if lazy._host is None:
                lazy._host = self._read_into(np.empty(lazy.shape, lazy.dtype), lazy._buffer)
                lazy._buffer = None
            return lazy._host

    def _read_into(self, host: np.ndarray, buf) -> np.ndarray:
        if host.nbytes:
            self.cl.enqueue_copy(self.queue, host, buf, is_blocking=True)
        else:
            self.queue.finish()
        self.pending.clear()
        return host

    @staticmethod
    def _check_on_host(checks: list, args: list, sizes: dict) -> bool:
        """Raise the first index error numpy would raise; False when an
        index is a result still on the device (the kernels check it)."""
        from semantics.impl import IndexOutOfRange, _check_range
        def host_value(a):
            return a.host if isinstance(a, Row) else a
        if any(isinstance(args[arg], Row) and args[arg].host is None
               or isinstance(args[arg], LazyArray) and not args[arg].is_read
               for _, _, arg, _, _, _ in checks if arg is not None):
            return False        # a loop's element used as an index is a row on the device too
        for node, axis, arg, length, size, negative in checks:
            size = dim_eval(size, sizes)
            if arg is not None:
                _check_range(node, axis, np.asarray(host_value(args[arg])), size, negative)
            elif dim_eval(length, sizes) > size:
                raise IndexOutOfRange(node, axis, size, size)
        return True

    def _check_indices(self) -> None:
        """Wait for this call's kernels and raise the index error they
        flagged, if any, as numpy would have (the flag is then cleared)."""
        from runtime.numpy import IndexOutOfRange
        from semantics.impl import NegativePower
        flag = np.empty(8, np.int32)
        self.cl.enqueue_copy(self.queue, flag, self.err, is_blocking=True)
        self.pending.clear()
        if flag[0]:
            self.cl.enqueue_copy(self.queue, self.err, np.zeros(8, np.int32), is_blocking=True)
            node, axis = self.sites[int(flag[1])]
            if node.op == "pow":        # emit_pow's check of an integer exponent
                raise NegativePower(node)
            value, size = (int(v) for v in flag.view(np.int64)[2:4])
            raise IndexOutOfRange(node, axis, value, size)

