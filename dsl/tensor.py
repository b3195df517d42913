"""The Theano-style tensor API: build graphs in Python, compile with `function`.

    import dsl
    x = dsl.matrix("x"); y = dsl.ivector("y")
    W = dsl.shared(np.zeros((784, 10), np.float32), name="W")
    b = dsl.shared(np.zeros(10, np.float32), name="b")
    p = dsl.softmax(x @ W + b)
    cost = -dsl.mean(dsl.log(p)[dsl.arange(y.shape[0]), y])
    train = dsl.function([x, y], cost,
                         updates=[(W, W - 0.13 * dsl.grad(cost, W)),
                                  (b, b - 0.13 * dsl.grad(cost, b))])
    train(x_batch, y_batch)

Graphs are the same IR the `.sym` front end builds, through the same checker
code (dsl/tensor_core.py), autodiff, rewrites and backends. Python numbers
are weak literals (`0.13 * W` is f32); numpy arrays become constants of their
own dtype (nothing is upcast: mix f64 data with f32 variables and you get the
checker's E0205 with a hint to cast). `vector()`/`matrix()` get fresh size
variables that unify with what they meet (see tensor_core). Every user error
is a `dsl.SymError` located at the user's Python line.
"""
from __future__ import annotations

import inspect
from contextlib import nullcontext

import numpy as np

from . import autodiff
from . import errors as catalog
from .api import describe
from .build import apply
from .checker import BINOPS
from .literals import check_literal_range
from .registry import SIGS
from .scope import Given, Ident, SliceItem, Weak
from .tensor_core import (LEAF_NAMES, Operation, SymWarning, VariableBase, current_sizes,
                          dtype_name, errors, graph, in_user_code, numpy_type, sizes_of,
                          static_dim, unique_name, user_span)
from .ir import Body, Node, rebuild, toposort
from .loops import run_time_size
from .scope import is_size_var_name
from .tensor_function import CompiledFunction, function, shared_lock
from .types import NUMPY_DTYPE, Size, TensorType, dim_prod, scalar as scalar_type
from semantics.boundary import check_shared_value

__all__ = [
    "Variable", "SharedVariable", "SymWarning",
    "scalar", "vector", "matrix", "tensor", "iscalar", "ivector", "imatrix",
    "fscalar", "fvector", "fmatrix", "dscalar", "dvector", "dmatrix",
    "lscalar", "lvector", "lmatrix", "tensor3", "tensor4",
    "shared", "function", "grad", "cast", "CompiledFunction", "graph",
]

_BINOPS = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%",
           "pow": "**", "matmul": "@", "and": "and", "or": "or"}


def _built(span, build) -> "Variable":
    """build(operation, checker) through the checker's builder, as a Variable
    of the program of the variables it reads; a failure undoes the sizes it bound."""
    op = Operation(span)
    node = op.node(build)
    return Variable(node, op.leaves, sizes=op.sizes)


def _binary(symbol, left, right):
    span = user_span()
    return _built(span, lambda op, ck: ck.binary(BINOPS[symbol], op.operand(left), op.operand(right),
                                                 span, symbol))


def _unary(symbol, x):
    span = user_span()
    return _built(span, lambda op, ck: ck.unary(symbol, op.operand(x), span, span))


def _make_binop(name, reflected=False):
    symbol = _BINOPS[name]
    if reflected:
        def method(self, other):
            return _binary(symbol, other, self)
    else:
        def method(self, other):
            return _binary(symbol, self, other)
    method.__name__ = f"__{'r' if reflected else ''}{name}__"
    return method


def _make_compare(symbol):
    def method(self, other):
        return _binary(symbol, self, other)
    return method


def _symbolic_truth(what):
    def method(self, *args):
        raise in_user_code(catalog.symbolic_value_unknown(what, self.type, user_span()))
    return method


