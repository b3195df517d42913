"""IR -> OpenCL C: one program per function, and the plan that runs it.

    plan = render_function(fn, RenderOptions(target="cpu", fp64=True))
    plan.source      the program text (all the function's kernels)
    plan.steps       kernel launches and buffer copies, in order
    plan.buffers     every buffer the steps use (params, shareds, temps)

Pure functions of the IR: no device is needed (tests render without one).
It goes in two phases. Plan: the backend passes (passes.py: cse,
share_rows, groups), buffers per kernel root (a long reduction's partials
too), each kernel's reads taken from the IR (read_set), and the schedule,
which decides from those reads which updates write their shared buffer
in place. Render: C text for each
kernel root, writing the buffer the plan chose; consecutive roots that
map kernels compute over one shape are one kernel with an output each
(map_groups). The executor runs the
steps. `LOWERING` says how every op is computed; see analysis.py for which
nodes get buffers and which are fused into the kernels that read them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from dsl import errors
from dsl.ir import Function, Node
from dsl.ops import (ARG_REDUCE, BINARY_ARITH, COMPARE, EXTERNAL, LOGIC, REDUCE, ROWS,
                     UNARY_FLOAT, UNARY_NUMERIC, Op)
from dsl.types import dim_add

from . import lowering as L
from .analysis import CONVS, CORES, ELEMENTWISE_OPS, Groups, reduced_extent
from .cgen import prelude
from .conv import (conv_kernel, emit_pool, emit_pool_grad, inline_pooling, pooled_map_kernel,
                   window_grad_kernel, windows_tile)
from .emit import Buf, Kernel, ProgramParts
from .kernels import (columns_kernel, lanes_fit, map_kernel, maps_kernel, piece_kernel, rows_kernel,
                      rows_lanes_kernel, sums_columns, tree_final_kernel, tree_kernel, tree_partial_kernel)
from .matmul import matmul_kernel
from .passes import run_passes

TREE_LOCAL = {"cpu": 16, "gpu": 256}
TREE_GROUPS = {"cpu": 8, "gpu": 64}      # work-groups per output of a long reduction
TREE_SPLIT_EXTENT = 32768


@dataclass(frozen=True)
class RenderOptions:
    target: str = "cpu"           # "cpu" or "gpu": which matmul and group sizes
    fp64: bool = True             # the device has cl_khr_fp64
    fast_math: bool = False       # f32 exp/log/log1p/tanh by f32 polynomials (up to 2 ulp off)
    f64_accumulate: bool = True   # f32 sums accumulate in double (when fp64)


def _table() -> dict[Op, Callable]:
    """op -> emit(kernel, node, index): the C expression of the node at an
    index (loops over reduced elements inline; matmul and the row ops get
    their own kernels, and param/shared are buffers)."""
    t: dict[Op, Callable] = {}
    for op in tuple(UNARY_FLOAT) + tuple(UNARY_NUMERIC) + (Op.NOT,):
        t[op] = L.unary(L.UNARY[op])
    for op in tuple(BINARY_ARITH) + tuple(COMPARE) + tuple(LOGIC):
        t[op] = L.emit_pow if op == Op.POW else L.binary(L.BINARY[op])
    for op in REDUCE + (Op.SUM_TO,):
        t[op] = L.emit_reduce
    for op in ARG_REDUCE:
        t[op] = L.emit_arg_reduce
    for op in ROWS + (Op.MATMUL,):
        t[op] = L.emit_own_kernel
    for op in EXTERNAL:
        t[op] = L.emit_buffer_leaf
    t.update({
        Op.CAST: L.unary(L.cast),
        Op.WHERE: L.emit_where,
        Op.LOGSUMEXP: L.emit_logsumexp,
        Op.ONE_HOT: L.emit_one_hot,
        Op.TRANSPOSE: L.emit_transpose,
        Op.RESHAPE: L.emit_reshape,
        Op.BROADCAST_TO: L.emit_broadcast_to,
        Op.CONCAT: L.emit_concat,
        Op.SLICE: L.emit_slice,
        Op.UNSLICE: L.emit_unslice,
        Op.GATHER: L.emit_gather,
        Op.SCATTER_ADD: L.emit_scatter_add,
        Op.FULL: L.emit_full,
        Op.ARANGE: L.emit_arange,
        Op.CONST: L.emit_const,
        Op.SIZE: L.emit_size,
        Op.APPLY_BODY: L.emit_apply_body,
    })
    t[Op.RANDOM] = L.emit_random
    t.update({      # convolutions get their own kernels (conv.py); pooling is inline
        Op.CONV2D: L.emit_own_kernel, Op.CONV2D_GRAD_X: L.emit_own_kernel,
        Op.CONV2D_GRAD_K: L.emit_own_kernel, Op.POOL2D: emit_pool, Op.POOL2D_GRAD: emit_pool_grad,
    })
    t.update({Op.LOOP: L.emit_staged, Op.ITEM: L.emit_staged,
              Op.STOP_GRADIENT: L.unary(lambda k, n, v: v), Op.CUMSUM: L.emit_cumsum})
    return t


LOWERING = _table()


# ---- the plan ----------------------------------------------------------------------
@dataclass
class BufferSpec:
    key: str
    kind: str          # "param", "shared" or "temp"
    dtype: str
    shape: tuple       # Dims
    label: str         # for messages: what the buffer holds
    name: str = ""     # the param's or shared's name


@dataclass(frozen=True)
class Partials:
    """A long reduction's partials: `groups` per output element, in a
    buffer of the accumulator's dtype."""
    key: str
    dtype: str
    groups: int


