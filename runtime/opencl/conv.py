"""Convolution and pooling kernels.

Before grouping, the `conv_pad` pass (passes.py) turns every convolution
into a *valid* one over a buffer, so that two kernel writers do all of it:

  conv2d full       -> conv2d valid of x zero-padded by kh-1, kw-1 (unslice)
  conv2d_grad_x     -> conv2d valid of gy dilated by the stride and padded
                       (unslice), with the filters transposed (o <-> c) and
                       unflipped (a small map kernel); on the CPU, valid
                       mode, stride 1 and rows of at most 8 (LeNet) stay
                       conv2d_grad_x: image_grad_cpu reads gy directly
  conv2d_grad_k     -> conv2d_grad_k valid of the padded x

  correlate (CPU)  implicit GEMM, no im2col: each work-item keeps an MB
                   output channels x R output rows x CW columns block of
                   the result in vector registers; per (c, u, v) it loads R
                   row vectors of the image (unaligned pointer casts) and
                   broadcasts MB filter taps (plain `a * b + c`: pocl does
                   not inline builtins).
  filter grads (CPU) gk[o, c, u, v] is a dot product over (n, i, j) of gy
                   and a shifted image: each work-item keeps MO x NP dot
                   products in vectors along j; a barrier every few images
                   makes pocl run a group's work-items (neighbouring taps)
                   image chunk by image chunk, so the chunk stays in cache
                   (measured 1.5-2x).
  GPU renderings   correlate: one work-item per output element, the
                   work-group staging the filter taps in local memory;
                   filter grads: one work-group per tap, its long (n, i, j)
                   sum split over the work-items and combined in local memory.

Pooling is inline index arithmetic (lowering entries emit_pool,
emit_pool_grad): the max or mean of a window is computed in the kernel that
reads it, so the bias and tanh after a pooling are one kernel with it; the
gradient of an input element visits the windows that contain it (no
atomics): max pooling's goes to the first maximum of each window. On a
CPU, a 2x2 pooling of stride 2 read at its kernel's own index (LeNet's)
has its windows read as float8 rows, 4 windows a work-item, by the
pooling's map kernel (pooled_map_kernel) and by the max-pooling gradient
(window_grad_vectors_kernel).
"""
from __future__ import annotations

from dataclasses import dataclass

from dsl.build import apply
from dsl.ir import Node, node, toposort, with_inputs
from dsl.ops import Op
from dsl.types import TensorType, dim_add, dim_mul, dim_sub

from .cgen import CTYPE, VTYPE, all_of, dim_c, prod_c
from .emit import ELEMENTWISE_OPS, Ix, Kernel
from .kernels import Grid, finish_item_per_element, item_per_element, reqd, store
from .matmul import full_or_edge, spill_lanes, split_width

REGISTERS = 12          # accumulators of a register block (AVX2 has 16 vector registers)
GPU_LOCAL = 64


@dataclass
class Correlation:
    """out[n, m, i, j] = sum_{q, u, v} x[n, q, i*sh + u, j*sw + v] * w(m, q, u, v)
    with w(m, q, u, v) = w[base + m*sm + q*sq + u*su + v*sv] (C expressions)."""
    N: object
    Q: object
    H: object
    W: object
    M: object
    OH: object
    OW: object
    KH: object
    KW: object
    sh: int
    sw: int
    w_strides: tuple    # (base, sm, sq, su, sv) as C expressions
    rows: tuple | None = None   # (first, count): only these rows of x may be nonzero


def nonzero_rows(x: Node):
    """(first, count) of the rows an unslice (the conv_pad pass's padding)
    writes: the rows around them are zeros, which the kernel skips."""
    if x.op != Op.UNSLICE:
        return None
    _, start, _, step, length = x.attr("items")[2]
    return (start, length) if step == 1 else None


def conv_geometry(node: Node) -> Correlation:
    """A valid conv2d as a correlation with the flipped filters."""
    x, w = node.inputs
    N, Q, H, W = x.type.shape
    M, _, KH, KW = w.type.shape
    _, _, OH, OW = node.type.shape
    sh, sw = node.attr("stride")
    kh, kw = dim_c(KH), dim_c(KW)
    base = f"(({kh} - 1) * {kw} + {kw} - 1)"
    strides = (base, prod_c((Q, KH, KW)), prod_c((KH, KW)), f"(-{kw})", "(-1)")
    return Correlation(N, Q, H, W, M, OH, OW, KH, KW, sh, sw, strides, nonzero_rows(x))


# ---- choosing the register block ------------------------------------------------------
def width_of(dtype: str) -> int:
    return 8 if dtype == "f32" else 4


def column_chunks(OW, width: int):
    """The vector chunks one work-item covers along a row: the whole row
    when it is short and known (24 -> 8 8 8, 12 -> 8 4), else two vectors."""
    if isinstance(OW, int) and OW <= 4 * width:
        return split_width(OW, width)
    return [width, width]


