"""The OpenCL backend's f32 exp, log, log1p and tanh against numpy in
float64 rounded to f32, on many values: by default exp, log and log1p
correctly rounded (the inline helpers compute in double) and tanh (pocl's
builtin written out, the same bits as the builtin) within 1 ulp, with fast
math within 2 ulp; and the fast-math switch (API argument, CLI flag, shown
by explain --kernels)."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import opencl_skip_reason

import dsl
from dsl import cli
from dsl.diagnostics import SymError

needs_opencl = pytest.mark.skipif(opencl_skip_reason() is not None,
                                  reason=str(opencl_skip_reason()))

N = 100_000
RNG = np.random.default_rng(7)
DOMAINS = {     # function -> f32 arguments: the whole finite range, denormal results, tiny values
    "exp": np.concatenate([RNG.uniform(-104, 89, N), RNG.uniform(-1, 1, N)]),
    "log": np.concatenate([np.exp(RNG.uniform(-103, 88, N)), RNG.uniform(0.5, 2, N)]),
    "log1p": np.concatenate([RNG.uniform(-0.999, 100, N), RNG.normal(0, 1e-4, N)]),
    "tanh": np.concatenate([RNG.uniform(-12, 12, N), RNG.normal(0, 1e-2, N)]),
}
SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 1e-45, 88.72283, 88.72284,
                    -87.33654, -103.97208, -103.97209, 3.4e38, 1e-30, -0.9999999], np.float32)


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| in units in the last place of f32 (ordered as integers)."""
    def ordered(x):
        i = x.view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)
    return np.abs(ordered(a) - ordered(b))


def opencl_values(fn: str, x: np.ndarray, fast_math: bool) -> np.ndarray:
    m = dsl.compile(f"def f(x: f32[n]) -> f32[n]:\n    return {fn}(x)\n", backend="opencl",
                    fast_math=fast_math)
    return np.asarray(m.f(x))


def reference(fn: str, x: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return getattr(np, fn)(x.astype(np.float64)).astype(np.float32)


@needs_opencl
@pytest.mark.parametrize("fn", sorted(DOMAINS))
@pytest.mark.parametrize("fast_math", [False, True])
def test_f32_math_against_numpy_float64(fn, fast_math):
    # default: correctly rounded (tanh: pocl's, within 1 ulp)
    max_ulp = 2 if fast_math else (1 if fn == "tanh" else 0)
    x = np.concatenate([DOMAINS[fn].astype(np.float32), SPECIAL])
    got, want = opencl_values(fn, x, fast_math), reference(fn, x)
    finite = np.isfinite(want)
    assert ulp_distance(got[finite], want[finite]).max() <= max_ulp
    # inf, -inf and NaN exactly where numpy has them
    np.testing.assert_array_equal(got[~finite], want[~finite])


@needs_opencl
def test_the_reference_sigmoid_is_the_kernels_bit_for_bit():
    """numpy's sigmoid computes as the kernels do (exp of -|x| in double,
    rounded once; the numerator selected; one division), so both backends
    give the same f32 bits (before, numpy's exp(-logaddexp(0, -x)) differed
    in the last bit for most values)."""
    x = np.concatenate([RNG.uniform(-110, 90, N), RNG.normal(0, 3, N), SPECIAL]).astype(np.float32)
    m = dsl.compile("def f(x: f32[n]) -> f32[n]:\n    return sigmoid(x)\n", backend="numpy")
    np.testing.assert_array_equal(np.asarray(m.f(x)).view(np.int32),
                                  opencl_values("sigmoid", x, False).view(np.int32))


@needs_opencl
def test_inline_tanh_is_pocls_builtin_bit_for_bit():
    """The inline tanh against pocl's builtin on 2^22 bit patterns (every
    sign and exponent; bench/tanh_bits.py checks all 2^32)."""
    from runtime.opencl import cgen, runtime
    from runtime.opencl.device import choose_device, is_pocl
    rt = runtime.runtime_for(choose_device(None)[0])
    if rt.target != "cpu" or not is_pocl(rt.device):
        pytest.skip("the builtin compared with is pocl's (CPU); this device has its own tanh")
    source = cgen.HELPERS["sym_tanhf_pocl"][0] + """
__kernel void both(__global const uint* bits, __global uint* mine, __global uint* builtin) {
    const size_t g = get_global_id(0);
    const float x = as_float(bits[g]);
    mine[g] = as_uint(sym_tanhf_pocl(x));
    builtin[g] = as_uint(tanh(x));
}
"""
    program = rt.program(source, "tanh_bits")
    bits = np.random.default_rng(11).integers(0, 2**32, 2**22, dtype=np.uint64).astype(np.uint32)
    cl, ctx, queue = rt.cl, rt.context, rt.queue
    flags = cl.mem_flags
    inp = cl.Buffer(ctx, flags.READ_ONLY | flags.COPY_HOST_PTR, hostbuf=bits)
    outs = [cl.Buffer(ctx, flags.WRITE_ONLY, bits.nbytes) for _ in range(2)]
    program.both(queue, bits.shape, None, inp, *outs)
    mine, builtin = np.empty_like(bits), np.empty_like(bits)
    cl.enqueue_copy(queue, mine, outs[0])
    cl.enqueue_copy(queue, builtin, outs[1])
    both_nan = np.isnan(mine.view(np.float32)) & np.isnan(builtin.view(np.float32))
    assert np.array_equal(mine[~both_nan], builtin[~both_nan])


@needs_opencl
def test_default_tanh_is_the_inline_one():
    source = "def f(x: f32[n]) -> f32[n]:\n    return tanh(x)\n"
    shown = dsl.compile(source, backend="opencl").explain("f", kernels=True)
    assert "sym_tanhf_pocl(" in shown


@needs_opencl
def test_fast_math_is_opt_in_and_shown_by_explain():
    source = "def f(x: f32[n]) -> f32[n]:\n    return tanh(exp(x))\n"
    exact = dsl.compile(source, backend="opencl").explain("f", kernels=True)
    fast = dsl.compile(source, backend="opencl", fast_math=True).explain("f", kernels=True)
    assert "sym_expf_d(" in exact and "fast-math" not in exact
    assert "sym_expf(" in fast and "fast-math" in fast and "2 ulp" in fast


def test_fast_math_must_be_a_bool():
    with pytest.raises(SymError, match="`fast_math` is True or False"):
        dsl.compile("def f(x: f32) -> f32:\n    return x\n", backend="numpy", fast_math="yes")


def test_fast_math_flag_is_refused_on_numpy(tmp_path, capsys):
    path = tmp_path / "p.sym"
    path.write_text("print(1)\n")
    assert cli.main(["run", str(path), "--backend", "numpy", "--fast-math"]) == 2
    assert "--fast-math is for the OpenCL backend" in capsys.readouterr().err


@needs_opencl
def test_fast_math_flag_on_explain(tmp_path, capsys):
    path = tmp_path / "p.sym"
    path.write_text("def f(x: f32[n]) -> f32[n]:\n    return exp(x)\n")
    assert cli.main(["explain", str(path), "--kernels", "--fast-math"]) == 0
    assert "fast-math" in capsys.readouterr().out


@needs_opencl
def test_fast_math_flag_on_run_is_named_by_verbose(tmp_path, capsys):
    path = tmp_path / "p.sym"
    path.write_text("def f(x: f32[n]) -> f32[n]:\n    return exp(x)\nprint(f([0.0, 1.0]))\n")
    assert cli.main(["run", str(path), "--backend", "opencl", "--fast-math", "-v"]) == 0
    out = capsys.readouterr()
    assert "2.7182817" in out.out and "fast math" in out.err
