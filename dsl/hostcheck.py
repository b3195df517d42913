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

import operator
import warnings
from dataclasses import replace

import numpy as np

from . import ast as A
from .build import apply
from .checker import SIGS as DEF_SIGS, BodyChecker, Globals, WeakTensor
from .literals import check_literal_range, literal_overflow
from .indexing import requirement_error
from .ir import Node
from .diagnostics import Diagnostic, Note, SymError
from . import errors
from .hostargs import check_builtin, check_tensor_args
from .hosttypes import (ANY, MNIST, NONE, HAny, HFunc, HIter, HNone, HNum, HRecord, HStr, HTensor,
                        describe, from_dtype, join, join_names, sample, split_type, type_of)
from .registry import BY_NAME, DRAWS, HOST_SIGS, INIT_ONLY, INIT_SIGS, NAMES, OVERLOADED
from .signature import bind
from .scope import Default, Sig, Weak, bind_call, did_you_mean, fail, too_deep
from .types import DTYPES, Size, TensorType, TupleType

TWO_NUMBERS = BY_NAME["max"].host_sig     # max(a, b) and min(a, b) on the host
# every function name a program can call without defining it
BUILTIN_NAMES = NAMES
PY_BINOPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
             "//": operator.floordiv, "%": operator.mod, "**": operator.pow, "@": operator.matmul,
             "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
             ">": operator.gt, ">=": operator.ge}
HOST_DEF = A.Def(A.Name("<host>"), (), A.TensorTypeExpr("f32", ()), ())
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


I64 = 2 ** 63


def int_result_fits(op: str, a, b, span):
    """Host integers are i64, as sizes and indices are: an integer result
    outside it is an error (E0218), never a wrap. It is decided before the
    result is computed (`10 ** 10 ** 10` would never end): by the checker
    where both operands are known, by the interpreter otherwise, alike."""
    if type(a) is not int or type(b) is not int or op not in ("+", "-", "*", "//", "%", "**"):
        return
    if op == "**":
        if b < 0 or abs(a) <= 1:
            return
        # |a| >= 2**(bits - 1), so this bound alone proves a ** b >= 2**64;
        # below it a ** b has at most 128 bits and is cheap to compute
        fits = b * (abs(a).bit_length() - 1) < 64 and -I64 <= a ** b < I64
    else:
        fits = op in ("//", "%") and b == 0 or -I64 <= PY_BINOPS[op](a, b) < I64
    if not fits:
        raise errors.number_out_of_range("host_int", span, op=op, a=a, b=b)