def block_shape(M, rows, chunks):
    """(MB channels, R rows): the most accumulators (MB * R * chunks) that
    fit in the vector registers beside the R * chunks image vectors and MB
    filter taps of one step (measured: spilling halves the speed), then
    the least work on channels past M, then more rows."""
    n = len(chunks)
    best = None
    for mb in range(1, REGISTERS + 1):
        for r in range(1, REGISTERS + 1):
            if mb * r * n + r * n + mb > REGISTERS + 2:
                continue
            if isinstance(rows, int) and r > rows:
                continue
            waste = (-(-M // mb) * mb - M) / M if isinstance(M, int) else 0
            score = (mb * r * n * (1 - waste), r)
            if best is None or score > best[0]:
                best = (score, mb, r)
    return best[1], best[2]


# ---- correlate: conv2d (CPU) -----------------------------------------------------------
def correlate_cpu(k: Kernel, g: Correlation, x: str, w: str, t: str, epilogue) -> Grid:
    width = width_of("f32" if t == "float" else "f64")
    chunks = column_chunks(g.OW, width)
    CW = sum(chunks)
    rows = g.N * g.OH if isinstance(g.N, int) and isinstance(g.OH, int) else None
    MB, R = block_shape(g.M, rows, chunks)
    N, Q, H, W, M, OH, OW = (dim_c(d) for d in (g.N, g.Q, g.H, g.W, g.M, g.OH, g.OW))
    base, sm, sq, su, sv = g.w_strides
    rows_c = prod_c((g.N, g.OH))
    k.line(f"const long m0 = get_global_id(0) * {MB}, j0 = get_global_id(1) * {CW};")
    k.line(f"const long g0 = get_global_id(2) * {R};")
    k.line(f"if (m0 >= {M} || j0 >= {OW} || g0 >= {rows_c}) return;")
    for r in range(R):   # rows past the end compute the last row again; never stored
        k.line(f"const long row{r} = min(g0 + {r}, (long){rows_c} - 1);")
        k.line(f"const long n{r} = row{r} / {OH}, i{r} = row{r} % {OH};")
        k.line(f"const __global {t}* x{r} = {x} + n{r} * {prod_c((g.Q, g.H, g.W))} "
               f"+ i{r} * {g.sh} * {W} + j0 * {g.sw};")
    for c in range(MB):
        k.line(f"const __global {t}* w{c} = {w} + {base} + min(m0 + {c}, (long){M} - 1) * {sm};")
    offsets = [sum(chunks[:i]) for i in range(len(chunks))]
    plain = [t if n == 1 else f"{t}{n}" for n in chunks]
    vtypes = [k.vector_type(t, n) for n in chunks]
    accs = [(r, c, i) for r in range(R) for c in range(MB) for i in range(len(chunks))]
    for r, c, i in accs:
        k.line(f"{plain[i]} acc{r}_{c}_{i} = ({plain[i]})0;")

    u_lo, u_hi = filter_rows(k, g, R)

    def body(load):
        with k.block(f"for (long q = 0; q < {Q}; q++)", loop=True):
            with k.block(f"for (long u = {u_lo}; u < {u_hi}; u++)", loop=True):
                k.line(f"const long xo = q * {prod_c((g.H, g.W))} + u * {W};")
                k.line(f"const long wo = q * {sq} + u * {su};")
                for v in taps(k, g.KW):
                    for r in range(R):
                        for i, (off, n) in enumerate(zip(offsets, chunks)):
                            k.line(f"const {plain[i]} xv{r}_{i} = "
                                   f"{load(r, i, off, n, v)};")
                    for c in range(MB):
                        k.line(f"const {t} wv{c} = w{c}[wo + {v} * {sv}];")
                        for r in range(R):
                            for i in range(len(chunks)):
                                k.line(f"acc{r}_{c}_{i} = wv{c} * xv{r}_{i} + acc{r}_{c}_{i};")

    def vector_load(r, i, off, n, v):
        at = f"x{r} + xo + {v} + {off * g.sw}"
        if n == 1:
            return f"*({at})"
        if g.sw == 1:
            return f"*(const __global {vtypes[i]}*)({at})"
        lanes = ", ".join(f"({at})[{lane * g.sw}]" for lane in range(n))
        return f"({plain[i]})({lanes})"

    def edge_load(r, i, off, n, v):     # lanes past the row's end read its last column
        lanes = [f"x{r}[xo + {v} + min((long){off + lane}, {OW} - 1 - j0) * {g.sw}]"
                 for lane in range(n)]
        return lanes[0] if n == 1 else f"({plain[i]})({', '.join(lanes)})"

    full_or_edge(k, isinstance(g.OW, int) and g.OW % CW == 0, f"j0 + {CW} <= {OW}",
                 body, vector_load, edge_load)
    spill_lanes(k, t, [f"acc{r}_{c}_" for r in range(R) for c in range(MB)], chunks)
    k.line(f"const long ns[{R}] = {{{', '.join(f'n{r}' for r in range(R))}}};")
    k.line(f"const long is[{R}] = {{{', '.join(f'i{r}' for r in range(R))}}};")
    with k.block(f"for (int r = 0; r < {R}; r++)"):
        k.line(f"if (g0 + r >= {rows_c}) break;")
        with k.block(f"for (int c = 0; c < {MB}; c++)"):
            k.line(f"const long m = m0 + c; if (m >= {M}) break;")
            with k.block(f"for (int jj = 0; jj < {CW}; jj++)"):
                k.line(f"const long j = j0 + jj; if (j >= {OW}) break;")
                k.line(f"const {t} acc = res[(r * {MB} + c) * {CW} + jj];")
                epilogue(["ns[r]", "m", "is[r]", "j"], "acc")
    k.attributes = reqd((1, 1, 4))
    return Grid(((g.M,), (g.OW,), (g.N, g.OH)), (MB, CW, R), (1, 1, 4))


def filter_rows(k: Kernel, g: Correlation, R: int):
    """The filter rows u that meet a nonzero row of x for some of the
    work-item's R output rows (all of them when x has no zero rows)."""
    if g.rows is None:
        return "0", dim_c(g.KH)
    first, count = (dim_c(d) for d in g.rows)
    lowest = k.let("long", min_chain([f"i{r}" for r in range(R)], "min"), "ilo")
    highest = k.let("long", min_chain([f"i{r}" for r in range(R)], "max"), "ihi")
    u_lo = k.let("long", f"max(0L, {first} - {highest} * {g.sh})", "ulo")
    u_hi = k.let("long", f"min((long){dim_c(g.KH)}, {first} + {count} - {lowest} * {g.sh})", "uhi")
    return u_lo, u_hi


def min_chain(names, fn):
    expr = names[0]
    for name in names[1:]:
        expr = f"{fn}({expr}, {name})"
    return expr


def taps(k: Kernel, KW):
    """The filter columns: written out when few and known (the C compiler
    then folds the offsets), else a loop."""
    if isinstance(KW, int) and KW <= 16:
        for v in range(KW):
            with k.block(""):
                yield str(v)
        return
    with k.block(f"for (long v = 0; v < {dim_c(KW)}; v++)", loop=True):
        yield "v"


# ---- filter gradients (CPU) -------------------------------------------------------------
def filter_grad_geometry(node: Node):
    """gk[o, c, u, v] = sum_{n, i, j} gy[n, o, i, j] * x[n, c, i*sh + kh-1-u, j*sw + kw-1-v]
    of a valid conv2d: (N, C, H, W, O, OH, OW, KH, KW, sh, sw)."""
    x, gy = node.inputs
    N, C, H, W = x.type.shape
    _, O, OH, OW = gy.type.shape
    KH, KW = node.type.shape[2:]
    sh, sw = node.attr("stride")
    return N, C, H, W, O, OH, OW, KH, KW, sh, sw


def dot_block(P, O):
    """(MO filters, NP taps) per work-item: the most dot products that fit
    in the registers beside their MO + NP operand vectors."""
    best = None
    for mo in range(1, REGISTERS + 1):
        for np_ in range(1, REGISTERS + 1):
            if mo * np_ + mo + np_ > REGISTERS + 2:
                continue
            waste = 0.0
            for d, b in ((O, mo), (P, np_)):
                if isinstance(d, int):
                    waste += (-(-d // b) * b - d) / d
            score = (mo * np_ * (1 - waste), np_)
            if best is None or score > best[0]:
                best = (score, mo, np_)
    return best[1], best[2]


def filter_grad_cpu(k: Kernel, geo, x: str, gy: str, t: str, epilogue) -> Grid:
    N, C, H, W, O, OH, OW, KH, KW, sh, sw = geo
    width = width_of("f32" if t == "float" else "f64")
    P = prod_c((C, KH, KW))
    taps_n = prod_c((KH, KW))
    MO, NP = dot_block(C * KH * KW if all(isinstance(d, int) for d in (C, KH, KW)) else None,
                       O)
    kh, kw, Wc = dim_c(KH), dim_c(KW), dim_c(W)
    vec = f"{t}{width}"
    local, chunk = dot_schedule(C, KH, KW, OH, OW, MO, NP, width)
    k.line(f"const long pb = get_global_id(0) * {NP}, o0 = get_global_id(1) * {MO};")
    for b in range(NP):      # taps past the end compute the last one again; never stored
        k.line(f"const long p{b} = min(pb + {b}, (long){P} - 1);")
        k.line(f"const long c{b} = p{b} / {taps_n}, u{b} = p{b} % {taps_n} / {kw}, "
               f"v{b} = p{b} % {kw};")
        k.line(f"const __global {t}* x{b} = {x} + c{b} * {prod_c((H, W))} "
               f"+ ({kh} - 1 - u{b}) * {Wc} + ({kw} - 1 - v{b});")
    for a in range(MO):
        k.line(f"const __global {t}* g{a} = {gy} + min(o0 + {a}, (long){dim_c(O)} - 1) "
               f"* {prod_c((OH, OW))};")
    for a in range(MO):
        for b in range(NP):
            k.line(f"{vec} acc{a}_{b} = ({vec})0;")
    # a barrier after every `chunk` images: pocl runs the group's work-items
    # (neighbouring taps) chunk by chunk, so the chunk's images stay in cache
    with k.block(f"for (long n0 = 0; n0 < {dim_c(N)}; n0 += {chunk})", loop=True):
        with k.block(f"for (long n = n0; n < min(n0 + {chunk}, (long){dim_c(N)}); n++)", loop=True):
            filter_grad_rows(k, geo, MO, NP, width, t)
        k.line("barrier(CLK_LOCAL_MEM_FENCE);")
    store_filter_grads(k, geo, MO, NP, width, t, epilogue)
    k.attributes = reqd((local, 1))
    return Grid(((C, KH, KW), (O,)), (NP, MO), (local, 1))


def dot_schedule(C, KH, KW, OH, OW, MO, NP, width):
    """(work-items per group, images between barriers): a group takes up to
    32 tap blocks; a chunk is about 1024 multiply-adds per work-item."""
    blocks = -(-(C * KH * KW) // NP) if all(isinstance(d, int) for d in (C, KH, KW)) else 32
    per_image = OH * -(-OW // width) * MO * NP if isinstance(OH, int) and isinstance(OW, int) else 1024
    return min(blocks, 32), max(1, 1024 // per_image)


def filter_grad_rows(k, geo, MO, NP, width, t):
    """Image n's contribution: per gy row, vectors along j."""
    N, C, H, W, O, OH, OW, KH, KW, sh, sw = geo
    Wc = dim_c(W)
    vt = k.vector_type(t, width)
    vec = f"{t}{width}"
    pairs = [(a, b) for a in range(MO) for b in range(NP)]
    with k.block(f"for (long i = 0; i < {dim_c(OH)}; i++)", loop=True):
        k.line(f"const long xo = n * {prod_c((C, H, W))} + i * {sh} * {Wc};")
        k.line(f"const long go = n * {prod_c((O, OH, OW))} + i * {dim_c(OW)};")
        k.line("long j = 0;")
        with k.block(f"for (; j + {width} <= {dim_c(OW)}; j += {width})", loop=True):
            for a in range(MO):
                k.line(f"const {vec} gv{a} = *(const __global {vt}*)(g{a} + go + j);")
            for b in range(NP):
                if sw == 1:
                    k.line(f"const {vec} xv{b} = *(const __global {vt}*)(x{b} + xo + j);")
                else:
                    lanes = ", ".join(f"x{b}[xo + (j + {lane}) * {sw}]" for lane in range(width))
                    k.line(f"const {vec} xv{b} = ({vec})({lanes});")
            for a, b in pairs:
                k.line(f"acc{a}_{b} = gv{a} * xv{b} + acc{a}_{b};")
        if isinstance(OW, int) and OW % width == 0:
            return
        # the row's tail goes into lane 0: no scalar accumulators live in the main loop
        with k.block(f"for (; j < {dim_c(OW)}; j++)", loop=True):
            for a, b in pairs:
                k.line(f"acc{a}_{b}.s0 += g{a}[go + j] * x{b}[xo + j * {sw}];")


def store_filter_grads(k, geo, MO, NP, width, t, epilogue):
    """Sum each dot product's lanes and store it through the epilogue."""
    N, C, H, W, O, OH, OW, KH, KW, sh, sw = geo
    P, taps_n, kw = prod_c((C, KH, KW)), prod_c((KH, KW)), dim_c(KW)
    pairs = [(a, b) for a in range(MO) for b in range(NP)]
    with k.block(f"for (int a = 0; a < {MO}; a++)"):
        k.line(f"const long o = o0 + a; if (o >= {dim_c(O)}) break;")
        with k.block(f"for (int b = 0; b < {NP}; b++)"):
            k.line(f"const long p = pb + b; if (p >= {P}) break;")
            k.line(f"{t} acc = 0;")
            for a, b in pairs:
                lanes = " + ".join(f"acc{a}_{b}.s{l:x}" for l in range(width))
                k.line(f"if (a == {a} && b == {b}) acc = {lanes};")
            k.line(f"const long c = p / {taps_n}, u = p % {taps_n} / {kw}, v = p % {kw};")
            epilogue(["o", "c", "u", "v"], "acc")


# ---- image gradients (CPU), without a padded copy -------------------------------------------
ROW = 8     # gy rows up to this long, and filters up to this wide


def scatters_rows(n: Node) -> bool:
    """An image gradient the CPU computes from gy itself (image_grad_cpu):
    valid mode, stride 1, gy rows of at most ROW elements and filters at
    most ROW wide (LeNet's second layer: rows of 8, 5x5 filters)."""
    gy, w = n.inputs
    OW, KW = gy.type.shape[3], w.type.shape[3]
    return (n.attr("mode") == "valid" and tuple(n.attr("stride")) == (1, 1)
            and isinstance(OW, int) and OW <= ROW and isinstance(KW, int) and KW <= ROW)


def shifted(off: int, m: int, v: int, OW: int, KW: int) -> str | None:
    """Lanes off..off+m-1 of gy's row shifted right by KW-1-v, zeros shifted
    in: a register shuffle of `row` and `zeros` (lane ROW + 0 is a zero);
    None when every lane is a zero."""
    lanes = []
    for b in range(off, off + m):
        j = b + v - (KW - 1)
        lanes.append(j if 0 <= j < OW else ROW)
    if all(lane == ROW for lane in lanes):
        return None
    if m == 1:
        return f"row.s{lanes[0]:x}" if lanes[0] < ROW else "zeros.s0"
    return f"__builtin_shufflevector(row, zeros, {', '.join(map(str, lanes))})"


def image_grad_cpu(k: Kernel, n: Node, gy: str, w: str, t: str, epilogue) -> Grid:
    """gx[n, c, a, b] = sum_{o, u, v} gy[n, o, a+u-(KH-1), b+v-(KW-1)] * w[o, c, u, v],
    summed in the order (o, u, v) of the valid convolution of the padded
    gy that the other targets run, so the values are the same to the bit
    (a zero term adds nothing). A work-item owns MB channels of one output
    row. Per (o, u) it loads gy's row once and makes each shift v from it
    with register shuffles: no padded copy of gy is written to memory, and
    rows of zeros are not visited (a private padded row was 2.7x slower:
    its scalar stores stall the vector loads after them).""" 
    N, O, OH, OW = n.inputs[0].type.shape
    _, C, KH, KW = n.inputs[1].type.shape
    H, W = n.type.shape[2:]
    width = width_of("f32" if t == "float" else "f64")
    chunks = split_width(W, width)
    offsets = [sum(chunks[:i]) for i in range(len(chunks))]
    MB, _ = block_shape(C, 1, chunks)
    plain = [t if m == 1 else f"{t}{m}" for m in chunks]
    Cc, Hc, Oc = dim_c(C), dim_c(H), dim_c(O)
    k.line(f"const long c0 = get_global_id(0) * {MB}, g = get_global_id(1);")
    k.line(f"if (c0 >= {Cc} || g >= {prod_c((N, H))}) return;")
    k.line(f"const long n = g / {Hc}, a = g % {Hc};")
    # the taps u that meet a row of gy: 0 <= a + u - (KH-1) < OH
    k.line(f"const long ulo = max(0L, {dim_c(KH)} - 1 - a), "
           f"uhi = min((long){dim_c(KH)}, {dim_c(KH)} - 1 - a + {dim_c(OH)});")
    for c in range(MB):     # channels past C compute the last one again; never stored
        k.line(f"const __global {t}* w{c} = {w} + min(c0 + {c}, (long){Cc} - 1) * {prod_c((KH, KW))};")
        for i in range(len(chunks)):
            k.line(f"{plain[i]} acc{c}_{i} = ({plain[i]})0;")
    row_t = f"{t}{ROW}"
    k.line(f"const {row_t} zeros = ({row_t})0;")
    with k.block(f"for (long o = 0; o < {Oc}; o++)", loop=True):
        k.line(f"const __global {t}* gyo = {gy} + (n * {Oc} + o) * {prod_c((OH, OW))};")
        k.line(f"const long wo = o * {prod_c((C, KH, KW))};")
        with k.block("for (long u = ulo; u < uhi; u++)", loop=True):
            k.line(f"const __global {t}* at = gyo + (a + u - ({dim_c(KH)} - 1)) * {OW};")
            if OW == ROW:
                k.line(f"const {row_t} row = *(const __global {k.vector_type(t, ROW)}*)at;")
            else:
                lanes = [f"at[{j}]" for j in range(OW)] + ["0"] * (ROW - OW)
                k.line(f"const {row_t} row = ({row_t})({', '.join(lanes)});")
            k.line(f"const long wu = wo + u * {KW};")
            for v in range(KW):
                # a chunk the shift leaves all zeros adds nothing: skipped
                shifts = {i: shifted(off, m, v, OW, KW) for i, (off, m) in enumerate(zip(offsets, chunks))}
                live = [i for i, shift in shifts.items() if shift is not None]
                for i in live:
                    k.line(f"const {plain[i]} s{v}_{i} = {shifts[i]};")
                for c in range(MB):
                    k.line(f"const {t} wv{c}_{v} = w{c}[wu + {v}];")
                    for i in live:
                        k.line(f"acc{c}_{i} = wv{c}_{v} * s{v}_{i} + acc{c}_{i};")
    spill_lanes(k, t, [f"acc{c}_" for c in range(MB)], chunks)
    with k.block(f"for (int c = 0; c < {MB}; c++)"):
        k.line(f"const long m = c0 + c; if (m >= {Cc}) break;")
        with k.block(f"for (long b = 0; b < {W}; b++)"):
            k.line(f"const {t} acc = res[c * {W} + b];")
            epilogue(["n", "m", "a", "b"], "acc")
    k.attributes = reqd((1, 4))
    return Grid(((C,), (N, H)), (MB, 1), (1, 4))


# ---- the conv_pad pass: every convolution a valid one over a buffer -----------------------
def placed(g: Node, starts, step, size) -> Node:
    """g's last two axes placed every `step` from `starts` in zeros of
    `size` (an unslice); g itself when that changes nothing."""
    shape = g.type.shape
    if all(s == 0 for s in starts) and tuple(step) == (1, 1) and tuple(size) == tuple(shape[2:]):
        return g
    items = tuple(("slice", 0, d, 1, d) for d in shape[:2])
    for start, st, length in zip(starts, step, shape[2:]):
        stop = dim_add(dim_add(start, dim_mul(st, dim_sub(length, 1))), 1)
        items += (("slice", start, stop, st, length),)
    return apply(Op.UNSLICE, (g,), g.span, type=TensorType(g.type.dtype, shape[:2] + tuple(size)),
                 items=items)


def padded(x: Node, window) -> Node:
    """x zero-padded by window - 1 on each side (a full convolution's input)."""
    starts = [dim_sub(w, 1) for w in window]
    size = [dim_add(d, dim_mul(2, s)) for d, s in zip(x.type.shape[2:], starts)]
    return placed(x, starts, (1, 1), size)


def image_grad_as_conv(n: Node, gy: Node, k: Node) -> Node:
    """conv2d_grad_x(gy, k) = conv2d valid of gy dilated by the stride
    (placed at kh-1 in valid mode, at 0 in full mode, in zeros of h + kh - 1)
    with the filters transposed (o <-> c) and flipped back."""
    kh, kw = k.type.shape[2:]
    h, w = n.type.shape[2:]
    starts = (dim_sub(kh, 1), dim_sub(kw, 1)) if n.attr("mode") == "valid" else (0, 0)
    gyd = placed(gy, starts, n.attr("stride"), (dim_add(h, dim_sub(kh, 1)), dim_add(w, dim_sub(kw, 1))))
    kt = apply(Op.TRANSPOSE, (k,), n.span, perm=(1, 0, 2, 3))
    full = tuple(("slice", 0, d, 1, d) for d in kt.type.shape[:2])
    flip = tuple(("slice", dim_sub(d, 1), None, -1, d) for d in kt.type.shape[2:])
    kt = apply(Op.SLICE, (kt,), n.span, items=full + flip)
    return node(Op.CONV2D, (gyd, kt), n.type, n.span, mode="valid", stride=(1, 1))


def valid_convolutions(roots: list, origin: dict, target: str = "cpu") -> list:
    """Rewrite full-mode convolutions and image gradients as valid
    convolutions of padded buffers (see the module doc), but for the image
    gradients the CPU computes directly (`scatters_rows`)."""
    new: dict[int, Node] = {}
    for n in toposort(roots):
        inputs = tuple(new[id(i)] for i in n.inputs)
        m = with_inputs(n, inputs)
        if n.op == Op.CONV2D_GRAD_X and not (target == "cpu" and scatters_rows(n)):
            m = image_grad_as_conv(n, *inputs)
        elif n.op in (Op.CONV2D, Op.CONV2D_GRAD_K) and n.attr("mode") == "full":
            window = inputs[1].type.shape[2:] if n.op == Op.CONV2D else n.attr("kernel")
            first = padded(inputs[0], window)
            m = Node(n.op, (first,) + inputs[1:], n.type,
                     tuple((a, "valid" if a == "mode" else v) for a, v in n.attrs), n.span)
        if m is not n and n.op in (Op.CONV2D, Op.CONV2D_GRAD_X, Op.CONV2D_GRAD_K):
            origin[id(m)] = n
        new[id(n)] = m
    return [new[id(r)] for r in roots]


# ---- kernels for the graph's conv nodes -----------------------------------------------------
def conv_kernel(k: Kernel, root: Node, core: Node, target: str) -> Grid:
    """The kernel computing `core` (a valid conv2d or conv2d_grad_k, after
    the conv_pad pass), storing through `root`, an elementwise epilogue
    reading core at its own index (or core itself)."""
    t = CTYPE[core.type.dtype]
    a = k.pointer(k.ctx.buffer_of(core.inputs[0]))
    b = k.pointer(k.ctx.buffer_of(core.inputs[1]))
    shape = core.type.shape

    def epilogue(axes, acc):
        ix = Ix(axes)
        k.overrides[id(core)] = lambda _ix: acc
        store(k, root, ix.flat_in(shape), acc if root is core else k.compute(root, ix))

    if core.op == Op.CONV2D_GRAD_X:     # the conv_pad pass left it: see scatters_rows
        return image_grad_cpu(k, core, a, b, t, epilogue)
    if core.op == Op.CONV2D:
        geo = conv_geometry(core)
        if target == "cpu":
            return correlate_cpu(k, geo, a, b, t, epilogue)
        return correlate_gpu(k, geo, a, b, t, epilogue)
    geo = filter_grad_geometry(core)
    if target == "cpu":
        return filter_grad_cpu(k, geo, a, b, t, epilogue)
    return filter_grad_gpu(k, geo, a, b, t, epilogue)


# ---- GPU renderings -------------------------------------------------------------------------
def correlate_gpu(k: Kernel, g: Correlation, x: str, w: str, t: str, epilogue) -> Grid:
    """One work-item per output element; the work-group (GPU_LOCAL outputs
    of one channel m) stages GPU_LOCAL filter taps at a time in local memory."""
    T = GPU_LOCAL
    N, Q, H, W, M, OH, OW = (dim_c(d) for d in (g.N, g.Q, g.H, g.W, g.M, g.OH, g.OW))
    base, sm, sq, su, sv = g.w_strides
    taps_n = prod_c((g.KH, g.KW))
    total = prod_c((g.Q, g.KH, g.KW))
    outputs = prod_c((g.N, g.OH, g.OW))
    k.line("const long e = get_global_id(0), m = get_global_id(1);")
    k.line("const int lid = get_local_id(0);")
    k.line(f"const long pos = min(e, (long){outputs} - 1);")
    k.line(f"const long n = pos / {prod_c((g.OH, g.OW))}, i = pos / {OW} % {OH}, j = pos % {OW};")
    k.line(f"const __global {t}* xr = {x} + n * {prod_c((g.Q, g.H, g.W))} "
           f"+ i * {g.sh} * {W} + j * {g.sw};")
    k.line(f"__local {t} taps[{T}];")
    k.line(f"{t} acc = 0;")
    with k.block(f"for (long t0 = 0; t0 < {total}; t0 += {T})", loop=True):
        k.line("const long tl = t0 + lid;")
        k.line(f"const long lq = tl / {taps_n}, lu = tl % {taps_n} / {dim_c(g.KW)}, "
               f"lv = tl % {dim_c(g.KW)};")
        k.line(f"taps[lid] = tl < {total} ? {w}[{base} + m * {sm} + lq * {sq} + lu * {su} "
               f"+ lv * {sv}] : ({t})0;")
        k.line("barrier(CLK_LOCAL_MEM_FENCE);")
        with k.block(f"for (int s = 0; s < {T} && t0 + s < {total}; s++)", loop=True):
            k.line("const long tt = t0 + s;")
            k.line(f"const long q = tt / {taps_n}, u = tt % {taps_n} / {dim_c(g.KW)}, "
                   f"v = tt % {dim_c(g.KW)};")
            k.line(f"acc += taps[s] * xr[q * {prod_c((g.H, g.W))} + u * {W} + v];")
        k.line("barrier(CLK_LOCAL_MEM_FENCE);")
    with k.block(f"if (e < {outputs})"):
        epilogue(["n", "m", "i", "j"], "acc")
    k.attributes = reqd((T, 1))
    return Grid(((g.N, g.OH, g.OW), (g.M,)), (1, 1), (T, 1))


def filter_grad_gpu(k: Kernel, geo, x: str, gy: str, t: str, epilogue) -> Grid:
    """One work-group per filter tap gk[o, c, u, v]: its work-items take
    strided shares of the (n, i, j) sum, combined in local memory."""
    N, C, H, W, O, OH, OW, KH, KW, sh, sw = geo
    T = GPU_LOCAL
    kh, kw = dim_c(KH), dim_c(KW)
    taps_n = prod_c((KH, KW))
    k.line("const long p = get_group_id(0), o = get_global_id(1);")
    k.line("const int lid = get_local_id(0);")
    k.line(f"const long c = p / {taps_n}, u = p % {taps_n} / {kw}, v = p % {kw};")
    k.line(f"const __global {t}* xp = {x} + c * {prod_c((H, W))} + ({kh} - 1 - u) * {dim_c(W)} "
           f"+ ({kw} - 1 - v);")
    k.line(f"const __global {t}* gp = {gy} + o * {prod_c((OH, OW))};")
    k.line(f"__local {t} part[{T}];")
    k.line(f"{t} acc = 0;")
    with k.block(f"for (long e = lid; e < {prod_c((N, OH, OW))}; e += {T})", loop=True):
        k.line(f"const long n = e / {prod_c((OH, OW))}, i = e / {dim_c(OW)} % {dim_c(OH)}, "
               f"j = e % {dim_c(OW)};")
        k.line(f"acc += gp[n * {prod_c((O, OH, OW))} + i * {dim_c(OW)} + j] "
               f"* xp[n * {prod_c((C, H, W))} + i * {sh} * {dim_c(W)} + j * {sw}];")
    k.line("part[lid] = acc;")
    k.line("barrier(CLK_LOCAL_MEM_FENCE);")
    with k.block(f"for (int s = {T // 2}; s > 0; s >>= 1)", loop=True):
        with k.block("if (lid < s)"):
            k.line("part[lid] += part[lid + s];")
        k.line("barrier(CLK_LOCAL_MEM_FENCE);")
    with k.block("if (lid == 0)"):
        k.line(f"const {t} total = part[0];")
        epilogue(["o", "c", "u", "v"], "total")
    k.attributes = reqd((T, 1))
    return Grid(((C, KH, KW, T), (O,)), (1, 1), (T, 1))


# ---- pooling: inline lowerings ----------------------------------------------------------------
def window_rows(n: Node, i: str, axis: int):
    """(first input row of window i, window size, stride, input size) on axis 2 or 3."""
    size = n.inputs[0].type.shape[axis]
    window, stride = n.attr("window")[axis - 2], n.attr("stride")[axis - 2]
    return f"({i} * {stride})", window, stride, size


def window_cells(k: Kernel, n: Node, r0: str, c0: str):
    """Yield (cell, row, col, inside) for each cell of the window at (r0,
    c0), cell its row-major position in the window; `inside` is a C
    condition, "1" when every window lies in the input."""
    (ph, pw), H, W = n.attr("window"), n.inputs[0].type.shape[2], n.inputs[0].type.shape[3]
    for u, v in k.each([ph, pw]):
        row, col = k.let("long", f"{r0} + {u}", "r"), k.let("long", f"{c0} + {v}", "c")
        inside = "1" if n.attr("ignore_border") else f"{row} < {dim_c(H)} && {col} < {dim_c(W)}"
        yield f"{u} * {pw} + {v}", row, col, inside


def window_count(n: Node, r0: str, c0: str) -> str:
    """The number of input elements in the window (fewer at a partial edge)."""
    (ph, pw), H, W = n.attr("window"), n.inputs[0].type.shape[2], n.inputs[0].type.shape[3]
    if n.attr("ignore_border"):
        return str(ph * pw)
    return (f"(min((long){r0} + {ph}, (long){dim_c(H)}) - {r0}) * "
            f"(min((long){c0} + {pw}, (long){dim_c(W)}) - {c0})")


def emit_pool(k: Kernel, n: Node, ix: Ix) -> str:
    """The max (NaN wins, as numpy's) or mean of one window."""
    x = n.inputs[0]
    t = VTYPE[n.type.dtype]
    b, c, i, j = ix.axes
    r0, c0 = k.let("long", f"{i} * {n.attr('stride')[0]}", "r"), \
        k.let("long", f"{j} * {n.attr('stride')[1]}", "c")
    is_max = n.attr("kind") == "max"
    acc = k.var(t, f"-({t})INFINITY" if is_max else "0", "p")
    for _, row, col, inside in window_cells(k, n, r0, c0):
        with k.block(f"if ({inside})" if inside != "1" else ""):
            v = k.value(x, Ix([b, c, row, col]))
            k.line(f"{acc} = {replaces(v, acc)} ? {v} : {acc};" if is_max
                   else f"{acc} += {v};")
    if is_max:
        return acc
    return f"{acc} / ({t})({window_count(n, r0, c0)})"


def emit_pool_grad(k: Kernel, n: Node, ix: Ix) -> str:
    """An input element's gradient: the sum over the windows that contain
    it of its share (max: the whole gy of a window whose first maximum it
    is; mean: gy / the window's count). No atomics: each element gathers."""
    if tuple(n.attr("window")) == tuple(n.attr("stride")):
        return tiled_pool_grad(k, n, ix)
    x, gy = n.inputs
    t = VTYPE[n.type.dtype]
    b, c, a, e = ix.axes
    (ph, pw), (sh, sw) = n.attr("window"), n.attr("stride")
    OH, OW = gy.type.shape[2:]
    acc = k.var(t, "0", "g")
    bounds = []
    for pos, win, st, out in ((a, ph, sh, OH), (e, pw, sw, OW)):
        pos = k.let("long", f"(long)({pos})", "a")
        lo = k.let("long", f"{pos} - {win - 1} <= 0 ? 0 : ({pos} - {win - 1} + {st - 1}) / {st}", "lo")
        hi = k.let("long", f"min({pos} / {st}, (long){dim_c(out)} - 1)", "hi")
        bounds.append((lo, hi))
    (ilo, ihi), (jlo, jhi) = bounds
    with k.block(f"for (long wi = {ilo}; wi <= {ihi}; wi++)", loop=True):
        with k.block(f"for (long wj = {jlo}; wj <= {jhi}; wj++)", loop=True):
            r0, c0 = k.let("long", f"wi * {sh}", "r"), k.let("long", f"wj * {sw}", "c")
            g = k.value(gy, Ix([b, c, "wi", "wj"]))
            if n.attr("kind") == "mean":
                k.line(f"{acc} += {g} / ({t})({window_count(n, r0, c0)});")
            else:
                at = first_maximum(k, n, x, b, c, r0, c0)
                k.line(f"if ({at} == ({a} - {r0}) * {pw} + ({e} - {c0})) {acc} += {g};")
    return acc


def tiled_pool_grad(k: Kernel, n: Node, ix: Ix) -> str:
    """Windows that tile the input (stride = window): an element is in at
    most one window, (a // ph, e // pw). Selects, no loops or branches, so
    pocl can run the work-items as vector lanes."""
    x, gy = n.inputs
    t = VTYPE[n.type.dtype]
    b, c, a, e = ix.axes
    ph, pw = n.attr("window")
    OH, OW = gy.type.shape[2:]
    i = k.let("long", f"(long)({a}) / {ph}", "wi")
    j = k.let("long", f"(long)({e}) / {pw}", "wj")
    inside = k.let("int", all_of([f"{i} < {dim_c(OH)}", f"{j} < {dim_c(OW)}"]), "within")
    i, j = k.let("long", f"{inside} ? {i} : 0", "wi"), k.let("long", f"{inside} ? {j} : 0", "wj")
    r0, c0 = k.let("long", f"{i} * {ph}", "r"), k.let("long", f"{j} * {pw}", "c")
    g = k.value(gy, Ix([b, c, i, j]))
    if n.attr("kind") == "mean":
        share = f"{g} / ({t})({window_count(n, r0, c0)})"
    else:
        at = first_maximum(k, n, x, b, c, r0, c0)
        share = f"{at} == ({a} - {r0}) * {pw} + ({e} - {c0}) ? {g} : ({t})0"
    return f"{inside} ? {share} : ({t})0"


def replaces(v: str, best: str) -> str:
    """C: `v` replaces the maximum so far, `best` (scalars or vectors): best
    is a number and v is not at most best (greater, or NaN), so the first
    maximum and the first NaN win (numpy's max and argmax); written without
    `||` so that pocl runs the work-items as vector lanes (measured: 4x
    faster per window)."""
    return f"({best} == {best}) & !({v} <= {best})"


def first_maximum(k: Kernel, n: Node, x: Node, b: str, c: str, r0: str, c0: str) -> str:
    """The row-major position in the window at (r0, c0) of its first
    maximum (`replaces`)."""
    t = VTYPE[n.type.dtype]
    best = k.var(t, k.value(x, Ix([b, c, r0, c0])), "best")
    at = k.var("int", "0", "at")
    for cell, row, col, inside in window_cells(k, n, r0, c0):
        with k.block(f"if ({inside})" if inside != "1" else ""):
            v = k.value(x, Ix([b, c, row, col]))
            up = k.let("int", replaces(v, best), "up")
            k.line(f"{best} = {up} ? {v} : {best}; {at} = {up} ? {cell} : {at};")
    return at


QUAD = 4        # windows a work-item, where windows are read as vectors


def vector_windows(k: Kernel, n: Node) -> bool:
    """n's windows (a pooling's, or its gradient's) can be read as float8
    rows, QUAD windows side by side: on a CPU, 2x2 of stride 2, f32, the
    input a buffer, the windows inside it, rows of a known width that is a
    multiple of 2 * QUAD."""
    x = n.inputs[0]
    C, H, W = x.type.shape[1:]
    OW = (n if n.op == Op.POOL2D else n.inputs[1]).type.shape[3]
    return (k.ctx.options.target == "cpu" and tuple(n.attr("window")) == (2, 2)
            and tuple(n.attr("stride")) == (2, 2) and n.attr("ignore_border")
            and n.type.dtype == "f32" and k.ctx.has_buffer(x)
            and all(isinstance(d, int) for d in (C, H, W, OW)) and W == 2 * OW and OW % QUAD == 0)


def window_cells_as_vectors(k: Kernel, x: Node, b: str, c: str, i: str, q: str) -> tuple:
    """(first, cells): the flat index in x of the QUAD windows q * QUAD ...
    on pooled row i, and their cells (0, 0), (0, 1), (1, 0), (1, 1), each a
    float4 with window j in lane j: the two input rows read as float8,
    split into even and odd lanes."""
    C, H, W = x.type.shape[1:]
    ptr = k.pointer(k.ctx.buffer_of(x))
    first = k.let("long", f"(((long)({b}) * {C} + {c}) * {H} + 2 * {i}) * {W} + {2 * QUAD} * {q}", "x")
    rows = [k.let("float8", f"vload8(0, {ptr} + {first} + {W * u})", "w") for u in (0, 1)]
    return first, [k.let("float4", f"{row}.{half}") for row in rows for half in ("even", "odd")]


def inline_pooling(k: Kernel, root: Node) -> Node | None:
    """The pooling that a map kernel's root reads at its own index (itself,
    or through same-shape elementwise nodes without buffers: LeNet's
    pooling + bias + tanh), when its windows can be read as vectors."""
    if root.type.rank != 4 or not (root.op == Op.POOL2D or root.op in ELEMENTWISE_OPS):
        return None
    found, stack, seen = [], [root], {id(root)}
    while stack:
        n = stack.pop()
        if n.op == Op.POOL2D:
            found.append(n)
        elif n is root or n.op in ELEMENTWISE_OPS and not k.ctx.has_buffer(n):
            for i in n.inputs:
                if id(i) not in seen and i.type.shape == root.type.shape and not k.ctx.has_buffer(i):
                    seen.add(id(i))
                    stack.append(i)
    return found[0] if len(found) == 1 and vector_windows(k, found[0]) else None


def pooled_map_kernel(k: Kernel, root: Node, pool: Node) -> Grid:
    """map_kernel for a root that reads a pooling at its own index: each
    work-item computes QUAD outputs along a row from its windows read as
    vectors, where map_kernel reads 4 scalars at stride 2 per output
    (LeNet's first pooling + bias + tanh: 4.9 -> 3.6 ms a step). The cells
    are compared (or summed) in emit_pool's order, so the values are the
    same bits; the rest of the root's expression is computed per output, as
    map_kernel does."""
    B, C, OH, OW = root.type.shape
    shape = (B, C, OH, OW // QUAD)
    ix, store_if = item_per_element(k, shape)
    b, c, i, q = ix.axes
    is_max = pool.attr("kind") == "max"
    acc = k.var("float4", "(float4)(-INFINITY)" if is_max else "(float4)0", "p")
    for v in window_cells_as_vectors(k, pool.inputs[0], b, c, i, q)[1]:
        k.line(f"{acc} = {replaces(v, acc)} ? {v} : {acc};" if is_max
               else f"{acc} += {v};")
    lanes = {}
    for lane, axes in enumerate(quad_indices(k, b, c, i, q)):
        lanes[axes] = f"{acc}.s{lane}" if is_max \
            else f"{acc}.s{lane} / (float)({window_count(pool, '0', '0')})"
    k.overrides[id(pool)] = lambda at_ix: lanes.get(at_ix.key()) or emit_pool(k, pool, at_ix)
    for lane, axes in enumerate(lanes):
        value = k.value(pool, Ix(axes)) if root is pool else k.compute(root, Ix(axes))
        k.line(f"{store_if}out[gid * {QUAD} + {lane}] = ({CTYPE[root.type.dtype]})({value});")
    return finish_item_per_element(k, shape)


def quad_indices(k: Kernel, b: str, c: str, i: str, q: str) -> list[tuple]:
    """The pooled indices (b, c, i, j) of the QUAD windows q * QUAD ..."""
    j0 = k.let("long", f"{QUAD} * {q}", "j")
    return [(b, c, i, f"{j0} + {lane}") for lane in range(QUAD)]


def windows_tile(n: Node) -> bool:
    """A max-pooling gradient whose windows tile its input exactly (stride =
    window, every element in one window, sizes known): one work-item per
    window can write all of the window's elements."""
    if n.op != Op.POOL2D_GRAD or n.attr("kind") != "max":
        return False
    (ph, pw), (sh, sw) = n.attr("window"), n.attr("stride")
    H, W = n.type.shape[2:]
    OH, OW = n.inputs[1].type.shape[2:]
    return ((ph, pw) == (sh, sw) and all(isinstance(d, int) for d in (H, W, OH, OW))
            and OH * ph == H and OW * pw == W)


def window_grad_kernel(k: Kernel, root: Node) -> Grid:
    """The max-pooling gradient one work-item per window: the window's
    first maximum found once, then each of its elements written (gy's
    element at the maximum, zeros elsewhere). One work-item per element
    finds its window's maximum once per element (measured on LeNet's first
    layer: 15 ms against 3.4 ms a step)."""
    if vector_windows(k, root):
        return window_grad_vectors_kernel(k, root)
    x, gy = root.inputs
    shape = gy.type.shape
    ix, store_if = item_per_element(k, shape)
    b, c, i, j = ix.axes
    (ph, pw), (C, H, W) = root.attr("window"), root.type.shape[1:]
    r0, c0 = k.let("long", f"{i} * {ph}", "r"), k.let("long", f"{j} * {pw}", "c")
    at = first_maximum(k, root, x, b, c, r0, c0)
    g = k.value(gy, Ix([b, c, i, j]))
    t = VTYPE[root.type.dtype]
    for cell, row, col, _ in window_cells(k, root, r0, c0):
        flat = f"(((long)({b}) * {dim_c(C)} + {c}) * {H} + {row}) * {W} + {col}"
        k.line(f"{store_if}out[{flat}] = ({CTYPE[root.type.dtype]})({at} == {cell} ? {g} : ({t})0);")
    return finish_item_per_element(k, shape)


def window_grad_vectors_kernel(k: Kernel, root: Node) -> Grid:
    """window_grad_kernel for windows read as vectors: QUAD windows a
    work-item, their first maxima found in float4 lanes in first_maximum's
    order, each of the two rows written as one float8 (LeNet's first
    pooling gradient: 5.0 -> 2.1 ms a step). The same bits."""
    x, gy = root.inputs
    B, C, OH, OW = gy.type.shape
    W = root.type.shape[3]
    shape = (B, C, OH, OW // QUAD)
    ix, store_if = item_per_element(k, shape)
    b, c, i, q = ix.axes
    first, cells = window_cells_as_vectors(k, x, b, c, i, q)     # the image's index = x's
    best = k.var("float4", cells[0], "best")
    at = k.var("int4", "(int4)0", "at")
    for cell, v in enumerate(cells):
        up = k.let("int4", replaces(v, best), "up")
        k.line(f"{best} = {up} ? {v} : {best}; {at} = {up} ? (int4){cell} : {at};")
    g = k.let("float4", "(float4)(" + ", ".join(k.value(gy, Ix(axes)) for axes in
                                                 quad_indices(k, b, c, i, q)) + ")", "g")
    shares = [k.let("float4", f"{at} == (int4){cell} ? {g} : (float4)0", "s") for cell in range(4)]
    for u in (0, 1):      # the row's cells (u, 0) and (u, 1) interleaved
        k.line(f"{store_if}vstore8(shuffle2({shares[2 * u]}, {shares[2 * u + 1]}, "
               f"(uint8)(0, 4, 1, 5, 2, 6, 3, 7)), 0, out + {first} + {W * u});")
    return finish_item_per_element(k, shape)
