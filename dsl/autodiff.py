"""Symbolic reverse-mode differentiation on the IR.

`VJP[op](y, g)` takes a node `y` and its cotangent `g` (a node of y's type)
and returns one cotangent node per input of `y`, or None for inputs that
get no gradient (indices, conditions, integers). The rules only build
ordinary IR through `dsl.build.apply`, so `grad` of a graph that already
contains a gradient works (higher order). Every node a rule builds carries
`y.span`, so errors after autodiff still point at user code.

Conventions where the math leaves a choice:
  maximum/minimum  on a tie the whole gradient goes to the first operand.
  max/min reduce   the gradient is split equally among all tied extrema.
  prod             exact with zeros: with one zero in the reduced slice only
                   that position gets a gradient (the product of the others);
                   with two or more zeros every position gets 0.
  pow              d/d exponent uses log(base) where base > 0 and 0 elsewhere.
  mod              d/da = 1, d/db = -floor(a / b) (a.e.); floordiv, sign,
                   comparisons and other piecewise-constant ops are in NONDIFF.
  max pooling      the gradient of each window goes to its first maximum
                   (row-major), as cuDNN and PyTorch; Theano's CPU op gives
                   it to every tied maximum.
"""
from __future__ import annotations

from .build import apply, const
from . import errors
from .ir import Body, Node, node, step_varying, toposort
from .ops import ARG_REDUCE, COMPARE, LEAVES, LOGIC, VIEWS, Op
from .types import Size, TensorType, TupleType, dim_add, dim_prod

# ops whose inputs get no gradient: piecewise constant, integer-valued,
# boolean, or leaves
NONDIFF = frozenset((Op.SIGN, Op.FLOORDIV, Op.NOT, Op.ONE_HOT, Op.FULL, Op.ARANGE, Op.RANDOM,
                     Op.STOP_GRADIENT)
                    + tuple(COMPARE) + tuple(LOGIC) + ARG_REDUCE + LEAVES)


# ---- small builders that keep the differentiated node's span ---------------
class B:
    """Node builders bound to one span: `b = B(y); b.mul(g, y)`."""

    def __init__(self, y: Node):
        self.span = y.span

    def __getattr__(self, op):
        # b.exp(x), b.add(x, y), b.sum(x, axes=..., keepdims=...)
        return lambda *xs, **attrs: apply(op, xs, self.span, **attrs)

    def c(self, value, like: Node) -> Node:
        return const(value, like.type.dtype, self.span)

    def sum_to(self, x: Node, t: TensorType) -> Node:
        if x.type.shape == t.shape:
            return x
        return apply("sum_to", (x,), self.span, type=t.with_dtype(x.type.dtype))

    def broadcast_to(self, x: Node, t: TensorType) -> Node:
        if x.type.shape == t.shape:
            return x
        return apply("broadcast_to", (x,), self.span, type=t.with_dtype(x.type.dtype))

    def reshape(self, x: Node, shape) -> Node:
        shape = tuple(shape)
        if x.type.shape == shape:
            return x
        return apply("reshape", (x,), self.span, type=x.type.with_shape(shape))

    def cast(self, x: Node, dtype: str) -> Node:
        if x.type.dtype == dtype:
            return x
        return apply("cast", (x,), self.span, dtype=dtype)

    def mask(self, cond: Node, g: Node) -> Node:
        """g where cond holds, 0 elsewhere."""
        return apply("where", (cond, g, self.c(0, g)), self.span)

    def count(self, dims, like: Node) -> Node:
        """The number of elements in `dims` as a scalar of like's dtype; a
        size node when the dims hold size variables."""
        n = dim_prod(dims)
        if isinstance(n, int):
            return self.c(n, like)
        size = apply("size", (), self.span, type=TensorType("i64", ()), dim=n)  # as the checker makes it
        return self.cast(size, like.type.dtype)


def floats(x: Node) -> bool:
    if isinstance(x.type, TupleType):      # a loop: some of its results
        return any(t.is_float for t in x.type.elts)
    return x.type.is_float


# ---- elementwise -----------------------------------------------------------
def vjp_add(y, g):
    b, (l, r) = B(y), y.inputs
    return b.sum_to(g, l.type), b.sum_to(g, r.type)


