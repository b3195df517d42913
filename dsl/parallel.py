"""Data parallel over K ranks: a def split into compute, all-reduce, apply.

Under `--ranks K` every rank takes its own equal slice of each minibatch.
A def that updates shared state is split in two functions:

    compute   the def's outputs and the gradients its updates use, on the
              local slice (no updates)
    (host)    one all-reduce of every such gradient, packed in one buffer:
              the sum over ranks, divided by K for the gradient of a mean
    apply     the updates, from the reduced gradients and the shared values

so every rank applies the same updates and the shared values stay equal
on all ranks. Which values may be split is decided by a small analysis of
the IR ("kinds", below); a def whose updates would differ between ranks
is refused with a located error (E1401-E1404).

The analysis gives each node a kind with respect to the batch (the
leading size variable of the def's first parameter; the parameters whose
leading dimension it is are the ones sliced):

    same    the same value on every rank (shared values, constants)
    rows    one row per minibatch row, each row computed from its own row
    rowidx  arange(n): the local row numbers (only as a row index)
    count   n itself: the local number of rows
    mean    a mean over the rows (or a linear function of means)
    sum     a sum over the rows
    other   anything else: mixes rows (a batch statistic) or is not linear

The mean of K equal slices' means is the minibatch's mean and the sum of
their sums its sum, so a `mean` or `sum` value (and its gradient) is
rebuilt exactly, up to float rounding, by an all-reduce.

Random draws: Philox numbers depend on (seed, calls, draw, element) only,
so a rank draws exactly the rows a single process would draw for its
slice: a draw whose first dimension is the batch gets the index of the
rank's first row (a parameter of the compute function) and starts its
element numbering there. The stream advances in the apply function, once
per call on every rank, so its state stays equal on all ranks.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from .diagnostics import Note
from . import errors
from .ir import Function, Node, node, rebuild, toposort, walk, with_inputs
from .ops import ARG_REDUCE, ELEMENTWISE, REDUCE, ROWS as ROW_OPS, Op
from .types import Size, TensorType

SAME, ROWS, ROWIDX, COUNT, MEAN, SUM, OTHER = "same", "rows", "rowidx", "count", "mean", "sum", "other"
LINEAR = (MEAN, SUM)


@dataclass(frozen=True)
class GradInfo:
    """What `grad(cost, wrt)` was, recorded when the checker built it
    (keyed by id(gradient): the record holds the gradient, so ids stay unique)."""
    gradient: Node
    cost: Node
    wrt: Node
    label: str          # `grad(cost, W)` as written
    span: object


@dataclass(frozen=True)
class Reduced:
    """One gradient in the all-reduce buffer."""
    label: str
    param: str          # its parameter in the apply function
    type: TensorType
    mean: bool          # divided by K after the sum (a gradient of a mean)


@dataclass(frozen=True)
class Plan:
    """How one def runs on K ranks."""
    name: str
    sliced: tuple[str, ...]         # parameters split by rows ("" when none)
    batch: str | None               # the size variable split K ways
    compute: Function               # outputs, then the gradients in `grads`
    apply: Function | None          # the updates, from the reduced gradients
    grads: tuple[Reduced, ...] = ()
    outputs: tuple[str, ...] = ()   # per output: same, rows, mean, sum or mean_of_sum
    whole: bool = False             # run whole on every rank (nothing split)
    why_whole: str = ""
    apply_args: tuple[str, ...] = field(default=())   # replicated params apply reads
    # per output: for a mean_of_sum, the (type, axes) of what the mean reduces
    reduced_means: tuple = ()
    first_row: str = ""     # compute's last parameter: the rank's first row, for its draws

    def buffer_elements(self) -> int:
        return sum(size_of(g.type) for g in self.grads)


def size_of(t: TensorType) -> int:
    count = 1
    for d in t.shape:
        count *= d
    return count


# ---- the analysis ------------------------------------------------------------------
def batch_of(fn: Function) -> tuple[str | None, tuple[str, ...]]:
    """The size variable split across ranks and the parameters it slices:
    the leading dimension of the first parameter that starts with a size
    variable, and every parameter that starts with the same one."""
    for p in fn.params:
        lead = leading_var(p.type)
        if lead is not None:
            sliced = tuple(q.attr("name") for q in fn.params if leading_var(q.type) == lead)
            return lead, sliced
    return None, ()


def leading_var(t: TensorType) -> str | None:
    """`n` when t's first dimension is the size variable n alone."""
    d = t.shape[0] if t.rank else None
    if isinstance(d, Size) and len(d.variables()) == 1:
        (v,) = d.variables()
        return v if d == Size.var(v) else None
    return None


