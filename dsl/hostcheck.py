"""Checking top-level statements before anything runs.

Host values are dynamic like Python's, but much is known statically: number
and string literals, options, `zeros((600, 784))`, the record `mnist()`
returns, the minibatches `batches` yields, the types defs return. Each
host variable has a type (dsl/hosttypes.py) on every path that reaches a
statement; where two paths meet (after an `if`, around a loop) the types
are joined, so what is reported holds on every path. What is known is
checked: names, fields, argument counts, operators on numbers, strings and
tensors, the arguments of host builtins and of defs (shapes and dtypes
against the signature, one size variable bound to two sizes). What is not
known is left to the run-time checks at each call.
"""
from __future__ import annotations

import math
import operator
import warnings

import numpy as np

from . import ast as A
from .checker import SIGS as DEF_SIGS
from .diagnostics import Diagnostic, Note
from .hostargs import check_builtin, check_tensor_args
from .hosttypes import (ANY, MNIST, NONE, HAny, HIter, HNone, HNum, HRecord, HStr, HTensor,
                        describe, from_dtype, join_names, sample, split_type, type_of)
from .scope import CheckError, Default, Sig, bind_call, did_you_mean, fail, too_deep
from .types import DTYPES, TensorType, TupleType

HOST_SIGS = {
    "print": Sig((), (("sep", " "),), variadic=True), "range": Sig(("a",), (("b", None), ("step", None))),
    "batches": Sig(("split", "size"), (("drop_last", False),)), "len": Sig(("x",)), "abs": Sig(("x",)),
    "record": Sig(("name", "value")), "save": Sig(("path",)), "load": Sig(("path",)),
    "mnist": Sig((), (("path", None),)), "format": Sig(("value", "spec")),
    "normal": Sig(("mean", "std"), (("seed", None),)),
    "uniform": Sig(("low", "high"), (("seed", None),)),
}
TWO_NUMBERS = Sig(("a", "b"))           # max(a, b) and min(a, b) on the host
# shared W: T = zeros() etc.: the declaration gives the shape
INIT_SIGS = {
    "zeros": Sig((), (("shape", None), ("dtype", "f32"))),
    "ones": Sig((), (("shape", None), ("dtype", "f32"))),
    "full": Sig(("value",), (("shape", None), ("dtype", None))),
    "normal": HOST_SIGS["normal"], "uniform": HOST_SIGS["uniform"],
}
INIT_ONLY = ("normal", "uniform")
# every function name a program can call without defining it
BUILTIN_NAMES = frozenset(HOST_SIGS) | frozenset(DEF_SIGS) | {"max", "min"}
PY_BINOPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
             "//": operator.floordiv, "%": operator.mod, "**": operator.pow, "@": operator.matmul,
             "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
             ">": operator.gt, ">=": operator.ge}
HOST_DEF = A.Def(A.Name("<host>"), (), A.TensorTypeExpr("f32", ()), ())
POW_DIGITS_LIMIT = 4300        # Python's own limit for printing an integer
# A loop nested deeper than this inside loops that are being re-checked is
# not iterated to a fixed point: the names it assigns are simply unknown.
FIXPOINT_DEPTH = 2


def from_tensor_type(t: TensorType, sizes: dict | None = None):
    """A def's declared type with the sizes bound at a call filled in."""
    def dim(d):
        if isinstance(d, int):
            return d
        if sizes is not None and d.variables() <= set(sizes):
            return d.evaluate(sizes)
        return None
    return from_dtype(t.dtype, tuple(dim(d) for d in t.shape))


def plural(k: int, word: str) -> str:
    return f"{k} {word}{'s' * (k != 1)}"


def int_power_digits(base: int, exponent: int) -> int:
    """How many decimal digits base ** exponent has, about (0 when small);
    exact integers, as the exponent may be too large for a float."""
    if exponent <= 0 or abs(base) <= 1:
        return 0
    if exponent < 2 ** 53:
        return int(exponent * math.log10(abs(base))) + 1
    return exponent * (abs(base).bit_length() - 1) * 3 // 10


def power_too_large(a, b, span):
    digits = int_power_digits(a, b) if isinstance(a, int) and isinstance(b, int) else 0
    if digits > POW_DIGITS_LIMIT:
        shown = f"about {digits:,}" if digits < 10 ** 15 else "more than 10**15"
        fail("E0606", f"this `**` makes an integer of {shown} digits", span,
             f"host integers are limited to {POW_DIGITS_LIMIT:,} digits (what Python prints); "
             "use smaller numbers, or floats")


