"""Algebraic simplification: identities that remove work.

Rules: x*1, 1*x, x+0, 0+x, x-0, x/1, x**1, --x, exp(log x), transpose of
transpose, transpose by the identity, reshape of reshape, and cast, sum_to,
broadcast_to or reshape to the type x already has.

Every rule keeps the node's type. `x * 1` is x only when the product has
x's type; when the constant broadcasts x (`x * ones(3, n)`), the result is
`broadcast_to(x)` instead, so no rule can change a shape or hide a shape
error (the checker has already run on the unsimplified program anyway).
`exp(log(x))` is x only for x >= 0; elsewhere log gave NaN and so must
the rewrite: it becomes `where(x >= 0, x, nan)`.
"""
from __future__ import annotations

from ..ir import Node
from .engine import (Rule, apply_rules, as_type_of, is_value, make, one_input,
                     other_operand, uniform)


def mul_one(n: Node) -> Node | None:
    if n.op != "mul":
        return None
    x = other_operand(n, 1)
    return None if x is None else as_type_of(x, n)


def add_zero(n: Node) -> Node | None:
    if n.op != "add":
        return None
    x = other_operand(n, 0)
    return None if x is None else as_type_of(x, n)


def right_identity(op: str, value):
    """`x op value` is x (x - 0, x / 1); the constant on the right only."""
    def rule(n: Node) -> Node | None:
        if n.op != op:
            return None
        x, c = n.inputs
        return as_type_of(x, n) if is_value(c, value) else None
    return rule


def neg_neg(n: Node) -> Node | None:
    inner = one_input(n, "neg")
    return None if inner is None else one_input(inner, "neg")


def exp_log(n: Node) -> Node | None:
    inner = one_input(n, "exp")
    x = None if inner is None else one_input(inner, "log")
    if x is None:
        return None
    nonneg = make("ge", (x, uniform(0.0, x.type.with_shape(()), n)), n)
    return make("where", (nonneg, x, uniform(float("nan"), x.type.with_shape(()), n)), n)


def transpose_transpose(n: Node) -> Node | None:
    inner = one_input(n, "transpose")
    x = None if inner is None else one_input(inner, "transpose")
    if x is None:
        return None
    first, second = inner.attr("perm"), n.attr("perm")
    perm = tuple(first[p] for p in second)
    if perm == tuple(range(len(perm))):
        return x
    return make("transpose", (x,), n, perm=perm)


def transpose_identity(n: Node) -> Node | None:
    # `.T` of a vector is a transpose with perm (0,)
    if n.op == "transpose" and n.attr("perm") == tuple(range(n.type.rank)):
        return n.inputs[0]
    return None


def reshape_reshape(n: Node) -> Node | None:
    inner = one_input(n, "reshape")
    x = None if inner is None else one_input(inner, "reshape")
    if x is None:
        return None
    return make("reshape", (x,), n, type=n.type)


def same_type(op: str):
    """`op` whose result has its input's exact type does nothing."""
    def rule(n: Node) -> Node | None:
        if n.op == op and n.inputs[0].type == n.type:
            return n.inputs[0]
        return None
    return rule


RULES: list[Rule] = [
    ("mul-one", mul_one),
    ("add-zero", add_zero),
    ("sub-zero", right_identity("sub", 0)),
    ("div-one", right_identity("div", 1)),
    ("pow-one", right_identity("pow", 1)),
    ("neg-neg", neg_neg),
    ("exp-log", exp_log),
    ("transpose-transpose", transpose_transpose),
    ("transpose-identity", transpose_identity),
    ("reshape-reshape", reshape_reshape),
    ("cast-same-dtype", same_type("cast")),
    ("sum_to-same-shape", same_type("sum_to")),
    ("broadcast_to-same-shape", same_type("broadcast_to")),
    ("reshape-same-shape", same_type("reshape")),
]


def run(fn):
    return apply_rules(fn, "simplify", RULES)
