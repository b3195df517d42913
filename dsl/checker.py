"""Checking a def: its body becomes typed IR, or a located diagnostic.

Each def is checked generically (size variables stay symbolic) and a call of
a def from another def re-checks the callee's body with the caller's
argument nodes, which is inlining with size variables unified at the call.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field, replace

import numpy as np

from . import ast as A
from . import loops
from .build import apply, const
from .builtins import CallSite, Keyword, call_builtin
from .diagnostics import Note, SymError
from . import errors
from .indexing import index_requirements, lower_index
from .ir import Function, Node
from .literals import check_literal_range, literal_overflow, non_negative
from .ops import both_stretched
from .registry import HOST_ONLY, SIGS
from .signature import bind, substitute
from .scope import (GivenList, SliceItem, Weak, Written, bind_call, did_you_mean, dim_from_ast,
                    literal_value, static_int)
from .types import (FLOATS, INTS, Dim, Size, TensorType, TupleType, dim_str,
                    scalar)

BINOPS = {"+": "add", "-": "sub", "*": "mul", "/": "div", "//": "floordiv", "%": "mod",
          "**": "pow", "@": "matmul", "==": "eq", "!=": "ne", "<": "lt", "<=": "le",
          ">": "gt", ">=": "ge", "and": "and", "or": "or"}
DEF_BUILTINS = tuple(SIGS)


@dataclass
class DefInfo:
    name: str
    ast: A.Def
    params: list[tuple[str, TensorType]]
    ret: TensorType | TupleType
    size_vars: list[str]
    updates: set[str] = field(default_factory=set)
    function: Function | None = None
    streams: tuple[str, ...] = ()       # the random streams each call advances

    @property
    def signature(self) -> str:
        args = ", ".join(f"{n}: {t}" for n, t in self.params)
        advances = f" advances {', '.join(self.streams)}" if self.streams else ""
        return f"def {self.name}({args}) -> {self.ret}{advances}"


class Globals:
    """What a def body can see: shared values, options, other defs."""

    def __init__(self, shareds: dict, options: dict, def_asts: dict, warn):
        self.shareds = shareds          # name -> TensorType
        self.options = options          # name -> Python value
        self.def_asts = def_asts        # name -> A.Def
        self.warn = warn                # callback(Diagnostic)
        self.infos: dict[str, DefInfo] = {}
        self.decl_spans: dict = {}      # shared value or option -> where it is declared
        self.typed: list | None = None  # (expression, its value) of each checked, for editors
        # random streams: their names (shared values of type STREAM), the
        # draws of the def being checked (stream names, in draw order; None
        # where nothing may draw) and the nodes that are samples (for grad)
        self.streams: set[str] = set()
        self.draws: list[str] | None = None
        self.samples: set[Node] = set()
        self.gradients: dict = {}       # id(gradient node) -> parallel.GradInfo (every `grad` built)
        self.procs: dict = {}           # host functions, which a def may not call
        self.groups: dict = {}          # group of shared values -> its members' names


def tensor_type(texpr: A.TensorTypeExpr, lookup_size) -> TensorType:
    if texpr.dtype == "stream":
        raise errors.stream_type_misplaced(texpr.span)
    return TensorType(texpr.dtype, tuple(non_negative(dim_from_ast(d, lookup_size), d.span)
                                         for d in texpr.dims))


def declared_types(d: A.Def):
    """Parameter and return types of a def with its size variables symbolic."""
    order: list[str] = []

    def size(name, span):
        if name not in order:
            order.append(name)
        return Size.var(name)

    tensors = tensor_params(d)
    params = [(p.name.id, tensor_type(p.type, size)) for p in tensors]
    bound = [dim.single_var() for _, t in params for dim in t.shape
             if isinstance(dim, Size) and dim.single_var() is not None]
    for p, (_, t) in zip(tensors, params):
        for dim in t.shape:
            loose = sorted(dim.variables() - set(bound)) if isinstance(dim, Size) else []
            if loose:
                raise errors.unbound_size("in_parameter", p.type.span or p.span, size=loose[0],
                                          param=p.name.id, t=t)

    def ret_size(name, span):
        if name not in bound:
            raise errors.unbound_size("in_return", span, name=name, def_name=d.name.id)
        return Size.var(name)

    if isinstance(d.ret, A.GroupTypeExpr):
        raise errors.group_not_tensor("return_type", d.ret.span, name=d.name.id)
    if isinstance(d.ret, A.TupleTypeExpr):
        ret = TupleType(tuple(tensor_type(t, ret_size) for t in d.ret.elts))
    else:
        ret = tensor_type(d.ret, ret_size)
    return params, ret, order


@dataclass(frozen=True)
class Group:
    """A group of values inside a def: a group of shared values (`names`
    are theirs) or the values an assignment gave for each member."""
    items: tuple
    names: tuple | None
    label: str


def with_note(err: SymError, note: Note | None) -> SymError:
    if note is None:
        return err
    return SymError([replace(d, notes=d.notes + (note,)) for d in err.diagnostics])


def tensor_params(d: A.Def) -> list:
    """A def's parameters except those of type `group`."""
    return [p for p in d.params if not isinstance(p.type, A.GroupTypeExpr)]


