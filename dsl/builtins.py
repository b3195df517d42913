"""Lowering calls of expression builtins inside defs to IR nodes."""
from __future__ import annotations

from . import ast as A
from . import autodiff, loops
from .ir import Node
from .literals import check_literal_range, non_negative
from .diagnostics import SymError
from .registry import BY_NAME
from .scope import Default, Weak, fail, static_bool, static_int, static_ints, dim_from_ast
from .types import DTYPES, TensorType



def call_builtin(ck, name: str, args: dict, e: A.Call):
    b = BY_NAME[name]
    if b.unary:
        return ck.apply(name, (node_arg(ck, args["x"]),), e.span)
    if b.cast:
        return ck.apply("cast", (node_arg(ck, args["x"], name),), e.span, dtype=name)
    handler = HANDLERS.get(name)
    return handler(ck, args, e)


def node_arg(ck, a, dtype=None) -> Node:
    return ck.tensor(ck.expr(a), a.span, dtype)


def given(a):
    return not isinstance(a, Default)


def normalize_axis(axis: int, rank: int, span) -> int:
    if not -rank <= axis < max(rank, 1) or rank == 0:
        fail("E0210", f"axis {axis} is out of range for a tensor of rank {rank}", span,
             f"valid axes are {-rank}..{rank - 1}" if rank else "a scalar has no axes")
    return axis % rank


def axes_arg(a, rank, span) -> tuple[int, ...]:
    if not given(a) or (isinstance(a, A.Name) and a.id == "none"):
        return tuple(range(rank))
    axes = tuple(sorted({normalize_axis(x, rank, a.span) for x in static_ints(a, "axis")}))
    return axes


def bool_arg(a, what) -> bool:
    return a.value if isinstance(a, Default) else static_bool(a, what)


def reduction(name):
    def lower(ck, args, e):
        if name in ("max", "min") and len(e.args) == 2:     # max(a, b) is elementwise
            return ck.binary("maximum" if name == "max" else "minimum",
                             ck.expr(e.args[0]), ck.expr(e.args[1]), e, name)
        x = node_arg(ck, args["x"])
        axes = axes_arg(args["axis"], x.type.rank, e.span)
        keep = bool_arg(args["keepdims"], "keepdims")
        return ck.apply(name, (x,), e.span, axes=axes, keepdims=keep)
    return lower


def arg_reduction(name):
    def lower(ck, args, e):
        x = node_arg(ck, args["x"])
        axis = None
        if given(args["axis"]):
            axis = normalize_axis(static_int(args["axis"], "axis"), x.type.rank, args["axis"].span)
        return ck.apply(name, (x,), e.span, axis=axis, keepdims=bool_arg(args["keepdims"], "keepdims"))
    return lower


def row_op(name):
    def lower(ck, args, e):
        x = node_arg(ck, args["x"])
        a = args["axis"]
        axis = a.value if isinstance(a, Default) else static_int(a, "axis")
        return ck.apply(name, (x,), e.span, axis=normalize_axis(axis, x.type.rank, e.span))
    return lower


def binary(op):
    def lower(ck, args, e):
        return ck.binary(op, ck.expr(args["a"]), ck.expr(args["b"]), e, op)
    return lower


def lower_where(ck, args, e):
    cond = node_arg(ck, args["cond"])
    a, b = ck.expr(args["a"]), ck.expr(args["b"])
    a_node = ck.tensor(a, args["a"].span, getattr(b, "type", None) and b.type.dtype)
    b_node = ck.tensor(b, args["b"].span, a_node.type.dtype)
    return ck.apply("where", (cond, a_node, b_node), e.span)


def lower_clip(ck, args, e):
    low = ck.binary("maximum", ck.expr(args["x"]), ck.expr(args["lo"]), e, "clip")
    return ck.binary("minimum", low, ck.expr(args["hi"]), e, "clip")


def lower_one_hot(ck, args, e):
    y = node_arg(ck, args["y"])
    depth = static_int(args["depth"], "the depth of one_hot")
    if depth < 1:   # no label fits in zero classes
        fail("E0213", f"the depth of one_hot must be at least 1, got {depth}", args["depth"].span,
             "it is the number of classes: `one_hot(y, 10)`")
    return ck.apply("one_hot", (y,), e.span, depth=depth)


def lower_transpose(ck, args, e):
    x = node_arg(ck, args["x"])
    if not given(args["axes"]):
        perm = tuple(reversed(range(x.type.rank)))
    else:
        perm = tuple(normalize_axis(p, x.type.rank, args["axes"].span)
                     for p in static_ints(args["axes"], "axes"))
        if sorted(perm) != list(range(x.type.rank)):
            fail("E0210", f"axes {perm} are not a permutation of 0..{x.type.rank - 1}",
                 args["axes"].span)
    return ck.apply("transpose", (x,), e.span, perm=perm)


def shape_arg(ck, a) -> tuple:
    """A static shape: (n, 10), (600, 784), or a single dimension."""
    items = a.elts if isinstance(a, A.TupleExpr) else (a,)
    return tuple(non_negative(dim_value(ck, x), x.span) for x in items)


def dim_value(ck, x):
    if isinstance(x, A.Index) or isinstance(x, A.Call):     # x.shape[0], len(x)
        node = ck.expr(x)
        if isinstance(node, Node) and node.op == "size":
            return node.attr("dim")
        if isinstance(node, Node) and node.op == "const":
            return node.attr("value")
        fail("E0214", "a shape must be known before the def runs", x.span)

    def lookup(name, span):
        if name in ck.sizes:
            return ck.sizes[name]
        if name in ck.env.options and isinstance(ck.env.options[name], int):
            return ck.env.options[name]
        if name in ck.locals:
            fail("E0214", f"`{name}` is a value computed when the def runs, but a shape must be "
                 "known before it runs", span,
                 "use a size variable of a parameter's type (`x: f32[k]`), a number or an option")
        fail("E0101", f"unknown size `{name}`", span, "sizes come from the parameters' types")
    return dim_from_ast(x, lookup)


