"""Static types of host values, shared by the host checker and the host
interpreter (which describes a run-time value by the same type, so both
report a bad argument with the same words).

A type is known as far as the checker can prove it: `HNum("int", 600)`
carries its value when every path to it agrees; a tensor dimension is
`None` where its size is not known; `ANY` is a value nothing is known about.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .types import FROM_NUMPY, NUMPY_DTYPE


@dataclass(frozen=True)
class HNum:
    kind: str                   # "int", "float" or "bool"
    value: object = None        # the number, where it is known

    def __str__(self):
        return {"int": "an int", "float": "a float", "bool": "a bool"}[self.kind]


@dataclass(frozen=True)
class HStr:
    value: str | None = None

    def __str__(self):
        return "a string"


@dataclass(frozen=True)
class HNone:
    def __str__(self):
        return "nothing (what `print` or `save` gives)"


@dataclass(frozen=True)
class HTensor:
    dtype: str
    shape: tuple            # ints, or None where unknown

    def __str__(self):
        return f"{self.dtype}[{', '.join('?' if d is None else str(d) for d in self.shape)}]"

    @property
    def known(self) -> bool:
        return None not in self.shape


@dataclass(frozen=True)
class HRecord:
    kind: str
    fields: tuple           # ((name, type), ...)


@dataclass(frozen=True)
class HIter:
    """What `range` and `batches` give: a loop yields `item` each time."""
    item: object
    kind: str = "range"


@dataclass(frozen=True)
class HAny:
    pass


ANY = HAny()
NONE = HNone()
SPLIT_SIZES = {"train": 50000, "valid": 10000, "test": 10000}


def split_type(n):
    return HRecord("split", (("x", HTensor("f32", (n, 784))), ("y", HTensor("i32", (n,)))))


MNIST = HRecord("mnist", tuple((k, split_type(n)) for k, n in SPLIT_SIZES.items()))
NUMBER_KIND = {"f32": "float", "f64": "float", "i32": "int", "i64": "int", "bool": "bool"}


def describe(t) -> str:
    """How a message names a value of type t: `a float`, `a tensor f32[3]`."""
    if isinstance(t, HTensor):
        return f"a tensor {t}"
    if isinstance(t, HRecord):
        return "a data split" if t.kind == "split" else "the mnist record"
    if isinstance(t, HIter):
        return "a range" if t.kind == "range" else "the minibatches of a split"
    if isinstance(t, tuple):
        return f"a tuple of {len(t)} values"
    if isinstance(t, HAny):
        return "a value"
    return str(t)


def number(kind: str, value=None) -> HNum:
    return HNum(kind, value)


def from_dtype(dtype: str, shape: tuple):
    """A value a def or an expression builtin returns: scalars become numbers."""
    if not shape:
        return HNum(NUMBER_KIND[dtype])
    return HTensor(dtype, tuple(shape))


def is_number(t) -> bool:
    return isinstance(t, HNum)


def is_int(t) -> bool:
    return isinstance(t, HNum) and t.kind == "int"


def join(a, b):
    """The type of a value that is `a` on one path and `b` on another."""
    if a == b:
        return a
    if isinstance(a, HNum) and isinstance(b, HNum) and a.kind == b.kind:
        return HNum(a.kind)
    if isinstance(a, HStr) and isinstance(b, HStr):
        return HStr()
    if isinstance(a, HTensor) and isinstance(b, HTensor) and a.dtype == b.dtype \
            and len(a.shape) == len(b.shape):
        return HTensor(a.dtype, tuple(x if x == y else None for x, y in zip(a.shape, b.shape)))
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return tuple(join(x, y) for x, y in zip(a, b))
    if isinstance(a, HIter) and isinstance(b, HIter) and a.kind == b.kind:
        return HIter(join(a.item, b.item), a.kind)
    return ANY


def join_names(a: dict, b: dict) -> dict:
    """Variables after two paths meet: a name bound on one path only keeps
    that path's type (reading it unbound is a run-time error)."""
    out = dict(a)
    for name, t in b.items():
        out[name] = join(out[name], t) if name in out else t
    return out


# ---- run-time values described by their types ---------------------------------
def type_of(value):
    """The static type of a host value at run time, value included."""
    if isinstance(value, bool):
        return HNum("bool", value)
    if isinstance(value, int):
        return HNum("int", value)
    if isinstance(value, float):
        return HNum("float", value)
    if isinstance(value, str):
        return HStr(value)
    if value is None:
        return NONE
    if isinstance(value, np.generic):
        return type_of(value.item())
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return type_of(value.item())
        return HTensor(FROM_NUMPY.get(value.dtype.name, value.dtype.name), tuple(value.shape))
    if isinstance(value, tuple):
        return tuple(type_of(v) for v in value)
    record = getattr(type(value), "host_record", None)    # the runtime's data classes
    if record is not None:
        return HRecord(record, ())
    if isinstance(value, range):
        return HIter(HNum("int"))
    return ANY


def sample(t):
    """A small Python value of t's kind, to ask Python what an operation
    does with such values (never the number itself: checking must not
    compute); None where there is no such value."""
    if isinstance(t, HNum):
        return {"int": 3, "float": 1.5, "bool": True}[t.kind]
    if isinstance(t, HStr):
        return t.value if t.value is not None else "s"
    if isinstance(t, HTensor) and t.dtype in NUMPY_DTYPE:
        return np.ones((), NUMPY_DTYPE[t.dtype])       # dtype only; shapes are checked apart
    return None


# ---- host functions -----------------------------------------------------------------
@dataclass(frozen=True)
class HFunc:
    """A def or a host function passed by name to a host function
    (`early_stopping(train, errors, ...)`): the callee calls it."""
    name: str
    kind: str = "def"           # or "proc"

    def __str__(self):
        return f"the {self.kind} `{self.name}`"
