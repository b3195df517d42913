"""Update semantics, argument checks at calls, and the program API."""
import io

import numpy as np
import pytest

import dsl

COUNTER = """
shared c: f32 = zeros()
shared a: f32[2] = [1.0, 2.0]
shared b: f32[2] = [10.0, 20.0]

def bump() -> f32:
    c <- c + 1.0
    return c

def swap() -> f32[2]:
    a <- b
    b <- a
    return a + b
"""


def test_def_returning_updated_shared_returns_old_value(backend):
    m = dsl.compile(COUNTER, backend=backend)
    assert float(m.bump()) == 0.0
    assert float(m.bump()) == 1.0
    assert float(m.c) == 2.0


def test_updates_read_old_values(backend):
    m = dsl.compile(COUNTER, backend=backend)
    np.testing.assert_array_equal(np.asarray(m.swap()), [11.0, 22.0])
    np.testing.assert_array_equal(m.a, [10.0, 20.0])
    np.testing.assert_array_equal(m.b, [1.0, 2.0])


def test_shared_assignment_is_checked():
    m = dsl.compile(COUNTER, backend="numpy")
    m.a = np.array([5.0, 6.0], np.float32)
    np.testing.assert_array_equal(m.a, [5.0, 6.0])
    with pytest.raises(dsl.SymError) as e:
        m.a = np.zeros(3, np.float32)
    assert "E0605" in str(e.value) and "f32[3]" in str(e.value)
    with pytest.raises(dsl.SymError):
        m.a = np.zeros(2, np.float64)


def test_argument_checked_at_every_call():
    m = dsl.compile("def f(x: f32[n, 3], y: i32[n]) -> f32:\n    return sum(x)\n", backend="numpy")
    assert float(m.f(np.ones((2, 3), np.float32), np.zeros(2, np.int32))) == 6.0
    with pytest.raises(dsl.SymError) as e:
        m.f(np.ones((2, 3), np.float32), np.zeros(3, np.int32))
    text = str(e.value)
    assert "E0604" in text and "`y`" in text and "size `n`" in text
    with pytest.raises(dsl.SymError) as e:
        m.f(np.ones((2, 3)), np.zeros(2, np.int32))
    assert "must be f32[n, 3], got f64[2, 3]" in str(e.value)


def test_signatures_and_run():
    out = io.StringIO()
    m = dsl.compile("def g(x: f32[n]) -> f32[n]:\n    return x * 2.0\nprint(g([1.0]))\n",
                    backend="numpy", out=out)
    assert m.signatures == {"g": "def g(x: f32[n]) -> f32[n]"}
    m.run()
    assert out.getvalue() == "[2.]\n"


def test_options_override_and_type_check():
    src = "option k = 3\nprint(k * 2)\n"
    out = io.StringIO()
    dsl.compile(src, options={"k": "5"}, backend="numpy", out=out).run()
    assert out.getvalue() == "10\n"
    with pytest.raises(dsl.SymError) as e:
        dsl.compile(src, options={"k": "abc"}, backend="numpy")
    assert "E0703" in str(e.value)
    with pytest.raises(dsl.SymError) as e:
        dsl.compile(src, options={"q": "1"}, backend="numpy")
    assert "E0702" in str(e.value)


def test_host_builtins_evaluate_like_defs():
    out = io.StringIO()
    dsl.compile("a = zeros((600, 784))\nprint(sum(a))\nprint(max(3, 4), len(a))\n"
                "print(sum(ones((2, 3)), axis=0))\n", backend="numpy", out=out).run()
    assert out.getvalue() == "0.0\n4 600\n[2. 2. 2.]\n"


def test_data_dependent_index_is_a_located_error(backend):
    src = "def pick(x: f32[n], i: i32[k]) -> f32[k]:\n    return x[i]\nprint(pick([1.0, 2.0], [0, 5]))\n"
    with pytest.raises(dsl.SymError) as e:
        dsl.compile(src, backend=backend, out=io.StringIO()).run()
    text = str(e.value)
    assert "E0603" in text and "<inline>:2:12" in text


def test_seeded_initialisers_match_numpy_randomstate():
    m = dsl.compile("shared W: f32[4, 3] = uniform(-0.5, 0.5, seed=1234)\n"
                    "shared V: f32[5] = normal(0.0, 0.01, seed=7)\n", backend="numpy")
    np.testing.assert_array_equal(m.W, np.random.RandomState(1234).uniform(-0.5, 0.5, (4, 3)).astype(np.float32))
    np.testing.assert_array_equal(m.V, np.random.RandomState(7).normal(0.0, 0.01, (5,)).astype(np.float32))