class Variable(VariableBase):
    """A symbolic tensor: a node of the IR. Build graphs with operators and
    the dsl functions; run them with `dsl.function` or `.eval()`."""

    __array_ufunc__ = None          # numpy defers to our reflected operators

    def __init__(self, node, leaves=frozenset(), name=None, sizes=None):
        super().__init__(node, leaves, name, sizes)
        self._eval_cache: dict = {}

    # ---- identity and display --------------------------------------------
    @property
    def name(self) -> str | None:
        """The user's name (None for an unnamed expression)."""
        return self._name

    @name.setter
    def name(self, value):
        """A display name (repr, diagnostics); an input's IR name stays fixed."""
        self._name = value

    @property
    def label(self) -> str:
        """How diagnostics name it: the user's name, else its node's (an
        unnamed input's `arg`), else its operation, written as an expression
        (`mul(...)`): an op's name alone would read as a variable's."""
        return self._name or self._node.attr("name") or f"{self._node.op}(...)"

    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return self.type.rank

    @property
    def shape(self) -> tuple:
        """Per axis an int (a fixed size) or an i64 size Variable (`n1`)."""
        span = user_span()
        return tuple(d if isinstance(d, int) else
                     Variable(apply("size", (), span, type=scalar_type("i64"), dim=d), self._leaves,
                              sizes=self._sizes)
                     for d in self.type.shape)

    @property
    def T(self) -> "Variable":
        return _call("transpose", (self,), {})

    def __repr__(self):
        kind = type(self).__name__
        node = self.node
        if node.op in ("param", "shared"):
            return f"{kind}({node.attr('name')}: {node.type})"
        if node.op == "size":
            return f"{kind}(size {node.attr('dim')}: {node.type})"
        named = f"{self._name} = " if self._name else ""
        return f"{kind}({named}{node.op}: {node.type})"

    __str__ = __repr__

    # ---- operators -----------------------------------------------------------
    __add__, __radd__ = _make_binop("add"), _make_binop("add", True)
    __sub__, __rsub__ = _make_binop("sub"), _make_binop("sub", True)
    __mul__, __rmul__ = _make_binop("mul"), _make_binop("mul", True)
    __truediv__, __rtruediv__ = _make_binop("truediv"), _make_binop("truediv", True)
    __floordiv__, __rfloordiv__ = _make_binop("floordiv"), _make_binop("floordiv", True)
    __mod__, __rmod__ = _make_binop("mod"), _make_binop("mod", True)
    __pow__, __rpow__ = _make_binop("pow"), _make_binop("pow", True)
    __matmul__, __rmatmul__ = _make_binop("matmul"), _make_binop("matmul", True)
    __and__, __rand__ = _make_binop("and"), _make_binop("and", True)
    __or__, __ror__ = _make_binop("or"), _make_binop("or", True)
    __lt__, __le__ = _make_compare("<"), _make_compare("<=")
    __gt__, __ge__ = _make_compare(">"), _make_compare(">=")
    __eq__, __ne__ = _make_compare("=="), _make_compare("!=")
    __hash__ = VariableBase.__hash__
    __bool__ = _symbolic_truth("the truth value")
    __len__ = _symbolic_truth("the length")
    __iter__ = _symbolic_truth("iteration")

    def __neg__(self):
        return _unary("-", self)

    def __pos__(self):
        return self

    def __invert__(self):
        return _unary("not", self)

    def __abs__(self):
        return abs(self)

    def __getitem__(self, key):
        span = user_span()
        key = key if isinstance(key, tuple) else (key,)
        return _built(span, lambda op, ck: ck.index(op.operand(self), [_index_item(op, k) for k in key],
                                                    span, span))

    # ---- numpy-style methods ---------------------------------------------------
    def sum(self, axis=None, keepdims=False):
        return _call("sum", (self,), {"axis": axis, "keepdims": keepdims})

    def mean(self, axis=None, keepdims=False):
        return _call("mean", (self,), {"axis": axis, "keepdims": keepdims})

    def max(self, axis=None, keepdims=False):
        return _call("max", (self,), {"axis": axis, "keepdims": keepdims})

    def min(self, axis=None, keepdims=False):
        return _call("min", (self,), {"axis": axis, "keepdims": keepdims})

    def prod(self, axis=None, keepdims=False):
        return _call("prod", (self,), {"axis": axis, "keepdims": keepdims})

    def argmax(self, axis=None, keepdims=False):
        return _call("argmax", (self,), {"axis": axis, "keepdims": keepdims})

    def argmin(self, axis=None, keepdims=False):
        return _call("argmin", (self,), {"axis": axis, "keepdims": keepdims})

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return _call("reshape", (self, tuple(shape)), {})

    def flatten(self, ndim=1):
        """Theano's flatten: the first ndim - 1 axes kept, the rest joined."""
        shape = self.type.shape
        top = len(shape) or 1       # (this module's `max` is the tensor builtin)
        if not isinstance(ndim, int) or not 1 <= ndim <= top:
            raise in_user_code(catalog.axis_out_of_range("flatten_ndim", user_span(), ndim=ndim,
                                                         rank=len(shape), top=top))
        dims = shape[:ndim - 1] + (dim_prod(shape[ndim - 1:]),)
        return _call("reshape", (self, tuple(Variable(apply(
            "size", (), user_span(), type=scalar_type("i64"), dim=d), sizes=self._sizes)
            for d in dims)), {})

    def dimshuffle(self, *pattern):
        """Theano's dimshuffle: axes reordered, 'x' a new axis of size 1
        (`b.dimshuffle('x', 0, 'x', 'x')` is `b[None, :, None, None]`); an
        axis left out must have size 1 (it is dropped)."""
        pattern = pattern[0] if len(pattern) == 1 and isinstance(pattern[0], (tuple, list)) else pattern
        axes = [p for p in pattern if p != "x"]
        dropped = [d for d in range(self.ndim) if d not in axes]
        if (len(axes) != len(set(axes)) or not all(isinstance(p, int) and 0 <= p < self.ndim for p in axes)
                or any(self.type.shape[d] != 1 for d in dropped)):
            raise in_user_code(catalog.axis_out_of_range("dimshuffle", user_span(),
                                                         pattern=tuple(pattern), rank=self.ndim))
        kept = self[tuple(0 if d in dropped else slice(None) for d in range(self.ndim))] if dropped else self
        order = [sorted(axes).index(p) for p in axes]
        moved = kept.transpose(order) if order != sorted(order) else kept
        return moved[tuple(None if p == "x" else slice(None) for p in pattern)]

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        return _call("transpose", (self,), {"axes": tuple(axes) if axes else None})

    def astype(self, dtype):
        return cast(self, dtype)

    def eval(self, inputs_dict=None, backend=None, device=None):
        """Compile (once per set of inputs) and run: `(v ** 2).eval({v: a})`."""
        if not isinstance(inputs_dict, (dict, type(None))):
            raise in_user_code(catalog.bad_api_argument("eval", user_span(),
                                                        got=describe(inputs_dict)))
        inputs_dict = dict(inputs_dict or {})
        keys = list(inputs_dict)
        generation = self._sizes.generation if self._sizes is not None else 0
        cache_key = (tuple(id(k) for k in keys), backend, device, generation)
        entry = self._eval_cache.get(cache_key)
        if entry is None:
            entry = (keys, function(keys, self, backend=backend, device=device, name="eval"))
            self._eval_cache[cache_key] = entry
        return entry[1](*inputs_dict.values())


