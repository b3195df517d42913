"""Spans, diagnostics and the one renderer every message goes through.

A diagnostic is data (code, message, span, notes, hint); `render` turns it
into the text users see:

    error[E0201]: unknown name `Wx`
      --> model.sym:3:12
       |
     3 |     return Wx + b
       |            ^^
       = help: did you mean `W`?
"""
from __future__ import annotations

from dataclasses import dataclass

# Source text of every file the parser has seen, so diagnostics can quote it.
SOURCES: dict[str, str] = {}


def register_source(filename: str, text: str) -> None:
    SOURCES[filename] = text


@dataclass(frozen=True)
class Span:
    file: str
    line: int
    col: int
    end_line: int
    end_col: int  # exclusive

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def to(self, other: "Span | None") -> "Span":
        """The span from the start of self to the end of other."""
        if other is None:
            return self
        return Span(self.file, self.line, self.col, other.end_line, other.end_col)


@dataclass(frozen=True)
class Note:
    message: str
    span: Span | None = None


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span | None
    notes: tuple[Note, ...] = ()
    hint: str | None = None
    severity: str = "error"  # or "warning"

    def render(self) -> str:
        return render(self)


class SymError(Exception):
    """Every user error: str() is the rendered text, .diagnostics the data."""

    def __init__(self, diagnostics):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = list(diagnostics)
        super().__init__("\n\n".join(d.render() for d in self.diagnostics))


def error(code: str, message: str, span: Span | None, hint: str | None = None,
          notes=()) -> SymError:
    return SymError(Diagnostic(code, message, span, tuple(notes), hint))


def _source_line(span: Span) -> str | None:
    text = SOURCES.get(span.file)
    if text is None:
        return None
    lines = text.split("\n")      # the parser counts lines by "\n" only
    if 1 <= span.line <= len(lines):
        return lines[span.line - 1].rstrip("\r")
    return None


def _quote(span: Span, gutter: int) -> list[str]:
    line = _source_line(span)
    if line is None:
        return []
    line = line.replace("\t", " ")
    end = span.end_col if span.end_line == span.line else len(line) + 1
    width = max(1, end - span.col)
    pad = " " * gutter
    return [
        f"{pad} |",
        f"{span.line:>{gutter}} | {line}",
        f"{pad} | {' ' * (span.col - 1)}{'^' * width}",
    ]


def render(d: Diagnostic) -> str:
    out = [f"{d.severity}[{d.code}]: {d.message}"]
    spans = [d.span] + [n.span for n in d.notes]
    gutter = max([len(str(s.line)) for s in spans if s is not None] or [1])
    pad = " " * gutter
    if d.span is not None:
        out.append(f"{pad}--> {d.span}")
        out.extend(_quote(d.span, gutter))
    for note in d.notes:
        if note.span is not None:
            out.append(f"{pad} = note: {note.message}")
            out.append(f"{pad}--> {note.span}")
            out.extend(_quote(note.span, gutter))
        else:
            out.append(f"{pad} = note: {note.message}")
    if d.hint:
        out.append(f"{pad} = help: {d.hint}")
    return "\n".join(out)