def kinds(roots, batch: str | None, sliced) -> dict[int, str]:
    """id(node) -> its kind (keyed by identity: deep graphs hold equal,
    distinct nodes, and comparing them structurally would recurse deeply)."""
    out: dict[int, str] = {}
    for n in toposort(roots):
        out[id(n)] = kind_of(n, [out[id(i)] for i in n.inputs], batch, sliced)
    return out


def kind_of(n: Node, ins: list[str], batch, sliced) -> str:
    if n.op == Op.PARAM:
        return ROWS if n.attr("name") in sliced else SAME
    if n.op == Op.SIZE:
        return COUNT if batch is not None and n.attr("dim") == Size.var(batch) else SAME
    if all(k == SAME for k in ins):     # constant rows (zeros(n, 10)) are rows
        return ROWS if batch is not None and leading_var(n.type) == batch else SAME
    if OTHER in ins:
        return OTHER
    if n.op == Op.ARANGE:
        return ROWIDX if ins == [COUNT] else OTHER
    if n.op == Op.CAST:
        return ins[0] if ins[0] in (ROWS, COUNT) or n.type.is_float else OTHER
    if any(k in LINEAR or k == COUNT for k in ins) and n.op in (Op.ADD, Op.SUB, Op.NEG, Op.MUL, Op.DIV):
        return linear_kind(n.op, ins)
    if n.op in ELEMENTWISE:
        rows_ok = set(ins) <= {SAME, ROWS} and all(
            i.type.rank == n.type.rank for i, k in zip(n.inputs, ins) if k == ROWS)
        return ROWS if rows_ok else OTHER
    rule = SHAPE_RULES.get(n.op)
    return rule(n, ins, batch) if rule else OTHER


def linear_kind(op: Op, ins: list[str]) -> str:
    """add, sub, neg, mul, div where an operand is a mean or a sum."""
    if op == Op.DIV and ins == [SUM, COUNT]:
        return MEAN                         # sum(...) / n
    varying = set(ins) - {SAME}
    if len(varying) != 1 or COUNT in varying or ROWS in varying:
        return OTHER
    (k,) = varying
    if op in (Op.ADD, Op.SUB):              # a constant added K times to a sum is not one
        return k if k == MEAN or SAME not in ins else OTHER
    if op == Op.NEG:
        return k
    if op == Op.MUL:
        return k if ins.count(k) == 1 else OTHER
    return k if ins[0] == k and ins[1] == SAME else OTHER     # div by a constant


def reduced_axes(n: Node) -> tuple:
    axes = n.attr("axes", n.attr("axis"))
    if axes is None:
        return tuple(range(n.inputs[0].type.rank))
    return axes if isinstance(axes, tuple) else (axes,)


def rule_reduce(n, ins, batch):
    (k,) = ins
    if k == ROWS:
        if 0 not in reduced_axes(n):
            return ROWS
        return {Op.MEAN: MEAN, Op.SUM: SUM}.get(n.op, OTHER)
    return k if k in LINEAR and n.op in (Op.SUM, Op.MEAN) else OTHER


def rule_row_op(n, ins, batch):
    return ROWS if ins[0] == ROWS and 0 not in reduced_axes(n) else OTHER


