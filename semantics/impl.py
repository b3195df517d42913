"""IMPL[op](node, inputs, env) -> np.ndarray: what every op means.

Each function returns an ndarray (0-d for scalars, never a numpy scalar)
with exactly the node's dtype and shape; `evaluate` checks both. Semantics
are numpy's unless a comment says otherwise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from dsl.diagnostics import Note, SymError
from dsl import errors
from dsl.ir import Node
from dsl.ops import Op, pool_out_dim
from . import blas, philox
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

    def __init__(self, node: Node, fault: SymError):
        self.node = node
        super().__init__(fault.diagnostics)

    def at_call(self, call_span, fname: str | None = None) -> SymError:
        where = f" (in a call of `{fname}`)" if fname else ""
        notes = (Note("called here", call_span),) if call_span and self.node.span else ()
        d = self.diagnostic
        return SymError(replace(d, message=d.message + where, span=self.node.span or call_span,
                                notes=notes))


class EmptyReduction(RunFault):
    def __init__(self, node: Node, input_shape: tuple):
        shown = TensorType(node.inputs[0].type.dtype, input_shape)
        super().__init__(node, errors.empty_reduction(node.op, shown, node.span))


class NegativePower(RunFault):
    def __init__(self, node: Node):
        super().__init__(node, errors.negative_power(node.span))


class TooLarge(RunFault):
    def __init__(self, node: Node, shape: tuple, nbytes: int):
        super().__init__(node, errors.out_of_memory("too_large", node.span,
                                                    "use smaller sizes; a value must fit in memory at once",
                                                    reason=too_large_message(TensorType(node.type.dtype, shape), nbytes)))


class WindowTooLarge(RunFault):
    def __init__(self, node: Node, image: tuple, window: tuple):
        what = "filters" if node.op == Op.CONV2D else "a window"
        name = node.op if node.op == Op.CONV2D else f"{node.attr('kind')}_pool2d"
        shown = TensorType(node.inputs[0].type.dtype, image)
        super().__init__(node, errors.window_larger_than_image(name, what, shown, window, node.span))


def _window_misfit(n, sizes: dict):
    """A conv2d or pool2d whose window is larger than its image now that the
    sizes are numbers (the checker refuses it when it can tell before)."""
    image = n.inputs[0].type.concrete_shape(sizes)
    if n.op == Op.CONV2D:
        window = n.inputs[1].type.concrete_shape(sizes)[2:]
        # mode "full" pads by window - 1 on each side: only an empty image with 1-wide filters misfits
        pad = 2 if n.attr("mode") == "full" else 0
        fits = all(i + pad * (w - 1) >= w for i, w in zip(image[2:], window))
    else:
        window = tuple(n.attr("window"))
        # the sizes the type holds assume whole windows; Theano's for these numbers
        wanted = tuple(pool_out_dim(i, w, s, n.attr("ignore_border"), "", None)
                       for i, w, s in zip(image[2:], window, n.attr("stride")))
        fits = all(d > 0 for d in wanted) and wanted == n.type.concrete_shape(sizes)[2:]
    return None if fits else WindowTooLarge(n, image, tuple(window))


EXTREMA = ("max", "min", "argmax", "argmin")
EXISTING = ("param", "shared", "size", "const")     # values that are already in memory


def check_sizes(nodes, sizes: dict) -> None:
    """What the sizes alone decide, checked before anything runs so that
    both backends report it first and alike: a value larger than this
    machine's memory (E0221), max/min/argmax/argmin of zero elements (E0219),
    a convolution or pooling window larger than its image (E0234)."""
    limit = memory_bytes()
    for n in nodes:
        if n.op in EXISTING or isinstance(n.type, TupleType) or not n.type.size_vars() <= set(sizes):
            continue        # a loop's tuple; a size a loop binds when it runs
        shape = n.type.concrete_shape(sizes)
        nbytes = value_bytes(shape, n.type.dtype)
        if nbytes > limit:
            raise TooLarge(n, shape, nbytes)
        if n.op in (Op.CONV2D, Op.POOL2D) and (misfit := _window_misfit(n, sizes)):
            raise misfit
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
    # the OpenCL kernels' formula (lowering.sigmoid): one exp of -|x|, in
    # double for f32 and rounded once, then 1/(1+t) for x >= 0 and t/(1+t)
    # below, the numerator selected; never overflows. exp(-logaddexp(0, -x))
    # took 2.5x as long and differed from the kernels in the last bit
    wide = np.float64 if x.dtype == np.float32 else x.dtype
    t = np.exp(-np.abs(x).astype(wide, copy=False)).astype(x.dtype, copy=False)
    one = np.ones((), x.dtype)
    return np.where(x >= 0, one, t) / (one + t)


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
    return out(node, blas.matmul(xs[0], xs[1]))


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


# ---- convolution and pooling: sliding windows over the last two axes --------
def _pair(node, name, env) -> tuple:
    return tuple(dim_eval(d, env.sizes) for d in node.attr(name))


def _patches(x, window, stride):
    """x's windows as a view [b, c, rows, cols, wh, ww], every stride-th."""
    return sliding_window_view(x, window, axis=(2, 3))[:, :, ::stride[0], ::stride[1]]


def _full_padded(x, window, mode):
    """mode "full": zeros of window - 1 on each side, so every overlap counts."""
    if mode != "full":
        return x
    (kh, kw) = window
    return np.pad(x, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))


def _flipped(k):
    # a true convolution: the filters are applied upside down and mirrored
    return k[:, :, ::-1, ::-1]