def vjp_sub(y, g):
    b, (l, r) = B(y), y.inputs
    return b.sum_to(g, l.type), b.sum_to(b.neg(g), r.type)


def vjp_mul(y, g):
    b, (l, r) = B(y), y.inputs
    return b.sum_to(b.mul(g, r), l.type), b.sum_to(b.mul(g, l), r.type)


def vjp_div(y, g):
    b, (l, r) = B(y), y.inputs
    gl = b.div(g, r)
    # d(l/r)/dr * g = -g*l/r**2 = -(g/r)*(l/r): reuse g/r and the result y
    return b.sum_to(gl, l.type), b.sum_to(b.neg(b.mul(gl, y)), r.type)


def vjp_mod(y, g):
    b, (l, r) = B(y), y.inputs
    return b.sum_to(g, l.type), b.sum_to(b.neg(b.mul(g, b.floordiv(l, r))), r.type)


def vjp_pow(y, g):
    b, (x, e) = B(y), y.inputs
    gx = b.mul(g, b.mul(e, b.pow(x, b.sub(e, b.c(1, e)))))
    # the exponent's gradient is y*log(x), defined for x > 0 only
    positive = b.gt(x, b.c(0, x))
    safe = b.where(positive, x, b.c(1, x))
    ge = b.mul(g, b.mul(y, b.where(positive, b.log(safe), b.c(0, x))))
    return b.sum_to(gx, x.type), b.sum_to(ge, e.type)


def extremum_pair(first_wins: str):
    def rule(y, g):
        b, (l, r) = B(y), y.inputs
        # ties go to the first operand: l >= r for maximum, l <= r for minimum
        to_l = apply(first_wins, (l, r), y.span)
        gl = b.where(to_l, g, b.c(0, g))
        gr = b.where(to_l, b.c(0, g), g)
        return b.sum_to(gl, l.type), b.sum_to(gr, r.type)
    return rule


def unary_rule(fn):
    """fn(b, x, y, g) -> cotangent of x."""
    return lambda y, g: (fn(B(y), y.inputs[0], y, g),)


UNARY_VJP = {
    Op.NEG: lambda b, x, y, g: b.neg(g),
    Op.ABS: lambda b, x, y, g: b.mul(g, b.sign(x)),
    Op.RELU: lambda b, x, y, g: b.mask(b.gt(x, b.c(0, x)), g),
    Op.EXP: lambda b, x, y, g: b.mul(g, y),
    Op.LOG: lambda b, x, y, g: b.div(g, x),
    Op.LOG2: lambda b, x, y, g: b.div(g, b.mul(x, b.c(0.6931471805599453, x))),   # ln 2
    Op.LOG1P: lambda b, x, y, g: b.div(g, b.add(x, b.c(1, x))),
    Op.SQRT: lambda b, x, y, g: b.div(g, b.mul(b.c(2, y), y)),
    Op.TANH: lambda b, x, y, g: b.mul(g, b.sub(b.c(1, y), b.mul(y, y))),
    # 1 - sigmoid(x) is sigmoid(-x): exact where y rounds to 1 in f32
    Op.SIGMOID: lambda b, x, y, g: b.mul(g, b.mul(y, b.sigmoid(b.neg(x)))),
    Op.SOFTPLUS: lambda b, x, y, g: b.mul(g, b.sigmoid(x)),
    Op.SIN: lambda b, x, y, g: b.mul(g, b.cos(x)),
    Op.COS: lambda b, x, y, g: b.neg(b.mul(g, b.sin(x))),
}


def vjp_cast(y, g):
    (x,) = y.inputs
    if not floats(x):
        return (None,)
    return (B(y).cast(g, x.type.dtype),)


def vjp_where(y, g):
    b, (c, l, r) = B(y), y.inputs
    gl = b.where(c, g, b.c(0, g))
    gr = b.where(c, b.c(0, g), g)
    return None, b.sum_to(gl, l.type), b.sum_to(gr, r.type)


