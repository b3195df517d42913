"""sym in IPython and Jupyter: `%load_ext dsl`, then

    %%sym [--backend numpy|opencl] [--set NAME=VALUE ...]
    <a sym program>

checks the cell, compiles it and runs its top-level statements. Its defs
become Python callables of the notebook's namespace and its shared values
numpy arrays there: an array assigned to a shared value's name (or changed
in place) is the value the next call of a def sees, and after each call the
names hold the new values. `%sym_explain [NAME]` shows the explain view of
the last program's defs. Diagnostics, of the cell or of a later call, are
shown as HTML (the code, the message, the source line, the caret, the help)
instead of a traceback.
"""
from __future__ import annotations

import argparse
import dataclasses
import io
import shlex

import numpy as np
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.display import HTML, display

from .api import Program
from .diagnostics import SymError
from .program import check_source
from .terminal import styled

LAST = "_sym"       # the namespace name of the last program


def diagnostics_html(text: str) -> str:
    """Rendered diagnostics as HTML, coloured as on a terminal."""
    from rich.console import Console
    # force_jupyter=False: in a kernel rich would display the text itself
    console = Console(record=True, width=200, force_terminal=True, force_jupyter=False,
                      color_system="standard", file=io.StringIO(), highlight=False, emoji=False,
                      markup=False, soft_wrap=True)
    console.print(styled(text))
    return console.export_html(inline_styles=True, code_format=(
        '<pre class="sym-diagnostics" style="font-family:monospace;line-height:1.3">'
        "{code}</pre>"))


def show_diagnostics(diagnostics) -> None:
    display(HTML(diagnostics_html("\n\n".join(d.render() for d in diagnostics))))


def cell_flags(line: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="%%sym", add_help=False)
    p.add_argument("--backend", choices=("numpy", "opencl"), default="numpy")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = p.parse_args(shlex.split(line))
    args.options = dict(item.split("=", 1) for item in args.set if "=" in item)
    return args


class Bound:
    """A program's defs and shared values as names of a namespace."""

    def __init__(self, prog: Program, namespace: dict):
        self.prog, self.ns = prog, namespace
        self.shared_names = list(prog._checked.shareds)

    def publish(self) -> None:
        for name in self.prog.signatures:
            self.ns[name] = self.callable(name)
        self.pull()

    def pull(self) -> None:
        """The program's shared values into the namespace."""
        for name in self.shared_names:
            self.ns[name] = getattr(self.prog, name)

    def push(self) -> None:
        """Shared values the notebook changed into the program."""
        for name in self.shared_names:
            value = self.ns.get(name)
            if value is not None and not np.array_equal(value, getattr(self.prog, name)):
                setattr(self.prog, name, value)

    def callable(self, name: str):
        call_def = getattr(self.prog, name)

        def call(*args, **kwargs):
            self.push()
            try:
                return call_def(*args, **kwargs)
            finally:
                self.pull()
        call.__name__ = name
        call.__doc__ = call_def.__doc__
        return call


@magics_class
class SymMagics(Magics):
    @cell_magic
    def sym(self, line: str, cell: str):
        """Check, compile and run a sym program; its defs and shared values
        become names of the notebook."""
        args = cell_flags(line)
        name = f"<sym cell {self.shell.execution_count}>"
        checked = check_source(cell, name, args.options)
        if checked.diagnostics:
            show_diagnostics(checked.diagnostics)
        if checked.errors:
            return None
        # the warnings are shown above; the program is built without them
        quiet = dataclasses.replace(checked, diagnostics=[])
        try:
            prog = Program(quiet, backend=args.backend)
            self.shell.user_ns[LAST] = prog
            prog.run()
        except SymError as exc:
            show_diagnostics(exc.diagnostics)
            return None
        Bound(prog, self.shell.user_ns).publish()
        return None

    @line_magic
    def sym_explain(self, line: str):
        """The IR of the last %%sym cell's def NAME (all defs without NAME)
        before and after each rewrite."""
        prog = self.shell.user_ns.get(LAST)
        if prog is None:
            print("no %%sym cell has been run yet")
            return None
        try:
            print(prog.explain(line.strip() or None))
        except SymError as exc:
            show_diagnostics(exc.diagnostics)
        return None


def show_sym_error(shell, etype, value, tb, tb_offset=None):
    """A SymError raised in a notebook cell (a def called with a wrong
    shape...) is shown as its diagnostics, not as a traceback."""
    show_diagnostics(value.diagnostics)
    return None


def load(ipython) -> None:
    ipython.register_magics(SymMagics)
    ipython.set_custom_exc((SymError,), show_sym_error)


def unload(ipython) -> None:
    """`%unload_ext dsl`: SymErrors are tracebacks again (the magics stay)."""
    ipython.set_custom_exc((), None)
