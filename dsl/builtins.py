"""Lowering calls of expression builtins inside defs to IR nodes."""
from __future__ import annotations

from dataclasses import dataclass

from . import ast as A
from . import autodiff, loops
from .ir import Node
from .literals import check_literal_range, non_negative
from .parallel import GradInfo
from .diagnostics import Span, SymError
from . import errors
from .registry import BY_NAME
from .scope import (Default, Given, Weak, static_bool, static_int, static_ints,
                    dim_from_ast)
from .types import DTYPES, TensorType


@dataclass(frozen=True)
class CallSite:
    """A builtin call as the builder gets it, from either front end:
    positional arguments, keywords (name, argument, span), the call's span.
    Each argument is a `scope.Written` (`.sym`) or a `scope.Given` (Python)."""
    args: tuple
    kwargs: tuple
    span: Span | None


@dataclass(frozen=True)
class Keyword:
    name: str
    value: object
    span: Span | None


def call_builtin(ck, name: str, args: dict, e: CallSite):
    b = BY_NAME[name]
    if b.unary:
        return ck.apply(name, (node_arg(ck, args["x"]),), e.span)
    if b.cast:
        return ck.apply("cast", (node_arg(ck, args["x"], name),), e.span, dtype=name)
    handler = HANDLERS.get(name)
    return handler(ck, args, e)


def node_arg(ck, a, dtype=None) -> Node:
    return ck.tensor(a.evaluate(ck), a.span, dtype)


def given(a):
    return not isinstance(a, Default)


def normalize_axis(axis: int, rank: int, span) -> int:
    if not -rank <= axis < max(rank, 1) or rank == 0:
        raise errors.axis_out_of_range("axis", span,
                                       f"valid axes are {-rank}..{rank - 1}" if rank else "a scalar has no axes",
                                       axis=axis, rank=rank)
    return axis % rank


def axes_arg(a, rank, span) -> tuple[int, ...]:
    if not given(a) or a.ident() == "none":
        return tuple(range(rank))
    axes = tuple(sorted({normalize_axis(x, rank, a.span) for x in static_ints(a, "axis")}))
    return axes


def bool_arg(a, what) -> bool:
    return a.value if isinstance(a, Default) else static_bool(a, what)


def reduction(name):
    def lower(ck, args, e):
        if name in ("max", "min") and len(e.args) == 2:     # max(a, b) is elementwise
            return ck.binary("maximum" if name == "max" else "minimum",
                             args["x"].evaluate(ck), args["axis"].evaluate(ck), e.span, name)
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
        return ck.binary(op, args["a"].evaluate(ck), args["b"].evaluate(ck), e.span, op)
    return lower


def lower_where(ck, args, e):
    cond = node_arg(ck, args["cond"])
    a, b = args["a"].evaluate(ck), args["b"].evaluate(ck)
    a_node = ck.tensor(a, args["a"].span, getattr(b, "type", None) and b.type.dtype)
    b_node = ck.tensor(b, args["b"].span, a_node.type.dtype)
    return ck.apply("where", (cond, a_node, b_node), e.span)


def lower_clip(ck, args, e):
    low = ck.binary("maximum", args["x"].evaluate(ck), args["lo"].evaluate(ck), e.span, "clip")
    return ck.binary("minimum", low, args["hi"].evaluate(ck), e.span, "clip")


def lower_one_hot(ck, args, e):
    y = node_arg(ck, args["y"])
    depth = static_int(args["depth"], "the depth of one_hot")
    if depth < 1:   # no label fits in zero classes
        raise errors.not_a_constant("depth_one_hot", args["depth"].span, depth=depth)
    return ck.apply("one_hot", (y,), e.span, depth=depth)


def lower_transpose(ck, args, e):
    x = node_arg(ck, args["x"])
    if not given(args["axes"]):
        perm = tuple(reversed(range(x.type.rank)))
    else:
        perm = tuple(normalize_axis(p, x.type.rank, args["axes"].span)
                     for p in static_ints(args["axes"], "axes"))
        if sorted(perm) != list(range(x.type.rank)):
            raise errors.axis_out_of_range("permutation", args["axes"].span, perm=perm,
                                           last=x.type.rank - 1)
    return ck.apply("transpose", (x,), e.span, perm=perm)


