"""Every op of the IR and its type rule: the first of the four op tables.

`TYPE_RULES[op](input_types, attrs) -> TensorType` either returns the
result type or raises a `SymError` without a span; the front end
that built the node attaches the user's span. Every op is a member of the
`Op` enum below, and its groups (elementwise, reductions, views, ...) are
written once, next to it. The other tables, keyed by `Op`, are
`autodiff.VJP`, `semantics.impl.IMPL` and the OpenCL lowering;
`tests/test_op_tables.py` checks each table against the enum.

Attribute conventions (all attrs are hashable):
  reductions   axes: tuple of non-negative ints, keepdims: bool
  arg-reduce   axis: int or None, keepdims: bool
  softmax etc  axis: non-negative int
  cast         dtype
  transpose    perm
  reshape, broadcast_to, sum_to, full, scatter_add, unslice, arange and
               the leaves: the result type is the node's type; builders pass it
               to the rule as attrs["type"], it is not stored in node.attrs
  slice        items: per leading axis ("index", i) or
               ("slice", start, stop, step, length); bounds may be Sizes
  unslice      the same items (it is the VJP of slice)
  concat       axis
  one_hot      depth
  const        value: a Python scalar, or a nested tuple for a tensor literal
  param, shared   name
  size         dim: the Size or int it stands for (an i64 scalar)
  apply_body   body: an ir.Body with one param per input and one root
  random       dist: "bits" (i64 in [0, 2**32)), "uniform" or "normal";
               draw: its number within a call. Inputs: the stream's state
               (i64[2]: seed, calls) and, for uniform/normal, two scalars of
               the result's dtype (low, high / mean, std). The result type
               is given (attrs["type"]); semantics/philox.py says what it is.
               from_row: True when a last input (i64 scalar) is the row
               the draw starts at: it gives rows from_row.. of the draw of
               that many more rows (a rank's rows, dsl/parallel.py)
  conv2d       mode: "valid" or "full", stride: (sh, sw); the filters are
               flipped (a true convolution, as Theano's conv2d)
  conv2d_grad_x  mode, stride, image: (h, w) the image's size
  conv2d_grad_k  mode, stride, kernel: (kh, kw) the filters' size
  pool2d, pool2d_grad  kind: "max" or "mean", window: (ph, pw),
               stride: (sh, sw), ignore_border: bool
  loop         body, carries, sequences, length, reverse, stacks: see rule_loop
  item         index: the index-th result of a loop
  cumsum       axis: non-negative int
"""
from __future__ import annotations

import enum

from . import errors
from .types import (BroadcastError, Dim, NotDivisible, TensorType, TupleType, broadcast_shapes,
                    dim_prod, dim_str, dim_add, dim_floordiv, dim_mul, dim_sub, FLOATS, INTS)


class Op(str, enum.Enum):
    """Every op of the IR. A `str` enum: `node.op == "exp"` holds, and a
    table keyed by names finds an `Op` and the other way round."""
    # unary, float only
    EXP = "exp"
    LOG = "log"
    LOG2 = "log2"
    LOG1P = "log1p"
    SQRT = "sqrt"
    TANH = "tanh"
    SIGMOID = "sigmoid"
    SOFTPLUS = "softplus"
    SIN = "sin"
    COS = "cos"
    # unary, any number
    NEG = "neg"
    ABS = "abs"
    SIGN = "sign"
    RELU = "relu"
    # binary arithmetic
    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    FLOORDIV = "floordiv"
    MOD = "mod"
    POW = "pow"
    MAXIMUM = "maximum"
    MINIMUM = "minimum"
    # comparisons and logic
    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    AND = "and"
    OR = "or"
    NOT = "not"
    # other elementwise
    CAST = "cast"
    WHERE = "where"
    # reductions
    SUM = "sum"
    MEAN = "mean"
    MAX = "max"
    MIN = "min"
    PROD = "prod"
    ARGMAX = "argmax"
    ARGMIN = "argmin"
    # along one axis
    SOFTMAX = "softmax"
    LOG_SOFTMAX = "log_softmax"
    LOGSUMEXP = "logsumexp"
    ONE_HOT = "one_hot"
    # linear algebra, shapes and indexing
    MATMUL = "matmul"
    TRANSPOSE = "transpose"
    RESHAPE = "reshape"
    BROADCAST_TO = "broadcast_to"
    SUM_TO = "sum_to"
    CONCAT = "concat"
    SLICE = "slice"
    UNSLICE = "unslice"
    GATHER = "gather"
    SCATTER_ADD = "scatter_add"
    # constants made from the type
    FULL = "full"
    ARANGE = "arange"
    # apply_body(x, ...; body) = body(x, ...): the smallest op with a body,
    # which keeps every pass honest about bodies until a loop op uses them
    APPLY_BODY = "apply_body"
    # random draws: inputs (stream state, *params); attrs dist, draw
    RANDOM = "random"
    # convolution and pooling of images f[batch, channels, height, width]
    CONV2D = "conv2d"
    CONV2D_GRAD_X = "conv2d_grad_x"
    CONV2D_GRAD_K = "conv2d_grad_k"
    POOL2D = "pool2d"
    POOL2D_GRAD = "pool2d_grad"
    # loops: `loop` runs its body once per step and gives a tuple (the
    # final carried values, then the stacked per-step values); `item` picks one
    LOOP = "loop"
    ITEM = "item"
    # what loops need besides: the identity that blocks gradients, and a
    # running sum along one axis
    STOP_GRADIENT = "stop_gradient"
    CUMSUM = "cumsum"
    # leaves
    PARAM = "param"
    SHARED = "shared"
    SIZE = "size"
    CONST = "const"

    # print as the name it stands for, as the plain strings did
    __str__ = str.__str__
    __format__ = str.__format__


