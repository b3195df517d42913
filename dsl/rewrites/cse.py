"""Common-subexpression elimination.

Nodes hash and compare structurally (op, inputs, type, attrs; not the
span), so two equal nodes compute the same value: rebuilding the graph
bottom-up through a dict keyed by node keeps the first of each and makes
every later copy share it. Copies arise from inlining (a def called twice)
and from `grad` (each `grad(cost, W)` rebuilds the backward pass). The
nodes of bodies are merged too (`rebuild` reaches inside them).

The log has one entry per merged subgraph, at its top node (the node
whose users were not merged too), noting how many nodes the merge saved;
logging every node of a merged subgraph would repeat the same fact.
"""
from __future__ import annotations

from ..ir import Body, Function, Node, bodies, make_attrs, rebuild, toposort, walk, with_inputs
from . import loop_sums
from .engine import LogEntry


def run(fn: Function) -> tuple[Function, list[LogEntry]]:
    canonical: dict[Node, Node] = {}
    merged: dict[int, Node] = {}         # id(old node) -> the node it became

    def visit(old: Node, inputs: tuple) -> Node:
        n = with_inputs(old, inputs)
        if n.op == "param":
            # a param is read by name in its own scope: merging a body's
            # param with the caller's equal one would mix the two scopes
            return n
        first = canonical.setdefault(n, n)
        if first is not n:
            merged[id(old)] = first
        return first

    new = fn.replace_roots(rebuild(fn.roots, visit))
    log = merge_log(fn, merged)
    new, loop_log = merge_loops(new)
    new, hoist_log = hoist_invariants(new)
    new, sum_log = loop_sums.run(new)
    return new, log + loop_log + hoist_log + sum_log


def loop_key(n: Node):
    """What two loops must share for one to compute the other's results:
    everything but the stacks its body adds after the other's."""
    body = n.attr("body")
    return (n.inputs, body.params, tuple((k, v) for k, v in n.attrs if k not in ("body", "stacks")))


def merge_loops(fn: Function) -> tuple[Function, list[LogEntry]]:
    """`grad` runs a loop again saving the carries each step starts from
    (autodiff.vjp_loop): the same loop with more stacks. Every item of the
    shorter loop is read from the longer one, so the loop runs once."""
    loops: dict = {}
    for n in walk(fn.roots):
        if n.op == "loop":
            loops.setdefault(loop_key(n), []).append(n)
    longer: dict[int, Node] = {}
    for group in loops.values():
        group.sort(key=lambda n: -len(n.attr("body").roots))
        for short in group[1:]:
            roots = short.attr("body").roots
            host = next((n for n in group if n.attr("body").roots[:len(roots)] == roots), short)
            if host is not short:
                longer[id(short)] = host
    if not longer:
        return fn, []
    log = []

    def visit(old: Node, inputs: tuple) -> Node:
        n = with_inputs(old, inputs)
        if n.op == "item" and id(old.inputs[0]) in longer:
            host = longer[id(old.inputs[0])]
            log.append(LogEntry("cse", "merge-loop", old.inputs[0], host, old.span,
                                "read from the loop that also saves its carries"))
            return Node(n.op, (host,), n.type, n.attrs, n.span)
        return n

    return fn.replace_roots(rebuild(fn.roots, visit)), log


def merge_log(fn: Function, merged: dict[int, Node]) -> list[LogEntry]:
    order = walk(fn.roots)
    # a merged node is the top of its subgraph when something not merged
    # uses it, or when it is a root (of the function or of a body)
    roots = list(fn.roots) + [r for n in order for body in bodies(n) for r in body.roots]
    tops = {id(r) for r in roots if id(r) in merged}
    for n in order:
        if id(n) not in merged:
            tops.update(id(i) for i in n.inputs if id(i) in merged)
    log, counted = [], set()
    for n in order:
        if id(n) in tops:
            saved = count_merged(n, merged, counted)
            log.append(LogEntry("cse", "merge", n, merged[id(n)], n.span,
                                f"{saved} node{'s' * (saved != 1)}"))
    return log


def count_merged(top: Node, merged: dict[int, Node], counted: set) -> int:
    """How many merged nodes the subgraph under `top` holds that no earlier
    top counted (so the notes add up to the nodes removed)."""
    before, stack = len(counted), [top]
    while stack:
        n = stack.pop()
        if id(n) in counted or id(n) not in merged:
            continue
        counted.add(id(n))
        stack.extend(n.inputs)
    return len(counted) - before


# ops whose value may be a run-time error: never moved out of a loop, where
# they might not run at all
MAY_FAULT = ("gather", "scatter_add", "one_hot", "pow", "loop", "item")


def hoist_invariants(fn: Function) -> tuple[Function, list[LogEntry]]:
    """Work in a loop's body that reads only the loop's invariants (and
    constants) is computed once, before the loop, and passed in. Loops whose
    count is known only at run time (it may be 0: `ifelse`) keep their
    work, as does any op that may fail at run time."""
    log: list[LogEntry] = []

    def visit(old: Node, inputs: tuple) -> Node:
        n = with_inputs(old, inputs)
        return hoisted(n, log) if n.op == "loop" and not n.attr("counted") else n

    new = fn.replace_roots(rebuild(fn.roots, visit))
    return new, log


def hoisted(loop: Node, log: list) -> Node:
    body, nc, ns = loop.attr("body"), loop.attr("carries"), loop.attr("sequences")
    first = 1 + nc + ns
    count = len(body.params) - first
    invariants = loop.inputs[len(loop.inputs) - count:] if count else ()
    outer_of = {id(p): x for p, x in zip(body.params[first:], invariants)}
    order = toposort(body.roots)
    invariant: set[int] = set(outer_of)
    for n in order:
        if n.op != "param" and n.inputs and n.op not in MAY_FAULT and all(id(i) in invariant for i in n.inputs):
            invariant.add(id(n))
        elif n.op in ("const", "size") and not n.inputs:
            invariant.add(id(n))
    # the largest invariant values the rest of the body reads
    read_by_variant = {id(i) for n in order if id(n) not in invariant for i in n.inputs}
    root_ids = {id(r) for r in body.roots}
    tops = [n for n in order if id(n) in invariant and n.inputs and id(n) not in outer_of
            and (id(n) in read_by_variant or id(n) in root_ids)]
    if not tops:
        return loop
    outer: dict[int, Node] = dict(outer_of)
    for n in order:
        if id(n) in invariant and id(n) not in outer:
            outer[id(n)] = n if not n.inputs else with_inputs(n, tuple(outer[id(i)] for i in n.inputs))
    params = {id(t): Node("param", (), t.type, make_attrs(name=f"#hoisted{k}"), t.span)
              for k, t in enumerate(tops)}
    roots = rebuild(body.roots, lambda old, inputs: params.get(id(old)) or with_inputs(old, inputs))
    for t in tops:
        log.append(LogEntry("cse", "hoist", t, outer[id(t)], t.span, "computed once, before the loop"))
    new_body = Body(body.params + tuple(params[id(t)] for t in tops), tuple(roots))
    return Node(loop.op, loop.inputs + tuple(outer[id(t)] for t in tops), loop.type,
                tuple((k, new_body if k == "body" else v) for k, v in loop.attrs), loop.span)