@dataclass(frozen=True)
class KernelSpec:
    name: str
    args: list         # ("buf", key) ("off", key) ("size", var) ("err",) ("site",)
    grid: object       # kernels.Grid
    writes: tuple      # the buffer keys it writes
    reads: list        # (key, read only at the output index?), from the IR (read_set)
    root: Node = field(repr=False, default=None)
    text: str = field(repr=False, default="")
    fused: list = field(repr=False, default_factory=list)   # the IR nodes it computes


@dataclass(frozen=True)
class Step:
    kind: str                          # "kernel" or "copy"
    kernel: KernelSpec | None = None
    src: str = ""
    dst: str = ""


@dataclass(frozen=True)
class Plan:
    name: str
    source: str
    buffers: dict
    steps: list
    outputs: list          # buffer key per output
    output_types: list
    params: list           # (name, key)
    sites: list            # (node, axis) per index-check site
    in_place: dict         # shared name -> written in place?
    passes: list = field(default_factory=list)   # (backend pass name, what it did)

    @property
    def kernels(self) -> list[KernelSpec]:
        return [s.kernel for s in self.steps if s.kind == "kernel"]


class Context:
    """What the kernel writers ask while rendering one function."""

    def __init__(self, groups: Groups, keys: dict, buffers: dict, options: RenderOptions,
                 fn_name: str = "", partials: dict | None = None):
        self.groups, self.keys, self.buffers, self.options = groups, keys, buffers, options
        self.fn_name = fn_name
        self.partials = partials or {}      # root id -> Partials (plan_partials)

    def has_buffer(self, n: Node) -> bool:
        return self.groups.has_buffer(n)

    def buffer_of(self, n: Node) -> Buf:
        spec = self.buffers[self.keys[id(n)]]
        return Buf(spec.key, spec.dtype, spec.kind == "param")

    def lowering(self, op: Op) -> Callable:
        return LOWERING[op]


def safe_name(name: str) -> str:
    return re.sub(r"\W", "_", name) or "fn"


def buffer_label(n: Node, fn_name: str) -> str:
    where = f" at {n.span}" if n.span is not None else ""
    return f"the result of `{n.op}`{where} in `{fn_name}` ({n.type})"


def check_fp64(fn: Function, order, options: RenderOptions) -> None:
    if options.fp64:
        return
    for n in order:
        if n.type.dtype == "f64":
            raise errors.no_fp64(fn.name, n.span)


