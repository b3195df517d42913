"""Sums over a loop's steps taken after it, in one op.

`grad` through a loop accumulates the cotangent of each value fixed for
the whole loop in a carry. For a bias that is `#gb = #gb + sum_to(dz)`
every step: a small reduction a step (an LSTM's 100 x 512 gate
gradients: 73 us each), each waiting for the last. The sum of the steps'
sums is one sum_to of the steps' dz stacked (one kernel of 28 x 100 x
512 values). So such a carry is dropped from the loop, the loop stacks
the step's dz instead (or reads it from the sequence it comes from), and
one sum_to after the loop makes the sum.

A weight's `#gW = #gW + h.T @ dz` could become one product of the
stacked rows the same way, but on the CPU one 128x2800 by 2800x512
product (3.9 ms) is slower than 28 products of 100 rows (2.9 ms), whose
operands stay in the cache; so products stay in the loop.

The carry must be read by nothing else in the body: only then is its
value needed at the end alone. Memory: the stacked values, steps x their
size. The sum is taken in another order, so the last bits may differ.
"""
from __future__ import annotations

from ..build import apply
from ..ir import Body, Function, Node, rebuild, step_varying, toposort, with_inputs
from .engine import LogEntry


def run(fn: Function) -> tuple[Function, list[LogEntry]]:
    log: list[LogEntry] = []
    results: dict[int, list] = {}       # id(new loop) -> what each old result became

    def visit(old: Node, inputs: tuple) -> Node:
        n = with_inputs(old, inputs)
        if n.op == "item" and id(inputs[0]) in results:
            return results[id(inputs[0])][n.attr("index")]
        if n.op == "loop" and not n.attr("counted"):
            new, items = summed_after(n, log)
            if new is not n:
                results[id(new)] = items
                return new
        return n

    new_roots = rebuild(fn.roots, visit)
    return (fn.replace_roots(new_roots), log) if log else (fn, log)


def accumulated(body: Body, k: int, nc: int):
    """(the add, the per-step term) when carry k's new value is the carry
    plus a term, and nothing else in the body reads the carry."""
    param, root = body.params[1 + k], body.roots[k]
    name = param.attr("name")
    if root.op != "add":
        return None
    mine = [i for i in root.inputs if i.op == "param" and i.attr("name") == name]
    if len(mine) != 1:
        return None
    term = root.inputs[1] if root.inputs[0] is mine[0] else root.inputs[0]
    readers = [n for n in toposort(body.roots) if any(
        i.op == "param" and i.attr("name") == name for i in n.inputs)]
    if readers != [root] or any(r.op == "param" and r.attr("name") == name for r in body.roots):
        return None
    return root, term


def summed_after(loop: Node, log: list) -> tuple[Node, list]:
    """The loop without the carries that only accumulate a sum_to, and for
    each of its old results the node that gives it."""
    body, nc, ns = loop.attr("body"), loop.attr("carries"), loop.attr("sequences")
    varying = step_varying(body, 1 + nc + ns)
    plans = {}
    for k in range(nc):
        found = accumulated(body, k, nc)
        if found and found[1] in varying and found[1].op == "sum_to":
            plans[k] = found
    if not plans:
        return loop, []
    element_of = {p.attr("name"): loop.inputs[nc + j]
                  for j, p in enumerate(body.params[1 + nc:1 + nc + ns])}
    stacked: list[Node] = []            # the new stacked roots, each once

    def rows(v: Node):
        """Where v's steps are, as ("seq", outer array) or ("stack", index)."""
        if v.op == "param" and v.attr("name") in element_of:
            return ("seq", element_of[v.attr("name")])
        if v not in stacked:
            stacked.append(v)
        return ("stack", stacked.index(v))

    places = {k: rows(term.inputs[0]) for k, (_, term) in plans.items()}
    kept = [k for k in range(nc) if k not in plans]
    ny = len(body.roots) - nc
    params = body.params[:1] + tuple(body.params[1 + k] for k in kept) + body.params[1 + nc:]
    roots = tuple(body.roots[k] for k in kept) + body.roots[nc:] + tuple(stacked)
    inputs = tuple(loop.inputs[k] for k in kept) + loop.inputs[nc:]
    new = apply("loop", inputs, loop.span, **dict(loop.attrs, body=Body(params, roots), carries=len(kept),
                                                  stacks=ny + len(stacked)))
    first_new = len(kept) + ny

    def outer(place):
        kind, where = place
        return where if kind == "seq" else apply("item", (new,), loop.span, index=first_new + where)

    items = [apply("item", (new,), loop.span, index=i) for i in range(len(kept))] + \
            [apply("item", (new,), loop.span, index=len(kept) + j) for j in range(ny)]
    sums = {}
    for k, (add, term) in plans.items():
        total = apply("sum_to", (outer(places[k]),), term.span, type=term.type)
        init = loop.inputs[k]
        sums[k] = total if is_zeros(init) else apply("add", (init, total), add.span)
        log.append(LogEntry("cse", "sum-after-loop", add, total, add.span,
                            "the steps' sums as one sum_to after the loop"))
    by_old = [sums[k] if k in sums else items[kept.index(k)] for k in range(nc)] + items[len(kept):]
    return new, by_old


def is_zeros(n: Node) -> bool:
    return n.op == "full" and n.attr("value") == 0
