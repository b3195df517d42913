"""How each op computes one element inline: `emit(k, node, ix) -> C expr`.

Each function gets the kernel being written, the node, and the index of the
element wanted; it asks `k.value(input, input_ix)` for its inputs. The
semantics are numpy's (runtime/numpy/impl.py is the oracle), including NaN
propagation in maximum/minimum/max/min and numpy's floor-division rules.
"""
from __future__ import annotations

import numpy as np

from dsl.ir import Node, inline_body, toposort
from dsl.ops import ROWS
from dsl.types import broadcast_shapes, dim_add

from .analysis import is_scatter_by_rows, sum_to_axes
from .cgen import SUFFIX, VTYPE, all_of, dim_c, literal, prod_c
from .emit import Ix, Kernel


def lit(value, n: Node) -> str:
    return literal(value, n.type.dtype)


def math_helper(k: Kernel, n: Node, name: str) -> str | None:
    """The inline helper computing f32 `name` (exp, log, log1p, tanh), or None
    for the builtin. With fast_math: f32 polynomials, up to 2 ulp off. By
    default exp, log and log1p compute in double (correctly rounded but in
    rare near-ties) and tanh is pocl's builtin written out (within 1 ulp,
    the same bits on every device): a correctly rounded tanh too moves
    LeNet's epoch-1 test error off the tutorial's (one image;
    bench/exp_log_math.py has the costs). Without fp64: builtins for exp,
    log and log1p."""
    if n.type.dtype != "f32":
        return None
    if k.ctx.options.fast_math:
        helper = f"sym_{name}f"
    elif name == "tanh":
        helper = "sym_tanhf_pocl"
    elif k.ctx.options.fp64:
        helper = f"sym_{name}f_d"
    else:
        return None
    k.need(helper)
    return helper


def call_math(k: Kernel, n: Node, name: str, v: str) -> str:
    return f"{math_helper(k, n, name) or name}({v})"


def call_exp(k: Kernel, n: Node, v: str) -> str:
    return call_math(k, n, "exp", v)


def call_log(k: Kernel, n: Node, v: str) -> str:
    return call_math(k, n, "log", v)


def call_log1p(k: Kernel, n: Node, v: str) -> str:
    return call_math(k, n, "log1p", v)


# ---- elementwise -------------------------------------------------------------
def unary(fn):
    """fn(k, node, v) -> expr, with v the input's value at the same index."""
    def emit(k: Kernel, n: Node, ix: Ix) -> str:
        x = n.inputs[0]
        return fn(k, n, k.value(x, k.broadcast_ix(x, n.type.shape, ix)))
    return emit


def binary(fn):
    def emit(k: Kernel, n: Node, ix: Ix) -> str:
        a, b = n.inputs
        va = k.value(a, k.broadcast_ix(a, n.type.shape, ix))
        vb = k.value(b, k.broadcast_ix(b, n.type.shape, ix))
        return fn(k, n, va, vb)
    return emit


def abs_of(k, n, v):
    # clearing the sign bit is exactly fabs, without a builtin call
    if n.type.dtype == "f32":
        return f"as_float(as_int({v}) & 0x7fffffff)"
    if n.type.dtype == "f64":
        return f"as_double(as_long({v}) & 0x7fffffffffffffffL)"
    return f"({v} < 0 ? -{v} : {v})"


def sigmoid(k, n, v):
    # one exp of -|v|: 1/(1+t) for v >= 0, t/(1+t) below (never overflows).
    # The numerator is selected, then one division: with a division in each
    # arm pocl branches and runs work-items one by one (an LSTM's gate
    # kernel, 51200 sigmoids: 183 us against 73 us; the same bits)
    one = lit(1, n)
    t = k.let(VTYPE[n.type.dtype], call_exp(k, n, f"-({abs_of(k, n, v)})"))
    return f"(({v} >= 0 ? {one} : {t}) / ({one} + {t}))"


def softplus(k, n, v):
    # log(1 + e^v) = max(v, 0) + log1p(e^-|v|)
    t = k.let(VTYPE[n.type.dtype], call_exp(k, n, f"-({abs_of(k, n, v)})"))
    return f"(({v} > 0 ? {v} : {lit(0, n)}) + {call_log1p(k, n, t)})"


def sign(k, n, v):
    return f"({v} > 0 ? {lit(1, n)} : ({v} < 0 ? {lit(-1, n)} : {v}))"