class HostChecker:
    def __init__(self, prog, def_asts, report):
        self.prog, self.def_asts, self._report = prog, def_asts, report
        self.names: dict[str, object] = {n: type_of(o.value) for n, o in prog.options.items()}
        self.loop_depth = 0
        self.quiet = 0                  # > 0 while a loop body is checked for its types only
        self.loop_states: list = []     # per enclosing loop: states at `break` and `continue`
        self.assigned: dict[str, object] = {}   # host variable -> span of its first assignment
        self.warned: set[str] = set()           # host variables named like a builtin, reported

    def report(self, d: Diagnostic):
        if not self.quiet:
            self._report(d)

    def check(self, items):
        for item in items:
            try:
                self.item(item)
            except CheckError as e:
                self.report(e.diagnostic)
            except RecursionError:
                self.report(too_deep("this statement", item.span))
        used = names_read(items)
        for name, span in self.assigned.items():
            if name not in used and not name.startswith("_"):
                self.report(Diagnostic(
                    "W0103", f"`{name}` is assigned but never used", span, (),
                    "remove the assignment, or start the name with `_` if it is unused on purpose",
                    "warning"))

    def item(self, item):
        if isinstance(item, A.Def) or isinstance(item, A.OptionDecl):
            return
        if isinstance(item, A.SharedDecl):
            self.shared_init(item)
            return
        self.statement(item)

    # ---- shared values --------------------------------------------------------
    def shared_init(self, item: A.SharedDecl):
        init, name = item.init, item.name.id
        want = self.prog.shareds.get(name)
        if is_initializer(init, self.def_asts):
            self.initializer(init, name, want)
            return
        got = self.expr(init)
        if want is not None:
            check_shared_type(name, want, got, init.span)

    def initializer(self, init: A.Call, name, want):
        fname = init.func.id
        bound = bind_call(init, INIT_SIGS[fname], fname)
        args = {p: (type_of(a.value), None) if isinstance(a, Default) else (self.expr(a), a.span)
                for p, a in bound.items() if p != "dtype"}
        check_initializer(init, name, want, args, bound.get("dtype", Default(None)))

    # ---- statements -------------------------------------------------------------
    def block(self, stmts):
        for s in stmts:
            try:
                self.statement(s)
            except CheckError as e:
                self.report(e.diagnostic)

    def statement(self, s):
        if isinstance(s, A.Assign):
            self.assign(s)
        elif isinstance(s, A.Update):
            fail("E0503", f"`{s.target.id} <- ...` outside a def: updates happen when a def returns",
                 s.span, "put the update in a def and call that def here; "
                 "to replace the value now, load a checkpoint or set it from Python")
        elif isinstance(s, A.ExprStmt):
            self.expr(s.expr)
        elif isinstance(s, A.For):
            self.for_loop(s)
        elif isinstance(s, A.If):
            self.if_stmt(s)
        elif isinstance(s, (A.Break, A.Continue)):
            if self.loop_depth == 0:
                word = "break" if isinstance(s, A.Break) else "continue"
                fail("E0107", f"`{word}` outside a loop", s.span)
            self.loop_states[-1][isinstance(s, A.Continue)].append(dict(self.names))
        elif isinstance(s, A.Return):
            fail("E0114", "`return` outside a def", s.span)

    def assign(self, s: A.Assign):
        for t in s.targets:
            self.check_target(t)
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
            target = s.targets[0]
            self.names[target.id] = value
            self.assigned.setdefault(target.id, target.span)

    def check_target(self, t: A.Name):
        """A host variable may not take the name of a declaration."""
        name = t.id
        if name in self.prog.shareds:
            fail("E0117", f"cannot assign shared `{name}` on the host", t.span,
                 f"a shared value changes through an update in a def (`{name} <- ...`), "
                 f"`load(\"file.npz\")`, or from Python (`m.{name} = value`); "
                 "for a host value, choose another name",
                 [Note(f"`{name}` is declared here", self.prog.shared_decls[name].name.span)])
        if name in self.prog.options:
            fail("E0117", f"cannot assign option `{name}` on the host: an option is a constant of the run",
                 t.span, f"set it for a run with `--set {name}=VALUE` (or `options={{...}}` in "
                 "`dsl.load`); for a host value, choose another name",
                 [Note(f"`{name}` is declared here", self.prog.options[name].span)])
        if name in self.def_asts:
            fail("E0117", f"cannot assign `{name}` on the host: it is a def", t.span,
                 "choose another name for the host value",
                 [Note(f"`{name}` is defined here", self.def_asts[name].name.span)])
        if name in BUILTIN_NAMES and name not in self.warned and not self.quiet:
            self.warned.add(name)
            self.report(value_shadows_builtin(f"host variable `{name}`", name, t.span))

    def if_stmt(self, s: A.If):
        try:
            self.truth(self.expr(s.cond), s.cond.span)
        except CheckError as e:     # the branches are still checked
            self.report(e.diagnostic)
        before = dict(self.names)
        self.block(s.body)
        after_body = self.names
        self.names = dict(before)
        self.block(s.orelse)
        self.names = join_names(after_body, self.names)

    def for_loop(self, s: A.For):
        try:
            item = self.loop_item(self.expr(s.iter), s)
        except CheckError as e:     # the body is still checked
            self.report(e.diagnostic)
            item = ANY
        entry = dict(self.names)
        head = entry
        if self.quiet >= FIXPOINT_DEPTH:
            head = {**entry, **{n: ANY for n in assigned_names(s.body, s.targets)}}
        else:
            self.quiet += 1
            for _ in range(8):      # types only widen, so this settles in a few rounds
                end, continues, _breaks = self.loop_pass(s, head, item)
                widened = head
                for state in [end] + continues:
                    widened = join_names(widened, state)
                if widened == head:
                    break
                head = widened
            else:
                head = {**head, **{n: ANY for n in assigned_names(s.body, s.targets)}}
            self.quiet -= 1
        end, continues, breaks = self.loop_pass(s, head, item)
        after = head
        for state in breaks:
            after = join_names(after, state)
        self.names = after

    def loop_pass(self, s: A.For, head: dict, item):
        self.names = dict(head)
        self.loop_states.append(([], []))
        self.loop_depth += 1
        try:
            for t in s.targets:
                self.check_target(t)
            self.bind_loop_targets(s, item)
            self.block(s.body)
        except CheckError as e:
            self.report(e.diagnostic)
        finally:
            self.loop_depth -= 1
            breaks, continues = self.loop_states.pop()
        return self.names, continues, breaks

    def loop_item(self, it, s: A.For):
        if isinstance(it, HIter):
            return it.item
        if isinstance(it, HTensor):
            return from_dtype(it.dtype, it.shape[1:])
        if isinstance(it, tuple):
            return ANY
        if isinstance(it, (HNum, HNone, HRecord)):
            fail("E0606", f"cannot loop over {describe(it)}", s.iter.span,
                 "loop over `range(n)`, `batches(split, size)`, a tensor's rows or a tuple")
        return ANY

    def bind_loop_targets(self, s: A.For, item):
        elts = item if isinstance(item, tuple) else None
        if elts is not None and len(elts) != len(s.targets):
            fail("E0110", f"each item has {len(elts)} values but the loop names {len(s.targets)}", s.span)
        if elts is None and len(s.targets) > 1 and isinstance(item, (HNum, HStr, HNone)):
            fail("E0110", f"each item is {describe(item)}, but the loop names {len(s.targets)}", s.span)
        for i, t in enumerate(s.targets):
            self.names[t.id] = elts[i] if elts is not None else (item if len(s.targets) == 1 else ANY)

    def truth(self, t, span):
        if isinstance(t, HTensor) and t.known and int(np.prod(t.shape)) != 1:
            fail("E0606", f"the truth of a tensor of shape {tuple(t.shape)} is ambiguous", span,
                 "reduce it first: `any` is `max(...)`, or compare a scalar")

    # ---- expressions --------------------------------------------------------
    def expr(self, e):
        if isinstance(e, A.Num):
            return HNum("float" if isinstance(e.value, float) else "int", e.value)
        if isinstance(e, A.Bool):
            return HNum("bool", e.value)
        if isinstance(e, A.Str):
            return HStr(e.value)
        if isinstance(e, A.Name):
            return self.name(e)
        if isinstance(e, A.BinOp):
            return self.binop(e)
        if isinstance(e, A.UnaryOp):
            return self.unary(e)
        if isinstance(e, A.TupleExpr):
            return tuple(self.expr(x) for x in e.elts)
        if isinstance(e, A.ListExpr):
            return list_type([self.expr(x) for x in e.elts])
        if isinstance(e, A.Attribute):
            return self.attribute(e)
        if isinstance(e, A.Index):
            return self.index(e)
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

    def unary(self, e: A.UnaryOp):
        t = self.expr(e.operand)
        if e.op == "not":
            self.truth(t, e.operand.span)
            return HNum("bool")
        if isinstance(t, HNum):
            value = -t.value if t.value is not None else None
            return HNum("int" if t.kind == "bool" else t.kind, value)
        if isinstance(t, HTensor):
            return t
        if isinstance(t, (HStr, HNone)):
            fail("E0606", f"cannot compute `-` of {describe(t)}", e.span,
                 f"bad operand type for unary -: '{python_name(t)}'")
        return ANY

    def binop(self, e: A.BinOp):
        a, b = self.expr(e.left), self.expr(e.right)
        if e.op in ("and", "or"):
            self.truth(a, e.left.span)
            self.truth(b, e.right.span)
            return HNum("bool")
        return host_binop(e.op, a, b, e.span)

    def attribute(self, e: A.Attribute):
        base = self.expr(e.value)
        if isinstance(base, HRecord):
            fields = dict(base.fields)
            if not fields:
                return ANY
            if e.attr not in fields:
                fail("E0111", f"{base.kind} has no field `{e.attr}`", e.span,
                     did_you_mean(e.attr, fields) or f"its fields are: {', '.join(fields)}")
            return fields[e.attr]
        if isinstance(base, HTensor):
            if e.attr == "T":
                return HTensor(base.dtype, tuple(reversed(base.shape)))
            if e.attr == "shape":
                return tuple(HNum("int", d) for d in base.shape)
            fail("E0111", f"{describe(base)} has no attribute `{e.attr}`", e.span,
                 "tensor attributes are `.T` and `.shape`")
        if isinstance(base, (HNum, HStr, HNone, HIter, tuple)):
            fail("E0111", f"{describe(base)} has no attribute `{e.attr}`", e.span)
        return ANY

    def index(self, e: A.Index):
        base = self.expr(e.value)
        keys = [i if isinstance(i, A.Slice) else self.expr(i) for i in e.indices]
        for i in e.indices:
            if isinstance(i, A.Slice):
                for part in (i.start, i.stop, i.step):
                    if part is not None:
                        self.expr(part)
        if isinstance(base, tuple) and len(keys) == 1 and isinstance(keys[0], HNum) \
                and keys[0].kind == "int" and keys[0].value is not None:
            k = keys[0].value
            if not -len(base) <= k < len(base):
                fail("E0603", "bad index: tuple index out of range", e.span)
            return base[k]
        if isinstance(base, HTensor):
            return tensor_index(base, keys, e.span)
        return ANY

    # ---- calls -------------------------------------------------------------------
    def call(self, e: A.Call):
        name = e.func.id
        if name in self.def_asts:
            return self.call_def(name, e)
        if name in ("max", "min") and len(e.args) != 1:
            return self.host_builtin(name, e, TWO_NUMBERS)
        if name in INIT_ONLY:
            fail("E0616", f"`{name}` draws the initial value of a shared value; it is not a host function",
                 e.func.span, f"declare the value: `shared W: f32[784, 10] = {name}(0.0, 0.01, seed=1)`")
        if name in HOST_SIGS:
            return self.host_builtin(name, e, HOST_SIGS[name])
        if name in DEF_SIGS:
            return self.expression_builtin(name, e)
        fail("E0102", f"unknown function `{name}`", e.func.span,
             did_you_mean(name, list(BUILTIN_NAMES) + list(self.def_asts)))

    def arg_types(self, bound: dict, span) -> dict:
        """param -> (type, span) of a bound call; defaults typed by their value."""
        out = {}
        for param, a in bound.items():
            if isinstance(a, Default):
                out[param] = (NONE if a.value is None else type_of(a.value), None)
            elif param == "args":
                out[param] = (tuple(self.expr(x) for x in a), span)
            else:
                out[param] = (self.expr(a), a.span)
        return out

    def host_builtin(self, name, e: A.Call, sig: Sig):
        bound = bind_call(e, sig, name)
        args = self.arg_types(bound, e.span)
        check_builtin(name, args, e.span)
        t = {k: v[0] for k, v in args.items()}
        if name == "mnist":
            return MNIST if isinstance(t["path"], HNone) else \
                HRecord("mnist", tuple((k, split_type(None)) for k in ("train", "valid", "test")))
        if name == "batches":
            return batches_type(t["split"], t["size"], t["drop_last"])
        if name == "range":
            return HIter(HNum("int"))
        if name == "len":
            return HNum("int", length(t["x"]))
        if name == "format":
            return HStr()
        if name in ("max", "min"):
            kinds = {t["a"].kind if isinstance(t["a"], HNum) else None,
                     t["b"].kind if isinstance(t["b"], HNum) else None}
            return HNum(kinds.pop()) if len(kinds) == 1 and None not in kinds else ANY
        if name == "abs":
            return HNum(t["x"].kind) if isinstance(t["x"], HNum) else t["x"]
        return NONE

    def expression_builtin(self, name, e: A.Call):
        """`sum(a)`, `zeros((600, 784))` on the host: when every argument is
        known, check it as the interpreter will run it (dsl/checker.py on
        the values' types) and give the result's type."""
        bound = bind_call(e, DEF_SIGS[name], name)
        given = {p: a for p, a in bound.items() if not isinstance(a, Default)}
        types = {id(a): ANY if is_dtype_name(a) else self.expr(a) for a in given.values()}
        check_tensor_args(name, {p: (types[id(a)], a.span) for p, a in given.items()}, e.span)
        return static_builtin(e, types)

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
        sizes = self.check_args(info, values, e)
        ret = info.ret
        if isinstance(ret, TupleType):
            return tuple(from_tensor_type(t, sizes) for t in ret.elts)
        return from_tensor_type(ret, sizes)

    def check_args(self, info, values, e) -> dict:
        """Check host values against a def's parameters; the sizes they bind."""
        bound: dict[str, tuple] = {}     # size variable -> (size, parameter, span)
        for (pname, ptype), value, arg in zip(info.params, values, e.args):
            problem = mismatch(ptype, value, bound, pname, arg.span)
            if problem is None:
                continue
            if isinstance(problem, tuple):      # a size variable bound twice
                var, (size, first, first_span), g, extra = problem
                fail("E0602", f"size `{var}` of `{info.name}` is {size} from argument `{first}`, "
                     f"but argument `{pname}` gives {g}", arg.span,
                     f"every `{var}` in the signature of `{info.name}` must be the same size; "
                     f"`{pname}` is {value}" + (f"; its dtype is wrong too: {extra}" if extra else ""),
                     [Note(f"`{var}` = {size} comes from argument `{first}` here", first_span)])
            got = str(value) if isinstance(value, HTensor) else f"the {value.kind} {value.value}" \
                if isinstance(value, HNum) and value.value is not None else describe(value)
            fail("E0602", f"argument `{pname}` of `{info.name}` must be {ptype}, got {got}",
                 arg.span, problem, [Note(f"signature: {info.signature}")])
        return {var: size for var, (size, _, _) in bound.items()}