def shape_arg(ck, a) -> tuple:
    """A static shape: (n, 10), (600, 784), or a single dimension."""
    items = a.elements()
    if items is None:
        items = (a,)
    return tuple(non_negative(dim_value(ck, x), x.span) for x in items)


def dim_value(ck, a):
    if isinstance(a, Given):
        return a.dim()
    x = a.ast
    if isinstance(x, A.Index) or isinstance(x, A.Call):     # x.shape[0], len(x)
        node = ck.expr(x)
        if isinstance(node, Node) and node.op == "size":
            return node.attr("dim")
        if isinstance(node, Node) and node.op == "const":
            return node.attr("value")
        raise errors.shape_not_static("shape", x.span)

    def lookup(name, span):
        if name in ck.sizes:
            return ck.sizes[name]
        if name in ck.env.options and isinstance(ck.env.options[name], int):
            return ck.env.options[name]
        if name in ck.locals:
            raise errors.shape_not_static("computed", span, name=name)
        raise errors.unknown_name(name, span, "sizes come from the parameters' types", "size")
    return dim_from_ast(x, lookup)


def lower_reshape(ck, args, e):
    x = node_arg(ck, args["x"])
    shape = shape_arg(ck, args["shape"])
    return ck.apply("reshape", (x,), e.span, type=TensorType(x.type.dtype, shape))


def join(name):
    def lower(ck, args, e):
        xs = args["xs"]
        if xs.elements(("tuple", "list")) is None:
            raise errors.needs_tensor_tuple(name, xs.span)
        nodes = [node_arg(ck, x) for x in xs.elements(("tuple", "list"))]
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
            fill = args["value"].evaluate(ck)
            if not isinstance(fill, Weak):
                raise errors.not_a_constant("fill_value_full", args["value"].span)
            fill = fill.value
            dtype = dtype or literal_dtype(fill)
        if given(args["dtype"]):
            d = args["dtype"]
            dtype = d.ident()
            if dtype not in DTYPES:
                raise errors.invalid_type("dtype_one_f32", d.span)
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
        raise errors.bool_mismatch("fill", span, dtype=dtype, value=str(value).lower())
    if isinstance(value, float) and dtype in ("i32", "i64"):
        raise errors.kinds_mixed("fill", span, value=value, dtype=dtype)
    check_literal_range(value, dtype, span)


def lower_arange(ck, args, e):
    dims = shape_arg(ck, args["n"])
    if len(dims) != 1:
        raise errors.shape_not_static("arange", args["n"].span, rank=len(dims))
    (n,) = dims
    return ck.apply("arange", (ck.size_node(n, e.span),), e.span, type=TensorType("i64", (n,)))


def lower_len(ck, args, e):
    x = node_arg(ck, args["x"])
    if x.type.rank == 0:
        raise errors.axis_out_of_range("len_of_scalar", e.span)
    return ck.size_node(x.type.shape[0], e.span)


def lower_grad(ck, args, e):
    cost = node_arg(ck, args["cost"])
    wrt_ast = args["wrt"]
    if wrt_ast.elements(("list",)):     # grad(cost, [W, b]): one each
        return tuple(lower_grad(ck, {**args, "wrt": w}, e) for w in wrt_ast.elements(("list",)))
    if wrt_ast.ident() is None:
        raise errors.bad_grad_wrt("not_a_name", wrt_ast.span)
    wrt = node_arg(ck, wrt_ast)
    if wrt in ck.env.samples:
        raise errors.grad_wrt_sample(wrt_ast.ident(), wrt_ast.span)
    try:
        (g,) = autodiff.grad(cost, [wrt], [wrt_ast.ident()], [wrt_ast.span], args["cost"].span)
    except SymError as err:     # at the node autodiff names, else at the call
        raise err.located(e.span) from None
    # what `--ranks` splits a training def at (dsl/parallel.py)
    cost_text = args["cost"].ident() or "..."
    ck.env.gradients[id(g)] = GradInfo(g, cost, wrt, f"`grad({cost_text}, {wrt_ast.ident()})`", e.span)
    return g