def _index_item(op, k):
    """One item of an index as the builder takes it."""
    if isinstance(k, slice):
        return SliceItem(*(None if b is None else op.arg(b, "static") for b in (k.start, k.stop, k.step)),
                         op.span)
    if k is None:               # a new axis of size 1, as numpy
        return Given(Ident("none"), op.span)
    if k is Ellipsis:
        raise in_user_code(catalog.unsupported_indexing("ellipsis", op.span))
    if isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)):
        return Given(Weak(int(k), op.span), op.span)
    if isinstance(k, list):
        return op.arg(np.asarray(k))
    return op.arg(k)


class SharedVariable(Variable):
    """State that lives between calls: `dsl.shared(value, name)`. Every
    compiled function that uses it sees the same value (see tensor_function)."""

    def __init__(self, value, name=None, span=None):
        array = _shared_array(value, name, span)
        t = TensorType(numpy_type(array, span), array.shape)
        node = apply("shared", (), span, type=t, name=unique_name(name or "shared"))
        super().__init__(node, (), name or node.attr("name"))
        LEAF_NAMES[node.attr("name")] = self
        self._value = np.array(array)       # the master value
        self._version = 0                   # bumped by every change
        self._holder = None                 # executor holding a newer value

    @property
    def name(self) -> str:
        return self._name

    def _sync(self) -> None:
        """Fetch the newest value from the executor that computed it."""
        if self._holder is not None:
            self._value = np.array(self._holder.get_shared(self._node.attr("name")))
            self._holder = None

    def get_value(self, borrow=False) -> np.ndarray:
        """A copy of the current value (never one a running call is changing)."""
        with self._lock():
            self._sync()
            return np.array(self._value)

    def _lock(self):
        """The lock that calls of compiled functions using this value hold."""
        return shared_lock(self._node.attr("name"))

    def set_value(self, value, borrow=False) -> None:
        """Replace the value: same shape and dtype as the declared type (E0605)."""
        span = user_span()
        t = self._node.type
        if isinstance(value, (int, float)) and not isinstance(value, bool) and t.rank == 0:
            if isinstance(value, float) and t.dtype not in ("f32", "f64"):
                raise in_user_code(catalog.shared_value_mismatch("float", span, name=self.name, t=t,
                                                                 value=value))
            with errors(span):
                check_literal_range(value, t.dtype, span)
            value = np.asarray(value, NUMPY_DTYPE[t.dtype])
        with errors(span):
            check_shared_value(self.name, t, value, span)
        with self._lock():      # not in the middle of a call that reads or updates it
            self._value = np.array(value)
            self._version += 1
            self._holder = None