def takes_groups(d: A.Def) -> bool:
    return any(isinstance(p.type, A.GroupTypeExpr) for p in d.params)


class BodyChecker:
    """Lowers one def body (generic, or inlined into a caller) to IR."""

    def __init__(self, env: Globals, d: A.Def, sizes: dict[str, Dim], locals_: dict,
                 stack: tuple[str, ...], inlined: bool, shared_nodes: dict | None = None):
        self.env, self.d, self.sizes = env, d, sizes
        self.locals = dict(locals_)
        self.stack = stack
        self.inlined = inlined
        self.updates: dict[str, Node] = {}
        # a def inlined into a loop's body reads the shared values as the body does
        self.shared_nodes: dict[str, Node] = {} if shared_nodes is None else shared_nodes
        self.joins = False          # inlined as a statement: its updates are the caller's
        self.loop: loops.LoopFrame | None = None     # the loop whose body is being checked
        self.loop_depth = 0
        self.loop_only: dict = {}       # names set only inside a loop's body -> where

    # ---- statements ---------------------------------------------------------
    def run(self, ret_type) -> tuple[Node, ...]:
        for i, stmt in enumerate(self.d.body):
            if isinstance(stmt, A.Return):
                self.nothing_after_return(stmt, self.d.body[i + 1:])
                return self.check_return(stmt, ret_type)
            self.statement(stmt)
        raise errors.return_mismatch("no_return", self.d.span, name=self.d.name.id,
                                     ret_type=ret_type)

    def nothing_after_return(self, ret: A.Return, rest):
        """`return` ends a def: a second one, or anything after it, would never run."""
        if not rest:
            return
        later = rest[0]
        if isinstance(later, A.Return):
            raise errors.statement_after_return("has_second_return", later.span,
                                                notes=[Note("the first `return` is here", ret.span)],
                                                name=self.d.name.id)
        raise errors.statement_after_return("statement_comes_after", later.span,
                                            notes=[Note("the def returns here", ret.span)],
                                            name=self.d.name.id)

    def statement(self, s):
        # a loop's statements are unrolled over groups one by one, inside it
        groups = self.groups_in(s) if not isinstance(s, A.For) else {}
        if groups:
            self.unrolled(s, groups)
            return
        if isinstance(s, A.ExprStmt) and isinstance(s.expr, A.Call) and self.is_def_call(s.expr):
            self.call_def(s.expr.func.id, s.expr, statement=True)
            return
        if isinstance(s, A.Assign):
            if self.loop is not None:
                self.loop.set_at.update((t.id, s.span) for t in s.targets)
            if loops.collector(self, s):
                return
            value = self.expr(s.value)
            for t in s.targets:
                self.check_local_name(t.id, t.span, "local value")
            self.bind(s.targets, value, s.span)
        elif isinstance(s, A.Update):
            self.update(s)
        elif isinstance(s, A.ExprStmt) and isinstance(s.expr, A.MethodCall):
            loops.append(self, s.expr)
        elif isinstance(s, A.ExprStmt):
            self.expr(s.expr)
        elif isinstance(s, A.For):
            loops.check_loop(self, s)
        elif self.loop is not None and isinstance(s, (A.Return, A.Break, A.Continue)):
            kind = type(s).__name__.lower()
            raise errors.leaves_def_loop(kind, s.span,
                                         "a loop in a def runs all its steps; return after the loop, and pick steps "
                                         "with `where(...)`" if kind != "return" else
                                         "return after the loop; carry what the return needs as a local value",
                                         [Note("the loop", self.loop.header.span)])
        else:
            kind = type(s).__name__.lower()
            raise errors.not_allowed_in_def(kind, s.span,
                                            "a def computes every value: choose between values with `where(cond, a, b)`")

    def bind(self, targets, value, span):
        if len(targets) == 1:
            if isinstance(value, tuple):
                raise errors.wrong_unpack_count("one_name", span, name=targets[0].id,
                                                got=len(value))
            self.locals[targets[0].id] = value
            return
        if not isinstance(value, tuple) or len(value) != len(targets):
            got = len(value) if isinstance(value, tuple) else 1
            raise errors.wrong_unpack_count("unpack", span, got=got, s='s' * (got != 1),
                                            names=len(targets))
        for t, v in zip(targets, value):
            self.locals[t.id] = v

    def check_local_name(self, name, span, what):
        """Inside a def, a shared value or an option is read by its name: a
        parameter, local value or size variable of the same name would hide
        it (and `W <- ...` would then update the hidden one)."""
        if self.inlined:
            return      # checked where the def itself is checked
        check_hides_global(self.env, self.d, name, span, what)

    def update(self, s: A.Update):
        name = s.target.id
        if self.loop is not None:
            raise errors.update_in_loop(name, s.span, [Note("the loop", self.loop.header.span)])
        if self.inlined and not self.joins:
            raise errors.updating_def_called_in_def(self.d.name.id, name, s.span,
                                                    "call it from the host; a def that updates state runs once per host call")
        if name not in self.env.shareds:
            if name in self.locals:
                what = "a parameter" if any(p.name.id == name for p in self.d.params) else "a local value"
                hint = (f"`<-` changes state that lives between calls; to compute a new value "
                        f"here, bind it: `{name} = ...`")
            else:
                what = "not a shared value"
                hint = (did_you_mean(name, self.env.shareds) or f"declare it at top level: "
                        f"`shared {name}: TYPE = ...`, or bind a new name with `{name} = ...`")
            raise errors.update_of_non_shared("not_shared", s.target.span, hint, name=name,
                                              what=what)
        if name in self.env.streams:
            raise errors.stream_update(name, s.span)
        if name in self.updates:
            raise errors.updated_twice(name, s.span,
                                       [Note(f"the first update of `{name}` computes this", self.updates[name].span)],
                                       def_name=self.d.name.id)
        want = self.env.shareds[name]
        value = self.tensor(self.expr(s.value), s.value.span, want.dtype)
        check_update(name, want, value, s.value.span)
        self.updates[name] = value

    def check_return(self, s: A.Return, ret_type) -> tuple[Node, ...]:
        want = ret_type.elts if isinstance(ret_type, TupleType) else (ret_type,)
        values = [self.expr(v) for v in s.values]
        if len(values) == 1 and isinstance(values[0], tuple):
            values = list(values[0])
        if len(values) != len(want):
            raise errors.return_mismatch("count", s.span, name=self.d.name.id, count=len(values),
                                         ret_type=ret_type)
        out = []
        for v, t, e in zip(values, want, s.values if len(s.values) == len(want) else [s] * len(want)):
            node = self.tensor(v, e.span, t.dtype)
            loops.refuse_run_time_size(node, f"`{self.d.name.id}`'s result", e.span)
            expect = TensorType(t.dtype, tuple(self.subst(d) for d in t.shape))
            if node.type != expect:
                raise errors.return_mismatch("type", e.span, self.return_hint(node.type, expect),
                                             name=self.d.name.id, type=node.type, expect=expect)
            out.append(node)
        return tuple(out)

    @staticmethod
    def return_hint(got: TensorType, want: TensorType) -> str:
        if got.dtype != want.dtype:
            return f"cast the result: `{want.dtype}(...)`, or change the declared type"
        if got.rank > want.rank:
            return "reduce it (`sum`, `mean`) or change the declared type"
        return "change the declared return type or reshape the result"

    def subst(self, d: Dim) -> Dim:
        if isinstance(d, int):
            return d
        return substitute(d, self.sizes)

    # ---- values -------------------------------------------------------------
    def tensor(self, v, span, dtype: str | None = None) -> Node:
        """A value as a node; weak literals take `dtype` (or their own kind)."""
        if isinstance(v, Node):
            return v
        if isinstance(v, (Weak, WeakTensor)):
            return self.weak_node(v, dtype)
        if isinstance(v, tuple):
            raise errors.wrong_unpack_count("one_tensor", span, got=len(v))
        if isinstance(v, Group):
            raise errors.group_not_tensor("used_as_tensor", span, label=v.label, count=len(v.items))
        raise errors.not_a_tensor("expected_tensor_here", span)

    def weak_node(self, w, dtype: str | None) -> Node:
        if isinstance(w, WeakTensor):
            return self.apply("const", (), w.ast.span, type=w.typed(dtype), value=w.value(dtype))
        if isinstance(w.value, bool):
            return const(w.value, "bool", w.span)
        if dtype is None or dtype == "bool":
            dtype = "f32" if isinstance(w.value, float) else "i32"
        if dtype in INTS and isinstance(w.value, float):
            raise errors.kinds_mixed("literal", w.span,
                                     "write an integer, or cast the other operand: `f32(...)`",
                                     value=w.value, dtype=dtype)
        check_literal_range(w.value, dtype, w.span)
        return const(w.value, dtype, w.span)

    def apply(self, op, inputs, span, type=None, **attrs) -> Node:
        return apply(op, inputs, span, type=type, **attrs)

    # ---- expressions --------------------------------------------------------
    def expr(self, e):
        method = getattr(self, "expr_" + type(e).__name__)
        value = method(e)
        if self.env.typed is not None and not self.inlined:     # a callee's body: its own def's
            self.env.typed.append((e, value))
        return value

    def expr_Num(self, e):
        literal_overflow(e)
        return Weak(e.value, e.span)

    def expr_Bool(self, e):
        return Weak(e.value, e.span)

    def expr_Str(self, e):
        raise errors.not_a_tensor("strings_are_host", e.span)

    def expr_Name(self, e: A.Name):
        name = e.id
        if name in self.locals:
            if isinstance(self.locals[name], loops.Collector):
                loops.collector_in_use(self.locals[name], e.span)
            return self.locals[name]
        if name in self.env.streams:
            raise errors.stream_as_value(name, e.span)
        if name in self.env.groups:
            return self.shared_group(name, e.span)
        if name in self.env.shareds:
            return self.shared(name, e.span)
        if name in self.sizes:
            return self.size_node(self.sizes[name], e.span)
        if name in self.env.options:
            value = self.env.options[name]
            if isinstance(value, str):
                raise errors.not_a_tensor("option_string_cannot", e.span, name=name)
            return Weak(value, e.span)
        visible = list(self.locals) + list(self.env.shareds) + list(self.sizes) + list(self.env.options)
        if name in self.loop_only:
            raise errors.loop_local_read_after(name, e.span,
                                               [Note(f"`{name}` is set here", self.loop_only[name])])
        if name in self.env.def_asts or name in DEF_BUILTINS:
            raise errors.not_a_function("def_called_bare", e.span, name=name)
        raise errors.unknown_name(name, e.span,
                                  did_you_mean(name, visible) or "defs see their "
                                  "arguments, shared values, options and size variables")

    def shared(self, name, span) -> Node:
        if name not in self.shared_nodes:
            self.shared_nodes[name] = apply("shared", (), span, type=self.env.shareds[name], name=name)
        return self.shared_nodes[name]

    def size_node(self, d: Dim, span) -> Node:
        if isinstance(d, int):
            return const(d, "i64", span)
        return apply("size", (), span, type=scalar("i64"), dim=d)

    def expr_UnaryOp(self, e: A.UnaryOp):
        return self.unary(e.op, self.expr(e.operand), e.span, e.operand.span)

    def expr_BinOp(self, e: A.BinOp):
        a, b = self.expr(e.left), self.expr(e.right)
        return self.binary(BINOPS[e.op], a, b, e.span, e.op, e.left.span, e.right.span)

    # ---- the builder: operands evaluated already, by either front end ---------
    def unary(self, symbol, v, span, operand_span):
        """`-v` or `not v`; a literal stays a literal."""
        if isinstance(v, Weak):
            if symbol == "-" and not isinstance(v.value, bool):
                return Weak(-v.value, span)
            if symbol == "not" and isinstance(v.value, bool):
                return Weak(not v.value, span)
        node = self.tensor(v, operand_span)
        return self.apply("neg" if symbol == "-" else "not", (node,), span)

    def binary(self, op, a, b, span, symbol, a_span=None, b_span=None):
        """`a symbol b` (an IR op), a literal pair folded; the operands' spans
        default to the whole expression's."""
        if isinstance(a, Weak) and isinstance(b, Weak) and op not in ("matmul",):
            folded = fold(op, a.value, b.value, span)
            if folded is not None:
                return Weak(folded, span)
        a_node = self.tensor(a, a_span or span, getattr(b, "type", None) and b.type.dtype)
        b_node = self.tensor(b, b_span or span, a_node.type.dtype)
        if op == "pow":
            check_int_exponent(a_node, b_node, b_span or span)
        out = self.apply(op, (a_node, b_node), span)
        a_node, b_node = out.inputs     # as the node reads them (the tensor API may have bound sizes)
        # only the implicit case warns: once the ranks agree (`reshape(a, (1, 2)) + b`) it was meant
        if (op != "matmul" and a_node.type.rank != b_node.type.rank
                and both_stretched(a_node.type, b_node.type, out.type.shape)):
            low, high = sorted((a_node.type, b_node.type), key=lambda t: t.rank)
            padded = low.with_shape((1,) * (high.rank - low.rank) + tuple(low.shape))
            self.env.warn(errors.both_operands_stretched(symbol, a_node.type, b_node.type, out.type,
                                                         low, padded, span))
        return out

    def expr_TupleExpr(self, e):
        return tuple(self.expr(x) for x in e.elts)

    def expr_ListExpr(self, e):
        return WeakTensor(e)

    def expr_Attribute(self, e: A.Attribute):
        if e.attr == "T":
            x = self.tensor(self.expr(e.value), e.value.span)
            return self.apply("transpose", (x,), e.span, perm=tuple(reversed(range(x.type.rank))))
        if e.attr == "shape":
            x = self.tensor(self.expr(e.value), e.value.span)
            return tuple(self.size_node(d, e.span) for d in x.type.shape)
        raise errors.unknown_attribute("tensor", e.span, attr=e.attr)

    def expr_MethodCall(self, e: A.MethodCall):
        if e.method.id == "append":
            raise errors.bad_method_call("append_as_value", e.span)
        raise errors.bad_method_call("tensor_method", e.method.span, method=e.method.id)

    def expr_value_of_collector(self, e) -> "loops.Collector":
        """The collector `e` names (the `hs` of `hs.append(v)`)."""
        if isinstance(e, A.Name) and isinstance(self.locals.get(e.id), loops.Collector):
            return self.locals[e.id]
        raise errors.bad_method_call("not_a_collector", e.span)

    def expr_Index(self, e: A.Index):
        items = tuple(SliceItem(*(None if b is None else Written(b) for b in (i.start, i.stop, i.step)),
                                i.span, i) if isinstance(i, A.Slice) else Written(i) for i in e.indices)
        return self.index(self.expr(e.value), items, e.span, e.value.span)

    def index(self, base, items, span, base_span):
        """`base[items]`: each item a `scope.SliceItem` or an argument."""
        if isinstance(base, tuple):     # x.shape[0]
            i = static_int(items[0], "a shape index") if len(items) == 1 else None
            if i is None or not -len(base) <= i < len(base):
                raise errors.constant_index_out_of_range("shape", span, rank=len(base))
            return base[i]
        return lower_index(self, self.tensor(base, base_span), items, span)

    def expr_Call(self, e: A.Call):
        # functions and values are apart: `sum(x)` calls the builtin even
        # where a value is named `sum` (as on the host)
        name = e.func.id
        if name in self.env.def_asts:
            return self.call_def(name, e)
        if name not in SIGS and (name in self.locals or name in self.env.shareds):
            raise errors.not_a_function("def_value_called", e.func.span, name=name)
        if name not in SIGS:
            if name in self.env.procs:      # host functions run on the host only
                raise errors.host_function_in_def(name, e.func.span)
            if name in HOST_ONLY:
                raise errors.host_builtin_in_def(name, e.func.span)
            raise errors.unknown_function(name, e.func.span,
                                          did_you_mean(name, list(SIGS) + list(self.env.def_asts)))
        return self.call(name, [Written(a) for a in e.args],
                         [(k.name, Written(k.value), k.span) for k in e.kwargs], e.span)

    def call(self, name, args, kwargs, span):
        """The builtin `name` on arguments (`scope.Written` or `scope.Given`)
        and keywords (name, argument, span), bound to its signature."""
        site = CallSite(tuple(args), tuple(Keyword(*k) for k in kwargs), span)
        return call_builtin(self, name, bind_call(site, SIGS[name], name), site)

    def call_def(self, name, e: A.Call, statement=False):
        path = self.stack + (self.d.name.id,)
        if name in path:
            path = path[path.index(name):] + (name,)
            raise errors.recursion(name, ' -> '.join(path), e.span)
        d = self.env.def_asts[name]
        if len(e.args) != len(d.params) or e.kwargs:
            if e.kwargs:
                raise errors.bad_keyword_argument("def_positional_only", e.kwargs[0].span,
                                                  name=name)
            raise errors.wrong_argument_count("def_takes", e.span, name=name, count=len(d.params),
                                              s='s' * (len(d.params) != 1), got=len(e.args),
                                              signature=signature_text(d))
        upd = next((s for s in d.body if isinstance(s, A.Update)), None)
        if upd is not None and not statement:
            raise errors.updating_def_called_in_def(name, upd.target.id, e.span,
                                                    "call it from the host, or as a statement of its own in this def "
                                                    "(its updates then join this def's)",
                                                    [Note(f"`{name}` updates `{upd.target.id}` here", upd.span)])
        # a literal argument takes its parameter's dtype, as on the host
        params, _, _ = declared_types(d)
        groups = {p.name.id: self.group_arg(a, name, p.name.id)
                  for p, a in zip(d.params, e.args) if isinstance(p.type, A.GroupTypeExpr)}
        tensor_args = [a for p, a in zip(d.params, e.args) if not isinstance(p.type, A.GroupTypeExpr)]
        args = [self.tensor(self.expr(a), a.span, t.dtype) for a, (_, t) in zip(tensor_args, params)]
        lifted = self.shared_nodes if isinstance(self.shared_nodes, loops.LiftedShared) else None
        try:
            return inline(self.env, d, args, e, self.stack + (self.d.name.id,), groups,
                          self if statement else None, lifted)
        except SymError as err:
            raise with_note(err, Note(f"in this call of `{name}`", e.span) if groups else None) from None

    # ---- groups: one statement written for every member ----------------------------
    def is_def_call(self, e: A.Call) -> bool:
        return e.func.id in self.env.def_asts

    def shared_group(self, name, span) -> "Group":
        members = self.env.groups[name]
        return Group(tuple(self.shared(m, span) for m in members), members, name)

    def group_arg(self, a, fname, pname) -> "Group":
        """The argument of a `group` parameter: a group, or one shared value."""
        value = self.expr(a) if isinstance(a, A.Name) else None
        if isinstance(value, Group):
            return value
        if isinstance(a, A.Name) and a.id in self.env.shareds and a.id not in self.locals:
            return Group((value,), (a.id,), a.id)
        raise errors.group_parameter_misuse("parameter_takes_group", a.span, pname=pname,
                                            fname=fname)

    def groups_in(self, s) -> dict:
        """The groups a statement names (not those passed whole to a def's
        `group` parameter): name -> Group."""
        found: dict = {}
        stack = [s]
        while stack:
            n = stack.pop()
            if isinstance(n, (list, tuple)):
                stack.extend(n)
            elif isinstance(n, A.Name):
                value = self.locals.get(n.id)
                if isinstance(value, Group) or (n.id not in self.locals and n.id in self.env.groups):
                    found[n.id] = value if isinstance(value, Group) else self.shared_group(n.id, n.span)
            elif isinstance(n, A.Call):
                d = self.env.def_asts.get(n.func.id)
                kinds = [isinstance(p.type, A.GroupTypeExpr) for p in d.params] if d else []
                stack.extend(a for i, a in enumerate(n.args)
                             if not (i < len(kinds) and kinds[i] and isinstance(a, A.Name)))
                stack.extend(k.value for k in n.kwargs)
            elif isinstance(n, A.Keyword):
                stack.append(n.value)
            elif hasattr(n, "__dataclass_fields__") and not isinstance(n, A.Name):
                stack.extend(getattr(n, f) for f in n.__dataclass_fields__ if f != "span")
        return found

    def unrolled(self, s, groups: dict):
        """The statement once per member: each group name stands for its
        k-th member (a group of one for every k). An assignment binds a
        group of the results; an update of a group updates each member."""
        lengths = {g_name: len(g.items) for g_name, g in groups.items()}
        sizes = sorted(set(lengths.values()) - {1})
        if len(sizes) > 1:
            a, b = sorted(lengths, key=lambda n: (lengths[n], n))[-2:]
            raise errors.group_sizes_differ("groups_different_sizes", s.span, a=a, value=lengths[a],
                                            b=b, value2=lengths[b])
        count = sizes[0] if sizes else 1
        if isinstance(s, A.Update) and s.target.id not in groups and count > 1:
            raise errors.group_sizes_differ("one_value_but", s.span, target=s.target.id,
                                            count=count)
        if isinstance(s, A.Return):
            raise errors.group_not_tensor("returned", s.span)
        saved, results = dict(self.locals), []
        try:
            for k in range(count):
                for g_name, g in groups.items():
                    self.locals[g_name] = g.items[k if len(g.items) > 1 else 0]
                try:
                    results.append(self.unrolled_once(s, groups, k))
                except SymError as err:     # say which member the statement was written for
                    members = ", ".join(f"`{n}` is `{g.names[k if len(g.names) > 1 else 0]}`"
                                        for n, g in groups.items() if g.names is not None)
                    raise with_note(err, Note(f"written for each member of a group; here {members}")
                                    if members else None) from None
        finally:
            self.locals = saved
        if isinstance(s, A.Assign):
            for t in s.targets:
                self.check_local_name(t.id, t.span, "local value")
            for j, t in enumerate(s.targets):
                parts = [r if len(s.targets) == 1 else r[j] for r in results]
                self.locals[t.id] = Group(tuple(parts), None, t.id)

    def unrolled_once(self, s, groups, k):
        if isinstance(s, A.Assign):
            value = self.expr(s.value)
            if len(s.targets) > 1 and not (isinstance(value, tuple) and len(value) == len(s.targets)):
                raise errors.wrong_unpack_count("unpack_value", s.span, names=len(s.targets))
            return value
        if isinstance(s, A.Update):
            target = groups.get(s.target.id)
            if target is not None:
                if target.names is None:
                    raise errors.update_of_non_shared("local_group", s.target.span,
                                                      target=s.target.id)
                name = target.names[k if len(target.names) > 1 else 0]
                s = A.Update(A.Name(name, s.target.span), s.value, s.span)
            self.update(s)
            return None
        if isinstance(s, A.ExprStmt):
            if isinstance(s.expr, A.Call) and self.is_def_call(s.expr):
                self.call_def(s.expr.func.id, s.expr, statement=True)
            else:
                self.expr(s.expr)
            return None
        kind = type(s).__name__.lower()
        raise errors.not_allowed_in_def(kind, s.span,
                                        "write the statement without the group, or choose values with `where(...)`")


