"""`sym trace`: run a program on numpy and print every intermediate value.
Part of the CLI (a face users touch), so it may use the API and the runtime.

For the first `calls` calls of each def (or of one def), every IR node is
printed as it is computed: its source line, the node as `sym explain`
prints it (the IR after rewrites, which is what runs, numbered the same
way), and a summary of its value (shape, min/mean/max of the finite
values, NaN and Inf counts). The program's own output appears where it
happens; each traced call is framed by a header line naming the call and
its argument shapes.
"""
from __future__ import annotations

import sys

from runtime.nancheck import bad_counts, summarize

from .api import compile
from .explain import node_line, numbering
from .ir import walk
from .types import FROM_NUMPY

BAR = "──"
SHOWN_STEPS = 2          # the first and last steps of a loop that trace prints


def trace_file(path: str, text: str, options: dict, def_name: str | None = None,
               calls: int = 1) -> int:
    """Check, compile and run the program, tracing; returns the exit code.
    User errors raise SymError (the CLI prints them)."""
    prog = compile(text, path, backend="numpy", options=options, progress=False)
    tracer = Tracer(prog._executor, def_name, calls)
    tracer.install()
    prog.run()
    if def_name is not None and tracer.seen.get(def_name, 0) == 0:
        print(f"{BAR} `{def_name}` was never called {BAR}")
    return 0


class Tracer:
    """Wraps an executor's `call` so traced calls report every value."""

    def __init__(self, executor, def_name: str | None, calls: int):
        self.executor, self.def_name, self.calls = executor, def_name, calls
        self.seen: dict[str, int] = {}

    def install(self) -> None:
        self.inner = self.executor.call
        self.executor.call = self.call      # an instance attribute shadows the method

    def wanted(self, name: str) -> bool:
        if self.def_name is not None and name != self.def_name:
            return False
        return self.seen.get(name, 0) < self.calls

    def call(self, fn, args, sizes, on_value=None):
        if not self.wanted(fn.name):
            return self.inner(fn, args, sizes, on_value)
        self.seen[fn.name] = k = self.seen.get(fn.name, 0) + 1
        out = sys.stdout
        print(f"{BAR} call {k} of {call_text(fn, args)} {BAR}", file=out)
        rows = Rows(fn, on_value, out)
        outputs = self.inner(fn, args, sizes, rows)
        names = numbering(fn)
        results = ", ".join(f"%{names[id(o)]}" for o in fn.outputs)
        print(f"  return {results}", file=out)
        for name, value in fn.updates:
            print(f"  {name} <- %{names[id(value)]}", file=out)
        out.flush()
        return outputs


class Rows:
    """The on_value hook of one traced call: prints a row per node (as it
    is computed, so a call that fails halfway shows how far it got) and
    passes the value on to the interpreter's own hook (--nan-check)."""

    def __init__(self, fn, inner, out):
        self.names, self.inner, self.out = numbering(fn), inner, out
        self.skipped: dict = {}
        bodies = [node_line(n, self.names) for n in walk(fn.roots)]
        self.width = max((len(b) for b in bodies), default=0)

    def __call__(self, node, value) -> None:
        self.row(node, value, "  ")
        if self.inner is not None:
            self.inner(node, value)

    def row(self, node, value, indent: str, step: str = "") -> None:
        line = f"line {node.span.line:<3}" if node.span is not None else "no line "
        body = node_line(node, self.names)
        shown = summarize(value) if not isinstance(value, tuple) else \
            f"({len(value)} result{'s' * (len(value) != 1)})"
        print(f"{indent}{line} {body:<{self.width}}  → {step}{shown}", file=self.out)

    def on_step(self, loop, t: int, steps: int, node, value) -> None:
        """A loop's body: the first and last SHOWN_STEPS steps, and any
        value holding NaN or Inf with its step; the steps between are
        summed up in one line."""
        if t < SHOWN_STEPS or t >= steps - SHOWN_STEPS or bad_counts(value) is not None:
            self.row(node, value, "      ", f"step {t}: ")
        elif self.skipped.get(id(loop)) != steps:
            self.skipped[id(loop)] = steps
            print(f"      … steps {SHOWN_STEPS}..{steps - SHOWN_STEPS - 1} not shown "
                  f"(a NaN or Inf would be)", file=self.out)
        if self.inner is not None:
            on_step = getattr(self.inner, "on_step", None)
            on_step(loop, t, steps, node, value) if on_step else self.inner(node, value)


def call_text(fn, args) -> str:
    """`train(x: f32[600, 784], y: i32[600])`: the call with concrete shapes."""
    parts = []
    for p, a in zip(fn.params, args):
        dtype = FROM_NUMPY.get(a.dtype.name, a.dtype.name)
        shape = ", ".join(str(d) for d in a.shape)
        parts.append(f"{p.attr('name')}: {dtype}[{shape}]" if a.ndim else f"{p.attr('name')}: {dtype}")
    return f"{fn.name}({', '.join(parts)})"
