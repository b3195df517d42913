"""Random streams: the Philox generator against Random123's known answers,
the distributions' statistics on 10**6 draws, independence, and whole
streams compared bit for bit between numpy and OpenCL."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dsl.build import apply, const
from dsl.types import Size, TensorType
from runtime.numpy import Env, evaluate
from runtime.opencl.device import opencl_available
from semantics import philox

N = 10 ** 6


# ---- the generator -------------------------------------------------------------------
# Random123's kat_vectors: counter (4 words), key (2 words) -> output (4 words)
KAT = [((0, 0, 0, 0), (0, 0), (0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8)),
       ((0xffffffff,) * 4, (0xffffffff,) * 2, (0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd)),
       ((0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344), (0xa4093822, 0x299f31d0),
        (0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1))]


@pytest.mark.parametrize("ctr, key, want", KAT)
def test_philox_known_answers(ctr, key, want):
    assert tuple(int(w) for w in philox.philox4x32(ctr, key)) == want


def test_philox_is_vectorised_over_counters():
    ctrs = np.array([k[0] for k in KAT], np.uint64).T
    keys = np.array([k[1] for k in KAT], np.uint64).T
    got = np.stack(philox.philox4x32(tuple(ctrs), tuple(keys)), axis=1)
    assert got.tolist() == [list(k[2]) for k in KAT]


def state(seed, calls=0):
    return np.array([seed, calls], np.int64)


# ---- statistics on 10**6 draws ---------------------------------------------------------
def chi_square(counts, expected) -> float:
    return float(np.sum((counts - expected) ** 2 / expected))


# chi-square with 15 / 19 degrees of freedom: the 0.9999 quantiles
CHI2_15, CHI2_19 = 44.3, 51.2


def ks_uniform(u) -> float:
    u = np.sort(u)
    n = len(u)
    return float(max(np.max(np.arange(1, n + 1) / n - u), np.max(u - np.arange(n) / n)))


KS_LIMIT = 2.0 / math.sqrt(N)       # above the 0.999 critical value (1.95 / sqrt(N))


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_uniform_moments_and_ks(dtype):
    u = philox.uniform(state(234), 0, N, dtype).astype(np.float64)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / N)
    assert abs(u.var() - 1 / 12) < 5 * math.sqrt(1 / 180 / N)
    assert ks_uniform(u) < KS_LIMIT


def test_scaled_uniform_stays_in_range():
    u = philox.uniform(state(7), 3, N, "f32", -2.0, 3.0)
    assert u.min() >= -2.0 and u.max() < 3.0 and abs(u.mean() - 0.5) < 0.01


def test_bits_chi_square_of_each_nibble():
    b = philox.bits(state(99), 0, N)
    assert b.min() >= 0 and b.max() < 2 ** 32
    for shift in (0, 12, 28):
        counts = np.bincount((b >> shift) & 15, minlength=16)
        assert chi_square(counts, N / 16) < CHI2_15


def normal_bin_edges(k=20):
    """Edges that split N(0, 1) into k equally likely bins (bisection on erf)."""
    def quantile(p):
        lo, hi = -10.0, 10.0
        for _ in range(80):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p else (lo, mid)
        return lo
    return [-np.inf] + [quantile(i / k) for i in range(1, k)] + [np.inf]


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_normal_moments_and_chi_square(dtype):
    z = philox.normal(state(5), 2, N, dtype, 1.5, 2.0).astype(np.float64)
    z = (z - 1.5) / 2.0
    assert abs(z.mean()) < 5 / math.sqrt(N)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / N)
    assert abs(np.mean(z ** 3)) < 5 * math.sqrt(15 / N)          # skewness 0
    assert abs(np.mean(z ** 4) - 3) < 5 * math.sqrt(96 / N)      # kurtosis 3
    counts, _ = np.histogram(z, normal_bin_edges())
    assert chi_square(counts, N / 20) < CHI2_19


def test_bernoulli_from_uniform_has_probability_p():
    u = philox.uniform(state(11), 0, N, "f32")
    for p in (0.3, 0.7):
        assert abs(np.mean(u < np.float32(p)) - p) < 5 * math.sqrt(p * (1 - p) / N)
    assert np.all(u < np.float32(1.0)) and not np.any(u < np.float32(0.0))


def correlation(a, b) -> float:
    return float(np.corrcoef(a.astype(np.float64), b.astype(np.float64))[0, 1])


@pytest.mark.parametrize("other", [(235, 0, 0), (234, 1, 0), (234, 0, 1), (234 + 2 ** 32, 0, 0)],
                         ids=["another seed", "the next call", "the next draw", "the seed's high half"])
def test_streams_calls_and_draws_are_independent(other):
    seed, calls, draw = other
    a = philox.uniform(state(234), 0, N, "f64")
    b = philox.uniform(state(seed, calls), draw, N, "f64")
    assert abs(correlation(a, b)) < 5 / math.sqrt(N)
    # successive elements of one draw too
    assert abs(correlation(a[:-1], a[1:])) < 5 / math.sqrt(N)


def test_a_number_depends_on_seed_calls_draw_and_element_only():
    a = philox.uniform(state(3, 4), 5, 100, "f32")
    b = philox.uniform(state(3, 4), 5, 1000, "f32")
    assert np.array_equal(a, b[:100])


# ---- numpy and OpenCL give the same streams ---------------------------------------------
def draw_graph():
    st = apply("param", (), type=TensorType("i64", (2,)), name="st")
    n = Size.var("n")

    def r(dist, dtype, draw, *ps):
        return apply("random", tuple([st] + [const(p, dtype) for p in ps]),
                     type=TensorType(dtype, (n, 7)), dist=dist, draw=draw)
    exact = [r("bits", "i64", 0), r("uniform", "f32", 1, 0.0, 1.0), r("uniform", "f32", 2, -3.0, 5.5),
             r("uniform", "f64", 3, 0.0, 1.0), r("uniform", "f64", 4, -0.3, 7.1),
             r("normal", "f32", 5, 1.0, 2.0)]
    return exact, [r("normal", "f64", 6, 0.0, 1.0)]


@pytest.mark.skipif(not opencl_available(), reason="no OpenCL device")
@settings(max_examples=8, deadline=None)
@given(shape=st.lists(st.integers(1, 9), min_size=0, max_size=3), seed=st.integers(0, 2 ** 63 - 1),
       calls=st.integers(0, 2 ** 40), draw=st.integers(0, 2 ** 32 - 1),
       dist=st.sampled_from([("bits", "i64"), ("uniform", "f32"), ("uniform", "f64"),
                             ("normal", "f32")]))
def test_draws_of_any_shape_are_the_same_on_both_backends(shape, seed, calls, draw, dist):
    """Fixed shapes (no size arguments): each example is its own program."""
    from runtime.opencl.executor import OpenCLExecutor
    st_node = apply("param", (), type=TensorType("i64", (2,)), name="st")
    kind, dtype = dist
    params = () if kind == "bits" else (const(-1.5, dtype), const(2.5, dtype))
    root = apply("random", (st_node, *params), type=TensorType(dtype, tuple(shape)),
                 dist=kind, draw=draw)
    args = {"st": state(seed, calls)}
    (want,) = evaluate([root], Env({}, args))
    (got,) = OpenCLExecutor({}).evaluate([root], args, {})
    assert np.array_equal(want, got)


@pytest.mark.skipif(not opencl_available(), reason="no OpenCL device")
@pytest.mark.parametrize("seed, calls", [(234, 0), (2 ** 40 + 17, 3), (-1, 2 ** 33 + 5)])
def test_whole_streams_are_the_same_on_numpy_and_opencl(seed, calls):
    from runtime.opencl.executor import OpenCLExecutor
    exact, close = draw_graph()
    params, sizes = {"st": state(seed, calls)}, {"n": 4099}
    want = evaluate(exact + close, Env(sizes, params))
    got = OpenCLExecutor({}).evaluate(exact + close, params, sizes)
    for root, w, g in zip(exact, want, got):
        assert g.dtype == w.dtype and np.array_equal(w, g), (root.attr("dist"), root.type.dtype)
    # f64 normals go through log and cos, whose last bit may differ
    (w,), (g,) = want[len(exact):], got[len(exact):]
    np.testing.assert_allclose(g, w, rtol=4e-15, atol=4e-15)


# ---- streams in the language ------------------------------------------------------------
import dsl  # noqa: E402
from dsl.program import check_source  # noqa: E402

PROGRAM = """
shared rng: stream = 234
shared W: f32[4, 3] = uniform(-0.5, 0.5, seed=1)
def noisy(x: f32[n, 4]) -> f32[n, 3]:
    mask = bernoulli(rng, x.shape, 0.7)
    return (x * mask) @ W + normal(rng, (n, 3), 0.0, 0.1)