def _shared_array(value, name, span) -> np.ndarray:
    """numpy values keep their dtype; Python numbers and lists take the
    .sym literal defaults (f32 for floats, i32 for integers)."""
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        return np.asarray(value)
    if isinstance(value, (bool, int, float, list, tuple)):
        array = np.asarray(value)
        if array.dtype.kind in "fiuO":
            dtype = "f32" if array.dtype.kind == "f" else "i32"
            for v in array.flat:        # each number must fit: never a wrap, never an inf
                if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number)):
                    break
                with errors(span):
                    check_literal_range(v.item() if isinstance(v, np.number) else v, dtype, span,
                                        "pass `np.array(..., np.int64)`")
            else:
                return array.astype(NUMPY_DTYPE[dtype])
        if array.dtype.kind == "b":
            return array
    raise in_user_code(catalog.shared_value_mismatch("from_python", span,
                                                     named=f" `{name}`" if name else "",
                                                     type_name=type(value).__name__))


def shared(value, name=None, borrow=False) -> SharedVariable:
    """A shared value: `dsl.shared(np.zeros((784, 10), np.float32), name="W")`."""
    span = user_span()
    if not isinstance(name, (str, type(None))):
        raise in_user_code(catalog.bad_api_argument("shared_name", span, name=name))
    return SharedVariable(value, name, span)


# ---- inputs ------------------------------------------------------------------
def _param(name, dtype, shape) -> Variable:
    span = user_span()
    if name is not None and (not isinstance(name, str) or not name.isidentifier()):
        raise in_user_code(catalog.not_an_input("input_name", span, name=name))
    dtype = dtype_name(dtype, span)
    node = apply("param", (), span, type=TensorType(dtype, tuple(shape)),
                 name=unique_name(name or "arg"))
    # an input of fixed shape belongs to every program; one with sizes to the current one
    v = Variable(node, (), name, current_sizes() if node.type.size_vars() else None)
    LEAF_NAMES[node.attr("name")] = v
    return v


