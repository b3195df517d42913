"""What each host builtin accepts, checked on types.

The host checker calls `check_builtin` with the static types of a call's
arguments (as far as they are known) before the program runs; the host
interpreter calls it again with the types of the actual values just before
the builtin runs. Both report the same E0615 text, with the builtin's usage.
"""
from __future__ import annotations

import math

from .hosttypes import (ANY, HAny, HIter, HNone, HNum, HRecord, HStr, HTensor, describe,
                        sample)
from .registry import SIGS, USAGE
from .scope import usage
from . import errors

SEED_MAX = 2 ** 32 - 1


class Call:
    """The arguments of one call: name -> (type, span)."""

    def __init__(self, fname: str, args: dict, span):
        self.fname, self.args, self.span = fname, args, span

    def type(self, param):
        return self.args.get(param, (ANY, None))[0]

    def bad(self, param, message, hint=None):
        span = self.args.get(param, (None, None))[1] or self.span
        usage = USAGE.get(self.fname)
        hint = "; ".join(h for h in (hint, usage and f"usage: {usage}") if h) or None
        raise errors.bad_host_argument(message, span, hint)

    def need(self, param, ok, want, hint=None):
        """Fail unless the argument's type is unknown or passes `ok`."""
        t = self.type(param)
        if isinstance(t, HAny) or ok(t):
            return t
        self.bad(param, f"argument `{param}` of `{self.fname}` must be {want}, got {describe(t)}", hint)


def is_int(t):
    return isinstance(t, HNum) and t.kind == "int"


def is_real(t):
    return isinstance(t, HNum)      # bools count, as in Python


def is_str(t):
    return isinstance(t, HStr)


def value(t):
    return t.value if isinstance(t, (HNum, HStr)) else None


def check_builtin(fname: str, args: dict, span):
    """Raise a SymError (E0615) when an argument cannot be what `fname` takes."""
    rule = RULES.get(fname)
    if rule is not None:
        rule(Call(fname, args, span))


def check_print(c: Call):
    c.need("sep", is_str, "a string")


def check_range(c: Call):
    for param in ("a", "b", "step"):
        if not isinstance(c.type(param), HNone):
            c.need(param, is_int, "an integer", "`range` counts in integers; convert with `i32(...)`"
                   if isinstance(c.type(param), HNum) and c.type(param).kind == "float" else None)
    if value(c.type("step")) == 0:
        c.bad("step", "`range` step must not be zero")
    if isinstance(c.type("b"), HNone) and not isinstance(c.type("step"), HNone):
        c.bad("step", "`range` with a step needs a start and a stop: `range(start, stop, step)`")


def check_batches(c: Call):
    def splitlike(t):
        return (isinstance(t, HRecord) and t.kind == "split") or (
            isinstance(t, tuple) and len(t) == 2 and all(isinstance(x, (HTensor, HAny)) for x in t))
    c.need("split", splitlike, "a data split such as `data.train`")
    size = c.need("size", is_int, "a positive integer")
    if value(size) is not None and value(size) < 1:
        c.bad("size", f"`batches` needs a positive batch size, got {value(size)}")
    c.need("drop_last", lambda t: isinstance(t, HNum) and t.kind == "bool", "`true` or `false`")


def check_len(c: Call):
    c.need("x", lambda t: isinstance(t, (HTensor, HStr, HIter, tuple))
           or (isinstance(t, HRecord) and t.kind == "split"),
           "a tensor, a data split, a tuple or a string")


def check_two_numbers(c: Call):
    other = "maximum" if c.fname == "max" else "minimum"
    for param in ("a", "b"):
        c.need(param, is_real, "a number",
               f"for tensors use `{other}(a, b)` (elementwise) or `{c.fname}(x)` (a reduction)")


def check_abs(c: Call):
    c.need("x", lambda t: is_real(t) or isinstance(t, HTensor), "a number or a tensor")


def check_record(c: Call):
    c.need("name", is_str, "a string (the series' name)")
    c.need("value", lambda t: isinstance(t, HNum), "a number",
           "record one number per call; reduce a tensor first: `mean(...)`")


def check_path(c: Call):
    t = c.need("path", is_str, "a string (the file name)")
    if value(t) == "":
        c.bad("path", f"`{c.fname}` needs a file name, got an empty string")


