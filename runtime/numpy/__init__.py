"""The reference backend: NumpyExecutor (executor.py) runs a compiled def
with `semantics.evaluate`. What each op means (`IMPL`), the evaluator and
size binding live in the leaf package `semantics`, which constant folding
in the compiler imports too; they are re-exported here for the backend's
users.
"""
from semantics import (IMPL, BackendBug, Env, IndexOutOfRange, RunFault, ShapeMismatch,
                       bind_sizes, check_sizes, evaluate, sum_to)

__all__ = ["IMPL", "Env", "IndexOutOfRange", "RunFault", "ShapeMismatch", "BackendBug",
           "evaluate", "bind_sizes", "check_sizes", "sum_to"]
