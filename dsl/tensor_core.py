"""Plumbing of the tensor API (dsl/tensor.py): where the user is, errors,
fresh size variables and their unification, and lowering through the checker.

Every graph the tensor API builds goes through the builder the `.sym`
checker's AST walker calls (`BodyChecker.binary`, `.unary`, `.index`,
`.call`): `dsl.sum(x, axis=1)` is `call("sum", [x's node], [("axis", 1)])`,
so typing, weak literals, axis normalisation and diagnostics are those of
`.sym`. The span of every node (and of every diagnostic) is the user's
Python line.

Fresh sizes. `dsl.vector()` has the type f32[n1] with a *fresh* size `n1`.
When two dimensions meet in an op the builder makes (an elementwise op, a
matmul, a concat, index arrays, a reshape; see `SizeEnv.meet`) or in an
update, and one of them is a fresh size, the fresh size is bound to the
other dimension, like Theano's types that are fixed once they meet. The
bindings are a substitution of the program's `SizeEnv`, which the Variables
of one graph share (`dsl.graph()` starts another program). Nodes are
immutable, so a Variable keeps the node it was built with and
`SizeEnv.resolve` rebuilds that graph under the current substitution,
memoised per substitution generation. Named sizes (from
`dsl.tensor(shape=("n", 784))`) are never bound: they behave as in `.sym`.
"""
from __future__ import annotations

import dataclasses
import gc
import linecache
import os
import sys
import warnings
import weakref
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

from . import ast as A
from . import errors as catalog
from .build import apply
from .checker import BodyChecker, Globals, WeakTensor, substitute
from .diagnostics import SOURCES, Diagnostic, Span, SymError, register_source
from .indexing import size_index
from .ir import Body, Node
from .literals import literal_overflow
from .ops import ELEMENTWISE, Op
from .scope import Given, GivenList, Ident, Weak
from .types import DTYPES, FROM_NUMPY, NotDivisible, Size, TensorType, TupleType, dim_floordiv, dim_prod

# ---- where the user is ----------------------------------------------------
_DSL_DIR = os.path.dirname(os.path.abspath(__file__))
_SKIP_DIRS = (_DSL_DIR + os.sep, os.path.join(os.path.dirname(_DSL_DIR), "runtime") + os.sep)
_INSIDE: dict[str, bool] = {}


def _inside(filename: str) -> bool:
    hit = _INSIDE.get(filename)
    if hit is None:
        hit = _INSIDE[filename] = os.path.abspath(filename).startswith(_SKIP_DIRS)
    return hit


