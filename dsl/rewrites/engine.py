"""The machinery the rule families share: the log entry, bottom-up rule
application, and small helpers for matching and building nodes.

A rule is a pair `(name, match)`; `match(node) -> Node | None` returns the
replacement or None. Rules are tried on every node bottom-up, after its
inputs were rewritten; when one fires, the rules are tried again on the
result (so `--(--x)` goes all the way), up to a fixed bound.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..build import apply
from ..diagnostics import Span
from ..ir import Function, Node, rebuild, with_inputs
from ..types import TensorType

Rule = tuple[str, Callable[[Node], "Node | None"]]

# a rule family that keeps firing on its own output has a bug
MAX_FIRINGS_PER_NODE = 50


@dataclass(frozen=True)
class LogEntry:
    """One rewrite that fired: `before` was replaced by `after`.

    `span` is the user's source span of `before` (the replacement carries
    it too); `note` holds extra detail some passes give (CSE: how many
    nodes a merge removed)."""
    pass_name: str
    rule: str
    before: Node
    after: Node
    span: Span | None
    note: str = ""


class RewriteBug(AssertionError):
    """A rule returned a node of another type: rewrites must keep types."""


def apply_rules(fn: Function, pass_name: str, rules: list[Rule]) -> tuple[Function, list[LogEntry]]:
    """Rewrite every node of fn with `rules`, bottom-up; log each firing."""
    log: list[LogEntry] = []

    def visit(old: Node, inputs: tuple) -> Node:
        return rewrite_node(with_inputs(old, inputs), rules, pass_name, log)

    return fn.replace_roots(rebuild(fn.roots, visit)), log


def rewrite_node(n: Node, rules: list[Rule], pass_name: str, log: list) -> Node:
    for _ in range(MAX_FIRINGS_PER_NODE):
        fired = first_match(n, rules)
        if fired is None:
            return n
        name, out = fired
        if out.type != n.type:
            raise RewriteBug(f"rule {pass_name}/{name} turned {n.op}: {n.type} "
                             f"into {out.op}: {out.type}")
        log.append(LogEntry(pass_name, name, n, out, n.span))
        n = out
    raise RewriteBug(f"rules of {pass_name} keep firing on `{n.op}` (a rule loops)")


def first_match(n: Node, rules: list[Rule]):
    for name, match in rules:
        out = match(n)
        if out is not None and out is not n:
            return name, out
    return None


# ---- matching helpers ------------------------------------------------------
def uniform_value(n: Node):
    """The value of a constant that is the same everywhere (a scalar const
    or a `full`), else None."""
    if n.op == "const" and n.type.rank == 0:
        return n.attr("value")
    if n.op == "full":
        return n.attr("value")
    return None


def is_value(n: Node, value) -> bool:
    v = uniform_value(n)
    # bool is excluded: True == 1 in Python but it is not the number one here
    return v is not None and not isinstance(v, bool) and v == value


def one_input(n: Node, op: str) -> Node | None:
    """n's only input when n is an `op` node."""
    return n.inputs[0] if n.op == op else None


def other_operand(n: Node, value) -> Node | None:
    """For a binary n with the constant `value` on one side, the other side."""
    a, b = n.inputs
    if is_value(b, value):
        return a
    if is_value(a, value):
        return b
    return None


# ---- building helpers ------------------------------------------------------
def make(op: str, inputs, like: Node, type: TensorType | None = None, **attrs) -> Node:
    """A new node through the type rules, carrying the span of `like`,
    the node it (helps) replace."""
    return apply(op, inputs, like.span, type=type, **attrs)


def as_type_of(x: Node, n: Node) -> Node:
    """x standing in for n: x itself when the types agree, else x broadcast
    to n's shape (`x * ones(n, 3)` is not x). None when the dtypes differ,
    which a rule must then not fire on."""
    if x.type == n.type:
        return x
    if x.type.dtype != n.type.dtype:
        return None
    return make("broadcast_to", (x,), n, type=n.type)


def uniform(value, type: TensorType, like: Node) -> Node:
    """A constant of `type` that is `value` everywhere."""
    if type.rank == 0:
        return make("const", (), like, type=type, value=value)
    return make("full", (), like, type=type, value=value)