def size_var_span(d: A.Def, name):
    """Where a size variable first appears in a def's parameter types."""
    def find(e):
        if isinstance(e, A.Name) and e.id == name:
            return e.span
        if isinstance(e, A.BinOp):
            return find(e.left) or find(e.right)
        return None
    for p in tensor_params(d):
        for dim in p.type.dims:
            span = find(dim)
            if span is not None:
                return span
    return d.name.span


def signature_text(d: A.Def) -> str:
    params, ret, _ = declared_types(d)
    types = iter(t for _, t in params)
    shown = [f"{p.name.id}: group" if isinstance(p.type, A.GroupTypeExpr) else f"{p.name.id}: {next(types)}"
             for p in d.params]
    return f"def {d.name.id}({', '.join(shown)}) -> {ret}"


def fold(op, a, b, span=None):
    """Constant-fold two literals (3 * 4); None when not a plain number op.
    Integers are exact; floats are f64 with numpy's semantics (an overflow
    is inf, a negative base to a fractional power is NaN)."""
    table = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
             "pow": operator.pow, "floordiv": operator.floordiv, "mod": operator.mod,
             "div": operator.truediv}
    if (op == "pow" and type(a) is int and type(b) is int and b > 0
            and abs(a) > 1 and b * (abs(a).bit_length() - 1) > 4096):
        digits = int(b * math.log10(abs(a))) + 1        # estimated: not computed, too large
        raise errors.number_out_of_range("power", span, a=a, b=b, digits=digits)
    if op not in table or (op in ("div", "floordiv", "mod") and b == 0):
        return None
    try:
        result = table[op](a, b)
    except OverflowError:
        return float_fold(op, a, b)
    except (ZeroDivisionError, TypeError, ValueError):
        return None
    return float("nan") if isinstance(result, complex) else result


