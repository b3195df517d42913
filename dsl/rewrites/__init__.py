"""Rewrite passes over the IR: a literal pipeline of named passes.

    new_fn, log = run_pipeline(fn)                  # every pass, in order
    new_fn, log = run_pipeline(fn, stop_after="simplify")

A pass is data, `Pass(name, description, fn)`, where `fn(Function) ->
(Function, [LogEntry])`. Each rule family lives in its own module as a
list of `(name, match)` rules; there is no global registry and no
ordering by priority: PIPELINE below is the order. Every rewrite that
fires is logged (pass, rule, node before, node after, the user's span);
the log is what `sym explain` prints. A rewrite that raises is a bug and
the exception propagates. Rewrites keep every node's type (the engine
asserts it), and the checker has run before them, so no rewrite can hide a
shape error.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .. import errors
from ..ir import Function, walk
from . import cse, dce, fold, simplify, stabilize
from .engine import LogEntry, RewriteBug

__all__ = ["Pass", "PIPELINE", "LogEntry", "PipelineLog", "RewriteBug",
           "run_pipeline", "pass_names"]


@dataclass(frozen=True)
class Pass:
    name: str
    description: str
    fn: Callable[[Function], tuple[Function, list[LogEntry]]]


PIPELINE: list[Pass] = [
    Pass("fold", "compute ops whose inputs are all constants (numpy reference values)",
         fold.run),
    Pass("simplify", "drop identities: x*1, x+0, x-0, x/1, --x, exp(log x), "
         "transpose of transpose, casts and reshapes to the same type", simplify.run),
    Pass("stabilize", "log(softmax) -> log_softmax, log(sigmoid) -> -softplus(-x), "
         "log(1+x) -> log1p, and the matching gradients", stabilize.run),
    Pass("cse", "share equal subexpressions (structural equality)", cse.run),
    Pass("dce", "drop updates that write back the value already there", dce.run),
]


class PipelineLog(list):
    """The rewrite log (a list of LogEntry), plus `counts`: for each pass
    that ran, (pass name, nodes before, nodes after), counting nodes as the
    executor evaluates them (toposort of the roots), the nodes of bodies
    included."""

    def __init__(self):
        super().__init__()
        self.counts: list[tuple[str, int, int]] = []


def pass_names(passes=None) -> list[str]:
    return [p.name for p in (PIPELINE if passes is None else passes)]


def run_pipeline(fn: Function, passes=None, stop_after: str | None = None):
    """Apply each pass in order (stopping after `stop_after` if given);
    returns the new function and the rewrite log."""
    passes = PIPELINE if passes is None else passes
    if stop_after is not None and stop_after not in pass_names(passes):
        raise errors.no_such_pass(stop_after, ', '.join(pass_names(passes)))
    log = PipelineLog()
    size = len(walk(fn.roots))
    for p in passes:
        fn, entries = p.fn(fn)
        log.extend(entries)
        new_size = len(walk(fn.roots))
        log.counts.append((p.name, size, new_size))
        size = new_size
        if p.name == stop_after:
            break
    return fn, log