ALL_OPS = tuple(Op)

# ---- op groups: each written once, every other list derives from these ------
# op -> how `sym explain` and messages spell it
UNARY_FLOAT = {Op.EXP: "e**x", Op.LOG: "natural log", Op.LOG1P: "log(1 + x)", Op.LOG2: "base-2 log",
               Op.SQRT: "square root", Op.TANH: "tanh", Op.SIGMOID: "1/(1+e**-x)",
               Op.SOFTPLUS: "log(1 + e**x)", Op.SIN: "sine", Op.COS: "cosine"}
UNARY_NUMERIC = {Op.NEG: "-x", Op.ABS: "|x|", Op.SIGN: "sign", Op.RELU: "max(x, 0)"}
BINARY_ARITH = {Op.ADD: "+", Op.SUB: "-", Op.MUL: "*", Op.DIV: "/", Op.FLOORDIV: "//",
                Op.MOD: "%", Op.POW: "**", Op.MAXIMUM: "maximum", Op.MINIMUM: "minimum"}
COMPARE = {Op.EQ: "==", Op.NE: "!=", Op.LT: "<", Op.LE: "<=", Op.GT: ">", Op.GE: ">="}
LOGIC = {Op.AND: "and", Op.OR: "or"}
REDUCE = (Op.SUM, Op.MEAN, Op.MAX, Op.MIN, Op.PROD)
ARG_REDUCE = (Op.ARGMAX, Op.ARGMIN)
ROWS = (Op.SOFTMAX, Op.LOG_SOFTMAX)          # a whole row in, a whole row out
ELEMENTWISE = (tuple(UNARY_FLOAT) + tuple(UNARY_NUMERIC) + tuple(BINARY_ARITH)
               + tuple(COMPARE) + tuple(LOGIC) + (Op.NOT, Op.CAST, Op.WHERE))
# one output element reads many input elements (a loop in generated code)
LOOPS = REDUCE + ARG_REDUCE + (Op.SUM_TO, Op.LOGSUMEXP, Op.SCATTER_ADD, Op.CUMSUM)
# the result is the input's elements seen another way: no arithmetic
VIEWS = (Op.BROADCAST_TO, Op.RESHAPE, Op.TRANSPOSE, Op.SLICE)
# ops that only move values, so they commute with an elementwise op:
# log(S(p)) == S(log(p))
MOVERS = (Op.GATHER, Op.SLICE, Op.TRANSPOSE, Op.RESHAPE)
LEAVES = (Op.PARAM, Op.SHARED, Op.SIZE, Op.CONST)
EXTERNAL = (Op.PARAM, Op.SHARED)             # leaves whose value comes from outside
# sliding windows over the last two axes of images
WINDOWED = (Op.CONV2D, Op.CONV2D_GRAD_X, Op.CONV2D_GRAD_K, Op.POOL2D, Op.POOL2D_GRAD)