NUMPY_FOLD = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "pow": np.power,
              "floordiv": np.floor_divide, "mod": np.mod, "div": np.divide}


def float_fold(op, a, b):
    """A float op that overflowed in Python, as numpy's f64 computes it (inf)."""
    try:
        with np.errstate(all="ignore"):
            return float(NUMPY_FOLD[op](np.float64(a), np.float64(b)))
    except OverflowError:
        return None


def check_int_exponent(base: Node, exponent: Node, span):
    """numpy refuses integers to negative integer powers: a constant negative
    exponent is refused here, one computed from data when it runs (E0220)."""
    if not (base.type.is_int and exponent.type.is_int) or exponent.op not in ("const", "full"):
        return
    lowest = np.min(np.asarray(exponent.attr("value")))
    if lowest < 0:
        raise errors.negative_power(span, lowest)


class WeakTensor:
    """A tensor literal `[0.1, 0.2]`. Like a number literal it takes the
    dtype of the tensor it meets (`f64([0.1])` holds the f64 nearest 0.1, not
    a rounded f32), f32 or i32 when it meets none; every element must fit."""

    def __init__(self, ast: A.ListExpr):
        self.ast = ast
        self.shape, self.elements = literal_tensor(ast)
        self.is_float = any(isinstance(v, float) for v, _ in self.elements)

    def dtype(self, want: str | None) -> str:
        if want is None or want == "bool":
            return "f32" if self.is_float else "i32"
        return want

    def typed(self, want: str | None) -> TensorType:
        return TensorType(self.dtype(want), self.shape)

    def value(self, want: str | None) -> tuple:
        dtype = self.dtype(want)
        widen = "make the list i64: `i64([...])`" if want is None else None
        flat = [literal_number(v, dtype, span, widen) for v, span in self.elements]
        for size in reversed(self.shape[1:]):
            flat = [tuple(flat[i:i + size]) for i in range(0, len(flat), size)]
        return tuple(flat)


