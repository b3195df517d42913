"""`dsl.function`: a tensor-API graph compiled to a callable.

    f = dsl.function([x, y], [out1, out2], updates=[(W, W - 0.1 * g)])
    f(x_value, y_value)         # numpy in, numpy out (a list for a list)

The graph becomes a `dsl.ir.Function` (the same object a `.sym` def becomes),
goes through the rewrite pipeline and runs on a backend's executor. Outputs
are computed from the old shared values; updates are applied together after
(Theano's rule, the `<-` rule of `.sym`).

Shared values. A SharedVariable keeps the master numpy value; each compiled
function has its own executor holding copies of the shared values it uses.
Each SharedVariable counts its versions; before a call the function pushes a
shared value only when its executor holds an older version, and after the
call the updated shareds record that this executor holds the newest value
(fetched lazily, by `get_value()` or by another function that needs it). So
every function sees every change, and a training loop that calls one
function moves no shared value between calls.

Threads. A call holds its function's lock and the lock of every shared
value it uses (taken in one global order, so two calls never wait for each
other in a cycle): calls are atomic with respect to shared values.
"""
from __future__ import annotations

import threading
from contextlib import ExitStack, nullcontext

import numpy as np

from . import errors as catalog
from .api import bind_arguments, choose_backend, describe, make_executor
from .diagnostics import Note
from .explain import explain_function
from .indexing import index_requirements
from .ir import Function, toposort
from .checker import advance, check_update
from .rewrites import run_pipeline
from .scope import did_you_mean
from .tensor_core import (LEAF_NAMES, Operation, VariableBase, errors, in_user_code, located,
                          sizes_of, user_span)
from .types import NUMPY_DTYPE, Size
from semantics import IndexOutOfRange, RunFault, ShapeMismatch, bind_sizes
from semantics.boundary import check_call_sizes, index_error, to_arg


SIGNATURE = ("dsl.function(inputs, outputs=None, updates=None, name='f', backend=None, "
             "device=None, rewrites=True, no_default_updates=False)")
PARAMETERS = ("inputs", "outputs", "updates", "name", "backend", "device", "rewrites",
              "no_default_updates")


def function(inputs, outputs=None, updates=None, name="f", backend=None, device=None,
             rewrites=True, no_default_updates=False, **unknown) -> "CompiledFunction":
    """Compile `outputs` (a Variable, or a list of them) as a function of
    `inputs` (input Variables), with `updates`: (shared, new value) pairs.
    Each call advances the random streams it draws from, unless
    `no_default_updates` (then every call repeats the same numbers)."""
    span = user_span()
    _check_arguments(span, inputs, updates, name, rewrites, unknown)
    if not isinstance(no_default_updates, (bool, np.bool_)):
        raise in_user_code(catalog.bad_api_argument("no_default_updates", span,
                                                    notes=[Note(f"signature: {SIGNATURE}")],
                                                    got=describe(no_default_updates)))
    env = sizes_of(_variables(inputs, outputs, updates), span)
    with env.transaction() if env is not None else nullcontext():
        return _function(span, inputs, outputs, updates, name, backend, device, rewrites,
                         no_default_updates)


def _variables(*values) -> list:
    """The Variables among the arguments of `function` (in lists, tuples, dicts, pairs)."""
    found, stack = [], list(values)
    while stack:
        v = stack.pop()
        if isinstance(v, VariableBase):
            found.append(v)
        elif isinstance(v, dict):
            stack.extend(v.items())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
    return found


def _check_arguments(span, inputs, updates, name, rewrites, unknown):
    """The arguments' kinds; what they hold is checked while compiling."""
    note = [Note(f"signature: {SIGNATURE}")]
    for key in unknown:     # Theano's givens, mode, allow_input_downcast...
        raise in_user_code(catalog.bad_keyword_argument(
            "function_unknown", span, did_you_mean(key, PARAMETERS) or "compute a replacement "
            "in the graph itself, or make it an input", note, key=key))
    if not isinstance(inputs, (VariableBase, list, tuple, type(None))):
        raise in_user_code(catalog.bad_api_argument("inputs", span, notes=note, got=describe(inputs)))
    if not isinstance(updates, (list, tuple, dict, type(None))):
        raise in_user_code(catalog.bad_api_argument("updates", span, notes=note, got=describe(updates)))
    if not (isinstance(name, str) and name.isidentifier()):
        raise in_user_code(catalog.bad_api_argument("name", span, notes=note, name=name))
    if not isinstance(rewrites, (bool, np.bool_)):
        raise in_user_code(catalog.bad_api_argument("rewrites", span, notes=note,
                                                    got=describe(rewrites)))


