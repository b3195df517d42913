"""Builtins that exist only on the host: printing, loops, data, checkpoints."""
from __future__ import annotations

import numpy as np

from dsl.diagnostics import error
from runtime import data as D


def values_of(ip, args):
    """Evaluate arguments, reading lazy device results."""
    from runtime.host import materialize
    return [materialize(ip.ev(a)) for a in args]


def data_error(exc: D.DataError, span):
    return error(exc.code, exc.message, span, exc.hint)


def host_print(ip, e):
    values = values_of(ip, e.args)
    sep = " "
    for k in e.kwargs:
        if k.name != "sep":
            raise error("E0104", f"`print` has no parameter `{k.name}`", k.span, "usage: print(a, b, ..., sep=\" \")")
        sep = ip.ev(k.value)
    print(sep.join(str(v) for v in values), file=ip.out, flush=False)


def host_range(ip, e):
    args = [ip.ev(a) for a in e.args]
    if not all(isinstance(a, int) and not isinstance(a, bool) for a in args):
        raise error("E0606", "`range` needs integers", e.span)
    return range(*args)


def host_batches(ip, e):
    split, size = [ip.ev(a) for a in e.args]
    drop_last = False
    for k in e.kwargs:
        if k.name != "drop_last":
            raise error("E0104", f"`batches` has no parameter `{k.name}`", k.span,
                        "usage: batches(split, size, drop_last=false)")
        drop_last = ip.truth(ip.ev(k.value), k.span)
    try:
        return D.batches(split, size, progress=ip.progress, drop_last=drop_last)
    except D.DataError as exc:
        raise data_error(exc, e.span)


def host_len(ip, e):
    (value,) = [ip.ev(a) for a in e.args]
    try:
        return len(value)
    except TypeError:
        raise error("E0606", f"`len` of {type(value).__name__}", e.span)


def two_scalars(fn):
    def run(ip, e):
        values = values_of(ip, e.args)
        if len(values) != 2:
            raise error("E0103", f"`{e.func.id}` takes one tensor or two numbers", e.span)
        return fn(*values)
    return run


def host_abs(ip, e):
    (value,) = values_of(ip, e.args)
    if isinstance(value, np.ndarray):
        return ip.builtin(e)
    return abs(value)


def host_record(ip, e):
    name, value = values_of(ip, e.args)
    if not isinstance(name, str):
        raise error("E0606", "the first argument of `record` is the series' name, a string", e.args[0].span)
    try:
        ip.metrics.record(name, float(value))
    except (TypeError, ValueError):
        raise error("E0606", f"`record` needs a number, got {type(value).__name__}", e.args[1].span)


def host_save(ip, e):
    (path,) = [ip.ev(a) for a in e.args]
    values = {n: np.asarray(ip.executor.get_shared(n)) for n in ip.prog.shareds}
    try:
        D.checkpoint.save(path, values, program=e.span.file)
    except D.DataError as exc:
        raise data_error(exc, e.span)


def host_load(ip, e):
    (path,) = [ip.ev(a) for a in e.args]
    from dsl.types import NUMPY_DTYPE
    expected = {n: (t.concrete_shape({}), np.dtype(NUMPY_DTYPE[t.dtype]))
                for n, t in ip.prog.shareds.items()}
    try:
        values = D.checkpoint.load(path, expected)
    except D.DataError as exc:
        raise data_error(exc, e.span)
    for name, value in values.items():
        ip.set_shared(name, value, e.span)


def host_mnist(ip, e):
    args = [ip.ev(a) for a in e.args] + [ip.ev(k.value) for k in e.kwargs]
    try:
        return D.mnist(*args)
    except D.DataError as exc:
        raise data_error(exc, e.span)


def host_format(ip, e):
    value, spec = values_of(ip, e.args)
    try:
        return format(value, spec)
    except (TypeError, ValueError) as exc:
        raise error("E0606", f"cannot format {value!r} with {spec!r}: {exc}", e.span)


HOST_BUILTINS = {
    "print": host_print, "range": host_range, "batches": host_batches, "len": host_len,
    "max": two_scalars(max), "min": two_scalars(min), "abs": host_abs,
    "record": host_record, "save": host_save, "load": host_load, "mnist": host_mnist,
    "format": host_format,
}