def same_dtype(a: TensorType, b: TensorType, what: str) -> str:
    if a.dtype == b.dtype:
        return a.dtype
    if a.dtype in FLOATS and b.dtype in FLOATS:
        raise errors.float_widths_mixed("operands", None, what=what, dtype_a=a.dtype,
                                        dtype_b=b.dtype, a=a, b=b)
    if "bool" in (a.dtype, b.dtype):
        other = b if a.dtype == "bool" else a
        raise errors.kinds_mixed("bool_operand", None, what=what, dtype=other.dtype, a=a, b=b)
    target, other = (a, b) if a.dtype in FLOATS or (a.dtype == "i64" and b.dtype in INTS) else (b, a)
    raise errors.kinds_mixed("operands", None, what=what, dtype_a=a.dtype, dtype_b=b.dtype, a=a,
                             b=b, other=other, target=target.dtype)


def broadcast(a: TensorType, b: TensorType, what: str) -> tuple:
    try:
        return broadcast_shapes(a.shape, b.shape)
    except BroadcastError as e:
        raise errors.not_broadcastable(dim_str(e.left), dim_str(e.right), what, e.axis,
                                       (_shape(a), _shape(b)))


def _shape(t: TensorType) -> str:
    return "[" + ", ".join(dim_str(d) for d in t.shape) + "]"


def both_stretched(a: TensorType, b: TensorType, out: tuple) -> bool:
    """The numpy surprise: each operand is stretched to make the result."""
    return tuple(a.shape) != out and tuple(b.shape) != out and a.rank > 0 and b.rank > 0


# ---- rules -----------------------------------------------------------------
def unary_float(name):
    def rule(ts, attrs):
        (t,) = ts
        if t.dtype not in FLOATS:
            raise errors.wrong_number_kind("needs_float_tensor", f"convert first: `{name}(f32(x))`",
                                           what=name, t=t)
        return t
    return rule


def unary_numeric(name):
    def rule(ts, attrs):
        (t,) = ts
        if t.dtype == "bool":
            raise errors.wrong_number_kind("needs_number_got", name=name, t=t)
        return t
    return rule


def binary_arith(name):
    symbol = BINARY_ARITH[name]

    def rule(ts, attrs):
        a, b = ts
        dtype = same_dtype(a, b, symbol)
        if dtype == "bool":
            raise errors.bool_mismatch("arithmetic", None, symbol=symbol, a=a, b=b)
        if name == "div" and dtype in INTS:
            raise errors.kinds_mixed("int_division", None, a=a, b=b)
        return TensorType(dtype, broadcast(a, b, symbol))
    return rule


def compare(name):
    symbol = COMPARE[name]

    def rule(ts, attrs):
        a, b = ts
        same_dtype(a, b, symbol)
        return TensorType("bool", broadcast(a, b, symbol))
    return rule


def logic(name):
    def rule(ts, attrs):
        a, b = ts
        for t in ts:
            if t.dtype != "bool":
                raise errors.bool_mismatch("logic", None, name=name, t=t)
        return TensorType("bool", broadcast(a, b, name))
    return rule


def rule_not(ts, attrs):
    (t,) = ts
    if t.dtype != "bool":
        raise errors.bool_mismatch("not", None, t=t)
    return t


def rule_cast(ts, attrs):
    return ts[0].with_dtype(attrs["dtype"])


def rule_where(ts, attrs):
    c, a, b = ts
    if c.dtype != "bool":
        raise errors.bool_mismatch("where", None, c=c)
    dtype = same_dtype(a, b, "where")
    return TensorType(dtype, broadcast(TensorType(dtype, broadcast(a, b, "where")), c, "where"))


def reduced_shape(t: TensorType, axes: tuple, keepdims: bool) -> tuple:
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(t.shape))
    return tuple(d for i, d in enumerate(t.shape) if i not in axes)


def reduce_rule(name):
    def rule(ts, attrs):
        (t,) = ts
        if t.dtype == "bool":
            raise errors.wrong_number_kind("needs_numbers_got",
                                           "cast first: `mean(f32(...))` is the fraction of trues" if name == "mean"
                                           else f"cast first: `{name}(i32(...))`" + " counts the trues" * (name == "sum"),
                                           name=name, t=t)
        if name == "mean" and t.dtype not in FLOATS:
            raise errors.wrong_number_kind("mean_needs_float", t=t)
        return TensorType(t.dtype, reduced_shape(t, attrs["axes"], attrs["keepdims"]))
    return rule


def reduce_rule_keep(name):
    """A loop along one axis that keeps the shape (cumsum)."""
    def rule(ts, attrs):
        (t,) = ts
        if t.dtype == "bool":
            raise errors.wrong_number_kind("needs_numbers_got", f"cast first: `{name}(i32(...))`",
                                           name=name, t=t)
        return t
    return rule