# ---- reductions ------------------------------------------------------------
def expand(b: B, g: Node, x: Node, axes) -> Node:
    """g of a reduction over `axes` broadcast back to x's shape."""
    kept = tuple(1 if i in axes else d for i, d in enumerate(x.type.shape))
    return b.broadcast_to(b.reshape(g, kept), x.type)


def vjp_sum(y, g):
    (x,) = y.inputs
    return (expand(B(y), g, x, y.attr("axes")),)


def vjp_mean(y, g):
    b, (x,) = B(y), y.inputs
    axes = y.attr("axes")
    n = b.count([d for i, d in enumerate(x.type.shape) if i in axes], x)
    return (b.div(expand(b, g, x, axes), n),)


def vjp_prod(y, g):
    b, (x,) = B(y), y.inputs
    axes = y.attr("axes")
    zero, one = b.c(0, x), b.c(1, x)
    is_zero = b.eq(x, zero)
    nonzero = b.where(is_zero, one, x)
    # product of the non-zero entries and the number of zeros, per slice
    p = expand(b, b.prod(nonzero, axes=axes, keepdims=True), x, axes)
    zeros = expand(b, b.sum(b.cast(is_zero, x.type.dtype), axes=axes, keepdims=True), x, axes)
    at_zero = b.where(b.eq(zeros, one), p, zero)       # the lone zero's partner product
    elsewhere = b.where(b.eq(zeros, zero), b.div(p, nonzero), zero)
    return (b.mul(expand(b, g, x, axes), b.where(is_zero, at_zero, elsewhere)),)


def vjp_extremum(y, g):
    b, (x,) = B(y), y.inputs
    axes = y.attr("axes")
    # split equally among every position that attains the extremum
    hit = b.cast(b.eq(x, expand(b, y, x, axes)), x.type.dtype)
    ties = expand(b, b.sum(hit, axes=axes, keepdims=True), x, axes)
    return (b.mul(expand(b, g, x, axes), b.div(hit, ties)),)


def vjp_softmax(y, g):
    b, axis = B(y), y.attr("axis")
    inner = b.sum(b.mul(g, y), axes=(axis,), keepdims=True)
    return (b.mul(y, b.sub(g, inner)),)


def vjp_log_softmax(y, g):
    b, axis = B(y), y.attr("axis")
    total = b.sum(g, axes=(axis,), keepdims=True)
    return (b.sub(g, b.mul(b.exp(y), total)),)


def vjp_logsumexp(y, g):
    b, (x,), axis = B(y), y.inputs, y.attr("axis")
    return (b.mul(expand(b, g, x, (axis,)), b.softmax(x, axis=axis)),)


# ---- linear algebra and shapes ---------------------------------------------
def vjp_batched_matmul(y, g):
    """Stacks of matrices: a vector side made a matrix first, each side's
    cotangent summed over the batch axes it was broadcast along."""
    b, (l, r) = B(y), y.inputs
    l2 = b.reshape(l, (1,) + l.type.shape) if l.type.rank == 1 else l
    r2 = b.reshape(r, r.type.shape + (1,)) if r.type.rank == 1 else r
    y2 = apply("matmul", (l2, r2), y.span)
    g2 = b.reshape(g, y2.type.shape)

    def swap(m):
        perm = tuple(range(m.type.rank - 2)) + (m.type.rank - 1, m.type.rank - 2)
        return b.transpose(m, perm=perm)
    gl = b.sum_to(b.matmul(g2, swap(r2)), l2.type)
    gr = b.sum_to(b.matmul(swap(l2), g2), r2.type)
    return b.reshape(gl, l.type.shape), b.reshape(gr, r.type.shape)


def vjp_matmul(y, g):
    b, (l, r) = B(y), y.inputs
    if l.type.rank > 2 or r.type.rank > 2:
        return vjp_batched_matmul(y, g)
    T = lambda m: b.transpose(m, perm=(1, 0))
    col = lambda v: b.reshape(v, v.type.shape + (1,))
    row = lambda v: b.reshape(v, (1,) + v.type.shape)
    if l.type.rank == 2 and r.type.rank == 2:          # [m,k] @ [k,n]
        return b.matmul(g, T(r)), b.matmul(T(l), g)
    if l.type.rank == 1 and r.type.rank == 2:          # [k] @ [k,n] -> [n]
        return b.matmul(r, g), b.matmul(col(l), row(g))
    if l.type.rank == 2:                               # [m,k] @ [k] -> [m]
        return b.matmul(col(g), row(r)), b.matmul(T(l), g)
    return b.mul(g, r), b.mul(g, l)                    # [k] @ [k] -> scalar


