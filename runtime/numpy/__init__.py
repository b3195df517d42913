"""The reference backend: the definition of what each op means.

    values = evaluate(roots, Env(sizes, params, shared), on_value=None)

`IMPL[op](node, inputs, env)` (in impl.py) gives each op's numpy meaning;
`evaluate` runs a graph in toposort order, each node once, and checks that
every value has exactly its node's dtype and shape. `bind_sizes` binds a
def's size variables from its arguments.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from dsl.ir import Node, toposort
from dsl.ops import Op
from dsl.types import NUMPY_DTYPE, Size, TensorType, dim_eval

from .impl import IMPL, Env, IndexOutOfRange, RunFault, check_sizes, sum_to

__all__ = ["IMPL", "Env", "IndexOutOfRange", "RunFault", "ShapeMismatch", "BackendBug",
           "evaluate", "bind_sizes", "check_sizes", "sum_to"]


class ShapeMismatch(Exception):
    """An argument does not fit its declared type (rank, a fixed dimension,
    or a size variable that would be bound to two different values)."""

    def __init__(self, param_name: str, expected_type: TensorType,
                 actual_shape: tuple, reason: str):
        super().__init__(f"argument `{param_name}`: expected {expected_type}, "
                         f"got shape {tuple(actual_shape)}: {reason}")
        self.param_name, self.expected_type = param_name, expected_type
        self.actual_shape, self.reason = tuple(actual_shape), reason


class BackendBug(AssertionError):
    """An impl returned a value that does not match its node's type."""


def evaluate(roots: list[Node], env: Env,
             on_value: Callable[[Node, np.ndarray], None] | None = None,
             sizes_checked: bool = False) -> list[np.ndarray]:
    """sizes_checked: the caller has run check_sizes for these sizes."""
    values: dict[int, np.ndarray] = {}
    order = toposort(roots)
    if not sizes_checked:
        check_sizes(order, env.sizes)
    # NaN and overflow checks are the caller's, done explicitly via on_value
    with np.errstate(all="ignore"):
        for node in order:
            value = IMPL[node.op](node, [values[id(i)] for i in node.inputs], env)
            _check(node, value, env)
            values[id(node)] = value
            if on_value is not None:
                on_value(node, value)
    return [values[id(r)] for r in roots]


def impl_apply_body(node: Node, xs: list, env: Env) -> np.ndarray:
    """The body run as a function of its own: its params bound to the
    inputs, in the caller's sizes."""
    body = node.attr("body")
    params = {p.attr("name"): x for p, x in zip(body.params, xs)}
    (value,) = evaluate(list(body.roots), Env(env.sizes, params, env.shared))
    return value


# in IMPL with every other op; defined here because it runs `evaluate`
IMPL[Op.APPLY_BODY] = impl_apply_body


def _check(node: Node, value, env: Env) -> None:
    want = node.type.concrete_shape(env.sizes)
    if (not isinstance(value, np.ndarray) or value.shape != want
            or value.dtype != np.dtype(NUMPY_DTYPE[node.type.dtype])):
        got = (value.dtype, value.shape) if isinstance(value, np.ndarray) else type(value)
        raise BackendBug(f"numpy impl of `{node.op}` gave {got}, "
                         f"the node's type is {node.type} = {want}")


def bind_sizes(params: list[Node], args: list[np.ndarray]) -> dict[str, int]:
    """Bind each single-variable dimension (`n`) from the arguments' shapes,
    then check every dimension, compound ones (`n + 1`) included."""
    sizes: dict[str, int] = {}
    for param, arg in zip(params, args):
        name, t = param.attr("name"), param.type
        shape = np.shape(arg)
        if len(shape) != t.rank:
            raise ShapeMismatch(name, t, shape, f"expected rank {t.rank}, got rank {len(shape)}")
        for axis, (dim, actual) in enumerate(zip(t.shape, shape)):
            var = dim.single_var() if isinstance(dim, Size) else None
            if var is None:
                continue
            if var in sizes and sizes[var] != actual:
                raise ShapeMismatch(name, t, shape,
                                    f"size `{var}` is {sizes[var]} from an earlier "
                                    f"dimension but {actual} on axis {axis}")
            sizes[var] = actual
    for param, arg in zip(params, args):
        _check_dims(param, np.shape(arg), sizes)
    return sizes


def _check_dims(param: Node, shape: tuple, sizes: dict) -> None:
    name, t = param.attr("name"), param.type
    for axis, (dim, actual) in enumerate(zip(t.shape, shape)):
        if isinstance(dim, Size) and not dim.variables() <= sizes.keys():
            missing = sorted(dim.variables() - sizes.keys())
            raise ShapeMismatch(name, t, shape, f"size `{missing[0]}` in `{dim}` "
                                "is not bound by any argument")
        expected = dim_eval(dim, sizes)
        if expected != actual:
            raise ShapeMismatch(name, t, shape,
                                f"axis {axis} should be {dim}"
                                + (f" = {expected}" if isinstance(dim, Size) else "")
                                + f", got {actual}")
