"""Writing one kernel's C text: parameters, index arithmetic, and the
expression of any node at any index, with memoised temporaries.

`Kernel.value(node, ix)` is the heart: a node with a buffer is loaded; any
other node is computed inline by its lowering (render.LOWERING) at that
index, once per index within a scope. Loops (reductions) open scopes, so a
temporary computed inside a loop body is never used outside it.
"""
from __future__ import annotations

import itertools
import re
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from dsl.ir import Node
from dsl.ops import ELEMENTWISE

from .cgen import CTYPE, VTYPE, dim_c, horner, literal

UNROLL_MAX = 16        # loops this short are written out
ELEMENTWISE_OPS = frozenset(ELEMENTWISE)
SIMPLE = re.compile(r"[A-Za-z_]\w*|-?[\d.]+[fL]?")


class Ix:
    """A multi-index: one C expression per axis, plus the row-major flat
    index when it is known for free (saves div/mod on the common path)."""
    __slots__ = ("axes", "flat")

    def __init__(self, axes, flat: str | None = None):
        self.axes = list(axes)
        self.flat = flat

    def key(self):
        return tuple(self.axes)

    def flat_in(self, shape) -> str:
        return self.flat if self.flat is not None else horner(self.axes, shape)


@dataclass
class ProgramParts:
    """What the kernels of one program share: helpers, vector typedefs,
    constant tables and index-check sites."""
    helpers: set = field(default_factory=set)
    vector_types: set = field(default_factory=set)
    constants: list = field(default_factory=list)   # C declarations
    sites: list = field(default_factory=list)       # (node, axis)
    fp64: bool = False


@dataclass
class Buf:
    """A buffer as a kernel sees it: its plan key and whether it is a
    param (which may be a view into a cached dataset: read at an offset)."""
    key: str
    dtype: str
    is_param: bool = False