def literal_number(v, dtype: str, span, widen: str | None = None):
    """One element of a tensor literal as a number of `dtype`."""
    if dtype in INTS and isinstance(v, float):
        raise errors.kinds_mixed("literal", span,
                                 "integer tensors hold integers: write integers here, or compute in a float dtype",
                                 value=v, dtype=dtype)
    check_literal_range(v, dtype, span, widen)
    return float(v) if dtype in FLOATS else int(v)


def literal_tensor(e: A.ListExpr):
    """The shape of a nested list literal and its numbers with their spans."""
    if not e.elts:
        raise errors.bad_tensor_literal("empty", e.span)
    if all(isinstance(x, (A.ListExpr, GivenList)) for x in e.elts):
        parts = [literal_tensor(x) for x in e.elts]
        shapes = {p[0] for p in parts}
        if len(shapes) != 1:
            raise errors.bad_tensor_literal("ragged", e.span)
        return (len(parts),) + parts[0][0], [x for p in parts for x in p[1]]
    values = []
    for x in e.elts:
        v = x.literal() if hasattr(x, "literal") else literal_value(x)
        if v is None or isinstance(v, bool):
            raise errors.bad_tensor_literal("not_numbers", x.span)
        literal_overflow(A.Num(v, x.span))
        values.append((v, x.span))
    return (len(values),), values