def scalar(name=None, dtype="f32") -> Variable:
    """A scalar input (f32 unless dtype says otherwise)."""
    return _param(name, dtype, ())


def vector(name=None, dtype="f32") -> Variable:
    """A vector input f32[n1] with a fresh size n1."""
    return _param(name, dtype, (current_sizes().fresh_size(),))


def matrix(name=None, dtype="f32") -> Variable:
    """A matrix input f32[n1, n2] with fresh sizes."""
    return _param(name, dtype, (current_sizes().fresh_size(), current_sizes().fresh_size()))


def tensor3(name=None, dtype="f32") -> Variable:
    return _param(name, dtype, tuple(current_sizes().fresh_size() for _ in range(3)))


def tensor4(name=None, dtype="f32") -> Variable:
    return _param(name, dtype, tuple(current_sizes().fresh_size() for _ in range(4)))


def tensor(name=None, dtype="f32", shape=()) -> Variable:
    """An input of a stated shape: ints, size names ("n", as in .sym) or None
    (a fresh size): `dsl.tensor("x", "f32", ("n", 784))`."""
    span = user_span()
    if not isinstance(shape, (tuple, list)):
        raise in_user_code(catalog.bad_api_argument("shape", span, shape=shape))
    dims = []
    for d in shape:
        if isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0:
            dims.append(int(d))
        elif d is None:
            dims.append(current_sizes().fresh_size())
        elif isinstance(d, str) and d.isidentifier() and is_size_var_name(d):
            if d in current_sizes().fresh:
                raise in_user_code(catalog.shape_not_static("fresh_size_taken", span, d=d))
            current_sizes().user.add(d)
            dims.append(Size.var(d))
        else:
            raise in_user_code(catalog.shape_not_static("tensor_dimension", span, d=d))
    return _param(name, dtype, dims)


def iscalar(name=None): return scalar(name, "i32")
def ivector(name=None): return vector(name, "i32")
def imatrix(name=None): return matrix(name, "i32")
def fscalar(name=None): return scalar(name, "f32")
def fvector(name=None): return vector(name, "f32")
def fmatrix(name=None): return matrix(name, "f32")
def dscalar(name=None): return scalar(name, "f64")
def dvector(name=None): return vector(name, "f64")
def dmatrix(name=None): return matrix(name, "f64")
def lscalar(name=None): return scalar(name, "i64")
def lvector(name=None): return vector(name, "i64")
def lmatrix(name=None): return matrix(name, "i64")


# ---- the .sym builtins -------------------------------------------------------
_CTX = {"axis": "static", "keepdims": "static", "axes": "static", "depth": "static",
        "dtype": "static", "value": "static", "shape": "shape", "n": "shape", "xs": "tensors",
        "mode": "text", "stride": "static", "window": "static", "ignore_border": "static"}


def _call(name, args, kwargs) -> Variable:
    """Lower `name(*args, **kwargs)` exactly as the .sym checker lowers the call."""
    span = user_span()
    names = SIGS[name].names()
    positional, keywords, moved = [], {}, False
    for i, v in enumerate(args):
        pname = names[i] if i < len(names) else None
        if v is None and pname is not None:
            moved = True            # None means "the default": later ones go by name
        elif moved and pname is not None:
            keywords[pname] = v
        else:
            positional.append((pname, v))
    keywords.update({k: v for k, v in kwargs.items() if v is not None})
    return _built(span, lambda op, ck: ck.call(
        name, [op.arg(v, _CTX.get(p, "tensor")) for p, v in positional],
        [(k, op.arg(v, _CTX.get(k, "tensor")), span) for k, v in keywords.items()], span))


def _builtin(name):
    sig = SIGS[name]

    def f(*args, **kwargs):
        return _call(name, args, kwargs)
    params = [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in sig.positional]
    params += [inspect.Parameter(k, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=v)
               for k, v in sig.optional]
    f.__signature__ = inspect.Signature(params)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"The .sym builtin `{name}` on tensor-API values (same types and errors)."
    return f