def _function(span, inputs, outputs, updates, name, backend, device, rewrites,
              no_default_updates=False):
    if isinstance(inputs, VariableBase):
        inputs = [inputs]
    inputs = list(inputs or [])
    seen = set()
    for v in inputs:
        if not isinstance(v, VariableBase) or v.node.op != "param":
            what = ("a shared value (its value comes with it)" if is_shared(v)
                    else "an expression" if isinstance(v, VariableBase) else describe_value(v))
            raise in_user_code(catalog.not_an_input("function_input", span, what=what))
        if id(v) in seen:
            raise in_user_code(catalog.input_given_twice(v.label, span))
        seen.add(id(v))
    returns_list = outputs is None or isinstance(outputs, (list, tuple))
    outs = list(outputs or []) if returns_list else [outputs]
    out_vars = [o if isinstance(o, VariableBase) else _constant(o, span) for o in outs]

    pairs = list(updates.items()) if isinstance(updates, dict) else list(updates or [])
    upd = []
    for pair in pairs:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise in_user_code(catalog.update_of_non_shared("pairs", span))
        target, value = pair
        if not is_shared(target):
            what = f"`{target.label}` is not a shared value" if isinstance(target, VariableBase) \
                else f"{describe_value(target)} is not a shared value"
            raise in_user_code(catalog.update_of_non_shared("function_target", span, what=what))
        if any(t is target for t, _ in upd):
            raise in_user_code(catalog.updated_twice(target.name, span))
        upd.append((target, _update_value(target, value, span)))
    if not no_default_updates:
        upd += _stream_advances(out_vars + [v for _, v in upd], [t for t, _ in upd])

    # every unification has happened: resolve the graphs once
    param_nodes = [v.node for v in inputs]
    out_nodes = [o.node for o in out_vars]
    upd_nodes = [(t._node.attr("name"), v.node) for t, v in upd]
    leaves = frozenset().union(*(v._leaves for v in out_vars + [v for _, v in upd]),
                               *(t._leaves for t, _ in upd))
    _check_inputs(inputs, param_nodes, out_nodes + [n for _, n in upd_nodes], leaves, span)
    with errors(span):
        requirements = index_requirements(out_nodes + [n for _, n in upd_nodes])
    fn = Function(name, tuple(param_nodes), tuple(out_nodes), tuple(upd_nodes), returns_list,
                  signature(name, [v.label for v in inputs], param_nodes, out_nodes, returns_list),
                  span, requirements)
    shareds = {}
    for n in toposort(fn.roots):
        if n.op == "shared":
            shareds[n.attr("name")] = _owner(n, leaves)
    for t, _ in upd:
        shareds[t._node.attr("name")] = t
    return CompiledFunction(fn, inputs, shareds, backend, device, rewrites, span)


_SHARED_LOCKS: dict[str, threading.RLock] = {}    # shared node name -> its lock
_SHARED_LOCKS_GUARD = threading.Lock()


def shared_lock(name: str) -> threading.RLock:
    with _SHARED_LOCKS_GUARD:
        return _SHARED_LOCKS.setdefault(name, threading.RLock())


def describe_value(v) -> str:
    return f"a {type(v).__name__}"


def is_shared(v) -> bool:
    """v is a SharedVariable (dsl.shared): the leaf registered for its node."""
    return (isinstance(v, VariableBase) and v.node.op == "shared"
            and LEAF_NAMES.get(v.node.attr("name")) is v)


def _constant(value, span):
    op = Operation(span)
    node = op.node(lambda op, ck: op.operand(value))
    return VariableBase(node, op.leaves)