def two(x: f32[n]) -> (f32[n], f32[n]):
    return uniform(rng, (n,)), uniform(rng, (n,))
def ints(x: f32[n]) -> i64[n]:
    return integers(rng, x.shape, -3, 4)
def many(x: f32[n]) -> f32[n]:
    return binomial(rng, (n,), 5, 0.25)
def step(x: f32[n, 4]) -> f32:
    W <- W - 0.1 * grad(sum(noisy(x)), W)
    return sum(W)
"""


def program(backend="numpy"):
    return dsl.compile(PROGRAM, backend=backend)


def test_each_call_advances_the_stream_and_draws_differ():
    m = program()
    a, b = m.noisy(np.ones((5, 4), np.float32)), m.noisy(np.ones((5, 4), np.float32))
    assert not np.array_equal(a, b)
    u, v = m.two(np.zeros(1000, np.float32))
    assert not np.array_equal(u, v)         # two equal-looking draws are not merged
    assert np.asarray(m.rng).tolist() == [234, 3]


def test_the_numbers_depend_on_seed_and_calls_only():
    m1, m2 = program(), program()
    m1.ints(np.zeros(3, np.float32))
    first = m1.noisy(np.ones((5, 4), np.float32))
    m2.rng = np.array([234, 1], np.int64)
    assert np.array_equal(m2.noisy(np.ones((5, 4), np.float32)), first)


def test_integers_and_binomial_ranges():
    m = program()
    k = m.ints(np.zeros(20000, np.float32))
    assert k.dtype == np.int64 and k.min() == -3 and k.max() == 3
    assert abs(np.mean(k == 0) - 1 / 7) < 0.01
    b = m.many(np.zeros(20000, np.float32))
    assert set(np.unique(b)) <= {0, 1, 2, 3, 4, 5} and abs(b.mean() - 1.25) < 0.03


def test_a_def_called_as_a_statement_advances_its_stream(capsys):
    m = dsl.compile(PROGRAM + "noisy(zeros((2, 4)))\nnoisy(zeros((2, 4)))\nprint(rng)\n")
    m.run()
    assert capsys.readouterr().out.split()[-1] == "2]"


def test_a_def_that_calls_a_drawing_def_advances_once_per_call():
    m = program()
    m.step(np.ones((2, 4), np.float32))
    assert np.asarray(m.rng).tolist() == [234, 1]


def test_signature_and_explain_show_the_advance():
    prog = check_source(PROGRAM)
    assert prog.signatures["noisy"] == "def noisy(x: f32[n, 4]) -> f32[n, 3] advances rng"
    assert prog.signatures["step"].endswith("advances rng")
    from dsl.explain import format_function
    text = format_function(prog.defs["noisy"].function)
    assert "random[dist=uniform, draw=0]" in text and "random[dist=normal, draw=1]" in text
    assert text.rstrip().splitlines()[-1].strip().startswith("rng <- %")


def test_checkpoint_resume_continues_the_stream(tmp_path):
    ck = tmp_path / "ck.npz"
    m = dsl.compile(PROGRAM + f'noisy(zeros((2, 4)))\nsave("{ck}")\n')
    m.run()
    straight = m.noisy(np.ones((5, 4), np.float32))
    r = dsl.compile(PROGRAM + f'load("{ck}")\n')
    r.run()
    assert np.array_equal(r.noisy(np.ones((5, 4), np.float32)), straight)


def test_initialisers_still_draw_as_numpy_randomstate():
    m = program()
    want = np.random.RandomState(1).uniform(-0.5, 0.5, size=(4, 3)).astype(np.float32)
    assert np.array_equal(np.asarray(m.W), want)


def test_dropout_gradient_against_finite_differences_with_the_same_mask():
    src = """
