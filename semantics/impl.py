"""IMPL[op](node, inputs, env) -> np.ndarray: what every op means.

Each function returns an ndarray (0-d for scalars, never a numpy scalar)
with exactly the node's dtype and shape; `evaluate` checks both. Semantics
are numpy's unless a comment says otherwise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dsl.diagnostics import Diagnostic, Note, SymError, error
from dsl.ir import Node
from dsl.ops import Op
from dsl.types import (NUMPY_DTYPE, TensorType, TupleType, dim_eval, memory_bytes, too_large_message,
                       value_bytes)


@dataclass
class Env:
    """What leaves read: size-variable values, def arguments, shared state."""
    sizes: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    shared: dict = field(default_factory=dict)


class IndexOutOfRange(Exception):
    """A data-dependent index outside [-size, size); the host locates it."""

    def __init__(self, node: Node, axis: int, value: int, size: int):
        super().__init__(f"index {value} is out of range for axis {axis} with size {size}")
        self.node, self.axis, self.value, self.size = node, axis, value, size


class RunFault(SymError):
    """A run-time error of one op that the sizes or the data cause (an index
    out of range is IndexOutOfRange). Both backends raise the same fault with
    the same text, located at the op; `at_call` adds the call that ran it."""
    code: str       # each kind of fault has its own

    def __init__(self, node: Node, message: str, hint: str):
        self.node, self.message, self.hint = node, message, hint
        super().__init__([Diagnostic(self.code, message, node.span, (), hint)])

    def at_call(self, call_span, fname: str | None = None) -> SymError:
        where = f" (in a call of `{fname}`)" if fname else ""
        notes = [Note("called here", call_span)] if call_span and self.node.span else []
        return error(self.code, self.message + where, self.node.span or call_span, self.hint, notes)


class EmptyReduction(RunFault):
    code = "E0219"

    def __init__(self, node: Node, input_shape: tuple):
        shown = TensorType(node.inputs[0].type.dtype, input_shape)
        super().__init__(node, f"`{node.op}` of zero elements has no value: its input is {shown}",
                         "make sure the reduced axes are not empty "
                         "(`sum` of zero elements is 0, `mean` NaN)")


class NegativePower(RunFault):
    code = "E0220"

    def __init__(self, node: Node):
        super().__init__(node, "an integer to a negative power is not an integer: "
                         "an exponent computed here is negative",
                         "cast the base to a float: `f32(x) ** ...`, or keep the exponents >= 0")


class TooLarge(RunFault):
    code = "E0221"

    def __init__(self, node: Node, shape: tuple, nbytes: int):
        super().__init__(node, too_large_message(TensorType(node.type.dtype, shape), nbytes),
                         "use smaller sizes; a value must fit in memory at once")


EXTREMA = ("max", "min", "argmax", "argmin")
EXISTING = ("param", "shared", "size", "const")     # values that are already in memory


def check_sizes(nodes, sizes: dict) -> None:
    """What the sizes alone decide, checked before anything runs so that
    both backends report it first and alike: a value larger than this
    machine's memory (E0221), max/min/argmax/argmin of zero elements (E0219)."""
    limit = memory_bytes()
    for n in nodes:
        if n.op in EXISTING or isinstance(n.type, TupleType) or not n.type.size_vars() <= set(sizes):
            continue        # a loop's tuple; a size a loop binds when it runs
        shape = n.type.concrete_shape(sizes)
        nbytes = value_bytes(shape, n.type.dtype)
        if nbytes > limit:
            raise TooLarge(n, shape, nbytes)
        if n.op in EXTREMA:
            x_shape = n.inputs[0].type.concrete_shape(sizes)
            axis = n.attr("axes") if n.op in ("max", "min") else n.attr("axis")
            axes = range(len(x_shape)) if axis is None else (axis,) if isinstance(axis, int) else axis
            if math.prod(x_shape[a] for a in axes) == 0:
                raise EmptyReduction(n, x_shape)


def np_dtype(node: Node):
    return np.dtype(NUMPY_DTYPE[node.type.dtype])


def out(node: Node, value) -> np.ndarray:
    """Coerce to an ndarray of the node's dtype (numpy scalars and int64
    accumulators come back here); never copies when already right."""
    return np.asarray(value).astype(np_dtype(node), copy=False)


def shape_of(node: Node, env: Env) -> tuple:
    return node.type.concrete_shape(env.sizes)


# ---- elementwise -----------------------------------------------------------
def _sigmoid(x):
    # exp(-log(1 + e**-x)) never overflows, for either sign of x
    return np.exp(-np.logaddexp(0, -x))