def vjp_transpose(y, g):
    perm = y.attr("perm")
    inverse = tuple(sorted(range(len(perm)), key=lambda i: perm[i]))
    return (B(y).transpose(g, perm=inverse),)


def vjp_reshape(y, g):
    (x,) = y.inputs
    return (B(y).reshape(g, x.type.shape),)


def vjp_broadcast_to(y, g):
    return (B(y).sum_to(g, y.inputs[0].type),)


def vjp_sum_to(y, g):
    return (B(y).broadcast_to(g, y.inputs[0].type),)


def vjp_concat(y, g):
    b, axis = B(y), y.attr("axis")
    shape = y.type.shape
    lead = tuple(("slice", 0, d, 1, d) for d in shape[:axis])
    outs, start = [], 0
    for x in y.inputs:
        length = x.type.shape[axis]
        stop = dim_add(start, length)
        items = lead + (("slice", start, stop, 1, length),)
        outs.append(b.slice(g, items=items))
        start = stop
    return tuple(outs)


def vjp_slice(y, g):
    (x,) = y.inputs
    return (apply("unslice", (g,), y.span, type=x.type.with_dtype(g.type.dtype),
                  items=y.attr("items")),)


def vjp_unslice(y, g):
    return (B(y).slice(g, items=y.attr("items")),)


def vjp_gather(y, g):
    x, *idx = y.inputs
    gx = apply("scatter_add", (g, *idx), y.span, type=x.type)
    return (gx,) + (None,) * len(idx)


def vjp_scatter_add(y, g):
    src, *idx = y.inputs
    b = B(y)
    return (b.sum_to(b.gather(g, *idx), src.type),) + (None,) * len(idx)


# ---- ops with a body ----------------------------------------------------------
def vjp_apply_body(y, g):
    """The cotangent of each input is another apply_body, whose body is
    the VJP of y's body: params (x..., g), root the cotangent of one x."""
    body = y.attr("body")
    names = {p.attr("name") for p in body.params}
    seed = node(Op.PARAM, (), g.type, y.span, name=fresh_name("g", names))
    cts = backprop(body.roots[0], seed, list(body.params))
    params = body.params + (seed,)
    return tuple(apply(Op.APPLY_BODY, y.inputs + (g,), y.span, body=Body(params, (ct,)))
                 if floats(p) else None for p, ct in zip(body.params, cts))


# ---- loops --------------------------------------------------------------------
def vjp_item(y, g):
    """A loop's cotangent is a dict: result index -> cotangent."""
    return ({y.attr("index"): g},)