shared rng: stream = 7
def loss(x: f32[n, 6], w: f64[6, 3], rng_calls: f32) -> f64:
    h = f64(x) @ w
    mask = bernoulli(rng, h.shape, 0.5, dtype=f64)
    return sum(tanh(h * mask / 0.5) ** 2)
def dloss(x: f32[n, 6], w: f64[6, 3], rng_calls: f32) -> f64[6, 3]:
    h = f64(x) @ w
    mask = bernoulli(rng, h.shape, 0.5, dtype=f64)
    return grad(sum(tanh(h * mask / 0.5) ** 2), w)
"""
    m = dsl.compile(src)
    rs = np.random.RandomState(0)
    x, w = rs.randn(4, 6).astype(np.float32), rs.randn(6, 3)
    g = m.dloss(x, w, 0.0)              # call 0: the mask of calls == 0
    eps, numeric = 1e-6, np.zeros_like(w)
    for i in np.ndindex(w.shape):
        for sign in (1, -1):
            m.rng = np.array([7, 0], np.int64)      # the same mask each time
            wp = w.copy()
            wp[i] += sign * eps
            numeric[i] += sign * m.loss(x, wp, 0.0) / (2 * eps)
    np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.skipif(not opencl_available(), reason="no OpenCL device")
def test_programs_draw_the_same_numbers_on_numpy_and_opencl():
    ms = [program("numpy"), program("opencl")]
    x = np.random.RandomState(3).rand(33, 4).astype(np.float32)
    for _ in range(2):
        (a, b) = [m.noisy(x) for m in ms]
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
        ka, kb = [m.ints(np.zeros(1000, np.float32)) for m in ms]
        assert np.array_equal(ka, kb)
        ba, bb = [m.many(np.zeros(1000, np.float32)) for m in ms]
        assert np.array_equal(ba, bb)
    assert np.asarray(ms[1].rng).tolist() == [234, 6]
