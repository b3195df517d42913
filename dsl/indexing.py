"""Indexing inside defs: basic indexing becomes `slice`, integer arrays
become `gather`, and boolean masks are refused (their size is data-dependent)."""
from __future__ import annotations

from . import ast as A
from .ir import Node
from .scope import Weak, fail, literal_value
from .types import Dim, Size, TensorType, dim_sub


def lower_index(ck, x: Node, e: A.Index) -> Node:
    items = e.indices
    if len(items) > x.type.rank:
        fail("E0303", f"too many indices: {len(items)} for {x.type} (rank {x.type.rank})", e.span,
             "index at most one position per dimension")
    kinds = [classify(ck, item) for item in items]
    if any(k[0] == "array" for k in kinds):
        return gather(ck, x, kinds, e)
    specs = []
    for axis, (kind, value, item) in enumerate(kinds):
        dim = x.type.shape[axis]
        if kind == "int":
            specs.append(("index", check_int(value, dim, axis, item, x)))
        else:
            specs.append(slice_spec(ck, value, dim, item))
    if all(s == ("slice", None, None, None, x.type.shape[i]) for i, s in enumerate(specs)):
        return x
    return ck.apply("slice", (x,), e.span, items=tuple(specs))


def classify(ck, item):
    """("slice", Slice) | ("int", const) | ("array", node)."""
    if isinstance(item, A.Slice):
        return ("slice", item, item)
    value = literal_value(item)
    if isinstance(value, int) and not isinstance(value, bool):
        return ("int", value, item)
    v = ck.expr(item)
    if isinstance(v, Weak):
        fail("E0304", f"an index must be an integer, got {v.value!r}", item.span)
    node = ck.tensor(v, item.span)
    if node.type.dtype == "bool":
        fail("E0301", f"boolean mask indexing is not supported: the mask has type {node.type} "
             "and the result's size would depend on the data", item.span,
             "keep the shape static: `where(mask, x, 0.0)`, or reduce with the mask: "
             "`sum(where(mask, x, 0.0))`")
    if node.type.dtype not in ("i32", "i64"):
        fail("E0304", f"an index must be an integer, got {node.type}", item.span,
             "cast it: `i32(...)`")
    return ("array", node, item)


def check_int(i: int, dim: Dim, axis: int, item, x: Node) -> int:
    if isinstance(dim, int) and not -dim <= i < dim:
        fail("E0302", f"index {i} is out of range for axis {axis} of size {dim} ({x.type})",
             item.span, f"valid indices are {-dim}..{dim - 1}")
    return i


def slice_bound(ck, e, what):
    if e is None:
        return None
    value = literal_value(e)
    if not isinstance(value, int) or isinstance(value, bool):
        fail("E0213", f"the {what} of a slice must be an integer literal", e.span)
    return value


def slice_spec(ck, s: A.Slice, dim: Dim, item):
    start = slice_bound(ck, s.start, "start")
    stop = slice_bound(ck, s.stop, "stop")
    step = slice_bound(ck, s.step, "step")
    if step == 0:
        fail("E0213", "a slice step cannot be zero", s.span)
    if isinstance(dim, int):
        length = len(range(*slice(start, stop, step).indices(dim)))   # any size of bound
    else:
        length = symbolic_length(start, stop, step, dim, s)
    return ("slice", start, stop, step, length)


def symbolic_length(start, stop, step, dim: Size, s) -> Dim:
    """Length of a slice of a dimension known only by name."""
    if step not in (None, 1):
        fail("E0305", f"a stepped slice of the size `{dim}` is not supported", s.span,
             "reshape first, or slice a dimension of known size")
    start = start or 0
    if stop is None:
        return dim_sub(dim, start) if start >= 0 else -start
    if start >= 0 and stop >= 0:
        return max(0, stop - start)
    if start >= 0 and stop < 0:
        return dim_sub(dim_sub(dim, -stop), start)
    fail("E0305", f"this slice of the size `{dim}` has no static length", s.span)


def gather(ck, x: Node, kinds, e: A.Index) -> Node:
    """x[i, j] with integer arrays on the leading axes; trailing `:` kept."""
    arrays = []
    for axis, (kind, value, item) in enumerate(kinds):
        if kind == "array":
            if len(arrays) != axis:
                fail("E0305", "integer-array indices must come first", item.span,
                     "transpose so the indexed axes lead")
            arrays.append(value)
        elif kind == "int":
            if len(arrays) != axis:
                fail("E0305", "mixing integer arrays with a later constant index is not supported",
                     item.span, "index in two steps: `x[idx][:, 0]`")
            check_int(value, x.type.shape[axis], axis, item, x)
            arrays.append(ck.apply("const", (), item.span, type=TensorType("i64", ()), value=value))
        elif not (value.start is None and value.stop is None and value.step is None):
            fail("E0305", "a slice after integer-array indices is not supported", item.span,
                 "slice in a second step: `x[idx][:, 1:3]`")
    return ck.apply("gather", (x, *arrays), e.span)
