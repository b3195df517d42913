"""Random `.sym` programs for the differential fuzzer, and the worker that runs them.

`programs(profile)` is a hypothesis strategy for whole programs that are
well typed by construction: shared values, one to three defs whose bodies
are random DAGs of the language's ops over shapes with the size variables
`n` and `m`, and a host part that calls each def with literal arrays for one
or two bindings of the sizes and prints every result after a marker line
naming its dtype (`@f32 ...`), so the outputs of two backends can be
compared number by number with a tolerance for the dtype.

`mutants(...)` damages valid programs (tokens and lines deleted, duplicated,
swapped; odd characters inserted).

Programs run in a `Worker`: a child process that compiles and runs them
in-process and answers over a pipe, so a hang is killed after a time limit,
a signal (a segfault in a kernel) is seen as the child's death, and memory
is capped.
"""
from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st
from test_fuzz_checker import mutate_line

REPO = Path(__file__).resolve().parent.parent

# Categories of programs that each found a defect when the fuzzer was
# written; all are fixed and the CI profile generates every one. A category
# named in SYM_FUZZ_AVOID is left out (and its signature tolerated in
# mutants) while a regression is chased. Each comment says what it found.
KNOWN_DEFECTS = [
    # a constant index or slice bound on a dimension known only by name
    # (`p[5]` of f32[n, 10] with n = 3) is never checked: OpenCL reads out of
    # bounds, numpy ends in E9999
    "symbolic_constant_index",
    # `max`/`min`/`argmax`/`softmax`/`logsumexp` over an empty axis: numpy
    # E9999, OpenCL -inf
    "empty_reduction",
    # `x ** -1` on integers: numpy E9999, OpenCL 0
    "int_negative_pow",
    # `one_hot(y, -2)`: the backends disagree
    "one_hot_negative_depth",
    # `one_hot(y, 0)` with any label: numpy E0603 (every label is out of
    # range), OpenCL an empty result (it checks labels only where it writes)
    "one_hot_zero_depth",
    # an out-of-range gather index is reported by OpenCL at a later call or
    # as E9999; OpenCL checks no index of an empty result (`a[i]` of
    # f32[1, 0] with i = 2: numpy E0603, OpenCL [])
    "gather_out_of_range",
    # an E0603 that OpenCL finds is raised when a result is read, not by its
    # call: without "(in a call of `f`)" and the "called here" note
    "late_index_error",
    # float literals in f64 code pass through f32 (`0.1 * x` with x: f64)
    "f64_inexact_literal",
    # integer literals that do not fit i32 wrap
    "int_literal_overflow",
    # a long straight-line def with `grad` overflows the recursion of the
    # OpenCL analysis
    "deep_graph",
    # an array too big to allocate (`shared W: f32[784, 10101010]`,
    # `zeros((2 ** 62,))`) ends in E9999 (MemoryError, ValueError)
    "huge_allocation",
    # on OpenCL, an update whose value does not read the shared value it
    # updates (`S <- x * 2.0`, `S1 <- S0 + 1.0`) ends in E9999 (KeyError 's:S')
    "update_not_reading_itself",
    # a host integer that does not fit the parameter (`f(2147483648)` for an
    # i32 parameter) ends in E9999 (OverflowError)
    "int_argument_overflow",
    # a ragged list literal on the host (`[[0.0], [], [0.0]]`) ends in E9999
    # (numpy's ValueError "inhomogeneous shape")
    "ragged_list_literal",
    # shared initialisers' arguments are not validated: `seed=-1`,
    # `normal(0.0, -1.0, seed=1)`, a float seed `seed=1e-45`, a positional
    # seed `uniform(-1.0, 1.0, 7)` end in E9999
    "initializer_arguments",
    # host builtins do not validate their arguments: `save(5)`, `load(W)`,
    # `print(1, sep=5)` end in E9999 (TypeError)
    "host_builtin_arguments",
    # `2 ** 62 ** 62` on the host computes the integer for ever
    "host_bignum_hang",
]

# How a known defect shows in a run's result, for programs that are not
# generated to avoid it (mutants): name -> pattern over the failure text.
KNOWN_SIGNATURES = {
    "huge_allocation": r"MemoryError|array is too big|Maximum allowed dimension exceeded",
    "empty_reduction": r"zero-size array to reduction operation|attempt to get arg(max|min) of an empty sequence",
    "symbolic_constant_index": r"index -?\d+ is out of bounds for axis|numpy impl of `slice` gave"
                               r"|could not broadcast input array from shape",
    "int_negative_pow": r"Integers to negative integer powers are not allowed",
    "int_argument_overflow": r"OverflowError: Python int(eger -?\d+ out of bounds| too large to convert)",
    "ragged_list_literal": r"inhomogeneous shape",
    "host_builtin_arguments": r"TypeError: expected str, bytes or os.PathLike object"
                              r"|AttributeError: '\w+' object has no attribute 'join'",
    "initializer_arguments": r"Seed must be between|scale < 0|too many values to unpack \(expected \d\)"
                             r"|Cannot cast scalar from dtype\('float64'\) to dtype\('int64'\)",
}
# OpenCL checks no index of an element it does not compute: where numpy
# stops at E0603, OpenCL may go on (to no error, or a later one)
UNCHECKED_EMPTY = ("gather_out_of_range", "one_hot_zero_depth", "one_hot_negative_depth")


def known_difference(profile: Profile, numpy_error: tuple | None, other_error: tuple | None) -> bool:
    """Whether two backends' different errors are an avoided known defect."""
    return (numpy_error is not None and numpy_error[0] == "E0603" and numpy_error != other_error
            and not all(profile.allows(d) for d in UNCHECKED_EMPTY))


def known_failure(profile: Profile, source: str, result: dict) -> str | None:
    """The avoided known defect a failed result shows, if any."""
    if result.get("timeout") and re.search(r"\*\*\s*\d+\s*\*\*|\d{3,}\s*\*\*\s*\d{3,}", source):
        return None if profile.allows("host_bignum_hang") else "host_bignum_hang"
    text = summary(result)
    for name, pattern in KNOWN_SIGNATURES.items():
        if not profile.allows(name) and re.search(pattern, text):
            return name
    return None


SIZE_VARS = ("n", "m")
FLOATS = ("f32", "f64")
INTS = ("i32", "i64")
NUMERIC = FLOATS + INTS


@dataclass(frozen=True)
class Profile:
    """What the generator may produce: `avoid` holds KNOWN_DEFECTS names."""
    avoid: frozenset = frozenset(KNOWN_DEFECTS)
    wild: bool = False          # raw log/sqrt/division: NaN and inf on purpose

    def allows(self, defect: str) -> bool:
        assert defect in KNOWN_DEFECTS, defect
        return defect not in self.avoid


# ---- shapes: a dim is an int, or size text such as "n", "n - 1", "3 * m" ----------------

