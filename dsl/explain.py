"""`sym explain`: a def's IR before and after the rewrites, and the log.

One line per node, numbered in toposort order (inputs first), so the
output is the same on every run:

    %7 = matmul %3, %5 : f32[n, 10]   # line 7

A node with a body is followed by the body, indented, its nodes numbered
under the holder's number (%7.0, %7.1, ...) and ended by its `return`.

Sections per def: the signature, "IR before rewrites", the rewrite log
(pass, rule, before -> after, line), node counts per pass, "IR after
rewrites", and with kernels=True the executor's kernels.

Kernels come from an executor method `kernels_for(fn) -> [(kernel_name,
source, fused)]`, called with the rewritten Function printed above;
`fused` lists the IR nodes each kernel computes, as Node objects, as
ints (positions in `toposort(fn.roots)`, i.e. the %numbers printed here)
or as strings, printed as they are. An executor with backend passes of its
own also has `backend_passes_for(fn) -> [(name, description, what it
did)]`, printed as "backend passes" above the kernels.
"""
from __future__ import annotations

import numpy as np

from .ir import Body, Function, Node, bodies, toposort, walk
from .ops import EXTERNAL

from . import errors
from .parallel import plan_def
from .rewrites import pass_names, run_pipeline

RULE = "─" * 72
EXPR_DEPTH = 3          # how deep a log entry's nodes are spelled out ...
EXPR_WIDTH = 60         # ... unless that gets longer than this


# ---- one function ------------------------------------------------------------
def numbering(fn: Function) -> dict[int, str]:
    """id(node) -> its %number: the node's position in toposort (a body's
    nodes: the holder's number, a dot, the position in the body)."""
    names: dict[int, str] = {}
    number_scope(fn.roots, "", names)
    return names


def number_scope(roots, prefix: str, names: dict) -> None:
    for i, n in enumerate(toposort(roots)):
        names[id(n)] = f"{prefix}{i}"
        for body in bodies(n):
            number_scope(body.roots, f"{prefix}{i}.", names)