def _spread(target, cols, stride):
    """Adds cols [b, c, rows, cols, wh, ww] back to the image positions
    their windows read: the transpose of `_patches` (overlaps accumulate)."""
    rows, columns, wh, ww = cols.shape[2:]
    for u in range(wh):
        for v in range(ww):
            target[:, :, u:u + stride[0] * (rows - 1) + 1:stride[0],
                   v:v + stride[1] * (columns - 1) + 1:stride[1]] += cols[:, :, :, :, u, v]
    return target


def impl_conv2d(node, xs, env):
    x, k = xs
    mode, stride = node.attr("mode"), node.attr("stride")
    patches = _patches(_full_padded(x, k.shape[2:], mode), k.shape[2:], stride)
    y = np.tensordot(patches, _flipped(k), axes=([1, 4, 5], [1, 2, 3]))    # [b, rows, cols, o]
    return out(node, y.transpose(0, 3, 1, 2))


def impl_conv2d_grad_x(node, xs, env):
    gy, k = xs
    mode, stride = node.attr("mode"), node.attr("stride")
    (b, c, h, w), (kh, kw) = shape_of(node, env), k.shape[2:]
    pad = (kh - 1, kw - 1) if mode == "full" else (0, 0)
    # each output position sends gy * filter to the window it read
    cols = np.tensordot(gy, _flipped(k), axes=([1], [0])).transpose(0, 3, 1, 2, 4, 5)
    gx = np.zeros((b, c, h + 2 * pad[0], w + 2 * pad[1]), np_dtype(node))
    _spread(gx, cols, stride)
    return out(node, gx[:, :, pad[0]:pad[0] + h, pad[1]:pad[1] + w])


def impl_conv2d_grad_k(node, xs, env):
    x, gy = xs
    mode, stride = node.attr("mode"), node.attr("stride")
    window = _pair(node, "kernel", env)
    patches = _patches(_full_padded(x, window, mode), window, stride)
    gk = np.tensordot(gy, patches, axes=([0, 2, 3], [0, 2, 3]))    # [o, c, kh, kw]
    return out(node, _flipped(gk))


def _pool_patches(x, node, out_hw, fill):
    """The windows of every pooled position, [b, c, oh, ow, ph, pw]: x is
    padded with `fill` at the bottom and right for the partial windows of
    ignore_border=false."""
    window, stride = node.attr("window"), node.attr("stride")
    need = [(o - 1) * s + p for o, s, p in zip(out_hw, stride, window)]
    pad = [max(0, n - d) for n, d in zip(need, x.shape[2:])]
    padded = np.pad(x, ((0, 0), (0, 0), (0, pad[0]), (0, pad[1])), constant_values=fill)
    return _patches(padded, window, stride)[:, :, :out_hw[0], :out_hw[1]], padded.shape


def _window_counts(x, node, out_hw):
    """How many input elements each window holds (fewer at a partial edge)."""
    ones = np.ones((1, 1) + x.shape[2:], x.dtype)
    return _pool_patches(ones, node, out_hw, 0)[0].sum(axis=(4, 5), dtype=x.dtype)


def impl_pool2d(node, xs, env):
    (x,) = xs
    out_hw = shape_of(node, env)[2:]
    if node.attr("kind") == "max":
        patches, _ = _pool_patches(x, node, out_hw, -np.inf)
        return out(node, patches.max(axis=(4, 5)))
    patches, _ = _pool_patches(x, node, out_hw, 0)
    return out(node, patches.sum(axis=(4, 5), dtype=x.dtype) / _window_counts(x, node, out_hw))


def impl_pool2d_grad(node, xs, env):
    """Max: each window's gradient goes to its first maximum (row-major);
    mean: spread evenly over the elements in the window."""
    x, gy = xs
    (ph, pw), out_hw = node.attr("window"), gy.shape[2:]
    if node.attr("kind") == "max":
        patches, padded_shape = _pool_patches(x, node, out_hw, -np.inf)
        first = patches.reshape(patches.shape[:4] + (ph * pw,)).argmax(axis=4)
        cols = (first[..., None] == np.arange(ph * pw)) * gy[..., None]
    else:
        patches, padded_shape = _pool_patches(x, node, out_hw, 0)
        cols = np.repeat((gy / _window_counts(x, node, out_hw))[..., None], ph * pw, axis=4)
    gx = _spread(np.zeros(padded_shape, x.dtype), cols.reshape(cols.shape[:4] + (ph, pw)),
                 node.attr("stride"))
    return out(node, gx[:, :, :x.shape[2], :x.shape[3]])


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


# ---- random draws (semantics/philox.py) ---------------------------------------
def impl_random(node, xs, env):
    shape = shape_of(node, env)
    count, dist, draw = int(np.prod(shape, dtype=np.int64)), node.attr("dist"), node.attr("draw")
    state, *params = xs
    first = 0
    if node.attr("from_row"):       # rows from_row.. of the one-process draw
        *params, row = params
        first = int(row) * int(np.prod(shape[1:], dtype=np.int64))
    if dist == "bits":
        flat = philox.bits(state, draw, count, first)
    else:
        fn = philox.uniform if dist == "uniform" else philox.normal
        flat = fn(state, draw, count, node.type.dtype, *(p.item() for p in params), first=first)
    return out(node, flat.reshape(shape))


IMPL[Op.RANDOM] = impl_random
IMPL.update({
    Op.CONV2D: impl_conv2d, Op.CONV2D_GRAD_X: impl_conv2d_grad_x, Op.CONV2D_GRAD_K: impl_conv2d_grad_k,
    Op.POOL2D: impl_pool2d, Op.POOL2D_GRAD: impl_pool2d_grad,
    Op.STOP_GRADIENT: lambda node, xs, env: out(node, xs[0]),
    Op.CUMSUM: lambda node, xs, env: out(node, np.cumsum(xs[0], axis=node.attr("axis"),
                                                         dtype=xs[0].dtype)),
})
