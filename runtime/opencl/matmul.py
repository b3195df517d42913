"""Matmul kernels, with an elementwise epilogue and transposes folded in.

Operands are read as stored: `matmul(transpose(x), g)` reads x's buffer
with swapped strides, never a materialised transpose.

  vec    (CPU, f32/f64) each work-item keeps an MB x NB block of the result
         in vector registers: per k it broadcasts MB scalars of one operand
         and loads NB contiguous elements of the other with unaligned
         vector pointer casts (plain `a * b + c`, no fma/vload calls, which
         pocl does not inline). It computes P = L @ R where R is the operand
         that is contiguous along the result: B itself (P = C), or A^T when
         A is stored transposed (P = C^T, stored back transposed).
  dot    (CPU, f32/f64) A stored as is and B stored transposed: both are
         contiguous along k, so vectors run along k.
  tiled  (GPU, and integers) the textbook local-memory tiled kernel,
         TS x TS work-items per tile.
"""
from __future__ import annotations

from dataclasses import dataclass

from dsl.ir import Node
from dsl.types import Size

from .cgen import CTYPE, dim_c
from .emit import Buf, Ix, Kernel
from .kernels import Grid, reqd, store

TILE = 16
VEC_LOCAL = 4           # work-items per group along the longer block axis
REGISTERS = 12          # accumulators per work-item (AVX2 has 16 vector registers)


@dataclass
class Operand:
    buf: Buf
    transposed: bool       # the buffer holds the operand's transpose, row-major


@dataclass
class Dims:
    M: object
    K: object
    N: object


def operand(ctx, x: Node) -> Operand:
    """The buffer a matmul operand is read from: through one 2-D transpose
    and any reshapes of a contiguous buffer."""
    transposed = False
    if not ctx.has_buffer(x) and x.op == "transpose" and x.type.rank == 2:
        transposed = True
        x = x.inputs[0]
    while not ctx.has_buffer(x) and x.op == "reshape":
        x = x.inputs[0]
    return Operand(ctx.buffer_of(x), transposed)


def operand_pointers(k: Kernel, A: Operand, B: Operand):
    return k.pointer(A.buf), k.pointer(B.buf)


def matmul_dims(m: Node) -> Dims:
    a, b = m.inputs
    M = a.type.shape[0] if a.type.rank == 2 else 1
    K = a.type.shape[-1]
    N = b.type.shape[1] if b.type.rank == 2 else 1
    return Dims(M, K, N)


def result_ix(m: Node, i: str, j: str, dims: Dims) -> Ix:
    a, b = m.inputs
    axes = ([i] if a.type.rank == 2 else []) + ([j] if b.type.rank == 2 else [])
    return Ix(axes, f"{i} * {dim_c(dims.N)} + {j}")


def store_result(k: Kernel, root: Node, m: Node, i: str, j: str, acc: str, dims: Dims):
    """Write one result element through the epilogue (root is m itself, or
    an elementwise root reading m at this index)."""
    ix = result_ix(m, i, j, dims)
    k.overrides[id(m)] = lambda _ix: acc
    expr = acc if root is m else k.compute(root, ix)
    store(k, root, ix.flat, expr)