def assign_buffers(fn_name: str, groups: Groups):
    keys: dict[int, str] = {}
    buffers: dict[str, BufferSpec] = {}
    for n in groups.order:
        if not groups.has_buffer(n):
            continue
        if n.op in EXTERNAL:
            name = n.attr("name")
            key = ("p:" if n.op == "param" else "s:") + name
            label = f"{'argument' if n.op == 'param' else 'shared'} `{name}`"
            buffers.setdefault(key, BufferSpec(key, n.op, n.type.dtype, n.type.shape, label, name))
        elif n.op == "reshape" and groups.has_buffer(n.inputs[0]):
            key = keys[id(n.inputs[0])]      # a view: same buffer, new shape
        else:
            key = f"t{len(buffers)}"
            buffers[key] = BufferSpec(key, "temp", n.type.dtype, n.type.shape, buffer_label(n, fn_name))
        keys[id(n)] = key
    return keys, buffers


def render_kernel(ctx: Context, parts: ProgramParts, root: Node, name: str, out_key: str,
                  reads: list, fused: list) -> list:
    """[(text, KernelSpec)]: one kernel, or two for a long reduction; it
    writes out_key (the plan's choice: its own buffer or a shared in place)."""
    core = ctx.groups.cores.get(id(root))
    partials = ctx.partials.get(id(root))
    if partials is not None:
        return render_tree_stages(ctx, parts, root, core, name, partials, out_key, reads, fused)
    if concat_in_pieces(ctx, root, out_key):
        return render_concat_pieces(ctx, parts, root, name, out_key, reads, fused)
    k = Kernel(name, ctx, parts)
    k.output(out_key, root.type.dtype)
    grid = kernel_writer(k, root)(k, root)
    return [finish_kernel(k, grid, root, reads, fused)]


def kernel_writer(k: Kernel, root: Node) -> Callable:
    """The template that writes root's kernel: (k, root) -> Grid."""
    core = k.ctx.groups.cores.get(id(root))
    target = k.ctx.options.target
    if root.op in ROWS:
        return rows_lanes_kernel if lanes_fit(root, k.ctx.options) else rows_kernel
    if root.op == "matmul" or core is not None and core.op == "matmul":
        return lambda k, root: matmul_kernel(k, root, core or root, target)
    if root.op in CONVS or core is not None and core.op in CONVS:
        return lambda k, root: conv_kernel(k, root, core or root, target)
    if core is not None:
        return lambda k, root: tree_kernel(k, root, core, TREE_LOCAL[target], target == "cpu")
    if windows_tile(root):
        return window_grad_kernel
    if (pool := inline_pooling(k, root)) is not None:
        return lambda k, root: pooled_map_kernel(k, root, pool)
    if sums_columns(k, root):
        return columns_kernel
    return map_kernel


def render_maps(ctx: Context, parts: ProgramParts, members: list, name: str, reads: list,
                fused: list) -> list:
    """[(text, KernelSpec)]: one map kernel computing every root of a
    group (map_groups), each into its own buffer."""
    k = Kernel(name, ctx, parts)
    outs = [(root, k.output(ctx.keys[id(root)], root.type.dtype)) for root in members]
    grid = maps_kernel(k, outs, map_space(members[0]))
    return [finish_kernel(k, grid, members[0], reads, fused)]


def finish_kernel(k: Kernel, grid, root: Node, reads: list, fused: list):
    """The kernel's text and spec; its reads are the plan's (from the IR)."""
    text = k.source(k.attributes)
    return text, KernelSpec(k.name, k.args, grid, tuple(k.write_keys), reads, root, text, fused)


def read_set(groups: Groups, keys: dict, root: Node, core: Node | None, skip_core=False) -> list:
    """[(buffer key, read only at the output index?)] of the kernel that
    computes `root`, from the IR: the buffers reached from root through the
    nodes it inlines. A read is at the output index when every path to it
    goes through elementwise nodes of the root's shape (a core, a loop, a
    view or a row op reads elsewhere). With skip_core the core's value
    comes from elsewhere (a tree's partials) and its inputs are not read."""
    shape = tuple(root.type.shape)
    aligned: dict[str, bool] = {}
    seen = set()
    stack = [] if skip_core and root is core else [(root, True)]
    while stack:
        n, at = stack.pop()
        at = at and tuple(n.type.shape) == shape
        if (id(n), at) in seen:
            continue
        seen.add((id(n), at))
        if groups.has_buffer(n) and n is not root:
            key = keys[id(n)]
            aligned[key] = aligned.get(key, True) and at
        elif n is core and n is not root:
            if not skip_core:
                stack.extend((i, False) for i in n.inputs)
        elif n.op == Op.GATHER:     # the indices are read at the gather's index
            stack.extend([(n.inputs[0], False)] + [(i, at) for i in n.inputs[1:]])
        else:
            inner = at and n.op in ELEMENTWISE_OPS
            stack.extend((i, inner) for i in n.inputs)
    return list(aligned.items())