# ---- convolution and pooling ------------------------------------------------
def lower_conv2d(ck, args, e):
    x, w = node_arg(ck, args["x"]), node_arg(ck, args["w"])
    mode = choice_arg(args["mode"], ("valid", "full"), "the mode of conv2d")
    return ck.apply("conv2d", (x, w), e.span, mode=mode, stride=pair_arg(args["stride"], "stride"))


def pooling(kind):
    def lower(ck, args, e):
        x = node_arg(ck, args["x"])
        window = pair_arg(args["window"], "the window")
        stride = window if not given(args["stride"]) else pair_arg(args["stride"], "stride")
        return ck.apply("pool2d", (x,), e.span, kind=kind, window=window, stride=stride,
                        ignore_border=bool_arg(args["ignore_border"], "ignore_border"))
    return lower


def pair_arg(a, what) -> tuple[int, int]:
    """(rows, columns) of a window or a stride: `(2, 2)`, or `2` for both."""
    if isinstance(a, Default):
        return a.value
    values = static_ints(a, what)
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 1:
        raise errors.bad_window_argument("pair", a.span, what=what, got=ints_text(values))
    return values


def ints_text(values) -> str:
    return "(" + ", ".join(map(str, values)) + ")"


def choice_arg(a, choices, what) -> str:
    if isinstance(a, Default):
        return a.value
    if a.text() not in choices:
        quoted = [f'"{c}"' for c in choices]
        raise errors.bad_window_argument("choice", a.span, what=what, choices=' or '.join(quoted),
                                         last=choices[-1])
    return a.text()


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


# ---- random draws from a stream -------------------------------------------------------
def stream_arg(ck, a, fname) -> tuple[str, Node]:
    """The stream a draw reads: its name and its state node."""
    if a.ident() not in ck.env.streams:
        streams = sorted(ck.env.streams)
        raise errors.draw_without_stream(fname, a.span,
                                         f"draw from a stream by its name: `{fname}({streams[0]}, ...)`" if streams else
                                         f"declare one at top level, `shared rng: stream = 234`, then `{fname}(rng, ...)`")
    if ck.env.draws is None:
        raise errors.draw_outside_def(fname, a.span,
                                      "a def's call advances the stream: put the draw in a def and call it")
    return a.ident(), ck.shared(a.ident(), a.span)


def draw_shape(ck, a) -> tuple:
    """A draw's shape: static or bound by sizes (`(n, 784)`, `x.shape`)."""
    written = getattr(a, "ast", None)
    if isinstance(written, A.Attribute) and written.attr == "shape":
        return ck.tensor(ck.expr(written.value), written.value.span).type.shape
    return shape_arg(ck, a)


def float_dtype(a) -> str:
    if not given(a):
        return a.value
    if a.ident() not in ("f32", "f64"):
        raise errors.invalid_type("dtype_draw_f32", a.span)
    return a.ident()


def scalar_arg(ck, a, dtype: str, what: str) -> Node:
    value = Weak(a.value, None) if isinstance(a, Default) else a.evaluate(ck)
    node = ck.tensor(value, getattr(a, "span", None), dtype)
    if node.type.rank != 0 or node.type.dtype != dtype:
        raise errors.bad_draw_argument("draw_scalar_got", a.span, what=what, dtype=dtype,
                                       type=node.type)
    return node


def probability_arg(ck, a, dtype: str) -> Node:
    value = Weak(a.value, None) if isinstance(a, Default) else a.evaluate(ck)
    if isinstance(value, Weak) and not (isinstance(value.value, bool) or 0 <= value.value <= 1):
        raise errors.bad_probability("literal", a.span, value=value.value)
    return scalar_arg(ck, a, dtype, "p")


