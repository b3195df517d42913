"""Checking a loop inside a def: `for` becomes one `loop` node whose body
is checked once.

    for x in xs:                 steps through axis 0 of xs
    for x, y in zip(xs, ys):     several arrays of the same length
    for t, x in enumerate(xs):   the step number too (an i64 scalar)
    for i in range(k):           k a size, an integer, or a run-time integer

Every value the body can see from outside becomes a param of the body (a
body is closed). A local set before the loop and set again in the body is
carried: the body must give it the type it had. `hs = []` before a loop
and `hs.append(v)` in its body collect each step's v; after the loop `hs`
is their stack, with the loop's length as its leading size.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from . import ast as A
from .build import apply
from .diagnostics import Note
from . import errors
from .ir import Body, Node, node, rebuild, toposort
from .scope import Weak
from .types import INTS, Size, TensorType, dim_str

STEP = "#step"       # the body's step number; not a name a user can write


@dataclass
class Collector:
    """`hs = []`: a stack a loop fills. `depth` is the number of loops around
    the assignment; only a loop directly inside that scope appends."""
    name: str
    span: object
    depth: int
    value: Node | None = None      # what the body appends
    append_span: object = None


@dataclass
class LoopFrame:
    """What the checker knows while checking one loop's body."""
    header: A.For
    counted: bool                  # a run-time count: stacks have a `#steps` leading size
    set_at: dict = field(default_factory=dict)     # name -> span of its last assignment
    collectors: list = field(default_factory=list)


@dataclass
class Header:
    targets: list                  # (name, type) of the loop variables in order
    step_target: str | None        # the target that is the step number, if any
    sequences: list                # nodes stepped through on axis 0
    length: object                 # a Dim (a `#steps` variable for a run-time count)
    count: Node | None


def assigned_names(stmts) -> set:
    """Every name a block assigns, nested loops included."""
    out = set()
    for s in stmts:
        if isinstance(s, A.Assign):
            out |= {t.id for t in s.targets}
        elif isinstance(s, A.For):
            out |= assigned_names(s.body)
    return out


def check_loop(ck, s: A.For) -> None:
    """Check `s` in the BodyChecker `ck` and bind what it leaves: the
    carried locals' final values and the collected stacks."""
    header = loop_header(ck, s)
    outer_locals, outer_shared = ck.locals, ck.shared_nodes
    for target, _ in header.targets:
        if target in outer_locals:
            raise errors.loop_variable_hides_local(target, s.span)
        ck.check_local_name(target, s.span, "loop variable")
    carried = [n for n in sorted(assigned_names(s.body)) if n in outer_locals
               and not isinstance(outer_locals[n], Collector)]
    for name in carried:      # a literal carried becomes a tensor of its own kind
        outer_locals[name] = ck.tensor(outer_locals[name], s.span)
    # every outside value the body can read becomes a param of the body
    lifted: dict[str, tuple[Node, Node]] = {}       # param name -> (param, outside value)

    def lift(name: str, value: Node) -> Node:
        if name not in lifted:
            lifted[name] = (node("param", (), value.type, value.span, name=name), value)
        return lifted[name][0]

    body_locals = {}
    for name, v in outer_locals.items():
        body_locals[name] = lift(name, v) if name in carried else lift_value(name, v, lift)
    step = node("param", (), TensorType("i64", ()), s.span, name=STEP)
    elements = [node("param", (), t, s.span, name=name) for name, t in header.targets
                if name != header.step_target]
    for (name, _), p in zip([t for t in header.targets if t[0] != header.step_target], elements):
        body_locals[name] = p
    if header.step_target:
        body_locals[header.step_target] = step
    frame = LoopFrame(s, header.count is not None)
    saved = ck.loop
    ck.locals = body_locals
    ck.shared_nodes = LiftedShared(ck, outer_shared, lift)
    ck.loop = frame
    ck.loop_depth += 1
    try:
        for stmt in s.body:
            ck.statement(stmt)
        final = dict(ck.locals)
    finally:
        ck.locals, ck.shared_nodes, ck.loop = outer_locals, outer_shared, saved
        ck.loop_depth -= 1
    inits = [outer_locals[n] for n in carried]
    news = [carry_value(ck, n, final[n], inits[i], frame) for i, n in enumerate(carried)]
    stacked = [c for c in frame.collectors]
    carry_params = [lifted[n][0] for n in carried]
    roots = tuple(news) + tuple(c.value for c in stacked)
    reached = {id(x) for x in toposort(roots)}
    positional = {id(p) for p in carry_params}
    invariants = [(p, v) for p, v in lifted.values()
                  if id(p) in reached and id(p) not in positional]
    body = Body((step, *carry_params, *elements, *(p for p, _ in invariants)), roots)
    inputs = ([header.count] if header.count is not None else []) + inits + header.sequences \
        + [v for _, v in invariants]
    loop = apply("loop", inputs, s.span, body=body, carries=len(carried),
                 sequences=len(header.sequences), length=header.length,
                 counted=header.count is not None, reverse=False, stacks=len(stacked))
    for i, name in enumerate(carried):
        outer_locals[name] = apply("item", (loop,), final[name].span or s.span, index=i)
    for j, c in enumerate(stacked):
        outer_locals[c.name] = apply("item", (loop,), c.append_span, index=len(carried) + j)
    for name in final:
        if name not in outer_locals:
            ck.loop_only[name] = frame.set_at.get(name, s.span)


