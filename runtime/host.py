"""The host interpreter: runs a program's top-level statements in order.

Host values behave like Python's: numbers are Python numbers, tensors are
numpy arrays, `mnist()` gives a record. Expression builtins on the host
(`sum(a)`, `zeros((600, 784))`) are lowered through the same checker and
evaluated on the numpy reference backend, so they mean exactly what they
mean inside a def. Every failure becomes a located `SymError`.
"""
from __future__ import annotations

import dataclasses
import operator
import sys
import threading

import numpy as np

from dsl import ast as A
from dsl.build import apply
from dsl.checker import WeakTensor
from dsl.diagnostics import Note, SymError
from dsl import errors
from dsl.ir import Function
from dsl.hostcheck import (INIT_ONLY, INIT_SIGS, NOT_MATRICES, check_after, check_as_in_def,
                           check_initializer, check_no_draw_on_host, check_stream_seed,
                           check_number, int_result_fits, is_initializer, number_ast, proc_signature)
from dsl.hostargs import check_tensor_args
from dsl.hosttypes import HFunc, type_of
from dsl.modules import import_notes
from dsl.registry import OVERLOADED, SIGS
from dsl.scope import Default, bind_call
from dsl.types import FROM_NUMPY, NUMPY_DTYPE, TensorType
from runtime import data as D
from runtime.hostbuiltins import HOST_BUILTINS
from runtime.nancheck import NanGuard
from semantics.boundary import (check_call_sizes, check_shared_value, describe,
                                index_error, is_lazy, materialize, to_arg)
from runtime.numpy import (IndexOutOfRange, RunFault, ShapeMismatch, bind_sizes, evaluate,
                           Env as NpEnv)

PY_BINOPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
             "//": operator.floordiv, "%": operator.mod, "**": operator.pow, "@": operator.matmul,
             "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
             ">": operator.gt, ">=": operator.ge}


class Break(Exception):
    pass


class Continue(Exception):
    pass


class Return(Exception):
    """`return` in a host function: carries the value to its call."""

    def __init__(self, value):
        super().__init__()
        self.value = value


# Host functions may call themselves this deep; deeper is an error, not a
# Python RecursionError (each level takes a few dozen interpreter frames).
MAX_PROC_DEPTH = 40


def to_python(value):
    """0-d arrays become Python numbers, as the host computes with them."""
    if is_lazy(value):
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value


