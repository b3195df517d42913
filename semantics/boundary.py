"""The value boundary: a host value becoming a def's argument (`to_arg`, no
silent casts), the run-time checks of sizes a call binds (derived sizes,
index requirements), a shared value's replacement, and an out-of-range
index as the located E0603. The host interpreter and the tensor API both
call a compiled def through these, so both report the same errors.
"""
from __future__ import annotations

import numpy as np

from dsl.literals import check_literal_range
from dsl.diagnostics import Note, SymError
from dsl import errors
from dsl.hosttypes import describe as describe_type, type_of
from dsl.indexing import requirement_error
from dsl.ir import Function, walk
from dsl.types import FROM_NUMPY, NUMPY_DTYPE, Size, TensorType

from .impl import IndexOutOfRange


def is_lazy(value) -> bool:
    """A device result not read back yet (an array-like with __array__)."""
    return hasattr(value, "__array__") and not isinstance(value, (np.ndarray, np.generic))


def materialize(value):
    """Read a lazy device result when the host really looks at it; an error
    the device flagged while computing it is raised now, located."""
    if is_lazy(value):
        try:
            array = np.asarray(value)
        except IndexOutOfRange as exc:
            raise index_error(exc, None)
        return array.item() if array.ndim == 0 else array
    return value


def index_error(exc: IndexOutOfRange, call_span, fname=None) -> SymError:
    where = f" (in a call of `{fname}`)" if fname else ""
    return errors.index_out_of_range("data", exc.node.span or call_span,
                                     notes=[Note("called here", call_span)] if call_span else [],
                                     index=exc.value, axis=exc.axis, size=exc.size, where=where)


_DERIVED: dict = {}


def derived_sizes(fn: Function) -> list:
    """(dim, node) for every compound size (`n - 1`) in fn's node types."""
    if id(fn) not in _DERIVED:
        found = {}
        for node in walk(fn.roots):         # loop bodies too
            for d in getattr(node.type, "shape", ()):      # a loop's tuple has none of its own
                if isinstance(d, Size) and d.single_var() is None:
                    found.setdefault(d, node)
        _DERIVED[id(fn)] = (fn, list(found.items()))
    return _DERIVED[id(fn)][1]


def check_call_sizes(fn: Function, sizes: dict, span):
    """What a call's sizes decide, checked before any backend runs, so no
    kernel reads outside a buffer and both backends report it alike: every
    derived size (x[1:] of an n-vector has n - 1 elements) is >= 0, and every
    index and slice bound (`p[5]` of an f32[n, 10]) is inside its axis."""
    for dim, node in derived_sizes(fn):
        if not dim.variables() <= set(sizes):
            continue        # with a size a loop binds when it runs
        value = dim.evaluate(sizes)
        if value < 0:
            bound = ", ".join(f"{k} = {v}" for k, v in sorted(sizes.items()))
            raise errors.run_time_argument_mismatch("size", node.span or span,
                                                    notes=[Note("called here", span)] if span and node.span else [],
                                                    bound=bound, dim=dim, value=value)
    problem = requirement_error(fn, sizes, span)
    if problem is not None:
        raise problem


def to_arg(fn: Function, param, value, span):
    """A host value as the array a def's parameter expects (no silent casts)."""
    t = param.type
    name = param.attr("name")
    dtype = np.dtype(NUMPY_DTYPE[t.dtype])
    if isinstance(value, (bool, int, float)) and not isinstance(value, np.ndarray):
        if isinstance(value, float) and dtype.kind in "iub":
            raise errors.run_time_argument_mismatch("float_for_int", span, name=name, fname=fn.name,
                                                    t=t, value=value)
        if isinstance(value, bool) != (dtype.kind == "b"):
            raise errors.run_time_argument_mismatch("not_a_number", span, name=name, fname=fn.name,
                                                    t=t, value=value)
        # a number keeps its value: it must fit the dtype (E0218)
        check_literal_range(value, t.dtype, span)
        return np.asarray(value, dtype)
    if hasattr(value, "__array__") and not isinstance(value, np.ndarray):
        value = np.asarray(value)
    if not isinstance(value, np.ndarray):
        raise errors.run_time_argument_mismatch("kind", span, name=name, fname=fn.name, t=t,
                                                got=describe(value))
    if value.dtype != dtype:
        got = FROM_NUMPY.get(value.dtype.name, value.dtype.name)
        raise errors.run_time_argument_mismatch("dtype", span, name=name, fname=fn.name, t=t,
                                                got=got, shape=list(value.shape), dtype=t.dtype,
                                                numpy_dtype=dtype.name)
    return value


def check_shared_value(name: str, t: TensorType, value, span=None):
    array = np.asarray(value) if not isinstance(value, (int, float)) else None
    want = t.concrete_shape({})
    if array is None:
        raise errors.shared_value_mismatch("number", span, name=name, want=t, number=f' {value}')
    if array.shape != want or array.dtype != np.dtype(NUMPY_DTYPE[t.dtype]):
        got = f"{FROM_NUMPY.get(array.dtype.name, array.dtype.name)}{list(array.shape)}"
        raise errors.shared_value_mismatch("value", span, name=name, t=t, got=got)


def describe(value) -> str:
    """A value as messages name it, the words the checker uses for its type."""
    t = type_of(value)
    if isinstance(t, tuple) or t == type_of(object()):
        return f"a {type(value).__name__}"
    return describe_type(t)