UNARY = {
    "exp": lambda k, n, v: call_exp(k, n, v),
    "log": lambda k, n, v: call_log(k, n, v),
    "log1p": lambda k, n, v: call_log1p(k, n, v),
    "log2": lambda k, n, v: f"log2({v})",
    "sqrt": lambda k, n, v: f"sqrt({v})",
    "tanh": lambda k, n, v: call_math(k, n, "tanh", v),
    "sin": lambda k, n, v: f"sin({v})",
    "cos": lambda k, n, v: f"cos({v})",
    "sigmoid": sigmoid,
    "softplus": softplus,
    "neg": lambda k, n, v: f"(-{v})",
    "abs": abs_of,
    "sign": sign,
    "relu": lambda k, n, v: f"({v} < 0 ? {lit(0, n)} : {v})",
    "not": lambda k, n, v: f"(!{v})",
}


def helper_call(name):
    def fn(k, n, a, b):
        s = SUFFIX[n.type.dtype]
        k.need(f"sym_divmod{s}")
        return f"sym_{name}{s}({a}, {b})"
    return fn


def static_scalar(x: Node):
    """The value of x when it is one number known from literals alone (the
    exponent 2 in `W ** 2`, also as autodiff's `2 - 1`), else None."""
    from .analysis import is_uniform
    if not is_uniform(x) or any(i.op == "size" for i in toposort([x])):
        return None
    from runtime.numpy import Env, evaluate
    with np.errstate(all="ignore"):
        (v,) = evaluate([x], Env({}, {}, {})) if x.type.rank == 0 else (None,)
    return None if v is None else float(v)


def emit_pow(k: Kernel, n: Node, ix: Ix) -> str:
    """pow with a literal exponent is plain arithmetic (a builtin pow call in a
    loop is slow on pocl); x * x is also exactly numpy's x ** 2."""
    a, b = n.inputs
    va = k.value(a, k.broadcast_ix(a, n.type.shape, ix))
    e = static_scalar(b)
    if e is not None and b.type.rank == 0:
        if e == 1:
            return va
        if e == 2:
            return f"({va} * {va})"
        if e == 3:
            return f"({va} * {va} * {va})"
        if e == 0:
            return lit(1, n)
        if e == -1 and n.type.is_float:
            return f"({lit(1, n)} / {va})"
    vb = k.value(b, k.broadcast_ix(b, n.type.shape, ix))
    if n.type.is_float:
        return f"pow({va}, {vb})"
    # numpy refuses a negative integer exponent: flag it (the executor raises
    # NegativePower for a pow site) as an index check below any size would
    vb = k.checked_index(vb, 2 ** 62, n, -1, allow_negative=False)
    return helper_call("pow")(k, n, va, f"({VTYPE[n.type.dtype]}){vb}")


def extremum2(op):
    # numpy's maximum/minimum propagate NaN from either side
    def fn(k, n, a, b):
        if n.type.is_float:
            return f"(({a} {op} {b} || {a} != {a}) ? {a} : {b})"
        return f"({a} {op} {b} ? {a} : {b})"
    return fn


def infix(op):
    return lambda k, n, a, b: f"({a} {op} {b})"


BINARY = {
    "add": infix("+"), "sub": infix("-"), "mul": infix("*"), "div": infix("/"),
    "floordiv": helper_call("floordiv"), "mod": helper_call("mod"),
    "maximum": extremum2(">"), "minimum": extremum2("<"),
    "eq": infix("=="), "ne": infix("!="), "lt": infix("<"), "le": infix("<="),
    "gt": infix(">"), "ge": infix(">="), "and": infix("&&"), "or": infix("||"),
}


def cast(k, n, v):
    if n.type.dtype == "bool":
        return f"({v} != 0)"
    src = n.inputs[0].type.dtype
    if n.type.is_int and src in ("f32", "f64"):
        # C leaves NaN, infinities and floats outside the integer range
        # undefined; numpy (on x86) gives the integer's smallest value
        smallest = -2 ** (63 if n.type.dtype == "i64" else 31)
        x = k.let(VTYPE[src], v)
        low, high = literal(float(smallest), src), literal(-float(smallest), src)
        return (f"({all_of([f'{x} >= {low}', f'{x} < {high}'])} ? ({VTYPE[n.type.dtype]})({x}) : "
                f"{literal(smallest, n.type.dtype)})")
    return f"(({VTYPE[n.type.dtype]})({v}))"