def rule_matmul(n, ins, batch):
    a, b = ins
    if a == ROWS and b == SAME and n.inputs[0].type.rank == 2:
        return ROWS
    varying = {a, b} - {SAME}
    return varying.pop() if len(varying) == 1 and varying <= set(LINEAR) else OTHER


def rule_view(n, ins, batch):
    k = ins[0]
    if k in LINEAR:
        return k                            # a view of a mean is the mean of the views
    if k != ROWS:
        return OTHER
    if n.op == Op.TRANSPOSE:
        return ROWS if n.attr("perm")[0] == 0 else OTHER
    if n.op == Op.BROADCAST_TO:
        return ROWS if n.inputs[0].type.rank == n.type.rank else OTHER
    return ROWS if leading_var(n.type) == batch else OTHER      # reshape, sum_to


def rule_gather(n, ins, batch):
    data, *idx = ins
    if data == ROWS and idx and idx[0] == ROWIDX and set(idx[1:]) <= {SAME, ROWS}:
        return ROWS                         # x[arange(n), y]: row i picks from row i
    if data == SAME and set(idx) <= {SAME, ROWS}:
        return ROWS                         # W[y]: a lookup per row
    return OTHER


SHAPE_RULES = {
    **{op: rule_reduce for op in REDUCE},
    **{op: rule_row_op for op in ARG_REDUCE + ROW_OPS + (Op.LOGSUMEXP,)},
    Op.MATMUL: rule_matmul, Op.GATHER: rule_gather,
    Op.ONE_HOT: lambda n, ins, batch: ROWS if ins[0] == ROWS else OTHER,
    **{op: rule_view for op in (Op.TRANSPOSE, Op.BROADCAST_TO, Op.RESHAPE, Op.SUM_TO)},
}


def culprit(roots, ks: dict[Node, str]) -> Node | None:
    """The first node that mixes rows: `other`, made from inputs that are not."""
    for n in toposort(roots):
        if ks[id(n)] == OTHER and all(ks[id(i)] != OTHER for i in n.inputs):
            return n
    return None


# ---- the split ----------------------------------------------------------------------
def plan_def(fn: Function, gradients: dict[int, GradInfo]) -> Plan:
    """How `fn` (before rewrites) runs on K ranks; a SymError where its
    updates would differ between ranks."""
    batch, sliced = batch_of(fn)
    if batch is None:
        return Plan(fn.name, (), None, fn, None, whole=True,
                    why_whole="no parameter starts with a size variable: every rank runs it whole")
    out_kinds = kinds(fn.outputs, batch, sliced)
    outputs = tuple(combine_kind(out_kinds[id(o)]) for o in fn.outputs)
    if "other" in outputs and only_streams_advance(fn):
        bad = culprit(fn.outputs, out_kinds)
        return Plan(fn.name, (), batch, fn, None, whole=True,
                    why_whole="a returned value mixes the rows of the minibatch"
                    + (f" (line {bad.span.line})" if bad is not None and bad.span else "")
                    + ": every rank runs it on the whole minibatch")
    if not fn.updates:
        compute, outputs, means = sums_for_means(fn, outputs, out_kinds)
        return Plan(fn.name, sliced, batch, compute, None, outputs=outputs, reduced_means=means)
    refuse_unsplit_draws(fn, list(fn.outputs) + [v for _, v in fn.updates], batch)
    used = gradients_in_updates(fn, gradients)
    reduced, grad_nodes = [], []
    taken = {p.attr("name") for p in fn.params}
    for g, info in used:
        kind = gradient_kind(info, batch, sliced)
        if kind != SAME:
            param = fresh(f"grad_{info.wrt.attr('name') or 'value'}", taken)
            reduced.append(Reduced(info.label, param, g.type, kind == MEAN))
            grad_nodes.append(g)
    for i, o in enumerate(fn.outputs):
        if outputs[i] == "other":
            raise not_combinable(fn, o, out_kinds)
    apply_fn, apply_args = split_updates(fn, grad_nodes, reduced, batch, sliced)
    compute = replace(fn, outputs=fn.outputs + tuple(grad_nodes), updates=(), returns_tuple=False)
    compute, first_row = split_draws(compute, batch, taken)
    return Plan(fn.name, sliced, batch, compute, apply_fn, tuple(reduced), outputs,
                apply_args=apply_args, first_row=first_row)


