"""Running a def with loops on OpenCL: the def split at its loops.

A def whose graph holds `loop` nodes is run as stages, each an ordinary
function compiled to kernels: for every loop (in graph order) a stage that
computes its inputs, then its body as a *step function*, called once per
step; then a last stage that computes the outputs and the updates from the
loops' results. The step function is planned and built once (one
`Instance` per binding of the sizes) and re-launched every step: its
arguments are the step number, the carried values (the previous step's
results, which stay on the device: the executor only moves a result to a
buffer of its own, on the device, before the next launch overwrites it),
the whole arrays the loop steps through (uploaded once; the body reads its
row with a gather at the step number) and the invariants. Nothing waits
for the device per step. A loop nested in a body is a loop of the step
function, run the same way.

Each stacked value is a buffer on the device, one row per step: the
step's kernel writes its value straight into the row (a sub-buffer), or,
where that cannot be (the value is also a carry, or the device cannot
start a sub-buffer at the row), it is copied into the row as the step is
enqueued. A carry that a stack keeps the value of as each step starts (a
gradient's forward loop saves them) is written by each step straight into
the next step's row, which that step reads it from: only the first row
is copied. So the stack (the
values a backward loop reads, for one) never goes through the host and
nothing waits at the end of a loop. The buffer is kept for the loop's next
run unless the last stack over it is still unread. A run-time count is read
when the loop starts. A stage's output, or a step's result, that is one of
its params (a backward loop reads the forward loop's stacks; a forward loop
stacks the carries each step starts from) is that value passed on, not a
copy.
"""
from __future__ import annotations

import dataclasses
import weakref
from dataclasses import dataclass

import numpy as np

from dsl.ir import Function, Node, inline_body, node, rebuild, toposort
from dsl.types import NUMPY_DTYPE, TensorType, dim_eval
from semantics import NegativeCount

from .lazy import LazyArray

STEP = "#t"
PARITY = "#parity"     # two instances of a step function take turns (see run_loop)


@dataclass(frozen=True)
class Row:
    """Row `index` of `base` (a device result) as an argument: the executor
    binds the base buffer at that row's offset, copying nothing. `host`
    is the row's value where the host knows it (the step number), for the
    index checks done on the host."""
    base: object
    index: int
    host: object = None


@dataclass
class LoopStage:
    loop: Node
    inputs: Function        # computes the loop's inputs from what is known
    step: Function          # (t, carries..., sequences..., invariants...) -> (carries..., stacked...)
    # per input of the loop (per result of the step): the name of the param
    # it is, passed on as it is, or None for the next output of `inputs`
    # (`step`). An output that is a param would be a copy on the device: a
    # backward loop's inputs are mostly the forward loop's stacks (an LSTM:
    # 8 copies of 1.4 to 5.7 MB a call), a saved carry is the one it read
    passed_inputs: list
    passed_results: list


@dataclass
class StagedPlan:
    loops: list             # LoopStage, in graph order
    final: Function         # outputs and updates from the loops' results
    names: dict             # id(loop) -> the param names of its results
    passed_outputs: list    # per output of fn: as LoopStage.passed_inputs


def has_loops(fn: Function) -> bool:
    return any(n.op == "loop" for n in toposort(fn.roots))


def plan_stages(fn: Function) -> StagedPlan:
    """Split fn at its outer loops (done once per def)."""
    names: dict[int, list[str]] = {}
    stages = []
    for i, loop in enumerate(n for n in toposort(fn.roots) if n.op == "loop"):
        inputs, passed_inputs = without_params(cut(f"{fn.name}#in{i}", fn, list(loop.inputs), (), names))
        step, passed_results = without_params(step_function(f"{fn.name}#step{i}", loop))
        stages.append(LoopStage(loop, inputs, step, passed_inputs, passed_results))
        names[id(loop)] = [f"#loop{i}.{k}" for k in range(len(loop.type.elts))]
    updates = tuple(fn.updates)
    final, passed_outputs = without_params(cut(fn.name, fn, list(fn.outputs), updates, names))
    return StagedPlan(stages, final, names, passed_outputs)