def arg_reduce_rule(ts, attrs):
    (t,) = ts
    axis = attrs["axis"]
    axes = tuple(range(t.rank)) if axis is None else (axis,)
    return TensorType("i32", reduced_shape(t, axes, attrs["keepdims"]))


def row_rule(name, drop_axis=False):
    def rule(ts, attrs):
        (t,) = ts
        if t.dtype not in FLOATS:
            raise errors.wrong_number_kind("needs_float_tensor", f"convert first: `{name}(f32(x))`",
                                           what=name, t=t)
        if drop_axis:
            return TensorType(t.dtype, reduced_shape(t, (attrs["axis"],), False))
        return t
    return rule


def rule_one_hot(ts, attrs):
    (t,) = ts
    if t.dtype not in INTS:
        raise errors.wrong_number_kind("one_hot_needs", t=t)
    return TensorType("f32", t.shape + (attrs["depth"],))


def rule_matmul(ts, attrs):
    a, b = ts
    dtype = same_dtype(a, b, "@")
    if dtype == "bool":
        raise errors.bool_mismatch("matmul", None)
    if a.rank == 0 or b.rank == 0:
        raise errors.matmul_shapes("rank", a=a, b=b)
    if a.rank > 2 or b.rank > 2:
        return batched_matmul_type(a, b, dtype)
    inner_a = a.shape[-1]
    inner_b = b.shape[0]
    if inner_a != inner_b:
        raise errors.matmul_shapes("inner",
                                   "the last dimension of the left operand must equal the first of the right; "
                                   "transpose one side (`x.T`) or check the shapes", a=a, b=b,
                                   inner_a=dim_str(inner_a), inner_b=dim_str(inner_b))
    return TensorType(dtype, a.shape[:-1] + b.shape[1:])


def batched_matmul_type(a: TensorType, b: TensorType, dtype: str) -> TensorType:
    """numpy's matmul on stacks of matrices: the last two axes multiply, the
    leading ones broadcast; a vector side is a matrix of one row (left) or
    one column (right) whose axis is dropped from the result."""
    inner_a, inner_b = a.shape[-1], b.shape[-2] if b.rank > 1 else b.shape[0]
    if inner_a != inner_b:
        raise errors.matmul_shapes("inner",
                                   "the last dimension of the left operand must equal the "
                                   "second-to-last of the right one (numpy's matmul on stacks of matrices)",
                                   a=a, b=b, inner_a=dim_str(inner_a), inner_b=dim_str(inner_b))
    batch = broadcast(TensorType(dtype, a.shape[:-2]), TensorType(dtype, b.shape[:-2]), "@")
    rows = a.shape[-2:-1] if a.rank > 1 else ()
    cols = b.shape[-1:] if b.rank > 1 else ()
    return TensorType(dtype, tuple(batch) + tuple(rows) + tuple(cols))


def rule_transpose(ts, attrs):
    (t,) = ts
    return TensorType(t.dtype, tuple(t.shape[p] for p in attrs["perm"]))


def rule_apply_body(ts, attrs):
    body = attrs["body"]
    wanted = [p.type for p in body.params]
    if list(ts) != wanted or len(body.roots) != 1:
        # only the compiler builds this op: a mismatch is its bug
        raise TypeError(f"apply_body: inputs {list(ts)} for a body of params {wanted} "
                        f"and {len(body.roots)} roots")
    return body.roots[0].type


def rule_loop(ts, attrs):
    """loop(count?, inits..., sequences..., invariants...; body).
    The body's params are (step: i64, carries..., elements..., invariants...)
    and its roots (new carries..., stacked values...). `length` is the
    number of steps, a Dim. With `counted` the first input is an i64 count
    known at run time and `length` a size variable named `#...` that the
    loop binds when it runs (so a stack of its steps has a type).
    `reverse` runs the steps from the last to the first; stacked values
    stay in step order. The result is a TupleType: the final carries, then
    each stacked value with the length as its leading size."""
    body, nc, ns = attrs["body"], attrs["carries"], attrs["sequences"]
    length, stacks, counted = attrs["length"], attrs["stacks"], attrs["counted"]
    inits = ts[counted:counted + nc]
    seqs = ts[counted + nc:counted + nc + ns]
    invariants = ts[counted + nc + ns:]
    wanted = ([TensorType("i64", ())] + list(inits) + [TensorType(t.dtype, t.shape[1:]) for t in seqs]
              + list(invariants))
    roots = [r.type for r in body.roots]
    # only the compiler builds this op: a mismatch is its bug
    if ([p.type for p in body.params] != wanted or roots[:nc] != list(inits)
            or len(roots) != nc + stacks or (counted and ts[0] != TensorType("i64", ()))):
        raise TypeError(f"loop: inputs {list(ts)} for a body of params "
                        f"{[p.type for p in body.params]} and roots {roots}")
    stacked = [TensorType(t.dtype, (length,) + tuple(t.shape)) for t in roots[nc:]]
    return TupleType(tuple(roots[:nc]) + tuple(stacked))