def only_streams_advance(fn: Function) -> bool:
    """No update but the advance of a stream the def draws from (a def
    that draws has one): run whole, every rank draws the same numbers."""
    drawn = {n.inputs[0].attr("name") for n in walk(fn.roots) if n.op == Op.RANDOM}
    return all(name in drawn for name, _ in fn.updates)


def draws_by_rows(n: Node, batch: str) -> bool | None:
    """For a draw: True when its first dimension is the batch and no other
    dimension depends on it (split by rows), False when no dimension does
    (the same numbers on every rank), None when it cannot be split."""
    uses = [batch in (d.variables() if isinstance(d, Size) else ()) for d in n.type.shape]
    if not any(uses):
        return False
    return True if leading_var(n.type) == batch and not any(uses[1:]) else None


def refuse_unsplit_draws(fn: Function, roots, batch: str) -> None:
    """A draw on the rows that cannot start at the rank's first row: its
    rows are not its first dimension (rank r's part of the one-process draw
    is not one run of elements), or it is inside a loop's body."""
    top = {id(n) for n in toposort(list(roots))}
    for n in walk(list(roots)):
        if n.op != Op.RANDOM or draws_by_rows(n, batch) is False:
            continue
        in_loop = id(n) not in top
        if in_loop or draws_by_rows(n, batch) is None:
            stream = n.inputs[0].attr("name")
            if in_loop:
                raise errors.unsplit_draw("in_loop", n.span,
                                          [Note("a loop's body is a function of its own: its draws "
                                                "are not given the rank's first row")],
                                          name=fn.name, stream=stream, type=n.type, batch=batch)
            raise errors.unsplit_draw("rows_not_first", n.span,
                                      [Note("rank r draws the elements of the one-process draw from "
                                            "its first row's on: they are its rows only when the rows "
                                            "come first")],
                                      name=fn.name, stream=stream, type=n.type, batch=batch)


def split_draws(compute: Function, batch: str, taken: set) -> tuple[Function, str]:
    """Each draw by rows starts at the rank's first row, a new last
    parameter of `compute` ("" when nothing is drawn by rows)."""
    roots = list(compute.outputs)
    if not any(n.op == Op.RANDOM and draws_by_rows(n, batch) for n in toposort(roots)):
        return compute, ""
    name = fresh("first_row", taken)
    row = node("param", (), TensorType("i64", ()), compute.span, name=name)
    top = {id(n) for n in toposort(roots)}      # (no draw by rows is in a loop's body)

    def start_at_row(old, ins):
        if old.op == Op.RANDOM and id(old) in top and draws_by_rows(old, batch):
            return node(old.op, (*ins, row), old.type, old.span, **dict(old.attrs, from_row=True))
        return with_inputs(old, ins)
    outputs = tuple(rebuild(roots, start_at_row))
    return replace(compute, params=compute.params + (row,), outputs=outputs), name


def sums_for_means(fn: Function, outputs, ks):
    """A returned `mean(v)` over the rows (an error rate) is computed as
    `sum(v)` on each rank and divided by the whole count after the
    all-reduce: for 0/1 values the sums are exact, so the figure is the
    one-process figure to the bit (a mean of K means would be rounded
    twice)."""
    new_outputs, kinds_, means = [], [], []
    for o, kind in zip(fn.outputs, outputs):
        if kind == "mean" and o.op == Op.MEAN and ks[id(o.inputs[0])] == ROWS:
            o = node("sum", o.inputs, o.type, o.span, axes=o.attr("axes"), keepdims=o.attr("keepdims"))
            kind, mean = "mean_of_sum", (o.inputs[0].type, reduced_axes(o))
        else:
            mean = None
        new_outputs.append(o)
        kinds_.append(kind)
        means.append(mean)
    return replace(fn, outputs=tuple(new_outputs)), tuple(kinds_), tuple(means)