def inline(env: Globals, d: A.Def, args: list[Node], call: A.Call, stack, groups=None,
           caller=None, shared_nodes: dict | None = None) -> tuple | Node:
    """Check d's body with `args` for its parameters (size variables unified)
    and `groups` for its `group` parameters. Called as a statement of
    `caller`, its updates are the caller's; inlined into a loop's body, it
    reads the shared values as the body does (`shared_nodes`)."""
    params, ret, _ = declared_types(d)
    spans = [a.span for p, a in zip(d.params, call.args) if not isinstance(p.type, A.GroupTypeExpr)]
    sizes = unify_args(params, args, spans, d.name.id)
    checker = BodyChecker(env, d, sizes, {**dict(zip((p for p, _ in params), args)), **(groups or {})},
                          stack, True, shared_nodes)
    if caller is not None:
        checker.updates, checker.shared_nodes, checker.joins = caller.updates, caller.shared_nodes, True
    outputs = checker.run(ret)
    return outputs if isinstance(ret, TupleType) else outputs[0]


def unify_args(params, args: list[Node], spans, fname) -> dict:
    """The sizes a call binds in the callee's signature, or E0203 (E0205/E0206
    for a dtype)."""
    for (pname, ptype), arg, span in zip(params, args, spans):
        if arg.type.rank != ptype.rank:
            raise errors.signature_mismatch("rank", span,
                                            f"it needs {ptype.rank} dimension{'s' * (ptype.rank != 1)}, not {arg.type.rank}",
                                            pname=pname, fname=fname, expected=ptype, type=arg.type)
        if arg.type.dtype != ptype.dtype:
            mixed = (errors.float_widths_mixed if {arg.type.dtype, ptype.dtype} <= set(FLOATS)
                     else errors.kinds_mixed)
            raise mixed("argument", span, pname=pname, fname=fname, ptype=ptype, got=arg.type,
                        dtype=ptype.dtype)
    sizes, m = bind([t for _, t in params], [a.type.shape for a in args])
    if m is None:
        return sizes
    (pname, ptype), arg, span = params[m.index], args[m.index], spans[m.index]
    if m.kind == "twice":
        first = params[m.first][0]
        raise errors.signature_mismatch("size", span,
                                        notes=[Note(f"`{m.var}` = {dim_str(m.want)} comes from argument `{first}` here", spans[m.first])],
                                        var=m.var, fname=fname, want=dim_str(m.want), first=first,
                                        pname=pname, got=dim_str(m.got), type=arg.type)
    expected = TensorType(ptype.dtype, tuple(
        substitute(d, sizes) if isinstance(d, Size) else d for d in ptype.shape))
    want = substitute(m.want, sizes) if isinstance(m.want, Size) else m.want
    raise errors.signature_mismatch("rank", span,
                                    f"axis {m.axis} is {dim_str(m.got)}, but `{fname}` expects {dim_str(want)}",
                                    pname=pname, fname=fname, expected=expected, type=arg.type)