def without_params(fn: Function) -> tuple[Function, list]:
    """fn without the outputs that are its params, and per output the
    param's name or None (see LoopStage)."""
    passed = [r.attr("name") if r.op == "param" else None for r in fn.outputs]
    return dataclasses.replace(fn, outputs=tuple(r for r in fn.outputs if r.op != "param")), passed


def with_passed(ex, fn: Function, passed: list, args: list, sizes: dict, into: dict | None = None) -> list:
    """fn's results and the params passed on, in the order of `passed`;
    into: result index -> the buffer a computed result is written to."""
    index = {j: i for i, j in enumerate(j for j, name in enumerate(passed) if name is None)}
    placed = {index[j]: buf for j, buf in (into or {}).items() if j in index}
    computed = iter(ex._call(fn, args, sizes, placed) if fn.outputs or fn.updates else ())
    by_name = dict(zip((p.attr("name") for p in fn.params), args))
    return [next(computed) if name is None else own(by_name[name]) for name in passed]


def own(value):
    """A value passed on: a result on the device or a row of one as it is,
    a host array copied (it is the caller's, who may change it)."""
    return value if isinstance(value, (LazyArray, Row)) else np.array(value, copy=True)


def cut(name: str, fn: Function, outputs: list, updates: tuple, names: dict) -> Function:
    """A function computing `outputs` (and `updates`) in which the results
    of the loops already run (in `names`) are params, as are fn's params."""
    roots = outputs + [v for _, v in updates]
    used: dict[str, Node] = {}

    def visit(old: Node, inputs: tuple) -> Node:
        if old.op == "item" and id(old.inputs[0]) in names:
            pname = names[id(old.inputs[0])][old.attr("index")]
            used.setdefault(pname, node("param", (), old.type, old.span, name=pname))
            return used[pname]
        return old if inputs == old.inputs else Node(old.op, inputs, old.type, old.attrs, old.span)

    new = rebuild(roots, visit)
    params = tuple(fn.params) + tuple(used.values())
    return Function(name, params, tuple(new[:len(outputs)]),
                    tuple((n, v) for (n, _), v in zip(updates, new[len(outputs):])),
                    signature=fn.signature, span=fn.span)


def step_function(name: str, loop: Node) -> Function:
    """The loop's body as a function of (t, carries, elements,
    invariants); each element is bound to its row of the sequence (Row)."""
    body, nc, ns = loop.attr("body"), loop.attr("carries"), loop.attr("sequences")
    t = node("param", (), TensorType("i64", ()), loop.span, name=STEP)
    ins = loop.inputs[loop.attr("counted"):]
    carries = [node("param", (), x.type, x.span, name=f"#c{k}") for k, x in enumerate(ins[:nc])]
    elements = [node("param", (), TensorType(x.type.dtype, x.type.shape[1:]), x.span, name=f"#e{k}")
                for k, x in enumerate(ins[nc:nc + ns])]
    invs = [node("param", (), x.type, x.span, name=f"#v{k}") for k, x in enumerate(ins[nc + ns:])]
    roots = inline_body(body, [t] + carries + elements + invs)
    return Function(name, (t, *carries, *elements, *invs), roots, span=None)


def stage_functions(plan: StagedPlan) -> list:
    return [f for stage in plan.loops for f in (stage.inputs, stage.step)] + [plan.final]


def run_staged(ex, fn: Function, plan: StagedPlan, args: list, sizes: dict) -> list:
    sizes = dict(sizes)
    known = dict(zip((p.attr("name") for p in fn.params), args))
    for stage in plan.loops:
        inputs = with_passed(ex, stage.inputs, stage.passed_inputs, args_for(stage.inputs, known), sizes)
        results = run_loop(ex, stage, inputs, sizes)
        known.update(zip(plan.names[id(stage.loop)], results))
    return with_passed(ex, plan.final, plan.passed_outputs, args_for(plan.final, known), sizes)