def vjp_loop(y, g: dict):
    """Reverse mode through a loop. The forward loop is run again stacking
    the carried values each step starts from and every value of a step the
    body's VJP reads (`saved_values`; O(steps) memory: the carries and
    those values, once per step; the rewrite `merge-loop` makes it the
    same loop as the original); the backward loop runs the steps in
    reverse, applying the body's VJP to the saved values, so it recomputes
    no step. It carries the cotangents of the carries and accumulates those
    of the invariants; it stacks those of the sequences."""
    body, nc, ns = y.attr("body"), y.attr("carries"), y.attr("sequences")
    counted, ny = y.attr("counted"), y.attr("stacks")
    b = B(y)
    count = list(y.inputs[:counted])
    ins = y.inputs[counted:]
    inits, seqs, invs = ins[:nc], ins[nc:nc + ns], ins[nc + ns:]
    step, cps = body.params[0], body.params[1:1 + nc]
    eps, vps = body.params[1 + nc:1 + nc + ns], body.params[1 + nc + ns:]
    # 1. the backward body: cotangents of the step's inputs from those of its results
    taken = {p.attr("name") for p in body.params}

    def fresh(base, t):
        name = fresh_name(base, taken)
        taken.add(name)
        return node(Op.PARAM, (), t, y.span, name=name)
    fc = [k for k in range(nc) if floats(cps[k])]
    fv = [k for k in range(len(vps)) if floats(vps[k])]
    fs = [k for k in range(ns) if floats(eps[k])]
    fy = [j for j in range(ny) if nc + j in g]
    gc = {k: fresh(f"#g{cps[k].attr('name')}", cps[k].type) for k in fc}
    gv = {k: fresh(f"#g{vps[k].attr('name')}", vps[k].type) for k in fv}
    gy = {j: fresh(f"#gy{j}", body.roots[nc + j].type) for j in fy}
    roots = [body.roots[k] for k in fc] + [body.roots[nc + j] for j in fy]
    seeds = [gc[k] for k in fc] + [gy[j] for j in fy]
    wrts = [cps[k] for k in fc] + [vps[k] for k in fv] + [eps[k] for k in fs]
    cts = backprop_many(roots, seeds, wrts) if roots else [zeros_like(b, w) for w in wrts]
    # 2. the forward loop again, stacking the carries each step starts from
    # and the step's values the VJP reads, which the backward body takes as
    # elements of sequences instead of computing them again
    kept = saved_values(body, cts, y)
    kept_params = [fresh(f"#saved{k}", v.type) for k, v in enumerate(kept)]
    cts = replace_nodes(cts, dict(zip(kept, kept_params)))
    saved_loop = apply(Op.LOOP, y.inputs, y.span,
                       **dict(y.attrs, body=Body(body.params, body.roots + cps + tuple(kept)),
                              stacks=ny + nc + len(kept)))
    saved = [b.item(saved_loop, index=nc + ny + k) for k in range(nc + len(kept))]
    new_gc, dv, ge = cts[:len(fc)], cts[len(fc):len(fc) + len(fv)], cts[len(fc) + len(fv):]
    new_gv = [b.add(gv[k], d) for k, d in zip(fv, dv)]
    bparams = ((step,) + tuple(gc[k] for k in fc) + tuple(gv[k] for k in fv) + tuple(cps)
               + tuple(kept_params) + tuple(eps) + tuple(gy[j] for j in fy) + tuple(vps))
    back_body = Body(bparams, tuple(new_gc) + tuple(new_gv) + tuple(ge))
    # 3. the backward loop over the same steps, last to first
    g_final = [g[k] if k in g else zeros_like(b, inits[k]) for k in fc]
    g_inv = [zeros_like(b, invs[k]) for k in fv]
    back = apply(Op.LOOP, count + g_final + g_inv + saved + list(seqs) + [g[nc + j] for j in fy]
                 + list(invs), y.span, body=back_body, carries=len(fc) + len(fv),
                 sequences=nc + len(kept) + ns + len(fy), length=y.attr("length"), counted=counted,
                 reverse=not y.attr("reverse"), stacks=len(fs))
    out = [None] * len(y.inputs)
    for i, k in enumerate(fc):
        out[counted + k] = b.item(back, index=i)
    for i, k in enumerate(fv):
        out[counted + nc + ns + k] = b.item(back, index=len(fc) + i)
    for i, k in enumerate(fs):
        out[counted + nc + k] = b.item(back, index=len(fc) + len(fv) + i)
    return tuple(out)


def saved_values(body: Body, cts: list, loop: Node) -> list:
    """The values of a step that the VJP graph `cts` reads and that change
    from step to step: every node of the forward body (not a param) that
    is a result of cts or an input of one of its own nodes. Values whose
    shape has a size bound inside the body, and tuples, are computed again."""
    forward = set(toposort(body.roots))
    varying = step_varying(body, 1 + loop.attr("carries") + loop.attr("sequences"))
    length = loop.attr("length")
    known = {v for x in loop.inputs for v in x.type.size_vars()} \
        | (length.variables() if isinstance(length, Size) else set())
    read = [r for r in cts] + [i for n in toposort(cts) if n not in forward for i in n.inputs]
    saved = [source_of(n, varying) for n in dict.fromkeys(read) if n in forward and n in varying]
    return [n for n in dict.fromkeys(saved)
            if n.op != Op.PARAM and isinstance(n.type, TensorType) and n.type.size_vars() <= known]