def eval_dim(d, sizes: dict) -> int:
    return d if isinstance(d, int) else int(eval(d, {"__builtins__": {}}, dict(sizes)))


def type_text(dtype: str, shape: tuple) -> str:
    return dtype if not shape else f"{dtype}[{', '.join(str(d) for d in shape)}]"


def broadcast(a: tuple, b: tuple) -> tuple | None:
    """numpy's rule, with dims equal only when their text is equal."""
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            return None
    return tuple(reversed(out))


def substitute(d, subst: dict):
    """A callee's dim with its size variables replaced by the caller's dims."""
    if isinstance(d, int):
        return d
    text = re.sub(r"\b[a-z]\b", lambda m: str(subst.get(m.group(), m.group())), d)
    if not re.search(r"[a-z]", text):
        return eval_dim(text, {})
    return text


def dim_sum(a, b):
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    return f"{a} + {b}"


def dim_product(dims):
    consts = 1
    names = []
    for d in dims:
        if isinstance(d, int):
            consts *= d
        else:
            names.append(d if re.fullmatch(r"\w+", d) else f"({d})")
    if not names:
        return consts
    if consts == 0:
        return 0
    text = " * ".join(names)
    return text if consts == 1 else f"{consts} * {text}"


# ---- values inside a def -----------------------------------------------------------
@dataclass(frozen=True)
class Val:
    name: str
    dtype: str
    shape: tuple
    deps: frozenset = frozenset()   # names `grad` may take: what this value reaches
    exact: bool = False             # free of rounding: safe for comparisons, casts to int

    @property
    def rank(self):
        return len(self.shape)


@dataclass
class Param:
    name: str
    dtype: str
    shape: tuple
    index_of: tuple | None = None   # (dim, allow_out_of_range): an index array into `dim`
    labels: int | None = None       # labels for one_hot of this depth: 0 <= y < depth