class Interpreter:
    def __init__(self, prog, functions: dict[str, Function], executor, out=None,
                 nan_check: bool = False, progress=None, metrics=None, call_hook=None):
        self.prog, self.functions, self.executor = prog, functions, executor
        self.out = out or sys.stdout
        self.nan_check, self.progress = nan_check, progress
        self.metrics = metrics if metrics is not None else D.Metrics()
        self.call_hook = call_hook      # (name, args, outputs) for tracing
        self.batch_runs: dict = {}      # span of a batches(...) call -> times run
        self.vars: dict = {name: o.value for name, o in prog.options.items()}
        self.updates_only: dict[str, Function] = {}   # def name -> its updates alone
        self.report = None              # fn(message) for `sym run -v`
        self.call_lock = threading.RLock()   # calls from several threads take turns
        self.parallel = None            # runtime.parallel.DataParallel on K ranks
        self.main_rank = True           # the rank that writes files (`save`)
        self.procs: dict = getattr(prog, "procs", {})   # host functions by name
        self.proc_calls: list[str] = []      # the host functions running, innermost last
        self.proc_params: list[set] = []     # and the names of their parameters
        self.initial_rngs: dict = {}    # shared name -> the RandomState that drew its initial value

    # ---- items and statements ------------------------------------------------
    def run(self):
        try:
            for item in self.prog.ast.items:
                if isinstance(item, (A.Def, A.OptionDecl, A.Proc, A.SharedGroup)):
                    continue
                if isinstance(item, A.SharedDecl):
                    self.init_shared(item)
                else:
                    self.statement(item)
        except SymError as e:   # an error in an imported file names the import chain
            imports = getattr(self.prog, "imports", None)
            if imports is None or not imports.origin:
                raise
            raise SymError([import_notes(d, imports) for d in e.diagnostics]) from None

    def block(self, stmts):
        for s in stmts:
            self.statement(s)

    def statement(self, s):
        if isinstance(s, A.Assign):
            self.assign(s.targets, self.ev(s.value), s.span)
        elif isinstance(s, A.ExprStmt):
            e = s.expr
            callee = self.callee(e.func.id, e.func.span) if isinstance(e, A.Call) else None
            if callee is not None and callee.kind == "def":
                self.call_def(callee.name, self.def_args(e, callee.name), [a.span for a in e.args],
                              e.span, discard=True)
            else:
                self.ev(e)
        elif isinstance(s, A.For):
            self.for_loop(s)
        elif isinstance(s, A.If):
            self.block(s.body if self.truth(self.ev(s.cond), s.cond.span) else s.orelse)
        elif isinstance(s, A.Break):
            raise Break()
        elif isinstance(s, A.Continue):
            raise Continue()
        elif isinstance(s, A.Return) and self.proc_calls:
            values = tuple(self.ev(v) for v in s.values)
            raise Return(values[0] if len(values) == 1 else values)
        else:   # the checker rejects the rest before anything runs
            raise errors.not_a_host_statement("statement", s.span,
                                              statement=type(s).__name__.lower())

    def assign(self, targets, value, span):
        if len(targets) == 1:
            self.vars[targets[0].id] = value
            return
        values = tuple(value) if isinstance(value, (tuple, list)) else None
        if values is None or len(values) != len(targets):
            raise errors.wrong_unpack_count("unpack_value", span, names=len(targets))
        for t, v in zip(targets, values):
            self.vars[t.id] = v

    def for_loop(self, s: A.For):
        iterable = self.ev(s.iter)
        try:
            iterator = iter(iterable)
        except TypeError:
            raise errors.host_operation_failed("loop", s.iter.span,
                                               what=f"a {type(iterable).__name__}")
        for item in iterator:
            self.assign(s.targets, item, s.span)
            try:
                self.block(s.body)
            except Break:
                break
            except Continue:
                continue

    def truth(self, value, span) -> bool:
        value = materialize(value)
        if isinstance(value, np.ndarray) and value.size != 1:
            raise errors.host_operation_failed("truth", span, shape=value.shape)
        return bool(value)

    # ---- shared values ---------------------------------------------------------
    def init_shared(self, item: A.SharedDecl):
        name = item.name.id
        t = self.prog.shareds[name]
        init = item.init
        if name in self.prog.streams:       # (seed, calls)
            seed = self.ev(init)
            check_stream_seed(name, seed if isinstance(seed, int) else None, init.span)
            self.set_shared(name, np.array([seed, 0], np.int64), init.span)
            return
        try:
            if is_initializer(init, self.functions):
                value = self.initializer(init, name, t)
            elif isinstance(init, A.ListExpr):     # a literal takes the declared dtype
                value = self.ev_ListExpr(init, t.dtype)
            else:
                value = self.ev(init)
            self.set_shared(name, value, init.span)
        except MemoryError as exc:  # it fits the machine's memory, but not what is free now
            raise errors.out_of_memory("initial", item.span, name=name, t=t, exc=exc)

    def initializer(self, call: A.Call, name: str, t: TensorType):
        """`zeros()`, `full(v)`, `normal(mean, std, seed=S)`: the declared
        shape and dtype, the arguments checked as the checker checks them."""
        fname = call.func.id
        bound = bind_call(call, INIT_SIGS[fname], fname)
        check_after(bound, set(self.initial_rngs))
        args = {p: a.value if isinstance(a, Default) else materialize(self.ev(a))
                for p, a in bound.items() if p not in ("dtype", "after")}
        check_initializer(call, name, t, {p: (type_of(v), getattr(bound[p], "span", None))
                                          for p, v in args.items()}, bound.get("dtype", Default(None)))
        return self.initial_value(fname, name, t, args, bound.get("after"))     # E0221: init_shared

    def initial_value(self, fname: str, name: str, t: TensorType, args: dict, after):
        shape, dtype = t.concrete_shape({}), NUMPY_DTYPE[t.dtype]
        if fname in ("zeros", "ones"):
            return np.full(shape, 0 if fname == "zeros" else 1, dtype)
        if fname == "full":
            return np.full(shape, args["value"], dtype)
        rng = self.initial_rngs[after.id] if isinstance(after, A.Name) else np.random.RandomState(args["seed"])
        self.initial_rngs[name] = rng   # `after=name` continues it
        for _ in range(args["skip"]):       # as `RandomStreams(rng.randint(2 ** 30))` before
            rng.randint(2 ** 30)
        if fname == "uniform":
            return rng.uniform(args["low"], args["high"], size=shape).astype(dtype)
        return rng.normal(args["mean"], args["std"], size=shape).astype(dtype)

    def set_shared(self, name: str, value, span=None):
        t = self.prog.shareds[name]
        check_shared_value(name, t, value, span)
        self.executor.set_shared(name, np.asarray(value))

    # ---- expressions -------------------------------------------------------------
    def ev(self, e):
        method = getattr(self, "ev_" + type(e).__name__)
        return method(e)

    def ev_Num(self, e):
        check_number(e)
        return e.value

    def ev_Str(self, e):
        return e.value

    ev_Bool = ev_Str

    def ev_Name(self, e: A.Name):
        if e.id in self.vars:
            return self.vars[e.id]
        if e.id in self.prog.shareds:
            return np.array(self.executor.get_shared(e.id))
        raise errors.unknown_name(e.id, e.span, "assign it before this line", unassigned=True)

    def ev_TupleExpr(self, e):
        return tuple(self.ev(x) for x in e.elts)

    def ev_ListExpr(self, e, dtype: str | None = None):
        """A list of numbers is a tensor literal, as in a def: f32 or i32
        unless `dtype` (a shared value's) decides, every element in range.
        A list of host tensors stacks them, keeping their dtype."""
        values, literal = self.list_parts(e)
        if literal is not None:
            return literal_array(literal, dtype)
        return stacked(values, e.span)

    def list_parts(self, e: A.ListExpr):
        """The elements' values (nested lists as lists), and the list as a
        literal of numbers when every element is a number (else None)."""
        values, elts = [], []
        for x in e.elts:
            if isinstance(x, A.ListExpr):
                v, lit = self.list_parts(x)
            else:
                v = materialize(self.ev(x))
                lit = number_ast(v, x.span) if is_number(v) else None
            values.append(v)
            elts.append(lit)
        literal = A.ListExpr(tuple(elts), e.span) if all(x is not None for x in elts) else None
        return values, literal

    def ev_UnaryOp(self, e: A.UnaryOp):
        v = self.ev(e.operand)
        if e.op == "not":
            return not self.truth(v, e.span)
        return self.host_op(operator.neg, (v,), e)

    def ev_BinOp(self, e: A.BinOp):
        if e.op in ("and", "or"):
            left = self.truth(self.ev(e.left), e.left.span)
            if (e.op == "and") != left:
                return left
            return self.truth(self.ev(e.right), e.right.span)
        return self.host_op(PY_BINOPS[e.op], (self.ev(e.left), self.ev(e.right)), e)

    def host_op(self, fn, values, e):
        values = [materialize(v) for v in values]
        if any(isinstance(v, np.ndarray) for v in values) \
                and all(isinstance(v, (np.ndarray, bool, int, float)) for v in values):
            return self.tensor_op(e, values)
        op = getattr(e, "op", "?")
        if len(values) == 2:
            # before computing it: 10 ** 10 ** 10 would never end
            int_result_fits(op, *values, e.span)
        try:
            with np.errstate(all="ignore"):
                result = to_python(fn(*values))
        except ZeroDivisionError:
            raise errors.host_operation_failed("divide_by_zero", e.span)
        except (TypeError, ValueError, OverflowError) as exc:
            if isinstance(exc, OverflowError) and all(is_number(v) for v in values):
                result = float_overflow(fn, values)
            else:
                kinds = " and ".join(describe(v) for v in values)
                hint = NOT_MATRICES if fn is operator.matmul else str(exc).split("\n")[0]
                raise errors.host_operation_failed("compute", e.span, hint, op=op, operands=kinds)
        # numpy's meaning of a negative base to a fractional power: NaN, not a complex
        return float("nan") if isinstance(result, complex) else result

    def ev_Attribute(self, e: A.Attribute):
        base = materialize(self.ev(e.value))
        if isinstance(base, np.ndarray) and e.attr in ("T", "shape"):
            return base.T if e.attr == "T" else tuple(base.shape)
        if isinstance(base, (D.Mnist, D.Split)) and hasattr(base, e.attr):
            return getattr(base, e.attr)
        raise errors.unknown_attribute("value", e.span, value=describe(base), attr=e.attr)

    def ev_Index(self, e: A.Index):
        base = materialize(self.ev(e.value))
        key = tuple(slice(*(None if p is None else self.ev(p) for p in (i.start, i.stop, i.step)))
                    if isinstance(i, A.Slice) else self.ev(i) for i in e.indices)
        try:
            return to_python(base[key if len(key) > 1 else key[0]])
        except (IndexError, TypeError) as exc:
            raise errors.index_out_of_range("host", e.span, exc=exc)

    def ev_Call(self, e: A.Call):
        callee = self.callee(e.func.id, e.func.span)
        if callee is not None and callee.kind == "proc":
            return self.call_proc(callee.name, e)
        if callee is not None:
            args = self.def_args(e, callee.name)
            outputs = self.call_def(callee.name, args, [a.span for a in e.args], e.span)
            return outputs
        name = e.func.id
        check_no_draw_on_host(name, e, self.prog.streams)
        if name in INIT_ONLY:
            raise errors.initializer_only(name, e.func.span)
        host = HOST_BUILTINS.get(name)
        if host is not None and not (name in OVERLOADED and len(e.args) == 1):
            return host(self, e)
        return self.builtin(e)

    # ---- calls ---------------------------------------------------------------------
    # ---- host functions ----------------------------------------------------------
    def callee(self, name: str, span=None) -> HFunc | None:
        """The def or host function a call names: itself, or the one passed
        for a host function's parameter of that name."""
        value = self.vars.get(name)
        if isinstance(value, HFunc):
            return value
        if self.proc_calls and name in self.proc_params[-1]:
            raise errors.not_a_function("host_value_called", span, name=name, what=describe(value))
        if name in self.procs:
            return HFunc(name, "proc")
        if name in self.functions:
            return HFunc(name)
        return None

    def call_proc(self, name: str, e: A.Call):
        """Run a host function: its parameters and the options are its
        variables. An error inside it gets a note naming this call."""
        proc = self.procs[name]
        if len(e.args) != len(proc.params) or e.kwargs:
            raise errors.wrong_argument_count("proc_takes", e.span, name=name,
                                              count=len(proc.params), got=len(e.args),
                                              signature=proc_signature(proc))
        args = [self.proc_argument(a) for a in e.args]
        if len(self.proc_calls) >= MAX_PROC_DEPTH:
            raise too_deep_calls(name, e.span, self.proc_calls)
        saved = self.vars
        self.vars = {**{n: o.value for n, o in self.prog.options.items()},
                     **{p.id: v for p, v in zip(proc.params, args)}}
        self.proc_calls.append(name)
        self.proc_params.append({p.id for p in proc.params})
        try:
            self.block(proc.body)
            return None
        except Return as r:
            return r.value
        except SymError as exc:
            raise SymError([located_in_call(d, name, e.span) for d in exc.diagnostics]) from None
        except RecursionError:
            raise too_deep_calls(name, e.span, self.proc_calls) from None
        finally:
            self.proc_calls.pop()
            self.proc_params.pop()
            self.vars = saved

    def proc_argument(self, a):
        """A def or host function passed by name, or a value."""
        if isinstance(a, A.Name) and isinstance(self.vars.get(a.id), HFunc):
            return self.vars[a.id]
        if isinstance(a, A.Name) and a.id not in self.vars:
            if a.id in self.procs:
                return HFunc(a.id, "proc")
            if a.id in self.functions:
                return HFunc(a.id)
        return self.ev(a)

    def def_args(self, call: A.Call, name: str | None = None) -> list:
        """The arguments of a def call; a list literal takes its parameter's
        dtype, as a number does (`f([0.1])` for an f64[n] parameter is exact)."""
        params = self.functions[name or call.func.id].params
        return [self.ev_ListExpr(a, params[i].type.dtype)
                if isinstance(a, A.ListExpr) and i < len(params) else self.ev(a)
                for i, a in enumerate(call.args)]

    def call_def(self, name, args, arg_spans=None, span=None, discard=False):
        """Run a def. When the caller discards its result (a call written as
        a statement) and the def updates state, only the updates are
        computed: the returned value, a loss say, would be thrown away.
        Tracing and --nan-check look at the value, so they keep it. On K
        ranks the def runs as its plan says (runtime/parallel.py)."""
        fn = self.functions[name]
        outputs, arrays = None, args
        if self.parallel is not None:
            outputs = self.parallel.call(self, name, args, arg_spans, span, discard)
        if outputs is None:
            if discard and fn.updates and not (self.nan_check or self.call_hook):
                fn = self.updates_only_of(fn, span)
            arrays = [to_arg(fn, p, a, (arg_spans or [span] * len(args))[i] if arg_spans else span)
                      for i, (p, a) in enumerate(zip(fn.params, args))]
            outputs = self.execute(fn, name, arrays, arg_spans, span)
        results = [to_python(o) for o in outputs]
        if self.call_hook:
            self.call_hook(name, arrays, results)
        if not fn.outputs or not results:
            return None
        return tuple(results) if fn.returns_tuple else results[0]

    def bind(self, fn, name, arrays, arg_spans, span) -> dict:
        """The call's sizes, checked, each mismatch located at its argument."""
        try:
            sizes = bind_sizes(list(fn.params), arrays)
        except ShapeMismatch as exc:
            i = [p.attr("name") for p in fn.params].index(exc.param_name)
            where = arg_spans[i] if arg_spans else span
            raise exc.at_call(name, fn.signature, where) from None
        check_call_sizes(fn, sizes, span)
        return sizes

    def execute(self, fn, name, arrays, arg_spans, span) -> list:
        """fn's outputs on these arguments, its updates applied."""
        sizes = self.bind(fn, name, arrays, arg_spans, span)
        try:
            with self.call_lock:     # atomic: no update of shared state is lost
                return self.executor.call(fn, arrays, sizes, self.nan_hook(name, span))
        except IndexOutOfRange as exc:
            raise index_error(exc, span, name)
        except RunFault as exc:
            raise exc.at_call(span, name)

    def updates_only_of(self, fn: Function, span) -> Function:
        hit = self.updates_only.get(fn.name)
        if hit is None:
            hit = self.updates_only[fn.name] = dataclasses.replace(
                fn, outputs=(), returns_tuple=False)
            if self.report:
                where = f" (line {span.line})" if span is not None else ""
                self.report(f"`{fn.name}` is called as a statement{where}: its value is "
                            "not used, so only its updates are computed")
        return hit

    def nan_hook(self, fname, call_span):
        if not self.nan_check:
            return None
        return NanGuard(fname, call_span)

    def builtin(self, e: A.Call):
        """An expression builtin on host values, lowered and run on numpy."""
        name = e.func.id
        params: dict = {}
        locals_: dict = {}
        if name not in SIGS:        # the checker reports it first
            raise errors.unknown_function(name, e.func.span)
        bound = bind_call(e, SIGS[name], name)
        lifted = {id(a): self.lift(a, params, locals_, (name, param))
                  for param, a in bound.items() if not isinstance(a, Default)}
        call = A.Call(e.func, tuple(lifted[id(a)] for a in e.args),
                      tuple(A.Keyword(k.name, lifted[id(k.value)], k.span) for k in e.kwargs), e.span)
        return self.run_lowered(call, params, locals_)

    def tensor_op(self, e, values):
        """An operator on a host tensor means what it means in a def (the same
        dtype rules: nothing converted silently), run on numpy. The checker
        types it alike (dsl/hostcheck.py tensor_op_type)."""
        params: dict = {}
        locals_: dict = {}
        spans = [e.left.span, e.right.span] if isinstance(e, A.BinOp) else [e.operand.span]
        operands = [A.Bool(v, span) if isinstance(v, bool) else self.lift_value(v, span, params, locals_)
                    for v, span in zip(values, spans)]
        if isinstance(e, A.BinOp):
            return self.run_lowered(A.BinOp(e.op, *operands, e.span), params, locals_)
        return self.run_lowered(A.UnaryOp(e.op, operands[0], e.span), params, locals_)

    def run_lowered(self, e, params, locals_):
        """A host expression over lifted operands, checked as in a def and
        evaluated on the numpy reference backend."""
        node = check_as_in_def(e, locals_)
        try:
            (value,) = evaluate([node], NpEnv({}, params, {}))
        except IndexOutOfRange as exc:
            raise errors.index_out_of_range("run", e.span, exc=exc)
        except RunFault as exc:     # a value too large is refused before it is allocated
            raise exc.at_call(None if exc.node.span else e.span)
        except MemoryError as exc:  # ... one that fits only the physical memory, here
            raise errors.out_of_memory("computing", e.span, exc=exc)
        return to_python(value)

    def lift(self, a, params, locals_, where):
        """Replace a host argument by a literal or a name bound to its value
        (`where`: the builtin and parameter, for a message)."""
        if isinstance(a, A.Str):
            self.not_a_tensor(a.value, a.span, where)
        if isinstance(a, (A.Num, A.Bool)) or (isinstance(a, A.Name) and a.id in NUMPY_DTYPE):
            return a
        if isinstance(a, A.TupleExpr):
            return A.TupleExpr(tuple(self.lift(x, params, locals_, where) for x in a.elts), a.span)
        if isinstance(a, A.ListExpr):   # a literal stays one: `i64([1, 4294967296])` is exact
            values, literal = self.list_parts(a)
            if literal is not None:
                return literal
            return self.lift_value(stacked(values, a.span), a.span, params, locals_, where)
        value = materialize(self.ev(a))
        if isinstance(value, bool):
            return A.Bool(value, a.span)
        if isinstance(value, (int, float)):
            return A.Num(value, a.span) if value >= 0 else A.UnaryOp("-", A.Num(-value, a.span), a.span)
        if isinstance(value, tuple):
            return A.TupleExpr(tuple(self.lift_value(v, a.span, params, locals_, where)
                                     for v in value), a.span)
        return self.lift_value(value, a.span, params, locals_, where)

    def lift_value(self, value, span, params, locals_, where=None):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return A.Num(value, span) if value >= 0 else A.UnaryOp("-", A.Num(-value, span), span)
        if not isinstance(value, np.ndarray):
            self.not_a_tensor(value, span, where)
        array = np.asarray(value)
        if array.dtype.name not in FROM_NUMPY:
            raise errors.host_operation_failed("use", span, what=describe(value))
        name = f"_host{len(params)}"
        t = TensorType(FROM_NUMPY[array.dtype.name], tuple(array.shape))
        locals_[name] = apply("param", (), span, type=t, name=name)
        params[name] = array
        return A.Name(name, span)

    @staticmethod
    def not_a_tensor(value, span, where):
        fname, param = where
        check_tensor_args(fname, {param: (type_of(value), span)}, span)
        raise errors.host_operation_failed("use", span, what=describe(value))