UNARY = {
    Op.EXP: np.exp, Op.LOG: np.log, Op.LOG1P: np.log1p, Op.LOG2: np.log2, Op.SQRT: np.sqrt,
    Op.TANH: np.tanh, Op.SIGMOID: _sigmoid,
    Op.SOFTPLUS: lambda x: np.logaddexp(0, x),
    Op.SIN: np.sin, Op.COS: np.cos, Op.NEG: np.negative, Op.ABS: np.abs,
    Op.SIGN: np.sign, Op.RELU: lambda x: np.maximum(x, np.zeros((), x.dtype)),
    Op.NOT: np.logical_not,
}

BINARY = {
    Op.ADD: np.add, Op.SUB: np.subtract, Op.MUL: np.multiply, Op.DIV: np.divide,
    Op.FLOORDIV: np.floor_divide, Op.MOD: np.mod, Op.POW: np.power,
    Op.MAXIMUM: np.maximum, Op.MINIMUM: np.minimum,
    Op.EQ: np.equal, Op.NE: np.not_equal, Op.LT: np.less, Op.LE: np.less_equal,
    Op.GT: np.greater, Op.GE: np.greater_equal,
    Op.AND: np.logical_and, Op.OR: np.logical_or,
}


def impl_pow(node, xs, env):
    base, exponent = xs
    # numpy raises for an integer to a negative power; the OpenCL kernel flags it
    if node.type.is_int and exponent.size and exponent.min() < 0:
        raise NegativePower(node)
    return out(node, np.power(base, exponent))


def unary(fn):
    return lambda node, xs, env: out(node, fn(xs[0]))


def binary(fn):
    return lambda node, xs, env: out(node, fn(xs[0], xs[1]))


def impl_cast(node, xs, env):
    return out(node, xs[0])


def impl_where(node, xs, env):
    c, a, b = xs
    return out(node, np.where(c, a, b))


# ---- reductions ------------------------------------------------------------
def reduction(fn):
    def impl(node, xs, env):
        x = xs[0]
        # dtype=x.dtype: numpy would widen i32 sums and products to i64
        return out(node, fn(x, axis=tuple(node.attr("axes")),
                            keepdims=node.attr("keepdims"), dtype=x.dtype))
    return impl


def impl_mean(node, xs, env):
    x, axes = xs[0], tuple(node.attr("axes"))
    if math.prod(x.shape[a] for a in axes) == 0:    # NaN, as numpy, without its warning
        return np.full(shape_of(node, env), np.nan, np_dtype(node))
    return out(node, np.mean(x, axis=axes, keepdims=node.attr("keepdims"), dtype=x.dtype))


def extremum(fn):
    # no dtype argument (max/min never widen); an empty reduction raises, as in numpy
    def impl(node, xs, env):
        return out(node, fn(xs[0], axis=tuple(node.attr("axes")),
                            keepdims=node.attr("keepdims")))
    return impl


def arg_reduction(fn):
    def impl(node, xs, env):
        value = fn(xs[0], axis=node.attr("axis"), keepdims=node.attr("keepdims"))
        return out(node, value)         # numpy gives int64; the op says i32
    return impl


# ---- row ops: stable forms, shifted by the max along the axis ---------------
def _shifted(x, axis):
    # initial=-inf: an empty row has no max; it is shifted by 0 like a row of -inf
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    # a row of -inf (or inf) would make x - m NaN; shift by 0 there instead
    m = np.where(np.isfinite(m), m, np.zeros((), x.dtype))
    return x - m, m


def impl_softmax(node, xs, env):
    z, _ = _shifted(xs[0], node.attr("axis"))
    e = np.exp(z)
    return out(node, e / np.sum(e, axis=node.attr("axis"), keepdims=True))


def impl_log_softmax(node, xs, env):
    axis = node.attr("axis")
    z, _ = _shifted(xs[0], axis)
    return out(node, z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True)))


def impl_logsumexp(node, xs, env):
    axis = node.attr("axis")
    z, m = _shifted(xs[0], axis)
    value = np.log(np.sum(np.exp(z), axis=axis, keepdims=True)) + m
    return out(node, np.squeeze(value, axis=axis))


def impl_one_hot(node, xs, env):
    y = xs[0]
    depth = node.attr("depth")
    _check_range(node, -1, y, depth, allow_negative=False)
    return out(node, y[..., None] == np.arange(depth))


# ---- linear algebra and shapes ---------------------------------------------
def impl_matmul(node, xs, env):
    return out(node, np.matmul(xs[0], xs[1]))


def impl_transpose(node, xs, env):
    return out(node, np.transpose(xs[0], node.attr("perm")))


def impl_reshape(node, xs, env):
    return out(node, np.reshape(xs[0], shape_of(node, env)))


def impl_broadcast_to(node, xs, env):
    # a copy, not numpy's read-only view: values may be kept and reused
    return out(node, np.array(np.broadcast_to(xs[0], shape_of(node, env))))


def impl_sum_to(node, xs, env):
    return out(node, sum_to(xs[0], shape_of(node, env)))


