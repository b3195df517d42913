"""The one IR: a DAG of frozen `Node`s, and `Function`, a compiled def.

Equality and hashing are structural and leave the span out, so two nodes
computing the same thing are equal wherever they came from (which is what
common-subexpression elimination relies on). The hash is computed once.

An attribute may be a `Body`: a small function (a loop's step) the op
runs. `toposort` is one scope (what an executor evaluates in order);
`rebuild` also rebuilds every body with the same function, so a pass
written against `rebuild` reaches inside bodies; `walk` lists every node,
bodies included (printers, node counts).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable

from .diagnostics import Span
from .ops import Op
from .types import TensorType


@dataclass(frozen=True, eq=False)
class Node:
    op: Op                  # a plain name is turned into its Op
    inputs: tuple["Node", ...]
    type: TensorType
    attrs: tuple[tuple[str, Any], ...] = ()
    span: Span | None = field(default=None, repr=False)

    def __post_init__(self):
        if type(self.op) is not Op:
            object.__setattr__(self, "op", Op(self.op))
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


@dataclass(frozen=True)
class Body:
    """A function held as a node attribute: `params` are `param` nodes,
    bound by name to the values the op passes in; `roots` are what it
    returns. A body is closed (its graph reaches no leaf but its params
    and constants), so it is evaluated, rewritten and differentiated as a
    function of its own. Equality and hashing are structural."""
    params: tuple[Node, ...]
    roots: tuple[Node, ...]

    def __post_init__(self):
        names = {p.attr("name") for p in self.params}
        for n in toposort(self.roots):      # a nested body was checked when it was made
            if n.op in (Op.PARAM, Op.SHARED) and not (n.op == Op.PARAM and n.attr("name") in names):
                raise ValueError(f"a body reads `{n.attr('name')}`, which is not one of its params")


def bodies(n: Node) -> tuple[Body, ...]:
    return tuple(v for _, v in n.attrs if isinstance(v, Body))


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


def walk(roots: Iterable[Node]) -> list[Node]:
    """Every node reachable from roots, the nodes of bodies included (each
    body's nodes just before the node that holds it)."""
    out: list[Node] = []
    for n in toposort(roots):
        for body in bodies(n):
            out.extend(walk(body.roots))
        out.append(n)
    return out


def rebuild(roots: Iterable[Node], fn: Callable[[Node, tuple], Node]) -> list[Node]:
    """Rebuild the graph bottom-up: fn(old_node, new_inputs) -> new node.
    Memoised by identity so shared subgraphs stay shared. A node with a
    body reaches fn with that body already rebuilt by fn."""
    roots = list(roots)
    new: dict[int, Node] = {}
    for n in toposort(roots):
        inputs = tuple(new[id(i)] for i in n.inputs)
        new[id(n)] = fn(rebuild_bodies(n, fn), inputs)
    return [new[id(r)] for r in roots]


def rebuild_bodies(n: Node, fn: Callable[[Node, tuple], Node]) -> Node:
    """n with each of its bodies rebuilt by fn (n itself when none changed)."""
    if not bodies(n):
        return n
    attrs = tuple((k, rebuild_body(v, fn) if isinstance(v, Body) else v) for k, v in n.attrs)
    if all(a[1] is b[1] for a, b in zip(attrs, n.attrs)):
        return n
    return Node(n.op, n.inputs, n.type, attrs, n.span)


def rebuild_body(body: Body, fn: Callable[[Node, tuple], Node]) -> Body:
    roots = tuple(rebuild(body.roots, fn))
    if all(a is b for a, b in zip(roots, body.roots)):
        return body
    return Body(body.params, roots)


def step_varying(body: Body, moving: int) -> set:
    """The nodes of a loop's body that change from step to step: its first
    `moving` params (the step, the carries, the elements) and every node
    that reads one of them. Params match structurally, as in the body."""
    varying = set(body.params[:moving])
    for n in toposort(body.roots):
        if n.op != Op.PARAM and any(i in varying for i in n.inputs):
            varying.add(n)
    return varying


def inline_body(body: Body, inputs) -> tuple[Node, ...]:
    """body's roots with each param replaced by the matching input node
    (nested bodies are closed, so they are left as they are)."""
    by_name = {p.attr("name"): x for p, x in zip(body.params, inputs)}
    new: dict[int, Node] = {}
    for n in toposort(body.roots):
        if n.op == Op.PARAM:
            new[id(n)] = by_name[n.attr("name")]
        else:
            new[id(n)] = with_inputs(n, tuple(new[id(i)] for i in n.inputs))
    return tuple(new[id(r)] for r in body.roots)


def with_inputs(n: Node, inputs: tuple) -> Node:
    if all(a is b for a, b in zip(inputs, n.inputs)) and len(inputs) == len(n.inputs):
        return n
    return Node(n.op, inputs, n.type, n.attrs, n.span)