def check_update(name: str, want: TensorType, value: Node, span) -> None:
    """`W <- value` in a def and `updates=[(W, value)]` from Python (E0502)."""
    if value.type != want:
        raise errors.update_type_mismatch(name, value.type, want, span,
                                          f"cast it: `{want.dtype}(...)`" if value.type.dtype != want.dtype
                                          else "an update must keep the shared value's exact shape")


def check_hides_global(env: Globals, d: A.Def, name, span, what):
    declared = env.decl_spans.get(name)
    if declared is not None and span is not None and declared.file != span.file:
        return      # a def of an imported file cannot know the program's names: its own hide them
    if name in env.shareds:
        kind, hint = "shared value", (f"rename the {what}; inside a def `{name}` means the shared value, "
                                      f"and `{name} <- ...` updates it")
    elif name in env.options:
        kind, hint = "option", f"rename the {what}; inside a def `{name}` means the option's value"
    else:
        return
    if what == "size variable":
        hint = (f"rename the size variable: in a type, `{name}` is a size that each call binds "
                f"from its arguments, not the {kind}")
    notes = [Note(f"the {kind} is declared here", env.decl_spans[name])] \
        if name in env.decl_spans else []
    raise errors.def_hides_global(what, name, d.name.id, kind, span, hint, notes)