def sum_to(x: np.ndarray, shape: tuple) -> np.ndarray:
    """The transpose of broadcasting: sum the leading extra axes, then the
    axes where the target has 1."""
    lead = x.ndim - len(shape)
    if lead:
        x = np.sum(x, axis=tuple(range(lead)), dtype=x.dtype)
    ones = tuple(i for i, d in enumerate(shape) if d == 1 and x.shape[i] != 1)
    if ones:
        x = np.sum(x, axis=ones, keepdims=True, dtype=x.dtype)
    return x


def impl_concat(node, xs, env):
    return out(node, np.concatenate(xs, axis=node.attr("axis")))


def basic_index(items, env: Env) -> tuple:
    """The slice op's items as a numpy basic index; bounds may be sizes."""
    def ev(d):
        return None if d is None else dim_eval(d, env.sizes)
    index = []
    for item in items:
        if item[0] == "index":
            index.append(ev(item[1]))
        else:
            index.append(slice(ev(item[1]), ev(item[2]), ev(item[3])))
    return tuple(index)


def impl_slice(node, xs, env):
    return out(node, xs[0][basic_index(node.attr("items"), env)])


def impl_unslice(node, xs, env):
    """The VJP of slice: zeros of the node type with g written at the slice."""
    result = np.zeros(shape_of(node, env), np_dtype(node))
    result[basic_index(node.attr("items"), env)] = xs[0]
    return result


# ---- data-dependent indexing ----------------------------------------------
def _check_range(node, axis, idx, size, allow_negative=True):
    low = -size if allow_negative else 0
    bad = (idx < low) | (idx >= size)
    if np.any(bad):
        raise IndexOutOfRange(node, axis, int(idx[bad].flat[0]), size)


def _checked_indices(node, idx, shape) -> tuple:
    for axis, i in enumerate(idx):
        _check_range(node, axis, i, shape[axis])
    return tuple(idx)


def impl_gather(node, xs, env):
    x, *idx = xs
    return out(node, x[_checked_indices(node, idx, x.shape)])


def impl_scatter_add(node, xs, env):
    """The VJP of gather: zeros of the node type, g added at the indices
    (repeated indices accumulate)."""
    g, *idx = xs
    result = np.zeros(shape_of(node, env), np_dtype(node))
    np.add.at(result, _checked_indices(node, idx, result.shape), g)
    return result


# ---- constructors and leaves ----------------------------------------------
def impl_full(node, xs, env):
    return np.full(shape_of(node, env), node.attr("value"), np_dtype(node))


def impl_arange(node, xs, env):
    # the length is the type's (its only input, if any, is that size)
    (n,) = shape_of(node, env)
    return out(node, np.arange(n, dtype=np.int64))


def impl_const(node, xs, env):
    return np.array(node.attr("value"), np_dtype(node))


def impl_size(node, xs, env):
    return out(node, dim_eval(node.attr("dim"), env.sizes))


def impl_param(node, xs, env):
    return out(node, env.params[node.attr("name")])


def impl_shared(node, xs, env):
    return out(node, env.shared[node.attr("name")])


IMPL = {}
IMPL.update({op: unary(fn) for op, fn in UNARY.items()})
IMPL.update({op: binary(fn) for op, fn in BINARY.items()})
IMPL[Op.POW] = impl_pow
IMPL.update({Op.SUM: reduction(np.sum), Op.PROD: reduction(np.prod), Op.MEAN: impl_mean,
             Op.MAX: extremum(np.max), Op.MIN: extremum(np.min),
             Op.ARGMAX: arg_reduction(np.argmax), Op.ARGMIN: arg_reduction(np.argmin)})
IMPL.update({
    Op.CAST: impl_cast, Op.WHERE: impl_where,
    Op.SOFTMAX: impl_softmax, Op.LOG_SOFTMAX: impl_log_softmax,
    Op.LOGSUMEXP: impl_logsumexp, Op.ONE_HOT: impl_one_hot,
    Op.MATMUL: impl_matmul, Op.TRANSPOSE: impl_transpose, Op.RESHAPE: impl_reshape,
    Op.BROADCAST_TO: impl_broadcast_to, Op.SUM_TO: impl_sum_to,
    Op.CONCAT: impl_concat, Op.SLICE: impl_slice, Op.UNSLICE: impl_unslice,
    Op.GATHER: impl_gather, Op.SCATTER_ADD: impl_scatter_add,
    Op.FULL: impl_full, Op.ARANGE: impl_arange, Op.CONST: impl_const,
    Op.SIZE: impl_size, Op.PARAM: impl_param, Op.SHARED: impl_shared,
})
IMPL.update({
    Op.STOP_GRADIENT: lambda node, xs, env: out(node, xs[0]),
    Op.CUMSUM: lambda node, xs, env: out(node, np.cumsum(xs[0], axis=node.attr("axis"),
                                                         dtype=xs[0].dtype)),
})