# every def builtin of the registry, but `grad` (below, on lists too) and the
# two that would hide Python's own `len` and `bool`
EXPORTED = tuple(n for n in SIGS if n not in ("grad", "len", "bool"))
globals().update({n: _builtin(n) for n in EXPORTED})
__all__ += EXPORTED
dot.__doc__ = "`dot(a, b)` is `a @ b`."  # noqa: F821 (defined just above)


def cast(x, dtype) -> Variable:
    """`cast(x, "f32")`: the .sym casts f32(x), f64(x), i32(x), i64(x), bool(x)."""
    return _call(dtype_name(dtype, user_span()), (x,), {})


# ---- gradients -----------------------------------------------------------------
def grad(cost, wrt):
    """d cost / d wrt: wrt a Variable (input, shared or intermediate) or a
    list of them (then a list comes back). Checked as `.sym`'s grad."""
    span = user_span()
    single = not isinstance(wrt, (list, tuple))
    wrts = [wrt] if single else list(wrt)
    if not isinstance(cost, VariableBase):
        cost = _variable(cost, span)
    for w in wrts:
        if not isinstance(w, VariableBase):
            raise in_user_code(catalog.bad_grad_wrt("not_a_variable", span, got=type(w).__name__))
    nodes = [w.node for w in wrts]
    with errors(span):
        gs = autodiff.grad(cost.node, nodes, [w.label for w in wrts], [span] * len(wrts), span)
    leaves = cost._leaves.union(*(w._leaves for w in wrts))
    out = [Variable(g, leaves) for g in gs]
    return out[0] if single else out


# ---- convolutional nets, under Theano's names ---------------------------------------
POOL_MODES = {"max": "max_pool2d", "average_exc_pad": "mean_pool2d"}


def conv2d(input, filters, border_mode="valid", subsample=(1, 1), filter_flip=True):
    """theano.tensor.nnet.conv2d: a true convolution (the filters flipped);
    filter_flip=False is a cross-correlation (the filters are flipped back in
    the graph, so their height and width must be numbers)."""
    if not filter_flip:
        filters = filters[:, :, ::-1, ::-1]
    return _call("conv2d", (input, filters), {"mode": border_mode, "stride": tuple(subsample)})


def pool_2d(input, ws, ignore_border=True, stride=None, mode="max"):
    """theano.tensor.signal.pool.pool_2d: modes 'max' and 'average_exc_pad'."""
    if mode not in POOL_MODES:
        raise in_user_code(catalog.bad_window_argument("pool_mode", user_span(), mode=mode))
    return _call(POOL_MODES[mode], (input, tuple(ws)),
                 {"stride": None if stride is None else tuple(stride), "ignore_border": ignore_border})


__all__ += ["pool_2d"]