def tree_groups(core: Node, target: str) -> int:
    """Work-groups per output element: several when one output gathers a
    long extent (one work-group runs on one core)."""
    extent = reduced_extent(core)     # None: a size variable, often a batch
    if extent is None or extent < TREE_SPLIT_EXTENT:
        return 1
    return TREE_GROUPS[target]


def plan_partials(fn_name: str, roots, groups: Groups, keys: dict, buffers: dict,
                  options: RenderOptions) -> dict:
    """root id -> the Partials of each long reduction (rendered in two
    stages), each buffer added to the plan's buffers."""
    out = {}
    for root in roots:
        core = groups.cores.get(id(root))
        if core is None or core.op in CORES:
            continue
        count = tree_groups(core, options.target)
        if count == 1:
            continue
        ctype = L.accumulator(options, core, L.REDUCE_KIND[core.op])
        dtype = {"double": "f64", "float": "f32", "int": "i32", "long": "i64"}[ctype]
        key = keys[id(root)] + "_part"
        elements = 1
        for d in core.type.shape:
            elements *= d
        buffers[key] = BufferSpec(key, "temp", dtype, (elements * count,),
                                  "partial sums of " + buffer_label(root, fn_name))
        out[id(root)] = Partials(key, dtype, count)
    return out


def render_tree_stages(ctx, parts, root, core, name, partials: Partials, out_key, reads,
                       fused) -> list:
    """Stage 1 folds shares of each output into the partials buffer; stage 2
    combines them and applies the epilogue."""
    local = TREE_LOCAL[ctx.options.target]
    stage1 = Kernel(name + "_part", ctx, parts)
    stage1.output(partials.key, partials.dtype)
    grid1 = tree_partial_kernel(stage1, core, local, partials.groups, ctx.options.target == "cpu")
    stage2 = Kernel(name, ctx, parts)
    stage2.output(out_key, root.type.dtype)
    grid2 = tree_final_kernel(stage2, root, core, partials.groups,
                              Buf(partials.key, partials.dtype))
    reads1 = read_set(ctx.groups, ctx.keys, core, None)
    return [finish_kernel(stage1, grid1, None, reads1, fused),
            finish_kernel(stage2, grid2, root, reads, fused)]


def concat_in_pieces(ctx, root: Node, out_key: str) -> bool:
    """On a CPU a computed concatenation (an LSTM's four gate gradients) is
    written piece by piece, a kernel each: in one kernel each work-item
    branches to its piece, and pocl runs branching work-items one by one
    instead of as vector lanes (the LSTM's: 210 us a step, its 4 pieces
    about 150 us). Not for a concat written in place of a shared value,
    whose old value later kernels may still read."""
    return (root.op == "concat" and ctx.options.target == "cpu" and out_key == ctx.keys[id(root)]
            and ctx.groups.cores.get(id(root)) is None
            and not all(ctx.has_buffer(x) for x in root.inputs))


def render_concat_pieces(ctx, parts, root, name, out_key, reads, fused) -> list:
    """One map kernel per piece, writing its slab of the output; the pieces'
    values are computed as the one kernel computes them, so the same bits."""
    axis, start, specs = root.attr("axis"), 0, []
    for j, x in enumerate(root.inputs):
        k = Kernel(f"{name}_{j}", ctx, parts)
        k.output(out_key, root.type.dtype)
        grid = piece_kernel(k, root, x, start)
        specs.append(finish_kernel(k, grid, root, reads, fused))
        start = dim_add(start, x.type.shape[axis])
    return specs


