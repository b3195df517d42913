"""Binding a signature's sizes to arguments: the one binder.

`bind` takes the declared parameter types and the arguments' shapes and
returns the sizes it binds and the first mismatch, as data. It serves the
def checker (shapes of symbolic dimensions), the host checker (dimensions
that may be unknown, None) and every call at run time (integers); each
reports a `Mismatch` in its own words and code (E0203, E0602, E0604).

A single-variable dimension (`n`) is bound by the first argument that has
it; every other dimension (a constant, a variable bound before, `n + 1`) is
checked against what is bound. A dimension whose variables are bound only by
later arguments is checked at the end.
"""
from __future__ import annotations

from dataclasses import dataclass

from .types import Dim, Size, TensorType, dim_add, dim_mul


@dataclass(frozen=True)
class Mismatch:
    kind: str               # "rank", "axis", "twice" (a variable bound to two sizes), "unbound"
    index: int              # the argument
    axis: int | None = None
    var: str | None = None  # "twice": the variable; "unbound": the first one not bound
    first: int | None = None    # "twice": the argument that bound `var`
    want: Dim | None = None     # the expected dimension, bound sizes substituted
    got: Dim | None = None


def substitute(d: Size, sizes: dict) -> Dim:
    """`d` with the bound sizes put in (an int when all are ints)."""
    total: Dim = 0
    for mono, coeff in d.terms:
        term: Dim = coeff
        for v in mono:
            term = dim_mul(term, sizes.get(v, Size.var(v)))
        total = dim_add(total, term)
    return total


def bind(types: list[TensorType], shapes: list, derived: bool = True,
         sizes: dict | None = None, first: dict | None = None) -> tuple[dict, Mismatch | None]:
    """The sizes `shapes` bind in `types`, and the first mismatch (or None).
    A shape is a tuple of dimensions (None where unknown), or None where not a
    tensor. `derived=False` leaves dimensions like `n + 1` unchecked.
    `sizes` and `first` (variable -> the argument that bound it) carry
    bindings from earlier arguments."""
    sizes = {} if sizes is None else sizes
    first = {} if first is None else first
    later = []
    for i, (t, shape) in enumerate(zip(types, shapes)):
        if shape is None:
            continue
        if len(shape) != t.rank:
            return sizes, Mismatch("rank", i, want=t.rank, got=len(shape))
        for axis, (want, got) in enumerate(zip(t.shape, shape)):
            var = want.single_var() if isinstance(want, Size) else None
            if got is None or (var is None and isinstance(want, Size) and not derived):
                continue
            if var is not None and var not in sizes:
                sizes[var], first[var] = got, i
            elif isinstance(want, Size) and not want.variables() <= sizes.keys():
                later.append((i, axis, want, got))
            else:
                problem = _check(i, axis, want, got, sizes, var, first)
                if problem:
                    return sizes, problem
    for i, axis, want, got in later:
        missing = sorted(want.variables() - sizes.keys())
        if missing:
            return sizes, Mismatch("unbound", i, axis, missing[0], want=want, got=got)
        problem = _check(i, axis, want, got, sizes, None, first)
        if problem:
            return sizes, problem
    return sizes, None


def _check(i, axis, want, got, sizes, var, first) -> Mismatch | None:
    expect = substitute(want, sizes) if isinstance(want, Size) else want
    if expect == got:
        return None
    if var is not None:
        return Mismatch("twice", i, axis, var, first.get(var), expect, got)
    return Mismatch("axis", i, axis, want=expect, got=got)
