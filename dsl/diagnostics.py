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

import re
import unicodedata
from dataclasses import dataclass, replace

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
    """Every user error, the only exception that carries a code: str() is the
    rendered text, .diagnostics the data. A type rule or autodiff, which see
    no source, raise it without a span; `located` gives it the caller's."""

    def __init__(self, diagnostics):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = list(diagnostics)
        super().__init__("\n\n".join(d.render() for d in self.diagnostics))

    @property
    def diagnostic(self) -> Diagnostic:
        return self.diagnostics[0]

    def located(self, span: Span | None) -> "SymError":
        """This error with `span` wherever it has none (itself if nothing changes)."""
        if span is None or all(d.span is not None for d in self.diagnostics):
            return self
        return SymError([d if d.span is not None else replace(d, span=span)
                         for d in self.diagnostics])


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
    end = span.end_col if span.end_line == span.line else len(line) + 1
    line, start, end = _window(line, span.col - 1, max(end - 1, span.col))
    pad = " " * gutter
    return [
        f"{pad} |",
        f"{span.line:>{gutter}} | {shown_text(line)}",
        f"{pad} | {' ' * start}{'^' * (end - start)}",
    ]


# A quoted line longer than this is cut to a window around the caret, so a
# generated file with a megabyte on one line gives a readable diagnostic.
MAX_QUOTED = 120
BEFORE_CARET = 40


def _window(line: str, start: int, end: int) -> tuple[str, int, int]:
    """The part of `line` to show and the caret's [start, end) in it
    (0-based columns; `end` > `start`)."""
    if len(line) <= MAX_QUOTED:
        return line, start, end
    lo = max(0, min(start - BEFORE_CARET, len(line) - MAX_QUOTED))
    hi = min(len(line), lo + MAX_QUOTED)
    head, tail = ("..." if lo > 0 else ""), ("..." if hi < len(line) else "")
    shift = lo - len(head)
    end = min(end - shift, len(head) + hi - lo)
    return head + line[lo:hi] + tail, start - shift, max(end, start - shift + 1)


def shown_text(text: str) -> str:
    """`text` with a tab as one space and each other control or format
    character (form feed, zero-width space, a bidi override, an escape) as
    U+FFFD: one column each, so the caret stays under its character, and a
    quoted line shows where the character is and cannot move the cursor."""
    return "".join(" " if c == "\t" else "\ufffd" if unicodedata.category(c) in _HIDDEN
                   else c for c in text)


_HIDDEN = ("Cc", "Cf", "Zl", "Zp")      # no-break and other spaces show as spaces


def is_invisible(char: str) -> bool:
    """A character that does not show, or shows as a plain space, in an
    editor: controls, format characters, and every space but U+0020."""
    return char != " " and unicodedata.category(char) in ("Cc", "Cf", "Zs", "Zl", "Zp")


def char_name(char: str) -> str:
    """`U+00A0 NO-BREAK SPACE`; controls, which Unicode leaves unnamed, by
    their usual names."""
    name = unicodedata.name(char, None) or _CONTROL_NAMES.get(ord(char), "CONTROL CHARACTER")
    return f"U+{ord(char):04X} {name}"


_CONTROL_NAMES = {0x00: "NULL", 0x08: "BACKSPACE", 0x09: "CHARACTER TABULATION",
                  0x0A: "LINE FEED", 0x0B: "LINE TABULATION", 0x0C: "FORM FEED",
                  0x0D: "CARRIAGE RETURN", 0x1B: "ESCAPE", 0x7F: "DELETE",
                  0x85: "NEXT LINE"}


# A run of non-blank characters longer than this in a message (a generated
# name or literal) is cut in the middle.
MAX_WORD = 200
_LONG_WORD = re.compile(r"\S{%d,}" % (MAX_WORD + 1))


def _shorten(text: str) -> str:
    return _LONG_WORD.sub(lambda m: m.group()[:120] + "..." + m.group()[-40:], text)


def render(d: Diagnostic) -> str:
    out = [f"{d.severity}[{d.code}]: {_shorten(d.message)}"]
    spans = [d.span] + [n.span for n in d.notes]
    gutter = max([len(str(s.line)) for s in spans if s is not None] or [1])
    pad = " " * gutter
    if d.span is not None:
        out.append(f"{pad}--> {d.span}")
        out.extend(_quote(d.span, gutter))
    for note in d.notes:
        if note.span is not None:
            out.append(f"{pad} = note: {_shorten(note.message)}")
            out.append(f"{pad}--> {note.span}")
            out.extend(_quote(note.span, gutter))
        else:
            out.append(f"{pad} = note: {_shorten(note.message)}")
    if d.hint:
        out.append(f"{pad} = help: {_shorten(d.hint)}")
    return "\n".join(out)