# ---- types of host expressions ---------------------------------------------------
def is_initializer(init, def_asts) -> bool:
    """`zeros()`, `full(0.5)`, `normal(0.0, 0.01, seed=1)`: the declaration
    gives the shape. With a shape (`zeros((3,))`) it is an ordinary value;
    a def of the same name is called like any def."""
    if not isinstance(init, A.Call) or init.func.id not in INIT_SIGS or init.func.id in def_asts:
        return False
    if init.func.id in INIT_ONLY:
        return True
    shape_position = 1 if init.func.id == "full" else 0
    return len(init.args) <= shape_position and not any(k.name == "shape" for k in init.kwargs)


def check_initializer(init: A.Call, name, want: TensorType | None, args: dict, dtype):
    """`shared W: T = zeros()` etc.: the arguments (param -> (type, span))
    and that the drawn or filled values fit the declared dtype."""
    fname = init.func.id
    if not isinstance(dtype, Default):
        given = dtype.id if isinstance(dtype, A.Name) else None
        if given not in DTYPES:
            fail("E0007", "dtype must be one of f32 f64 i32 i64 bool", dtype.span)
        if want is not None and given != want.dtype:
            fail("E0605", f"shared `{name}` is {want}; `dtype={given}` disagrees", dtype.span,
                 "the declaration gives the dtype: leave `dtype=` out")
    check_builtin(fname, args, init.span)
    if want is None or want.dtype in ("f32", "f64"):
        return
    if fname in INIT_ONLY:
        fail("E0605", f"`{fname}` draws floats, but shared `{name}` is {want}", init.span,
             f"declare `{name}` with a float dtype (f32), or initialise it with "
             "`zeros()`, `ones()` or `full(value)`")
    value, span = args.get("value", (None, None))
    if fname == "full" and isinstance(value, HNum) and value.kind == "int" and value.value is not None:
        from .checker import check_literal_range
        check_literal_range(value.value, want.dtype, span or init.span)
    if fname == "full" and isinstance(value, HNum) and value.kind == "float":
        shown = value.value if value.value is not None else "value"
        fail("E0605", f"shared `{name}` is {want}; `full({shown})` would drop the fraction", span,
             "fill it with an integer (`full(0)`), or declare it f32")