MAPS_MAX = 8     # roots one map kernel computes at most: its compile time, and pocl runs much
# slower kernels of more (13 roots: an LSTM minibatch took 48.6 against 28.1 ms)

# buffers one map kernel of several roots binds at most: 8 bytes each, well
# inside the 1024 bytes of arguments every OpenCL device takes
MAPS_ARGS = 48


def map_space(root: Node) -> tuple:
    """The shape a map kernel of root runs over: root's, or the common
    shape of the pieces of a concatenation."""
    if root.op == "concat" and len({tuple(x.type.shape) for x in root.inputs}) == 1:
        return tuple(root.inputs[0].type.shape)
    return tuple(root.type.shape)


def map_reads(ctx: Context, root: Node, reads: list) -> list:
    """root's reads relative to map_space(root): a concatenation's pieces
    are read at the pieces' index."""
    if map_space(root) == tuple(root.type.shape):
        return reads
    out = []
    for piece in root.inputs:
        out += [(ctx.keys[id(piece)], True)] if ctx.has_buffer(piece) else \
            read_set(ctx.groups, ctx.keys, piece, None)
    return out


def map_groups(ctx: Context, order: list, reads: dict, writes: dict) -> list:
    """The roots of `order`'s kernel steps, gathered into lists: consecutive
    roots that map kernels would write into their own buffers, over one
    shape, become one kernel (kernels.maps_kernel) when each reads the
    ones before it only at its own index: one launch, and the values they
    share read from registers. Each other root is a list of its own. Not
    for a deep graph, whose kernels are kept short to compile."""
    out, space, written, inputs = [], None, set(), set()
    for kind, root, stage in order:
        if kind != "kernel" or stage == "last":     # an update's last stage: rendered with its first
            continue
        key = ctx.keys[id(root)]
        joins = (not ctx.groups.deep and stage == "all" and id(root) not in writes
                 and id(root) not in ctx.partials and mapped(ctx, root))
        read = map_reads(ctx, root, reads[id(root)])
        more = inputs | {k for k, _ in read}
        if joins and space == map_space(root) and len(out[-1]) < MAPS_MAX \
                and all(at for k, at in read if k in written) \
                and arguments(ctx, more - written - {key}) + len(written) < MAPS_ARGS:
            out[-1].append(root)
            written.add(key)
            inputs = more
            continue
        out.append([root])
        space, written, inputs = (map_space(root), {key}, {k for k, _ in read}) if joins \
            else (None, set(), set())
    return out


def arguments(ctx: Context, keys: set) -> int:
    """The kernel arguments that reading these buffers takes (a param is
    read at an offset: two)."""
    return sum(2 if ctx.buffers[k].kind == "param" else 1 for k in keys)


MAPS_DESCRIPTION = ("consecutive map kernels over one shape written as one kernel with an "
                    "output each, where each reads the others only at its own index")


def maps_log(grouped: list) -> list:
    """The `maps` entry of the plan's pass log (none when nothing joined)."""
    joined = [g for g in grouped if len(g) > 1]
    if not joined:
        return []
    roots = sum(len(g) for g in joined)
    return [("maps", f"{roots} kernel roots in {len(joined)} kernel(s)")]


def maps_reads(members: list, keys: dict, reads: dict) -> list:
    """The reads of one kernel of several roots: theirs, less what it writes."""
    own = {keys[id(m)] for m in members}
    merged: dict = {}
    for m in members:
        for key, at in reads[id(m)]:
            if key not in own:
                merged[key] = merged.get(key, True) and at
    return list(merged.items())


def mapped(ctx: Context, root: Node) -> bool:
    """A map kernel would compute root (or a concatenation of same-shape
    pieces, which maps_kernel writes piece by piece)."""
    if root.op == "concat":
        return ctx.groups.cores.get(id(root)) is None and map_space(root) != tuple(root.type.shape)
    return kernel_writer(Kernel("", ctx, ProgramParts()), root) is map_kernel


def check_lowered(order) -> None:
    """An op without a lowering here is a located error, not a crash."""
    for n in order:
        if n.op not in LOWERING:
            raise errors.no_opencl_kernel(n.op, n.span)


