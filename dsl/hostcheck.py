"""Checking top-level statements before anything runs.

Host values are dynamic like Python's, but much is known statically: the
record that `mnist()` returns, the minibatches `batches` yields, the types
defs return. What is known is checked (unknown names, fields, argument
counts, argument shapes against a def's signature); what is not is left to
the run-time checks at each call.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import ast as A
from .builtins import check_fill
from .checker import SIGS as DEF_SIGS, WeakTensor
from .diagnostics import Note
from .scope import CheckError, Sig, bind_call, did_you_mean, fail, literal_value, too_deep
from .types import DTYPES, TensorType, TupleType


@dataclass(frozen=True)
class HTensor:
    dtype: str
    shape: tuple            # ints, or None where unknown

    def __str__(self):
        return f"{self.dtype}[{', '.join('?' if d is None else str(d) for d in self.shape)}]"


@dataclass(frozen=True)
class HRecord:
    kind: str
    fields: tuple           # ((name, type), ...)


@dataclass(frozen=True)
class HAny:
    pass


ANY = HAny()
SPLIT_SIZES = {"train": 50000, "valid": 10000, "test": 10000}


def split_type(n):
    return HRecord("split", (("x", HTensor("f32", (n, 784))), ("y", HTensor("i32", (n,)))))


MNIST = HRecord("mnist", tuple((k, split_type(n)) for k, n in SPLIT_SIZES.items()))
HOST_SIGS = {
    "print": Sig((), variadic=True), "range": Sig(("a",), (("b", None), ("step", None))),
    "batches": Sig(("split", "size"), (("drop_last", False),)), "len": Sig(("x",)), "abs": Sig(("x",)),
    "record": Sig(("name", "value")), "save": Sig(("path",)), "load": Sig(("path",)),
    "mnist": Sig((), (("path", None),)), "format": Sig(("value", "spec")),
    "normal": Sig(("mean", "std"), (("seed", None),)),
    "uniform": Sig(("low", "high"), (("seed", None),)),
    "zeros": Sig((), (("shape", None), ("dtype", "f32"))),
    "ones": Sig((), (("shape", None), ("dtype", "f32"))),
    "full": Sig(("value",), (("shape", None), ("dtype", None))),
}
INIT_FUNCS = ("zeros", "ones", "full", "normal", "uniform")


def from_tensor_type(t: TensorType) -> HTensor:
    return HTensor(t.dtype, tuple(d if isinstance(d, int) else None for d in t.shape))


class HostChecker:
    def __init__(self, prog, def_asts, report):
        self.prog, self.def_asts, self.report = prog, def_asts, report
        self.names: dict[str, object] = {n: ANY for n in prog.options}
        self.loop_depth = 0

    def check(self, items):
        for item in items:
            try:
                self.item(item)
            except CheckError as e:
                self.report(e.diagnostic)
            except RecursionError:
                self.report(too_deep("this statement", item.span))

    def item(self, item):
        if isinstance(item, A.Def) or isinstance(item, A.OptionDecl):
            return
        if isinstance(item, A.SharedDecl):
            self.shared_init(item)
            return
        self.statement(item)

    def shared_init(self, item: A.SharedDecl):
        init = item.init
        if isinstance(init, A.Call) and init.func.id in INIT_FUNCS:
            args = bind_call(init, HOST_SIGS[init.func.id], init.func.id)
            for a in list(init.args) + [k.value for k in init.kwargs]:
                self.expr(a)
            init_kind(init, args, self.prog.shareds.get(item.name.id))
            return
        self.expr(init)
        t = self.prog.shareds.get(item.name.id)
        if t is not None and isinstance(init, A.ListExpr) \
                and all(literal_value(x) is not None for x in flat_elements(init)):
            WeakTensor(init).value(t.dtype)     # a literal takes the declared dtype

    def block(self, stmts):
        for s in stmts:
            try:
                self.statement(s)
            except CheckError as e:
                self.report(e.diagnostic)

    def statement(self, s):
        if isinstance(s, A.Assign):
            try:
                value = self.expr(s.value)
            except CheckError:      # the names exist from here on: no follow-on "unknown name"
                self.names.update((t.id, ANY) for t in s.targets)
                raise
            if len(s.targets) > 1:
                elts = value if isinstance(value, tuple) and len(value) == len(s.targets) else None
                if isinstance(value, tuple) and elts is None:
                    fail("E0110", f"cannot unpack {len(value)} values into {len(s.targets)} names", s.span)
                for i, t in enumerate(s.targets):
                    self.names[t.id] = elts[i] if elts else ANY
            else:
                self.names[s.targets[0].id] = value
        elif isinstance(s, A.Update):
            fail("E0503", f"`{s.target.id} <- ...` outside a def: updates happen when a def returns",
                 s.span, "put the update in a def and call that def here; "
                 "to replace the value now, load a checkpoint or set it from Python")
        elif isinstance(s, A.ExprStmt):
            self.expr(s.expr)
        elif isinstance(s, A.For):
            self.for_loop(s)
        elif isinstance(s, A.If):
            self.expr(s.cond)
            self.block(s.body)
            self.block(s.orelse)
        elif isinstance(s, (A.Break, A.Continue)):
            if self.loop_depth == 0:
                word = "break" if isinstance(s, A.Break) else "continue"
                fail("E0107", f"`{word}` outside a loop", s.span)
        elif isinstance(s, A.Return):
            fail("E0114", "`return` outside a def", s.span)

    def for_loop(self, s: A.For):
        it = self.expr(s.iter)
        elts = it if isinstance(it, tuple) else None
        if elts is not None and len(elts) != len(s.targets):
            fail("E0110", f"each item has {len(elts)} values but the loop names {len(s.targets)}", s.span)
        for i, t in enumerate(s.targets):
            self.names[t.id] = elts[i] if elts is not None else ANY
        self.loop_depth += 1
        self.block(s.body)
        self.loop_depth -= 1

    # ---- expressions --------------------------------------------------------
    def expr(self, e):
        if isinstance(e, (A.Num, A.Bool, A.Str)):
            return ANY
        if isinstance(e, A.Name):
            return self.name(e)
        if isinstance(e, A.BinOp):
            self.expr(e.left), self.expr(e.right)
            return ANY
        if isinstance(e, A.UnaryOp):
            self.expr(e.operand)
            return ANY
        if isinstance(e, (A.TupleExpr, A.ListExpr)):
            for x in e.elts:
                self.expr(x)
            return ANY
        if isinstance(e, A.Attribute):
            return self.attribute(e)
        if isinstance(e, A.Index):
            self.expr(e.value)
            for i in e.indices:
                if not isinstance(i, A.Slice):
                    self.expr(i)
            return ANY
        if isinstance(e, A.Call):
            return self.call(e)
        return ANY

    def name(self, e: A.Name):
        if e.id in self.names:
            return self.names[e.id]
        if e.id in self.prog.shareds:
            return from_tensor_type(self.prog.shareds[e.id])
        if e.id in self.def_asts:
            fail("E0106", f"`{e.id}` is a def; call it", e.span, f"write `{e.id}(...)`")
        visible = list(self.names) + list(self.prog.shareds)
        fail("E0101", f"unknown name `{e.id}`", e.span,
             did_you_mean(e.id, visible) or "assign it before this line")

    def attribute(self, e: A.Attribute):
        base = self.expr(e.value)
        if isinstance(base, HRecord):
            fields = dict(base.fields)
            if e.attr not in fields:
                fail("E0111", f"{base.kind} has no field `{e.attr}`", e.span,
                     did_you_mean(e.attr, fields) or f"its fields are: {', '.join(fields)}")
            return fields[e.attr]
        return ANY

    def call(self, e: A.Call):
        name = e.func.id
        if name in self.def_asts:
            return self.call_def(name, e)
        if name in HOST_SIGS:
            args = bind_call(e, HOST_SIGS[name], name)
        elif name in DEF_SIGS:
            args = bind_call(e, DEF_SIGS[name], name)
        else:
            fail("E0102", f"unknown function `{name}`", e.func.span,
                 did_you_mean(name, list(HOST_SIGS) + list(DEF_SIGS) + list(self.def_asts)))
        dtype = args.get("dtype") if isinstance(args, dict) else None
        values = [ANY if a is dtype and isinstance(a, A.Name) and a.id in DTYPES else self.expr(a)
                  for a in list(e.args) + [k.value for k in e.kwargs]]
        if name == "mnist":
            return MNIST
        if name == "batches":
            split = values[0]
            if isinstance(split, HRecord) and split.kind == "split":
                return (HTensor("f32", (None, 784)), HTensor("i32", (None,)))
            return ANY
        return ANY

    def call_def(self, name, e: A.Call):
        d = self.def_asts[name]
        info = self.prog.defs.get(name)
        if e.kwargs:
            fail("E0104", f"defs take positional arguments only (`{name}`)", e.kwargs[0].span)
        if len(e.args) != len(d.params):
            sig = info.signature if info else name
            fail("E0103", f"`{name}` takes {plural(len(d.params), 'argument')}, got {len(e.args)}",
                 e.span, f"signature: {sig}")
        values = [self.expr(a) for a in e.args]
        if info is None:
            return ANY
        self.check_args(info, values, e)
        ret = info.ret
        if isinstance(ret, TupleType):
            return tuple(from_tensor_type(t) for t in ret.elts)
        return from_tensor_type(ret)

    def check_args(self, info, values, e):
        bound: dict[str, tuple] = {}     # size variable -> (size, parameter, span)
        for (pname, ptype), value, arg in zip(info.params, values, e.args):
            if not isinstance(value, HTensor):
                continue
            problem = mismatch(ptype, value, bound, pname, arg.span)
            if problem is None:
                continue
            if isinstance(problem, tuple):      # a size variable bound twice
                var, (size, first, first_span), g = problem
                fail("E0602", f"size `{var}` of `{info.name}` is {size} from argument `{first}`, "
                     f"but argument `{pname}` gives {g}", arg.span,
                     f"every `{var}` in the signature of `{info.name}` must be the same size; "
                     f"`{pname}` is {value}",
                     [Note(f"`{var}` = {size} comes from argument `{first}` here", first_span)])
            fail("E0602", f"argument `{pname}` of `{info.name}` must be {ptype}, got {value}",
                 arg.span, problem)


def init_kind(init: A.Call, args: dict, t: TensorType | None):
    """A shared initialiser gives numbers of the declared kind: a float never
    becomes an integer (`full(0.5)` for i32, `normal` for i32)."""
    if t is None:
        return
    name = init.func.id
    if name in ("normal", "uniform") and not t.is_float:
        fail("E0206", f"`{name}` draws floats, but the shared value is {t}", init.span,
             "declare it as a float tensor (f32), or fill it: `full(...)`")
    value = literal_value(args["value"]) if name == "full" else None
    if value is not None:
        check_fill(value, t.dtype, args["value"].span)


def flat_elements(e: A.ListExpr):
    for x in e.elts:
        yield from flat_elements(x) if isinstance(x, A.ListExpr) else (x,)


def plural(k: int, word: str) -> str:
    return f"{k} {word}{'s' * (k != 1)}"


def mismatch(want: TensorType, got: HTensor, bound: dict, pname=None, span=None):
    """None, a hint saying what is wrong, or (var, first binding, size) when
    a size variable would be bound to two different sizes."""
    if len(want.shape) != len(got.shape):
        if want.dtype != got.dtype:
            return (f"it needs {plural(want.rank, 'dimension')} of {want.dtype}, not "
                    f"{len(got.shape)} of {got.dtype}: is this the right value?")
        return f"it needs {plural(want.rank, 'dimension')}, not {len(got.shape)}"
    if want.dtype != got.dtype:
        return f"cast it: `{want.dtype}(...)`"
    for i, (w, g) in enumerate(zip(want.shape, got.shape)):
        if g is None:
            continue
        if isinstance(w, int):
            if w != g:
                return f"axis {i} is {g}, but the signature says {w}"
            continue
        var = w.single_var()
        if var is not None:
            if var in bound and bound[var][0] != g:
                return var, bound[var], g
            bound.setdefault(var, (g, pname, span))
    return None
