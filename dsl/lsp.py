"""`sym lsp`: a Language Server Protocol server on stdio (pygls).

Diagnostics are published as the user types, DEBOUNCE_SECONDS after the last
change, from the same checker as `sym check` (codes, messages, help, notes);
hover, go to definition, completion and the outline come from dsl/editor.py.
LSP positions are 0-based and count UTF-16 code units; spans are 1-based
and count characters: `to_lsp` and `from_lsp` convert.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import unquote, urlparse

from lsprotocol import types as T
from pygls.server import LanguageServer

from .diagnostics import Span
from .editor import Analysis

DEBOUNCE_SECONDS = 0.3
SEVERITY = {"error": T.DiagnosticSeverity.Error, "warning": T.DiagnosticSeverity.Warning}
COMPLETION_KIND = {"def": T.CompletionItemKind.Function, "shared": T.CompletionItemKind.Variable,
                   "option": T.CompletionItemKind.Constant, "builtin": T.CompletionItemKind.Function,
                   "variable": T.CompletionItemKind.Variable, "keyword": T.CompletionItemKind.Keyword}
SYMBOL_KIND = {"def": T.SymbolKind.Function, "shared": T.SymbolKind.Variable,
               "option": T.SymbolKind.Constant}


def file_name(uri: str) -> str:
    """The name diagnostics show: the path of a file: URI, else the URI."""
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def to_lsp(lines: list[str], line: int, col: int) -> T.Position:
    text = lines[line - 1] if 1 <= line <= len(lines) else ""
    return T.Position(line=max(line - 1, 0), character=utf16_units(text[:max(col - 1, 0)]))


def from_lsp(lines: list[str], pos: T.Position) -> tuple[int, int]:
    text = lines[pos.line] if pos.line < len(lines) else ""
    units = col = 0
    while col < len(text) and units < pos.character:
        units += utf16_units(text[col])
        col += 1
    return pos.line + 1, col + 1


def lsp_range(lines: list[str], span: Span | None) -> T.Range:
    if span is None:        # a whole-program diagnostic: the first line
        return T.Range(start=T.Position(line=0, character=0), end=T.Position(line=0, character=0))
    return T.Range(start=to_lsp(lines, span.line, span.col),
                   end=to_lsp(lines, span.end_line, span.end_col))


def lsp_diagnostic(a: Analysis, uri: str, d) -> T.Diagnostic:
    message = d.message + (f"\nhelp: {d.hint}" if d.hint else "")
    related = [T.DiagnosticRelatedInformation(
        location=T.Location(uri=uri, range=lsp_range(a.lines, n.span)), message=n.message)
        for n in d.notes if n.span is not None and n.span.file == a.filename]
    unlocated = [n.message for n in d.notes if n.span is None]
    if unlocated:
        message += "".join(f"\nnote: {m}" for m in unlocated)
    return T.Diagnostic(range=lsp_range(a.lines, d.span), message=message, code=d.code,
                        severity=SEVERITY[d.severity], source="sym",
                        related_information=related or None)


class SymServer(LanguageServer):
    def __init__(self):
        super().__init__("sym", "0.1.0")
        self.analyses: dict[str, Analysis] = {}      # uri -> the latest text, checked
        self.parsed: dict[str, Analysis] = {}        # uri -> the latest that parsed
        self.pending: dict[str, asyncio.TimerHandle] = {}

    def analysis(self, uri: str) -> Analysis:
        text = self.workspace.get_text_document(uri).source
        a = self.analyses.get(uri)
        if a is None or a.text != text:
            a = self.analyses[uri] = Analysis(text, file_name(uri))
            if a.parsed:
                self.parsed[uri] = a
        return a

    def navigable(self, uri: str) -> Analysis:
        """The latest analysis with a syntax tree: while a line is half
        typed, hover and completion use the last version that parsed."""
        a = self.analysis(uri)
        return a if a.parsed else self.parsed.get(uri, a)

    def publish(self, uri: str) -> None:
        self.pending.pop(uri, None)
        try:
            a = self.analysis(uri)
        except Exception as exc:     # a bug in sym: say so in the editor's log, keep serving
            self.show_message_log(f"sym: internal error checking {uri}: {type(exc).__name__}: {exc}",
                                  T.MessageType.Error)
            return
        self.publish_diagnostics(uri, [lsp_diagnostic(a, uri, d) for d in a.diagnostics])

    def schedule(self, uri: str, delay: float) -> None:
        if uri in self.pending:
            self.pending[uri].cancel()
        self.pending[uri] = asyncio.get_event_loop().call_later(delay, self.publish, uri)


server = SymServer()


@server.feature(T.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: SymServer, params: T.DidOpenTextDocumentParams):
    ls.publish(params.text_document.uri)


@server.feature(T.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: SymServer, params: T.DidChangeTextDocumentParams):
    ls.schedule(params.text_document.uri, DEBOUNCE_SECONDS)


@server.feature(T.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: SymServer, params: T.DidCloseTextDocumentParams):
    uri = params.text_document.uri
    if uri in ls.pending:
        ls.pending.pop(uri).cancel()
    ls.analyses.pop(uri, None)
    ls.parsed.pop(uri, None)
    ls.publish_diagnostics(uri, [])


@server.feature(T.TEXT_DOCUMENT_HOVER)
def hover(ls: SymServer, params: T.HoverParams):
    a = ls.navigable(params.text_document.uri)
    text = a.hover(*from_lsp(a.lines, params.position))
    if text is None:
        return None
    return T.Hover(contents=T.MarkupContent(kind=T.MarkupKind.Markdown,
                                            value=f"```sym\n{text}\n```"))


@server.feature(T.TEXT_DOCUMENT_DEFINITION)
def definition(ls: SymServer, params: T.DefinitionParams):
    uri = params.text_document.uri
    a = ls.navigable(uri)
    span = a.definition(*from_lsp(a.lines, params.position))
    if span is None:
        return None
    if span.file != a.filename:     # declared in an imported file
        path = Path(span.file).resolve()
        return T.Location(uri=path.as_uri(), range=lsp_range(path.read_text().split("\n"), span))
    return T.Location(uri=uri, range=lsp_range(a.lines, span))


@server.feature(T.TEXT_DOCUMENT_COMPLETION, T.CompletionOptions(trigger_characters=["."]))
def completion(ls: SymServer, params: T.CompletionParams):
    a = ls.navigable(params.text_document.uri)
    items = [T.CompletionItem(label=c.label, kind=COMPLETION_KIND[c.kind], detail=c.detail,
                              documentation=c.doc or None)
             for c in a.completions(*from_lsp(a.lines, params.position))]
    return T.CompletionList(is_incomplete=False, items=items)


@server.feature(T.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def document_symbol(ls: SymServer, params: T.DocumentSymbolParams):
    a = ls.navigable(params.text_document.uri)
    return [T.DocumentSymbol(name=s.name, kind=SYMBOL_KIND[s.kind], detail=s.detail,
                             range=lsp_range(a.lines, s.span),
                             selection_range=lsp_range(a.lines, s.name_span))
            for s in a.symbols()]


def serve() -> int:
    server.start_io()
    return 0