# computed again in the backward body from the saved value they read, where
# they fuse into its kernels: saving `z` once, not each gate's `z[:, a:b] + 1.0`
CHEAP = frozenset(VIEWS + (Op.NEG, Op.CAST))
WITH_A_CONSTANT = frozenset((Op.ADD, Op.SUB, Op.MUL))


def source_of(n: Node, varying: set) -> Node:
    """The value to save for n: n, or, while n is a view, a negation, a cast
    or an add, sub or mul of one varying value and constants, that value."""
    while n.op in CHEAP or n.op in WITH_A_CONSTANT:
        moving = [i for i in n.inputs if i in varying]
        if len(moving) != 1 or n.op in WITH_A_CONSTANT and any(
                i.op != Op.CONST for i in n.inputs if i is not moving[0]):
            break
        n = moving[0]
    return n


def replace_nodes(roots: list, by: dict) -> list:
    """roots with every node equal to a key of `by` replaced by its value."""
    new: dict[int, Node] = {}
    for n in toposort(roots):
        if n in by:
            new[id(n)] = by[n]
        else:
            inputs = tuple(new[id(i)] for i in n.inputs)
            new[id(n)] = n if all(a is b for a, b in zip(inputs, n.inputs)) \
                else Node(n.op, inputs, n.type, n.attrs, n.span)
    return [new[id(r)] for r in roots]


def vjp_cumsum(y, g):
    """The sum of g from each position to the end of the axis:
    total - cumsum(g) + g."""
    b, axis = B(y), y.attr("axis")
    total = b.broadcast_to(b.sum(g, axes=(axis,), keepdims=True), g.type)
    return b.add(b.sub(total, b.cumsum(g, axis=axis)), g)


def zeros_like(b: B, x: Node) -> Node:
    return apply("full", (), b.span, type=x.type, value=0)


def fresh_name(base: str, taken: set) -> str:
    name, k = base, 0
    while name in taken:
        k += 1
        name = f"{base}{k}"
    return name


# ---- convolution and pooling -------------------------------------------------
# The gradient ops are linear in their cotangent input, so their own VJPs
# are the forward convolution again (second derivatives work).
def _conv_attrs(y):
    return dict(mode=y.attr("mode"), stride=y.attr("stride"))


def vjp_conv2d(y, g):
    (x, k), a = y.inputs, _conv_attrs(y)
    return (apply(Op.CONV2D_GRAD_X, (g, k), y.span, image=x.type.shape[2:], **a),
            apply(Op.CONV2D_GRAD_K, (x, g), y.span, kernel=k.type.shape[2:], **a))


def vjp_conv2d_grad_x(y, g):
    (gy, k), a = y.inputs, _conv_attrs(y)
    return (apply(Op.CONV2D, (g, k), y.span, **a),
            apply(Op.CONV2D_GRAD_K, (g, gy), y.span, kernel=k.type.shape[2:], **a))


def vjp_conv2d_grad_k(y, g):
    (x, gy), a = y.inputs, _conv_attrs(y)
    return (apply(Op.CONV2D_GRAD_X, (gy, g), y.span, image=x.type.shape[2:], **a),
            apply(Op.CONV2D, (x, g), y.span, **a))


def _pool_attrs(y):
    return {k: y.attr(k) for k in ("kind", "window", "stride", "ignore_border")}


def vjp_pool2d(y, g):
    (x,) = y.inputs
    return (apply(Op.POOL2D_GRAD, (x, g), y.span, **_pool_attrs(y)),)


def vjp_pool2d_grad(y, g):
    # piecewise constant in x; linear in gy: mean pooling's transpose is itself
    if y.attr("kind") != "mean":
        raise errors.no_gradient_rule("max_pool_twice", y.span)
    return None, apply(Op.POOL2D, (g,), y.span, **_pool_attrs(y))


