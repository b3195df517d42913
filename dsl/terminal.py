"""Diagnostics as a terminal shows them: in colour where the stream is a
terminal (the severity and code, the arrow and gutter, the caret, the help),
the plain text of `dsl.diagnostics.render` everywhere else.

`COLOR` is the `--color` choice: "auto" colours a terminal unless NO_COLOR
is set, "always" colours any stream, "never" none. The colours come from
rich, which is loaded only when they are drawn.
"""
from __future__ import annotations

import os
import re
import sys

COLOR = "auto"
CHOICES = ("auto", "always", "never")

SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow"}
_HEADER = re.compile(r"^(error|warning)(\[[A-Z]\d+\])?(:)(.*)$")
_ARROW = re.compile(r"^(\s*)(-->)(.*)$")
_GUTTER = re.compile(r"^(\s*\d*\s)(\|)(.*)$")
_CARETS = re.compile(r"^ *\^+$")
_NOTE = re.compile(r"^(\s*)(= (?:help|note):)(.*)$")


def use_color(stream, mode: str | None = None) -> bool:
    mode = mode or COLOR
    if mode == "always":
        return True
    if mode == "never" or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def show(text: str, stream=None, end: str = "\n") -> None:
    """Write rendered diagnostics (`str(SymError)`, `render(d)`) to `stream`
    (stderr by default), coloured when `use_color` says so."""
    stream = stream or sys.stderr
    if not use_color(stream):
        stream.write(text + end)
        return
    from rich.console import Console     # here: plain output never loads rich
    console = Console(file=stream, force_terminal=True, force_jupyter=False, no_color=False,
                      color_system="standard",
                      highlight=False, emoji=False, markup=False, soft_wrap=True)
    console.print(styled(text), end=end)


def styled(text: str):
    """`text` (rendered diagnostics) as a rich Text with the styles set."""
    from rich.text import Text
    out = Text()
    severity = "error"
    for i, line in enumerate(text.split("\n")):
        if i:
            out.append("\n")
        header = _HEADER.match(line)
        if header:
            severity = header.group(1)
        out.append_text(_styled_line(line, header, SEVERITY_STYLE[severity]))
    return out


def _styled_line(line: str, header, severity_style: str):
    from rich.text import Text
    if header:
        return Text.assemble((header.group(1) + (header.group(2) or ""), severity_style),
                             (header.group(3) + header.group(4), "bold"))
    for pattern, styles in ((_ARROW, ("", "bold blue", "")), (_NOTE, ("", "bold cyan", ""))):
        m = pattern.match(line)
        if m:
            return Text.assemble(*((part, style) for part, style in zip(m.groups(), styles)))
    m = _GUTTER.match(line)
    if m:
        rest = m.group(3)
        rest_style = severity_style if _CARETS.match(rest) else ""
        return Text.assemble((m.group(1), "bold blue"), (m.group(2), "bold blue"), (rest, rest_style))
    return Text(line)