class DefBuilder:
    """Draws one def: parameters appear when an op needs an input."""

    MAX_PARAMS = 4

    def __init__(self, draw, prog: "ProgramBuilder", name: str):
        self.draw, self.prog, self.name = draw, prog, name
        self.params: list[Param] = []
        self.vals: list[Val] = []
        self.lines: list[str] = []
        self.updates: list[str] = []
        for s in prog.shareds:
            self.vals.append(Val(s.name, s.dtype, s.shape, frozenset([s.name]) if s.dtype in FLOATS else frozenset(),
                                 exact=s.dtype not in FLOATS))

    # -- helpers --
    def choice(self, seq):
        return self.draw(st.sampled_from(list(seq)))

    def dims_pool(self):
        return ["n", 2, 3, 1, "m", 4]

    def bound_dims(self, *ints):
        """Dims a value made inside the body may have: the parameters bind the size variables."""
        names = [v for v in SIZE_VARS if any(v in str(d) for p in self.params for d in p.shape)]
        return names + list(ints)

    def new_shape(self, min_rank=0, max_rank=3):
        rank = self.draw(st.integers(min_rank, max_rank))
        return tuple(self.choice(self.dims_pool()) for _ in range(rank))

    def local(self, expr: str, dtype: str, shape: tuple, deps=frozenset(), exact=False) -> Val:
        name = f"t{len(self.lines)}"
        self.lines.append(f"{name} = {expr}")
        deps = frozenset(deps) | ({name} if dtype in FLOATS else frozenset())
        v = Val(name, dtype, tuple(shape), deps, exact)
        self.vals.append(v)
        return v

    def param(self, dtype: str, shape: tuple, index_of=None) -> Val | None:
        if len(self.params) >= self.MAX_PARAMS:
            return None
        name = "abcdefgh"[len(self.params)]
        self.params.append(Param(name, dtype, tuple(shape), index_of))
        v = Val(name, dtype, tuple(shape), frozenset([name]) if dtype in FLOATS else frozenset(), exact=True)
        self.vals.append(v)
        return v

    def pick(self, pred) -> Val | None:
        fits = [v for v in self.vals if pred(v)]
        return self.choice(fits) if fits else None

    def value(self, pred, dtype=None, shape=None) -> Val | None:
        """An existing value, or a new parameter of the given type."""
        v = self.pick(pred)
        if v is None or (dtype is not None and shape is not None and self.draw(st.integers(0, 4)) == 0):
            if dtype is not None and shape is not None:
                return self.param(dtype, shape) or v
        return v

    def partner_shape(self, shape: tuple) -> tuple:
        """A shape that broadcasts with `shape` (a suffix, some dims 1, maybe longer)."""
        k = self.draw(st.integers(0, len(shape)))
        out = tuple(1 if self.draw(st.integers(0, 3)) == 0 else d for d in shape[len(shape) - k:])
        if len(out) == len(shape) and len(out) < 3 and self.draw(st.integers(0, 5)) == 0:
            out = (self.choice([2, "n", 1]),) + out
        return out

    def partner(self, a: Val, dtype: str | None = None) -> Val | str | None:
        """A value of a's dtype (or `dtype`) broadcasting with a, or a literal."""
        dtype = dtype or a.dtype
        if self.draw(st.integers(0, 4)) == 0 and dtype != "bool":
            return self.literal(dtype)
        v = self.pick(lambda v: v.dtype == dtype and broadcast(a.shape, v.shape) is not None)
        if v is None or self.draw(st.integers(0, 2)) == 0:
            return self.param(dtype, self.partner_shape(a.shape)) or v
        return v

    def literal(self, dtype: str) -> str:
        if dtype in INTS:
            big = [] if not self.prog.profile.allows("int_literal_overflow") else ["3000000000"]
            return self.choice(["2", "1", "3", "0"] + big)
        pool = ["0.5", "2.0", "1.5", "0.25", "3.0"]
        if dtype == "f32" or self.prog.profile.allows("f64_inexact_literal"):
            pool += ["0.1", "0.13"]
        return self.choice(pool)

    def may_be_empty(self, dims) -> bool:
        return any(eval_dim(d, s) == 0 for d in dims for s in self.prog.bindings)

    def in_range_everywhere(self, i: int, d) -> bool:
        return all(-eval_dim(d, s) <= i < eval_dim(d, s) for s in self.prog.bindings)

    # -- ops: each returns a Val, or None when it does not fit --
    def op_unary_float(self):
        a = self.value(lambda v: v.dtype in FLOATS, "f32", self.new_shape())
        if a is None:
            return None
        fn = self.choice(["exp", "log", "log1p", "sqrt", "tanh", "sigmoid", "softplus", "sin", "cos"])
        wild = self.prog.profile.wild and self.draw(st.booleans())
        safe = {"exp": f"exp(tanh({a.name}))", "log": f"log(abs({a.name}) + 0.5)",
                "log1p": f"log1p(abs({a.name}))", "sqrt": f"sqrt(abs({a.name}) + 0.25)"}
        expr = f"{fn}({a.name})" if wild or fn not in safe else safe[fn]
        return self.local(expr, a.dtype, a.shape, a.deps)

    def op_unary_numeric(self):
        a = self.value(lambda v: v.dtype in NUMERIC, self.choice(NUMERIC), self.new_shape())
        if a is None:
            return None
        fn = self.choice(["abs", "neg", "relu"] + (["sign"] if a.exact else []))
        expr = f"-{a.name}" if fn == "neg" else f"{fn}({a.name})"
        return self.local(expr, a.dtype, a.shape, a.deps, a.exact)

    def op_binary(self):
        a = self.value(lambda v: v.dtype in NUMERIC, self.choice(NUMERIC), self.new_shape())
        if a is None:
            return None
        b = self.partner(a)
        if b is None:
            return None
        bname, bshape = (b, ()) if isinstance(b, str) else (b.name, b.shape)
        shape = broadcast(a.shape, bshape)
        exact = a.exact and (isinstance(b, str) or b.exact)
        deps = a.deps | (frozenset() if isinstance(b, str) else b.deps)
        ops = ["+", "-", "*", "maximum", "minimum"]
        if a.dtype in INTS:
            ops += ["//", "%", "**"]
        else:
            ops += ["/", "**"] + (["//", "%"] if exact else [])
        op = self.choice(ops)
        if op in ("maximum", "minimum"):
            expr = f"{op}({a.name}, {bname})"
        elif op == "**":
            return self.power(a)
        elif op == "/" and not self.prog.profile.wild and not isinstance(b, str):
            expr = f"{a.name} / (abs({bname}) + 1.0)"
        else:
            expr = f"{a.name} {op} {bname}"
        ints_exact = exact and a.dtype in INTS
        return self.local(expr, a.dtype, shape, deps, ints_exact or (exact and op in "+-"))

    def power(self, a: Val):
        exps = ["2", "3", "0", "1"]
        if a.dtype in FLOATS:
            exps += ["-1", "0.5", "-2"]
            base = f"(abs({a.name}) + 0.5)"
        else:
            base = a.name
            if self.prog.profile.allows("int_negative_pow"):
                exps += ["-1", "-2"]
        e = self.choice(exps)
        return self.local(f"{base} ** {e}", a.dtype, a.shape, a.deps, a.exact and a.dtype in INTS)

    def op_compare(self):
        a = self.value(lambda v: v.exact and v.dtype != "bool", self.choice(NUMERIC), self.new_shape())
        if a is None or not a.exact:
            return None
        b = self.partner(a)
        if b is None or (not isinstance(b, str) and not b.exact):
            return None
        bname, bshape = (b, ()) if isinstance(b, str) else (b.name, b.shape)
        op = self.choice(["<", "<=", ">", ">=", "==", "!="])
        return self.local(f"{a.name} {op} {bname}", "bool", broadcast(a.shape, bshape), exact=True)

    def op_logic(self):
        a = self.value(lambda v: v.dtype == "bool", "bool", self.new_shape())
        if a is None:
            return None
        if self.draw(st.integers(0, 2)) == 0:
            return self.local(f"not {a.name}", "bool", a.shape, exact=True)
        b = self.partner(a)
        if b is None or isinstance(b, str):
            return None
        op = self.choice(["and", "or"])
        return self.local(f"({a.name} {op} {b.name})", "bool", broadcast(a.shape, b.shape), exact=True)

    def op_where(self):
        c = self.value(lambda v: v.dtype == "bool", "bool", self.new_shape())
        if c is None:
            return None
        a = self.pick(lambda v: v.dtype != "bool" and broadcast(c.shape, v.shape) is not None)
        if a is None:
            return None
        b = self.partner(a)
        if b is None:
            return None
        bname, bshape = (b, ()) if isinstance(b, str) else (b.name, b.shape)
        shape = broadcast(broadcast(a.shape, bshape), c.shape)
        if shape is None:
            return None
        deps = a.deps | (frozenset() if isinstance(b, str) else b.deps)
        return self.local(f"where({c.name}, {a.name}, {bname})", a.dtype, shape, deps)

    def op_cast(self):
        a = self.pick(lambda v: True)
        to = self.choice(("f32", "f64", "i32", "i64", "bool"))
        if a is None or to == a.dtype:
            return None
        if a.dtype in FLOATS and to not in FLOATS and not a.exact:
            return None
        return self.local(f"{to}({a.name})", to, a.shape, a.deps if to in FLOATS else frozenset(), a.exact)

    def op_reduce(self):
        a = self.value(lambda v: v.dtype in NUMERIC and v.rank >= 1, self.choice(NUMERIC), self.new_shape(1))
        if a is None:
            return None
        fn = self.choice(["sum", "mean", "max", "min", "prod", "argmax", "argmin"])
        if fn == "mean" and a.dtype not in FLOATS:
            fn = "sum"
        if fn.startswith("arg") and not a.exact:
            fn = "max"
        if fn == "prod" and (a.rank > 2 or a.dtype in INTS):
            fn = "sum"
        kwargs, axes = self.reduce_axes(a, single=fn.startswith("arg"))
        if fn in ("max", "min", "argmax", "argmin") and self.may_be_empty([a.shape[i] for i in axes]) \
                and not self.prog.profile.allows("empty_reduction"):
            return None
        keep = self.draw(st.booleans()) and kwargs != ""
        if keep:
            kwargs += ", keepdims=true"
        shape = tuple(1 if i in axes else d for i, d in enumerate(a.shape) if keep or i not in axes)
        dtype = "i32" if fn.startswith("arg") else a.dtype
        exact = a.exact and (a.dtype in INTS or fn in ("max", "min")) or fn.startswith("arg")
        return self.local(f"{fn}({a.name}{kwargs})", dtype, shape,
                          frozenset() if fn.startswith("arg") else a.deps, exact)

    def reduce_axes(self, a: Val, single=False):
        kind = self.draw(st.integers(0, 3 if a.rank > 1 and not single else 2))
        if kind == 0:
            return "", tuple(range(a.rank))
        if kind == 3:
            i, j = sorted(self.draw(st.lists(st.integers(0, a.rank - 1), min_size=2, max_size=2, unique=True)))
            return f", axis=({i}, {j})", (i, j)
        i = self.draw(st.integers(-a.rank, a.rank - 1))
        return f", axis={i}", (i % a.rank,)

    def op_row(self):
        a = self.value(lambda v: v.dtype in FLOATS and v.rank >= 1, "f32", self.new_shape(1))
        if a is None:
            return None
        fn = self.choice(["softmax", "log_softmax", "logsumexp"])
        axis = self.draw(st.integers(-a.rank, a.rank - 1))
        if self.may_be_empty([a.shape[axis]]) and not self.prog.profile.allows("empty_reduction"):
            return None
        kwargs = "" if axis == -1 and self.draw(st.booleans()) else f", axis={axis}"
        shape = a.shape if fn != "logsumexp" else tuple(d for i, d in enumerate(a.shape) if i != axis % a.rank)
        return self.local(f"{fn}({a.name}{kwargs})", a.dtype, shape, a.deps)

    def op_matmul(self):
        a = self.value(lambda v: v.dtype in NUMERIC and v.rank in (1, 2), self.choice(["f32", "f32", "f64", "i32"]),
                       self.new_shape(1, 2))
        if a is None:
            return None
        k = a.shape[-1]
        shape_b = (k, self.choice([2, "n", 3, "m", 1])) if self.draw(st.integers(0, 3)) else (k,)
        b = self.value(lambda v: v.dtype == a.dtype and v.shape == shape_b, a.dtype, shape_b)
        if b is None:
            return None
        return self.local(f"{a.name} @ {b.name}", a.dtype, a.shape[:-1] + b.shape[1:], a.deps | b.deps,
                          a.exact and b.exact and a.dtype in INTS)

    def op_transpose(self):
        a = self.pick(lambda v: v.rank >= 2)
        if a is None:
            return None
        if a.rank == 2 and self.draw(st.booleans()):
            return self.local(f"{a.name}.T", a.dtype, a.shape[::-1], a.deps, a.exact)
        perm = self.draw(st.permutations(range(a.rank)))
        return self.local(f"transpose({a.name}, ({', '.join(map(str, perm))}))", a.dtype,
                          tuple(a.shape[p] for p in perm), a.deps, a.exact)

    def op_reshape(self):
        a = self.pick(lambda v: True)
        if a is None:
            return None
        kind = self.choice(["flatten", "unit", "split", "squeeze"])
        shape = None
        if kind == "flatten" and a.rank >= 1:
            shape = (dim_product(a.shape),)
        elif kind == "unit" and a.rank < 3:
            i = self.draw(st.integers(0, a.rank))
            shape = a.shape[:i] + (1,) + a.shape[i:]
        elif kind == "split":
            splits = [i for i, d in enumerate(a.shape) if d in (4, 6)]
            if splits and a.rank < 3:
                i = self.choice(splits)
                shape = a.shape[:i] + (2, a.shape[i] // 2) + a.shape[i + 1:]
        elif kind == "squeeze" and 1 in a.shape:
            i = a.shape.index(1)
            shape = a.shape[:i] + a.shape[i + 1:]
        if shape is None:
            return None
        text = "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
        return self.local(f"reshape({a.name}, {text})", a.dtype, shape, a.deps, a.exact)

    def op_slice(self):
        a = self.pick(lambda v: v.rank >= 1)
        if a is None:
            return None
        items, shape = [], []
        for d in a.shape[:self.draw(st.integers(1, a.rank))]:
            item = self.slice_item(d)
            if item is None:
                return None
            text, length = item
            items.append(text)
            if length is not None:
                shape.append(length)
        shape += list(a.shape[len(items):])
        return self.local(f"{a.name}[{', '.join(items)}]", a.dtype, tuple(shape), a.deps, a.exact)

    def slice_item(self, d):
        """(text, length or None for an index)."""
        if isinstance(d, int):
            if d > 0 and self.draw(st.integers(0, 2)) == 0:
                return str(self.draw(st.integers(-d, d - 1))), None
            start = self.draw(st.one_of(st.none(), st.integers(-d - 1, d + 1)))
            stop = self.draw(st.one_of(st.none(), st.integers(-d - 1, d + 1)))
            step = self.draw(st.sampled_from([None, 1, 2, -1, -2]))
            length = len(range(d)[slice(start, stop, step)])
            text = ":".join("" if x is None else str(x) for x in (start, stop)) + ("" if step is None else f":{step}")
            return text, length
        # a dimension known only by name
        kind = self.draw(st.integers(0, 5))
        if kind == 0:
            return ":", d
        if kind == 1:
            i = self.choice([0, -1, 1, 2])
            if not self.in_range_everywhere(i, d) and not self.prog.profile.allows("symbolic_constant_index"):
                return None
            return str(i), None
        if kind in (2, 3):      # x[k:] and x[:-k]: length d - k
            k = self.choice([1, 2])
            return (f"{k}:" if kind == 2 else f":-{k}"), f"{d} - {k}"
        k = self.choice([1, 2, 3])  # x[:k] and x[-k:]: length k, needs d >= k
        if not all(eval_dim(d, s) >= k for s in self.prog.bindings) \
                and not self.prog.profile.allows("symbolic_constant_index"):
            return None
        return (f":{k}" if kind == 4 else f"-{k}:"), k

    def op_gather(self):
        a = self.pick(lambda v: v.rank >= 1)
        if a is None:
            return None
        form = self.draw(st.integers(0, 3))
        oob = self.prog.profile.allows("gather_out_of_range")
        if form == 0:       # x[idx] with an index parameter, or an integer value we have
            idx = None
            if oob and self.draw(st.booleans()):    # a computed index may fall anywhere
                idx = self.pick(lambda v: v.dtype in INTS and v.rank <= 2)
            if idx is None:
                shape = self.draw(st.sampled_from([(3,), ("n",), (2,), ("m",), (1,), (2, "n"), ("m", 2)]))
                idx = self.index_param(self.choice(INTS), shape, a.shape[0], oob)
            if idx is None:
                return None
            return self.local(f"{a.name}[{idx.name}]", a.dtype, idx.shape + a.shape[1:], a.deps, a.exact)
        if form == 1 and a.rank >= 2:     # p[arange(n), y]: rows paired with a label each
            rows = a.shape[0]
            y = self.index_param("i32", (rows,), a.shape[1], oob)
            if y is None:
                return None
            return self.local(f"{a.name}[arange({rows}), {y.name}]", a.dtype, (rows,) + a.shape[2:], a.deps, a.exact)
        if form == 2 and a.rank >= 2:     # a constant index, then an array
            if not isinstance(a.shape[0], int) or a.shape[0] == 0:
                return None
            i = self.draw(st.integers(-a.shape[0], a.shape[0] - 1))
            idx = self.index_param("i64", (self.choice([2, "n"]),), a.shape[1], oob)
            if idx is None:
                return None
            return self.local(f"{a.name}[{i}, {idx.name}]", a.dtype, idx.shape + a.shape[2:], a.deps, a.exact)
        return None

    def index_param(self, dtype, shape, dim, oob) -> Val | None:
        if not oob and self.may_be_empty([dim]):
            return None     # every index into an empty axis is out of range
        return self.param(dtype, shape, index_of=(dim, oob))

    def op_one_hot(self):
        depths = [1, 2, 3, 4]
        for defect, depth in (("one_hot_zero_depth", 0), ("one_hot_negative_depth", -2)):
            if self.prog.profile.allows(defect):
                depths.append(depth)
        k = self.choice(depths)
        if self.draw(st.integers(0, 3)) == 0:    # any integers: labels out of range are an error
            y = self.pick(lambda v: v.dtype in INTS and v.rank <= 2)
        elif len(self.params) < self.MAX_PARAMS:
            y = self.param(self.choice(INTS), self.new_shape(0, 2))
            self.params[-1].labels = k
        else:
            return None
        if y is None:
            return None
        if k < 0:       # a negative size: summed at once, so no later op sees it
            return self.local(f"sum(one_hot({y.name}, {k}))", "f32", (), exact=True)
        return self.local(f"one_hot({y.name}, {k})", "f32", y.shape + (k,), exact=True)

    def op_construct(self):
        kind = self.choice(["zeros", "ones", "full", "arange"])
        if kind == "arange":
            d = self.choice(self.bound_dims(3, 0))
            return self.local(f"arange({d})", "i64", (d,), exact=True)
        pool = self.bound_dims(2, 3, 1)
        shape = tuple(self.choice(pool) for _ in range(self.draw(st.integers(0, 2))))
        text = "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
        dtype = self.choice(["f32", "f64", "i32"])
        if kind == "full":
            fill = "1.5" if dtype in FLOATS else "7"
            return self.local(f"full({text}, {fill}" + (", dtype=f64)" if dtype == "f64" else ")"),
                              dtype, shape, exact=True)
        return self.local(f"{kind}({text}" + ("" if dtype == "f32" else f", dtype={dtype}") + ")",
                          dtype, shape, exact=True)

    def op_size(self):
        d = self.choice(["n", "m", "len", "shape"])
        if d in ("len", "shape"):
            a = self.pick(lambda v: v.rank >= 1)
            if a is None:
                return None
            d = f"len({a.name})" if d == "len" else f"{a.name}.shape[{a.rank - 1}]"
        elif not any(d in str(x) for p in self.params for x in p.shape):
            return None
        to = self.choice(["f32", "i64", "f64"])
        return self.local(d if to == "i64" else f"{to}({d})", to, (), exact=True)

    def op_concat(self):
        a = self.pick(lambda v: v.rank >= 1)
        if a is None:
            return None
        stack = a.rank < 3 and self.draw(st.booleans())
        axis = self.draw(st.integers(0, a.rank if stack else a.rank - 1))
        if stack:
            b = self.value(lambda v: v.dtype == a.dtype and v.shape == a.shape, a.dtype, a.shape)
            if b is None:
                return None
            shape = a.shape[:axis] + (2,) + a.shape[axis:]
            return self.local(f"stack(({a.name}, {b.name}), axis={axis})", a.dtype, shape,
                              a.deps | b.deps, a.exact and b.exact)
        other = self.choice([1, 2, "n", a.shape[axis]])
        shape_b = a.shape[:axis] + (other,) + a.shape[axis + 1:]
        b = self.value(lambda v: v.dtype == a.dtype and v.shape == shape_b, a.dtype, shape_b)
        if b is None:
            return None
        shape = a.shape[:axis] + (dim_sum(a.shape[axis], other),) + a.shape[axis + 1:]
        return self.local(f"concat(({a.name}, {b.name}), axis={axis})", a.dtype, shape,
                          a.deps | b.deps, a.exact and b.exact)

    def op_grad(self):
        c = self.pick(lambda v: v.dtype in FLOATS and v.deps)
        if c is None:
            return None
        wrt_name = self.choice(sorted(c.deps))
        wrt = next(v for v in self.vals if v.name == wrt_name)
        if wrt.dtype not in FLOATS:
            return None
        square = self.draw(st.booleans())
        if c.rank == 0:
            cost = f"{c.name} * {c.name}" if square else c.name
        elif square:
            cost = f"sum({c.name} * {c.name})"
        else:
            cost = f"sum({c.name})" if self.may_be_empty(c.shape) or self.draw(st.booleans()) else f"mean({c.name})"
        # a linear cost's gradient may not depend on anything; c * c keeps c in it
        return self.local(f"grad({cost}, {wrt.name})", wrt.dtype, wrt.shape, c.deps if square else frozenset())

    def op_call(self):
        """A call of an earlier def without updates (inlined), its sizes bound anew."""
        callees = [d for d in self.prog.defs if not d.updates]
        if not callees:
            return None
        d = self.choice(callees)
        subst = {v: self.choice(["n", "m", 2, 3, 1]) for v in SIZE_VARS}
        dims = [substitute(x, subst) for p in d.params for x in p.shape] + \
            [substitute(x, subst) for v in d.outs for x in v.shape]
        if any(isinstance(x, int) and x < 0 for x in dims):
            return None     # `x[:-2]` of a callee bound to n = 1
        if not self.callee_sizes_checked(d, subst):
            return None
        args = []
        for p in d.params:
            shape = tuple(substitute(x, subst) for x in p.shape)
            if p.index_of is not None or p.labels is not None:
                index_of = p.index_of and (substitute(p.index_of[0], subst), p.index_of[1])
                v = self.param(p.dtype, shape, index_of)
                if v is not None:
                    self.params[-1].labels = p.labels
            else:
                v = self.value(lambda v: v.dtype == p.dtype and v.shape == shape, p.dtype, shape)
            if v is None:
                return None
            args.append(v)
        names = [f"t{len(self.lines)}_{i}" for i in range(len(d.outs))]
        self.lines.append(f"{', '.join(names)} = {d.name}({', '.join(v.name for v in args)})")
        for name, out in zip(names, d.outs):
            # what the output reaches: the arguments of the parameters it reaches, and shared values
            deps = {x for x in out.deps if x in self.prog.shared_names}
            deps |= {y for p, v in zip(d.params, args) if p.name in out.deps for y in v.deps}
            self.vals.append(Val(name, out.dtype, tuple(substitute(x, subst) for x in out.shape),
                                 frozenset(deps | {name}) if out.dtype in FLOATS else frozenset(), out.exact))
        return self.vals[-1]

    def callee_sizes_checked(self, d: "DefInfo", subst: dict) -> bool:
        """The callee avoided the known defects for the program's bindings of
        its sizes only: the call must bind them to one of those."""
        if all(self.prog.profile.allows(x) for x in ("empty_reduction", "symbolic_constant_index")):
            return True
        used = [v for v in SIZE_VARS if any(v in str(x) for p in d.params for x in p.shape)]
        for sizes in self.prog.bindings:
            bound = {v: eval_dim(subst[v], sizes) for v in used}
            if not any(all(bound[v] == other[v] for v in used) for other in self.prog.bindings):
                return False
        return True

    OPS = ["call", "unary_float", "unary_float", "unary_numeric", "binary", "binary", "binary", "compare", "logic",
           "where", "cast", "reduce", "reduce", "row", "matmul", "transpose", "reshape", "slice", "slice",
           "gather", "gather", "one_hot", "construct", "size", "concat", "grad", "grad", "grad"]

    def chain(self, length: int):
        """A long straight-line def: `length` assignments, then a grad through all of them."""
        x = self.param("f32", (self.choice(["n", 3]),))
        v = x
        for i in range(length):
            v = self.local(f"tanh({v.name}) * 0.5 + {x.name}" if i % 2 else f"{v.name} * {v.name} - 0.25",
                           "f32", x.shape, v.deps)
        self.local(f"grad(sum({v.name}), {x.name})", "f32", x.shape)

    def body(self):
        if self.prog.profile.allows("deep_graph") and self.draw(st.integers(0, 40)) == 0:
            return self.chain(self.draw(st.integers(150, 300)))
        if self.draw(st.booleans()):
            self.param("f32", self.new_shape(1, 2))
        for _ in range(self.draw(st.integers(1, 9))):
            for _attempt in range(4):
                op = self.choice(self.OPS)
                if getattr(self, "op_" + op)() is not None:
                    break
        if not self.lines:
            self.op_construct()

    def returns(self) -> list[Val]:
        locals_ = [v for v in self.vals if v.name.startswith("t")]
        if not locals_:
            locals_ = [v for v in self.vals if v.name in {p.name for p in self.params}] or self.vals[:1]
        k = self.draw(st.integers(1, min(2, len(locals_))))
        out = []
        for v in reversed(locals_):
            if len(out) < k and (not out or self.draw(st.booleans())):
                out.append(v)
        return out or [locals_[-1]]

    def shared_updates(self):
        for s in self.prog.shareds:
            if self.draw(st.integers(0, 2)) != 0:
                continue
            grads = [v for v in self.vals if v.name != s.name and s.name in v.deps and v.dtype in FLOATS]
            if s.dtype in FLOATS and grads and self.draw(st.booleans()):
                c = self.choice(grads)
                cost = f"sum({c.name})" if c.rank else c.name
                self.updates.append(f"{s.name} <- {s.name} - 0.5 * grad({cost}, {s.name})")
            elif s.dtype in FLOATS:
                # any value that fits, another shared value among them: `S0 <- S1` while
                # `S1 <- S0 ...` swaps them (every update reads the old values)
                fits = [v for v in self.vals if v.dtype == s.dtype and broadcast(s.shape, v.shape) == s.shape]
                v = self.choice(fits) if fits else None
                if v is None:
                    continue
                forms = [f"{s.name} <- {s.name} * 0.5 + {v.name}"]
                if v.shape == s.shape and (s.name in v.deps or self.prog.profile.allows("update_not_reading_itself")):
                    forms.append(f"{s.name} <- {v.name}")
                self.updates.append(self.choice(forms))
            else:
                other = [t for t in self.prog.shareds if t.dtype == s.dtype and t.shape == s.shape
                         and (t is s or self.prog.profile.allows("update_not_reading_itself"))]
                self.updates.append(f"{s.name} <- {self.choice(other).name} + 1")

    def text(self, outs: list[Val]) -> str:
        sig = ", ".join(f"{p.name}: {type_text(p.dtype, p.shape)}" for p in self.params)
        ret = ", ".join(type_text(v.dtype, v.shape) for v in outs)
        ret = f"({ret})" if len(outs) > 1 else ret
        body = self.lines + self.updates + [f"return {', '.join(v.name for v in outs)}"]
        return f"def {self.name}({sig}) -> {ret}:\n" + "".join(f"    {line}\n" for line in body)


@dataclass
class Shared:
    name: str
    dtype: str
    shape: tuple
    init: str


@dataclass
class DefInfo:
    name: str
    params: list
    outs: list
    updates: bool


class ProgramBuilder:
    def __init__(self, draw, profile: Profile):
        self.draw, self.profile = draw, profile
        # n is sometimes past the OpenCL backend's small-extent paths (16)
        self.bindings = [{"n": self.draw(st.sampled_from([2, 1, 3, 0, 4, 17])),
                          "m": self.draw(st.sampled_from([2, 1, 3, 0, 4]))}
                         for _ in range(self.draw(st.integers(1, 2)))]
        self.shareds: list[Shared] = []
        for i in range(self.draw(st.integers(0, 2))):
            dtype = self.draw(st.sampled_from(["f32", "f32", "f64", "i32"]))
            shape = tuple(self.draw(st.lists(st.sampled_from([3, 2, 1, 4]), max_size=2)))
            if self.shareds and self.draw(st.booleans()):     # alike shared values can swap
                dtype, shape = self.shareds[0].dtype, self.shareds[0].shape
            if dtype in FLOATS:
                init = self.draw(st.sampled_from(["normal(0.0, 1.0, seed=3)", "uniform(-1.0, 1.0, seed=7)",
                                                  "zeros()", "full(0.5)", "ones()"]))
            else:
                init = self.draw(st.sampled_from(["zeros()", "full(2)", "ones()"]))
            self.shareds.append(Shared(f"S{i}", dtype, shape, init))
        self.shared_names = {s.name for s in self.shareds}
        self.defs: list[DefInfo] = []

    def build(self) -> str:
        head = [f"shared {s.name}: {type_text(s.dtype, s.shape)} = {s.init}\n" for s in self.shareds]
        defs, texts = self.defs, []
        for i in range(self.draw(st.integers(1, 3))):
            b = DefBuilder(self.draw, self, f"f{i}")
            b.body()
            if self.shareds and self.draw(st.booleans()):
                b.shared_updates()
            outs = b.returns()
            texts.append(b.text(outs))
            defs.append(DefInfo(b.name, b.params, outs, bool(b.updates)))
        host = []
        for sizes in self.bindings:
            for d in defs:
                host += self.host_call(d, sizes)
        for s in self.shareds:
            host.append(f'print("@{s.dtype}", {s.name})\n')
        return "".join(head) + "\n" + "\n".join(texts) + "\n" + "".join(host)

    # -- the host part --
    def host_call(self, d: DefInfo, sizes: dict) -> list[str]:
        lines = []
        args = []
        for p in d.params:
            name = f"{p.name}_{d.name}"
            lines.append(f"{name} = {self.host_array(p, sizes)}\n")
            args.append(name)
        call = f"{d.name}({', '.join(args)})"
        if d.updates and self.draw(st.booleans()):
            lines.append(f"for i in range({self.draw(st.integers(1, 2))}):\n    {call}\n")
        results = [f"r{i}" for i in range(len(d.outs))]
        lines.append(f"{', '.join(results)} = {call}\n")
        for r, v in zip(results, d.outs):
            lines.append(f'print("@{v.dtype}", {r})\n')
        return lines

    def host_array(self, p: Param, sizes: dict) -> str:
        shape = tuple(eval_dim(d, sizes) for d in p.shape)
        count = 1
        for d in shape:
            count *= d
        if count > 24:
            return self.host_formula(p, sizes, shape, count)
        if p.labels is not None:
            elems = [str(self.draw(st.integers(0, max(0, p.labels - 1)))) for _ in range(count)]
        elif p.index_of is not None:
            size = max(0, eval_dim(p.index_of[0], sizes))   # < 0: the call fails first
            low, high = (-size - 2, size + 1) if p.index_of[1] or size == 0 else (-size, size - 1)
            elems = [str(self.draw(st.integers(low, high))) for _ in range(count)]
        elif p.dtype == "bool":
            elems = [self.draw(st.sampled_from(["true", "false"])) for _ in range(count)]
        elif p.dtype in INTS:
            elems = [str(self.draw(st.integers(-3, 4))) for _ in range(count)]
        else:
            elems = [str(self.draw(st.integers(-30, 30)) / 10) for _ in range(count)]
        if count == 0:
            text = "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"
            return f"zeros({text}, dtype={p.dtype})"
        if not shape:
            return elems[0]
        nested = nest(elems, shape)
        if p.dtype in ("f64", "i64"):
            return f"{p.dtype}({nested})"
        return nested


    def host_formula(self, p: Param, sizes: dict, shape: tuple, count: int) -> str:
        """A big argument as a host expression over arange, not a literal."""
        k = self.draw(st.sampled_from([7, 3, 11]))
        i = f"arange({count}) * {k}"
        if p.labels is not None:
            values = f"i32({i} % {max(1, p.labels)})"
        elif p.index_of is not None:
            size = max(0, eval_dim(p.index_of[0], sizes))   # < 0: the call fails first
            spread = 2 * size + 3 if p.index_of[1] or size == 0 else 2 * size
            values = f"i32({i} % {spread}) - {spread // 2}"
        elif p.dtype == "bool":
            values = f"{i} % 3 == 0"
        elif p.dtype in INTS:
            values = f"i32({i} % 8) - 3"
        else:
            values = f"sin(f32({i})) * 3.0"
        if p.dtype in ("f64", "i64"):
            values = f"{p.dtype}({values})"
        return f"reshape({values}, ({', '.join(map(str, shape))}{',' if len(shape) == 1 else ''}))"


def nest(elems: list[str], shape: tuple) -> str:
    if len(shape) == 1:
        return "[" + ", ".join(elems) + "]"
    step = len(elems) // shape[0]
    return "[" + ", ".join(nest(elems[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])) + "]"


@st.composite
def programs(draw, profile: Profile = Profile()) -> str:
    return ProgramBuilder(draw, profile).build()


# ---- comparing two outputs ----------------------------------------------------------------
NUMBER = re.compile(r"[-+]?(?:(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|nan|inf)")
MARKER = re.compile(r"^@(\w+) ", re.M)
# (rtol, atol per unit of the item's largest magnitude): f32 kernels sum and
# round in another order than numpy, and a grad chains a few such steps
# An f64 result may come from f32 math cast up (`f64(exp(a))` with a: f32),
# whose exp differs by an f32 ulp between libm and OpenCL: f64 allows 1e-6.
TOLERANCE = {"f32": (2e-4, 2e-5), "f64": (1e-6, 1e-8)}


def printed_items(out: str) -> list[tuple[str, str]]:
    """(dtype, text) for each `print("@DTYPE", value)`; text before any marker has dtype ""."""
    parts = MARKER.split(out)
    items = [("", parts[0])] if parts[0] else []
    items += [(parts[i], parts[i + 1]) for i in range(1, len(parts), 2)]
    return items


def skeleton(text: str) -> str:
    """The text with numbers blanked and numpy's alignment spaces removed."""
    s = re.sub(r"\s+", " ", NUMBER.sub("#", text)).strip()
    return re.sub(r"\[ ", "[", re.sub(r" \]", "]", s))


def differ(dtype: str, want: str, got: str) -> str | None:
    """Why two printed values differ, or None when they agree for their dtype."""
    if skeleton(want) != skeleton(got):
        return "different text"
    a = [float(x) for x in NUMBER.findall(want)]
    b = [float(x) for x in NUMBER.findall(got)]
    finite = [abs(x) for x in a if x == x and abs(x) != float("inf")]
    scale = max([1.0] + finite)
    rtol, atol = TOLERANCE.get(dtype, (0.0, 0.0))
    for i, (x, y) in enumerate(zip(a, b)):
        if x != x and y != y:
            continue
        if x == y:
            continue
        if abs(x - y) > atol * scale + rtol * abs(x) or x != x or y != y:
            return f"element {i}: {x!r} vs {y!r}"
    return None


def comparable_error(error: dict | None, profile: Profile) -> dict | None:
    """The diagnostic as both backends must give it. While `late_index_error`
    is known, only its code and line: OpenCL may raise it when a later value
    is read, without the call's name and note."""
    if error is None or profile.allows("late_index_error"):
        return error
    return {"code": error["code"], "line": error["line"], "phase": error["phase"]}


def compare_runs(want: dict, got: dict, profile: Profile = Profile()) -> str | None:
    """None when two runs agree: the same printed values (within the dtype's
    tolerance) and the same error (code, line, message and notes), else what differs."""
    for r in (want, got):
        if r.get("internal") or r.get("died") is not None or r.get("timeout"):
            return f"{r['backend']} did not end cleanly: {summary(r)}"
    if comparable_error(want.get("error"), profile) != comparable_error(got.get("error"), profile):
        return f"errors differ: {want['backend']} {want.get('error')} vs {got['backend']} {got.get('error')}"
    a, b = printed_items(want["out"]), printed_items(got["out"])
    if [d for d, _ in a] != [d for d, _ in b]:
        return f"printed {len(a)} values vs {len(b)}"
    for k, ((dtype, x), (_, y)) in enumerate(zip(a, b)):
        why = differ(dtype, x, y)
        if why:
            return (f"printed value {k} ({dtype}) differs: {why}\n{want['backend']}: {x.strip()}\n"
                    f"{got['backend']}: {y.strip()}")
    return None


def summary(r: dict) -> str:
    if r.get("timeout"):
        return f"no answer within {r['timeout']} s"
    if r.get("died") is not None:
        return f"the process died with status {r['died']}\n{r.get('log', '')[-2000:]}"
    if r.get("internal"):
        return r["internal"][-3000:]
    return str(r.get("error"))


# ---- the worker process -------------------------------------------------------------------
class JobTimeout(BaseException):
    """Raised in the worker by SIGALRM: not an Exception, so sym cannot catch it."""


MEMORY_LIMIT = 6 << 30      # address space of the worker; mutants ask for huge arrays


def serve():
    """The worker's loop: one JSON job per line on stdin, one JSON answer per line."""
    import faulthandler
    import resource
    import signal
    faulthandler.enable()               # a segfault leaves the Python stack in the log
    reply = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)                       # stray output (pocl, print) goes to the log, not the pipe
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    def on_alarm(signum, frame):
        raise JobTimeout()
    signal.signal(signal.SIGALRM, on_alarm)
    import dsl.api  # noqa: F401  (import before the first job's clock starts)
    import dsl.cli  # noqa: F401
    for line in sys.stdin:
        job = json.loads(line)
        signal.alarm(job.get("timeout", 30))
        try:
            answer = run_job(job)
        except JobTimeout:
            answer = {"timeout": job.get("timeout", 30)}
        finally:
            signal.alarm(0)
        answer["backend"] = job.get("backend", "numpy") + ("" if job.get("rewrites", True) else " --no-rewrites")
        reply.write(json.dumps(answer) + "\n")
        reply.flush()