def rule_item(ts, attrs):
    (t,) = ts
    return t.elts[attrs["index"]]


def rule_given(ts, attrs):
    """Ops whose result type the builder states (full, arange, the leaves, ...)."""
    return attrs["type"]


def rule_reshape(ts, attrs):
    (t,) = ts
    out = attrs["type"]
    if dim_prod(t.shape) != dim_prod(out.shape):
        raise errors.reshape_count(t, _shape(out), dim_str(dim_prod(t.shape)),
                                   dim_str(dim_prod(out.shape)))
    return out.with_dtype(t.dtype)


def rule_concat(ts, attrs):
    axis = attrs["axis"]
    first = ts[0]
    for t in ts:
        if t.dtype != first.dtype:
            same_dtype(first, t, "concat")
        if t.rank != first.rank or any(d != e for i, (d, e) in enumerate(zip(t.shape, first.shape)) if i != axis):
            raise errors.not_broadcastable(first, t, "concat", axis)
    size = 0
    for t in ts:
        size = dim_add(size, t.shape[axis])
    return TensorType(first.dtype, first.shape[:axis] + (size,) + first.shape[axis + 1:])


def rule_slice(ts, attrs):
    (t,) = ts
    shape = []
    for i, item in enumerate(attrs["items"]):
        if item[0] == "slice":
            shape.append(item[4])          # the builder stores the length
    return TensorType(t.dtype, tuple(shape) + t.shape[len(attrs["items"]):])


def rule_gather(ts, attrs):
    x, *idx = ts
    for t in idx:
        if t.dtype not in INTS:
            raise errors.non_integer_index("array", None, t=t)
    shape: tuple = ()
    for t in idx:
        shape = broadcast_shapes_or_fail(shape, t)
    return TensorType(x.dtype, shape + x.shape[len(idx):])


def broadcast_shapes_or_fail(shape, t):
    try:
        return broadcast_shapes(shape, t.shape)
    except BroadcastError as e:
        raise errors.not_broadcastable(dim_str(e.left), dim_str(e.right))


# ---- convolution and pooling: sizes the checker keeps (dsl/types.py) --------
def _image(t: TensorType, what: str, role: str) -> None:
    if t.rank != 4:
        raise errors.not_an_image(what, role, t)
    if t.dtype not in FLOATS:
        raise errors.wrong_number_kind("needs_float_tensor", "convert first: `f32(...)`", what=what,
                                       t=t)


def _windows(size: Dim, window: Dim, stride: int, what: str, x: TensorType) -> Dim:
    """How many window positions `(size - window) // stride + 1` a sliding
    window has; `size - window` may hold sizes if it divides exactly."""
    try:
        return dim_add(dim_floordiv(dim_sub(size, window), stride), 1)
    except NotDivisible:
        raise errors.stride_not_whole(what, x, dim_str(dim_sub(size, window)), stride)


def _too_small(size: Dim, window: Dim) -> bool:
    """Known now to be smaller (both numbers, or a number apart)."""
    gap = dim_sub(size, window)
    return isinstance(gap, int) and gap < 0


def conv_out_dims(x: TensorType, k: TensorType, mode: str, stride: tuple) -> tuple:
    out = []
    for axis, name in ((2, "height"), (3, "width")):
        size, window = x.shape[axis], k.shape[axis]
        if mode == "full":      # zero-padded by window - 1 on each side
            size = dim_add(size, dim_mul(2, dim_sub(window, 1)))
        elif _too_small(size, window):
            raise errors.filters_too_large(x, name, dim_str(size), k, dim_str(window))
        out.append(_windows(size, window, stride[axis - 2], "conv2d", x))
    return tuple(out)