def check_shared_type(name, want: TensorType, got, span):
    """The text the interpreter's check of an initial value gives (E0605)."""
    if isinstance(got, HNum):
        fail("E0605", f"shared `{name}` is {want}; cannot set it to the number "
             f"{got.value if got.value is not None else ''}".rstrip(), span, "use `full(...)` to fill it")
    if isinstance(got, HTensor) and got.known and (got.dtype != want.dtype or got.shape != want.shape):
        fail("E0605", f"shared `{name}` is {want}; cannot set it to {got.dtype}{list(got.shape)}", span,
             "the shape and dtype must match the declaration exactly")


def python_name(t) -> str:
    return {HStr: "str", HNone: "NoneType"}.get(type(t)) or (t.kind if isinstance(t, HNum) else "?")


def list_type(elts):
    """`[1.0, 2.0]` on the host: f32 when any element is a float, else i32 or bool."""
    if elts and all(isinstance(t, HNum) for t in elts):
        kinds = {t.kind for t in elts}
        dtype = "f32" if "float" in kinds else "i32" if "int" in kinds else "bool"
        return HTensor(dtype, (len(elts),))
    if elts and all(isinstance(t, HTensor) for t in elts) and len({t.dtype for t in elts}) == 1 \
            and len({t.shape for t in elts}) == 1 and elts[0].known:
        return HTensor(elts[0].dtype, (len(elts),) + elts[0].shape)
    return ANY


