"""The untyped syntax tree the parser builds.

Every node is a frozen dataclass with a `span` that is left out of equality,
so two trees parsed from differently laid out text compare equal.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .diagnostics import Span

SPAN = dict(default=None, compare=False, repr=False)


# ---- expressions -----------------------------------------------------------
@dataclass(frozen=True)
class Num:
    value: int | float          # int for `3`, float for `3.0` / `1e-3`
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class Str:
    value: str
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class Bool:
    value: bool
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class Name:
    id: str
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class BinOp:
    op: str                     # + - * / // % ** @ == != < <= > >= and or
    left: "Expr"
    right: "Expr"
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class UnaryOp:
    op: str                     # - not
    operand: "Expr"
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class Keyword:
    name: str
    value: "Expr"
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class Call:
    func: Name
    args: tuple["Expr", ...]
    kwargs: tuple[Keyword, ...] = ()
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class Attribute:
    value: "Expr"
    attr: str                   # x.T, x.shape, data.train
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class MethodCall:
    value: "Expr"
    method: Name                # hs.append(h): collects a loop's values
    args: tuple["Expr", ...]
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class Slice:
    start: "Expr | None"
    stop: "Expr | None"
    step: "Expr | None"
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class Index:
    value: "Expr"
    indices: tuple["Expr | Slice", ...]
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class TupleExpr:
    elts: tuple["Expr", ...]    # (n, 10), (1, 0), return a, b
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class ListExpr:
    elts: tuple["Expr", ...]    # tensor literal [1.0, 2.0], nested for 2-D
    span: Span = field(**SPAN)


Expr = (Num | Str | Bool | Name | BinOp | UnaryOp | Call | Attribute | Index | TupleExpr | ListExpr
        | MethodCall)


# ---- types -----------------------------------------------------------------
@dataclass(frozen=True)
class TensorTypeExpr:
    dtype: str                  # f32 f64 i32 i64 bool
    dims: tuple["Expr", ...]    # () for a scalar; each a Num, Name or BinOp of them
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class TupleTypeExpr:
    elts: tuple[TensorTypeExpr, ...]
    span: Span = field(**SPAN)


# ---- statements ------------------------------------------------------------
@dataclass(frozen=True)
class Assign:
    targets: tuple[Name, ...]   # one, or several for `a, b = ...`
    value: Expr
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class Update:
    target: Name                # W <- W - 0.1 * g
    value: Expr
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class Return:
    values: tuple[Expr, ...]
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class ExprStmt:
    expr: Expr
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class For:
    targets: tuple[Name, ...]
    iter: Expr
    body: tuple["Stmt", ...]
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class If:
    cond: Expr
    body: tuple["Stmt", ...]
    orelse: tuple["Stmt", ...]  # `elif` is an If alone in orelse
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class Break:
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class Continue:
    span: Span = field(**SPAN)


# ---- top-level items -------------------------------------------------------
@dataclass(frozen=True)
class Param:
    name: Name
    type: TensorTypeExpr
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class Def:
    name: Name
    params: tuple[Param, ...]
    ret: TensorTypeExpr | TupleTypeExpr
    body: tuple["Stmt", ...]
    span: Span = field(**SPAN)  # the whole `def ...:` header line


@dataclass(frozen=True)
class SharedDecl:
    name: Name
    type: TensorTypeExpr
    init: Expr
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class OptionDecl:
    name: Name
    value: Expr                 # a literal: Num, Str, Bool, or -Num
    span: Span = field(**SPAN)


# ---- modules: imports and host functions --------------------------------------
@dataclass(frozen=True)
class Import:
    module: Str | Name          # `import "lib.sym"` (a path) or `import training` (the library)
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class Proc:
    name: Name                  # proc evaluate(errors, split, batch_size):
    params: tuple[Name, ...]
    body: tuple["Stmt", ...]
    span: Span = field(**SPAN)  # the header line


@dataclass(frozen=True)
class SharedGroup:
    name: Name                  # shared params = [W, b]
    members: tuple[Name, ...]
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class SharedLike:
    name: Name                  # shared velocity like params = zeros()
    group: Name
    init: "Expr"
    span: Span = field(**SPAN)


@dataclass(frozen=True)
class GroupTypeExpr:
    span: Span = field(**SPAN)  # `params: group`, a def parameter that takes a group


Stmt = Assign | Update | Return | ExprStmt | For | If | Break | Continue
Item = Def | SharedDecl | OptionDecl | Import | Proc | SharedGroup | SharedLike | Stmt


@dataclass(frozen=True)
class Program:
    items: tuple[Item, ...]
    file: str = field(default="<input>", compare=False)