class HostChecker:
    def __init__(self, prog, def_asts, report):
        self.prog, self.def_asts, self._report = prog, def_asts, report
        self.names: dict[str, object] = {n: type_of(o.value) for n, o in prog.options.items()}
        self.loop_depth = 0
        self.quiet = 0                  # > 0 while a loop body is checked for its types only
        self.loop_states: list = []     # per enclosing loop: states at `break` and `continue`
        self.assigned: dict[str, object] = {}   # host variable -> span of its first assignment
        self.warned: set[str] = set()           # host variables named like a builtin, reported
        self.procs: dict = getattr(prog, "procs", {})   # host functions by name
        self.proc_stack: list[str] = []         # host functions being checked, innermost last
        self.call_notes: list[Note] = []        # the calls that led to the statement checked
        self.returns: list | None = None        # inside a host function: the types it returns
        self.params: set[str] = set()           # inside a host function: its parameters
        self.seen: set = set()                  # diagnostics reported (a body is checked per call)
        self.drawn: set[str] = set()            # shared values drawn so far (for `after=`)

    def report(self, d: Diagnostic):
        if self.quiet:
            return
        key = (d.code, d.span, d.message)
        if key in self.seen:
            return
        self.seen.add(key)
        if self.call_notes:
            d = replace(d, notes=d.notes + tuple(reversed(self.call_notes)))
        self._report(d)

    def check(self, items):
        for item in items:
            try:
                self.item(item)
            except SymError as e:
                self.report(e.diagnostic)
            except RecursionError:
                self.report(too_deep("this statement", item.span))
        used = names_read(items)
        for name, span in self.assigned.items():
            if name not in used and not name.startswith("_"):
                self.report(errors.unused_assignment(name, span))

    def item(self, item):
        if isinstance(item, A.Def) or isinstance(item, A.OptionDecl):
            return
        if isinstance(item, A.Proc):
            self.proc_body(item, {p.id: ANY for p in item.params})
            return
        if isinstance(item, A.SharedGroup):
            return
        if isinstance(item, A.SharedDecl):
            self.shared_init(item)
            return
        self.statement(item)

    # ---- shared values --------------------------------------------------------
    def shared_init(self, item: A.SharedDecl):
        init, name = item.init, item.name.id
        want = self.prog.shareds.get(name)
        if name in self.prog.streams:
            got = self.expr(init)
            known = isinstance(got, HNum) and got.kind == "int" and got.value is not None
            unknown = isinstance(got, HAny) or (isinstance(got, HNum) and got.kind == "int")
            check_stream_seed(name, got.value if known else ANY if unknown else None, init.span)
            return
        if is_initializer(init, self.def_asts):
            self.initializer(init, name, want)
            return
        if isinstance(init, A.ListExpr):    # a literal takes the declared dtype
            got = self.list_expr(init, want.dtype if want is not None else None)
        else:
            got = self.expr(init)
        if want is not None:
            check_shared_type(name, want, got, init.span)

    def initializer(self, init: A.Call, name, want):
        fname = init.func.id
        bound = bind_call(init, INIT_SIGS[fname], fname)
        check_after(bound, self.drawn)
        args = {p: (type_of(a.value), None) if isinstance(a, Default) else (self.expr(a), a.span)
                for p, a in bound.items() if p not in ("dtype", "after")}
        check_initializer(init, name, want, args, bound.get("dtype", Default(None)))
        if fname in INIT_ONLY:
            self.drawn.add(name)

    # ---- statements -------------------------------------------------------------
    def block(self, stmts):
        for s in stmts:
            try:
                self.statement(s)
            except SymError as e:
                self.report(e.diagnostic)

    def statement(self, s):
        if isinstance(s, A.Assign):
            self.assign(s)
        elif isinstance(s, A.Update):
            raise errors.update_outside_def(s.target.id, s.span)
        elif isinstance(s, A.ExprStmt):
            self.expr(s.expr)
        elif isinstance(s, A.For):
            self.for_loop(s)
        elif isinstance(s, A.If):
            self.if_stmt(s)
        elif isinstance(s, (A.Break, A.Continue)):
            if self.loop_depth == 0:
                word = "break" if isinstance(s, A.Break) else "continue"
                raise errors.outside_a_loop(word, s.span)
            self.loop_states[-1][isinstance(s, A.Continue)].append(dict(self.names))
        elif isinstance(s, A.Return):
            if self.returns is None:
                raise errors.not_a_host_statement("return", s.span)
            values = tuple(self.expr(v) for v in s.values)
            self.returns.append(values[0] if len(values) == 1 else values)

    def assign(self, s: A.Assign):
        for t in s.targets:
            self.check_target(t)
        try:
            value = self.expr(s.value)
        except SymError:      # the names exist from here on: no follow-on "unknown name"
            self.names.update((t.id, ANY) for t in s.targets)
            raise
        if len(s.targets) > 1:
            elts = value if isinstance(value, tuple) and len(value) == len(s.targets) else None
            if isinstance(value, tuple) and elts is None:
                raise errors.wrong_unpack_count("unpack_values", s.span, got=len(value),
                                                names=len(s.targets))
            for i, t in enumerate(s.targets):
                self.names[t.id] = elts[i] if elts else ANY
        else:
            target = s.targets[0]
            self.names[target.id] = value
            self.assigned.setdefault(target.id, target.span)

    def check_target(self, t: A.Name):
        """A host variable may not take the name of a declaration (inside a
        host function it may: its variables are its own)."""
        name = t.id
        if self.returns is not None:
            return
        if name in self.prog.shareds:
            raise errors.host_assigns_declared_name("cannot_assign_shared", t.span,
                                                    notes=[Note(f"`{name}` is declared here", self.prog.shared_decls[name].name.span)],
                                                    name=name)
        if name in self.prog.options:
            raise errors.host_assigns_declared_name("cannot_assign_option", t.span,
                                                    notes=[Note(f"`{name}` is declared here", self.prog.options[name].span)],
                                                    name=name)
        if name in self.def_asts:
            raise errors.host_assigns_declared_name("cannot_assign_host", t.span,
                                                    notes=[Note(f"`{name}` is defined here", self.def_asts[name].name.span)],
                                                    name=name)
        if name in BUILTIN_NAMES and name not in self.warned and not self.quiet:
            self.warned.add(name)
            self.report(value_shadows_builtin(f"host variable `{name}`", name, t.span))

    def if_stmt(self, s: A.If):
        try:
            self.truth(self.expr(s.cond), s.cond.span)
        except SymError as e:     # the branches are still checked
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
        except SymError as e:     # the body is still checked
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
        except SymError as e:
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
            raise errors.host_operation_failed("loop", s.iter.span,
                                               "loop over `range(n)`, `batches(split, size)`, a tensor's rows or a tuple",
                                               what=describe(it))
        return ANY

    def bind_loop_targets(self, s: A.For, item):
        elts = item if isinstance(item, tuple) else None
        if elts is not None and len(elts) != len(s.targets):
            raise errors.wrong_unpack_count("loop_item", s.span, got=len(elts),
                                            names=len(s.targets))
        if elts is None and len(s.targets) > 1 and isinstance(item, (HNum, HStr, HNone)):
            raise errors.wrong_unpack_count("loop_item_kind", s.span, item=describe(item),
                                            names=len(s.targets))
        for i, t in enumerate(s.targets):
            self.names[t.id] = elts[i] if elts is not None else (item if len(s.targets) == 1 else ANY)

    def truth(self, t, span):
        if isinstance(t, HTensor) and t.known and int(np.prod(t.shape)) != 1:
            raise errors.host_operation_failed("truth", span, shape=tuple(t.shape))

    # ---- expressions --------------------------------------------------------
    def expr(self, e):
        if isinstance(e, A.Num):
            check_number(e)
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
            return self.list_expr(e)
        if isinstance(e, A.Attribute):
            return self.attribute(e)
        if isinstance(e, A.Index):
            return self.index(e)
        if isinstance(e, A.Call):
            return self.call(e)
        if isinstance(e, A.MethodCall):
            raise errors.bad_method_call("host", e.span, method=e.method.id)
        return ANY

    def list_expr(self, e: A.ListExpr, dtype: str | None = None):
        """A list on the host. Numbers make a tensor literal that takes the
        dtype it meets (`dtype`: a shared value's or a def parameter's; f32
        or i32 otherwise), checked as the interpreter checks it where its
        numbers are known; tensors are stacked as numpy stacks them."""
        types, literal, known = self.list_parts(e)
        if literal is None:
            return list_type(types)
        weak = WeakTensor(literal)
        if known:
            weak.value(dtype)       # every number fits, no float becomes an integer
        return HTensor(weak.dtype(dtype), weak.shape)

    def list_parts(self, e: A.ListExpr):
        """The elements' types, the list as a literal of numbers (None when
        an element is not a number; unknown numbers stand in as 1 or 1.5),
        and whether every number is known."""
        types, elts, known = [], [], True
        for x in e.elts:
            if isinstance(x, A.ListExpr):
                sub, literal, sub_known = self.list_parts(x)
                t = list_type(sub) if literal is None else weak_type(literal)
            else:
                t = self.expr(x)
                literal, sub_known = None, False
                if isinstance(t, HNum) and t.kind != "bool":
                    sub_known = t.value is not None
                    literal = number_ast(t.value if sub_known else {"int": 1, "float": 1.5}[t.kind], x.span)
            types.append(t)
            elts.append(literal)
            known = known and sub_known
        literal = A.ListExpr(tuple(elts), e.span) if all(x is not None for x in elts) else None
        return types, literal, known

    def name(self, e: A.Name):
        if e.id in self.names:
            return self.names[e.id]
        if e.id in self.prog.shareds:
            return from_tensor_type(self.prog.shareds[e.id])
        if e.id in getattr(self.prog, "groups", {}):
            raise errors.group_not_tensor("on_host", e.span, name=e.id,
                                          members=', '.join(self.prog.groups[e.id]))
        if e.id in self.def_asts or e.id in self.procs:
            kind = "def" if e.id in self.def_asts else "host function"
            raise errors.not_a_function("host_called_bare", e.span, name=e.id, entity=kind)
        visible = list(self.names) + list(self.prog.shareds)
        raise errors.unknown_name(e.id, e.span,
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
            return tensor_op_type(e, [t])
        if isinstance(t, (HStr, HNone)):
            raise errors.host_operation_failed("compute", e.span,
                                               f"bad operand type for unary -: '{python_name(t)}'",
                                               op="-", operands=describe(t))
        return ANY

    def binop(self, e: A.BinOp):
        a, b = self.expr(e.left), self.expr(e.right)
        if e.op in ("and", "or"):
            self.truth(a, e.left.span)
            self.truth(b, e.right.span)
            return HNum("bool")
        return host_binop(e, a, b)

    def attribute(self, e: A.Attribute):
        base = self.expr(e.value)
        if isinstance(base, HRecord):
            fields = dict(base.fields)
            if not fields:
                return ANY
            if e.attr not in fields:
                raise errors.unknown_attribute("field", e.span,
                                               did_you_mean(e.attr, fields) or f"its fields are: {', '.join(fields)}",
                                               record=base.kind, attr=e.attr)
            return fields[e.attr]
        if isinstance(base, HTensor):
            if e.attr == "T":
                return HTensor(base.dtype, tuple(reversed(base.shape)))
            if e.attr == "shape":
                return tuple(HNum("int", d) for d in base.shape)
            raise errors.unknown_attribute("value", e.span,
                                           "tensor attributes are `.T` and `.shape`",
                                           value=describe(base), attr=e.attr)
        if isinstance(base, (HNum, HStr, HNone, HIter, tuple)):
            raise errors.unknown_attribute("value", e.span, value=describe(base), attr=e.attr)
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
                raise errors.index_out_of_range("host_tuple", e.span)
            return base[k]
        if isinstance(base, HTensor):
            return tensor_index(base, keys, e.span)
        return ANY

    # ---- calls -------------------------------------------------------------------
    def call(self, e: A.Call):
        name = e.func.id
        if name in self.params:         # a host function's parameter
            return self.call_value(self.names.get(name, ANY), e)
        if name in self.procs:
            return self.call_proc(name, e)
        if name in self.def_asts:
            return self.call_def(name, e)
        if name in OVERLOADED and len(e.args) != 1:
            return self.host_builtin(name, e, TWO_NUMBERS)
        check_no_draw_on_host(name, e, self.prog.streams)
        if name in INIT_ONLY:
            raise errors.initializer_only(name, e.func.span)
        if name in HOST_SIGS:
            return self.host_builtin(name, e, HOST_SIGS[name])
        if name in DEF_SIGS:
            return self.expression_builtin(name, e)
        raise errors.unknown_function(name, e.func.span,
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
        if name == "permutation":
            return HTensor("i64", (t["n"].value if isinstance(t["n"], HNum) else None,))
        if name == "shuffle":
            return t["split"]
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
        types, literals = {}, {}
        for a in given.values():
            if isinstance(a, A.ListExpr):       # a literal stays one: `i64([1, 4294967296])`
                elts, literal, known = self.list_parts(a)
                types[id(a)] = list_type(elts) if literal is None else weak_type(literal)
                if literal is not None:
                    literals[id(a)] = literal if known else None
            else:
                types[id(a)] = ANY if is_dtype_name(a) else self.expr(a)
        check_tensor_args(name, {p: (types[id(a)], a.span) for p, a in given.items()}, e.span)
        return static_builtin(e, types, literals)

    # ---- host functions --------------------------------------------------------------
    def call_value(self, t, e: A.Call):
        """A call of a host function's parameter: the def or host function
        passed for it, or anything where the argument is not known."""
        if isinstance(t, HFunc):
            return self.call_proc(t.name, e) if t.kind == "proc" else self.call_def(t.name, e)
        if isinstance(t, HAny):
            for a in e.args:
                self.expr(a)
            return ANY
        raise errors.not_a_function("host_value_called", e.func.span, name=e.func.id,
                                    what=describe(t))

    def call_proc(self, name, e: A.Call):
        """Check a call of a host function: its arguments, then its body with
        their types (what goes wrong there is noted with this call)."""
        proc = self.procs[name]
        if e.kwargs:
            raise errors.bad_keyword_argument("proc_positional_only", e.kwargs[0].span, name=name)
        if len(e.args) != len(proc.params):
            raise errors.wrong_argument_count("takes", e.span, f"signature: {proc_signature(proc)}",
                                              [Note(f"`{name}` is defined here", proc.name.span)],
                                              fname=name,
                                              count=plural(len(proc.params), 'argument'),
                                              got=len(e.args))
        args = {p.id: self.argument(a) for p, a in zip(proc.params, e.args)}
        if name in self.proc_stack:     # recursion: the body is being checked already
            return ANY
        self.call_notes.append(Note(f"in this call of `{name}`", e.span))
        try:
            return self.proc_body(proc, args)
        finally:
            self.call_notes.pop()

    def argument(self, a):
        if isinstance(a, A.Name) and (a.id not in self.names or isinstance(self.names[a.id], HFunc)):
            if isinstance(self.names.get(a.id), HFunc):
                return self.names[a.id]
            if a.id in self.def_asts:
                return HFunc(a.id)
            if a.id in self.procs:
                return HFunc(a.id, "proc")
        return self.expr(a)

    def proc_body(self, proc: A.Proc, args: dict):
        """The type a host function returns for arguments of these types. Its
        body sees the options, its parameters and its own variables."""
        saved = (self.names, self.loop_depth, self.loop_states, self.returns, self.params)
        self.names = {**{n: type_of(o.value) for n, o in self.prog.options.items()}, **args}
        self.loop_depth, self.loop_states, self.returns = 0, [], []
        self.params = {p.id for p in proc.params}
        self.proc_stack.append(proc.name.id)
        try:
            self.block(proc.body)
            returned = self.returns
        finally:
            self.proc_stack.pop()
            self.names, self.loop_depth, self.loop_states, self.returns, self.params = saved
        if not returned:
            return NONE
        out = returned[0]
        for t in returned[1:]:
            out = join(out, t)
        return out

    def call_def(self, name, e: A.Call):
        d = self.def_asts[name]
        if any(isinstance(p.type, A.GroupTypeExpr) for p in d.params):
            raise errors.group_parameter_misuse("takes_group_shared", e.span, name=name)
        info = self.prog.defs.get(name)
        if e.kwargs:
            raise errors.bad_keyword_argument("def_positional_only", e.kwargs[0].span, name=name)
        if len(e.args) != len(d.params):
            sig = info.signature if info else name
            raise errors.wrong_argument_count("takes", e.span, f"signature: {sig}", fname=name,
                                              count=plural(len(d.params), 'argument'),
                                              got=len(e.args))
        if info is None:
            for a in e.args:
                self.expr(a)
            return ANY
        # a list literal takes its parameter's dtype, as a number does
        values = [self.list_expr(a, ptype.dtype) if isinstance(a, A.ListExpr) else self.expr(a)
                  for a, (_, ptype) in zip(e.args, info.params)]
        sizes = self.check_args(info, values, e)
        known = {var: size for var, size in sizes.items() if isinstance(size, int)}
        if info.function is not None:       # an index the known sizes put outside its axis
            problem = requirement_error(info.function, known, e.span)
            if problem is not None:
                d = problem.diagnostics[0]
                fail(d.code, d.message, d.span, d.hint, d.notes)
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
                raise errors.host_call_mismatch("size_from_argument", arg.span,
                                                f"every `{var}` in the signature of `{info.name}` must be the same size; "
                                                f"`{pname}` is {value}" + (f"; its dtype is wrong too: {extra}" if extra else ""),
                                                [Note(f"`{var}` = {size} comes from argument `{first}` here", first_span)],
                                                var=var, name=info.name, size=size, first=first,
                                                pname=pname, g=g)
            got = str(value) if isinstance(value, HTensor) else f"the {value.kind} {value.value}" \
                if isinstance(value, HNum) and value.value is not None else describe(value)
            raise errors.host_call_mismatch("argument_got", arg.span, problem,
                                            [Note(f"signature: {info.signature}")], pname=pname,
                                            name=info.name, ptype=ptype, got=got)
        return {var: size for var, (size, _, _) in bound.items()}


def proc_signature(proc: A.Proc) -> str:
    return f"proc {proc.name.id}({', '.join(p.id for p in proc.params)})"


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


def check_after(bound: dict, drawn: set) -> None:
    """`uniform(lo, hi, after=W0)` continues the numpy.random.RandomState
    that drew W0 (the tutorials draw several layers from one generator):
    W0 must be a shared value drawn before, and no seed is given too."""
    after = bound.get("after")
    if after is None or isinstance(after, Default):
        return
    if not isinstance(after, A.Name) or after.id not in drawn:
        what = f"`{after.id}` is not" if isinstance(after, A.Name) else "it must name"
        raise errors.bad_after("after_continues_generator", after.span, what=what)
    if not isinstance(bound.get("seed"), Default):
        raise errors.bad_after("give_seed_after", bound["seed"].span)


def check_initializer(init: A.Call, name, want: TensorType | None, args: dict, dtype):
    """`shared W: T = zeros()` etc.: the arguments (param -> (type, span))
    and that the drawn or filled values fit the declared dtype."""
    fname = init.func.id
    if not isinstance(dtype, Default):
        given = dtype.id if isinstance(dtype, A.Name) else None
        if given not in DTYPES:
            raise errors.invalid_type("dtype_one_f32", dtype.span)
        if want is not None and given != want.dtype:
            raise errors.shared_value_mismatch("dtype", dtype.span, name=name, want=want,
                                               given=given)
    check_builtin(fname, args, init.span)
    if want is None:
        return
    if fname in INIT_ONLY and not want.is_float:
        raise errors.shared_value_mismatch("draw_for_int", init.span, fname=fname, name=name,
                                           want=want)
    value, span = args.get("value", (None, None))
    if fname == "full" and isinstance(value, HNum):
        check_shared_fill(name, want, value, span or init.span)


def check_shared_fill(name, want: TensorType, value: HNum, span):
    """`full(v)` fills with numbers of the declared kind: a float never
    becomes an integer, a bool never a number (nor the reverse), and the
    number must fit the dtype."""
    shown = "value" if value.value is None else str(value.value).lower() \
        if isinstance(value.value, bool) else value.value
    if (value.kind == "bool") != (want.dtype == "bool"):
        what = "a bool, not a number" if value.kind == "bool" else "a number, not a bool"
        raise errors.shared_value_mismatch("fill_kind", span, name=name, want=want, shown=shown,
                                           what=what)
    if value.kind == "float" and not want.is_float:
        raise errors.shared_value_mismatch("fill_fraction", span, name=name, want=want, shown=shown)
    if value.value is not None:
        check_literal_range(value.value, want.dtype, span)


def check_shared_type(name, want: TensorType, got, span):
    """The text the interpreter's check of an initial value gives (E0605)."""
    if isinstance(got, HNum):
        number = "" if got.value is None else f" {got.value}"     # no value: a number not known here
        raise errors.shared_value_mismatch("number", span, name=name, want=want, number=number)
    if isinstance(got, HTensor) and got.known and (got.dtype != want.dtype or got.shape != want.shape):
        raise errors.shared_value_mismatch("declared", span, name=name, want=want, dtype=got.dtype,
                                           shape=list(got.shape))


def python_name(t) -> str:
    return {HStr: "str", HNone: "NoneType"}.get(type(t)) or (t.kind if isinstance(t, HNum) else "?")


def check_number(e: A.Num):
    """A host number literal is an i64 integer or a finite f64 float."""
    literal_overflow(e)
    check_literal_range(e.value, "i64", e.span)


def weak_type(literal: A.ListExpr) -> HTensor:
    """The type of a list literal that meets no dtype (f32 or i32)."""
    weak = WeakTensor(literal)
    return HTensor(weak.dtype(None), weak.shape)


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
        raise errors.index_out_of_range("host_too_many", span, rank=len(base.shape),
                                        count=len(keys))
    shape = []
    for axis, k in enumerate(keys):
        size = base.shape[axis]
        if isinstance(k, A.Slice):
            shape.append(None)
        elif isinstance(k, HNum) and k.kind == "int":
            if k.value is not None and size is not None and not -size <= k.value < size:
                raise errors.index_out_of_range("host_bounds", span, index=k.value, axis=axis,
                                                size=size)
        elif isinstance(k, (HNum, HStr, HNone)):
            raise errors.index_out_of_range("host_kind", span)
        else:
            return ANY
    return from_dtype(base.dtype, tuple(shape) + tuple(base.shape[len(keys):]))


def host_binop(e: A.BinOp, a, b):
    """What `a op b` (types a and b) gives on the host, or a located error
    where it cannot work whatever the values are. With a tensor it means
    what it means in a def (tensor_op_type); on numbers and strings, what
    it means in Python."""
    op, span = e.op, e.span
    if isinstance(a, HAny) or isinstance(b, HAny) or not all(
            isinstance(t, (HNum, HStr, HNone, HTensor)) for t in (a, b)):
        return ANY
    if any(isinstance(t, HTensor) for t in (a, b)) and all(isinstance(t, (HNum, HTensor)) for t in (a, b)):
        return tensor_op_type(e, [a, b])
    if op in ("/", "//", "%") and isinstance(a, HNum) and isinstance(b, HNum) and b.value == 0 \
            and b.value is not None:
        raise errors.host_operation_failed("divide_by_zero", span)
    if isinstance(a, HNum) and isinstance(b, HNum):
        int_result_fits(op, a.value, b.value, span)
    if op == "@":
        raise errors.host_operation_failed("compute", span, NOT_MATRICES, op="@",
                                           operands=f"{describe(a)} and {describe(b)}")
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = PY_BINOPS[op](sample(a), sample(b))
    except (TypeError, ValueError) as exc:
        raise errors.host_operation_failed("compute", span, str(exc).split("\n")[0], op=op,
                                           operands=f"{describe(a)} and {describe(b)}")
    except ZeroDivisionError:
        return ANY
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


def tensor_op_type(e, types: list):
    """`x * 2.0`, `-x` with a host tensor (`types`: the operands' types),
    typed as in a def, as the interpreter lifts and runs it. Errors are
    reported where every shape and number is known (they are then the
    run's errors); otherwise only the result's type is kept and the run
    checks the rest."""
    locals_: dict = {}
    known = True
    operands = [e.left, e.right] if isinstance(e, A.BinOp) else [e.operand]
    lifted = []
    for t, operand in zip(types, operands):
        span = operand.span
        if isinstance(t, HNum):
            known = known and t.value is not None
            value = t.value if t.value is not None else {"int": 1, "float": 1.5, "bool": True}[t.kind]
            lifted.append(A.Bool(value, span) if t.kind == "bool" else number_ast(value, span))
        else:
            known = known and t.known
            dims = tuple(Size.var(f"_dim{len(locals_)}_{i}") if d is None else d
                         for i, d in enumerate(t.shape))     # sizes the run will know
            lifted.append(host_param(TensorType(t.dtype, dims), span, locals_))
    expr = A.BinOp(e.op, *lifted, e.span) if isinstance(e, A.BinOp) else A.UnaryOp(e.op, lifted[0], e.span)
    try:
        node = check_as_in_def(expr, locals_)
    except SymError:
        if known:
            raise
        return ANY
    return from_dtype(node.type.dtype, tuple(d if isinstance(d, int) else None for d in node.type.shape))


def number_ast(v, span):
    """A host number as the literal a def would have written."""
    return A.Num(v, span) if not v < 0 else A.UnaryOp("-", A.Num(-v, span), span)


def host_param(t: TensorType, span, locals_: dict) -> A.Name:
    """A host tensor stands for a parameter of its type, named as the
    interpreter names it (`_host0`, `_host1`, ...)."""
    name = f"_host{len(locals_)}"
    locals_[name] = apply("param", (), span, type=t, name=name)
    return A.Name(name, span)


def check_as_in_def(e, locals_: dict):
    """The node of a host expression over lifted operands, checked as the
    body of a def is (the interpreter then runs it on numpy)."""
    ck = BodyChecker(Globals({}, {}, {}, lambda d: None), HOST_DEF, {}, locals_, (), True)
    return ck.tensor(ck.expr(e), e.span)


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


NOT_MATRICES = "`@` multiplies tensors (vectors and matrices); use `*` for numbers"


def is_dtype_name(a) -> bool:
    return isinstance(a, A.Name) and a.id in DTYPES


def static_builtin(e: A.Call, types: dict, literals: dict):
    """The type of an expression builtin whose arguments are all known
    (`types`: id of each argument -> its type; `literals`: id of a list
    argument -> it as a literal of numbers, None where they are unknown),
    lowered as the interpreter lowers it: literals stay literals, tensors
    become typed parameters, so its errors are the run's errors."""
    locals_: dict = {}

    def lift(a):
        if isinstance(a, (A.Num, A.Bool, A.Str)) or is_dtype_name(a):
            return a
        if id(a) in literals:
            if literals[id(a)] is None:
                raise Unknown()
            return literals[id(a)]
        return lift_type(types[id(a)], a.span)

    def lift_type(t, span):
        if isinstance(t, HNum) and t.value is not None:
            v = t.value
            return A.Bool(v, span) if isinstance(v, bool) else number_ast(v, span)
        if isinstance(t, tuple):
            return A.TupleExpr(tuple(lift_type(x, span) for x in t), span)
        if isinstance(t, HTensor) and t.known:
            return host_param(TensorType(t.dtype, t.shape), span, locals_)
        raise Unknown()

    try:
        call = A.Call(e.func, tuple(lift(a) for a in e.args),
                      tuple(A.Keyword(k.name, lift(k.value), k.span) for k in e.kwargs), e.span)
    except Unknown:
        return ANY
    ck = BodyChecker(Globals({}, {}, {}, lambda d: None), HOST_DEF, {}, locals_, (), True)
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
    return errors.value_named_like_builtin(what, name, span)


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
    sizes = {var: size for var, (size, _, _) in bound.items()}
    _, m = bind([want], [got.shape], derived=False, sizes=sizes)   # `n + 1` is checked at run time
    for var, size in sizes.items():
        bound.setdefault(var, (size, pname, span))
    if m is None:
        return dtype_problem
    if m.kind == "twice":
        return m.var, bound[m.var], m.got, dtype_problem
    return f"axis {m.axis} is {m.got}, but the signature says {m.want}" + \
        (f"; its dtype is wrong too: {dtype_problem}" if dtype_problem else "")


# ---- random streams ----------------------------------------------------------------
def check_stream_seed(name, seed, span):
    """A stream's seed: an integer in 0..2**63-1 (None: not an integer;
    ANY: not known before the program runs)."""
    if seed is ANY:
        return
    if seed is None or isinstance(seed, bool) or not 0 <= seed < 2 ** 63:
        shown = "this value" if seed is None else str(seed)
        raise errors.bad_seed("stream", span, name=name, shown=shown)


def check_no_draw_on_host(name, e: A.Call, streams):
    """`uniform(rng, ...)` at top level: a draw happens inside a def only."""
    first = e.args[0] if e.args else None
    if name in DRAWS and isinstance(first, A.Name) and first.id in streams:
        raise errors.draw_outside_def(name, e.span,
                                      f"put the draw in a def and call it: `def noise() -> f32[...]: return "
                                      f"{name}({first.id}, ...)`; each call advances `{first.id}`")
