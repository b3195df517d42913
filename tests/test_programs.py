"""Every program in programs/ and tests/programs/ runs with its expected output.

Expected output is written in the program as `# expect: LINE` comments, in
order; the MNIST programs run one epoch on the real data (`--set epochs=1`)
and are checked against the Deep Learning Tutorials' published figures.
"""
import io
import math
import re
from pathlib import Path

import pytest

import dsl
from conftest import ROOT, needs_mnist

PROGRAMS = sorted((ROOT / "programs").glob("*.sym")) + sorted((ROOT / "tests" / "programs").glob("*.sym"))
SMALL = [p for p in PROGRAMS if not p.name.startswith("mnist_")]


def expected_lines(path: Path) -> list[str]:
    lines = []
    for line in path.read_text().splitlines():
        m = re.match(r"# expect: ?(.*)$", line)
        if m:
            lines.append(m.group(1))
    return lines


def run(path, backend, options=None) -> str:
    out = io.StringIO()
    dsl.load(path, backend=backend, options=options, out=out, progress=False).run()
    return out.getvalue()


@pytest.mark.parametrize("path", SMALL, ids=lambda p: p.name)
def test_program_output(path, backend):
    want = expected_lines(path)
    assert want, f"{path.name} has no `# expect:` lines"
    assert run(path, backend).splitlines() == want


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_program_checks_clean(path):
    from dsl.program import check_source
    prog = check_source(path.read_text(), str(path))
    assert not prog.errors, "\n".join(d.render() for d in prog.errors)


@needs_mnist
def test_logreg_first_epoch_matches_tutorial(backend):
    out = run(ROOT / "programs" / "mnist_logreg.sym", backend, {"epochs": 1})
    first = out.splitlines()[0]
    value = float(re.search(r"validation error ([\d.]+) %", first).group(1))
    assert abs(value - 12.458333) <= 0.05, first


@needs_mnist
@pytest.mark.slow
def test_mlp_first_epoch_matches_tutorial(backend):
    out = run(ROOT / "programs" / "mnist_mlp.sym", backend, {"epochs": 1})
    first = out.splitlines()[0]
    value = float(re.search(r"validation error ([\d.]+) %", first).group(1))
    assert abs(value - 9.62) <= 0.05, first


@needs_mnist
def test_lenet_first_minibatches_learn(tmp_path):
    """The LeNet program checks, draws its filters, writes their picture, and
    its first three minibatches' costs are finite and decrease (numpy)."""
    from runtime.data import mnist
    png = tmp_path / "filters.png"
    prog = dsl.load(ROOT / "programs" / "mnist_lenet.sym", backend="numpy", progress=False,
                    options={"epochs": 0, "filters_png": str(png)}, out=io.StringIO()).run()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    train = mnist(None).train
    costs = [float(prog.train(train.x[i * 500:(i + 1) * 500], train.y[i * 500:(i + 1) * 500]))
             for i in range(3)]
    assert all(math.isfinite(c) for c in costs) and costs[0] > costs[1] > costs[2], costs
    assert abs(costs[0] - math.log(10)) < 1e-5     # the zero logistic layer: uniform at first
