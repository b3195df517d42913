"""`sym explain`, `sym trace` and `--nan-check`: exact output against the
golden files in tests/golden/ (NAME.sym is the program, NAME.CASE.out the
expected text). A change in the IR, the rewrites or the formats shows up
as a diff in review.

To regenerate after an intended change: SYM_UPDATE_GOLDEN=1 pytest tests/test_explain.py
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

import dsl
from dsl.cli import main
from dsl.diagnostics import SymError
from dsl.explain import explain_program, format_function
from dsl.ir import toposort
from dsl.program import check_source
from runtime.nancheck import NanGuard

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path("tests/golden")
UPDATE = os.environ.get("SYM_UPDATE_GOLDEN") == "1"

# (case name, argv, which stream is compared, expected exit code)
CASES = [
    ("logreg.explain", ["explain", "tests/golden/logreg.sym", "train"], "out", 0),
    ("logreg.explain_after_stabilize",
     ["explain", "tests/golden/logreg.sym", "train", "--after", "stabilize"], "out", 0),
    ("gradients.explain", ["explain", "tests/golden/gradients.sym"], "out", 0),
    ("regression.trace", ["trace", "tests/golden/regression.sym", "--calls", "2"], "out", 0),
    ("logreg.trace", ["trace", "tests/golden/logreg.sym", "--def", "train"], "out", 0),
    ("divide_by_zero.nan_check",
     ["run", "tests/golden/divide_by_zero.sym", "--nan-check", "--backend", "numpy"], "err", 1),
    ("loop_log.explain", ["explain", "tests/golden/loop_log.sym"], "out", 0),
    ("loop_log.trace", ["trace", "tests/golden/loop_log.sym"], "out", 0),
    ("loop_log.nan_check",
     ["run", "tests/golden/loop_log.sym", "--nan-check", "--backend", "numpy"], "err", 1),
]


def mask(text: str) -> str:
    """Hide what changes from run to run or machine to machine: addresses,
    timings, and float noise (|v| < 1e-6: sums that cancel to about 0 come
    out differently with another BLAS or summation order)."""
    text = re.sub(r"0x[0-9a-fA-F]+", "0x…", text)
    text = re.sub(r"(?<=\s)\d+(\.\d+)? ?(ms|µs|us|s)\b", "<time>", text)
    return re.sub(r"-?\d(\.\d+)?e-(0[7-9]|[1-9]\d)\b", "~0", text)


@pytest.mark.parametrize("case,argv,stream,code", CASES, ids=[c[0] for c in CASES])
def test_golden(case, argv, stream, code, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("SYM_BACKEND", raising=False)
    assert main(argv) == code
    captured = capsys.readouterr()
    got = mask(captured.out if stream == "out" else captured.err)
    path = GOLDEN / f"{case}.out"
    if UPDATE:
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"no golden file {path}: run with SYM_UPDATE_GOLDEN=1"
    assert got == path.read_text(encoding="utf-8")
    if stream == "out":
        assert captured.err == ""


# ---- explain ---------------------------------------------------------------------
def checked(text):
    prog = check_source(text, "t.sym")
    assert not prog.errors
    return prog


SMALL = "def f(x: f32[n, 3], w: f32[3, 2]) -> f32[n, 2]:\n    return (x @ w) * 1.0\n"


def test_one_line_per_node_numbered_in_toposort():
    fn = checked(SMALL).defs["f"].function
    lines = format_function(fn).splitlines()
    assert len(lines) == len(toposort(fn.roots)) + 1
    assert re.fullmatch(r"  %2 = matmul %0, %1 : f32\[n, 2\] +# line 2", lines[2])
    assert lines[-1] == "  return %4"


def test_explain_sections_and_determinism():
    prog = checked(SMALL)
    text = explain_program(prog, "f")
    for title in ("def f(x: f32[n, 3], w: f32[3, 2]) -> f32[n, 2]", "IR before rewrites (5 nodes)",
                  "rewrites:", "mul-one", "IR after rewrites (3 nodes)"):
        assert title in text
    assert text == explain_program(checked(SMALL), "f")


def test_unknown_pass_is_E0903(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["explain", "tests/golden/logreg.sym", "--after", "fuse"]) == 2      # a usage error
    err = capsys.readouterr().err
    assert "error[E0903]: there is no rewrite pass `fuse`" in err
    assert "fold, simplify, stabilize, cse, dce" in err


class FakeKernels:
    name = "fake"

    def kernels_for(self, fn):
        order = toposort(fn.roots)
        return [("k_matmul", "kernel void k_matmul() {\n}\n", [order[2], 0, "the rest"])]


def test_kernels_listed_with_the_nodes_they_fuse():
    prog = checked(SMALL)
    text = explain_program(prog, "f", kernels=True, executor=FakeKernels())
    assert "kernel k_matmul   computes %2, %0, the rest" in text
    assert "    kernel void k_matmul() {" in text


class FakePasses(FakeKernels):
    def backend_passes_for(self, fn):
        return [("merge", "merge equal nodes", "9 → 7 nodes")]


def test_backend_passes_listed_above_the_kernels():
    text = explain_program(checked(SMALL), "f", kernels=True, executor=FakePasses())
    assert "backend passes:\n  merge      9 → 7 nodes\n             (merge equal nodes)" in text
    assert text.index("backend passes:") < text.index("kernels:")
    assert "backend passes:" not in explain_program(checked(SMALL), "f", kernels=True,
                                                    executor=FakeKernels())


def test_kernels_without_a_kernel_backend():
    m = dsl.compile(SMALL, "t.sym", backend="numpy")
    assert "(no kernels: backend numpy)" in m.explain("f", kernels=True)


# ---- trace ------------------------------------------------------------------------
def test_trace_of_a_def_never_called(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["trace", "tests/golden/logreg.sym", "--def", "nll"]) == 0
    out = capsys.readouterr().out
    assert "`nll` was never called" in out and "step 2 cost" in out


# ---- nan check ---------------------------------------------------------------------
NAN_FROM_DATA = """
def f(x: f32[n]) -> f32:
    y = x * 2.0
    z = log(y)
    return sum(z)
"""


def test_nan_reported_once_at_its_source():
    m = dsl.compile(NAN_FROM_DATA, "nan.sym", backend="numpy", nan_check=True)
    with pytest.raises(SymError) as exc:
        m.f(np.array([1.0, -1.0], np.float32))      # log of a negative: line 4
    (d,) = exc.value.diagnostics
    assert (d.code, d.span.line) == ("E0607", 4)
    assert "`log` made 1 NaN" in d.message
    with pytest.raises(SymError) as exc:
        m.f(np.array([1.0, np.nan], np.float32))    # NaN in the argument itself
    (d,) = exc.value.diagnostics
    assert d.message == "argument `x` of `f` holds 1 NaN value(s)" and d.span.line == 2
    assert m.f(np.array([1.0, 2.0], np.float32)) == pytest.approx(np.log(8.0))


def test_nan_guard_ignores_ints_and_later_nans():
    from dsl.build import apply
    from dsl.types import TensorType
    x = apply("param", (), type=TensorType("f32", (2,)), name="x")
    y = apply("neg", (x,))
    guard = NanGuard("g")
    guard(apply("param", (), type=TensorType("i32", (2,)), name="i"), np.array([1, 2], np.int32))
    with pytest.raises(SymError):
        guard(x, np.array([np.inf, 1.0], np.float32))
    guard(y, np.array([-np.inf, -1.0], np.float32))     # its input was already bad: no error