def run_job(job: dict) -> dict:
    import contextlib
    import io
    import traceback
    import numpy as np
    out, err = io.StringIO(), io.StringIO()
    answer: dict = {}
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            np.printoptions(precision=17, floatmode="maxprec", threshold=sys.maxsize, linewidth=200):
        try:
            if job["op"] == "run":
                answer["error"] = run_program(job, out)
            else:
                answer["rc"] = run_cli(job)
        except JobTimeout:
            raise
        except BaseException:   # noqa: B036 (whatever escapes sym is the finding)
            answer["internal"] = traceback.format_exc()
    answer["out"], answer["err"] = out.getvalue()[-400000:], err.getvalue()[-20000:]
    if "E9999" in answer["err"] or "Traceback" in answer["err"]:
        answer.setdefault("internal", answer["err"])
    return answer


def run_program(job: dict, out) -> dict | None:
    """Run through the Python API; the first diagnostic as data, or None.
    `phase` says whether checking the program or running it failed."""
    import dsl
    from dsl.diagnostics import SymError
    phase = "check"
    try:
        prog = dsl.compile(job["source"], job.get("name", "fuzz.sym"), backend=job["backend"],
                           rewrites=job.get("rewrites", True), out=out, progress=False)
        phase = "run"
        prog.run()
    except SymError as exc:
        d = exc.diagnostics[0]
        if d.code == "E9999":
            raise
        return {"code": d.code, "line": d.span.line if d.span else None, "message": d.message,
                "notes": [[n.message, n.span.line if n.span else None] for n in d.notes], "phase": phase}
    return None