def lift_value(name, v, lift):
    """An outside local as the body sees it: nodes become params."""
    if isinstance(v, Node):
        return v if v.op in ("const", "size") else lift(name, v)
    if isinstance(v, tuple):
        return tuple(lift_value(f"{name}#{i}", x, lift) for i, x in enumerate(v))
    return v


class LiftedShared(dict):
    """The body's view of the shared values: each one a param of the body,
    fed from the enclosing scope's node for it."""

    def __init__(self, ck, outer: dict, lift):
        super().__init__()
        self.ck, self.outer, self.lift = ck, outer, lift

    def __missing__(self, name):
        if name not in self.outer:
            self.outer[name] = apply("shared", (), None, type=self.ck.env.shareds[name], name=name)
        value = self.lift(name, self.outer[name])
        self[name] = value
        return value

    def __contains__(self, name):
        return name in self.ck.env.shareds


def carry_value(ck, name: str, value, init: Node, frame: LoopFrame) -> Node:
    """The value the body gives a carried local: a tensor of init's type."""
    span = frame.set_at.get(name, frame.header.span)
    if isinstance(value, Collector) or isinstance(value, tuple):
        raise errors.carried_type_changes("not_one_value", span, name=name,
                                          what='a collector' if isinstance(value, Collector) else 'several values',
                                          type=init.type)
    new = ck.tensor(value, span, init.type.dtype)
    if new.type != init.type:
        raise errors.carried_type_changes("type", span, carry_hint(name, init.type, new.type),
                                          [Note(f"`{name}` is {init.type} from here", init.span)] if init.span else [],
                                          name=name, type=init.type, new=new.type)
    return new


def carry_hint(name, before: TensorType, after: TensorType) -> str:
    if before.dtype != after.dtype:
        return f"cast the new value: `{name} = {before.dtype}(...)`, or start from a {after.dtype} value"
    if before.rank != after.rank:
        return (f"a carried value keeps its shape on every step; to keep every step's value, "
                f"collect it: `{name}s = []` before the loop, `{name}s.append(...)` in it")
    return "a carried value keeps its shape on every step; check the shapes of the body's result"


# ---- the header ------------------------------------------------------------------------
def loop_header(ck, s: A.For) -> Header:
    it = s.iter
    names = [t.id for t in s.targets]
    if isinstance(it, A.Call) and it.func.id == "range" and it.func.id not in ck.env.def_asts:
        return range_header(ck, s, it, names)
    if isinstance(it, A.Call) and it.func.id == "enumerate" and it.func.id not in ck.env.def_asts:
        if len(it.args) != 1 or it.kwargs:
            raise errors.loop_targets_mismatch("enumerate_loop_takes", it.span)
        if len(names) != 2:
            raise errors.loop_targets_mismatch("enumerate_names", s.span, names=len(names))
        seqs, length = sequences(ck, it.args)
        return Header([(names[0], TensorType("i64", ())), (names[1], element_type(seqs[0]))],
                      names[0], seqs, length, None)
    if isinstance(it, A.Call) and it.func.id == "zip" and it.func.id not in ck.env.def_asts:
        if it.kwargs or not it.args:
            raise errors.loop_targets_mismatch("zip_loop_takes", it.span)
        seqs, length = sequences(ck, it.args)
    else:
        seqs, length = sequences(ck, [it])
    if len(names) != len(seqs):
        raise errors.loop_targets_mismatch("zip_names", s.span,
                                           "one name per array: `for x, y in zip(xs, ys):`" if len(names) > 1 else
                                           "name one variable per array", arrays=len(seqs),
                                           s='s' * (len(seqs) != 1), names=len(names),
                                           s2='s' * (len(names) != 1))
    return Header([(n, element_type(x)) for n, x in zip(names, seqs)], None, seqs, length, None)