def args_for(fn: Function, known: dict) -> list:
    return [known[p.attr("name")] for p in fn.params]


def run_loop(ex, stage: LoopStage, inputs: list, sizes: dict) -> list:
    loop = stage.loop
    nc, ns = loop.attr("carries"), loop.attr("sequences")
    if loop.attr("counted"):
        steps = int(np.asarray(inputs[0]))
        if steps < 0:
            raise NegativeCount(loop, steps)
        sizes[loop.attr("length").single_var()] = steps
        inputs = inputs[1:]
    else:
        steps = dim_eval(loop.attr("length"), sizes)
    carries = list(inputs[:nc])
    types = [x.type for x in loop.inputs[loop.attr("counted"):][nc:nc + ns]]
    seqs = [on_device(ex, s, t.dtype) for s, t in zip(inputs[nc:nc + ns], types)]
    invs = list(inputs[nc + ns:])
    stacks = [device_stack(ex, (id(loop), j), t, sizes)
              for j, t in enumerate(loop.type.elts[nc:])]
    order = range(steps - 1, -1, -1) if loop.attr("reverse") else range(steps)
    # two instances take turns, so a step never writes the buffers of the
    # carries it reads: nothing is copied between steps
    turns = [dict(sizes, **{PARITY: 0}), dict(sizes, **{PARITY: 1})]
    numbers = step_numbers(ex, steps)
    feeds = carry_stacks(stage)
    for k, t in enumerate(order):
        step = Row(numbers, t, host=np.array(t, np.int64))
        args = [step] + carries + [Row(s, t) for s in seqs] + invs
        after = order[k + 1] if k + 1 < steps else None
        carries = run_step(ex, stage, args, turns[k % 2], stacks, t, feeds, after)
    return carries + stacks


def carry_stacks(stage: LoopStage) -> dict:
    """carry index -> the index of the stack whose row t holds the value
    that carry has when step t starts (a forward loop saving them for
    its backward loop)."""
    nc = stage.loop.attr("carries")
    names = {f"#c{k}": k for k in range(nc)}
    return {names[name]: j for j, name in enumerate(stage.passed_results[nc:]) if name in names}


def on_device(ex, value, dtype: str):
    """A sequence the host holds (a def's argument), uploaded once for the
    loop: each step binds its row of it. Uploaded row by row, a step of a
    tiny body cost 28 us of host time, about half in the upload; a view of
    a dataset already on the device is bound in place."""
    if isinstance(value, (LazyArray, Row)):
        return value
    host = np.ascontiguousarray(value, dtype=NUMPY_DTYPE[dtype])
    if ex.rt.datasets.lookup(host) is not None:
        return value
    return uploaded(ex, host, "a loop's sequence")


def uploaded(ex, host: np.ndarray, label: str) -> LazyArray:
    """A copy of host on the device, as a result (the upload queued)."""
    buf = ex.rt.alloc(max(host.nbytes, 8), label)
    if host.nbytes:
        ex._upload(buf, np.array(host, copy=True))    # the caller's array may change
    return LazyArray(ex, buf, host.shape, host.dtype)


def run_step(ex, stage: LoopStage, args: list, sizes: dict, stacks: list, t: int, feeds: dict,
             after: int | None) -> list:
    """One step: its stacked values written or copied into row t, its new
    carries returned; a carry whose values are stacked (feeds) is written
    straight into the row of step `after`, which that step reads it from
    and stacks without a copy. A function of its own, so that no
    reference to this step's results outlives it but the carries' (an
    earlier step's result still alive when its instance runs again is
    given a copy of its own)."""
    nc = stage.loop.attr("carries")
    rows = {nc + j: row for j, row in enumerate(row_buffer(ex, stack, t) for stack in stacks)
            if row is not None}
    if after is not None:
        for k, j in feeds.items():
            row = row_buffer(ex, stacks[j], after)
            if row is not None:
                rows[k] = row
    outs = with_passed(ex, stage.step, stage.passed_results, args, sizes, rows)
    for j, (stack, value) in enumerate(zip(stacks, outs[nc:])):
        if not (isinstance(value, LazyArray) and value._buffer is rows.get(nc + j)):
            copy_row(ex, stack, t, value)      # not written in place
    return outs[:nc]


