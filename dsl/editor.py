"""What an editor asks of a .sym file, answered from the checker: the
diagnostics, the type under the cursor, where a name is defined, the names
that may be written at a place, and the file's outline. The language server
(dsl/lsp.py) and the notebook magic (dsl/notebook.py) use it.

Positions are 1-based (line, column) in characters, as spans are.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from . import ast as A
from .diagnostics import Span
from .highlight import vocabulary
from .hosttypes import HIter, HNum, HRecord
from .program import CheckedProgram, check_source
from .registry import BUILTINS, BY_NAME
from .scope import usage
from .types import TensorType

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Symbol:
    name: str
    kind: str           # "def", "shared" or "option"
    detail: str         # its signature or type
    span: Span          # the whole declaration
    name_span: Span


@dataclass(frozen=True)
class Completion:
    label: str
    kind: str           # "def", "shared", "option", "builtin", "variable", "keyword"
    detail: str
    doc: str = ""


def contains(span: Span | None, line: int, col: int) -> bool:
    """Whether (line, col) is in `span`, its end included (a cursor just
    after a name is on the name)."""
    if span is None:
        return False
    return (span.line, span.col) <= (line, col) <= (span.end_line, span.end_col)


def extent(span: Span) -> tuple:
    return (span.end_line - span.line, span.end_col - span.col)


def show_value(value) -> str:
    """A checker's value as its type: an IR node's `f32[n, 784]`, a host
    value's type, a tuple of them."""
    if isinstance(value, tuple):
        return "(" + ", ".join(show_value(v) for v in value) + ")"
    t = getattr(value, "type", value)
    if isinstance(t, TensorType):
        return str(t)
    if isinstance(value, HNum):
        return value.kind
    if isinstance(value, HRecord):
        return f"{value.kind} {{{', '.join(f'{n}: {show_value(t)}' for n, t in value.fields)}}}"
    if isinstance(value, HIter):
        return f"{value.kind} of {show_value(value.item)}"
    if hasattr(value, "typed"):             # a list literal, typed where it is used
        return str(value.typed(None))
    return str(value)


def def_end_line(d: A.Def) -> int:
    return max([d.span.end_line] + [stmt_end(s) for s in d.body])


def stmt_end(s) -> int:
    nested = [stmt_end(x) for x in getattr(s, "body", ()) + getattr(s, "orelse", ())]
    return max([s.span.end_line] + nested)


def statements(stmts):
    """Every statement, those in loops and branches included, in order."""
    for s in stmts:
        yield s
        yield from statements(getattr(s, "body", ()))
        yield from statements(getattr(s, "orelse", ()))


def assigned_names(s):
    if isinstance(s, (A.Assign, A.For)):
        return s.targets
    return ()


