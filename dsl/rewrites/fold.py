"""Constant folding: ops whose inputs are all constants become constants.

Values are computed with the numpy reference implementation (IMPL), the
definition of what each op means, so a folded constant is exactly what
the backend would have computed at run time, NaN and Inf included (a
folded `0.0 / 0.0` is a NaN constant carrying the division's span, which
is where `--nan-check` then points).

Only constants that are the same everywhere are folded (scalar `const`
and `full`): an elementwise op of them is computed once on scalars and
the result is a scalar `const`, or a `full` of the op's shape. Shape-only
ops of such a constant (broadcast_to, reshape, transpose, slice) become a
`full` too. Reductions are left alone (their value can depend on a size
only known at run time) and so is gather (its indices are checked at run
time, and folding must not move that error).
"""
from __future__ import annotations

import numpy as np

from ..ir import Node
from ..ops import ELEMENTWISE, VIEWS
from ..types import NUMPY_DTYPE, TensorType
# folding must agree with the reference backend: both use semantics.IMPL
from semantics.impl import IMPL, Env, RunFault
from .engine import Rule, apply_rules, uniform, uniform_value

def evaluate_scalar(n: Node, values: list) -> object:
    """n's op applied to scalar inputs, by the reference backend; the
    result as a Python scalar."""
    arrays = [np.array(v, NUMPY_DTYPE[i.type.dtype]) for v, i in zip(values, n.inputs)]
    scalar_inputs = tuple(Node("const", (), TensorType(i.type.dtype, ()), (("value", v),))
                          for v, i in zip(values, n.inputs))
    scalar = Node(n.op, scalar_inputs, TensorType(n.type.dtype, ()), n.attrs)
    with np.errstate(all="ignore"):       # as evaluate(): 1/0 is inf, not a warning
        return IMPL[n.op](scalar, arrays, Env()).item()


def fold_elementwise(n: Node) -> Node | None:
    if n.op not in ELEMENTWISE or not n.inputs:
        return None
    values = [uniform_value(i) for i in n.inputs]
    if any(v is None for v in values):
        return None
    try:
        value = evaluate_scalar(n, values)
    except RunFault:        # an error of the op (2 ** -1 on integers) stays where it runs
        return None
    return uniform(value, n.type, n)


def fold_shape_op(n: Node) -> Node | None:
    if n.op not in VIEWS:
        return None
    value = uniform_value(n.inputs[0])
    if value is None:
        return None
    return uniform(value, n.type, n)


RULES: list[Rule] = [
    ("elementwise-of-constants", fold_elementwise),
    ("shape-op-of-constant", fold_shape_op),
]


def run(fn):
    return apply_rules(fn, "fold", RULES)
