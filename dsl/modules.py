"""Imports: a program with its `import` lines replaced by the declarations of
the files they name.

`import "layers.sym"` names a file relative to the importing file;
`import training` a file of the standard library (dsl/stdlib/training.sym).
Every declaration of an imported file (defs, shared values, options, host
functions, and what it imports itself) joins the program's one namespace
under its own name, in place of the import line. A file is imported once
per program however many files import it. An imported file holds
declarations only: its host statements would run at the import, unseen.

A diagnostic located in an imported file gets one note per hop of the
chain that brought the file in (`import_notes`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import ast as A
from .diagnostics import Note, SymError
from . import errors
from .parser import parse
from .scope import did_you_mean

STDLIB = Path(__file__).parent / "stdlib"
STDLIB_SHOWN = "<stdlib>"           # how diagnostics name the library's folder
DECLARATIONS = (A.Def, A.SharedDecl, A.OptionDecl, A.Proc)


def stdlib_modules() -> list[str]:
    return sorted(p.stem for p in STDLIB.glob("*.sym"))


@dataclass
class Imports:
    """What resolving a program's imports found: shown file name -> the
    span of the import line that brought it in, and the errors."""
    origin: dict = field(default_factory=dict)
    diagnostics: list = field(default_factory=list)

    def chain(self, file: str) -> list:
        """The import lines from `file` up to the program, nearest first."""
        spans = []
        while file in self.origin and len(spans) <= len(self.origin):
            span = self.origin[file]
            spans.append((file, span))
            file = span.file
        return spans

    def notes(self, file: str) -> tuple[Note, ...]:
        return tuple(Note(f"`{shown}` is imported here", span) for shown, span in self.chain(file))

    def top_import(self, file: str):
        """The import line in the program itself that brought `file` in."""
        chain = self.chain(file)
        return chain[-1][1] if chain else None


def import_notes(diagnostic, imports: Imports):
    """The diagnostic with the import chain of the file it is located in."""
    span = diagnostic.span
    if span is None or span.file not in imports.origin:
        return diagnostic
    return replace(diagnostic, notes=diagnostic.notes + imports.notes(span.file))


def resolve_imports(tree: A.Program, filename: str) -> tuple[A.Program, Imports]:
    resolver = _Resolver(filename)
    items = resolver.items(tree.items, filename)
    return A.Program(tuple(items), tree.file), resolver.imports


class _Resolver:
    def __init__(self, main: str):
        self.imports = Imports()
        self.folders = {main: Path(os.path.dirname(main) or ".")}   # shown name -> its folder
        self.done: set[Path] = set()
        self.active: list[tuple[Path, str, object]] = [(self.real(main), main, None)]

    @staticmethod
    def real(shown: str) -> Path | None:
        if shown.startswith("<"):
            return None
        return Path(shown).resolve()

    def items(self, items, file: str) -> list:
        out = []
        for item in items:
            if isinstance(item, A.Import):
                try:
                    out.extend(self.import_(item, file))
                except SymError as e:
                    self.imports.diagnostics.extend(e.diagnostics)
            else:
                out.append(item)
        return out

    def import_(self, item: A.Import, importer: str) -> list:
        shown, path = self.locate(item, importer)
        real = path.resolve()
        active = [r for r, _, _ in self.active]
        if real in active:
            raise self.cycle(item, active.index(real))
        if real in self.done:
            return []           # imported once per program
        text = self.read(item, shown, path)
        self.folders[shown] = path.parent
        self.imports.origin[shown] = item.span
        try:
            tree = parse(text, shown)
        except SymError as e:
            self.imports.diagnostics.extend(e.diagnostics)
            return []
        self.active.append((real, shown, item.span))
        try:
            items = self.items(tree.items, shown)
        finally:
            self.active.pop()
        self.done.add(real)
        statements = [i for i in tree.items if not isinstance(i, DECLARATIONS + (A.Import,))]
        if statements:
            self.imports.diagnostics.append(errors.statements_in_import(shown, statements[0].span).diagnostic)
        return [i for i in items if isinstance(i, DECLARATIONS)]

    def locate(self, item: A.Import, importer: str) -> tuple[str, Path]:
        """The shown name and the path of the file an import names."""
        module = item.module
        if isinstance(module, A.Name):
            path = STDLIB / f"{module.id}.sym"
            if not path.is_file():
                known = stdlib_modules()
                raise errors.cannot_import("there_no_library", module.span,
                                           did_you_mean(module.id, known) or
                                           f"the library's modules are: {', '.join(known)}; "
                                           f"to import a file, quote its path: `import \"{module.id}.sym\"`",
                                           module=module.id)
            return f"{STDLIB_SHOWN}/{module.id}.sym", path
        folder = self.folders.get(importer, Path("."))
        path = folder / module.value
        shown = (f"{importer.rsplit('/', 1)[0]}/{module.value}" if "/" in importer
                 else module.value)
        shown = os.path.normpath(shown) if not shown.startswith("<") else shown
        if not path.is_file():
            why = "it is a folder" if path.is_dir() else "no such file"
            raise errors.cannot_import("cannot_import", module.span,
                                       f"the path is relative to the importing file's folder ({folder})",
                                       module=module.value, why=why)
        return shown, path

    def read(self, item: A.Import, shown: str, path: Path) -> str:
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            reason = "it is not UTF-8 text" if isinstance(e, UnicodeDecodeError) else \
                (e.strerror or str(e)).lower()
            raise errors.cannot_import("cannot_import", item.module.span, module=shown, why=reason) from None

    def cycle(self, item: A.Import, start: int) -> SymError:
        """`a.sym` imports `b.sym` imports `a.sym`: an error at the import
        that closes the cycle; the import chain's notes show the other hops."""
        names = [shown for _, shown, _ in self.active[start:]] + [self.active[start][1]]
        return errors.import_cycle(names, item.span)