def check_def(env: Globals, d: A.Def) -> DefInfo:
    params, ret, order = declared_types(d)
    sizes = {v: Size.var(v) for v in order}
    param_nodes = [apply("param", (), p.span, type=t, name=n) for (n, t), p in zip(params, d.params)]
    names = [n for n, _ in params]
    for i, n in enumerate(names):
        if n in names[:i]:
            raise errors.parameter_twice(n, d.name.id, d.params[i].name.span)
        check_hides_global(env, d, n, d.params[i].name.span, "parameter")
    for v in order:
        check_hides_global(env, d, v, size_var_span(d, v), "size variable")
    checker = BodyChecker(env, d, sizes, dict(zip(names, param_nodes)), (), False)
    outer, env.draws = env.draws, []
    try:
        outputs = checker.run(ret)
        streams = tuple(dict.fromkeys(env.draws))
    finally:
        env.draws = outer
    info = DefInfo(d.name.id, d, params, ret, order, set(checker.updates) | set(streams),
                   streams=streams)
    updates = tuple(checker.updates.items()) + tuple(
        (s, advance(checker.shared(s, d.span))) for s in streams)
    info.function = Function(d.name.id, tuple(param_nodes), outputs, updates,
                             isinstance(ret, TupleType), info.signature, d.span,
                             index_requirements(outputs + tuple(v for _, v in updates)))
    return info


def advance(state: Node) -> Node:
    """A stream's state after one call: (seed, calls + 1)."""
    return apply("add", (state, apply("const", (), state.span, type=state.type, value=(0, 1))),
                 state.span)
