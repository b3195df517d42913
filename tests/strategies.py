"""Hypothesis strategies shared by the numpy and OpenCL op tests."""
from hypothesis import strategies as st

from dsl.types import NUMPY_DTYPE, Size, dim_add


def values(rng, shape, dtype, low=-3.0, high=3.0):
    """Random test values of a dtype: bools, small integers, or floats in [low, high)."""
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype in ("i32", "i64"):
        return rng.integers(int(low), int(high) + 1, shape).astype(NUMPY_DTYPE[dtype])
    return rng.uniform(low, high, shape).astype(NUMPY_DTYPE[dtype])


@st.composite
def slice_items(draw, shape):
    """Random basic-index items for the leading axes, with their lengths."""
    items = []
    for d in shape[:draw(st.integers(0, len(shape)))]:
        if draw(st.booleans()):
            items.append(("index", draw(st.integers(-d, d - 1))))
            continue
        step = draw(st.sampled_from([1, 1, 2, -1]))
        start, stop = sorted(draw(st.tuples(st.integers(0, d), st.integers(0, d))))
        if step < 0:
            start, stop = d - 1 - start, (d - 1 - stop if stop < d else None)
        length = len(range(d)[slice(start, stop, step)])
        items.append(("slice", start, stop, step, length))
    return tuple(items)


@st.composite
def size_slice_items(draw, shape, names):
    """slice_items where some indices on axes known by name (names[axis],
    or None) are computed from the size, `n - 1` as `p[n - 1]` and
    `p[:, k - 1]` make. Returns (items, the same index for numpy)."""
    items = draw(slice_items(shape))
    index = tuple(i[1] if i[0] == "index" else slice(*i[1:4]) for i in items)
    out = []
    for item, d, name in zip(items, shape, names):
        if item[0] == "index" and name is not None and draw(st.booleans()):
            item = ("index", dim_add(Size.var(name), item[1] % d - d))
        out.append(item)
    return tuple(out), index


@st.composite
def broadcast_pair(draw, shapes):
    """(a, b): b is a suffix of a's shape with some dims stretched to 1;
    either side may be the bigger one."""
    a = draw(shapes)
    k = draw(st.integers(0, len(a)))
    b = tuple(1 if draw(st.booleans()) else d for d in a[len(a) - k:])
    return (a, b) if draw(st.booleans()) else (b, a)