def run_cli(job: dict) -> int:
    """`sym ARGV FILE` in-process, with the source in a file of its own."""
    from dsl import cli
    path = Path(job["dir"]) / job.get("name", "fuzz.sym")
    path.write_text(job["source"], encoding="utf-8")
    return cli.main([*job["argv"][:1], str(path), *job["argv"][1:]])


class Worker:
    """A child process running jobs; restarted after a timeout or a crash."""

    def __init__(self):
        self.proc = None
        self.folder = tempfile.TemporaryDirectory(prefix="sym-fuzz-")
        self.log_path = Path(self.folder.name) / "worker.log"

    def start(self):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests")]))
        env.pop("SYM_DEBUG", None)
        env["SYM_DATA"] = self.folder.name          # no MNIST: a mutant must not download it
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import fuzz_programs; fuzz_programs.serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, cwd=self.folder.name,
            env=env, text=True, bufsize=1)

    def ask(self, job: dict, timeout: int = 30) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        job = dict(job, timeout=timeout, dir=self.folder.name)
        log_start = self.log_path.stat().st_size
        try:
            self.proc.stdin.write(json.dumps(job) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout + 15)
        line = self.proc.stdout.readline() if ready else None
        if line:
            return json.loads(line)
        if line is None:        # stuck where SIGALRM cannot reach (inside C code)
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            return {"timeout": timeout, "backend": job.get("backend"), "hard": True}
        status = self.proc.wait()
        self.proc = None
        with open(self.log_path, "rb") as f:
            f.seek(log_start)
            log = f.read().decode("utf-8", "replace")
        return {"died": status, "log": log, "backend": job.get("backend")}

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.folder.cleanup()