def random_node(ck, stream, dist, t: TensorType, params, span) -> Node:
    """One draw, numbered within its def's call, so no two draws are merged."""
    name, state = stream
    draw = len(ck.env.draws)
    ck.env.draws.append(name)
    return ck.apply("random", (state, *params), span, type=t, dist=dist, draw=draw)


def sample(ck, node: Node) -> Node:
    ck.env.samples.add(node)
    return node


def lower_uniform_or_normal(dist, names):
    def lower(ck, args, e):
        stream = stream_arg(ck, args["stream"], dist)
        shape = draw_shape(ck, args["shape"])
        dtype = float_dtype(args["dtype"])
        params = tuple(scalar_arg(ck, args[p], dtype, p) for p in names)
        return sample(ck, random_node(ck, stream, dist, TensorType(dtype, shape), params, e.span))
    return lower


def bernoullis(ck, stream, shape, p: Node, dtype, span) -> Node:
    """1 where a uniform draw is below p: exactly p's probability, 0 and 1 included."""
    zero, one = (ck.apply("const", (), span, type=TensorType(p.type.dtype, ()), value=v)
                 for v in (0.0, 1.0))
    u = random_node(ck, stream, "uniform", TensorType(p.type.dtype, shape), (zero, one), span)
    return ck.apply("cast", (ck.apply("lt", (u, p), span),), span, dtype=dtype)


def lower_bernoulli(ck, args, e):
    stream = stream_arg(ck, args["stream"], "bernoulli")
    shape = draw_shape(ck, args["shape"])
    dtype = float_dtype(args["dtype"])
    p = probability_arg(ck, args["p"], dtype)
    return sample(ck, bernoullis(ck, stream, shape, p, dtype, e.span))


def lower_binomial(ck, args, e):
    stream = stream_arg(ck, args["stream"], "binomial")
    shape = draw_shape(ck, args["shape"])
    dtype = float_dtype(args["dtype"])
    n = args["n"].value if isinstance(args["n"], Default) else static_int(args["n"], "`n` of `binomial`")
    if not 1 <= n <= 64:
        raise errors.bad_draw_argument("n_binomial_1", args["n"].span, n=n)
    p = probability_arg(ck, args["p"], dtype)
    total = bernoullis(ck, stream, shape, p, dtype, e.span)
    for _ in range(n - 1):
        total = ck.apply("add", (total, bernoullis(ck, stream, shape, p, dtype, e.span)), e.span)
    return sample(ck, total)


def lower_integers(ck, args, e):
    """low + (bits * (high - low)) // 2**32 from 32 random bits: any range
    up to 2**31 wide."""
    stream = stream_arg(ck, args["stream"], "integers")
    shape = draw_shape(ck, args["shape"])
    lo, hi = (None if isinstance(args[p], Default) else args[p].literal() for p in ("low", "high"))
    if isinstance(lo, int) and isinstance(hi, int) and not 0 < hi - lo <= 2 ** 31:
        raise errors.bad_draw_argument("integers_needs_low", e.span, lo=lo, hi=hi)
    low, high = (scalar_arg(ck, args[p], "i64", p) for p in ("low", "high"))
    bits = random_node(ck, stream, "bits", TensorType("i64", shape), (), e.span)
    scale = ck.apply("const", (), e.span, type=TensorType("i64", ()), value=2 ** 32)
    product = ck.apply("mul", (bits, ck.apply("sub", (high, low), e.span)), e.span)
    return sample(ck, ck.apply("add", (low, ck.apply("floordiv", (product, scale), e.span)), e.span))


HANDLERS.update({
    "uniform": lower_uniform_or_normal("uniform", ("low", "high")),
    "normal": lower_uniform_or_normal("normal", ("mean", "std")),
    "bernoulli": lower_bernoulli, "binomial": lower_binomial, "integers": lower_integers,
})
HANDLERS.update({"conv2d": lower_conv2d, "max_pool2d": pooling("max"), "mean_pool2d": pooling("mean")})
