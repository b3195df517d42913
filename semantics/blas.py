"""Matrix products of a loop's body on one BLAS thread when they are small.

OpenBLAS splits a product over its threads once m*n*k passes about 2^18.
For the products of a loop body (an LSTM step: 100x128 @ 128x512, 28 of
them forward and more backward per minibatch) the threads save little, and
on cores shared with other processes a product waits for a descheduled
thread: measured on 2 loaded cores, 0.2-0.4 ms on one thread against
1.4-25 ms on two. Inside a loop's body (`in_loop_body`), a product of fewer
than SMALL_PRODUCT multiply-adds per matrix therefore runs on one thread; a
larger one, and every product outside loops, keeps BLAS's own count: one
product per step of a training loop on the host (the logistic regression's
600x784 @ 784x10) is faster on two threads of an idle machine (an epoch
took 80 ms on one thread against 59 ms on two). The count set is the
calling thread's own (OpenBLAS's openblas_set_num_threads_local), so other
threads are never affected; where no OpenBLAS in the process has that
function nothing changes. A product's count depends only on its size and
place, never on the machine's load; for the LSTM's products one thread
gives the values two gave (tests/test_blas.py), but a larger product's
values can depend on the count.
"""
from __future__ import annotations

import ctypes
import threading
from contextlib import contextmanager

import numpy as np

SMALL_PRODUCT = 2**24       # multiply-adds per matrix: about 1-2 ms on one core


def _thread_local_setters() -> list:
    """openblas_set_num_threads_local (it returns the previous count) of
    every OpenBLAS in the process: numpy's, and any other a library such as
    torch brought (which one numpy calls is not known by name)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return []
    setters = []
    for path in sorted(paths):
        try:
            setter = ctypes.CDLL(path).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        setter.argtypes, setter.restype = [ctypes.c_int], ctypes.c_int
        setters.append(setter)
    return setters


set_local_threads = _thread_local_setters()


def multiply_adds(a: np.ndarray, b: np.ndarray) -> int:
    """m * n * k of one matrix of the product a @ b (vectors count as 1 row or column)."""
    m = a.shape[-2] if a.ndim > 1 else 1
    n = b.shape[-1] if b.ndim > 1 else 1
    return m * n * a.shape[-1]


_depth = threading.local()       # how many loop bodies this thread is inside


@contextmanager
def in_loop_body():
    """Products run inside it are a loop body's (impl_loop runs its steps so)."""
    _depth.n = getattr(_depth, "n", 0) + 1
    try:
        yield
    finally:
        _depth.n -= 1


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if (not set_local_threads or not getattr(_depth, "n", 0)
            or multiply_adds(a, b) >= SMALL_PRODUCT):
        return np.matmul(a, b)
    previous = [setter(1) for setter in set_local_threads]
    try:
        return np.matmul(a, b)
    finally:
        for setter, count in zip(set_local_threads, previous):
            setter(count)