# ---- mutants of valid programs ------------------------------------------------------------
TOKEN = re.compile(r'\n[ \t]*|[ \t]+|#[^\n]*|"[^"\n]*"|\d+\.\d*(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?|\w+'
                   r'|//|\*\*|<-|->|==|!=|<=|>=|.', re.S)
ODD = ["\t", "\u00a0", "\ufeff", "\x0c", "\r", "\x00", "\u200b", "é", "∑", "\\", "`", "$", "?", "'", '"',
       "{", "}", ";", "!", "&", "|", "~", "^", "(", ")", "[", "]", ",", ":", "=", "-", "**", "@", "0x1F"]
EDGE_NUMBERS = ["0", "-1", "1", "-0.0", "1e40", "1e-45", "2147483648", "3000000000", "-2147483649",
                "9999999999999999999999", "0.1", "65536", "-3", "nan", "inf", "2 ** 62"]


def corpus_sources() -> dict[str, str]:
    """Valid programs that run in well under a second without MNIST."""
    out = {}
    for path in sorted((REPO / "programs").glob("*.sym")) + sorted((REPO / "tests" / "programs").glob("*.sym")):
        text = path.read_text(encoding="utf-8")
        if "mnist(" not in text:
            out[path.name] = text
    for path in sorted((REPO / "tests" / "errors" / "runtime").glob("*.sym")):
        out["runtime_" + path.name] = path.read_text(encoding="utf-8")
    return out