# ---- docs/stdlib.md, generated from the library's doc comments ------------------------
def stdlib_markdown() -> str:
    """The reference of every library module: its `##` comment block at the
    top, then each def and host function with the `##` lines above it."""
    out = []
    for name in stdlib_modules():
        module_doc, entries = doc_comments((STDLIB / f"{name}.sym").read_text(encoding="utf-8"))
        out += [f"## `{name}`", "", f"`import {name}`", ""]
        if module_doc:
            out += [module_doc, ""]
        for header, doc in entries:
            out += [f"### `{header}`", ""] + ([doc, ""] if doc else [])
    return "\n".join(out).rstrip("\n") + "\n"


def doc_comments(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(the file's leading `##` block, [(a def's or proc's header, its doc)])."""
    lines = text.splitlines()
    module, i = [], 0
    while i < len(lines) and lines[i].startswith("##"):
        module.append(lines[i][3:] if lines[i].startswith("## ") else lines[i][2:])
        i += 1
    entries, doc = [], []
    while i < len(lines):
        line = lines[i]
        if line.startswith("##"):
            doc.append(line[3:] if line.startswith("## ") else line[2:])
        elif line.startswith(("def ", "proc ")):
            header = [line.strip()]
            while not header[-1].endswith(":") and i + 1 < len(lines):
                i += 1
                header.append(lines[i].strip())
            entries.append((" ".join(header)[:-1], _paragraph(doc)))
            doc = []
        elif not line.strip():
            doc = []
        i += 1
    return _paragraph(module), entries


def _paragraph(lines: list[str]) -> str:
    """Doc lines as Markdown: an indented run (an example) becomes a code block."""
    out, code = [], False
    for line in lines:
        indented = line.startswith("    ")
        if indented and not code:
            out.append("```")
            code = True
        elif not indented and code and line.strip():
            while out[-1] == "":
                out.pop()
            out += ["```", ""]
            code = False
        out.append(line[4:] if indented else line)
    if code:
        out.append("```")
    return "\n".join(out).strip()