def render_function(fn: Function, options: RenderOptions = RenderOptions()) -> Plan:
    prepared = run_passes(fn.roots, target=options.target)
    roots, origin, groups = prepared.roots, prepared.origin, prepared.groups
    outputs, updates = roots[:len(fn.outputs)], roots[len(fn.outputs):]
    check_fp64(fn, groups.order, options)
    check_lowered(groups.order)
    keys, buffers = assign_buffers(fn.name, groups)
    for name, v in fn.updates:      # a shared value updated but never read has no node
        buffers.setdefault("s:" + name, BufferSpec("s:" + name, "shared", v.type.dtype, v.type.shape,
                                                   f"shared `{name}`", name))
    for p in fn.params:     # an unused argument still has a type
        key = "p:" + p.attr("name")
        buffers.setdefault(key, BufferSpec(key, "param", p.type.dtype, p.type.shape,
                                           f"argument `{p.attr('name')}`", p.attr("name")))
    roots = kernel_roots(groups, keys, buffers)
    partials = plan_partials(fn.name, roots, groups, keys, buffers, options)
    reads = {id(r): final_reads(groups, keys, r, partials) for r in roots}
    order, out_keys, in_place, writes = schedule(fn, roots, reads, outputs, updates, keys,
                                                 buffers, groups)
    # render: the plan fixed above, only C text from here on
    ctx = Context(groups, keys, buffers, options, fn.name, partials)
    parts = ProgramParts(fp64=any(n.type.dtype == "f64" for n in groups.order))
    texts, specs = [], {}
    count = 0
    inlined = inlined_nodes(groups)
    grouped = map_groups(ctx, order, reads, writes)
    for members in grouped:
        root, name = members[0], f"{safe_name(fn.name)}_{count}"
        fused = [origin.get(id(n), n) for m in members for n in inlined.get(id(m), []) + [m]]
        if len(members) == 1:
            specs[id(root)] = render_kernel(ctx, parts, root, name, writes.get(id(root), keys[id(root)]),
                                            reads[id(root)], fused)
        else:
            specs[id(root)] = render_maps(ctx, parts, members, name, maps_reads(members, keys, reads),
                                          fused)
            specs.update((id(m), []) for m in members[1:])
        texts += [text for text, _ in specs[id(root)]]
        count += len(specs[id(root)])
    source = prelude(parts.helpers, parts.fp64, parts.vector_types) + "\n".join(parts.constants) \
        + "\n\n" + "\n".join(texts)
    steps = []
    for kind, a, b in order:
        if kind == "copy":
            steps.append(Step("copy", src=a, dst=b))
        else:    # a root's stages: "early" all but its last, "last" its last, "all" both
            stages = specs[id(a)]
            chosen = {"all": stages, "early": stages[:-1], "last": stages[-1:]}[b]
            steps += [Step("kernel", spec) for _, spec in chosen]
    params = [(p.attr("name"), "p:" + p.attr("name")) for p in fn.params]
    return Plan(fn.name, source, buffers, steps, out_keys, [o.type for o in outputs],
                params, parts.sites, in_place, prepared.log + maps_log(grouped))


def kernel_roots(groups: Groups, keys: dict, buffers: dict) -> list:
    """The roots that get a kernel (a view of another buffer does not)."""
    seen, out = set(), []
    for root in groups.kernel_roots():
        key = keys[id(root)]
        if key in seen or buffers[key].kind != "temp":
            continue
        seen.add(key)
        out.append(root)
    return out


def final_reads(groups: Groups, keys: dict, root: Node, partials: dict) -> list:
    """The reads of the kernel that writes root (the second stage of a long
    reduction reads its partials, not the core's inputs)."""
    core = groups.cores.get(id(root))
    if id(root) in partials:
        return read_set(groups, keys, root, core, skip_core=True) + [(partials[id(root)].key, False)]
    return read_set(groups, keys, root, core)


def inlined_nodes(groups: Groups) -> dict:
    """kernel root id -> the nodes its kernel computes inline, in graph
    order (one pass: a def may have thousands of kernels)."""
    out: dict = {}
    for n in groups.order:
        if n.op not in EXTERNAL and not groups.has_buffer(n):
            for root_id in groups.groups.get(id(n), ()):
                out.setdefault(root_id, []).append(n)
    return out


