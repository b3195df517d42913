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
"""
from __future__ import annotations

import dataclasses

from ..ir import Function
from .engine import LogEntry


def is_identity_update(name: str, value) -> bool:
    return value.op == "shared" and value.attr("name") == name


def run(fn: Function) -> tuple[Function, list[LogEntry]]:
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
