"""Every examples/*.py runs as `python examples/NAME.py` and prints what the
lecture's exercises expect, on each backend (SYM_BACKEND)."""
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, mnist_dir, needs_mnist

EXPECTED = {
    "hello_world": "hello world\nnumpy {numpy} | dsl sums six ones: 6.0\n",
    "function_vs_python": ("def f(x: f32, y: f32) -> f32\n"
                           "<1, 2>: python 16, dsl 16.0\n"
                           "<3, 4>: python 30, dsl 30.0\n"),
    "gradients": ("d(x**2)/dx at 2 = 4.0\n"
                  "d(log x)/dx at 2 = 0.5\n"
                  "d(1/x)/dx at 2 = -0.25\n"),
    "gradient_of_f": ("df/dx = 3.0 df/dy = 4.0\n"
                      "dsigmoid(f)/dx = 3.37605e-07 dsigmoid(f)/dy = 4.50141e-07\n"),
    "eval_vector": "Variable(pow: f32[n1])\n[4. 9. 0.]\n",
    # Theano's scan tutorial, as written with `dsl` for `theano`/`T`
    "scan_power": ("[ 0.  1.  4.  9. 16. 25. 36. 49. 64. 81.]\n[0.000e+00 1.000e+00 1.600e+01 "
                   "8.100e+01 2.560e+02 6.250e+02 1.296e+03\n 2.401e+03 4.096e+03 6.561e+03]\n"),
    "scan_polynomial": "19.0\n19.0\n",
    "scan_jacobian": "[[8. 0.]\n [0. 8.]]\n[[2. 0. 0.]\n [0. 4. 0.]\n [0. 0. 6.]]\n",
    "scan_hessian": "[[2. 0.]\n [0. 2.]]\n[[ 6.  0.]\n [ 0. 12.]]\n",
}


def run_example(name, backend, timeout=300):
    env = dict(os.environ, SYM_BACKEND=backend, PYTHONPATH=str(ROOT))
    if mnist_dir() is not None:
        env["SYM_DATA"] = str(mnist_dir().parent)
    done = subprocess.run([sys.executable, str(ROOT / "examples" / f"{name}.py")], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_example_is_tested():
    names = {p.stem for p in (ROOT / "examples").glob("*.py")}
    assert names == set(EXPECTED) | {"logistic_regression"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_prints_the_expected_output(name, backend):
    import numpy
    assert run_example(name, backend) == EXPECTED[name].format(numpy=numpy.__version__)


@needs_mnist
@pytest.mark.slow
def test_logistic_regression_example_trains_one_epoch_on_mnist(backend):
    out = run_example("logistic_regression", backend, timeout=900)
    lines = out.splitlines()
    assert lines[0] == "def train_model(x: f32[n1, 784], y: i32[n3]) -> f32"
    match = re.fullmatch(r"epoch 1, validation error (\d+\.\d\d) %", lines[1])
    assert match, out
    # one epoch of minibatch SGD from zeros (lr 0.13, 600 a batch): about 12 %
    assert float(match.group(1)) == pytest.approx(12.07, abs=0.1)