VJP = {op: unary_rule(fn) for op, fn in UNARY_VJP.items()}
VJP.update({
    Op.ADD: vjp_add, Op.SUB: vjp_sub, Op.MUL: vjp_mul, Op.DIV: vjp_div,
    Op.MOD: vjp_mod, Op.POW: vjp_pow,
    Op.MAXIMUM: extremum_pair(Op.GE), Op.MINIMUM: extremum_pair(Op.LE),
    Op.CAST: vjp_cast, Op.WHERE: vjp_where,
    Op.SUM: vjp_sum, Op.MEAN: vjp_mean, Op.PROD: vjp_prod,
    Op.MAX: vjp_extremum, Op.MIN: vjp_extremum,
    Op.SOFTMAX: vjp_softmax, Op.LOG_SOFTMAX: vjp_log_softmax,
    Op.LOGSUMEXP: vjp_logsumexp,
    Op.MATMUL: vjp_matmul, Op.TRANSPOSE: vjp_transpose, Op.RESHAPE: vjp_reshape,
    Op.BROADCAST_TO: vjp_broadcast_to, Op.SUM_TO: vjp_sum_to,
    Op.CONCAT: vjp_concat, Op.SLICE: vjp_slice, Op.UNSLICE: vjp_unslice,
    Op.GATHER: vjp_gather, Op.SCATTER_ADD: vjp_scatter_add,
    Op.APPLY_BODY: vjp_apply_body,
})
VJP.update({
    Op.CONV2D: vjp_conv2d, Op.CONV2D_GRAD_X: vjp_conv2d_grad_x, Op.CONV2D_GRAD_K: vjp_conv2d_grad_k,
    Op.POOL2D: vjp_pool2d, Op.POOL2D_GRAD: vjp_pool2d_grad,
})
VJP.update({Op.LOOP: vjp_loop, Op.ITEM: vjp_item, Op.CUMSUM: lambda y, g: (vjp_cumsum(y, g),)})


# ---- grad ------------------------------------------------------------------
def grad(cost: Node, wrts: list[Node], names=None, spans=None, cost_span=None) -> list[Node]:
    """d cost / d wrt for each wrt, each a node of exactly wrt's type;
    `check_grad` first (its arguments after `wrts` locate its errors).

    Nodes are matched structurally (Node equality), so a wrt may be any
    leaf or interior node equal to one in the cost's graph."""
    check_grad(cost, wrts, names, spans, cost_span)
    order = _unique(toposort([cost]))
    return backprop(cost, const(1, cost.type.dtype, cost.span), wrts, order)


def backprop(y: Node, seed: Node, wrts: list[Node], order: list[Node] | None = None) -> list[Node]:
    """The cotangent of each wrt when y's cotangent is `seed` (a node of
    y's type); zeros for a wrt y does not depend on."""
    return backprop_many([y], [seed], wrts, order)


def backprop_many(ys: list[Node], seeds: list[Node], wrts: list[Node],
                  order: list[Node] | None = None) -> list[Node]:
    """backprop with several results, each with its cotangent."""
    order = _unique(toposort(ys)) if order is None else order
    wanted = set(wrts)
    # only nodes downstream of some wrt need a cotangent
    live = set()
    for n in order:
        if n in wanted or any(i in live for i in n.inputs):
            live.add(n)
    cts: dict[Node, Node] = {}
    for y, seed in zip(ys, seeds):
        _accumulate(cts, y, seed)
    for n in reversed(order):
        g = _cotangent(cts, n)
        if g is None or n.op in NONDIFF or not floats(n):
            continue
        rule = VJP.get(n.op)
        if rule is None:
            raise errors.no_gradient_rule("op", n.span, op=n.op)
        for x, gx in zip(n.inputs, rule(n, g)):
            if gx is None or x not in live or not floats(x):
                continue
            _accumulate(cts, x, gx)
    return [_result(cts, w) for w in wrts]


def check_grad(cost: Node, wrts: list[Node], names=None, spans=None, cost_span=None) -> None:
    """The preconditions of `grad`, one text for `.sym` and the tensor API:
    float wrts, a scalar float cost that depends on each. `names` and
    `spans` say how the user wrote each wrt (default: the node's)."""
    names = names or [w.attr("name") or w.op for w in wrts]
    spans = spans or [w.span for w in wrts]
    for w, name, span in zip(wrts, names, spans):
        if not w.type.is_float:
            raise errors.grad_wrt_non_float(name, w.type, span)
    t = cost.type
    if t.rank != 0 or not t.is_float:
        if t.rank:
            raise errors.cost_not_scalar(t, cost_span or cost.span)
        raise errors.cost_not_float(t, cost_span or cost.span)
    present = set(toposort([cost]))
    for w, name, span in zip(wrts, names, spans):
        if w not in present:
            raise errors.cost_independent(name, span)