def emit_where(k: Kernel, n: Node, ix: Ix) -> str:
    c, a, b = (k.value(x, k.broadcast_ix(x, n.type.shape, ix)) for x in n.inputs)
    return f"({c} ? {a} : {b})"


# ---- views ---------------------------------------------------------------------
def emit_broadcast_to(k, n, ix):
    x = n.inputs[0]
    return k.value(x, k.broadcast_ix(x, n.type.shape, ix))


def emit_reshape(k, n, ix):
    x = n.inputs[0]
    if all(d == 1 for d in x.type.shape):
        return k.value(x, Ix(["0"] * x.type.rank, "0"))
    return k.value(x, k.unravel(ix.flat_in(n.type.shape), x.type.shape))


def emit_transpose(k, n, ix):
    perm = n.attr("perm")
    axes = [None] * len(perm)
    for out_axis, in_axis in enumerate(perm):
        axes[in_axis] = ix.axes[out_axis]
    return k.value(n.inputs[0], Ix(axes))


def slice_start(item, dim):
    """(first index, step) of a slice item, normalised as Python does."""
    _, start, stop, step, _length = item
    step = 1 if step is None else step
    if isinstance(dim, int) and (start is None or isinstance(start, int)) \
            and (stop is None or isinstance(stop, int)):
        first, _, _ = slice(start, stop, step).indices(dim)
        return first, step
    if start is None:
        return 0, step
    if isinstance(start, int) and start < 0:
        return dim_add(dim, start), step
    return start, step


def index_item(i, dim):
    return dim_add(dim, i) if isinstance(i, int) and i < 0 else i


def emit_slice(k, n, ix):
    x = n.inputs[0]
    axes, out = [], 0
    for item, dim in zip(n.attr("items"), x.type.shape):
        if item[0] == "index":
            axes.append(dim_c(index_item(item[1], dim)))
            continue
        first, step = slice_start(item, dim)
        term = ix.axes[out] if step == 1 else f"{ix.axes[out]} * {step}"
        axes.append(f"({dim_c(first)} + {term})")
        out += 1
    axes += ix.axes[out:]
    return k.value(x, Ix(axes))


def emit_unslice(k, n, ix):
    """Zeros with g written at the slice: the element comes from g when every
    sliced axis lands on the slice's lattice, and g is read only then (g
    may be empty, and no other position of it exists)."""
    g = n.inputs[0]
    conds, g_axes = [], []
    for axis, (item, dim) in enumerate(zip(n.attr("items"), n.type.shape)):
        o = ix.axes[axis]
        if item[0] == "index":
            conds.append(f"{o} == {dim_c(index_item(item[1], dim))}")
            continue
        first, step = slice_start(item, dim)
        length = item[4]
        d = k.let("long", f"{o} - {dim_c(first)}", "u")
        t = k.let("long", f"{d} / {step}" if step != 1 else d, "u")
        if step != 1:
            conds.append(f"{d} % {step} == 0")
        conds += [f"{t} >= 0", f"{t} < {dim_c(length)}"]
        g_axes.append(t)
    g_axes += ix.axes[len(n.attr("items")):]
    if not every_slice_nonempty(n):
        return read_where(k, n, " && ".join(conds) or "1", lambda: k.value(g, Ix(g_axes)))
    # g has elements wherever this kernel runs: read g's first element
    # outside the slice and select, with no branch, so that pocl runs the
    # work-items as vector lanes (LeNet's padded cotangent: 10.6 ms as a
    # branch, 5.8 ms with `&&` in the condition, 3.4 ms now)
    inside = k.let("int", all_of(conds), "within")
    value = k.value(g, Ix([f"({inside} ? {a} : 0)" for a in g_axes]))
    return f"({inside} ? {value} : {lit(0, n)})"


def every_slice_nonempty(n) -> bool:
    """Every sliced axis of an unslice keeps a known, positive length or the
    whole axis: g is empty only where the output is, and an empty output
    launches nothing."""
    return all(item[0] == "index" or isinstance(item[4], int) and item[4] > 0
               or item[4] == dim for item, dim in zip(n.attr("items"), n.type.shape))


