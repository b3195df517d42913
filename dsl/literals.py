"""Numbers the checker must refuse before they become values: a literal (or
a folded constant) that does not fit its dtype (E0218), a negative constant
dimension (E0214). Used by the checker, the builtins, the host checker, the
tensor API and the value boundary alike.
"""
from __future__ import annotations

import math
import sys

import numpy as np

from . import ast as A
from .types import FLOATS, Dim
from . import errors


def non_negative(d: Dim, span) -> Dim:
    """A constant dimension (`3 - 5` in a type or a shape) is never negative."""
    if isinstance(d, int) and d < 0:
        raise errors.shape_not_static("negative", span, d=d)
    return d


INT_LIMITS = {"i32": 2 ** 31, "i64": 2 ** 63}
F32_OVERFLOW = 2.0 ** 128 - 2.0 ** 103      # the smallest magnitude that rounds to an f32 inf
FLOAT_MAX = {"f32": float(np.finfo(np.float32).max), "f64": sys.float_info.max}


def check_literal_range(value, dtype: str, span, widen: str | None = None):
    """A number literal (or a folded constant) must fit the dtype it becomes.
    `widen` replaces the hint's "or i64" (a list literal says `i64([...])`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if isinstance(value, int):
        shown = str(value) if value.bit_length() <= 128 else f"constant of {value.bit_length()} bits"
        if dtype in INT_LIMITS and not -INT_LIMITS[dtype] <= value < INT_LIMITS[dtype]:
            raise errors.number_out_of_range("int", span,
                                             f"{dtype} holds {-INT_LIMITS[dtype]}..{INT_LIMITS[dtype] - 1}; "
                                             + (widen if widen and dtype == "i32" else
                                                "use a smaller number" + ", or i64" * (dtype == "i32")),
                                             shown=shown, dtype=dtype)
        if dtype in FLOATS and not fits_float(value, dtype):
            raise errors.number_out_of_range("int_as_float", span, shown=shown, dtype=dtype)
    elif dtype in FLOATS and not fits_float(value, dtype):
        raise errors.number_out_of_range("float", span,
                                         f"{dtype} holds magnitudes up to {FLOAT_MAX[dtype]:g}; "
                                         + ("compute in f64: `f64(...)`" if dtype == "f32" else "use a smaller number"),
                                         value=value, dtype=dtype)


def literal_overflow(e: A.Num):
    """A float literal too large for f64 (`1e400`) reads as inf: refuse it."""
    if isinstance(e.value, float) and math.isinf(e.value):
        raise errors.number_out_of_range("float_literal", e.span, limit=FLOAT_MAX['f64'])


def fits_float(value, dtype: str) -> bool:
    """False when a finite value would become an infinity in `dtype` (an
    inf or NaN that folding computed, like `2.0 ** 10000`, stays as it is)."""
    try:
        x = float(value)
    except OverflowError:
        return False
    if math.isinf(x) or math.isnan(x):
        return isinstance(value, float)
    return dtype != "f32" or abs(x) < F32_OVERFLOW
