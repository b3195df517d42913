"""Random streams in the tensor API, with Theano's names:

    srng = dsl.RandomStreams(seed=234)
    rv_u = srng.uniform((2, 2))
    f = dsl.function([], rv_u)                            # advances per call
    g = dsl.function([], rv_u, no_default_updates=True)   # the same numbers

A stream is one shared value, its state (seed, calls), the `random` op's
first input (semantics/philox.py). Each draw made from a stream gets the
next draw number, so two draws are never merged and a draw used twice in
one function is one sample. A compiled function that reads a stream
advances it by one call, unless `no_default_updates=True`.
"""
from __future__ import annotations

import numpy as np

from . import errors as catalog
from .build import apply, const
from .tensor import SharedVariable, Variable
from .tensor_core import VariableBase, in_user_code, sizes_of, static_dim, user_span
from .types import FLOATS, TensorType

__all__ = ["RandomStreams", "MRG_RandomStreams"]

# Theano's dtype names next to sym's
DTYPE_NAMES = {"float32": "f32", "float64": "f64", "int32": "i32", "int64": "i64",
               "f32": "f32", "f64": "f64", "i32": "i32", "i64": "i64"}
SEED_LIMIT = 2 ** 63


def _seed(seed, span) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) \
            or not 0 <= int(seed) < SEED_LIMIT:
        raise in_user_code(catalog.bad_seed("random_streams", span, shown=repr(seed)))
    return int(seed)


class RandomStreams:
    """Draws from one Philox stream: `uniform`, `normal`, `binomial`."""

    def __init__(self, seed=None):
        span = user_span()
        seed = 0 if seed is None else _seed(seed, span)
        self.state = SharedVariable(np.array([seed, 0], np.int64), "random_stream", span)
        self.state.default_update = True     # each function call advances it
        self._draws = 0

    def seed(self, seed) -> None:
        """Start the stream again from `seed` (every draw made from it)."""
        self.state.set_value(np.array([_seed(seed, user_span()), 0], np.int64))

    # ---- draws ----------------------------------------------------------------
    def uniform(self, size, low=0.0, high=1.0, dtype="float32") -> Variable:
        span = user_span()
        t = self._type(size, dtype, span)
        return self._draw("uniform", t, (low, high), span, size)

    def normal(self, size, avg=0.0, std=1.0, dtype="float32") -> Variable:
        span = user_span()
        t = self._type(size, dtype, span)
        return self._draw("normal", t, (avg, std), span, size)

    def binomial(self, size, n=1, p=0.5, dtype="float32") -> Variable:
        """Successes in `n` trials of probability `p` (a sum of n bernoullis)."""
        span = user_span()
        want = DTYPE_NAMES.get(dtype)
        if want is None:
            raise in_user_code(catalog.bad_draw_argument("unknown_dtype", span, dtype=dtype))
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 64:
            raise in_user_code(catalog.bad_draw_argument("binomial_n", span, n=n))
        if not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise in_user_code(catalog.bad_probability("python", span, value=p))
        t = self._type(size, "float32", span)
        total = None
        for _ in range(n):
            u = self._node("uniform", t, (0.0, 1.0), span)
            hit = apply("cast", (apply("lt", (u, const(float(p), "f32", span)), span),), span,
                        dtype=want)
            total = hit if total is None else apply("add", (total, hit), span)
        return Variable(total, self.state._leaves, sizes=self._sizes_of(size, span))

    # ---- plumbing -------------------------------------------------------------
    def _type(self, size, dtype, span) -> TensorType:
        want = DTYPE_NAMES.get(dtype)
        if want not in FLOATS:
            raise in_user_code(catalog.bad_draw_argument("float_dtype", span, dtype=dtype))
        dims = size if isinstance(size, (tuple, list)) else (size,)
        shape = []
        for d in dims:
            dim = static_dim(d) if isinstance(d, VariableBase) else d
            if isinstance(dim, (bool, np.bool_)) or dim is None or (
                    isinstance(dim, (int, np.integer)) and dim < 0):
                raise in_user_code(catalog.shape_not_static("draw_size", span, d=d))
            shape.append(int(dim) if isinstance(dim, (int, np.integer)) else dim)
        return TensorType(want, tuple(shape))

    def _node(self, dist, t: TensorType, params, span):
        nodes = []
        for p in params:
            if not isinstance(p, (int, float)) or isinstance(p, bool):
                raise in_user_code(catalog.bad_draw_argument("parameter", span, value=p))
            nodes.append(const(float(p), t.dtype, span))
        draw = self._draws
        self._draws += 1
        return apply("random", (self.state.node, *nodes), span, type=t, dist=dist, draw=draw)

    def _draw(self, dist, t, params, span, size) -> Variable:
        return Variable(self._node(dist, t, params, span), self.state._leaves,
                        sizes=self._sizes_of(size, span))

    @staticmethod
    def _sizes_of(size, span):
        """The program whose sizes a draw's shape reads (`srng.uniform(x.shape)`)."""
        dims = size if isinstance(size, (tuple, list)) else (size,)
        return sizes_of([d for d in dims if isinstance(d, VariableBase)], span)


# Theano's MRG_RandomStreams draws from another generator; here both are Philox
MRG_RandomStreams = RandomStreams
