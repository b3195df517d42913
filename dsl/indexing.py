"""Indexing inside defs: basic indexing becomes `slice`, integer arrays
become `gather`, and boolean masks are refused (their size is data-dependent).

An index is checked against its axis when the checker knows both; where
the axis (or the index, `p[:, k - 1]`) is known only by name, the access
becomes a `Requirement` on the function's sizes, checked at every call
before anything runs, so no backend ever reads outside a buffer.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import ast as A
from .diagnostics import Note, Span
from . import errors
from .ir import Node, walk
from .scope import SliceItem, Weak, literal_value
from .types import (Dim, Size, TensorType, broadcast_shapes, dim_add, dim_eval, dim_mul,
                    dim_neg, dim_prod, dim_sub)


def lower_index(ck, x: Node, items, span) -> Node:
    """x[items]: each item a `scope.SliceItem` or an argument (`scope.Written`
    from `.sym`, `scope.Given` from Python)."""
    if any(is_new_axis(item) for item in items):
        return with_new_axes(ck, x, items, span)
    if len(items) > x.type.rank:
        raise errors.too_many_indices(len(items), x.type, x.type.rank, span)
    kinds = [classify(ck, item) for item in items]
    if any(k[0] == "array" for k in kinds):
        return gather(ck, x, kinds, span)
    specs = []
    for axis, (kind, value, item) in enumerate(kinds):
        dim = x.type.shape[axis]
        if kind == "int":
            specs.append(("index", check_int(value, dim, axis, item, x)))
        else:
            specs.append(slice_spec(ck, value, dim, item))
    if all(s == ("slice", None, None, None, x.type.shape[i]) for i, s in enumerate(specs)):
        return x
    return ck.apply("slice", (x,), span, items=tuple(specs))


def is_new_axis(item) -> bool:
    return item.ident() == "none"


def with_new_axes(ck, x: Node, items, span) -> Node:
    """`b[none, :, none, none]`: numpy's None, an axis of size 1 at each
    `none` (how a bias of one value per channel meets f[n, c, h, w])."""
    rest = tuple(item for item in items if not is_new_axis(item))
    if any(not isinstance(item, SliceItem) and classify(ck, item)[0] == "array" for item in rest):
        raise errors.new_axis_with_index_arrays(span)
    y = lower_index(ck, x, rest, span) if rest else x
    shape, kept = [], iter(y.type.shape)
    for item in items:
        if is_new_axis(item):
            shape.append(1)
        elif isinstance(item, SliceItem):
            shape.append(next(kept))
    shape += list(kept)
    return ck.apply("reshape", (y,), span, type=y.type.with_shape(shape))


def classify(ck, item):
    """("slice", Slice) | ("int", const) | ("array", node)."""
    if isinstance(item, SliceItem):
        window = None if item.ast is None else dynamic_window(ck, item.ast)
        return ("slice", item, item) if window is None else ("array", window, item)
    value = item.literal()
    if isinstance(value, int) and not isinstance(value, bool):
        return ("int", value, item)
    v = item.evaluate(ck)
    if isinstance(v, Weak):
        if isinstance(v.value, int) and not isinstance(v.value, bool):
            return ("int", v.value, item)        # folded from literals: `2 - 3`
        raise errors.non_integer_index("constant", item.span, value=v.value)
    node = ck.tensor(v, item.span)
    dim = size_index(node)
    if dim is not None:
        return ("int", dim, item)                # computed from sizes: `k - 1`
    if node.type.dtype == "bool":
        raise errors.mask_indexing(node.type, item.span)
    if node.type.dtype not in ("i32", "i64"):
        raise errors.non_integer_index("value", item.span, type=node.type)
    return ("array", node, item)


def dynamic_window(ck, s: A.Slice) -> Node | None:
    """`X[a : a + L]` with a computed start and a static length L (a
    literal, option or size): the indices a, a+1, ..., a+L-1 as an i64
    array, gathered and bounds-checked like any index array. None for
    any other slice."""
    if s.start is None or s.step is not None or literal_value(s.start) is not None:
        return None
    if not (isinstance(s.stop, A.BinOp) and s.stop.op == "+" and s.stop.left == s.start):
        return None
    start = ck.tensor(ck.expr(s.start), s.start.span)
    if size_index(start) is not None or start.type.rank != 0 or start.type.dtype not in ("i32", "i64"):
        return None
    length = ck.expr(s.stop.right)
    if isinstance(length, Weak) and isinstance(length.value, int) and not isinstance(length.value, bool):
        length = length.value
    else:
        length = size_index(ck.tensor(length, s.stop.right.span))
        if length is None:
            return None
    if start.type.dtype != "i64":
        start = ck.apply("cast", (start,), s.start.span, dtype="i64")
    steps = ck.apply("arange", (), s.span, type=TensorType("i64", (length,)))
    return ck.apply("add", (start, steps), s.span)


def size_index(node: Node, size_of=lambda dim: dim) -> Dim | None:
    """The dimension an integer scalar of sizes and constants stands for
    (`k - 1`, `len(x) - 1`, `2 * n`), or None when it depends on data.
    `size_of` maps the dimension a `size` node holds (the tensor API
    substitutes sizes it has since unified)."""
    if node.type.rank != 0 or node.type.dtype not in ("i32", "i64"):
        return None
    if node.op == "size":
        return size_of(node.attr("dim"))
    if node.op == "const":
        value = node.attr("value")
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if node.op == "cast":
        return size_index(node.inputs[0], size_of)
    if node.op == "neg":
        d = size_index(node.inputs[0], size_of)
        return None if d is None else dim_neg(d)
    combine = {"add": dim_add, "sub": dim_sub, "mul": dim_mul}.get(node.op)
    if combine is None:
        return None
    a, b = (size_index(i, size_of) for i in node.inputs)
    return None if a is None or b is None else combine(a, b)


def check_int(i: Dim, dim: Dim, axis: int, item, x: Node) -> Dim:
    """A constant index (or one computed from sizes) checked now where the
    checker can tell; the rest becomes a requirement of the function."""
    position = index_position(i, dim)
    if is_negative(position) or is_negative(dim_sub(dim_sub(dim, 1), position)):
        shown = f"index {i}" if isinstance(i, int) else f"index `{i}`"
        valid = f"{-dim}..{dim - 1}" if isinstance(dim, int) and isinstance(i, int) \
            else f"0..{dim_sub(dim, 1)}"
        raise errors.constant_index_out_of_range("index", item.span, shown=shown, axis=axis,
                                                 dim=dim, type=x.type, valid=valid)
    return i


def index_position(i: Dim, dim: Dim) -> Dim:
    """The position an index reads: a negative literal counts from the end;
    an index computed from sizes never does (its sign is not known here)."""
    return dim_add(dim, i) if isinstance(i, int) and i < 0 else i


def is_negative(d: Dim) -> bool:
    """True when d < 0 for every value of its sizes (which are >= 0):
    `-1`, `-n - 1`."""
    if isinstance(d, int):
        return d < 0
    constant = dict(d.terms).get((), 0)
    return constant < 0 and all(coeff <= 0 for _, coeff in d.terms)


def never_negative(d: Dim) -> bool:
    """True when d >= 0 for every value of its sizes (which are >= 0)."""
    if isinstance(d, int):
        return d >= 0
    return all(coeff >= 0 for _, coeff in d.terms)


def slice_bound(ck, e, what):
    if e is None:
        return None
    value = e.literal()
    if not isinstance(value, int) or isinstance(value, bool):
        raise errors.not_a_constant("slice_integer_literal", e.span, what=what)
    return value


def slice_spec(ck, s: SliceItem, dim: Dim, item):
    start = slice_bound(ck, s.start, "start")
    stop = slice_bound(ck, s.stop, "stop")
    step = slice_bound(ck, s.step, "step")
    if step == 0:
        raise errors.not_a_constant("slice_step_cannot", s.span)
    if isinstance(dim, int):
        length = clamped_length(start, stop, step, dim)
    else:
        length = symbolic_length(start, stop, step, dim, s)
    return ("slice", start, stop, step, length)


def clamped_length(start, stop, step, dim: int) -> int:
    """len(range(dim)[start:stop:step]), for numbers of any size (len of a
    range overflows past 2**63)."""
    first, end, step = slice(start, stop, step).indices(dim)
    return max(0, -(-(end - first) // step))


def symbolic_length(start, stop, step, dim: Size, s) -> Dim:
    """Length of a slice of a dimension known only by name."""
    if step not in (None, 1):
        raise errors.unsupported_indexing("stepped_slice_size", s.span, dim=dim)
    start = start or 0
    if stop is None:
        return dim_sub(dim, start) if start >= 0 else -start
    if start >= 0 and stop >= 0:
        return max(0, stop - start)
    if start >= 0 and stop < 0:
        return dim_sub(dim_sub(dim, -stop), start)
    raise errors.unsupported_indexing("slice_size_has", s.span, dim=dim)


def gather(ck, x: Node, kinds, span) -> Node:
    """x[i, j] with integer arrays on the leading axes; trailing `:` kept."""
    arrays = []
    for axis, (kind, value, item) in enumerate(kinds):
        if kind == "array":
            if len(arrays) != axis:
                raise errors.unsupported_indexing("integer_array_indices", item.span)
            arrays.append(value)
        elif kind == "int":
            if len(arrays) != axis:
                raise errors.unsupported_indexing("mixing_integer_arrays", item.span)
            check_int(value, x.type.shape[axis], axis, item, x)
            arrays.append(ck.size_node(value, item.span) if isinstance(value, Size) else
                          ck.apply("const", (), item.span, type=TensorType("i64", ()), value=value))
        elif not (value.start is None and value.stop is None and value.step is None):
            raise errors.unsupported_indexing("slice_after_integer", item.span)
    return ck.apply("gather", (x, *arrays), span)


# ---- requirements: accesses checked at each call ------------------------------
@dataclass(frozen=True)
class Requirement:
    """An access to positions first..last of an axis of size `dim`, made by
    the indexing expression at `span`. Where these are known only by name,
    every call checks them with its sizes before anything runs. `count` is
    how many indices a gather reads (none read, nothing to check)."""
    what: str            # "index 5", "index `k - 1`", "slice 0:4096", "an index"
    index: Dim | None    # the index computed from sizes, shown with its value
    first: Dim
    last: Dim
    axis: int
    dim: Dim
    span: Span | None
    count: Dim = 1

    def conditions(self) -> tuple[Dim, ...]:
        """Each must be >= 0: a length that is not negative, and when
        anything is read, a first position >= 0 and a last one < dim."""
        length = dim_add(dim_sub(self.last, self.first), 1)
        if length == 0:
            return (0,)         # an empty slice reads nothing
        return (length, self.first, dim_sub(dim_sub(self.dim, 1), self.last))

    def violation(self, sizes: dict) -> tuple[str, str] | None:
        """(message, help) when the access is outside its axis for these sizes."""
        if dim_eval(self.count, sizes) <= 0:
            return None
        first, last, dim = (dim_eval(d, sizes) for d in (self.first, self.last, self.dim))
        length = last - first + 1
        if length >= 0 and (length == 0 or (first >= 0 and last < dim)):
            return None
        shown = self.what
        if self.index is not None:
            shown += f" = {dim_eval(self.index, sizes)}"
        size = f"{self.dim} = {dim}" if isinstance(self.dim, Size) else str(dim)
        return (f"{shown} is out of range for axis {self.axis} of size {size}",
                self.hint(first, last, dim))

    def variables(self) -> set:
        """The size variables the check needs."""
        return set().union(*(d.variables() for d in (self.first, self.last, self.dim, self.count)
                             if isinstance(d, Size)))

    def hint(self, first: int, last: int, dim: int) -> str:
        known = all(isinstance(d, int) for d in (self.first, self.last, self.dim))
        where = "" if known else " with these arguments"
        if dim == 0:
            return f"the axis is empty{where}: no index is in range"
        if self.what.startswith("slice"):
            missing = max(-first, last + 1 - dim, first - last - 1)
            return f"the slice needs {dim + missing} elements on this axis, it has {dim}"
        if self.index is None:
            return f"valid indices are {-dim}..{dim - 1}{where}"
        return (f"valid indices are 0..{dim - 1}{where} (an index computed from sizes "
                "does not count from the end)")

    def static_check(self) -> None:
        """Fail now when the access is outside its axis for every size."""
        if not isinstance(self.count, int) or self.count <= 0:
            return
        if not any(is_negative(c) for c in self.conditions()):
            return
        if all(isinstance(d, int) for d in (self.first, self.last, self.dim)):
            message, hint = self.violation({})
            raise errors.constant_index_out_of_range("requirement", self.span, hint,
                                                     message=message)
        raise errors.constant_index_out_of_range("bound", self.span, what=self.what, axis=self.axis,
                                                 dim=self.dim, last=dim_sub(self.dim, 1))


def index_requirements(roots) -> tuple[Requirement, ...]:
    """The accesses of a function's graph that its sizes decide, before any
    rewrite (so none is lost); statically impossible ones fail here."""
    found: dict = {}
    for n in walk(roots):           # loop bodies too
        for r in node_requirements(n):
            r.static_check()
            if not all(never_negative(c) for c in r.conditions()):
                found.setdefault((r.conditions(), r.count, r.what, r.axis), r)
    return tuple(found.values())


def node_requirements(n: Node):
    if n.op in ("slice", "unslice"):
        shape = (n.inputs[0] if n.op == "slice" else n).type.shape
        for axis, (item, dim) in enumerate(zip(n.attr("items"), shape)):
            r = item_requirement(item, dim, axis, n.span)
            if r is not None:
                yield r
    elif n.op in ("gather", "scatter_add"):
        shape = (n.inputs[0] if n.op == "gather" else n).type.shape
        arrays = n.inputs[1:]
        index_shape: tuple = ()
        for a in arrays:
            index_shape = broadcast_shapes(index_shape, a.type.shape)
        count = dim_prod(index_shape)
        for axis, (a, dim) in enumerate(zip(arrays, shape)):
            i = size_index(a)
            if i is not None:       # a constant or size index among the arrays
                yield index_requirement(i, dim, axis, n.span, count)
            else:                   # data: checked as it is read, if the axis has any element
                yield Requirement("an index", None, 0, 0, axis, dim, n.span, count)


def index_requirement(i: Dim, dim: Dim, axis: int, span, count: Dim = 1) -> Requirement:
    position = index_position(i, dim)
    if isinstance(i, int):
        return Requirement(f"index {i}", None, position, position, axis, dim, span, count)
    return Requirement(f"index `{i}`", i, position, position, axis, dim, span, count)


def item_requirement(item, dim: Dim, axis: int, span) -> Requirement | None:
    if item[0] == "index":
        return index_requirement(item[1], dim, axis, span)
    _, start, stop, step, length = item
    if isinstance(dim, int) and all(isinstance(b, (int, type(None))) for b in (start, stop, step)):
        if clamped_length(start, stop, step, dim) == length:
            return None     # clamped into its axis, as in Python: always in range
        # else it was typed while its axis was known only by name (the tensor API)
    text = f"slice {bound_text(start)}:{bound_text(stop)}" + (f":{step}" if step not in (None, 1) else "")
    first = 0 if start is None else index_position(start, dim)
    last = dim_add(first, dim_sub(length, 1))     # such slices have step 1
    return Requirement(text, None, first, last, axis, dim, span)


def bound_text(b) -> str:
    return "" if b is None else str(b)


def requirement_error(fn, sizes: dict, span):
    """The E0603 of the first index or slice of `fn` outside its axis with
    these sizes, or None. The run (before any backend) and `sym check` (for
    calls whose shapes it knows) give the same text from here."""
    for r in fn.requirements:
        if not r.variables() <= set(sizes):
            continue
        problem = r.violation(sizes)
        if problem is not None:
            message, hint = problem
            return errors.index_out_of_range("in_call", r.span or span, hint,
                                             [Note("called here", span)] if span and r.span else [],
                                             message=message, name=fn.name)
    return None