def length(t):
    if isinstance(t, HTensor):
        return t.shape[0]
    if isinstance(t, HRecord) and t.fields:
        return dict(t.fields)["y"].shape[0]
    if isinstance(t, HStr) and t.value is not None:
        return len(t.value)
    if isinstance(t, tuple):
        return len(t)
    return None


def batches_type(split, size, drop_last):
    """The (x, y) minibatches: `size` rows each when the short one is dropped."""
    rows = None
    if isinstance(size, HNum) and size.value is not None and isinstance(drop_last, HNum) \
            and drop_last.value is True:
        rows = size.value
    if isinstance(split, HRecord) and split.fields:
        x, y = dict(split.fields)["x"], dict(split.fields)["y"]
        return HIter((HTensor(x.dtype, (rows,) + x.shape[1:]), HTensor(y.dtype, (rows,))), "batches")
    if isinstance(split, tuple) and all(isinstance(t, HTensor) for t in split):
        return HIter(tuple(HTensor(t.dtype, (rows,) + t.shape[1:]) for t in split), "batches")
    return HIter(ANY, "batches")


def tensor_index(base: HTensor, keys, span):
    """x[0], x[1:3], x[i, :] on a host tensor, as numpy does it."""
    if len(keys) > len(base.shape):
        fail("E0603", f"bad index: too many indices for array: array is {len(base.shape)}-dimensional, "
             f"but {len(keys)} were indexed", span)
    shape = []
    for axis, k in enumerate(keys):
        size = base.shape[axis]
        if isinstance(k, A.Slice):
            shape.append(None)
        elif isinstance(k, HNum) and k.kind == "int":
            if k.value is not None and size is not None and not -size <= k.value < size:
                fail("E0603", f"bad index: index {k.value} is out of bounds for axis {axis} "
                     f"with size {size}", span)
        elif isinstance(k, (HNum, HStr, HNone)):
            fail("E0603", "bad index: only integers, slices (`:`), ellipsis (`...`), numpy.newaxis "
                 "(`None`) and integer or boolean arrays are valid indices", span)
        else:
            return ANY
    return from_dtype(base.dtype, tuple(shape) + tuple(base.shape[len(keys):]))


