"""Results that stay on the device until the host looks at them.

A `LazyArray` behaves like the numpy array it stands for (np.asarray,
float(), int(), printing, arithmetic, indexing, any ndarray attribute); the
first such use reads the buffer, once. A training loop that ignores the
returned cost therefore never waits for the device.
"""
from __future__ import annotations

import math

import numpy as np


class LazyArray:
    __array_priority__ = 1000     # numpy defers binary ops to us, then we convert

    def __init__(self, executor, buffer, shape: tuple, dtype):
        self._executor = executor
        self._buffer = buffer
        self._shape = tuple(shape)
        self._dtype = np.dtype(dtype)
        self._host: np.ndarray | None = None

    # ---- what is known without reading ---------------------------------------------
    @property
    def shape(self) -> tuple:
        return self._shape

    @property
    def dtype(self):
        return self._dtype

    @property
    def ndim(self) -> int:
        return len(self._shape)

    @property
    def size(self) -> int:
        return math.prod(self._shape)     # not np.prod: 5 us a call, a few per loop step

    @property
    def is_read(self) -> bool:
        return self._host is not None

    # ---- reading ------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        if self._host is None:
            return self._executor._read_lazy(self)
        return self._host

    def _move(self, buffer) -> None:
        """The executor reuses our buffer: it copied the value to `buffer`."""
        self._buffer = buffer

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        if dtype is not None and np.dtype(dtype) != a.dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    def item(self, *args):
        return self.numpy().item(*args)

    def __float__(self):
        return float(self.numpy())

    def __int__(self):
        return int(self.numpy())

    def __index__(self):
        return self.numpy().__index__()

    def __bool__(self):
        return bool(self.numpy())

    def __complex__(self):
        return complex(self.numpy())

    def __len__(self):
        return len(self.numpy())

    def __iter__(self):
        return iter(self.numpy())

    def __getitem__(self, key):
        return self.numpy()[key]

    def __format__(self, spec):
        return format(self.numpy()[()] if self.ndim == 0 else self.numpy(), spec)

    def __repr__(self):
        return repr(self.numpy())

    def __str__(self):
        return str(self.numpy())

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.numpy(), name)

    def __reduce__(self):
        return self.numpy().__reduce__()     # pickled as the array it stands for

    __hash__ = None


def _delegate(name):
    def method(self, *args):
        return getattr(self.numpy(), name)(*args)
    method.__name__ = name
    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul",
              "and", "or", "xor", "lshift", "rshift"):
    for _form in (f"__{_name}__", f"__r{_name}__"):
        setattr(LazyArray, _form, _delegate(_form))
for _form in ("__neg__", "__pos__", "__abs__", "__invert__", "__eq__", "__ne__",
              "__lt__", "__le__", "__gt__", "__ge__", "__round__"):
    setattr(LazyArray, _form, _delegate(_form))
