"""Builtins that exist only on the host: printing, loops, data, checkpoints.

Each builtin binds its call's arguments as the checker does and checks the
values with the checker's own rules (dsl/hostargs.py), so a bad argument is
the same located E0615, with the usage, whether the checker could see it
before the run or only the value shows it.
"""
from __future__ import annotations

import numpy as np

from dsl import errors
from dsl.hostargs import check_builtin
from dsl.hostcheck import HOST_SIGS, TWO_NUMBERS
from dsl.hosttypes import type_of
from dsl.scope import Default, bind_call
from dsl.types import NUMPY_DTYPE
from runtime import data as D
from runtime.data import progress
from semantics.boundary import materialize


def arguments(ip, e, sig=None) -> dict:
    """The call's arguments by parameter name, evaluated (lazy device
    results read) and checked against what the builtin takes."""
    name = e.func.id
    bound = bind_call(e, sig or HOST_SIGS[name], name)
    values, spans = {}, {}
    for param, a in bound.items():
        if isinstance(a, Default):
            values[param], spans[param] = a.value, None
        elif param == "args":
            values[param], spans[param] = tuple(materialize(ip.ev(x)) for x in a), e.span
        else:
            values[param], spans[param] = materialize(ip.ev(a)), a.span
    check_values(name, values, spans, e.span)
    return values


def check_values(name, values: dict, spans: dict, span):
    check_builtin(name, {p: (type_of(v), spans.get(p)) for p, v in values.items()}, span)


def data_error(exc: D.DataError, span):
    return exc.located(span)


def host_print(ip, e):
    args = arguments(ip, e)
    try:
        text = args["sep"].join(str(v) for v in args["args"])
    except ValueError as exc:       # an integer too long to print
        raise errors.host_operation_failed("print", e.span, reason=str(exc).split(";")[0])
    with progress.above_bars(ip.out):
        print(text, file=ip.out, flush=False)


def host_range(ip, e):
    args = arguments(ip, e)
    parts = [args[p] for p in ("a", "b", "step") if args[p] is not None]
    return range(*parts)


def host_batches(ip, e):
    args = arguments(ip, e)
    try:
        return D.batches(args["split"], args["size"], progress=ip.progress, drop_last=args["drop_last"],
                         epoch=epoch_of(ip, e), status=ip.metrics.latest_text)
    except D.DataError as exc:
        raise data_error(exc, e.span)


def host_len(ip, e):
    return len(arguments(ip, e)["x"])


def two_numbers(fn):
    def run(ip, e):
        args = arguments(ip, e, TWO_NUMBERS)
        return fn(args["a"], args["b"])
    return run


def host_abs(ip, e):
    value = arguments(ip, e)["x"]
    if isinstance(value, np.ndarray):
        return np.abs(value)        # as inside a def: elementwise, the same dtype
    return abs(value)


def epoch_of(ip, e):
    """How many times this `batches(...)` call has run, shown on its bar as
    the epoch; None for a loop inside another's bar (validation)."""
    runs = ip.batch_runs[e.span] = ip.batch_runs.get(e.span, 0) + 1
    return None if progress.active() else runs


def host_record(ip, e):
    args = arguments(ip, e)
    ip.metrics.record(args["name"], float(args["value"]))


def host_save(ip, e):
    path = arguments(ip, e)["path"]
    if not ip.main_rank:        # on K ranks the shared values are equal: rank 0 writes them
        return
    values = {n: np.asarray(ip.executor.get_shared(n)) for n in ip.prog.shareds}
    try:
        D.checkpoint.save(path, values, program=e.span.file)
    except D.DataError as exc:
        raise data_error(exc, e.span)


def host_load(ip, e):
    path = arguments(ip, e)["path"]
    expected = {n: (t.concrete_shape({}), np.dtype(NUMPY_DTYPE[t.dtype]))
                for n, t in ip.prog.shareds.items()}
    try:
        values = D.checkpoint.load(path, expected)
    except D.DataError as exc:
        raise data_error(exc, e.span)
    for name, value in values.items():
        ip.set_shared(name, value, e.span)


def host_mnist(ip, e):
    path = arguments(ip, e)["path"]
    try:
        return D.mnist(path)
    except D.DataError as exc:
        raise data_error(exc, e.span)


def host_format(ip, e):
    args = arguments(ip, e)
    try:
        return format(args["value"], args["spec"])
    except (TypeError, ValueError) as exc:
        raise errors.bad_host_argument(f"cannot format {args['value']!r} with {args['spec']!r}: {exc}",
                                       e.span, 'usage: format(value, "spec")')


def host_permutation(ip, e):
    args = arguments(ip, e)
    return np.random.RandomState(args["seed"]).permutation(args["n"]).astype(np.int64)


def host_shuffle(ip, e):
    """The split's rows in the order of `permutation(len(split), seed)`."""
    args = arguments(ip, e)
    split = args["split"]
    order = np.random.RandomState(args["seed"]).permutation(len(split))
    return D.Split(split.x[order], split.y[order])


def host_save_tiles(ip, e):
    args = arguments(ip, e)
    try:
        D.tiles.save_tiles(args["path"], args["x"], program=e.span.file)
    except D.DataError as exc:
        raise data_error(exc, e.span)


HOST_BUILTINS = {
    "print": host_print, "range": host_range, "batches": host_batches, "len": host_len,
    "max": two_numbers(max), "min": two_numbers(min), "abs": host_abs,
    "record": host_record, "save": host_save, "load": host_load, "mnist": host_mnist,
    "format": host_format, "permutation": host_permutation, "shuffle": host_shuffle,
    "save_tiles": host_save_tiles,
}
HOST_BUILTINS["save_tiles"] = host_save_tiles