def emit_concat(k, n, ix):
    """Each piece is read only where it is selected: a piece may be empty,
    and then any read of it would be outside its buffer."""
    axis = n.attr("axis")
    o = ix.axes[axis]
    offset, pieces = 0, []
    for x in n.inputs:
        end = dim_add(offset, x.type.shape[axis])
        pieces.append((x, offset, f"{o} >= {dim_c(offset)} && {o} < {dim_c(end)}"))
        offset = end
    result = k.var(VTYPE[n.type.dtype], lit(0, n), "c")
    for x, start, cond in pieces:
        with k.block(f"if ({cond})"):
            axes = list(ix.axes)
            axes[axis] = k.let("long", f"{o} - {dim_c(start)}", "u")
            k.line(f"{result} = {k.value(x, Ix(axes))};")
    return result


def read_where(k, n, cond: str, read) -> str:
    """read() where cond holds, else 0: a branch, so nothing is read (not
    even an unused value) where cond is false."""
    result = k.var(VTYPE[n.type.dtype], lit(0, n), "z")
    with k.block(f"if ({cond})"):
        k.line(f"{result} = {read()};")
    return result


# ---- constructors and leaves ---------------------------------------------------
def emit_const(k, n, ix):
    if n.type.rank == 0:
        return lit(n.attr("value"), n)
    return f"{k.constant_table(n)}[{ix.flat_in(n.type.shape)}]"


def emit_full(k, n, ix):
    return lit(n.attr("value"), n)


def emit_size(k, n, ix):
    return f"(({VTYPE[n.type.dtype]}){dim_c(n.attr('dim'))})"


def emit_arange(k, n, ix):
    return f"(({VTYPE[n.type.dtype]}){ix.axes[0]})"


def emit_buffer_leaf(k, n, ix):
    raise AssertionError(f"`{n.op}` always has a buffer; Kernel.value loads it")


def emit_own_kernel(k, n, ix):
    raise AssertionError(f"`{n.op}` is computed by its own kernel, never inline")


def emit_apply_body(k, n, ix):
    """The body inlined (its params replaced by n's inputs), computed at ix
    like any node without a buffer."""
    if id(n) not in k.inlined:
        (k.inlined[id(n)],) = inline_body(n.attr("body"), n.inputs)
    return k.value(k.inlined[id(n)], ix)


def emit_cumsum(k, n, ix):
    """Element i along the axis: the sum of the elements 0..i (one loop
    over the axis, adding where the position is at most i)."""
    x, axis = n.inputs[0], n.attr("axis")
    ctype = VTYPE[n.type.dtype]
    acc = k.var(ctype, "0")
    for (j,) in k.each([x.type.shape[axis]]):
        at = list(ix.axes)
        at[axis] = j
        k.line(f"if (({j}) <= ({ix.axes[axis]})) {acc} += {k.value(x, Ix(at))};")
    return acc


def emit_staged(k, n, ix):
    raise AssertionError(f"`{n.op}` is run by the executor between kernels (stages.py), never inside one")


# ---- data-dependent indexing ------------------------------------------------------
def index_values(k, n, arrays, positions, sizes, first_axis=0):
    """Each index array read at `positions` (broadcast), checked and
    normalised against `sizes`: the per-axis positions into the source.
    An error names axis first_axis + i for the i-th array, as numpy does."""
    out = []
    width = len(positions)
    for axis, (a, size) in enumerate(zip(arrays, sizes), first_axis):
        lead = width - a.type.rank       # aligned right, as numpy broadcasts
        pos = Ix(["0" if d == 1 else positions[lead + i] for i, d in enumerate(a.type.shape)])
        out.append(k.checked_index(k.value(a, pos), size, n, axis))
    return out


def index_shape(arrays) -> tuple:
    shape: tuple = ()
    for a in arrays:
        shape = broadcast_shapes(shape, a.type.shape)
    return shape


def emit_gather(k, n, ix):
    x, *arrays = n.inputs
    width = len(n.type.shape) - (x.type.rank - len(arrays))
    rows = index_values(k, n, arrays, ix.axes[:width], x.type.shape[:len(arrays)])
    return k.value(x, Ix(rows + ix.axes[width:]))


def emit_one_hot(k, n, ix):
    y = n.inputs[0]
    label = k.value(y, Ix(ix.axes[:-1]))
    w = k.checked_index(label, n.attr("depth"), n, -1, allow_negative=False)
    return f"({w} == {ix.axes[-1]} ? {lit(1, n)} : {lit(0, n)})"


def emit_scatter_add(k, n, ix):
    g, *arrays = n.inputs
    if is_scatter_by_rows(n):
        return scatter_by_rows(k, n, ix)
    return scatter_loop(k, n, ix)