def host_binop(op, a, b, span):
    """What `a op b` gives on the host (Python numbers, numpy arrays), or a
    located E0606 where it cannot work whatever the values are."""
    if isinstance(a, HAny) or isinstance(b, HAny) or not all(
            isinstance(t, (HNum, HStr, HNone, HTensor)) for t in (a, b)):
        return ANY
    if op in ("/", "//", "%") and isinstance(a, HNum) and isinstance(b, HNum) and b.value == 0 \
            and b.value is not None:
        fail("E0606", "division by zero", span)
    if op == "**" and isinstance(a, HNum) and isinstance(b, HNum):
        power_too_large(a.value, b.value, span)
    if op == "@":
        return matmul_type(a, b, span)
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = PY_BINOPS[op](sample(a), sample(b))
    except (TypeError, ValueError) as exc:
        fail("E0606", f"cannot compute `{op}` of {describe(a)} and {describe(b)}", span,
             str(exc).split("\n")[0])
    except ZeroDivisionError:
        return ANY
    if isinstance(a, HTensor) or isinstance(b, HTensor):
        dtype = np.asarray(result).dtype.name
        from .types import FROM_NUMPY
        if dtype not in FROM_NUMPY:
            return ANY
        return HTensor(FROM_NUMPY[dtype], broadcast(a, b, op, span))
    if isinstance(result, str):
        return HStr()
    if isinstance(result, bool):
        return HNum("bool")
    if isinstance(result, (int, float)):
        kind = "float" if isinstance(result, float) else "int"
        if op == "**" and kind == "int" and not (isinstance(b.value, int) and b.value >= 0):
            return ANY      # an int power is a float when the exponent is negative
        return HNum(kind, fold(op, a.value, b.value) if kind == "int" else None)
    return ANY