# ---- loops: Theano's scan and what is built on it -------------------------------
def _listed(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _variable(value, span) -> "Variable":
    if isinstance(value, VariableBase):
        return value
    return _built(span, lambda op, ck: op.operand(value))


def _scan_length(seqs, n_steps, span):
    """(length, count node or None, sequences cut to that length). With
    sequences of different lengths the loop runs as long as the first one
    whose length is a size (or the shortest fixed one); the others are cut,
    and a call where one is shorter is an index error."""
    for s in seqs:
        if s.type.rank == 0:
            raise in_user_code(catalog.bad_loop_sequence("scan_sequence", span, type=s.type))
    if seqs:
        dims = [s.type.shape[0] for s in seqs]
        sized = [d for d in dims if not isinstance(d, int)]
        length = sized[0] if sized else min(dims)
        cut = [s if d == length else
               Variable(apply("slice", (s.node,), span, items=(("slice", 0, length, 1, length),)),
                        s._leaves) for s, d in zip(seqs, dims)]
        return length, None, cut
    if n_steps is None:
        raise in_user_code(catalog.bad_loop_count("scan_no_count", span))
    if isinstance(n_steps, (int, np.integer)) and not isinstance(n_steps, bool):
        if n_steps < 0:
            raise in_user_code(catalog.bad_loop_count("scan_cannot_run", span, n=n_steps))
        return int(n_steps), None, []
    counter = _variable(n_steps, span)
    count = counter.node
    if count.type.rank != 0 or not count.type.is_int:
        raise in_user_code(catalog.bad_loop_count("scan_not_scalar", span, type=count.type))
    dim = static_dim(counter)
    if dim is not None:
        return dim, None, []
    if count.type.dtype != "i64":
        count = apply("cast", (count,), span, dtype="i64")
    return run_time_size(), count, []


def scan(fn, sequences=None, outputs_info=None, non_sequences=None, n_steps=None,
         go_backwards=False):
    """Theano's scan: `fn(*elements, *previous outputs, *non_sequences)` once
    per step; returns (outputs, updates) with every output stacked over the
    steps (one Variable, or a list for several) and an empty updates dict.
    An `outputs_info` entry is the initial value of an output fed back to
    the next step (None: not fed back). `fn` may read any other variable."""
    span = user_span()
    seqs = [_variable(s, span) for s in _listed(sequences)]
    infos = [None if i is None else _variable(i, span) for i in _listed(outputs_info)]
    nons = _listed(non_sequences)
    env = sizes_of([v for v in seqs + infos + nons + [n_steps] if isinstance(v, VariableBase)], span)
    with env.transaction() if env is not None else nullcontext():
        length, count, seqs = _scan_length(seqs, n_steps, span)
        step = apply("param", (), span, type=TensorType("i64", ()), name="#step")
        elems = [apply("param", (), span, type=TensorType(s.type.dtype, s.type.shape[1:]), name=f"#x{i}")
                 for i, s in enumerate(seqs)]
        carried = [k for k, i in enumerate(infos) if i is not None]
        priors = [apply("param", (), span, type=infos[k].type, name=f"#h{k}") for k in carried]
        inner = [Variable(p, sizes=env) for p in elems + priors]
        result = fn(*inner, *nons)
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict):
            if result[1]:
                raise in_user_code(catalog.bad_scan_step("updates", span))
            result = result[0]
        outs = [_variable(o, span) for o in _listed(result)]
        # the step may have bound fresh sizes: every node under the new sizes
        if env is not None:
            step, *elems = [env.resolve(p) for p in [step] + elems]
            priors = [env.resolve(p) for p in priors]
        if infos and len(infos) != len(outs):
            raise in_user_code(catalog.bad_scan_step("outputs_info", span, infos=len(infos),
                                                     outs=len(outs), s="s" * (len(outs) != 1)))
        new = []
        for k in carried:
            value = outs[k].node
            if value.type != infos[k].node.type:
                raise in_user_code(catalog.carried_type_changes("scan_output", span, k=k,
                                                                type=infos[k].type, new=value.type))
            new.append(value)
        roots, invariants, inv_params = _close_body(new + [o.node for o in outs],
                                                    [step] + elems + priors)
        body = Body((step, *priors, *elems, *inv_params), tuple(roots))
        inputs = ([count] if count is not None else []) + [infos[k].node for k in carried] \
            + [s.node for s in seqs] + invariants
        with errors(span):
            loop = apply("loop", inputs, span, body=body, carries=len(carried),
                         sequences=len(seqs), length=length, counted=count is not None,
                         reverse=bool(go_backwards), stacks=len(outs))
        inner_set = set(inner)
        leaves = frozenset().union(*(v._leaves for v in seqs + [i for i in infos if i is not None]
                                     + outs + [n for n in nons if isinstance(n, VariableBase)]))
        leaves = frozenset(v for v in leaves if v not in inner_set)
        if count is not None and isinstance(n_steps, VariableBase):
            leaves |= n_steps._leaves
        results = []
        for k in range(len(outs)):
            y = Variable(apply("item", (loop,), span, index=len(carried) + k), leaves, sizes=env)
            results.append(y[::-1] if go_backwards and isinstance(length, int) else
                           _reversed(y, length, span) if go_backwards else y)
    return (results[0] if len(results) == 1 else results), {}