class Analysis:
    """One version of a file, checked, with the types of its expressions."""

    def __init__(self, text: str, filename: str = "<input>"):
        self.text, self.filename = text, filename
        self.lines = text.split("\n")
        self.prog: CheckedProgram = check_source(text, filename, record_types=True)
        self.items = self.prog.ast.items
        self.defs = {i.name.id: i for i in self.items if isinstance(i, A.Def)}
        self.shareds = {i.name.id: i for i in self.items if isinstance(i, A.SharedDecl)}
        self.options = {i.name.id: i for i in self.items if isinstance(i, A.OptionDecl)}
        self.types: dict = {}       # span of an expression -> (expression, value), the last checked
        for e, value in self.prog.expr_types or ():
            self.types[e.span] = (e, value)

    @property
    def parsed(self) -> bool:
        return bool(self.items) or not self.prog.errors

    @property
    def diagnostics(self):
        """This file's diagnostics; one located in an imported file is shown
        at the import line that brought the file in, naming where it is."""
        shown = []
        for d in self.prog.diagnostics:
            if d.span is None or d.span.file == self.filename:
                shown.append(d)
                continue
            line = self.prog.imports.top_import(d.span.file)
            if line is not None:
                where = f"{d.span.file}:{d.span.line}:{d.span.col}"
                shown.append(replace(d, message=f"in {where}: {d.message}", span=line))
        return shown

    # ---- where the cursor is --------------------------------------------------
    def word_at(self, line: int, col: int) -> tuple[str, Span] | None:
        if not 1 <= line <= len(self.lines):
            return None
        for m in _WORD.finditer(self.lines[line - 1]):
            if m.start() + 1 <= col <= m.end() + 1:
                return m.group(), Span(self.filename, line, m.start() + 1, line, m.end() + 1)
        return None

    def def_at(self, line: int) -> A.Def | None:
        for d in self.defs.values():
            if d.span.line <= line <= def_end_line(d):
                return d
        return None

    def innermost(self, line: int, col: int):
        found = [(e, v) for span, (e, v) in self.types.items() if contains(span, line, col)]
        return min(found, key=lambda ev: extent(ev[0].span), default=None)

    # ---- hover ------------------------------------------------------------------
    def hover(self, line: int, col: int) -> str | None:
        """The type of the name or expression at (line, col), a def's
        signature and updates, a builtin's usage and doc."""
        word = self.word_at(line, col)
        inner = self.innermost(line, col)
        if word is not None:
            text = self.hover_name(word[0], word[1], inner, line)
            if text is not None:
                return text
        if inner is not None:
            return show_value(inner[1])
        return None

    def hover_name(self, name: str, span: Span, inner, line: int) -> str | None:
        if name in self.defs:
            return self.def_summary(name)
        if name in self.shareds:
            t = self.prog.shareds.get(name)
            return f"shared {name}: {t if t is not None else self.shareds[name].type}"
        if name in self.options and not self.local_in_def(name, line):
            o = self.prog.options.get(name)
            value = o.value if o is not None else self.options[name].value
            return f"option {name} = {value!r} ({type(value).__name__})"
        if inner is not None and isinstance(inner[0], A.Name) and inner[0].id == name:
            return f"{name}: {show_value(inner[1])}"
        if name in BY_NAME and isinstance(inner and inner[0], A.Call) and inner[0].func.id == name:
            return self.builtin_summary(name)
        if name in self.size_vars(line):
            return f"{name}: a size variable of `{self.def_at(line).name.id}`"
        return self.declared_here(name, span, line)

    def size_vars(self, line: int) -> list[str]:
        """The size variables of the def around `line` (`n` of `x: f32[n, 784]`)."""
        d = self.def_at(line)
        info = self.prog.defs.get(d.name.id) if d is not None else None
        return info.size_vars if info is not None else []

    def declared_here(self, name: str, span: Span, line: int) -> str | None:
        """A parameter in a def's header, or a name assigned to."""
        d = self.def_at(line)
        if d is not None:
            for p in d.params:
                if p.name.span == span:
                    return f"{name}: {self.param_type(d, name)}"
        for s in statements(d.body if d is not None else self.items):
            if isinstance(s, A.Assign) and any(t.span == span for t in s.targets):
                value = self.types.get(s.value.span)
                if value is not None:
                    shown = value[1]
                    if len(s.targets) > 1 and isinstance(shown, tuple):
                        shown = shown[[t.span for t in s.targets].index(span)]
                    return f"{name}: {show_value(shown)}"
        return None

    def param_type(self, d: A.Def, name: str) -> str:
        info = self.prog.defs.get(d.name.id)
        if info is not None:
            return str(dict(info.params)[name])
        p = next(p for p in d.params if p.name.id == name)
        dims = ", ".join(source_text(self.lines, x.span) for x in p.type.dims)
        return f"{p.type.dtype}[{dims}]" if dims else p.type.dtype

    def def_summary(self, name: str) -> str:
        info = self.prog.defs.get(name)
        if info is None:
            return source_text(self.lines, self.defs[name].span).rstrip(":")
        updates = f"\nupdates: {', '.join(sorted(info.updates))}" if info.updates else ""
        return info.signature + updates

    @staticmethod
    def builtin_summary(name: str) -> str:
        b = BY_NAME[name]
        sigs = dict.fromkeys(usage(name, s) for s in (b.sig, b.host_sig, b.init_sig) if s is not None)
        return "\n".join([*sigs, b.doc])

    def local_in_def(self, name: str, line: int) -> bool:
        d = self.def_at(line)
        return d is not None and (any(p.name.id == name for p in d.params)
                                  or any(t.id == name for s in statements(d.body)
                                         for t in assigned_names(s)))

    # ---- go to definition -------------------------------------------------------
    def definition(self, line: int, col: int) -> Span | None:
        word = self.word_at(line, col)
        if word is None:
            return None
        name = word[0]
        d = self.def_at(line)
        if d is not None:
            for p in d.params:
                if p.name.id == name:
                    return p.name.span
            for s in statements(d.body):
                for t in assigned_names(s):
                    if t.id == name:
                        return t.span
        for table in (self.defs, self.shareds, self.options):
            if name in table:
                return table[name].name.span
        for s in statements(i for i in self.items if not isinstance(i, A.Def)):
            for t in assigned_names(s):
                if t.id == name:
                    return t.span
        return None

    # ---- completion -------------------------------------------------------------
    def completions(self, line: int, col: int) -> list[Completion]:
        d = self.def_at(line)
        out: dict[str, Completion] = {}

        def add(c: Completion):
            out.setdefault(c.label, c)
        if d is not None:
            for p in d.params:
                add(Completion(p.name.id, "variable", self.param_type(d, p.name.id), "parameter"))
            for s in statements(d.body):
                if s.span.line < line:
                    for t in assigned_names(s):
                        add(Completion(t.id, "variable", self.hover(t.span.line, t.span.col) or "",
                                       "local"))
            for n in self.size_vars(line):
                add(Completion(n, "variable", "size variable"))
        else:
            for s in statements(i for i in self.items if not isinstance(i, A.Def)):
                if s.span.line < line:
                    for t in assigned_names(s):
                        add(Completion(t.id, "variable", "", "host variable"))
        for name in self.defs:
            add(Completion(name, "def", self.def_summary(name)))
        for name in self.shareds:
            add(Completion(name, "shared", self.hover_name(name, None, None, line) or ""))
        for name in self.options:
            add(Completion(name, "option", self.hover_name(name, None, None, line) or ""))
        for b in BUILTINS:
            sig = b.sig if d is not None else (b.host_sig or b.sig)
            if sig is not None:
                add(Completion(b.name, "builtin", usage(b.name, sig), b.doc))
        for k in vocabulary()["keywords"]:
            add(Completion(k, "keyword", "keyword"))
        return list(out.values())

    # ---- outline ----------------------------------------------------------------
    def symbols(self) -> list[Symbol]:
        out = []
        for item in self.items:
            if isinstance(item, A.Def):
                end = def_end_line(item)
                whole = Span(item.span.file, item.span.line, 1, end, len(self.lines[end - 1]) + 1)
                out.append(Symbol(item.name.id, "def", self.def_summary(item.name.id), whole,
                                  item.name.span))
            elif isinstance(item, (A.SharedDecl, A.OptionDecl)):
                kind = "shared" if isinstance(item, A.SharedDecl) else "option"
                out.append(Symbol(item.name.id, kind,
                                  self.hover_name(item.name.id, None, None, 0) or "",
                                  item.span, item.name.span))
        return out


def source_text(lines: list[str], span: Span) -> str:
    if span.line != span.end_line:
        return lines[span.line - 1][span.col - 1:]
    return lines[span.line - 1][span.col - 1:span.end_col - 1]
