"""Building IR nodes through the type rules: the one way nodes are made.

The checker, the tensor API, autodiff and rewrites all call `apply`, so a
node's type always comes from `ops.TYPE_RULES`.
"""
from __future__ import annotations

from .diagnostics import Span, SymError
from .ir import Node, make_attrs
from .ops import TYPE_RULES
from .types import TensorType


def apply(op: str, inputs, span: Span | None = None, type: TensorType | None = None,
          **attrs) -> Node:
    """Make an `op` node; `type` is passed to rules of ops whose result type
    the builder states (reshape, full, broadcast_to, ...)."""
    inputs = tuple(inputs)
    rule_attrs = dict(attrs)
    if type is not None:
        rule_attrs["type"] = type
    try:
        out = TYPE_RULES[op]([i.type for i in inputs], rule_attrs)
    except SymError as e:        # the rule sees only types: locate its error here
        raise e.located(span) from None
    return Node(op, inputs, out, make_attrs(**attrs), span)


def const(value, dtype: str, span: Span | None = None) -> Node:
    """A scalar constant of the given dtype."""
    if dtype in ("f32", "f64"):
        value = float(value)
    elif dtype == "bool":
        value = bool(value)
    else:
        value = int(value)
    return apply("const", (), span, type=TensorType(dtype, ()), value=value)