def _reversed(y, length, span):
    """y with axis 0 reversed (Theano's order of a scan run backwards)."""
    index = apply("sub", (apply("sub", (apply("size", (), span, type=TensorType("i64", ()), dim=length),
                                        apply("const", (), span, type=TensorType("i64", ()), value=1)),
                                 span),
                          apply("arange", (), span, type=TensorType("i64", (length,)))), span)
    return Variable(apply("gather", (y.node, index), span), y._leaves, sizes=y._sizes)


def _close_body(roots, params):
    """The body's roots with every outside leaf (an input or shared value
    the step reads) replaced by a param of the body: (roots, the leaves
    as the loop's invariant inputs, their params)."""
    # by name: resolving sizes may have rebuilt a param into an equal copy
    own = {p.attr("name") for p in params}
    outside: dict = {}
    for n in toposort(roots):
        if (n.op == "shared" or n.op == "param" and n.attr("name") not in own) and n not in outside:
            outside[n] = apply("param", (), n.span, type=n.type, name=f"#in{len(outside)}")
    new = rebuild(roots, lambda old, inputs: outside.get(old) if old in outside
                  else (old if inputs == old.inputs else Node(old.op, inputs, old.type, old.attrs, old.span)))
    return new, list(outside), list(outside.values())


def ifelse(cond, a, b) -> "Variable":
    """Theano's lazy ifelse: `a` if the bool scalar `cond` holds, else `b`;
    only the chosen side's graph runs (down to the inputs it reads)."""
    span = user_span()
    cond, a, b = (_variable(v, span) for v in (cond, a, b))
    env = sizes_of([cond, a, b], span)
    if env is None:
        return _call("ifelse", (cond, a, b), {})
    with env.transaction():
        env.unify_exact(a.type.shape, b.type.shape)     # the two sides have one type
        return _call("ifelse", (cond, a, b), {})


def switch(cond, a, b) -> "Variable":
    """Theano's switch: `where(cond, a, b)` elementwise (both sides computed)."""
    return where(cond, a, b)  # noqa: F821 (a builtin exported above)


def disconnected_grad(x) -> "Variable":
    """Theano's disconnected_grad: x, through which no gradient flows."""
    return stop_gradient(x)  # noqa: F821 (a builtin exported above)


def ones_like(x) -> "Variable":
    return _call("ones", (_variable(x, user_span()).shape,), {"dtype": _variable(x, user_span()).dtype})


def zeros_like(x) -> "Variable":
    return _call("zeros", (_variable(x, user_span()).shape,), {"dtype": _variable(x, user_span()).dtype})


def _several(kind, dtype="f32"):
    make = {"scalar": scalar, "vector": vector, "matrix": matrix}[kind]

    def f(names, dtype=dtype):
        return [make(n.strip(), dtype) for n in names.split(",")] if isinstance(names, str) \
            else [make(None, dtype) for _ in range(names)]
    f.__name__ = kind + "s"
    f.__doc__ = f"`{kind}s('a, b')` or `{kind}s(2)`: several {kind} inputs."
    return f


scalars, vectors, matrices = _several("scalar"), _several("vector"), _several("matrix")


def jacobian(y, x) -> "Variable":
    """d y[i] / d x for each i, stacked: a loop over y's elements (y a
    vector), each step a gradient; the result has shape y.shape + x.shape."""
    span = user_span()
    if y.ndim != 1:
        raise in_user_code(catalog.jacobian_of_non_vector(y.type, span))
    rows, _ = scan(lambda i, y, x: grad(y[i], x), sequences=arange(y.shape[0]),  # noqa: F821
                   non_sequences=[y, x])
    return rows


def hessian(cost, x) -> "Variable":
    """The Jacobian of the gradient of a scalar cost: a loop of gradients."""
    return jacobian(grad(cost, x), x)

__all__ += ["scan", "ifelse", "switch", "disconnected_grad", "ones_like", "zeros_like",
            "scalars", "vectors", "matrices", "jacobian", "hessian"]
