"""Dead-code elimination.

A `Function` holds only its roots (outputs and updates); its graph is
whatever they reach. So there are no unreachable nodes to delete: every
pass rebuilds from the roots and what its rewrites orphaned is gone with
it (`grad` likewise never puts an unused cotangent into the graph). The
pipeline reports those drops as node counts per pass (`PipelineLog.counts`,
printed by `sym explain`). A body is rebuilt from its own roots the same
way (`ir.rebuild`), so what a rewrite orphans inside a body is gone too.

What this pass does remove is dead state: an update whose new value is
the shared value itself (`S <- S`, or `S <- S + 0.0` once simplified)
writes back what is already there. Dropping it changes no
result, and the executor has one write less to do.

And dead results of a loop: a loop computes all of its results together,
so one that nothing reads would still be computed every step. `grad`
makes such loops: the backward loop of an RNN stacks the cotangent of
every sequence, also of the data, whose gradient nobody asked for (an
LSTM: a product of the gate gradients with Wx, every step). A stacked
result nothing reads is dropped from the body, and so is a carry that
nothing reads after the loop and no other result of the body reads.
"""
from __future__ import annotations

import dataclasses

from ..build import apply
from ..ir import Body, Function, Node, bodies, toposort, with_inputs
from .engine import LogEntry


def is_identity_update(name: str, value) -> bool:
    return value.op == "shared" and value.attr("name") == name


def run(fn: Function) -> tuple[Function, list[LogEntry]]:
    fn, log = drop_unused_updates(fn)
    loop_log: list[LogEntry] = []
    roots = prune_scope(list(fn.roots), loop_log)
    if not loop_log:
        return fn, log
    return fn.replace_roots(roots), log + loop_log


def drop_unused_updates(fn: Function) -> tuple[Function, list[LogEntry]]:
    kept, log = [], []
    for name, value in fn.updates:
        if is_identity_update(name, value):
            log.append(LogEntry("dce", "identity-update", value, value, value.span,
                                f"`{name} <- {name}` dropped"))
        else:
            kept.append((name, value))
    if len(kept) == len(fn.updates):
        return fn, log
    new = dataclasses.replace(fn, updates=tuple(kept))
    return new, log


def prune_scope(roots: list, log: list) -> list:
    """roots rebuilt with every loop of this scope (and, recursively, of the
    bodies in it) keeping only the results some `item` of the scope reads."""
    order = toposort(roots)
    read: dict[int, set] = {}
    for n in order:
        if n.op == "item":
            read.setdefault(id(n.inputs[0]), set()).add(n.attr("index"))
    new: dict[int, Node] = {}
    renumber: dict[int, dict] = {}       # id(old loop) -> old result index -> new
    for n in order:
        inputs = tuple(new[id(i)] for i in n.inputs)
        if n.op == "item" and id(n.inputs[0]) in renumber:
            m = apply("item", inputs, n.span, index=renumber[id(n.inputs[0])][n.attr("index")])
        else:
            m = with_pruned_bodies(with_inputs(n, inputs), log)
            if m.op == "loop" and len(read.get(id(n), ())) < len(m.type.elts):
                m, renumber[id(n)] = keep_results(m, read.get(id(n), set()), log)
        new[id(n)] = m
    return [new[id(r)] for r in roots]


def with_pruned_bodies(n: Node, log: list) -> Node:
    if not bodies(n):
        return n
    attrs = tuple((k, Body(v.params, tuple(prune_scope(list(v.roots), log)))
                   if isinstance(v, Body) else v) for k, v in n.attrs)
    if all(a[1] == b[1] for a, b in zip(attrs, n.attrs)):
        return n
    return Node(n.op, n.inputs, n.type, attrs, n.span)


def keep_results(loop: Node, read: set, log: list) -> tuple[Node, dict]:
    """The loop computing only the results in `read` (and the carries the
    kept results need), and the new index of each kept result."""
    body, nc, counted = loop.attr("body"), loop.attr("carries"), loop.attr("counted")
    roots = body.roots
    carry_params = body.params[1:1 + nc]
    keep = [k for k in range(len(roots)) if k >= nc and k in read]
    # carries: kept when read after the loop, or read by a kept result or
    # kept carry (found by growing the set until it no longer changes)
    carries = {k for k in range(nc) if k in read}
    while True:
        needed = params_read([roots[k] for k in sorted(carries) + keep])
        grown = carries | {k for k in range(nc) if carry_params[k].attr("name") in needed}
        if grown == carries:
            break
        carries = grown
    kept = sorted(carries) + keep
    if len(kept) == len(roots):
        return loop, {k: k for k in range(len(roots))}
    dropped = [k for k in range(len(roots)) if k not in kept]
    new_roots = tuple(roots[k] for k in kept)
    # sequences and invariants only the dropped results read go too
    reached = params_read(new_roots)
    ns = loop.attr("sequences")
    outer = loop.inputs[counted + nc:]
    others = [j for j, p in enumerate(body.params[1 + nc:]) if p.attr("name") in reached]
    params = (body.params[:1] + tuple(carry_params[k] for k in sorted(carries))
              + tuple(body.params[1 + nc + j] for j in others))
    inits = loop.inputs[counted:counted + nc]
    inputs = (loop.inputs[:counted] + tuple(inits[k] for k in sorted(carries))
              + tuple(outer[j] for j in others))
    new = apply("loop", inputs, loop.span, **dict(loop.attrs, body=Body(params, new_roots),
                                                  carries=len(carries), stacks=len(keep),
                                                  sequences=sum(j < ns for j in others)))
    what = ", ".join(f"carry `{carry_params[k].attr('name')}`" if k < nc else f"stacked value {k - nc}"
                     for k in dropped)
    log.append(LogEntry("dce", "unused-loop-result", loop, new, loop.span,
                        f"nothing reads {what}: not computed"))
    return new, {k: i for i, k in enumerate(kept)}


def params_read(roots) -> set:
    """The names of the params a body's roots read (params are bound by name)."""
    return {n.attr("name") for n in toposort(roots) if n.op == "param"}