def rule_conv2d(ts, attrs):
    x, k = ts
    _image(x, "conv2d", "an image")
    _image(k, "conv2d", "filters")
    dtype = same_dtype(x, k, "conv2d")
    if x.shape[1] != k.shape[1]:
        raise errors.conv_channels_differ(x, dim_str(x.shape[1]), k, dim_str(k.shape[1]))
    return TensorType(dtype, (x.shape[0], k.shape[0]) + conv_out_dims(x, k, attrs["mode"], attrs["stride"]))


def rule_conv2d_grad_x(ts, attrs):
    gy, k = ts
    return TensorType(gy.dtype, (gy.shape[0], k.shape[1]) + tuple(attrs["image"]))


def rule_conv2d_grad_k(ts, attrs):
    x, gy = ts
    return TensorType(x.dtype, (gy.shape[1], x.shape[1]) + tuple(attrs["kernel"]))


def pool_out_dim(size: Dim, window: int, stride: int, ignore_border: bool, what: str,
                 x: TensorType) -> Dim:
    """Theano's pooled size. Without ignore_border the partial windows at
    the edge count too (a window must start inside the input)."""
    if ignore_border:
        return _windows(size, window, stride, what, x)
    if stride >= window:                        # (size - 1) // stride + 1
        return _windows(size, 1, stride, what, x)
    if isinstance(size, int) and size < window:     # one partial window
        return 1
    # max(0, ceil((size - window) / stride)) + 1, for a size >= window
    return _windows(dim_add(size, stride - 1), window, stride, what, x)


def rule_pool2d(ts, attrs):
    (x,) = ts
    what = f"{attrs['kind']}_pool2d"
    _image(x, what, "an input")
    window, stride = attrs["window"], attrs["stride"]
    out = []
    for axis, name in ((2, "height"), (3, "width")):
        size = x.shape[axis]
        if attrs["ignore_border"] and _too_small(size, window[axis - 2]):
            raise errors.pool_window_too_large(what, tuple(window), x, name, dim_str(size),
                                               window[axis - 2])
        out.append(pool_out_dim(size, window[axis - 2], stride[axis - 2], attrs["ignore_border"],
                                what, x))
    return TensorType(x.dtype, x.shape[:2] + tuple(out))


def rule_pool2d_grad(ts, attrs):
    return ts[0]


TYPE_RULES = {}
TYPE_RULES.update({op: unary_float(op) for op in UNARY_FLOAT})
TYPE_RULES.update({op: unary_numeric(op) for op in UNARY_NUMERIC})
TYPE_RULES.update({op: binary_arith(op) for op in BINARY_ARITH})
TYPE_RULES.update({op: compare(op) for op in COMPARE})
TYPE_RULES.update({op: logic(op) for op in LOGIC})
TYPE_RULES.update({op: reduce_rule(op) for op in REDUCE})
TYPE_RULES.update({op: arg_reduce_rule for op in ARG_REDUCE})
TYPE_RULES.update({op: rule_given for op in LEAVES})
TYPE_RULES.update({
    Op.NOT: rule_not, Op.CAST: rule_cast, Op.WHERE: rule_where,
    Op.SOFTMAX: row_rule("softmax"), Op.LOG_SOFTMAX: row_rule("log_softmax"),
    Op.LOGSUMEXP: row_rule("logsumexp", drop_axis=True),
    Op.ONE_HOT: rule_one_hot, Op.MATMUL: rule_matmul,
    Op.TRANSPOSE: rule_transpose, Op.RESHAPE: rule_reshape,
    Op.BROADCAST_TO: rule_given, Op.SUM_TO: rule_given,
    Op.CONCAT: rule_concat, Op.SLICE: rule_slice, Op.UNSLICE: rule_given,
    Op.GATHER: rule_gather, Op.SCATTER_ADD: rule_given,
    Op.FULL: rule_given, Op.ARANGE: rule_given, Op.APPLY_BODY: rule_apply_body,
})
# random draws
TYPE_RULES[Op.RANDOM] = rule_given
TYPE_RULES.update({
    Op.CONV2D: rule_conv2d, Op.CONV2D_GRAD_X: rule_conv2d_grad_x, Op.CONV2D_GRAD_K: rule_conv2d_grad_k,
    Op.POOL2D: rule_pool2d, Op.POOL2D_GRAD: rule_pool2d_grad,
})
TYPE_RULES.update({Op.LOOP: rule_loop, Op.ITEM: rule_item,
                   Op.STOP_GRADIENT: lambda ts, attrs: ts[0], Op.CUMSUM: reduce_rule_keep("cumsum")})
