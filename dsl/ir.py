"""The one IR: a DAG of frozen `Node`s, and `Function`, a compiled def.

Equality and hashing are structural and leave the span out, so two nodes
computing the same thing are equal wherever they came from (which is what
common-subexpression elimination relies on). The hash is computed once.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable

from .diagnostics import Span
from .types import TensorType, TupleType

LEAF_OPS = ("param", "shared", "size", "const")


@dataclass(frozen=True, eq=False)
class Node:
    op: str
    inputs: tuple["Node", ...]
    type: TensorType
    attrs: tuple[tuple[str, Any], ...] = ()
    span: Span | None = field(default=None, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "_hash",
                           hash((self.op, self.inputs, self.type, self.attrs)))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other) -> bool:
        if self is other:
            return True
        if not isinstance(other, Node) or self._hash != other._hash:
            return False
        return (self.op == other.op and self.type == other.type
                and self.attrs == other.attrs and self.inputs == other.inputs)

    def attr(self, name: str, default=None):
        for key, value in self.attrs:
            if key == name:
                return value
        return default

    @property
    def attr_dict(self) -> dict:
        return dict(self.attrs)


def make_attrs(**kwargs) -> tuple:
    return tuple(sorted(kwargs.items()))


def node(op: str, inputs, type: TensorType, span: Span | None = None, **attrs) -> Node:
    return Node(op, tuple(inputs), type, make_attrs(**attrs), span)


@dataclass(frozen=True)
class Function:
    """A checked, differentiated def: parameters, outputs and updates."""
    name: str
    params: tuple[Node, ...]          # op "param", attrs name
    outputs: tuple[Node, ...]
    updates: tuple[tuple[str, Node], ...] = ()   # shared name -> new value
    returns_tuple: bool = False
    signature: str = ""
    span: Span | None = field(default=None, compare=False)
    # indexing.Requirement: accesses its sizes decide, found before any
    # rewrite and checked at every call; every rewritten Function keeps them
    requirements: tuple = field(default=(), compare=False)

    @property
    def roots(self) -> tuple[Node, ...]:
        return self.outputs + tuple(v for _, v in self.updates)

    def replace_roots(self, roots: Iterable[Node]) -> "Function":
        roots = tuple(roots)
        n = len(self.outputs)
        updates = tuple((name, r) for (name, _), r in zip(self.updates, roots[n:]))
        return replace(self, outputs=roots[:n], updates=updates)

    @property
    def return_type(self):
        if self.returns_tuple:
            return TupleType(tuple(o.type for o in self.outputs))
        return self.outputs[0].type


def toposort(roots: Iterable[Node]) -> list[Node]:
    """Every node reachable from roots, inputs before users, each once."""
    order: list[Node] = []
    seen: set[int] = set()
    for root in roots:
        stack = [(root, False)]
        while stack:
            n, expanded = stack.pop()
            if id(n) in seen:
                continue
            if expanded:
                seen.add(id(n))
                order.append(n)
                continue
            stack.append((n, True))
            for i in reversed(n.inputs):
                if id(i) not in seen:
                    stack.append((i, False))
    return order


def rebuild(roots: Iterable[Node], fn: Callable[[Node, tuple], Node]) -> list[Node]:
    """Rebuild the graph bottom-up: fn(old_node, new_inputs) -> new node.
    Memoised by identity so shared subgraphs stay shared."""
    roots = list(roots)
    new: dict[int, Node] = {}
    for n in toposort(roots):
        inputs = tuple(new[id(i)] for i in n.inputs)
        new[id(n)] = fn(n, inputs)
    return [new[id(r)] for r in roots]


def with_inputs(n: Node, inputs: tuple) -> Node:
    if all(a is b for a, b in zip(inputs, n.inputs)) and len(inputs) == len(n.inputs):
        return n
    return Node(n.op, inputs, n.type, n.attrs, n.span)