def scatter_by_rows(k, n, ix):
    """scatter_add(g, arange(m), idx...): row r of the result gets g[r] at
    the columns idx[r] names, and zeros elsewhere."""
    g, first, *rest = n.inputs
    row = ix.axes[0]
    ws = index_values(k, n, rest, [row], n.type.shape[1:1 + len(rest)], first_axis=1)
    conds = [f"{w} == {ix.axes[1 + i]}" for i, w in enumerate(ws)]
    v = k.value(g, Ix([row] + ix.axes[1 + len(rest):]))
    if not conds:
        return v
    return f"({all_of(conds)} ? {v} : {lit(0, n)})"


def scatter_loop(k, n, ix):
    """General scatter_add: loop over every index position, add the ones
    that land on this element (deterministic: no atomics)."""
    g, *arrays = n.inputs
    dims = index_shape(arrays)
    acc = k.var(acc_type(k, n, "sum"), "0")
    for pos in k.each(list(dims)):
        ws = index_values(k, n, arrays, pos, n.type.shape[:len(arrays)])
        cond = " && ".join(f"{w} == {ix.axes[i]}" for i, w in enumerate(ws))
        with k.block(f"if ({cond})"):
            v = k.value(g, Ix(list(pos) + ix.axes[len(arrays):]))
            k.line(f"{acc} += {v};")
    return f"(({VTYPE[n.type.dtype]}){acc})"


# ---- reductions ------------------------------------------------------------------
def acc_type(k: Kernel, n: Node, kind: str) -> str:
    return accumulator(k.ctx.options, n, kind)


def accumulator(options, n: Node, kind: str) -> str:
    """The C type n's reduction accumulates in. Long f32 sums accumulate in
    double where the device has it (numpy's pairwise sums are nearly exact;
    a long f32 loop drifts). Short ones (written out, see Kernel.each) stay
    f32, which pocl can vectorise."""
    from .analysis import reduced_extent
    from .emit import UNROLL_MAX
    if kind == "sum" and n.type.dtype == "f32" and options.f64_accumulate:
        extent = reduced_extent(n) if n.op not in ROWS else None
        if extent is None or extent > UNROLL_MAX:
            return "double"
    return VTYPE[n.type.dtype]


def reduction_parts(n: Node):
    """(input, reduced axes, map: output axes -> input axes with None where
    a loop variable goes) for sum/mean/max/min/prod/sum_to."""
    x = n.inputs[0]
    if n.op == "sum_to":
        axes, _ = sum_to_axes(x.type.shape, n.type.shape)
        lead = x.type.rank - n.type.rank

        def place(out_axes):
            return [None if a in axes else out_axes[a - lead] for a in range(x.type.rank)]
        return x, axes, place
    axes = list(n.attr("axes"))
    keep = n.attr("keepdims")

    def place(out_axes):
        it = iter(out_axes)
        result = []
        for a in range(x.type.rank):
            if a in axes:
                if keep:
                    next(it)
                result.append(None)
            else:
                result.append(next(it))
        return result
    return x, axes, place


REDUCE_KIND = {"sum": "sum", "mean": "sum", "sum_to": "sum", "prod": "prod",
               "max": "max", "min": "min"}


def reduce_init(n: Node, kind: str, ctype: str) -> str:
    if kind == "sum":
        return f"({ctype})0"
    if kind == "prod":
        return f"({ctype})1"
    if n.type.is_float:
        return f"-({ctype})INFINITY" if kind == "max" else f"({ctype})INFINITY"
    bits = 64 if n.type.dtype == "i64" else 32
    return literal(-2**(bits - 1) if kind == "max" else 2**(bits - 1) - 1, n.type.dtype)


def reduce_step(n: Node, kind: str, acc: str, v: str) -> str:
    if kind == "sum":
        return f"{acc} += {v};"
    if kind == "prod":
        return f"{acc} *= {v};"
    keep = "<=" if kind == "max" else ">="
    if n.type.is_float:   # NaN wins, as in numpy
        return f"{acc} = ({acc} != {acc} || {v} {keep} {acc}) ? {acc} : {v};"
    return f"{acc} = ({v} {keep} {acc}) ? {acc} : {v};"


def reduce_final(n: Node, acc: str, count: str) -> str:
    t = VTYPE[n.type.dtype]
    if n.op == "mean":
        return f"(({t})({acc} / {count}))"
    return f"(({t}){acc})"