def test_checkpoint_round_trip(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = ("shared W: f32[2] = [1.0, 2.0]\n"
           "def step() -> f32:\n    W <- W * 3.0\n    return sum(W)\n"
           "step()\nsave(\"ckpt.npz\")\nstep()\nload(\"ckpt.npz\")\nprint(W)\n")
    out = io.StringIO()
    dsl.compile(src, backend="numpy", out=out).run()
    assert out.getvalue() == "[3. 6.]\n"


DISCARDED = """
shared s: f32[3] = zeros()

def step(x: f32[3], i: i32) -> f32:
    s <- s + x
    return s[i]          # an index error only in the value

step([1.0, 2.0, 3.0], 0)
step([1.0, 1.0, 1.0], 7)     # the value is discarded: only the update runs
print(s)
v = step([0.0, 0.0, 1.0], 7)
print(v)
"""


def test_call_as_statement_computes_only_updates(backend):
    out = io.StringIO()
    m = dsl.compile(DISCARDED, backend=backend, out=out)
    with pytest.raises(dsl.SymError) as e:
        m.run()
    assert out.getvalue().split() == ["[2.", "3.", "4.]"]
    assert "E0603" in str(e.value) and "<inline>:6:12" in str(e.value)   # from the kept value
    assert not m._interp.updates_only["step"].outputs


def test_nan_check_keeps_discarded_values():
    m = dsl.compile(DISCARDED, backend="numpy", out=io.StringIO(), nan_check=True)
    with pytest.raises(dsl.SymError) as e:
        m.run()
    assert ":9:" in str(e.value)         # the value is computed, so its bad index is found


SIZE_INDICES = """
def last_column(p: f32[n, k]) -> f32[n]:
    return p[:, k - 1]

def last_rows(p: f32[n, k]) -> f32[k]:
    return p[n - 1] + p[len(p) - 1]

def corner_grad(p: f32[n, k]) -> f32[n, k]:
    return grad(p[n - 1, k - 1] * 3.0 + sum(p[:, k - 1]), p)

def sixth_grad(x: f32[n]) -> f32[n]:
    return grad(x[5] * 2.0, x)
"""


def test_indices_computed_from_sizes_and_their_gradients(backend):
    m = dsl.compile(SIZE_INDICES, backend=backend)
    p = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(np.asarray(m.last_column(p)), [2.0, 5.0])
    np.testing.assert_array_equal(np.asarray(m.last_rows(p)), [6.0, 8.0, 10.0])
    np.testing.assert_array_equal(np.asarray(m.corner_grad(p)), [[0, 0, 1], [0, 0, 4]])
    with pytest.raises(dsl.SymError) as e:
        m.last_rows(np.zeros((0, 3), np.float32))
    assert "E0603" in str(e.value) and "index `n - 1` = -1 is out of range" in str(e.value)


def test_an_index_only_in_a_gradient_is_checked(backend):
    # the forward x[5] is not in the graph, only its gradient (an unslice)
    m = dsl.compile(SIZE_INDICES, backend=backend)
    np.testing.assert_array_equal(np.asarray(m.sixth_grad(np.zeros(6, np.float32))), [0] * 5 + [2])
    with pytest.raises(dsl.SymError) as e:
        m.sixth_grad(np.zeros(3, np.float32))
    assert "E0603" in str(e.value) and "index 5 is out of range for axis 0 of size n = 3" in str(e.value)


def test_index_requirements_survive_the_rewrites():
    from dsl.rewrites import run_pipeline
    m = dsl.compile("def f(x: f32[n]) -> f32:\n    return x[5] * 1.0 + 0.0\n", backend="numpy")
    source = m._checked.defs["f"].function
    assert [r.what for r in source.requirements] == ["index 5"]
    rewritten, _ = run_pipeline(source)
    assert rewritten.roots != source.roots and rewritten.requirements == source.requirements


UNREAD_TARGETS = """
shared S: f32[2] = zeros()
shared S0: f32[2] = ones()
shared S1: f32[2] = zeros()

def put(x: f32[2]) -> f32:
    S <- x * 2.0
    S1 <- S0 + 1.0
    return 0.0
"""


def test_update_of_a_shared_value_the_def_never_reads(backend):
    m = dsl.compile(UNREAD_TARGETS, backend=backend)
    m.put(np.array([1.0, 2.0], np.float32))
    np.testing.assert_array_equal(m.S, [2.0, 4.0])
    np.testing.assert_array_equal(m.S1, [2.0, 2.0])