# ---- tiled --------------------------------------------------------------------------
def tiled_kernel(k: Kernel, root: Node, m: Node, A: Operand, B: Operand) -> Grid:
    d = matmul_dims(m)
    t = CTYPE[m.type.dtype]
    a, b = operand_pointers(k, A, B)
    M, K, N = dim_c(d.M), dim_c(d.K), dim_c(d.N)
    a_at = (lambda i, kk: f"{a}[({kk}) * {M} + {i}]") if A.transposed else \
        (lambda i, kk: f"{a}[({i}) * {K} + {kk}]")
    b_at = (lambda kk, j: f"{b}[({j}) * {K} + {kk}]") if B.transposed else \
        (lambda kk, j: f"{b}[({kk}) * {N} + {j}]")
    T = TILE
    k.line("const long j = get_global_id(0), i = get_global_id(1);")
    k.line("const int lj = get_local_id(0), li = get_local_id(1);")
    k.line(f"__local {t} As[{T}][{T + 1}];")
    k.line(f"__local {t} Bs[{T}][{T + 1}];")
    k.line(f"{t} acc = 0;")
    with k.block(f"for (long k0 = 0; k0 < {K}; k0 += {T})", loop=True):
        k.line("const long ka = k0 + lj, kb = k0 + li;")
        k.line(f"As[li][lj] = (i < {M} && ka < {K}) ? {a_at('i', 'ka')} : ({t})0;")
        k.line(f"Bs[li][lj] = (kb < {K} && j < {N}) ? {b_at('kb', 'j')} : ({t})0;")
        k.line("barrier(CLK_LOCAL_MEM_FENCE);")
        k.line(f"for (int t = 0; t < {T}; t++) acc += As[li][t] * Bs[t][lj];")
        k.line("barrier(CLK_LOCAL_MEM_FENCE);")
    with k.block(f"if (i < {M} && j < {N})"):
        store_result(k, root, m, "i", "j", "acc", d)
    k.attributes = reqd((T, T))
    return Grid(((d.N,), (d.M,)), (1, 1), (T, T))


# ---- vec (CPU) ----------------------------------------------------------------------
def full_or_edge(k: Kernel, always_full: bool, full: str, body, vector_load, edge_load) -> None:
    """body(vector_load) where every tile of columns is full; otherwise a
    branch on `full`: whole tiles load vectors, the last one clamps its lanes."""
    if always_full:
        body(vector_load)
        return
    with k.block(f"if ({full})"):
        body(vector_load)
    with k.block("else"):
        body(edge_load)


def spill_lanes(k, t: str, blocks: list, chunks: list) -> None:
    """`res`: every lane of the accumulators, block after block: block b's
    chunk i is the vector `{blocks[b]}{i}`, at res[b * sum(chunks) + its
    lanes' offset in the block]."""
    width = sum(chunks)
    k.line(f"{t} res[{len(blocks) * width}];")
    for b, prefix in enumerate(blocks):
        off = 0
        for i, m in enumerate(chunks):
            for lane in range(m):
                value = f"{prefix}{i}" if m == 1 else f"{prefix}{i}.s{lane:x}"
                k.line(f"res[{b * width + off + lane}] = {value};")
            off += m


def split_width(n: int, width: int) -> list[int]:
    """n columns as vector chunks of at most `width` lanes (10 -> [8, 2])."""
    chunks, w = [], width
    while n:
        while w > n:
            w //= 2
        chunks.append(w)
        n -= w
    return chunks


def small(d, limit) -> bool:
    return isinstance(d, int) and d <= limit