def _update_value(target, value, span):
    """The new value as a graph of exactly the shared's type (E0502)."""
    want = target._node.type
    if isinstance(value, VariableBase) and value._sizes is not None:
        value._sizes.unify_exact(value.type.shape, want.shape)
    op = Operation(span)
    node = op.node(lambda op, ck: op.operand(value), want.dtype)
    with errors(span):
        check_update(target.name, want, node, span)
    return VariableBase(node, op.leaves)


def _stream_advances(values, updated) -> list:
    """(stream, state + (0, 1)) for each random stream the values draw from
    and no explicit update sets: one call, one step of the stream."""
    out = []
    roots = [v.node for v in values]
    for n in toposort(roots):
        if n.op != "random":
            continue
        stream = LEAF_NAMES.get(n.inputs[0].attr("name"))
        taken = [t for t in updated] + [s for s, _ in out]
        if getattr(stream, "default_update", False) and all(t is not stream for t in taken):
            out.append((stream, VariableBase(advance(stream.node), stream._leaves)))
    return out


def _owner(node, leaves):
    for leaf in leaves:
        if leaf._node.op == node.op and leaf._node.attr("name") == node.attr("name"):
            return leaf
    return LEAF_NAMES.get(node.attr("name"))


def _check_inputs(inputs, param_nodes, roots, leaves, span):
    """Every input variable the graph reads, and every size it uses, must
    come from `inputs` (E1002)."""
    given = {p.attr("name") for p in param_nodes}
    order = toposort(roots)
    for n in order:
        if n.op == "param" and n.attr("name") not in given:
            owner = _owner(n, leaves)
            label = owner.label if owner is not None else n.attr("name")
            raise in_user_code(catalog.missing_input("input", span, label=label, type=n.type))
    bound = set()
    for p in param_nodes:
        bound |= {d.single_var() for d in p.type.shape if isinstance(d, Size) and d.single_var()}
    for n in order:
        dims = list(getattr(n.type, "shape", ())) + ([n.attr("dim")] if n.op == "size" else [])
        for d in dims:
            # a loop with a run-time count binds its `#steps` size when it runs
            if isinstance(d, Size) and not {v for v in d.variables() if v[0] != "#"} <= bound:
                var = sorted(v for v in d.variables() - bound if v[0] != "#")[0]
                source = next((leaf.label for leaf in leaves
                               if var in leaf.node.type.size_vars()), None)
                if source:
                    raise in_user_code(catalog.missing_input("size_of_input", span, var=var,
                                                             source=source))
                raise in_user_code(catalog.missing_input("size", span, var=var))


def signature(name, labels, params, outputs, returns_list) -> str:
    """`def f(x: f32[n1]) -> f32`, with the inputs' own names: their IR names
    are made unique (a second input called `x` is `x_2` in the IR)."""
    args = ", ".join(f"{label}: {p.type}" for label, p in zip(labels, params))
    if returns_list:
        ret = "(" + ", ".join(str(o.type) for o in outputs) + ")"
    else:
        ret = str(outputs[0].type)
    return f"def {name}({args}) -> {ret}"


def adapt(fn, param, value, span):
    """Python lists are weak like the numbers in them (`[1.0, 2.0]` for an
    f32 vector); an integer array may fill an integer input of another width
    when every value fits (`np.arange(3)` for an i32 vector). Anything else
    goes to semantics.boundary.to_arg unchanged, which refuses other dtypes (E0604)."""
    t = param.type
    want = np.dtype(NUMPY_DTYPE[t.dtype])
    if isinstance(value, (list, tuple)):
        try:
            array = np.asarray(value)
        except ValueError:      # rows of different lengths
            raise in_user_code(catalog.run_time_argument_mismatch(
                "ragged_list", span, notes=[Note(f"signature: {fn.signature}")],
                name=param.attr('name'), fname=fn.name, t=t))
        kind = "i" if array.dtype.kind == "u" else array.dtype.kind
        if kind != want.kind and not (kind == "i" and want.kind == "f"):
            return array                        # to_arg names the mismatch
        value = array if kind == "i" and want.kind == "i" else array.astype(want)
    if (isinstance(value, np.ndarray) and value.dtype.kind in "iu" and want.kind == "i"
            and value.dtype != want):
        info = np.iinfo(want)
        if value.size and (value.min() < info.min or value.max() > info.max):
            raise in_user_code(catalog.run_time_argument_mismatch(
                "out_of_range", span, name=param.attr('name'), fname=fn.name, t=t, got=value.dtype,
                dtype=t.dtype, low=info.min, high=info.max))
        return value.astype(want)
    return value