def emit_reduce(k, n, ix):
    x, axes, place = reduction_parts(n)
    kind = REDUCE_KIND[n.op]
    ctype = acc_type(k, n, kind)
    acc = k.var(ctype, reduce_init(n, kind, ctype))
    dims = [x.type.shape[a] for a in axes]
    for loop_vars in k.each(dims):
        it = iter(loop_vars)
        x_axes = [a if a is not None else next(it) for a in place(ix.axes)]
        k.line(reduce_step(n, kind, acc, k.value(x, Ix(x_axes))))
    return reduce_final(n, acc, f"({ctype}){prod_c(dims)}")


def emit_arg_reduce(k, n, ix):
    """argmax/argmin: the first index of the extreme (the first NaN if any),
    counted row-major over the reduced axes."""
    x = n.inputs[0]
    axis = n.attr("axis")
    axes = list(range(x.type.rank)) if axis is None else [axis]
    keep = n.attr("keepdims")
    vt = VTYPE[x.type.dtype]
    best = k.var(vt, "0", "b")
    where = k.var("long", "-1", "b")
    count = k.var("long", "0", "c")
    out = iter(ix.axes)
    template = []
    for a in range(x.type.rank):
        if a in axes:
            if keep:
                next(out)
            template.append(None)
        else:
            template.append(next(out))
    better = ">" if n.op == "argmax" else "<"
    for loop_vars in k.each([x.type.shape[a] for a in axes]):
        it = iter(loop_vars)
        v = k.value(x, Ix([a if a is not None else next(it) for a in template]))
        if x.type.is_float:
            worse = "<=" if n.op == "argmax" else ">="
            test = f"{where} < 0 || ({best} == {best} && !({v} {worse} {best}))"
        else:
            test = f"{where} < 0 || {v} {better} {best}"
        k.line(f"if ({test}) {{ {best} = {v}; {where} = {count}; }}")
        k.line(f"{count}++;")
    return f"((int){where})"


def emit_logsumexp(k, n, ix):
    x = n.inputs[0]
    axis = n.attr("axis")
    t = VTYPE[n.type.dtype]
    axes_out = list(ix.axes)
    m = k.var(t, f"-({t})INFINITY", "m")
    L = x.type.shape[axis]
    for (r,) in k.each([L]):
        v = k.value(x, Ix(axes_out[:axis] + [r] + axes_out[axis:]))
        k.line(f"{m} = ({m} != {m} || {v} <= {m}) ? {m} : {v};")
    # a row of +-inf (or NaN) shifts by 0 instead, as the numpy impl does
    k.line(f"if (!({m} - {m} == 0)) {m} = 0;")
    s = k.var(acc_type(k, n, "sum"), "0", "s")
    for (r,) in k.each([L]):
        v = k.value(x, Ix(axes_out[:axis] + [r] + axes_out[axis:]))
        k.line(f"{s} += {call_exp(k, n, f'{v} - {m}')};")
    return f"({call_log(k, n, f'({t}){s}')} + {m})"


# ---- random draws ------------------------------------------------------------------
RANDOM_HELPER = {("bits", "i64"): "sym_rand_bits", ("uniform", "f32"): "sym_rand_uf",
                 ("normal", "f32"): "sym_rand_nf", ("uniform", "f64"): "sym_rand_ud",
                 ("normal", "f64"): "sym_rand_nd"}


def emit_random(k, n, ix):
    """The draw's element at ix generated in place from the stream's state
    (seed, calls) and the element's flat index: nothing is uploaded."""
    state, *params = n.inputs
    name = RANDOM_HELPER[(n.attr("dist"), n.type.dtype)]
    k.need("sym_rand_ud" if name == "sym_rand_nd" else name)
    seed = k.value(state, Ix(["0"], "0"))
    calls = k.value(state, Ix(["1"], "1"))
    element = f"(ulong)({ix.flat_in(n.type.shape)})"
    if n.attr("from_row"):      # a rank's rows: elements from its first row's on
        *params, row = params
        row_size = prod_c(n.type.shape[1:])
        element = f"({element} + (ulong)({k.value(row, Ix([], '0'))}) * (ulong)({row_size}))"
    scalars = [k.value(p, Ix([], "0")) for p in params]
    args = [seed, calls, f"{n.attr('draw')}u", element, *scalars]
    return f"{name}({', '.join(args)})"