def row_buffer(ex, stack: LazyArray, t: int):
    """Row t of stack as a buffer of its own (an OpenCL sub-buffer, made
    once per stack buffer and row), which a step's kernel writes in place
    of a buffer of the step's; None where the device cannot start a
    sub-buffer at that row (its rows are not aligned as it needs)."""
    rows = ex.stack_rows.get(id(stack._buffer))
    if rows is None or rows[0] is not stack._buffer or rows[3] != stack.shape[0]:
        # made once per buffer and number of rows (its rows' size follows)
        size = row_bytes(stack)
        aligned = size and not size % (ex.rt.device.mem_base_addr_align // 8)
        rows = ex.stack_rows[id(stack._buffer)] = (stack._buffer, {}, size if aligned else 0,
                                                   stack.shape[0])
    buf, made, size, _ = rows
    if not size:
        return None
    sub = made.get(t)
    if sub is None:
        sub = made[t] = buf.get_sub_region(t * size, size)
    return sub


def row_bytes(stack: LazyArray) -> int:
    return stack.size // max(stack.shape[0], 1) * stack.dtype.itemsize


def step_numbers(ex, steps: int) -> LazyArray:
    """0 .. steps-1 as i64 on the device, uploaded once per length: each
    step binds its number as a row of it (an upload of 8 bytes a step cost
    about as much host time as a launch)."""
    numbers = ex.step_numbers.get(steps)
    if numbers is None:
        numbers = ex.step_numbers[steps] = uploaded(ex, np.arange(max(steps, 1), dtype=np.int64),
                                                    "a loop's step numbers")
    return numbers


def device_stack(ex, key, t: TensorType, sizes: dict) -> LazyArray:
    """A stack of type t on the device (its rows are written by the step's
    kernels or by copy_row). The buffer of the loop's last run is reused
    unless the stack over it is still alive and unread; the rows kept for
    a buffer no longer reused go with it."""
    shape, dtype = t.concrete_shape(sizes), np.dtype(NUMPY_DTYPE[t.dtype])
    nbytes = max(int(np.prod(shape, dtype=np.int64)) * dtype.itemsize, 8)
    buf, last = ex.stack_buffers.get(key, (None, lambda: None))
    held = last()
    if buf is None or buf.size != nbytes or held is not None and held._buffer is buf:
        if buf is not None:
            ex.stack_rows.pop(id(buf), None)
        buf = ex.rt.alloc(nbytes, f"a loop's stacked values ({t})")
    stack = LazyArray(ex, buf, shape, dtype)
    ex.stack_buffers[key] = (buf, weakref.ref(stack))
    return stack


def copy_row(ex, stack: LazyArray, t: int, value) -> None:
    """Row t of stack = value (a step's result), on the device, queued."""
    size = row_bytes(stack)
    if not size:
        return
    row = None
    if isinstance(value, Row):          # an element passed on: its row of the sequence
        value, row = value.base, value.index
    if isinstance(value, LazyArray) and value._executor is ex and value._buffer is not None:
        ex.cl.enqueue_copy(ex.queue, stack._buffer, value._buffer, byte_count=size,
                           dst_offset=t * size, src_offset=(row or 0) * size)
    else:
        value = value if row is None else np.asarray(value)[row]
        host = np.array(np.asarray(value), dtype=stack.dtype, order="C", copy=True)
        ex.pending.append(ex.cl.enqueue_copy(ex.queue, stack._buffer, host,
                                             dst_offset=t * size, is_blocking=False))