def lower_reshape(ck, args, e):
    x = node_arg(ck, args["x"])
    shape = shape_arg(ck, args["shape"])
    return ck.apply("reshape", (x,), e.span, type=TensorType(x.type.dtype, shape))


def join(name):
    def lower(ck, args, e):
        xs = args["xs"]
        if not isinstance(xs, (A.TupleExpr, A.ListExpr)):
            fail("E0217", f"`{name}` takes a tuple of tensors: `{name}((a, b), axis=0)`", xs.span)
        nodes = [node_arg(ck, x) for x in xs.elts]
        rank = nodes[0].type.rank + (1 if name == "stack" else 0)
        axis = static_int(args["axis"], "axis") if given(args["axis"]) else 0
        axis = normalize_axis(axis, rank, e.span)
        if name == "stack":
            nodes = [ck.apply("reshape", (n,), e.span, type=n.type.with_shape(
                n.type.shape[:axis] + (1,) + n.type.shape[axis:])) for n in nodes]
        return ck.apply("concat", tuple(nodes), e.span, axis=axis)
    return lower


def constructor(value):
    def lower(ck, args, e):
        shape = shape_arg(ck, args["shape"])
        fill = value
        dtype = args["dtype"].value if isinstance(args["dtype"], Default) else None
        if value is None:
            fill = ck.expr(args["value"])
            if not isinstance(fill, Weak):
                fail("E0213", "the fill value of `full` must be a literal", args["value"].span)
            fill = fill.value
            dtype = dtype or literal_dtype(fill)
        if given(args["dtype"]):
            d = args["dtype"]
            dtype = d.id if isinstance(d, A.Name) else None
            if dtype not in DTYPES:
                fail("E0007", "dtype must be one of f32 f64 i32 i64 bool", d.span)
        if value is None:
            check_fill(fill, dtype, args["value"].span)
        return ck.apply("full", (), e.span, type=TensorType(dtype, shape), value=fill)
    return lower


def literal_dtype(value) -> str:
    """The dtype a literal has when nothing else decides it."""
    return "bool" if isinstance(value, bool) else "f32" if isinstance(value, float) else "i32"


def check_fill(value, dtype: str, span):
    """A fill value must be a number of the tensor's kind: a float never
    becomes an integer, a number never a bool (nor the reverse)."""
    if isinstance(value, bool) != (dtype == "bool"):
        fail("E0209", f"cannot fill a tensor of {dtype} with {str(value).lower()}", span,
             "fill bool tensors with `true` or `false`, numbers with numbers")
    if isinstance(value, float) and dtype in ("i32", "i64"):
        fail("E0206", f"the float {value} cannot fill a tensor of {dtype}", span,
             "write an integer, or give a float dtype: `dtype=f32`")
    check_literal_range(value, dtype, span)


def lower_arange(ck, args, e):
    dims = shape_arg(ck, args["n"])
    if len(dims) != 1:
        fail("E0214", f"`arange` takes one size, got a shape of {len(dims)} dimensions",
             args["n"].span, "`arange(n)` counts 0..n-1; for more axes, reshape it: "
             "`reshape(arange(6), (3, 2))`")
    (n,) = dims
    return ck.apply("arange", (ck.size_node(n, e.span),), e.span, type=TensorType("i64", (n,)))


def lower_len(ck, args, e):
    x = node_arg(ck, args["x"])
    if x.type.rank == 0:
        fail("E0210", "`len` of a scalar", e.span)
    return ck.size_node(x.type.shape[0], e.span)


def lower_grad(ck, args, e):
    cost = node_arg(ck, args["cost"])
    wrt_ast = args["wrt"]
    if not isinstance(wrt_ast, A.Name):
        fail("E0406", "the second argument of `grad` must be a name", wrt_ast.span,
             "name a parameter, a shared value or a bound value: `grad(cost, W)`")
    wrt = node_arg(ck, wrt_ast)
    try:
        (g,) = autodiff.grad(cost, [wrt], [wrt_ast.id], [wrt_ast.span], args["cost"].span)
    except SymError as err:     # at the node autodiff names, else at the call
        raise err.located(e.span) from None
    return g


HANDLERS = {
    **{n: reduction(n) for n in ("sum", "mean", "max", "min", "prod")},
    "argmax": arg_reduction("argmax"), "argmin": arg_reduction("argmin"),
    "softmax": row_op("softmax"), "log_softmax": row_op("log_softmax"),
    "logsumexp": row_op("logsumexp"),
    "maximum": binary("maximum"), "minimum": binary("minimum"), "dot": binary("matmul"),
    "where": lower_where, "clip": lower_clip, "one_hot": lower_one_hot,
    "transpose": lower_transpose, "reshape": lower_reshape,
    "concat": join("concat"), "stack": join("stack"),
    "zeros": constructor(0), "ones": constructor(1), "full": constructor(None),
    "arange": lower_arange, "len": lower_len, "grad": lower_grad,
    "stop_gradient": lambda ck, args, e: ck.apply("stop_gradient", (node_arg(ck, args["x"]),), e.span),
    "cumsum": row_op("cumsum"),
    "ifelse": loops.lower_ifelse,
}