def check_mnist(c: Call):
    t = c.need("path", lambda t: is_str(t) or isinstance(t, HNone), "a string (a folder or file name)")
    if value(t) == "":
        c.bad("path", "`mnist` needs a folder or file name, got an empty string",
              "leave it out to read $SYM_DATA/mnist or the cache: `mnist()`")


def check_format(c: Call):
    v = c.need("value", lambda t: isinstance(t, (HNum, HStr)), "a number",
               "print a tensor with `print(x)`, or reduce it to a number first")
    spec = c.need("spec", is_str, "a format spec, a string such as \"f\" or \".2f\"")
    if isinstance(v, (HNum, HStr)) and value(spec) is not None:
        try:
            format(sample(v), value(spec))
        except (TypeError, ValueError) as exc:
            c.bad("spec", f"cannot format {describe(v)} with {value(spec)!r}: {exc}",
                  "Python's format specs: \"f\", \".3f\", \"e\", \">8\", \"d\" (integers)")


def check_draw(c: Call):
    first, second = ("mean", "std") if c.fname == "normal" else ("low", "high")
    for param in (first, second):
        t = c.need(param, is_real, "a number")
        if value(t) is not None and not math.isfinite(value(t)):
            c.bad(param, f"`{c.fname}` needs a finite `{param}`, got {value(t)}")
    a, b = value(c.type(first)), value(c.type(second))
    if c.fname == "normal" and b is not None and b < 0:
        c.bad(second, f"`normal` needs `std` >= 0, got {b}", "a standard deviation is not negative")
    if c.fname == "uniform" and a is not None and b is not None and not math.isfinite(b - a):
        c.bad(second, f"`uniform` range {a}..{b} is too wide to draw from")
    skip = value(c.need("skip", is_int, "an integer"))
    if skip is not None and not 0 <= skip <= 10 ** 6:
        c.bad("skip", f"`skip` counts the randint(2**30) draws made first: 0..1000000, got {skip}")
    seed = c.type("seed")
    if not isinstance(seed, HNone):
        c.need("seed", is_int, "an integer")
        s = value(seed)
        if s is not None and not 0 <= s <= SEED_MAX:
            c.bad("seed", f"`{c.fname}` needs a seed in 0..{SEED_MAX}, got {s}")


def check_full(c: Call):
    c.need("value", lambda t: isinstance(t, HNum), "a number")


def check_tensor_args(fname: str, args: dict, span):
    """Expression builtins on the host take tensors, numbers and tuples of them."""
    for param, (t, arg_span) in args.items():
        if param != "dtype" and isinstance(t, (HStr, HNone, HRecord, HIter)):
            raise errors.bad_host_argument(f"argument `{param}` of `{fname}` must be a tensor or a number, got {describe(t)}",
                                           arg_span or span,
                                           f"usage: {usage(fname, SIGS[fname])}" if fname in SIGS else None)


def check_save_tiles(c: Call):
    image = lambda t: (isinstance(t, HTensor) and t.dtype in ("f32", "f64")
                       and (len(t.shape) == 3 or (len(t.shape) == 4 and t.shape[1] in (1, 3, None))))
    c.need("x", image, "a float tensor f[n, h, w], or f[n, c, h, w] with 1 or 3 channels")
    check_path(c)


RULES = {
    "print": check_print, "range": check_range, "batches": check_batches, "len": check_len,
    "max": check_two_numbers, "min": check_two_numbers, "abs": check_abs,
    "record": check_record, "save": check_path, "load": check_path, "mnist": check_mnist,
    "format": check_format, "normal": check_draw, "uniform": check_draw, "full": check_full,
}


# ---- seeded permutations on the host ------------------------------------------------
def check_seed(c: Call):
    s = value(c.need("seed", is_int, "an integer"))
    if s is not None and not 0 <= s <= SEED_MAX:
        c.bad("seed", f"`{c.fname}` needs a seed in 0..{SEED_MAX}, got {s}")


def check_permutation(c: Call):
    n = value(c.need("n", is_int, "an integer"))
    if n is not None and n < 0:
        c.bad("n", f"`permutation` needs n >= 0, got {n}")
    check_seed(c)


def check_shuffle(c: Call):
    c.need("split", lambda t: isinstance(t, HRecord) and t.kind == "split",
           "a data split such as `data.train`")
    check_seed(c)


RULES.update({"permutation": check_permutation, "shuffle": check_shuffle})
RULES["save_tiles"] = check_save_tiles
