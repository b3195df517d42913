"""Helpers shared by the def checker and the host checker: weak literals,
static arguments, call binding and "did you mean" suggestions."""
from __future__ import annotations

import difflib
from dataclasses import dataclass

from . import ast as A
from .diagnostics import Diagnostic, Span, error
from . import errors
from .types import Dim, Size, dim_add, dim_mul, dim_sub


def fail(code, message, span, hint=None, notes=()):
    """Stop checking the current def or statement with one diagnostic."""
    raise error(code, message, span, hint, notes)


def too_deep(what: str, span: Span | None) -> Diagnostic:
    """The checker recurses over expressions; Python's stack bounds the depth."""
    return errors.nested_too_deeply(what, span).diagnostic


@dataclass(frozen=True)
class Weak:
    """A numeric literal whose dtype adapts to the tensor it meets."""
    value: int | float | bool
    span: Span | None = None


def did_you_mean(name: str, candidates) -> str | None:
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=3, cutoff=0.6)
    if not close:
        return None
    # among equally close names prefer one that starts like `name` (`Wx` -> `W`, not `x`)
    score = lambda c: (round(difflib.SequenceMatcher(None, name, c).ratio(), 6),
                       c[:1].lower() == name[:1].lower())
    return f"did you mean `{max(close, key=score)}`?"


def literal_value(e):
    """The value of a numeric literal, possibly negated, or None."""
    if isinstance(e, A.Num):
        return e.value
    if isinstance(e, A.Bool):
        return e.value
    if isinstance(e, A.UnaryOp) and e.op == "-" and isinstance(e.operand, A.Num):
        return -e.operand.value
    return None


# ---- arguments of a builtin call or an index, from either front end ---------
class Written:
    """An argument as written in `.sym`: an AST expression, evaluated only
    when the handler asks (a static one, `axis=1`, is read as written)."""

    def __init__(self, ast):
        self.ast, self.span = ast, ast.span

    def evaluate(self, ck):
        return ck.expr(self.ast)

    def literal(self):
        return literal_value(self.ast)

    def ident(self) -> str | None:
        """The bare name written (`dtype=f32`, `axis=none`, `grad(cost, W)`)."""
        return self.ast.id if isinstance(self.ast, A.Name) else None

    def text(self) -> str | None:
        return self.ast.value if isinstance(self.ast, A.Str) else None

    def elements(self, kinds=("tuple",)):
        """The elements of a tuple (or list, when kinds says) written as one argument."""
        forms = {"tuple": A.TupleExpr, "list": A.ListExpr}
        if isinstance(self.ast, tuple(forms[k] for k in kinds)):
            return tuple(Written(x) for x in self.ast.elts)
        return None


@dataclass(frozen=True)
class Ident:
    """A name passed from Python where `.sym` writes a bare name (a dtype)."""
    id: str


class Given:
    """An argument passed from Python, evaluated already: a Node, a Weak or
    WeakTensor literal, a tuple of arguments' values, a Size, an Ident or a
    string, with the span of the user's line."""

    def __init__(self, value, span):
        self.value, self.span = value, span

    def evaluate(self, ck):
        v = self.value
        if isinstance(v, tuple):
            return tuple(Given(x, self.span).evaluate(ck) for x in v)
        if isinstance(v, Size):
            return ck.size_node(v, self.span)
        return v

    def literal(self):
        return self.value.value if isinstance(self.value, Weak) else None

    def ident(self) -> str | None:
        return self.value.id if isinstance(self.value, Ident) else None

    def text(self) -> str | None:
        return self.value if isinstance(self.value, str) else None

    def elements(self, kinds=("tuple",)):
        """A Python tuple or list (lifted to a tuple) is either kind."""
        if isinstance(self.value, tuple):
            return tuple(Given(x, self.span) for x in self.value)
        return None

    def dim(self) -> Dim:
        """A dimension of a shape: an integer or a size."""
        v = self.value
        if isinstance(v, Weak) and isinstance(v.value, int) and not isinstance(v.value, bool):
            return v.value
        if isinstance(v, Size):
            return v
        return dim_from_ast(v, None)    # not a dimension: its error, as for `.sym`


@dataclass(frozen=True)
class GivenList:
    """A Python list used as a tensor literal: its rows (GivenLists) or
    numbers (Given), like an `A.ListExpr`."""
    elts: tuple
    span: Span | None


