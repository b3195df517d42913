"""`--nan-check`: stop at the first NaN or Inf and name the line that made it.

    guard = NanGuard("train", call_span)
    evaluate(roots, env, on_value=guard)

The guard sees every value as it is computed (inputs before users). The
first float value holding NaN or Inf whose inputs held none is where the
trouble starts; the guard raises E0607 at that node's span, the source of
the op that made it, with each input's summary as notes and the call site
last. A NaN that arrives in an argument or a shared value is reported at
the parameter or shared declaration it came through.
"""
from __future__ import annotations

import numpy as np

from dsl.diagnostics import Diagnostic, Note, Span, SymError
from dsl import errors
from dsl.ir import Node
from dsl.ops import EXTERNAL

# why an op typically makes NaN or Inf out of finite values
CAUSES = {
    "div": "a division by zero (x / 0 is Inf, 0 / 0 is NaN)",
    "log": "the log of zero (-Inf) or of a negative number (NaN)",
    "sqrt": "the square root of a negative number",
    "exp": "exp overflowing (e**x is Inf in f32 once x > 88)",
    "pow": "a negative base with a fractional exponent, or an overflow",
    "mul": "an overflow (the product is too large for the dtype)",
    "matmul": "an overflow in the products or the sums",
    "sum": "an overflow in the sum",
    "mod": "a modulo by zero",
    "floordiv": "a division by zero",
}


def summarize(value) -> str:
    """shape, min/mean/max of the finite values, and NaN/Inf counts."""
    a = np.asarray(value)
    shape = f"[{', '.join(str(d) for d in a.shape)}]"
    if a.size == 0:
        return f"{shape} (empty)"
    if a.ndim == 0:
        v = a.item()
        return f"{shape} = {v:.6g}" if isinstance(v, float) else f"{shape} = {v}"
    if a.dtype == np.bool_:
        return f"{shape} true {int(np.count_nonzero(a))} of {a.size}"
    if a.dtype.kind != "f":
        return f"{shape} min {a.min()} mean {a.mean(dtype=np.float64):.4g} max {a.max()}"
    finite = a[np.isfinite(a)]
    nan, inf = int(np.isnan(a).sum()), int(np.isinf(a).sum())
    stats = (f"min {finite.min():.4g} mean {finite.mean(dtype=np.float64):.4g} "
             f"max {finite.max():.4g}" if finite.size else "no finite values")
    return f"{shape} {stats} nan {nan} inf {inf}"


def node_label(n: Node) -> str:
    """A node in a note: a parameter or shared value by name, else its op."""
    if n.op in EXTERNAL:
        return f"{n.op} `{n.attr('name')}`"
    if n.op == "const" and n.type.rank == 0:
        return f"the constant {n.attr('value')}"
    return f"`{n.op}`"


def bad_counts(value) -> tuple[int, int] | None:
    """(NaN count, Inf count) of a float array holding either, else None."""
    a = np.asarray(value)
    if a.dtype.kind != "f" or np.isfinite(a).all():
        return None
    return int(np.isnan(a).sum()), int(np.isinf(a).sum())


class NanGuard:
    """on_value hook: raises at the first op that turns finite into NaN/Inf."""

    def __init__(self, fname: str, call_span: Span | None = None):
        self.fname, self.call_span = fname, call_span
        self.values: dict[int, object] = {}     # id(node) -> value, for the notes
        self.bad: set[int] = set()              # ids of nodes holding NaN/Inf
        self.step = None                        # (t, steps, loop) inside a loop's body

    def on_step(self, loop: Node, t: int, steps: int, node: Node, value) -> None:
        """A value inside a loop's body at step t: the first NaN/Inf names
        its step (a carried NaN never reaches the next step: it stops here)."""
        self.step = (t, steps, loop)
        try:
            self(node, value)
        finally:
            self.step = None

    def __call__(self, node: Node, value) -> None:
        self.values[id(node)] = value
        if isinstance(value, tuple):        # a loop's results: its body was checked
            return
        counts = bad_counts(value)
        if counts is None:
            return
        self.bad.add(id(node))
        if not any(id(i) in self.bad for i in node.inputs):
            raise SymError(self.diagnostic(node, counts))

    def diagnostic(self, node: Node, counts: tuple[int, int]) -> Diagnostic:
        nan, inf = counts
        made = " and ".join(part for part in (f"{nan} NaN" if nan else "", f"{inf} Inf" if inf else "")
                            if part)
        notes = [Note(f"input {k + 1}: {node_label(i)} : {i.type} = {summarize(self.values[id(i)])}")
                 for k, i in enumerate(node.inputs) if id(i) in self.values]
        if self.step is not None:
            t, steps, loop = self.step
            notes.append(Note(f"at step {t} of {steps} (counted from 0) of this loop", loop.span))
        notes.append(Note(f"in the call of `{self.fname}`", self.call_span))
        return errors.not_finite(self.message(node, made), node.span, self.hint(node), tuple(notes)).diagnostic

    def message(self, node: Node, made: str) -> str:
        if node.op == "param":
            return f"argument `{node.attr('name')}` of `{self.fname}` holds {made} value(s)"
        if node.op == "shared":
            return f"shared `{node.attr('name')}` holds {made} value(s)"
        if node.op in ("const", "full"):
            # constant folding computed it (e.g. `1.0 / 0.0`) before the run
            return f"this expression is a constant holding {made} value(s)"
        where = f" at step {self.step[0]} of a loop" if self.step is not None else ""
        return f"`{node.op}` made {made} value(s) from inputs without NaN or Inf{where}"

    @staticmethod
    def hint(node: Node) -> str:
        if node.op in EXTERNAL:
            return "the NaN/Inf came from outside this call: check the data, or an earlier update"
        cause = CAUSES.get(node.op)
        trace = "`sym trace` shows every value of the call"
        return f"likely {cause}; {trace}" if cause else trace