def fold(op, a, b):
    """The value of `a op b` for small known integers (sizes like n // 2)."""
    if not (isinstance(a, int) and isinstance(b, int)) or op not in ("+", "-", "*", "//", "%", "**"):
        return None
    if op in ("//", "%") and b == 0:
        return None
    if op == "**" and (b < 0 or abs(a) > 1 and b * (abs(a).bit_length() - 1) > 62):
        return None     # a fraction, or more than 62 bits: not a size
    value = PY_BINOPS[op](a, b)
    return value if abs(value) < 2 ** 62 else None


def broadcast(a, b, op, span):
    sa = a.shape if isinstance(a, HTensor) else ()
    sb = b.shape if isinstance(b, HTensor) else ()
    out = []
    for i in range(1, max(len(sa), len(sb)) + 1):
        x = sa[-i] if i <= len(sa) else 1
        y = sb[-i] if i <= len(sb) else 1
        if x == 1:
            out.append(y)
        elif y == 1:
            out.append(x)
        elif x is None or y is None:
            out.append(x if y is None else y)
        elif x != y:
            fail("E0606", f"cannot compute `{op}` of {describe(a)} and {describe(b)}", span,
                 broadcast_hint(sa, sb))
        else:
            out.append(x)
    return tuple(reversed(out))


def broadcast_hint(sa, sb) -> str:
    return (f"shapes {tuple(sa)} and {tuple(sb)} do not broadcast: each trailing dimension "
            "must be equal or 1")


NOT_MATRICES = "`@` multiplies tensors (vectors and matrices); use `*` for numbers"


def matmul_hint(sa, sb) -> str:
    return f"the inner dimensions differ: {sa[-1]} and {sb[0]}"


def matmul_type(a, b, span):
    if not (isinstance(a, HTensor) and isinstance(b, HTensor)):
        fail("E0606", f"cannot compute `@` of {describe(a)} and {describe(b)}", span, NOT_MATRICES)
    if a.dtype != b.dtype or len(a.shape) > 2 or len(b.shape) > 2:
        return ANY
    inner_a = a.shape[-1]
    inner_b = b.shape[0]
    if inner_a is not None and inner_b is not None and inner_a != inner_b:
        fail("E0606", f"cannot compute `@` of {describe(a)} and {describe(b)}", span,
             matmul_hint(a.shape, b.shape))
    return from_dtype(a.dtype, a.shape[:-1] + b.shape[1:])


def is_dtype_name(a) -> bool:
    return isinstance(a, A.Name) and a.id in DTYPES


