"""Running compiled defs on the numpy reference backend.

An executor owns the shared values and calls functions: outputs are computed
first from the old state, then every update is applied together (Theano's
`updates=` rule). The OpenCL executor has the same interface.
"""
from __future__ import annotations

import numpy as np

from dsl.ir import Function, Node, toposort
from dsl.types import NUMPY_DTYPE, TensorType

from . import Env, check_sizes, evaluate


class SharedOutOfMemory(MemoryError):
    """A shared value's storage fits the physical memory (the checker's
    limit) but not the memory free now; the API locates it (E0221)."""

    def __init__(self, name: str, t: TensorType, exc: MemoryError):
        super().__init__(f"{t}: {exc}")
        self.name = name


def zeros_of(name: str, t: TensorType) -> np.ndarray:
    try:
        return np.zeros(t.concrete_shape({}), NUMPY_DTYPE[t.dtype])
    except MemoryError as exc:
        raise SharedOutOfMemory(name, t, exc) from None


class NumpyExecutor:
    name = "numpy"
    description = "numpy reference backend"

    def __init__(self, shared_types: dict[str, TensorType]):
        self.shared_types = dict(shared_types)
        self.shared = {n: zeros_of(n, t) for n, t in shared_types.items()}
        self.checked: dict = {}     # id(fn) -> (fn, size keys check_sizes passed)

    def get_shared(self, name: str) -> np.ndarray:
        return self.shared[name]

    def set_shared(self, name: str, value: np.ndarray) -> None:
        self.shared[name] = np.array(value, dtype=NUMPY_DTYPE[self.shared_types[name].dtype])

    def call(self, fn: Function, args: list, sizes: dict, on_value=None) -> list:
        params = {p.attr("name"): a for p, a in zip(fn.params, args)}
        env = Env(sizes, params, self.shared)
        values = evaluate(list(fn.roots), env, on_value, self._sizes_checked(fn, sizes))
        outputs = values[:len(fn.outputs)]
        # outputs are fresh arrays or the old state object; rebinding the
        # names below never changes what the caller already holds
        new_state = dict(self.shared)
        for (name, _), value in zip(fn.updates, values[len(fn.outputs):]):
            new_state[name] = value
        self.shared = new_state
        return outputs

    def _sizes_checked(self, fn: Function, sizes: dict) -> bool:
        """check_sizes once per def and sizes (it walks the whole graph)."""
        key = tuple(sorted(sizes.items()))
        hit = self.checked.get(id(fn))
        if hit is None or hit[0] is not fn:
            hit = self.checked[id(fn)] = (fn, set())
        if key not in hit[1]:
            check_sizes(toposort(fn.roots), sizes)
            hit[1].add(key)
        return True

    def evaluate(self, roots: list[Node], params: dict, sizes: dict) -> list:
        """Evaluate a free-standing graph (host expressions, `.eval()`)."""
        return evaluate(roots, Env(sizes, params, self.shared))