def user_span() -> Span | None:
    """The span of the first frame outside the dsl/ and runtime/ packages:
    the user's line, from its first non-blank column to its end."""
    frame = sys._getframe(1)
    while frame is not None and _inside(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return None
    filename, line = frame.f_code.co_filename, frame.f_lineno
    text = linecache.getline(filename, line).rstrip("\r\n")
    start = len(text) - len(text.lstrip()) + 1
    return Span(filename, line, start, line, max(len(text) + 1, start + 1))


# ---- errors ---------------------------------------------------------------
def _register(span: Span | None) -> None:
    if span is None or span.file in SOURCES:
        return
    text = "".join(linecache.getlines(span.file))
    if text:
        register_source(span.file, text)


def located(diagnostics, span: Span | None) -> SymError:
    """A SymError of these diagnostics, spans defaulting to `span`, with the
    user's source registered so the rendered text quotes the line."""
    out = []
    for d in diagnostics:
        if d.span is None and span is not None:
            d = dataclasses.replace(d, span=span)
        _register(d.span)
        for note in d.notes:
            _register(note.span)
        out.append(d)
    return SymError(out)


def in_user_code(err: SymError) -> SymError:
    """`err`, a constructor's (dsl/errors.py), with the user's source
    registered so its text quotes the user's line."""
    return located(err.diagnostics, None)


@contextmanager
def errors(span: Span | None):
    """Turn every error of the compiler core into a located SymError."""
    try:
        yield
    except SymError as e:
        raise located(e.diagnostics, span) from None


class SymWarning(UserWarning):
    """A checker warning (W0201, both operands stretched) from the tensor API;
    `.diagnostic` holds the data."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.render())
        self.diagnostic = diagnostic


def warn(d: Diagnostic) -> None:
    _register(d.span)
    w = SymWarning(d)
    if d.span is None:
        warnings.warn(w, stacklevel=3)
    else:
        warnings.warn_explicit(w, SymWarning, d.span.file, d.span.line)


# ---- names of leaves --------------------------------------------------------
# node name -> the live Variable that owns it; a name is free again once
# nothing refers to its Variable (so test after test can call a value `x`)
LEAF_NAMES: "weakref.WeakValueDictionary[str, object]" = weakref.WeakValueDictionary()


def unique_name(base: str) -> str:
    """base, or base_2, base_3... while a live Variable holds base. Dead
    Variables in reference cycles (a traceback, an eval cache) are collected
    first, so a name is reused once nothing can reach its old owner."""
    if base in LEAF_NAMES:
        gc.collect()
    if base not in LEAF_NAMES:
        return base
    k = 2
    while f"{base}_{k}" in LEAF_NAMES:
        k += 1
    return f"{base}_{k}"


# ---- fresh sizes and their unification ------------------------------------
class SizeEnv:
    """The size environment of one program being built: the fresh sizes made,
    the size names users wrote, the substitution of bound fresh sizes (kept
    fully resolved), its generation (bumped on every change) and the graphs
    rebuilt under it. The Variables of one graph share one; `dsl.graph()`
    starts a new one."""

    def __init__(self):
        self.fresh: set[str] = set()
        self.user: set[str] = set()
        self.subst: dict[str, object] = {}
        self.generation = 0
        self.next = 1
        self.rebuilt: dict[int, tuple[Node, Node]] = {}

    def changed(self) -> None:
        self.generation += 1
        self.rebuilt.clear()

    def fresh_size(self) -> Size:
        while True:
            name = f"n{self.next}"
            self.next += 1
            if name not in self.user and name not in self.fresh:
                self.fresh.add(name)
                return Size.var(name)

    def subst_dim(self, d):
        subst = self.subst
        if isinstance(d, int) or not subst or not (d.variables() & subst.keys()):
            return d
        return substitute(d, subst)

    def subst_type(self, t: TensorType) -> TensorType:
        if not self.subst:
            return t
        if isinstance(t, TupleType):        # a loop's results
            return TupleType(tuple(self.subst_type(e) for e in t.elts))
        return TensorType(t.dtype, tuple(self.subst_dim(d) for d in t.shape))

    def subst_attr(self, v):
        if isinstance(v, Body):         # a loop's body: its types follow the sizes too
            return Body(tuple(self.resolve(p) for p in v.params), tuple(self.resolve(r) for r in v.roots))
        if isinstance(v, Size):
            return self.subst_dim(v)
        if isinstance(v, tuple):
            return tuple(self.subst_attr(x) for x in v)
        return v

    def fresh_var(self, d) -> str | None:
        if isinstance(d, Size):
            v = d.single_var()
            if v in self.fresh and v not in self.subst:
                return v
        return None

    def bind(self, var: str, d) -> None:
        subst = self.subst
        for k, v in list(subst.items()):
            if isinstance(v, Size) and var in v.variables():
                subst[k] = substitute(v, {var: d})
        subst[var] = d
        self.changed()

    @contextmanager
    def transaction(self):
        """Undo the unifications made inside when it raises: a failed operation
        leaves every variable's type as it was."""
        saved = self.snapshot()
        try:
            yield
        except BaseException:
            self.restore(saved)
            raise

    def snapshot(self):
        return dict(self.subst), self.generation

    def restore(self, snapshot) -> None:
        saved, gen = snapshot
        if self.generation != gen:
            self.subst.clear()
            self.subst.update(saved)
            self.changed()

    def unify(self, a, b) -> None:
        """Make two dimensions equal by binding a fresh size, where one is."""
        a, b = self.subst_dim(a), self.subst_dim(b)
        if a == b:
            return
        va, vb = self.fresh_var(a), self.fresh_var(b)
        if vb is not None and not (isinstance(a, Size) and vb in a.variables()):
            self.bind(vb, a)
        elif va is not None and not (isinstance(b, Size) and va in b.variables()):
            self.bind(va, b)

    def meet(self, op, shapes, type, attrs) -> None:
        """The dimensions an op makes equal: elementwise operands (broadcast),
        a matmul's inner pair, a concat's other axes, index arrays, and a
        reshape's element count."""
        if op in ELEMENTWISE:
            self.unify_broadcast(shapes)
        elif op == Op.MATMUL and len(shapes) == 2:
            self.unify_matmul(*shapes)
        elif op == Op.CONCAT:
            self.unify_except(shapes, attrs["axis"])
        elif op == Op.GATHER:
            self.unify_broadcast(shapes[1:])
        elif op == Op.RESHAPE:
            self.unify_reshape(shapes[0], type.shape)

    def unify_broadcast(self, shapes) -> None:
        """Dimensions that line up under broadcasting (from the right), 1s aside."""
        shapes = [tuple(s) for s in shapes if s is not None]
        for k in range(1, max((len(s) for s in shapes), default=0) + 1):
            column = [s[-k] for s in shapes if len(s) >= k]
            column = [d for d in column if self.subst_dim(d) != 1]
            for d in column[1:]:
                self.unify(column[0], d)

    def unify_matmul(self, a, b) -> None:
        if a is not None and b is not None and 1 <= len(a) <= 2 and 1 <= len(b) <= 2:
            self.unify(a[-1], b[0])

    def unify_except(self, shapes, axis) -> None:
        """All dimensions but `axis` (concat)."""
        shapes = [tuple(s) for s in shapes if s is not None]
        if not shapes or any(len(s) != len(shapes[0]) for s in shapes):
            return
        for i in range(len(shapes[0])):
            if i != axis:
                for s in shapes[1:]:
                    self.unify(shapes[0][i], s[i])

    def unify_exact(self, a, b) -> None:
        if a is not None and b is not None and len(a) == len(b):
            for x, y in zip(a, b):
                self.unify(x, y)

    def unify_reshape(self, source, target) -> None:
        """`x.reshape((n, 1, 28, 28))` of an f32[n, n2] matrix binds n2 = 784:
        one fresh size of the source, solved from the element counts once the
        dimensions both sides share are set aside."""
        if source is None:
            return
        others, rest = [self.subst_dim(d) for d in source], [self.subst_dim(d) for d in target]
        for d in list(others):
            if d in rest:
                others.remove(d)
                rest.remove(d)
        fresh = [d for d in others if self.fresh_var(d) is not None]
        if len(fresh) != 1:
            return
        others.remove(fresh[0])
        count = dim_prod(others)
        if isinstance(count, int) and count > 0:
            try:
                self.unify(fresh[0], dim_floordiv(dim_prod(rest), count))
            except NotDivisible:
                pass        # the checker reports the element counts

    def resolve(self, node: Node) -> Node:
        """node's graph under the current substitution (identity when unchanged)."""
        if not self.subst:
            return node
        cache = self.rebuilt
        hit = cache.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        stack = [(node, False)]
        while stack:
            n, expanded = stack.pop()
            hit = cache.get(id(n))
            if hit is not None and hit[0] is n:
                continue
            if not expanded:
                stack.append((n, True))
                stack.extend((i, False) for i in reversed(n.inputs))
                continue
            inputs = tuple(cache[id(i)][1] for i in n.inputs)
            t, attrs = self.subst_type(n.type), self.subst_attr(n.attrs)
            if t == n.type and attrs == n.attrs and all(a is b for a, b in zip(inputs, n.inputs)):
                new = n
            else:
                new = apply(n.op, inputs, n.span, type=t, **dict(attrs))
            cache[id(n)] = (n, new)
            cache[id(new)] = (new, new)
        return cache[id(node)][1]

    def static_dim(self, node: Node):
        """The dimension an i64 scalar graph of sizes and constants stands for
        (`x.shape[0]`, `x.shape[0] * 2`), or None when it depends on data."""
        return size_index(node, self.subst_dim)


# the program being built: where new inputs take their sizes; the Python API
# builds one program unless `dsl.graph()` starts another
_CURRENT: ContextVar[SizeEnv] = ContextVar("sizes", default=SizeEnv())


def current_sizes() -> SizeEnv:
    return _CURRENT.get()


@contextmanager
def graph():
    """`with dsl.graph():` the inputs made inside belong to a new program: a
    size environment of their own (fresh sizes from n1, bound only by what
    they meet). Variables of two programs do not mix (E1005); shared values,
    constants and inputs of fixed shapes belong to every program."""
    token = _CURRENT.set(SizeEnv())
    try:
        yield _CURRENT.get()
    finally:
        _CURRENT.reset(token)


def sizes_of(variables, span) -> SizeEnv | None:
    """The one size environment of these variables (None: none has sizes);
    variables of two programs are refused."""
    found = None
    for v in variables:
        found = joined(found, v, span)
    return found


def joined(found: SizeEnv | None, v, span) -> SizeEnv | None:
    env = v._sizes
    if env is not None and found is not None and env is not found:
        raise in_user_code(catalog.bad_api_argument("two_programs", span, label=v.label))
    return env or found


def static_dim(value):
    """The dimension a Variable of sizes and constants stands for, or None."""
    return size_index(value.node) if value._sizes is None else value._sizes.static_dim(value.node)


# ---- values the user passes ------------------------------------------------
class VariableBase:
    """What the lowering needs of a Variable (dsl/tensor.py adds the rest)."""

    def __init__(self, node: Node, leaves=frozenset(), name: str | None = None, sizes=None):
        self._node = node
        self._deps = frozenset(leaves)      # the leaf Variables its graph reads
        self._name = name
        # the size environment of its program: given, else its leaves'
        # (None: nothing in its graph has a size that may still be bound)
        self._sizes = sizes if sizes is not None else next(
            (v._sizes for v in self._deps if v._sizes is not None), None)

    @property
    def _leaves(self) -> frozenset:
        """Leaf Variables (inputs, shareds) of the graph; a leaf is its own,
        computed here so that a leaf holds no reference to itself."""
        if self._node.op in ("param", "shared"):
            return self._deps | {self}
        return self._deps

    @property
    def node(self) -> Node:
        return self._node if self._sizes is None else self._sizes.resolve(self._node)

    @property
    def type(self) -> TensorType:
        """The static type, e.g. f32[n1, 784]."""
        return self.node.type

    def __hash__(self):
        return id(self)


def describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"a numpy array of dtype {value.dtype}"
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"a {type(value).__name__}"


def numpy_type(value, span) -> str:
    dtype = np.asarray(value).dtype
    name = FROM_NUMPY.get(dtype.name)
    if name is None:
        raise in_user_code(catalog.not_a_tensor("numpy_dtype", span, dtype=dtype))
    return name


def const_node(value, span) -> Node:
    """A numpy array or numpy scalar as a constant of exactly its dtype."""
    array = np.asarray(value)
    dtype = numpy_type(array, span)

    def tup(v):
        return tuple(tup(x) for x in v) if isinstance(v, list) else v
    return apply("const", (), span, type=TensorType(dtype, array.shape), value=tup(array.tolist()))


def dtype_name(dtype, span) -> str:
    if isinstance(dtype, str) and dtype in DTYPES:
        return dtype
    try:
        key = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    except TypeError:
        key = None
    name = FROM_NUMPY.get(key) if key is not None else None
    if name is None:
        raise in_user_code(catalog.invalid_type("unknown_numpy_dtype", span, dtype=dtype))
    return name


_HOST_DEF = A.Def(A.Name("<python>"), (), A.TensorTypeExpr("f32", ()), ())


class GraphChecker(BodyChecker):
    """The checker's builder as the tensor API drives it. Where an op makes
    two dimensions meet and one is a fresh size of the operation's program,
    the size is bound first (`SizeEnv.meet`); the op is then typed on its
    inputs under the new sizes."""

    def __init__(self, operation: "Operation"):
        super().__init__(Globals({}, {}, {}, warn), _HOST_DEF, {}, {}, (), False)
        self.operation = operation

    def apply(self, op, inputs, span, type=None, **attrs) -> Node:
        env = self.operation.sizes
        if env is not None:
            env.meet(op, [getattr(i.type, "shape", None) for i in inputs], type, attrs)
            inputs = [env.resolve(i) for i in inputs]
            type = None if type is None else env.subst_type(type)
        return super().apply(op, inputs, span, type, **attrs)


class Operation:
    """One user-level operation: its Python arguments given, already
    evaluated, to the checker's builder (`BodyChecker.binary`, `.call`,
    `.index`), which types it exactly as the `.sym` checker would."""

    def __init__(self, span: Span | None):
        self.span = span
        self.leaves: set = set()
        self.sizes: SizeEnv | None = None   # its program's: those of the variables it reads
        self.saved = None                   # their bindings before it began
        self.checker = GraphChecker(self)

    def node(self, build, dtype: str | None = None) -> Node:
        """build(operation, checker) -> a value, as a node, with every error
        located at the user; a failure undoes the sizes it bound."""
        try:
            with errors(self.span):
                return self.checker.tensor(build(self, self.checker), self.span, dtype)
        except BaseException:
            if self.saved is not None:
                self.sizes.restore(self.saved)
            raise

    def arg(self, value, ctx: str = "tensor") -> Given:
        """A Python value as an argument of the builder. ctx: "tensor" (an
        operand), "tensors" (a tuple of operands), "static" (axis, keepdims,
        dtype, a literal), "shape" (a shape or a size), "text" (a string)."""
        return Given(self.lift(value, ctx), self.span)

    def operand(self, value):
        return self.arg(value).evaluate(self.checker)

    def lift(self, value, ctx: str):
        span = self.span
        if isinstance(value, VariableBase):
            self.leaves |= value._leaves
            if self.sizes is None and value._sizes is not None:
                self.saved = value._sizes.snapshot()   # before anything is bound
            self.sizes = joined(self.sizes, value, span)
            node = value.node
            if ctx in ("static", "shape"):
                dim = static_dim(value)
                if isinstance(dim, int):
                    return Weak(dim, span)
                if dim is not None:
                    return dim
                if ctx == "shape":
                    raise in_user_code(catalog.shape_not_static("computed_from_data", span,
                                                                type=node.type))
            return node
        if isinstance(value, (bool, np.bool_)) and (ctx != "tensor" or isinstance(value, bool)):
            return Weak(bool(value), span)
        if isinstance(value, (int, float)) and not isinstance(value, np.generic):
            number = Weak(value, span)
            literal_overflow(number)
            return number
        if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and ctx != "tensor"
                                             and value.ndim == 0):
            if ctx != "tensor":
                return self.lift(value.item(), ctx)
            return const_node(value, span)
        if isinstance(value, np.ndarray):
            return const_node(value, span)
        if isinstance(value, str) and ctx == "text":     # mode="full"
            return value
        if isinstance(value, str) and ctx == "static":
            return Ident(dtype_name(value, span))
        if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
            return Ident(dtype_name(value, span))
        if isinstance(value, (tuple, list)):
            if ctx == "tensor":         # a list literal, weak like the numbers in it
                return WeakTensor(self.rows(value))
            return tuple(self.lift(x, "tensor" if ctx == "tensors" else ctx) for x in value)
        raise in_user_code(catalog.not_a_tensor("python_value", span, what=describe(value)))

    def rows(self, value) -> GivenList:
        return GivenList(tuple(self.rows(x) if isinstance(x, (tuple, list)) else self.arg(x)
                               for x in value), self.span)