def kernel_listing(fn: Function, options: RenderOptions = RenderOptions()) -> list:
    """[(kernel name, source, nodes it computes)] for `sym explain`."""
    plan = render_function(fn, options)
    return [(k.name, k.text, k.fused) for k in plan.kernels]


def pass_listing(fn: Function, options: RenderOptions = RenderOptions()) -> list:
    """[(backend pass name, description, what it did)] for `sym explain`."""
    from .passes import PASSES
    described = {p.name: p.description for p in PASSES} | {"maps": MAPS_DESCRIPTION}
    listing = [(name, described[name], did) for name, did in render_function(fn, options).passes]
    if options.fast_math:       # approximate: always shown
        listing.insert(0, FAST_MATH_LISTING)
    return listing


FAST_MATH_LISTING = ("fast-math", "f32 exp, log, log1p, tanh, sigmoid, softplus, softmax by inline f32 "
                     "polynomials (--fast-math, fast_math=True)",
                     "on: up to 2 ulp from the correctly rounded value, not numpy's results")


# ---- ordering, outputs and updates -------------------------------------------------------
def schedule(fn, roots, reads, outputs, updates, keys, buffers, groups):
    """Kernels in dependency order; then copies that must see the old state;
    then update kernels, each writing its shared buffer in place when no
    later step reads the old value (reads: the IR's read sets); then copies
    into double-buffered state. Returns the order as ("kernel", root,
    stages) and ("copy", src, dst), the output keys, which updates are in
    place, and root id -> the key its kernel writes when not its own."""
    update_names = [name for name, _ in fn.updates]
    output_ids = {id(o) for o in outputs}
    value_count: dict[int, int] = {}
    for v in updates:
        value_count[id(v)] = value_count.get(id(v), 0) + 1
    kernel_ids = {id(r) for r in roots}

    pre, last = [], []
    deferred = []              # (shared name, root) candidates for in-place
    out_keys = []
    for i, o in enumerate(outputs):
        key = keys[id(o)]
        if buffers[key].kind != "temp":      # never hand out live state or an argument
            copy = f"o{i}"
            buffers[copy] = BufferSpec(copy, "temp", o.type.dtype, o.type.shape, buffer_label(o, fn.name))
            pre.append(("copy", key, copy))
            key = copy
        out_keys.append(key)
    for name, v in zip(update_names, updates):
        key = keys[id(v)]
        target = "s:" + name
        if key == target:
            continue
        exclusive = (id(v) in kernel_ids and id(v) not in output_ids and value_count[id(v)] == 1
                     and not groups.consumers.get(id(v)))
        if exclusive:
            deferred.append((name, v))
            continue
        if buffers[key].kind != "temp":      # a leaf's old value: copy it first
            copy = f"u:{name}"
            buffers[copy] = BufferSpec(copy, "temp", v.type.dtype, v.type.shape, f"new value of `{name}`")
            pre.append(("copy", key, copy))
            key = copy
        last.append(("copy", key, target))

    deferred_ids = {id(v) for _, v in deferred}
    order = [("kernel", r, "early" if id(r) in deferred_ids else "all") for r in roots] + pre
    in_place, writes = {}, {}
    remaining = list(deferred)
    while remaining:
        pick = next(((n, v) for n, v in remaining
                     if not any(reads_key(reads[id(v2)], "s:" + n) for n2, v2 in remaining
                                if v2 is not v)),
                    remaining[0])
        remaining.remove(pick)
        name, v = pick
        target = "s:" + name
        clear = all(at for key, at in reads[id(v)] if key == target) and \
            not any(reads_key(reads[id(v2)], target) for _, v2 in remaining)
        if clear:
            del buffers[keys[id(v)]]
            writes[id(v)] = target
        else:
            last.append(("copy", keys[id(v)], target))
        in_place[name] = clear
        order.append(("kernel", v, "last"))
    return order + last, out_keys, in_place, writes


def reads_key(reads: list, key: str) -> bool:
    return any(k == key for k, _ in reads)