def element_type(xs: Node) -> TensorType:
    return TensorType(xs.type.dtype, xs.type.shape[1:])


def sequences(ck, exprs) -> tuple[list, object]:
    seqs = []
    for e in exprs:
        x = ck.tensor(ck.expr(e), e.span)
        if x.type.rank == 0:
            raise errors.bad_loop_sequence("loop_steps_through", e.span, type=x.type)
        seqs.append(x)
    length = seqs[0].type.shape[0]
    for e, x in zip(exprs[1:], seqs[1:]):
        if x.type.shape[0] != length:
            raise errors.bad_loop_sequence("lengths", e.span,
                                           notes=[Note(f"the first array is {seqs[0].type}", exprs[0].span)],
                                           first=dim_str(length), other=dim_str(x.type.shape[0]))
    return seqs, length


def range_header(ck, s: A.For, it: A.Call, names) -> Header:
    if len(it.args) != 1 or it.kwargs:
        raise errors.bad_loop_count("range_loop_takes", it.span)
    if len(names) != 1:
        raise errors.loop_targets_mismatch("range_names", s.span, names=len(names))
    arg = it.args[0]
    value = ck.expr(arg)
    if isinstance(value, Weak):
        n = value.value
        if isinstance(n, bool) or not isinstance(n, int):
            raise errors.bad_loop_count("count_loop_integer", arg.span, n=n)
        if n < 0:
            raise errors.bad_loop_count("loop_cannot_run", arg.span, n=n)
        length, count = n, None
    else:
        count = ck.tensor(value, arg.span)
        if count.type.rank != 0 or count.type.dtype not in INTS:
            raise errors.bad_loop_count("not_scalar", arg.span, type=count.type)
        length = static_length(count)
        if length is not None:
            count = None
        else:
            length = run_time_size()
            if count.type.dtype != "i64":
                count = apply("cast", (count,), arg.span, dtype="i64")
    return Header([(names[0], TensorType("i64", ()))], names[0], [], length, count)


_counted = itertools.count(1)


def run_time_size() -> Size:
    """The size of a loop whose count is known only when it runs: a
    variable no user can name, bound by the loop (one per loop). It is the
    leading size of what such a loop collects."""
    return Size.var(f"#steps{next(_counted)}")


def refuse_run_time_size(value: Node, what: str, span, inner_only: bool = False) -> None:
    """E1308 when `value` has a size bound by a loop with a run-time count:
    as a def's result (a signature cannot name it), or, inner_only, as a
    step's value to collect that a loop inside the body sized (each step
    could have another size). A loop found in value's graph is one inside
    the body: what comes from outside a body is its param."""
    names = {v for v in value.type.size_vars() if v.startswith("#steps")}
    loops = [n for n in toposort([value]) if n.op == "loop"
             and isinstance(n.attr("length"), Size) and n.attr("length").single_var() in names]
    if not names or inner_only and not loops:
        return
    raise errors.run_time_count_size(what, inner_only, span,
                                     [Note("the loop with that count", loops[0].span)] if loops else [])


def static_length(count: Node):
    """The Dim a count node stands for, when the sizes decide it."""
    if count.op == "size":
        return count.attr("dim")
    if count.op == "const" and count.type.rank == 0:
        return int(count.attr("value"))
    return None