@st.composite
def mutation(draw, text: str) -> str:
    """One damage: a token or a line deleted, duplicated, swapped or replaced, an odd character put in."""
    kind = draw(st.sampled_from(["delete", "duplicate", "swap", "replace", "number", "odd",
                                 "delete_line", "duplicate_line", "swap_lines", "indent_line"]))
    toks = TOKEN.findall(text)
    code = [i for i, t in enumerate(toks) if t.strip() and not t.startswith("#")]
    if kind in ("delete", "duplicate", "swap", "replace", "number", "odd") and code:
        i = draw(st.sampled_from(code))
        if kind == "delete":
            toks[i] = ""
        elif kind == "duplicate":
            toks[i] = toks[i] + draw(st.sampled_from([" ", ""])) + toks[i]
        elif kind == "swap":
            j = draw(st.sampled_from(code))
            toks[i], toks[j] = toks[j], toks[i]
        elif kind == "replace":
            toks[i] = toks[draw(st.sampled_from(code))]
        elif kind == "number":
            numbers = [k for k in code if toks[k][:1].isdigit()] or [i]
            toks[draw(st.sampled_from(numbers))] = draw(st.sampled_from(EDGE_NUMBERS))
        else:
            toks[i] = draw(st.sampled_from([toks[i] + draw(st.sampled_from(ODD)),
                                            draw(st.sampled_from(ODD)) + toks[i]]))
        return "".join(toks)
    return mutate_line(draw, text, kind, ["    ", "  ", "", "\t"])


@st.composite
def mutants(draw, corpus: dict[str, str], profile: Profile = Profile()) -> tuple[str, str]:
    """(origin, text): a corpus program or a generated one, damaged one to three times."""
    if draw(st.integers(0, 2)) == 0:
        name, text = "generated", draw(programs(profile))
    else:
        name = draw(st.sampled_from(sorted(corpus)))
        text = corpus[name]
    for _ in range(draw(st.integers(1, 3))):
        text = draw(mutation(text))
    return name, text