def static_builtin(e: A.Call, types: dict):
    """The type of an expression builtin whose arguments are all known
    (`types`: id of each argument -> its type), lowered as the interpreter
    lowers it: literals stay literals, tensors become typed parameters, so
    its errors are the run's errors."""
    from .build import apply
    from .checker import BodyChecker, Env
    from .ir import Node
    from .scope import Weak
    locals_: dict = {}

    def lift(a):
        if isinstance(a, (A.Num, A.Bool, A.Str)) or is_dtype_name(a):
            return a
        return lift_type(types[id(a)], a.span)

    def lift_type(t, span):
        if isinstance(t, HNum) and t.value is not None:
            v = t.value
            if isinstance(v, bool):
                return A.Bool(v, span)
            return A.Num(v, span) if v >= 0 else A.UnaryOp("-", A.Num(-v, span), span)
        if isinstance(t, tuple):
            return A.TupleExpr(tuple(lift_type(x, span) for x in t), span)
        if isinstance(t, HTensor) and t.known:
            name = f"_host{len(locals_)}"
            locals_[name] = apply("param", (), span, type=TensorType(t.dtype, t.shape), name=name)
            return A.Name(name, span)
        raise Unknown()

    try:
        call = A.Call(e.func, tuple(lift(a) for a in e.args),
                      tuple(A.Keyword(k.name, lift(k.value), k.span) for k in e.kwargs), e.span)
    except Unknown:
        return ANY
    ck = BodyChecker(Env({}, {}, {}, lambda d: None), HOST_DEF, {}, locals_, (), True)
    result = ck.expr(call)
    if isinstance(result, Weak):
        return HNum("bool" if isinstance(result.value, bool) else
                    "float" if isinstance(result.value, float) else "int")
    if not isinstance(result, Node) or any(not isinstance(d, int) for d in result.type.shape):
        return ANY
    return from_dtype(result.type.dtype, result.type.shape)


class Unknown(Exception):
    """An argument whose value the checker does not know."""


def value_shadows_builtin(what: str, name: str, span) -> Diagnostic:
    return Diagnostic("W0102", f"{what} has the name of the builtin `{name}`", span, (),
                      f"calls `{name}(...)` still call the builtin; another name avoids the confusion",
                      "warning")


def names_read(node) -> set[str]:
    """Every name the host statements read (not assignment or loop targets,
    not the names of called functions); defs are not host code."""
    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, (list, tuple)):
            stack.extend(n)
        elif isinstance(n, A.Name):
            out.add(n.id)
        elif isinstance(n, A.Assign):
            stack.append(n.value)
        elif isinstance(n, A.For):
            stack.extend((n.iter, n.body))
        elif isinstance(n, A.Call):
            stack.extend((n.args, n.kwargs))
        elif isinstance(n, A.Def):
            continue
        elif hasattr(n, "__dataclass_fields__"):
            stack.extend(getattr(n, f) for f in n.__dataclass_fields__ if f != "span")
    return out


def assigned_names(stmts, targets=()) -> set[str]:
    """Every host name a block (and its nested blocks) assigns."""
    out = {t.id for t in targets}
    for s in stmts:
        if isinstance(s, A.Assign):
            out.update(t.id for t in s.targets)
        elif isinstance(s, A.For):
            out |= assigned_names(s.body, s.targets)
        elif isinstance(s, A.If):
            out |= assigned_names(s.body) | assigned_names(s.orelse)
    return out


def mismatch(want: TensorType, got, bound: dict, pname=None, span=None):
    """None, a hint saying what is wrong, or (var, first binding, size, other
    problem) when a size variable would be bound to two different sizes."""
    if isinstance(got, HNum):
        if want.rank:
            return f"it needs {plural(want.rank, 'dimension')}, not a number"
        if got.kind == "float" and want.dtype not in ("f32", "f64"):
            return f"pass an integer, or change the parameter to f32"
        return None
    if isinstance(got, (HStr, HNone, HRecord, HIter, tuple)):
        return f"pass a tensor of type {want}" if want.rank else "pass a number"
    if not isinstance(got, HTensor):
        return None
    if len(want.shape) != len(got.shape):
        if want.dtype != got.dtype:
            return (f"it needs {plural(want.rank, 'dimension')} of {want.dtype}, not "
                    f"{len(got.shape)} of {got.dtype}: is this the right value?")
        return f"it needs {plural(want.rank, 'dimension')}, not {len(got.shape)}"
    dtype_problem = f"cast it: `{want.dtype}(...)`" if want.dtype != got.dtype else None
    for i, (w, g) in enumerate(zip(want.shape, got.shape)):
        if g is None:
            continue
        if isinstance(w, int):
            if w != g:
                return f"axis {i} is {g}, but the signature says {w}" + \
                    (f"; its dtype is wrong too: {dtype_problem}" if dtype_problem else "")
            continue
        var = w.single_var()
        if var is not None:
            if var in bound and bound[var][0] != g:
                return var, bound[var], g, dtype_problem
            bound.setdefault(var, (g, pname, span))
    return dtype_problem