def located_in_call(d, name, span):
    """An error inside a host function, with a note naming the call (the
    innermost call's note comes first)."""
    if span is None or span == d.span or any(n.span == span for n in d.notes):
        return d
    return dataclasses.replace(d, notes=d.notes + (Note(f"in this call of `{name}`", span),))


def too_deep_calls(name, span, calls) -> SymError:
    return errors.host_calls_too_deep(name, MAX_PROC_DEPTH, span,
                                      [Note(f"the innermost calls: {' -> '.join(calls[-5:])} -> {name}")])


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def literal_array(literal: A.ListExpr, dtype: str | None = None) -> np.ndarray:
    """A list literal as the checker types it (dtype: the one it meets)."""
    weak = WeakTensor(literal)
    return np.array(weak.value(dtype), NUMPY_DTYPE[weak.dtype(dtype)])


def stacked(values: list, span) -> np.ndarray:
    """Host tensors (and numbers) in a list, stacked with numpy's dtype."""
    try:
        array = np.array(values)
    except ValueError:
        raise errors.bad_tensor_literal("host_ragged", span)
    if array.dtype.name not in FROM_NUMPY:
        raise errors.bad_tensor_literal("host_list", span, items=describe(values[0]))
    return array


def float_overflow(fn, values):
    """A float operation on host numbers that overflowed gives inf, as
    numpy's float64 does (`2.0 ** 10000`), not an error."""
    with np.errstate(all="ignore"):
        return float(fn(*(np.float64(v) for v in values)))