def format_attr(value) -> str:
    if isinstance(value, Body):
        params = ", ".join(p.attr("name") for p in value.params)
        return "{" + params + " -> " + ", ".join(short(r) for r in value.roots) + "}"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(format_attr(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return str(value)


def format_value(n: Node) -> str:
    """A const's or full's value; an f32 value as the shortest decimal that
    gives the same f32 (folding stores 1e-4 as 9.999999747378752e-05)."""
    value = n.attr("value")
    if isinstance(value, float) and n.type.dtype == "f32":
        return str(np.float32(value))
    return format_attr(value)


def format_attrs(n: Node) -> str:
    if not n.attrs:
        return ""
    return "[" + ", ".join(f"{k}={format_value(n) if k == 'value' else format_attr(v)}"
                           for k, v in n.attrs) + "]"


def line_of(n) -> str:
    return f"line {n.span.line}" if n.span is not None else "no line"


def node_line(n: Node, names: dict[int, int]) -> str:
    inputs = ", ".join(f"%{names[id(i)]}" for i in n.inputs)
    return f"%{names[id(n)]} = {n.op}{format_attrs(n)}{' ' + inputs if inputs else ''} : {n.type}"


def scope_rows(roots, names: dict, indent: str) -> list[tuple[str, Node | None]]:
    """(text, node) per line of one scope, each body right after its holder."""
    rows: list[tuple[str, Node | None]] = []
    for n in toposort(roots):
        rows.append((indent + node_line(n, names), n))
        for body in bodies(n):
            rows += scope_rows(body.roots, names, indent + "    ")
            returned = ", ".join(f"%{names[id(r)]}" for r in body.roots)
            rows.append((f"{indent}    return {returned}", None))
    return rows


def format_function(fn: Function) -> str:
    """The IR of fn, one node a line, then what it returns and updates."""
    names = numbering(fn)
    rows = scope_rows(fn.roots, names, "")
    width = max((len(text) for text, _ in rows), default=0)
    lines = [f"  {text:<{width}}   # {line_of(n)}" if n is not None else f"  {text}"
             for text, n in rows]
    outs = ", ".join(f"%{names[id(o)]}" for o in fn.outputs)
    lines.append(f"  return {outs}")
    for name, value in fn.updates:
        lines.append(f"  {name} <- %{names[id(value)]}")
    return "\n".join(lines)


# ---- the rewrite log --------------------------------------------------------------
def expr(n: Node, depth: int = EXPR_DEPTH) -> str:
    """A node as a short expression: `log(softmax(add(…)))`."""
    if n.op in EXTERNAL:
        return n.attr("name")
    if n.op == "const" and n.type.rank == 0:
        return format_value(n)
    if n.op == "size":
        return str(n.attr("dim"))
    if n.op == "full":
        return f"full({format_value(n)}, {n.type})"
    if depth == 0:
        return "…"
    args = [expr(i, depth - 1) for i in n.inputs]
    args += [f"{k}={format_attr(v)}" for k, v in n.attrs if k != "items"]
    return f"{n.op}({', '.join(args)})"


def short(n: Node) -> str:
    text = expr(n, EXPR_DEPTH)
    return text if len(text) <= EXPR_WIDTH else expr(n, EXPR_DEPTH - 1)


def format_log(log) -> str:
    if not log:
        return "  (no rewrite fired)"
    rows = [(e.pass_name, e.rule, f"{short(e.before)}  →  {short(e.after)}"
             + (f"  ({e.note})" if e.note else ""), line_of(e)) for e in log]
    w_pass = max(len(r[0]) for r in rows)
    w_rule = max(len(r[1]) for r in rows)
    return "\n".join(f"  {p:<{w_pass}}  {r:<{w_rule}}  {what}   # {line}"
                     for p, r, what, line in rows)


def format_counts(log) -> str:
    counts = getattr(log, "counts", [])
    fired = {}
    for e in log:
        fired[e.pass_name] = fired.get(e.pass_name, 0) + 1
    return "\n".join(f"  {name:<10} {before:>4} → {after:<4} nodes   "
                     f"{fired.get(name, 0)} rewrite(s)" for name, before, after in counts)


# ---- kernels ----------------------------------------------------------------------
def format_kernels(fn: Function, executor) -> str:
    hook = getattr(executor, "kernels_for", None)
    if hook is None:
        backend = getattr(executor, "name", None) or type(executor).__name__
        return f"  (no kernels: backend {backend})"
    names = numbering(fn)
    by_value = {n: i for i, n in enumerate(toposort(fn.roots))}   # equal, not the same object
    parts = []
    for kernel_name, source, fused in hook(fn):
        what = ", ".join(fused_name(f, names, by_value) for f in fused)
        parts.append(f"  kernel {kernel_name}   computes {what or '(nothing listed)'}\n"
                     + "\n".join("    " + line for line in source.rstrip().splitlines()))
    return "\n\n".join(parts) if parts else "  (no kernels)"


def format_backend_passes(fn: Function, executor) -> str | None:
    """The backend's own passes (name, what it does, what it did here), or
    None for a backend without any."""
    hook = getattr(executor, "backend_passes_for", None)
    if hook is None:
        return None
    return "\n".join(f"  {name:<10} {did}\n  {'':<10} ({description})"
                     for name, description, did in hook(fn)) or "  (none)"


def fused_name(f, names, by_value) -> str:
    if isinstance(f, Node):
        i = names.get(id(f), by_value.get(f))
        return f"%{i}" if i is not None else f"{f.op} (not in this IR)"
    if isinstance(f, int):
        return f"%{f}"
    return str(f)


# ---- the whole explanation -----------------------------------------------------------
def explain_function(fn: Function, after=None, kernels=False, executor=None) -> str:
    new, log = run_pipeline(fn, stop_after=after)
    stopped = f" (pipeline stopped after `{after}`)" if after else ""
    sections = [
        f"{RULE}\n{fn.signature}\n{RULE}",
        f"IR before rewrites ({len(walk(fn.roots))} nodes):\n{format_function(fn)}",
        f"rewrites{stopped}:\n{format_log(log)}",
        f"nodes per pass:\n{format_counts(log)}",
        f"IR after rewrites ({len(walk(new.roots))} nodes):\n{format_function(new)}",
    ]
    if kernels:
        passes = format_backend_passes(new, executor)
        if passes is not None:
            sections.append(f"backend passes:\n{passes}")
        sections.append(f"kernels:\n{format_kernels(new, executor)}")
    return "\n\n".join(sections)


def explain_program(checked, name=None, after=None, kernels=False, executor=None) -> str:
    """The explanation of one def (`name`) or of every def, in source order."""
    if after is not None and after not in pass_names():
        raise errors.no_such_pass(after, ', '.join(pass_names()))
    names = [name] if name is not None else list(checked.defs)
    if not names:
        return "(this program has no defs)"
    return "\n\n".join(explain_function(checked.defs[n].function, after, kernels, executor)
                       for n in names)


# ---- data parallel (`--ranks K`) ------------------------------------------------------
def explain_ranks(checked, name, ranks: int) -> str:
    """Where each def's all-reduce goes on `ranks` ranks: what is split, the
    compute function, the one all-reduce, the apply function (after rewrites)."""
    names = [name] if name is not None else list(checked.defs)
    if not names:
        return "(this program has no defs)"
    return "\n\n".join(explain_plan(plan_def(checked.defs[n].function, checked.gradients), ranks)
                       for n in names)


def explain_plan(plan, ranks: int) -> str:
    head = f"{RULE}\n{plan.compute.signature}   on {ranks} ranks\n{RULE}"
    if plan.whole:
        return f"{head}\n\n{plan.why_whole}"
    sliced = ", ".join(f"`{p}`" for p in plan.sliced)
    split = (f"each rank takes rows [r*{plan.batch}/{ranks}, (r+1)*{plan.batch}/{ranks}) of "
             f"{sliced} ({plan.batch} must be a multiple of {ranks})")
    if plan.first_row:
        split += (f"\nrandom draws with {plan.batch} rows start at the rank's first row "
                  f"(`{plan.first_row}` = r*{plan.batch}/{ranks}): each rank draws the numbers "
                  "one process draws for its rows")
    compute, _ = run_pipeline(plan.compute)
    names = numbering(compute)
    n_out = len(compute.outputs) - len(plan.grads)
    returned = [f"  %{names[id(o)]}  the def's value: {how_combined(kind, ranks)}"
                for o, kind in zip(compute.outputs[:n_out], plan.outputs)]
    sections = [head, split,
                f"compute, on the rank's rows ({len(walk(compute.roots))} nodes):\n"
                f"{format_function(compute)}"]
    if plan.apply is None:
        sections.append("combining the returned values:\n" + "\n".join(returned))
        return "\n\n".join(sections)
    elements = plan.buffer_elements()
    dtype = buffer_dtype(plan)
    rows = [f"  %{names[id(o)]}  {g.label} : {g.type}  -> {g.param}"
            f"{f' (sum / {ranks})' if g.mean else ' (sum)'}"
            for o, g in zip(compute.outputs[n_out:], plan.grads)]
    sections.append(f"all-reduce: ONE MPI Allreduce (sum) per call, in place on one {dtype} "
                    f"buffer of {elements} elements ({elements * DTYPE_BYTES[dtype]} bytes), "
                    f"the gradients packed in this order:\n" + "\n".join(rows)
                    + ("\n" + "\n".join(returned) if returned else ""))
    apply_fn, _ = run_pipeline(plan.apply)
    sections.append(f"apply, the same on every rank ({len(walk(apply_fn.roots))} nodes):\n"
                    f"{format_function(apply_fn)}")
    return "\n\n".join(sections)


def how_combined(kind: str, ranks: int) -> str:
    return {"mean": f"a mean over the rows: the ranks' values summed / {ranks}",
            "sum": "a sum over the rows: the ranks' values summed",
            "mean_of_sum": "a mean over the rows, computed as a sum on each rank: the sums "
                           "summed, then divided by the whole minibatch's count",
            "rows": "a value per row: the ranks' rows gathered in order",
            "same": "the same on every rank: rank 0's"}[kind]


DTYPE_BYTES = {"f16": 2, "f32": 4, "f64": 8}


def buffer_dtype(plan) -> str:
    """The gradients' dtype when they share one, else f64."""
    dtypes = {g.type.dtype for g in plan.grads}
    return dtypes.pop() if len(dtypes) == 1 else "f64"
