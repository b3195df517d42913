"""Tensor types: a dtype and a shape whose dimensions are integers or sizes.

A size is a polynomial over size variables with integer coefficients, kept in
a canonical form so `n + 1` equals `1 + n` and `784 * n` equals `n * 784`.
A size with no variables is always stored as a plain `int`.
"""
from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from typing import Union

DTYPES = ("f32", "f64", "i32", "i64", "bool")
FLOATS = ("f32", "f64")
INTS = ("i32", "i64")
NUMPY_DTYPE = {"f32": "float32", "f64": "float64", "i32": "int32",
               "i64": "int64", "bool": "bool"}
FROM_NUMPY = {v: k for k, v in NUMPY_DTYPE.items()}


@dataclass(frozen=True)
class Size:
    """Sum of monomials: ((("n",), 784), ((), 1)) is 784*n + 1."""
    terms: tuple[tuple[tuple[str, ...], int], ...]

    @staticmethod
    def var(name: str) -> "Size":
        return Size(((((name,)), 1),))

    def __str__(self) -> str:
        parts = []
        # positive terms first, the constant last: `w - kw + 1`, not `-kw + w + 1`
        for mono, coeff in sorted(self.terms, key=lambda t: 2 if not t[0] else t[1] < 0):
            if not mono:
                parts.append(str(coeff))
                continue
            body = "*".join(mono)
            parts.append(body if coeff == 1 else f"-{body}" if coeff == -1 else f"{coeff}*{body}")
        return " + ".join(parts).replace("+ -", "- ")

    def variables(self) -> set[str]:
        return {v for mono, _ in self.terms for v in mono}

    def evaluate(self, env: dict[str, int]) -> int:
        total = 0
        for mono, coeff in self.terms:
            value = coeff
            for v in mono:
                value *= env[v]
            total += value
        return total

    def single_var(self) -> str | None:
        """The name when this size is exactly one variable (`n`)."""
        if len(self.terms) == 1 and self.terms[0][1] == 1 and len(self.terms[0][0]) == 1:
            return self.terms[0][0][0]
        return None


Dim = Union[int, Size]


def _terms(d: Dim) -> dict:
    if isinstance(d, int):
        return {(): d} if d else {}
    return dict(d.terms)


def _make(terms: dict) -> Dim:
    terms = {m: c for m, c in terms.items() if c != 0}
    if not terms:
        return 0
    if list(terms) == [()]:
        return terms[()]
    # constant last, otherwise by monomial
    return Size(tuple(sorted(terms.items(), key=lambda t: (t[0] == (), t[0]))))


def dim_add(a: Dim, b: Dim) -> Dim:
    out = _terms(a)
    for m, c in _terms(b).items():
        out[m] = out.get(m, 0) + c
    return _make(out)


def dim_neg(a: Dim) -> Dim:
    return _make({m: -c for m, c in _terms(a).items()})


def dim_sub(a: Dim, b: Dim) -> Dim:
    return dim_add(a, dim_neg(b))


def dim_mul(a: Dim, b: Dim) -> Dim:
    out: dict = {}
    for ma, ca in _terms(a).items():
        for mb, cb in _terms(b).items():
            m = tuple(sorted(ma + mb))
            out[m] = out.get(m, 0) + ca * cb
    return _make(out)


def dim_prod(dims) -> Dim:
    out: Dim = 1
    for d in dims:
        out = dim_mul(out, d)
    return out


def dim_eval(d: Dim, env: dict[str, int]) -> int:
    return d if isinstance(d, int) else d.evaluate(env)


def dim_str(d: Dim) -> str:
    return str(d)


@dataclass(frozen=True)
class TensorType:
    dtype: str
    shape: tuple[Dim, ...] = ()

    def __str__(self) -> str:
        if not self.shape:
            return self.dtype
        return f"{self.dtype}[{', '.join(dim_str(d) for d in self.shape)}]"

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOATS

    @property
    def is_int(self) -> bool:
        return self.dtype in INTS

    def with_dtype(self, dtype: str) -> "TensorType":
        return TensorType(dtype, self.shape)

    def with_shape(self, shape) -> "TensorType":
        return TensorType(self.dtype, tuple(shape))

    def size_vars(self) -> set[str]:
        out: set[str] = set()
        for d in self.shape:
            if isinstance(d, Size):
                out |= d.variables()
        return out

    def concrete_shape(self, env: dict[str, int]) -> tuple[int, ...]:
        return tuple(dim_eval(d, env) for d in self.shape)


ITEMSIZE = {"f32": 4, "f64": 8, "i32": 4, "i64": 8, "bool": 1}


def value_bytes(shape: tuple[int, ...], dtype: str) -> int:
    return math.prod(shape) * ITEMSIZE[dtype]


@functools.lru_cache(maxsize=1)
def memory_bytes() -> int:
    """This machine's physical memory: no single value may be larger."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 2 ** 40


def human_bytes(n: int) -> str:
    size, unit = float(n), "bytes"
    for next_unit in ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if size < 1024:
            break
        size, unit = size / 1024, next_unit
    return f"{size:.1f} {unit}" if unit != "bytes" else f"{n} bytes"


def too_large_message(t: "TensorType", nbytes: int) -> str:
    return (f"this value would need {nbytes} bytes ({human_bytes(nbytes)}) for {t}, "
            "more than this machine's memory")


@dataclass(frozen=True)
class TupleType:
    elts: tuple[TensorType, ...]

    def __str__(self) -> str:
        return "(" + ", ".join(str(t) for t in self.elts) + ")"


def scalar(dtype: str) -> TensorType:
    return TensorType(dtype, ())


def broadcast_shapes(a: tuple, b: tuple):
    """numpy's rule, decided statically. Returns the shape, or the pair of
    dimensions that cannot be reconciled (as an exception's args)."""
    n = max(len(a), len(b))
    a = (1,) * (n - len(a)) + tuple(a)
    b = (1,) * (n - len(b)) + tuple(b)
    out = []
    for i, (x, y) in enumerate(zip(a, b)):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            raise BroadcastError(i - n, x, y)
    return tuple(out)


class BroadcastError(Exception):
    def __init__(self, axis: int, left: Dim, right: Dim):
        super().__init__(axis, left, right)
        self.axis, self.left, self.right = axis, left, right


# A random stream's state, as a shared value holds it: (seed, calls made)
STREAM = TensorType("i64", (2,))


class NotDivisible(Exception):
    """A size divided by a stride that is not a whole number for every
    value of its variables (`(h - 5) // 2` with `h` a variable)."""


def dim_floordiv(d: Dim, k: int) -> Dim:
    """`d // k` for a positive integer k. A size is divided exactly when every
    variable's coefficient is a multiple of k (`(2*h - 1) // 2` is `h - 1`);
    otherwise the quotient is no polynomial and NotDivisible is raised."""
    if isinstance(d, int):
        return d // k
    terms = _terms(d)
    if any(c % k for m, c in terms.items() if m):
        raise NotDivisible(d, k)
    return _make({m: c // k for m, c in terms.items()})