# ---- statements that meet a loop ------------------------------------------------------
def collector(ck, s: A.Assign) -> bool:
    """`hs = []`: bind a collector; False when s is anything else."""
    if not (isinstance(s.value, A.ListExpr) and not s.value.elts and len(s.targets) == 1):
        return False
    name = s.targets[0].id
    ck.check_local_name(name, s.targets[0].span, "local value")
    ck.locals[name] = Collector(name, s.span, ck.loop_depth)
    return True


def append(ck, e: A.MethodCall) -> None:
    if e.method.id != "append":
        ck.expr(e)          # the error for any other method
    c = ck.expr_value_of_collector(e.value)
    if len(e.args) != 1 or isinstance(e.args[0], A.Keyword):
        raise errors.bad_method_call("append_count", e.span, count=len(e.args))
    if ck.loop is None or c.depth != ck.loop_depth - 1:
        raise errors.bad_method_call("append_outside_loop", e.span,
                                     notes=[Note(f"`{c.name}` is set here", c.span)], name=c.name)
    if c.value is not None:
        raise errors.bad_method_call("append_twice", e.span,
                                     notes=[Note("the first append", c.append_span)], name=c.name)
    c.value = ck.tensor(ck.expr(e.args[0]), e.args[0].span)
    refuse_run_time_size(c.value, f"the value `{c.name}` collects", e.args[0].span, inner_only=True)
    c.append_span = e.span
    ck.loop.collectors.append(c)


def collector_in_use(c: Collector, span):
    raise errors.collector_read_early(c.name, span, [Note(f"`{c.name}` is set here", c.span)])


# ---- ifelse: a lazy choice, as two loops of zero or one step ---------------------------
def lower_ifelse(ck, args, e):
    """`ifelse(cond, a, b)`: a where cond holds, else b, and only the chosen
    expression is computed: each side runs in a loop whose count is 1 when
    it is chosen and 0 otherwise. Values bound before the call are inputs
    of both sides (computed anyway); the expressions written in the call
    are computed only when chosen."""
    cond = ck.tensor(args["cond"].evaluate(ck), args["cond"].span)
    if cond.type != TensorType("bool", ()):
        raise errors.bad_ifelse("condition_ifelse_bool", args["cond"].span, type=cond.type)
    a, b = args["a"].evaluate(ck), args["b"].evaluate(ck)
    a_node = ck.tensor(a, args["a"].span, getattr(b, "type", None) and b.type.dtype)
    b_node = ck.tensor(b, args["b"].span, a_node.type.dtype)
    if a_node.type != b_node.type:
        raise errors.bad_ifelse("two_sides_ifelse", e.span, type=a_node.type, type2=b_node.type)
    known = {id(v) for v in ck.locals.values() if isinstance(v, Node)}
    return lazy_select(cond, a_node, b_node, known, e.span)


def lazy_select(cond: Node, a: Node, b: Node, known: set, span) -> Node:
    """where(cond, a, b) with a and b each computed only when chosen."""
    one = apply("cast", (cond,), span, dtype="i64")
    other = apply("sub", (apply("const", (), span, type=TensorType("i64", ()), value=1), one), span)
    taken = [run_once_if(count, value, known, span) for count, value in ((one, a), (other, b))]
    return apply("where", (cond, *taken), span)


def run_once_if(count: Node, value: Node, known: set, span) -> Node:
    """value computed by a loop of `count` steps (0 or 1), its carry
    starting at zeros: the value when count is 1."""
    lifted: dict = {}

    def visit(old: Node, inputs: tuple) -> Node:
        if id(old) in known or old.op in ("param", "shared"):
            if old not in lifted:
                lifted[old] = node("param", (), old.type, old.span, name=f"#in{len(lifted)}")
            return lifted[old]
        return old if inputs == old.inputs else Node(old.op, inputs, old.type, old.attrs, old.span)

    (root,) = rebuild([value], visit)
    step = node("param", (), TensorType("i64", ()), span, name=STEP)
    carry = node("param", (), value.type, span, name="#value")
    body = Body((step, carry, *lifted.values()), (root,))
    start = apply("full", (), span, type=value.type, value=0)
    loop = apply("loop", [count, start, *lifted], span, body=body, carries=1, sequences=0,
                 length=run_time_size(), counted=True, reverse=False, stacks=0)
    return apply("item", (loop,), span, index=0)
