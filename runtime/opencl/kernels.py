"""Kernel templates: the loop structure around inlined expressions.

  map     one work-item per output element (elementwise chains, views,
          gathers, small reductions as loops)
  rows    one work-item per row: softmax / log_softmax in three passes
  tree    one work-group per output element: a long reduction split over
          the group, combined in local memory
  matmul  in matmul.py

Each returns a `Launch` (kernel name, grid) after writing the kernel text
into a `Kernel`; the argument list is the kernel's `args`.
"""
from __future__ import annotations

from dataclasses import dataclass

from dsl.ir import Node
from dsl.types import dim_add, dim_eval

from .cgen import CTYPE, VTYPE, dim_c, horner, prod_c
from .emit import Ix, Kernel
from .lowering import (REDUCE_KIND, acc_type, call_exp, call_log, reduce_final,
                       reduce_init, reduce_step, reduction_parts)

MAP_LOCAL = 64
ROW_LOCAL = 8
UNROLL = 4


@dataclass(frozen=True)
class Grid:
    """Global size per launch dimension: ceil(prod(dims) / per_item),
    rounded up to the local size (kept constant so pocl compiles each
    kernel for one work-group size only)."""
    dims: tuple          # per launch dimension: a tuple of Dims
    per_item: tuple      # per launch dimension: elements per work-item
    local: tuple

    def global_size(self, sizes: dict) -> tuple:
        out = []
        for dims, per, loc in zip(self.dims, self.per_item, self.local):
            total = 1
            for d in dims:
                total *= dim_eval(d, sizes)
            items = max(1, -(-total // per))
            out.append(-(-items // loc) * loc)
        return tuple(out)

    def is_empty(self, sizes: dict) -> bool:
        """True when some launch dimension covers no element at all."""
        return any(dim_eval(d, sizes) <= 0 for dims in self.dims for d in dims)


def local_for(dims, default: int) -> int:
    """A fixed work-group size; small constant outputs get a small one."""
    total = 1
    for d in dims:
        if not isinstance(d, int):
            return default
        total *= d
    size = 1
    while size < min(total, default):
        size *= 2
    return size


def reqd(local) -> str:
    dims = list(local) + [1] * (3 - len(local))
    return f"__attribute__((reqd_work_group_size({dims[0]}, {dims[1]}, {dims[2]}))) "


def store(k: Kernel, root: Node, index: str, expr: str) -> None:
    k.line(f"out[{index}] = ({CTYPE[root.type.dtype]})({expr});")


# ---- map --------------------------------------------------------------------
def map_kernel(k: Kernel, root: Node) -> Grid:
    """One work-item per element. Written so that pocl runs the work-items
    as vector lanes: no early return (work-items past the end compute the
    last element again and do not store it), the flat index split in
    `sym_ix` arithmetic (32-bit unless the arrays are too big, see
    executor.py: 64-bit division does not vectorise), and index checks
    that record their error in variables, reported after a barrier
    (a call in a branch does not vectorise)."""
    return maps_kernel(k, [(root, "out")], root.type.shape)


def maps_kernel(k: Kernel, members: list, shape) -> Grid:
    """map_kernel for several roots over one shape, [(root, output's C
    name)] in order: each work-item computes every root's element, so a
    step's elementwise values (an LSTM's gates, its cell and state) cost
    one launch, not one each. A root reads an earlier one (only ever at
    its own index: render.map_groups) from a register. A concatenation of
    pieces of this shape stores each piece's element at its place."""
    ix, store_if = item_per_element(k, shape)
    for root, out in members:
        if tuple(root.type.shape) != tuple(shape):      # a concatenation's pieces
            start = 0
            for piece in root.inputs:
                store_piece(k, root, piece, ix, start, out, store_if)
                start = dim_add(start, piece.type.shape[root.attr("axis")])
            continue
        value = k.let(VTYPE[root.type.dtype], k.compute(root, ix))
        k.memo[-1][(id(root), ix.key())] = value
        k.line(f"{store_if}{out}[gid] = ({CTYPE[root.type.dtype]})({value});")
    return finish_item_per_element(k, shape)


def store_piece(k: Kernel, root: Node, piece: Node, ix: Ix, start, out: str, store_if: str) -> None:
    """Store piece's element at ix where it lies in the concatenation root
    (offset `start` along root's axis)."""
    axis = root.attr("axis")
    axes = list(ix.axes)
    axes[axis] = f"({axes[axis]} + {dim_c(start)})"
    k.line(f"{store_if}{out}[{horner(axes, root.type.shape)}] = "
           f"({CTYPE[root.type.dtype]})({k.value(piece, ix)});")


COLUMNS = 8             # outputs per work-item of columns_kernel


def sums_columns(k: Kernel, root: Node) -> bool:
    """root is a sum (or mean) of an f32 buffer over its leading axes,
    whose trailing axes (the outputs, contiguous) hold a multiple of
    COLUMNS elements: a bias's gradient, the column sums of a matrix."""
    if root.op not in ("sum", "sum_to", "mean") or root.type.dtype != "f32" \
            or k.ctx.options.target != "cpu":
        return False
    x, axes, _ = reduction_parts(root)
    columns = prod_c(x.type.shape[len(axes):])
    return (k.ctx.has_buffer(x) and axes == list(range(len(axes))) and len(axes) > 0
            and columns.isdigit() and int(columns) % COLUMNS == 0)


def columns_kernel(k: Kernel, root: Node) -> Grid:
    """A sum over the leading axes with COLUMNS outputs per work-item, as
    vectors. One work-item per output (map_kernel with its reduction
    loop) adds one element per step of a chain pocl cannot vectorise
    across work-items (a loop inside): an LSTM's bias gradient, 28 x 100
    rows of 512, took 3.1 ms. The rows are added in the same order, in
    the same accumulator type, so the values are the same bits."""
    x, axes, _ = reduction_parts(root)
    rows = prod_c([x.type.shape[a] for a in axes])
    columns = int(prod_c(x.type.shape[len(axes):]))
    ctype = acc_type(k, root, "sum")
    vec = k.vector_type("float", COLUMNS)
    src = k.pointer(k.ctx.buffer_of(x))
    k.line(f"const long c0 = get_global_id(0) * {COLUMNS};")
    k.line(f"if (c0 >= {columns}) return;")
    acc = k.var(f"{ctype}{COLUMNS}", f"({ctype}{COLUMNS})0", "acc")
    with k.block(f"for (long r = 0; r < {rows}; r++)", loop=True):
        row = f"*(const __global {vec}*)({src} + r * {columns} + c0)"
        k.line(f"{acc} += {row};" if ctype == "float" else
               f"{acc} += __builtin_convertvector({row}, double{COLUMNS});")
    if root.op == "mean":
        acc = k.let(f"{ctype}{COLUMNS}", f"{acc} / ({ctype})({rows})", "mean")
    value = acc if ctype == "float" else f"__builtin_convertvector({acc}, float{COLUMNS})"
    k.line(f"*(__global {vec}*)(out + c0) = {value};")
    local = local_for((columns // COLUMNS,), 4)
    k.attributes = reqd((local,))
    return Grid(((columns,),), (COLUMNS,), (local,))


def piece_kernel(k: Kernel, root: Node, piece: Node, start) -> Grid:
    """map_kernel over one piece of the concatenation `root`, stored at its
    place in root's layout (offset `start` along root's axis)."""
    shape = piece.type.shape
    ix, store_if = item_per_element(k, shape)
    store_piece(k, root, piece, ix, start, "out", store_if)
    return finish_item_per_element(k, shape)


def item_per_element(k: Kernel, shape) -> tuple:
    """The start of a kernel with one work-item per element of `shape`
    (map_kernel's; a pooling gradient's per window): `gid` clamped to the
    last element past the end, index checks deferred. Returns the element's
    Ix and the prefix of its stores: a conditional store halves the speed of
    a big map (measured), so it is "" when every work-group is full."""
    local = map_local(shape)
    k.defer_checks = True
    if groups_within_rows(shape, local):
        return row_of_group(k, shape, local), ""
    total = prod_c(shape)
    exact = whole_groups(shape, local)
    k.line("const long gid0 = get_global_id(0);")
    k.line("const int valid = 1;" if exact else f"const int valid = gid0 < {total};")
    k.line("const long gid = gid0;" if exact else
           f"const long gid = valid ? gid0 : ({total} > 0 ? {total} - 1 : 0);")
    return k.unravel("gid", shape, narrow=True), "" if exact else "if (valid) "


def map_local(shape) -> int:
    """A map kernel's work-group size: local_for's, or where the last axis
    is a known length it does not divide, the largest divisor of that
    length from 16 to MAP_LOCAL, so that each group lies in one row
    (groups_within_rows): a transpose of [n, 28, 28] to [28, n, 28]
    divided each work-item's index by n, a division a work-item (about
    300 us for 100 images)."""
    local = local_for(shape, MAP_LOCAL)
    last = shape[-1] if len(shape) >= 2 else None
    if isinstance(last, int) and last % local:
        return next((d for d in range(MAP_LOCAL, 15, -1) if last % d == 0), local)
    return local


def groups_within_rows(shape, local: int) -> bool:
    """Every work-group lies inside one row of the last axis: its length is
    a known multiple of the group size (an LSTM's 128 hidden units)."""
    return len(shape) >= 2 and isinstance(shape[-1], int) and shape[-1] % local == 0


def row_of_group(k: Kernel, shape, local: int) -> Ix:
    """The element's index as its group's row (one division a group) and
    the group's start in the row plus the local id. The flat index split
    per work-item (gid % 128) hides from the C compiler that neighbouring
    work-items read neighbouring elements of a slice (`z[:, 128:256]`): it
    loaded them one by one, 8 scalar loads a vector (the LSTM's forward
    gate kernel, 100 x 128 elements: about 130 to 60 us)."""
    last = shape[-1]
    k.line(f"const long base = get_group_id(0) * {local};")
    k.line("const long gid = base + get_local_id(0);")
    k.line("const int valid = 1;")
    column = k.let("long", f"base % {last} + get_local_id(0)", "i")
    rows = k.unravel(f"base / {last}", shape[:-1])
    return Ix(rows.axes + [column], "gid")


def finish_item_per_element(k: Kernel, shape) -> Grid:
    local = map_local(shape)
    report_deferred_checks(k, local)
    k.attributes = reqd((local,))
    return Grid((tuple(shape),), (1,), (local,))


def whole_groups(shape, local: int) -> bool:
    """Every work-group is full, whatever the sizes: the product of the
    known dimensions is a multiple of the work-group size."""
    known = 1
    for d in shape:
        known *= d if isinstance(d, int) else 1
    return known > 0 and known % local == 0


def report_deferred_checks(k: Kernel, local: int) -> None:
    """The first index error any work-item of the group recorded goes to
    the error flag, from work-item 0 after a barrier."""
    if not k.deferred:
        return
    k.line(f"__local int l_site[{local}], l_axis[{local}];")
    k.line(f"__local long l_value[{local}], l_size[{local}];")
    k.line("const int lid = get_local_id(0);")
    k.line("l_site[lid] = e_site; l_axis[lid] = e_axis; l_value[lid] = e_value; l_size[lid] = e_size;")
    k.line("barrier(CLK_LOCAL_MEM_FENCE);")
    with k.block("if (lid == 0)"):
        with k.block(f"for (int i = 0; i < {local}; i++)"):
            k.line("if (l_site[i] >= 0) { sym_flag(err, site_base + l_site[i], l_axis[i], "
                   "l_value[i], l_size[i]); break; }")


# ---- rows: softmax and log_softmax -----------------------------------------------
def rows_kernel(k: Kernel, root: Node) -> Grid:
    """Pass 1 finds the row max, pass 2 writes exp(x - m) (or x - m) and
    sums, pass 3 normalises in place: one exp per element."""
    x = root.inputs[0]
    shape = root.type.shape
    axis = root.attr("axis")
    t = VTYPE[root.type.dtype]
    outer, L, inner = shape[:axis], shape[axis], shape[axis + 1:]
    rows = tuple(outer) + tuple(inner)
    k.line("const long row = get_global_id(0);")
    k.line(f"if (row >= {prod_c(rows)}) return;")
    inner_n = prod_c(inner)
    o = k.let("long", f"row / {inner_n}" if inner else "row", "o")
    q = k.let("long", f"row % {inner_n}", "q") if inner else "0"
    outer_ix = k.unravel(o, outer).axes
    inner_ix = k.unravel(q, inner).axes
    base = k.let("long", f"{o} * {dim_c(L)} * {inner_n} + {q}", "base")
    step = inner_n

    def element(r):
        return Ix(outer_ix + [r] + inner_ix, f"{base} + {r} * {step}")

    m = k.var(t, f"-({t})INFINITY", "m")
    with k.loops([L]) as (r,):
        v = k.value(x, element(r))
        k.line(f"{m} = ({m} != {m} || {v} <= {m}) ? {m} : {v};")
    # a row of +-inf (or NaN) is shifted by 0, as the numpy impl does
    k.line(f"if (!({m} - {m} == 0)) {m} = 0;")
    s = k.var(acc_type(k, root, "sum"), "0", "s")
    with k.loops([L]) as (r,):
        v = k.value(x, element(r))
        z = k.let(t, f"{v} - {m}", "z")
        e = k.let(t, call_exp(k, root, z), "e")
        k.line(f"{s} += {e};")
        kept = e if root.op == "softmax" else z
        k.line(f"out[{element(r).flat}] = {kept};")
    if root.op == "softmax":
        total = k.let(t, f"({t}){s}", "s")
        fix = f"out[{{i}}] = out[{{i}}] / {total};"
    else:
        shift = k.let(t, call_log(k, root, f"({t}){s}"), "ls")
        fix = f"out[{{i}}] = out[{{i}}] - {shift};"
    with k.loops([L]) as (r,):
        k.line(fix.format(i=element(r).flat))
    k.attributes = reqd((ROW_LOCAL,))
    return Grid((rows,), (1,), (ROW_LOCAL,))


LANES = 8
MAX_LANE_ROW = 64


def lanes_fit(root: Node, options) -> bool:
    """Short f32 rows of a known length go 8 to a work-item, one per vector
    lane, so exp runs on float8 (pocl does not vectorise loops inside a
    work-item across work-items)."""
    L = root.type.shape[root.attr("axis")]
    return (options.target == "cpu" and (options.fast_math or options.fp64) and root.type.dtype == "f32"
            and isinstance(L, int) and L <= MAX_LANE_ROW)


def rows_lanes_kernel(k: Kernel, root: Node) -> Grid:
    """rows_kernel's passes with 8 rows in the lanes of float8 values: the
    input expression is evaluated per lane (scalar code), the max, exp and
    sums run on vectors; rows past the end repeat the last and are not stored."""
    x = root.inputs[0]
    shape = root.type.shape
    axis = root.attr("axis")
    outer, L, inner = shape[:axis], shape[axis], shape[axis + 1:]
    nrows = prod_c(tuple(outer) + tuple(inner))
    inner_n = prod_c(inner)
    k.line(f"const long r0 = get_global_id(0) * {LANES};")
    k.line(f"if (r0 >= {nrows}) return;")
    lanes = []
    for i in range(LANES):
        row = k.let("long", f"min(r0 + {i}, (long){nrows} - 1)", "row")
        o = k.let("long", f"{row} / {inner_n}" if inner else row, "o")
        q = k.let("long", f"{row} % {inner_n}", "q") if inner else "0"
        base = k.let("long", f"{o} * {dim_c(L)} * {inner_n} + {q}", "base")
        lanes.append((k.unravel(o, outer).axes, k.unravel(q, inner).axes, base))

    def element(lane, r):
        outer_ix, inner_ix, base = lanes[lane]
        return Ix(outer_ix + [r] + inner_ix, f"{base} + {r} * {inner_n}")

    def gathered(r):
        vals = [k.value(x, element(i, r)) for i in range(LANES)]
        return k.let("float8", f"(float8)({', '.join(vals)})", "v")

    expf8 = "sym_expf8" if k.ctx.options.fast_math else "sym_expf8_d"
    k.need(expf8)
    m = k.var("float8", "(float8)(-INFINITY)", "m")
    with k.loops([L]) as (r,):
        v = gathered(r)
        k.line(f"{m} = ({m} != {m} || {v} <= {m}) ? {m} : {v};")
    k.line(f"{m} = ({m} - {m} == 0) ? {m} : (float8)0;")
    s = k.var("float8", "(float8)0", "s")
    kept = k.fresh("zs")
    k.line(f"float8 {kept}[{L}];")
    with k.loops([L]) as (r,):
        z = k.let("float8", f"{gathered(r)} - {m}", "z")
        e = k.let("float8", f"{expf8}({z})", "e")
        k.line(f"{s} += {e};")
        k.line(f"{kept}[{r}] = {e if root.op == 'softmax' else z};")
    for i in range(LANES):
        with k.block(f"if (r0 + {i} < {nrows})"):
            if root.op == "softmax":
                fix = f"{kept}[{{r}}].s{i} / {s}.s{i}"
            else:
                shift = k.let("float", call_log(k, root, f"{s}.s{i}"), "ls")
                fix = f"{kept}[{{r}}].s{i} - {shift}"
            with k.loops([L]) as (r,):
                k.line(f"out[{element(i, r).flat}] = {fix.format(r=r)};")
    local = ROW_LOCAL // 2
    k.attributes = reqd((local,))
    return Grid(((tuple(outer) + tuple(inner)),), (LANES,), (local,))


# ---- tree reductions --------------------------------------------------------------
def tree_input(k: Kernel, core: Node, out_ix: Ix, out_flat: str, e: str, dims):
    """The reduced input's index for output element out_ix and reduced
    position e (row-major over the reduced axes). When the reduced axes are
    the trailing ones the flat index is out_flat * extent + e: no div/mod."""
    x, axes, place = reduction_parts(core)
    loop_ix = k.unravel(e, dims).axes
    it = iter(loop_ix)
    x_axes = [a if a is not None else next(it) for a in place(out_ix.axes)]
    trailing = core.op != "sum_to" and axes == list(range(x.type.rank - len(axes), x.type.rank))
    flat = f"({out_flat}) * {prod_c(dims)} + {e}" if trailing else None
    return x, Ix(x_axes, flat)


def tree_fold(k: Kernel, core: Node, local: int, thread: str, threads: int, out_ix: Ix,
              out_flat: str, chunked: bool) -> str:
    """Each of `threads` work-items folds its share of the reduced elements,
    then the group combines in local memory; returns where the group's
    result is (valid in work-item 0). On a CPU a share is one contiguous
    chunk (pocl runs a group's work-items one after another, so a strided
    share would walk the whole input once per work-item); on a GPU it is
    strided, so neighbouring work-items read neighbouring elements."""
    x, axes, _ = reduction_parts(core)
    kind = REDUCE_KIND[core.op]
    ctype = acc_type(k, core, kind)
    dims = [x.type.shape[a] for a in axes]
    extent = prod_c(dims)
    k.line(f"__local {ctype} part[{local}];")
    if chunked:
        k.line(f"const long per = ({extent} + {threads - 1}) / {threads};")
        k.line(f"long e = ({thread}) * per;")
        k.line(f"const long end = min(e + per, (long){extent});")
        step = 1
    else:
        k.line(f"long e = {thread};")
        k.line(f"const long end = {extent};")
        step = threads
    # four accumulators: one chain of dependent adds would wait on latency
    accs = [k.var(ctype, reduce_init(core, kind, ctype)) for _ in range(UNROLL)]
    with k.block(f"for (; e + {(UNROLL - 1) * step} < end; e += {UNROLL * step})", loop=True):
        for u, acc in enumerate(accs):
            pos = k.let("long", f"e + {u * step}", "e")
            x, ix = tree_input(k, core, out_ix, out_flat, pos, dims)
            k.line(reduce_step(core, kind, acc, k.value(x, ix)))
    with k.block(f"for (; e < end; e += {step})", loop=True):
        x, ix = tree_input(k, core, out_ix, out_flat, "e", dims)
        k.line(reduce_step(core, kind, accs[0], k.value(x, ix)))
    for acc in accs[1:]:
        k.line(reduce_step(core, kind, accs[0], acc))
    k.line(f"part[lid] = {accs[0]};")
    k.line("barrier(CLK_LOCAL_MEM_FENCE);")
    with k.block(f"for (int s = {local // 2}; s > 0; s >>= 1)", loop=True):
        with k.block("if (lid < s)"):
            k.line(reduce_step(core, kind, "part[lid]", "part[lid + s]"))
        k.line("barrier(CLK_LOCAL_MEM_FENCE);")
    return "part[0]"


def out_count(shape) -> int:
    count = 1
    for d in shape:
        count *= d
    return count


def tree_kernel(k: Kernel, root: Node, core: Node, local: int, chunked: bool) -> Grid:
    """One work-group per output element. `core` is the reduction; `root`
    is an elementwise epilogue over it (or the reduction itself)."""
    shape = root.type.shape
    k.line("const long g = get_group_id(0);")
    k.line("const int lid = get_local_id(0);")
    ix = k.unravel("g", shape)
    total = tree_fold(k, core, local, "lid", local, ix, "g", chunked)
    with k.block("if (lid == 0)"):
        finish(k, root, core, ix, "g", total)
    k.attributes = reqd((local,))
    return Grid(((out_count(shape) * local,),), (1,), (local,))


def finish(k: Kernel, root: Node, core: Node, ix: Ix, flat: str, total: str) -> None:
    x, axes, _ = reduction_parts(core)
    ctype = acc_type(k, core, REDUCE_KIND[core.op])
    count = f"({ctype}){prod_c([x.type.shape[a] for a in axes])}"
    value = reduce_final(core, total, count)
    k.overrides[id(core)] = lambda _ix: value
    store(k, root, flat, value if root is core else k.compute(root, ix))


def tree_partial_kernel(k: Kernel, core: Node, local: int, groups: int, chunked: bool) -> Grid:
    """Stage 1 of a long reduction: `groups` work-groups per output element
    each fold a strided share into out[output * groups + group]."""
    shape = core.type.shape
    k.line("const long g = get_group_id(0);")
    k.line("const int lid = get_local_id(0);")
    k.line(f"const long o = g / {groups}, part_of = g % {groups};")
    ix = k.unravel("o", shape)
    total = tree_fold(k, core, local, f"part_of * {local} + lid", local * groups, ix, "o",
                      chunked)
    with k.block("if (lid == 0)"):
        k.line(f"out[g] = {total};")
    k.attributes = reqd((local,))
    return Grid(((out_count(shape) * local * groups,),), (1,), (local,))


def tree_final_kernel(k: Kernel, root: Node, core: Node, groups: int, partials) -> Grid:
    """Stage 2: combine each output's partials, then the epilogue."""
    kind = REDUCE_KIND[core.op]
    ctype = acc_type(k, core, kind)
    shape = root.type.shape
    p = k.pointer(partials)
    k.line("const long o = get_global_id(0);")
    k.line(f"if (o >= {out_count(shape)}) return;")
    ix = k.unravel("o", shape)
    acc = k.var(ctype, f"{p}[o * {groups}]")
    with k.block(f"for (int i = 1; i < {groups}; i++)", loop=True):
        k.line(reduce_step(core, kind, acc, f"{p}[o * {groups} + i]"))
    finish(k, root, core, ix, "o", acc)
    local = local_for(shape, MAP_LOCAL)
    k.attributes = reqd((local,))
    return Grid((tuple(shape),), (1,), (local,))