@dataclass(frozen=True)
class SliceItem:
    """`start:stop:step` of an index; each bound an argument or None.
    `ast` is the written A.Slice (None from Python)."""
    start: object
    stop: object
    step: object
    span: Span | None
    ast: object = None

    def literal(self):
        return None

    def ident(self):
        return None


def static_int(e, what: str) -> int:
    value = e.literal()
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.not_a_constant("integer_literal", e.span, what=what)
    return value


def static_ints(e, what: str) -> tuple[int, ...]:
    items = e.elements()
    if items is not None:
        return tuple(static_int(x, what) for x in items)
    return (static_int(e, what),)


def static_bool(e, what: str) -> bool:
    if isinstance(e.literal(), bool):
        return e.literal()
    raise errors.not_a_constant("true_false", e.span, what=what)


# ---- binding call arguments -------------------------------------------------
@dataclass(frozen=True)
class Sig:
    """A builtin's parameters: positional names, then keyword defaults."""
    positional: tuple[str, ...]
    optional: tuple[tuple[str, object], ...] = ()
    variadic: bool = False  # print(...)

    def names(self):
        return self.positional + tuple(k for k, _ in self.optional)


def bind_call(call: A.Call, sig: Sig, fname: str) -> dict:
    """Map a call's arguments to parameter names (missing optional ones get
    their default, as the string '<default>' sentinel unless given)."""
    names = sig.names()
    if sig.variadic:    # print(a, b, ..., sep=" "): any positional, the listed keywords
        bound = {"args": call.args}
        check_keywords(call, sig, fname, names, bound)
        for name, default in sig.optional:
            bound.setdefault(name, Default(default))
        return bound
    if len(call.args) > len(names):
        raise errors.wrong_argument_count("builtin_takes", call.span, fname=fname,
                                          at_most='at most ' * bool(sig.optional), count=len(names),
                                          s='s' * (len(names) != 1), got=len(call.args),
                                          usage=usage(fname, sig))
    bound = dict(zip(names, call.args))
    check_keywords(call, sig, fname, names, bound)
    missing = [n for n in sig.positional if n not in bound]
    if missing:
        raise errors.wrong_argument_count("builtin_missing", call.span, fname=fname,
                                          name=missing[0], usage=usage(fname, sig))
    for name, default in sig.optional:
        bound.setdefault(name, Default(default))
    return bound


def check_keywords(call: A.Call, sig: Sig, fname: str, names, bound: dict):
    for kw in call.kwargs:
        if kw.name not in names:
            raise errors.bad_keyword_argument("builtin_unknown", kw.span,
                                              did_you_mean(kw.name, names) or f"usage: {usage(fname, sig)}",
                                              fname=fname, name=kw.name)
        if kw.name in bound:
            raise errors.bad_keyword_argument("builtin_twice", kw.span, fname=fname, name=kw.name,
                                              usage=usage(fname, sig))
        bound[kw.name] = kw.value


@dataclass(frozen=True)
class Default:
    value: object


def usage(fname: str, sig: Sig) -> str:
    parts = list(sig.positional) + [f"{k}={v!r}" if not isinstance(v, str) else f"{k}={v}"
                                    for k, v in sig.optional]
    if sig.variadic:    # its keywords are strings: print(..., sep=" ")
        parts = ["..."] + [f'{k}="{v}"' for k, v in sig.optional]
    return f"{fname}({', '.join(parts)})".replace("None", "none").replace("False", "false").replace("True", "true")


# ---- dimensions written in source ------------------------------------------
def dim_from_ast(e, lookup_size) -> Dim:
    """A dimension expression of a type or shape: 784, n, n + 1, 2 * n.
    lookup_size(name, span) returns the Dim a size variable stands for."""
    if isinstance(e, A.Num) and isinstance(e.value, int) and not isinstance(e.value, bool):
        return e.value
    if isinstance(e, A.Name):
        return lookup_size(e.id, e.span)
    if isinstance(e, A.UnaryOp) and e.op == "-" and isinstance(e.operand, A.Num):
        raise errors.shape_not_static("negative_literal", e.span, operand=e.operand.value)
    if isinstance(e, A.BinOp) and e.op in ("+", "-", "*"):
        a = dim_from_ast(e.left, lookup_size)
        b = dim_from_ast(e.right, lookup_size)
        return {"+": dim_add, "-": dim_sub, "*": dim_mul}[e.op](a, b)
    raise errors.shape_not_static("dimension", getattr(e, "span", None))


def is_size_var_name(name: str) -> bool:
    return name[:1].islower() or name[:1] == "_"