def vec_layout(m: Node, A: Operand, B: Operand, width: int):
    """(transposed result?, rows of P, cols of P, MB, chunks) or None when
    neither operand is contiguous along the result."""
    d = matmul_dims(m)
    options = []
    if not B.transposed:
        options.append((False, d.M, d.N))
    if A.transposed or d.M == 1:
        options.append((True, d.N, d.M))
    if not options:
        return None

    def score(opt):     # prefer long vector rows, then exact vector widths
        _, _, pc = opt
        if isinstance(pc, Size) or pc >= 4 * width:
            return 2
        return 1 if pc % width == 0 else 0
    flip, pr, pc = max(options, key=score)
    if small(pr, REGISTERS) and not small(pc, 2 * width):
        mb = pr
        chunks = [width] if pr > REGISTERS // 2 else [width, width]
    else:
        chunks = split_width(pc, width) if small(pc, 2 * width) else [width, width]
        mb = max(1, REGISTERS // len(chunks))
        if isinstance(pr, int):
            mb = min(mb, pr)
    return flip, pr, pc, mb, chunks


def vec_kernel(k: Kernel, root: Node, m: Node, A: Operand, B: Operand, layout) -> Grid:
    flip, PR, PC, MB, chunks = layout
    d = matmul_dims(m)
    t = CTYPE[m.type.dtype]
    NB = sum(chunks)
    a, b = operand_pointers(k, A, B)
    M, K, N = dim_c(d.M), dim_c(d.K), dim_c(d.N)
    if not flip:     # P = A @ B: L = A, R = B (contiguous along N)
        L, R, rsk = a, b, N
        lsr, lsk = ("1", M) if A.transposed else (K, "1")
    else:            # P = B^T @ A^T: L = B^T, R = A^T (stored: contiguous along M)
        L, R, rsk = b, a, M
        lsr, lsk = (K, "1") if B.transposed else ("1", N)
    pr, pc = dim_c(PR), dim_c(PC)
    k.line(f"const long r0 = get_global_id(0) * {MB}, c0 = get_global_id(1) * {NB};")
    k.line(f"if (r0 >= {pr} || c0 >= {pc}) return;")
    for r in range(MB):   # rows past the end read the last row; never stored
        k.line(f"const __global {t}* l{r} = {L} + min(r0 + {r}, (long){pr} - 1) * {lsr};")
    offsets = [sum(chunks[:c]) for c in range(len(chunks))]
    vtypes = [k.vector_type(t, w) for w in chunks]
    plain = [t if w == 1 else f"{t}{w}" for w in chunks]
    for r in range(MB):
        for c in range(len(chunks)):
            k.line(f"{plain[c]} acc{r}_{c} = ({plain[c]})0;")

    def k_loop(load):
        with k.block(f"for (long kk = 0; kk < {K}; kk++)", loop=True):
            k.line(f"const __global {t}* rp = {R} + kk * {rsk} + c0;")
            for c, (off, w) in enumerate(zip(offsets, chunks)):
                k.line(f"const {plain[c]} b{c} = {load(c, off, w)};")
            for r in range(MB):
                k.line(f"const {t} a{r} = l{r}[kk * {lsk}];")
                for c in range(len(chunks)):
                    k.line(f"acc{r}_{c} = a{r} * b{c} + acc{r}_{c};")

    def vector_load(c, off, w):
        return f"rp[{off}]" if w == 1 else f"*(const __global {vtypes[c]}*)(rp + {off})"

    def edge_load(c, off, w):   # lanes past the last column read it again
        lanes = [f"rp[min((long){off + l}, {pc} - 1 - c0)]" for l in range(w)]
        return lanes[0] if w == 1 else f"({plain[c]})({', '.join(lanes)})"

    full_or_edge(k, isinstance(PC, int) and PC % NB == 0, f"c0 + {NB} <= {pc}",
                 k_loop, vector_load, edge_load)
    spill_lanes(k, t, [f"acc{r}_" for r in range(MB)], chunks)
    store_block(k, root, m, d, flip, MB, NB, PR, PC)
    rows_local = 1 if small(PR, VEC_LOCAL * MB) else VEC_LOCAL
    cols_local = VEC_LOCAL if rows_local == 1 else 1
    k.attributes = reqd((rows_local, cols_local))
    return Grid(((PR,), (PC,)), (MB, NB), (rows_local, cols_local))


def store_block(k: Kernel, root: Node, m: Node, d: Dims, flip: bool, MB, NB, PR, PC):
    """Write the work-item's MB x NB block `res` through the epilogue. A
    block wholly inside the result takes a loop with fixed trip counts and
    no bounds checks, which the C compiler unrolls and vectorises."""
    t = CTYPE[m.type.dtype]
    i, j = ("pc", "pr") if flip else ("pr", "pc")

    def loop(guard: bool):
        with k.block(f"for (int r = 0; r < {MB}; r++)"):
            k.line("const long pr = r0 + r;" + (f" if (pr >= {dim_c(PR)}) break;" if guard else ""))
            with k.block(f"for (int c = 0; c < {NB}; c++)"):
                k.line("const long pc = c0 + c;" + (f" if (pc >= {dim_c(PC)}) break;" if guard else ""))
                k.line(f"const {t} acc = res[r * {NB} + c];")
                store_result(k, root, m, i, j, "acc", d)
    whole = [f"r0 + {MB} <= {dim_c(PR)}" if not divides(PR, MB) else "",
             f"c0 + {NB} <= {dim_c(PC)}" if not divides(PC, NB) else ""]
    whole = [w for w in whole if w]
    if not whole:
        loop(False)
        return
    with k.block(f"if ({' && '.join(whole)})"):
        loop(False)
    with k.block("else"):
        loop(True)


def divides(dim, block: int) -> bool:
    return isinstance(dim, int) and dim % block == 0


# ---- dot (CPU): both operands contiguous along k ---------------------------------------
DOT_ROWS, DOT_COLS = 2, 4


def dot_kernel(k: Kernel, root: Node, m: Node, A: Operand, B: Operand, width: int) -> Grid:
    """C = A @ B with A stored as is and B stored transposed: each work-item
    takes 2 x 4 results, vectors along k, a scalar loop for the k tail."""
    d = matmul_dims(m)
    t = CTYPE[m.type.dtype]
    vt = k.vector_type(t, width)
    plain = f"{t}{width}"
    a, b = operand_pointers(k, A, B)
    M, K, N = dim_c(d.M), dim_c(d.K), dim_c(d.N)
    k.line(f"const long r0 = get_global_id(0) * {DOT_ROWS}, c0 = get_global_id(1) * {DOT_COLS};")
    k.line(f"if (r0 >= {M} || c0 >= {N}) return;")
    for r in range(DOT_ROWS):
        k.line(f"const __global {t}* a{r} = {a} + min(r0 + {r}, (long){M} - 1) * {K};")
    for c in range(DOT_COLS):
        k.line(f"const __global {t}* b{c} = {b} + min(c0 + {c}, (long){N} - 1) * {K};")
    pairs = [(r, c) for r in range(DOT_ROWS) for c in range(DOT_COLS)]
    for r, c in pairs:
        k.line(f"{plain} acc{r}_{c} = ({plain})0;")
    k.line("long kk = 0;")
    with k.block(f"for (; kk + {width} <= {K}; kk += {width})", loop=True):
        for r in range(DOT_ROWS):
            k.line(f"const {plain} va{r} = *(const __global {vt}*)(a{r} + kk);")
        for c in range(DOT_COLS):
            k.line(f"const {plain} vb{c} = *(const __global {vt}*)(b{c} + kk);")
        for r, c in pairs:
            k.line(f"acc{r}_{c} = va{r} * vb{c} + acc{r}_{c};")
    k.line(f"{t} res[{DOT_ROWS * DOT_COLS}];")
    for r, c in pairs:
        lanes = " + ".join(f"acc{r}_{c}.s{l:x}" for l in range(width))
        k.line(f"res[{r * DOT_COLS + c}] = {lanes};")
    with k.block(f"for (; kk < {K}; kk++)", loop=True):
        for r, c in pairs:
            k.line(f"res[{r * DOT_COLS + c}] += a{r}[kk] * b{c}[kk];")
    store_block(k, root, m, d, False, DOT_ROWS, DOT_COLS, d.M, d.N)
    k.attributes = reqd((4, 1))
    return Grid(((d.M,), (d.N,)), (DOT_ROWS, DOT_COLS), (4, 1))


def matmul_kernel(k: Kernel, root: Node, m: Node, target: str) -> Grid:
    A = operand(k.ctx, m.inputs[0])
    B = operand(k.ctx, m.inputs[1])
    if target == "cpu" and m.type.dtype in ("f32", "f64"):
        layout = vec_layout(m, A, B, 8 if m.type.dtype == "f32" else 4)
        if layout is not None:
            return vec_kernel(k, root, m, A, B, layout)
        return dot_kernel(k, root, m, A, B, 8 if m.type.dtype == "f32" else 4)
    return tiled_kernel(k, root, m, A, B)