class Kernel:
    def __init__(self, name: str, ctx, parts: ProgramParts):
        self.name = name
        self.ctx = ctx                  # render.Context: groups, buffers, options, lowering
        self.parts = parts
        self.params: list[str] = []     # C declarations
        self.args: list[tuple] = []     # ("buf", key) ("off", key) ("size", var) ("err",) ("site",)
        self.prologue: list[str] = []
        self.lines: list[str] = []
        self.indent = 1
        self.memo: list[dict] = [{}]
        self.counter = 0
        self.pointers: dict[str, str] = {}
        self.loop_depth = 0
        self.overrides: dict[int, object] = {}    # node id -> fn(ix) -> C expr
        # id(node with a body) -> its body inlined; kept alive here, since
        # values are memoised by node id
        self.inlined: dict[int, Node] = {}
        self.uses_err = False
        self.write_keys: list[str] = []     # the buffers it writes, in parameter order
        self.attributes = ""            # e.g. reqd_work_group_size
        self.defer_checks = False       # record index errors in variables (map kernels)
        self.deferred = False           # ... and some were recorded

    # ---- declarations ---------------------------------------------------------
    def output(self, key: str, dtype: str) -> str:
        """Declare a buffer the kernel writes: `out`, then `out1`, `out2`...
        (a map kernel of several roots), first among the parameters."""
        at = len(self.write_keys)
        name = f"out{at}" if at else "out"
        self.write_keys.append(key)
        self.params.insert(at, f"__global {CTYPE[dtype]}* {name}")
        self.args.insert(at, ("buf", key))
        return name

    def pointer(self, buf: Buf) -> str:
        """The C name of a buffer read by this kernel (declared on first use)."""
        if buf.key in self.pointers:
            return self.pointers[buf.key]
        name = f"in{len(self.pointers)}"
        t = CTYPE[buf.dtype]
        if buf.is_param:
            self.params.append(f"__global const {t}* {name}_base")
            self.params.append(f"__global const long* {name}_off")
            self.args += [("buf", buf.key), ("off", buf.key)]
            self.prologue.append(f"const __global {t}* {name} = {name}_base + {name}_off[0];")
        else:
            # no `restrict`: an update written in place reads the buffer it writes
            self.params.append(f"__global const {t}* {name}")
            self.args.append(("buf", buf.key))
        self.pointers[buf.key] = name
        return name

    def need(self, helper: str) -> None:
        self.parts.helpers.add(helper)

    def vector_type(self, ctype: str, width: int) -> str:
        if width == 1:
            return ctype
        self.parts.vector_types.add((ctype, width))
        return f"{ctype}{width}u"

    def constant_table(self, node: Node) -> str:
        dtype = node.type.dtype
        values = np.asarray(node.attr("value")).ravel()
        name = f"{self.name}_c{len(self.parts.constants)}"
        body = ", ".join(literal(v, dtype) for v in values)
        self.parts.constants.append(f"__constant {CTYPE[dtype]} {name}[{max(1, len(values))}] = {{{body}}};")
        return name

    def site(self, node: Node, axis: int) -> int:
        self.parts.sites.append((node, axis))
        self.uses_err = True
        self.need("sym_flag")
        return len(self.parts.sites) - 1

    # ---- statements -------------------------------------------------------------
    def line(self, text: str) -> None:
        self.lines.append("    " * self.indent + text)

    def fresh(self, prefix="v") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def let(self, ctype: str, expr: str, prefix="v") -> str:
        """Bind expr to a new const temporary (or return it if trivial)."""
        if SIMPLE.fullmatch(expr):
            return expr
        name = self.fresh(prefix)
        self.line(f"const {ctype} {name} = {expr};")
        return name

    def var(self, ctype: str, init: str, prefix="a") -> str:
        name = self.fresh(prefix)
        self.line(f"{ctype} {name} = {init};")
        return name

    @contextmanager
    def block(self, header: str, loop: bool = False):
        self.line((header + " {").strip())
        self.indent += 1
        self.memo.append({})
        self.loop_depth += loop
        try:
            yield
        finally:
            self.loop_depth -= loop
            self.memo.pop()
            self.indent -= 1
            self.line("}")

    @contextmanager
    def loops(self, dims):
        """Nested for-loops over dims (row-major); yields the loop variables."""
        names = []
        with _nested(self, dims, names):
            yield names

    def each(self, dims):
        """Iterate over dims for the caller to emit a loop body: unrolled (one
        C block per iteration, literal indices) when the loop is short and of
        known length, since pocl vectorises straight-line code across
        work-items but not code with loops; else one body in for-loops."""
        total = 1
        for d in dims:
            total = total * d if isinstance(d, int) else None
            if total is None:
                break
        if total is not None and total <= UNROLL_MAX:
            for index in itertools.product(*(range(d) for d in dims)):
                with self.block("", loop=True):
                    yield [str(i) for i in index]
            return
        with self.loops(dims) as names:
            yield names

    # ---- indices ----------------------------------------------------------------
    def unravel(self, flat: str, shape, narrow: bool = False) -> Ix:
        """The multi-index of a row-major flat index (div/mod, emitted here;
        the C compiler drops the ones nobody reads). narrow: divide in
        `sym_ix`, 32-bit when the program is built for arrays under 2**31
        elements (the executor's choice)."""
        if not shape:
            return Ix([], "0")
        t = "sym_ix" if narrow else "long"
        axes = [None] * len(shape)
        rest = self.let(t, f"({t})({flat})" if narrow else flat, "f")
        for k in range(len(shape) - 1, -1, -1):
            d = shape[k]
            size = f"({t}){dim_c(d)}" if narrow else dim_c(d)
            if d == 1:
                axes[k] = "0"
            elif k == 0:
                axes[k] = f"(long){rest}" if narrow else rest
            else:
                axes[k] = self.let("long", f"(long)({rest} % {size})" if narrow
                                   else f"{rest} % {size}", "i")
                rest = self.let(t, f"{rest} / {size}", "f")
        return Ix(axes, flat)

    def broadcast_ix(self, x: Node, shape, ix: Ix) -> Ix:
        """Where an input of shape x.type.shape is read when the result has
        `shape` (numpy broadcasting: aligned right, size-1 axes read at 0)."""
        xs = x.type.shape
        if tuple(xs) == tuple(shape):
            return ix
        if all(d == 1 for d in xs):
            return Ix(["0"] * len(xs), "0")
        lead = len(shape) - len(xs)
        return Ix(["0" if d == 1 else ix.axes[lead + k] for k, d in enumerate(xs)])

    # ---- values -----------------------------------------------------------------
    def lookup(self, key):
        for scope in reversed(self.memo):
            if key in scope:
                return scope[key]
        return None

    def value(self, n: Node, ix: Ix) -> str:
        """C expression (usually a temporary's name) of n's element at ix."""
        key = (id(n), ix.key())
        hit = self.lookup(key)
        if hit is not None:
            return hit
        if self._chains(n):
            return self._chain_value(n, ix)
        return self._value_of(n, ix, key)

    def _chains(self, n: Node) -> bool:
        """n is computed inline from its inputs at the same (broadcast) index."""
        return n.op in ELEMENTWISE_OPS and id(n) not in self.overrides \
            and not self.ctx.has_buffer(n)

    def _chain_value(self, n: Node, ix: Ix) -> str:
        """value(n) for an elementwise node, its inline elementwise inputs
        emitted first, deepest first, with a stack: a def of thousands of
        straight-line assignments is one chain this long, too deep to
        recurse along. The order of the emitted lines is the recursion's."""
        stack = [(n, ix, False)]
        while stack:
            m, mix, inputs_done = stack.pop()
            key = (id(m), mix.key())
            if self.lookup(key) is not None:
                continue
            if inputs_done or not self._chains(m):
                self._value_of(m, mix, key)     # its chained inputs are memoised
                continue
            stack.append((m, mix, True))
            # pow reads its exponent only when it is not a literal (lowering.emit_pow)
            inputs = m.inputs[:1] if m.op == "pow" else m.inputs
            for i in reversed(inputs):
                stack.append((i, self.broadcast_ix(i, m.type.shape, mix), False))
        return self.lookup((id(n), ix.key()))

    def _value_of(self, n: Node, ix: Ix, key) -> str:
        if id(n) in self.overrides:
            expr = self.overrides[id(n)](ix)
        elif self.ctx.has_buffer(n):
            expr = self.load(n, ix)
        else:
            expr = self.ctx.lowering(n.op)(self, n, ix)
        name = self.let(VTYPE[n.type.dtype], expr)
        self.memo[-1][key] = name
        return name

    def compute(self, n: Node, ix: Ix) -> str:
        """n's own expression at ix, even when n has a buffer (a kernel root)."""
        return self.ctx.lowering(n.op)(self, n, ix)

    def load(self, n: Node, ix: Ix) -> str:
        buf = self.ctx.buffer_of(n)
        ptr = self.pointer(buf)
        expr = f"{ptr}[{ix.flat_in(n.type.shape)}]"
        return f"(int){expr}" if n.type.dtype == "bool" else expr

    def checked_index(self, v: str, size, node: Node, axis: int, allow_negative=True) -> str:
        """A data-dependent index normalised like numpy's (negative counts
        from the end); out of range sets the error flag and reads 0."""
        key = ("checked", v, str(size), id(node), axis, allow_negative)
        hit = self.lookup(key)
        if hit is not None:
            return hit
        site = self.site(node, axis)
        raw = self.let("long", f"(long)({v})", "w")
        if self.defer_checks:
            w = self._deferred_check(raw, size, site, axis, allow_negative)
        else:
            w = self.var("long", raw, "w")
            if allow_negative:
                self.line(f"if ({w} < 0) {w} += {dim_c(size)};")
            self.line(f"if ({w} < 0 || {w} >= {dim_c(size)}) {{ "
                      f"sym_flag(err, site_base + {site}, {axis}, {raw}, {dim_c(size)}); {w} = 0; }}")
        self.memo[-1][key] = w
        return w

    def _deferred_check(self, raw: str, size, site: int, axis: int, allow_negative: bool) -> str:
        """The same check as data: selects, no branch and no call; the
        first error of this work-item is kept in e_* (see map_kernel)."""
        if not self.deferred:
            self.deferred = True
            self.prologue.append("int e_site = -1, e_axis = 0;")
            self.prologue.append("long e_value = 0, e_size = 0;")
        n = dim_c(size)
        w = self.let("long", f"{raw} < 0 ? {raw} + {n} : {raw}" if allow_negative else raw, "w")
        bad = self.let("int", f"{w} < 0 || {w} >= {n}", "bad")
        first = self.let("int", f"{bad} && valid && e_site < 0", "first")
        self.line(f"e_axis = {first} ? {axis} : e_axis; e_value = {first} ? {raw} : e_value;")
        self.line(f"e_size = {first} ? {n} : e_size; e_site = {first} ? {site} : e_site;")
        return self.let("long", f"{bad} ? 0 : {w}", "w")

    # ---- the finished text ------------------------------------------------------
    def source(self, attributes: str = "") -> str:
        body = "\n".join(self.prologue_lines() + self.lines)
        params = list(self.params)
        args = list(self.args)
        if self.uses_err:
            params += ["__global int* err", "const int site_base"]
            args += [("err",), ("site",)]
        for var in sorted(set(re.findall(r"\bsz_(\w+)", body))):
            params.append(f"const long sz_{var}")
            args.append(("size", "#" + var[1:] if var[0] == "H" else var))
        self.args = args
        head = f"__kernel {attributes}void {self.name}(\n    " + ",\n    ".join(params) + ")"
        return f"{head}\n{{\n{body}\n}}\n"

    def prologue_lines(self):
        return ["    " + p for p in self.prologue]


@contextmanager
def _nested(k: Kernel, dims, names):
    if not dims:
        yield
        return
    v = k.fresh("r")
    names.append(v)
    with k.block(f"for (long {v} = 0; {v} < {dim_c(dims[0])}; {v}++)", loop=True):
        with _nested(k, dims[1:], names):
            yield