def combine_kind(k: str) -> str:
    return {SAME: "same", ROWS: "rows", MEAN: "mean", SUM: "sum"}.get(k, "other")


def gradients_in_updates(fn: Function, gradients: dict) -> list[tuple[Node, GradInfo]]:
    """The recorded gradients the updates read, in order, each once; the
    walk stops at a gradient (what is below it is its own computation)."""
    found, seen = [], set()
    stack = [v for _, v in reversed(fn.updates)]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        info = gradients.get(id(n))
        if info is not None:
            found.append((n, info))
        else:
            stack.extend(reversed(n.inputs))
    return found


def gradient_kind(info: GradInfo, batch, sliced) -> str:
    ks = kinds([info.cost, info.wrt], batch, sliced)
    if ks[id(info.wrt)] != SAME:
        raise errors.grad_wrt_rows(info.label, info.span,
                                   [Note("under --ranks each rank holds other rows: this gradient differs "
                                         "between ranks and cannot be averaged")])
    k = ks[id(info.cost)]
    if k in (SAME, MEAN, SUM):
        return k
    bad = culprit([info.cost], ks)
    notes = [Note("this mixes the rows of the minibatch (a batch statistic, or a function of "
                  "the rows that is not a mean or a sum)", bad.span)] if bad is not None and bad.span else []
    raise errors.cost_not_row_mean(info.label, info.span, notes)


def not_combinable(fn: Function, o: Node, ks):
    bad = culprit(fn.outputs, ks)
    where = bad if bad is not None and bad.span else o
    return errors.uncombinable_result(fn.name, where.span,
                                      [Note("under --ranks each rank computes this from its own rows")])


def split_updates(fn, grad_nodes, reduced, batch, sliced) -> tuple[Function, tuple[str, ...]]:
    """The apply function: the updates with each reduced gradient replaced
    by a parameter. An update that still reads the local slice is refused."""
    params, by_grad = [], {}
    for g, r in zip(grad_nodes, reduced):
        p = node("param", (), g.type, g.span, name=r.param)
        params.append(p)
        by_grad[id(g)] = p
    roots = rebuild([v for _, v in fn.updates],
                    lambda old, ins: by_grad.get(id(old)) or with_inputs(old, ins))
    updates = tuple((name, r) for (name, _), r in zip(fn.updates, roots))
    ks = kinds(roots, batch, sliced)
    for (name, old), r in zip(fn.updates, roots):
        if ks[id(r)] != SAME:
            reads = sorted({n.attr("name") for n in toposort([r]) if n.op == Op.PARAM
                            and n.attr("name") in sliced} | ({batch} if any(
                                ks[id(n)] == COUNT for n in toposort([r])) else set()))
            raise errors.update_depends_on_rows(name, ', '.join(f'`{x}`' for x in reads), old.span,
                                                [Note(f"under --ranks each rank holds other rows of `{sliced[0]}`, so "
                                                      "this update would differ between ranks")])
    extra = sorted({n.attr("name") for n in toposort(roots) if n.op == Op.PARAM
                    and all(n is not q for q in by_grad.values())})
    extra_params = [p for p in fn.params if p.attr("name") in extra]
    apply_fn = Function(f"{fn.name}.apply", tuple(params) + tuple(extra_params), (), updates,
                        False, f"def {fn.name}.apply(...)", fn.span)
    return apply_fn, tuple(extra)


def fresh(name: str, taken: set) -> str:
    out, i = name, 2
    while out in taken:
        out, i = f"{name}_{i}", i + 1
    taken.add(out)
    return out
