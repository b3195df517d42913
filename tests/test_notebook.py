"""The notebook magics (dsl/notebook.py) in IPython's own shell, and
examples/lecture.ipynb executed end to end by nbclient."""
import os

import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell

from conftest import ROOT
from dsl import notebook

PROGRAM = """shared W: f32[3] = ones()
option scale = 2.0

def step(x: f32[3]) -> f32:
    W <- W * scale
    return sum(x * W)

print("first", step([1.0, 2.0, 3.0]))
"""


@pytest.fixture
def shell(monkeypatch):
    ip = InteractiveShell.instance()
    shown = []
    monkeypatch.setattr(notebook, "display", shown.append)
    ip.run_line_magic("load_ext", "dsl")
    ip.shown = shown
    yield ip
    ip.run_line_magic("unload_ext", "dsl")
    for name in ("W", "step", "g", notebook.LAST):
        ip.user_ns.pop(name, None)


def html(shell) -> str:
    return "".join(h.data for h in shell.shown)


def test_a_cell_runs_and_its_defs_and_shared_values_become_names(shell, capsys):
    shell.run_cell_magic("sym", "", PROGRAM)
    assert capsys.readouterr().out == "first 6.0\n"
    ns = shell.user_ns
    assert isinstance(ns["W"], np.ndarray) and ns["W"].tolist() == [2.0, 2.0, 2.0]
    assert float(ns["step"](np.ones(3, np.float32))) == 6.0
    assert ns["W"].tolist() == [4.0, 4.0, 4.0]           # read back after the call
    ns["W"] = np.zeros(3, np.float32)                    # set from Python
    assert float(ns["step"](np.ones(3, np.float32))) == 0.0
    ns["W"][:] = 1.0                                     # changed in place
    assert float(ns["step"](np.ones(3, np.float32))) == 3.0
    assert ns["step"].__doc__ == "def step(x: f32[3]) -> f32"
    assert shell.shown == []


def test_set_and_backend_flags(shell, capsys):
    shell.run_cell_magic("sym", "--backend numpy --set scale=3.0", PROGRAM)
    assert capsys.readouterr().out == "first 6.0\n" and shell.user_ns["W"].tolist() == [3.0] * 3
    assert shell.user_ns[notebook.LAST].backend == "numpy"


def test_diagnostics_are_html_with_the_line_caret_and_help(shell, capsys):
    result = shell.run_cell("%%sym\ndef g(x: f32[n]) -> f32:\n    return sum(y)\n")
    assert result.success and result.error_in_exec is None        # no traceback
    text = html(shell)
    assert "error[E0101]" in text and "unknown name `y`" in text
    assert "return sum(y)" in text and "^" in text and "help:" in text
    assert "<pre" in text and "color" in text                      # coloured as on a terminal
    assert "g" not in shell.user_ns                                # nothing is defined
    assert "Traceback" not in capsys.readouterr().err


def test_warnings_are_shown_and_the_cell_still_runs(shell, capsys):
    shell.run_cell_magic("sym", "", "unused = 1\nprint(2)\n")
    assert capsys.readouterr().out == "2\n"
    assert "warning[W0103]" in html(shell)


def test_runtime_errors_and_bad_calls_are_diagnostics_not_tracebacks(shell, capsys):
    shell.run_cell_magic("sym", "", PROGRAM)
    capsys.readouterr()
    result = shell.run_cell("import numpy as np\nstep(np.ones(4, np.float32))")
    assert "E06" in html(shell) and "f32[3]" in html(shell)
    assert "Traceback" not in capsys.readouterr().out
    assert result.error_in_exec is not None       # the cell failed, shown as a diagnostic


def test_sym_explain(shell, capsys):
    shell.run_cell_magic("sym", "", PROGRAM)
    capsys.readouterr()
    shell.run_line_magic("sym_explain", "step")
    out = capsys.readouterr().out
    assert "def step(x: f32[3]) -> f32" in out and "IR after rewrites" in out and "W <- " in out
    shell.run_line_magic("sym_explain", "stpe")
    assert "E0906" in html(shell) and "did you mean `step`?" in html(shell)


def test_lecture_notebook_runs_end_to_end(monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    nb = nbformat.read(ROOT / "examples" / "lecture.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "examples")}}).execute()
    outputs = {i: "".join(o.get("text", "") + str(o.get("data", {}).get("text/html", ""))
                          for o in cell.get("outputs", ()))
               for i, cell in enumerate(nb.cells) if cell.cell_type == "code"}
    text = "\n".join(outputs.values())
    assert "hello world" in text
    assert "16.0" in text and "30.0" in text                     # f(1, 2), f(3, 4)
    assert "4.0 0.5 -0.25" in text                               # the gradients at 2
    assert "validation error" in text
    assert "\x1b[" not in text                                  # HTML, not terminal escapes
    assert "error[E0203]" in text or "error[E02" in text         # the shape mistake, as HTML
    assert all(o.get("output_type") != "error" for c in nb.cells for o in c.get("outputs", ()))