def _unique(order: list[Node]) -> list[Node]:
    """Drop structural duplicates (distinct objects, equal nodes) so each
    value is visited once: cotangents are keyed by Node equality."""
    seen: set[Node] = set()
    out = []
    for n in order:
        if n not in seen:
            seen.add(n)
            out.append(n)
    return out


def _accumulate(cts: dict, x: Node, gx) -> None:
    if isinstance(gx, dict):        # a loop's results
        merged = dict(cts.get(x, {}))
        for i, g in gx.items():
            merged[i] = g if i not in merged else apply("add", (merged[i], g), g.span)
        cts[x] = merged
        return
    if gx.type != x.type:
        raise AssertionError(f"VJP bug: cotangent {gx.type} for a {x.op} of type {x.type}")
    cts.setdefault(x, []).append(gx)


def _cotangent(cts: dict, x: Node):
    """x's cotangent: the sum of its contributions, in the order they came,
    or, when they are slices of x placed side by side (the gradients of
    `gates[:, 0:h]`, `gates[:, h:2h]`, ...), those pieces concatenated:
    the same values without adding zeros (an LSTM step's gate gradient
    computed each element's four gate formulas, three of them for a zero)."""
    g = cts.get(x)
    if g is None or isinstance(g, dict):
        return g
    total = _side_by_side(g) if len(g) > 1 else None
    if total is None:
        total = g[0]
        for c in g[1:]:
            total = apply("add", (total, c), c.span)
    cts[x] = [total]        # a wrt is asked again by _result: built once
    return total


def _side_by_side(pieces: list[Node]) -> Node | None:
    """concat of the unslices' inputs (zeros in the gaps) when every piece
    is an unslice of a step-1 range of one axis, the same for all, whole
    on the others, and the ranges do not overlap; else None."""
    ranges = [_placed_range(p) for p in pieces]
    if None in ranges or len({axis for axis, _, _ in ranges}) != 1:
        return None
    axis = ranges[0][0]
    out = pieces[0]
    parts, at = [], 0
    for (_, start, stop), p in sorted(zip(ranges, pieces), key=lambda rp: rp[0][1]):
        if start < at:
            return None
        if start > at:
            parts.append(_zeros_along(out, axis, start - at))
        parts.append(p.inputs[0])
        at = stop
    size = out.type.shape[axis]
    if at < size:
        parts.append(_zeros_along(out, axis, size - at))
    return apply(Op.CONCAT, tuple(parts), out.span, axis=axis)


def _placed_range(p: Node):
    """(axis, start, stop) of an unslice writing a step-1 range of known
    bounds along one axis and whole other axes, else None."""
    if p.op != Op.UNSLICE:
        return None
    found = None
    for axis, (item, dim) in enumerate(zip(p.attr("items"), p.type.shape)):
        if item[0] != "slice" or item[3] not in (None, 1):
            return None
        _, start, stop, _, length = item
        if start in (None, 0) and stop is None and length == dim:
            continue
        known = all(isinstance(v, int) or v is None for v in (start, stop))
        if found is not None or not known or not isinstance(dim, int):
            return None
        first = slice(start, stop).indices(dim)[0]
        if (first, length) != (0, dim):
            found = (axis, first, first + length)
    return found


def _zeros_along(like: Node, axis: int, size: int) -> Node:
    shape = like.type.shape[:axis] + (size,) + like.type.shape[axis + 1:]
    return apply("full", (), like.span, type=like.type.with_shape(shape), value=0)


def _result(cts: dict, w: Node) -> Node:
    g = _cotangent(cts, w)
    if g is None:
        # reached only through non-differentiable ops: the gradient is zero
        return apply("full", (), w.span, type=w.type, value=0)
    return g