class _Shown:
    """An input's IR node as argument checks see it: its type, and the name
    the user gave it (the IR name may be made unique, `x_2`)."""

    def __init__(self, param, label: str):
        self.type, self.label = param.type, label

    def attr(self, key):
        assert key == "name", key
        return self.label


class CompiledFunction:
    """A compiled tensor-API function: call it with numpy values or numbers."""

    def __init__(self, fn: Function, inputs, shareds: dict, backend, device, rewrites, span):
        self.source = fn                # the IR before rewrites
        with errors(span):
            self.function, self.rewrite_log = run_pipeline(fn) if rewrites else (fn, [])
            self.backend = choose_backend(backend, device)
            self.executor = make_executor(self.backend, device,
                                          {n: s._node.type for n, s in shareds.items()})
        self.inputs = list(inputs)
        self.shareds = shareds          # node name -> SharedVariable
        self._held = {n: None for n in shareds}   # version this executor holds
        self._locks = self._new_locks()

    def _new_locks(self) -> list:
        """This function's lock, then one per shared value it touches (by name)."""
        return [threading.RLock()] + [shared_lock(n) for n in sorted(self.shareds)]

    def __getstate__(self):         # locks do not pickle: a copy gets its own
        return {k: v for k, v in self.__dict__.items() if k != "_locks"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._locks = self._new_locks()

    @property
    def name(self) -> str:
        return self.function.name

    @property
    def signature(self) -> str:
        return self.function.signature

    def __repr__(self):
        return f"<dsl.function {self.signature} on {self.backend}>"

    def explain(self, after=None, kernels=False) -> str:
        """The same report as `sym explain`: IR, rewrite log, IR after."""
        return explain_function(self.source, after=after, kernels=kernels,
                                executor=self.executor if kernels else None)

    # ---- calls --------------------------------------------------------------------
    def _arguments(self, args, kwargs, span) -> list:
        """By position or by the inputs' names, as Python binds arguments."""
        fn = self.function
        return bind_arguments(fn.name, [v.label for v in self.inputs], args, kwargs,
                              fn.signature, span)

    def __call__(self, *args, **kwargs):
        span = user_span()
        fn = self.function
        values = self._arguments(args, kwargs, span)
        params = [_Shown(p, v.label) for p, v in zip(fn.params, self.inputs)]
        with errors(span):
            arrays = [to_arg(fn, p, adapt(fn, p, a, span), span) for p, a in zip(params, values)]
        try:
            sizes = bind_sizes(params, arrays)
        except ShapeMismatch as exc:
            raise located(exc.at_call(fn.name, fn.signature, span).diagnostics, span) from None
        with errors(span):          # before anything runs: no access outside a buffer
            check_call_sizes(fn, sizes, span)
        with ExitStack() as held:
            for lock in self._locks:
                held.enter_context(lock)
            self._push_shared()
            try:
                outputs = self.executor.call(fn, arrays, sizes)
            except RunFault as exc:
                raise located(exc.at_call(span, fn.name).diagnostics, span) from None
            except IndexOutOfRange as exc:      # the same text as a .sym def's (runtime/host.py)
                raise located(index_error(exc, span, fn.name).diagnostics, span) from None
            self._pulled_updates()
        # never hand out the executor's own state or the caller's own inputs
        state = getattr(self.executor, "shared", None)
        held = list(state.values()) if isinstance(state, dict) else []
        outputs = [np.array(o) if any(o is h for h in held + arrays) else o for o in outputs]
        return list(outputs) if fn.returns_tuple else outputs[0]

    def _push_shared(self) -> None:
        for name, sv in self.shareds.items():
            if self._held[name] != sv._version:
                sv._sync()
                self.executor.set_shared(name, sv._value)
                self._held[name] = sv._version

    def _pulled_updates(self) -> None:
        for name, _ in self.function.updates:
            sv = self.shareds[name]
            sv._version += 1
            sv._holder = self.executor
            self._held[name] = sv._version
