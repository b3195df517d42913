"""The Theano-style tensor API (dsl/tensor.py): every line of the tensor
section of PYTHON_API.md, the lecture's exercises, a logistic regression that
matches the same program written in .sym, located errors, shared state, fresh
size unification and every .sym builtin against numpy."""
import warnings
from pathlib import Path

import numpy as np
import pytest

import dsl

HERE = Path(__file__).resolve()
F32 = np.float32


def run(*args, **kwargs):
    return dsl.function(*args, backend="numpy", **kwargs)


def marker_line(marker: str) -> int:
    """The line of this file that carries `# <marker>`."""
    lines = HERE.read_text().splitlines()
    hits = [i + 1 for i, line in enumerate(lines) if line.rstrip().endswith("# " + marker)]
    assert len(hits) == 1, marker
    return hits[0]


def raises(code, fn, *args, **kwargs) -> dsl.SymError:
    with pytest.raises(dsl.SymError) as info:
        fn(*args, **kwargs)
    assert info.value.diagnostics[0].code == code, str(info.value)
    return info.value


def located_here(err: dsl.SymError, marker: str):
    span = err.diagnostics[0].span
    assert Path(span.file).resolve() == HERE
    assert span.line == marker_line(marker), str(err)
    assert f"{span.line} |" in str(err)           # the line is quoted under the message


@pytest.fixture(autouse=True)
def numpy_backend(monkeypatch):
    """`.eval()` and functions without backend= use the reference backend here."""
    monkeypatch.setenv("SYM_BACKEND", "numpy")


# ---- PYTHON_API.md, the tensor section, line by line ---------------------------------
def test_constructors_and_their_types():
    x = dsl.scalar("x")
    assert str(x.type) == "f32" and x.dtype == "f32" and x.name == "x"
    assert str(dsl.scalar("d", dtype="f64").type) == "f64"
    assert str(dsl.scalar("i", dtype="i32").type) == "i32"
    v = dsl.vector("v")
    (n,) = v.type.shape
    assert v.dtype == "f32" and v.ndim == 1 and str(n).startswith("n")
    m = dsl.matrix("m")
    a, b = m.type.shape
    assert m.dtype == "f32" and len({str(n), str(a), str(b)}) == 3     # all fresh
    assert str(dsl.ivector("y").type).startswith("i32[")
    assert dsl.imatrix("im").dtype == "i32" and dsl.imatrix("im").ndim == 2
    assert str(dsl.iscalar("k").type) == "i32"
    t = dsl.tensor("t", dtype="f32", shape=("n", 784))
    assert str(t.type) == "f32[n, 784]"
    assert "x" in repr(x) and "f32" in repr(x)


def test_shared_get_and_set_value():
    W = dsl.shared(np.zeros((784, 10), np.float32), name="W")
    assert W.name == "W" and str(W.type) == "f32[784, 10]"
    value = W.get_value()
    value[0, 0] = 5.0                                 # a copy: W is unchanged
    assert W.get_value()[0, 0] == 0.0
    a = np.ones((784, 10), np.float32)
    W.set_value(a)
    a[0, 0] = 7.0                                     # set_value copies too
    assert W.get_value()[0, 0] == 1.0


def test_set_value_checks_shape_and_dtype():
    W = dsl.shared(np.zeros((784, 10), np.float32), name="W")
    err = raises("E0605", W.set_value, np.zeros((784, 11), np.float32))
    assert "shared `W` is f32[784, 10]; cannot set it to f32[784, 11]" in str(err)
    err = raises("E0605", W.set_value, np.zeros((784, 10)))
    assert "cannot set it to f64[784, 10]" in str(err)
    with pytest.raises(dsl.SymError) as info:
        W.set_value(np.zeros(3, np.float32))  # @set-value
    located_here(info.value, "@set-value")
    s = dsl.shared(0.5, name="lr")                    # a Python float: f32, like a literal
    assert str(s.type) == "f32"
    s.set_value(0.25)
    assert s.get_value() == F32(0.25)


def test_operators_and_functions_build_graphs():
    x = dsl.scalar("x")
    expr = 3 * x + 4 * dsl.exp(x)
    assert isinstance(expr, dsl.Variable) and str(expr.type) == "f32"
    assert float(expr.eval({x: 1.0})) == pytest.approx(3 + 4 * np.e, rel=1e-6)


def test_function_with_outputs_and_updates_as_in_the_contract():
    x = dsl.scalar("x")
    y = dsl.ivector("y")
    W = dsl.shared(np.zeros((784, 10), np.float32), name="W")
    out1 = 3 * x + 4 * dsl.exp(x)
    out2 = dsl.sum(y)
    c = dsl.sum(W * x)
    f = dsl.function([x, y], [out1, out2], updates=[(W, W - 0.1 * dsl.grad(c, W))])
    r1, r2 = f(1.0, np.arange(3))                   # numpy in (int64 fits i32), numpy out
    assert isinstance(r1, np.ndarray) and r1.dtype == np.float32
    assert r1 == pytest.approx(3 + 4 * np.e) and r2 == 3 and r2.dtype == np.int32
    np.testing.assert_allclose(W.get_value(), np.full((784, 10), -0.1, np.float32))


def test_eval_of_a_vector_expression():
    v = dsl.vector("v")
    out = (v ** 2).eval({v: np.array([2.0, 3.0, 0.0], np.float32)})
    np.testing.assert_array_equal(out, np.array([4, 9, 0], np.float32))


def test_grad_wrt_a_variable_a_shared_or_a_list():
    x = dsl.scalar("x")
    W = dsl.shared(np.ones(3, np.float32), name="W")
    cost = dsl.sum(W * x) * x
    assert isinstance(dsl.grad(cost, x), dsl.Variable)
    gW = dsl.grad(cost, W)
    assert gW.type == W.type
    gx, gW2 = dsl.grad(cost, [x, W])
    f = run([x], [gx, gW2])
    a, b = f(2.0)
    assert a == pytest.approx(12.0)                   # d(3x**2)/dx = 6x
    np.testing.assert_allclose(b, [4.0, 4.0, 4.0])    # x**2 each


def test_explain_gives_the_sym_explain_report():
    x = dsl.matrix("x")
    W = dsl.shared(np.zeros((784, 10), np.float32), name="W")
    f = run([x], dsl.log(dsl.softmax(x @ W)), name="probs")  # @explain-line
    report = f.explain()
    n = x.type.shape[0]
    assert f.signature == f"def probs({x.node.attr('name')}: f32[{n}, 784]) -> f32[{n}, 10]"
    assert f.signature in report
    assert "IR before rewrites" in report and "IR after rewrites" in report
    assert "log_softmax" in report                    # the stabilize rewrite, logged
    assert f"# line {marker_line('@explain-line')}" in report   # nodes point at this file


def test_every_sym_builtin_has_a_function_of_the_same_name():
    from dsl.checker import SIGS
    for name in SIGS:
        if name in ("len", "bool", "grad"):
            continue
        assert callable(getattr(dsl, name)), name
    assert callable(dsl.dot) and callable(dsl.cast) and callable(dsl.grad)


def test_indexing_shape_T_dtype_and_type():
    m = dsl.tensor("m", shape=(3, 4))
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    f = run([m], [m[0], m[-1], m[1:3], m[:, 0], m[::2], m.T, m[1, 2]])
    for got, want in zip(f(a), [a[0], a[-1], a[1:3], a[:, 0], a[::2], a.T, a[1, 2]]):
        np.testing.assert_array_equal(got, want)
    assert m.shape == (3, 4) and m.dtype == "f32" and str(m.type) == "f32[3, 4]"
    v = dsl.vector("v")
    (n,) = v.shape
    assert isinstance(n, dsl.Variable) and n.dtype == "i64"
    np.testing.assert_array_equal(run([v], n * 2)(np.zeros(5, F32)), 10)


def test_integer_array_indexing():
    p = dsl.matrix("p")
    y = dsl.ivector("y")
    picked = p[dsl.arange(y.shape[0]), y]
    a = np.arange(12, dtype=np.float32).reshape(4, 3)
    labels = np.array([2, 0, 1, 1], np.int32)
    np.testing.assert_array_equal(run([p, y], picked)(a, labels), a[np.arange(4), labels])
    np.testing.assert_array_equal(run([p], p[np.array([3, 0])])(a), a[[3, 0]])
    np.testing.assert_array_equal(run([p], p[[1, 1]])(a), a[[1, 1]])


def test_boolean_mask_is_refused_with_e0301_at_the_users_line():
    x = dsl.vector("x")
    with pytest.raises(dsl.SymError) as info:
        x[x > 0]  # @mask
    err = info.value
    assert err.diagnostics[0].code == "E0301"
    located_here(err, "@mask")
    assert "where(mask, x, 0.0)" in str(err)
    raises("E0301", lambda: x[np.array([True, False])])


# ---- the lecture's exercises ----------------------------------------------------------
def test_exercise_2_function_vs_python():
    def f_python(x, y):
        return 3 * x + 4 * y + 5
    x, y = dsl.scalar("x"), dsl.scalar("y")
    f = run([x, y], 3 * x + 4 * y + 5)
    assert float(f(1, 2)) == f_python(1, 2) == 16
    assert float(f(3, 4)) == f_python(3, 4) == 30


def test_exercise_3_gradients_of_x_squared_log_and_inverse():
    x = dsl.scalar("x")
    f = run([x], [dsl.grad(x ** 2, x), dsl.grad(dsl.log(x), x), dsl.grad(1 / x, x)])
    d_square, d_log, d_inverse = f(2.0)
    assert (float(d_square), float(d_log), float(d_inverse)) == (4.0, 0.5, -0.25)


def test_exercise_3_gradient_of_f_and_of_its_sigmoid():
    x, y = dsl.scalar("x"), dsl.scalar("y")
    z = 3 * x + 4 * y + 5
    dx, dy = run([x, y], dsl.grad(z, [x, y]))(1.0, 2.0)
    assert (float(dx), float(dy)) == (3.0, 4.0)
    sx, sy = run([x, y], dsl.grad(dsl.sigmoid(z), [x, y]))(1.0, 2.0)
    s = 1 / (1 + np.exp(-16.0))
    assert float(sx) == pytest.approx(3 * s * (1 - s), rel=1e-4)
    assert float(sy) == pytest.approx(4 * s * (1 - s), rel=1e-4)


def test_lecture_eval_of_vx_squared():
    vx = dsl.vector()
    fx = vx ** 2
    np.testing.assert_array_equal(fx.eval({vx: np.array([2, 3, 0], np.float32)}), [4, 9, 0])
    err = raises("E0604", fx.eval, {vx: np.array([2, 3, 0])})   # int64: no silent cast
    assert ".astype(np.float32)" in str(err)


# ---- logistic regression: the tensor API and .sym agree ------------------------------------
SYM_LOGREG = """
shared W: f32[784, 10] = zeros()
shared b: f32[10] = zeros()

def nll(x: f32[n, 784], y: i32[n]) -> f32:
    return -mean(log(softmax(x @ W + b))[arange(n), y])

def train(x: f32[n, 784], y: i32[n]) -> f32:
    cost = nll(x, y)
    W <- W - 0.13 * grad(cost, W)
    b <- b - 0.13 * grad(cost, b)
    return cost
"""


def logreg_in_python(backend):
    x, y = dsl.matrix("x"), dsl.ivector("y")
    W = dsl.shared(np.zeros((784, 10), np.float32), name="W")
    b = dsl.shared(np.zeros(10, np.float32), name="b")
    cost = -dsl.mean(dsl.log(dsl.softmax(x @ W + b))[dsl.arange(y.shape[0]), y])
    train = dsl.function([x, y], cost, backend=backend,
                         updates=[(W, W - 0.13 * dsl.grad(cost, W)),
                                  (b, b - 0.13 * dsl.grad(cost, b))])
    return train, W, b


def batches_for_logreg():
    rng = np.random.RandomState(0)
    xs = (rng.rand(20, 40, 784) * 0.05).astype(np.float32)
    ys = rng.randint(0, 10, (20, 40)).astype(np.int32)
    return xs, ys


def test_logistic_regression_matches_the_sym_program():
    xs, ys = batches_for_logreg()
    m = dsl.compile(SYM_LOGREG, backend="numpy")
    sym_costs = [float(m.train(x, y)) for x, y in zip(xs, ys)]
    train, W, b = logreg_in_python("numpy")
    py_costs = [float(train(x, y)) for x, y in zip(xs, ys)]
    np.testing.assert_allclose(py_costs, sym_costs, atol=1e-6)
    np.testing.assert_allclose(W.get_value(), m.W, atol=1e-6)
    np.testing.assert_allclose(b.get_value(), m.b, atol=1e-6)
    assert py_costs[-1] < py_costs[0]


def test_logistic_regression_on_every_backend(backend):
    xs, ys = batches_for_logreg()
    train, W, _ = logreg_in_python("numpy")
    reference = [float(train(x, y)) for x, y in zip(xs[:5], ys[:5])]
    train2, W2, _ = logreg_in_python(backend)
    costs = [float(train2(x, y)) for x, y in zip(xs[:5], ys[:5])]
    np.testing.assert_allclose(costs, reference, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(W2.get_value(), W.get_value(), rtol=1e-4, atol=1e-5)


# ---- shared state and the update rule ----------------------------------------------------
def test_outputs_read_old_values_and_updates_apply_together():
    a = dsl.shared(np.array(1.0, np.float32), name="a")
    b = dsl.shared(np.array(2.0, np.float32), name="b")
    swap = run([], [a, b, a + b], updates=[(a, b), (b, a)])
    old_a, old_b, total = swap()
    assert (float(old_a), float(old_b), float(total)) == (1.0, 2.0, 3.0)
    assert (float(a.get_value()), float(b.get_value())) == (2.0, 1.0)
    swap()
    assert (float(a.get_value()), float(b.get_value())) == (1.0, 2.0)


def test_shared_values_are_shared_between_functions(backend):
    count = dsl.shared(np.array(0, np.int32), name="count")
    step = dsl.iscalar("step")
    inc = dsl.function([step], count, updates=[(count, count + step)], backend=backend)
    read = dsl.function([], count * 10, backend="numpy")       # another executor
    assert int(inc(5)) == 0 and int(read()) == 50        # read sees inc's update
    count.set_value(np.array(7, np.int32))
    assert int(inc(1)) == 7 and int(read()) == 80         # both see set_value
    assert int(count.get_value()) == 8
    out = read()
    out[...] = 0                                           # outputs are the caller's
    assert int(read()) == 80
    v = dsl.vector("v")
    a = np.ones(2, F32)
    run([v], v)(a)[0] = 5.0                                # an output is never the input
    assert a[0] == 1.0


def test_an_output_that_is_a_shared_value_is_a_copy():
    W = dsl.shared(np.ones(3, np.float32), name="W")
    f = run([], W)
    got = f()
    got[0] = 9.0
    np.testing.assert_array_equal(f(), [1, 1, 1])
    np.testing.assert_array_equal(W.get_value(), [1, 1, 1])


def test_updates_must_target_shared_values_of_the_same_type():
    x = dsl.vector("x")
    W = dsl.shared(np.zeros((2, 3), np.float32), name="W")
    with pytest.raises(dsl.SymError) as info:
        dsl.function([x], x, updates=[(x, x + 1)])  # @not-shared
    assert info.value.diagnostics[0].code == "E0501"
    located_here(info.value, "@not-shared")
    err = raises("E0502", dsl.function, [x], x, updates=[(W, dsl.sum(W))])
    assert "update of `W` has type f32, but `W` is f32[2, 3]" in str(err)
    raises("E0502", dsl.function, [x], x, updates=[(W, dsl.f64(W))])
    raises("E0505", dsl.function, [x], x, updates=[(W, W), (W, W * 2)])
    upd = run([], [], updates=[(W, W + 1.5)])             # literals take W's dtype
    assert upd() == []
    np.testing.assert_array_equal(W.get_value(), np.full((2, 3), 1.5, np.float32))


def test_shared_names_stay_unique_in_the_ir():
    W1 = dsl.shared(np.ones(2, np.float32), name="W")
    W2 = dsl.shared(np.full(2, 2.0, np.float32), name="W")
    assert W1.name == W2.name == "W"
    f = run([], W1 + W2, updates=[(W1, W1 + W2)])
    np.testing.assert_array_equal(f(), [3, 3])
    np.testing.assert_array_equal(W1.get_value(), [3, 3])
    np.testing.assert_array_equal(W2.get_value(), [2, 2])


# ---- arguments at call time --------------------------------------------------------------
def test_python_scalars_lists_and_keyword_arguments():
    x = dsl.scalar("x")
    v = dsl.vector("v")
    f = run([x, v], x * v)
    np.testing.assert_array_equal(f(2, [1, 2]), [2, 4])
    np.testing.assert_array_equal(f(v=np.ones(2, F32), x=3.0), [3, 3])
    i = dsl.iscalar("i")
    raises("E0604", run([i], i * 2), 1.5)


def test_argument_errors_name_the_argument_and_the_call_line():
    x = dsl.tensor("x", shape=("n", 784))
    y = dsl.ivector("y")
    f = run([x, y], dsl.sum(x) + dsl.f32(dsl.sum(y)), name="score")
    with pytest.raises(dsl.SymError) as info:
        f(np.zeros((2, 783), F32), np.zeros(2, np.int32))  # @bad-shape
    err = info.value
    assert err.diagnostics[0].code == "E0604"
    located_here(err, "@bad-shape")
    assert "argument `x` of `score` must be f32[n, 784], got shape (2, 783)" in str(err)
    err = raises("E0604", f, np.zeros((2, 784)), np.zeros(2, np.int32))
    assert "argument `x` of `score` must be f32[n, 784], got f64[2, 784]" in str(err)
    raises("E0103", f, np.zeros((2, 784), F32))
    raises("E0604", f, np.zeros((2, 784), F32), np.array([2 ** 40]))


def test_out_of_range_data_indices_point_at_the_indexing_line():
    p = dsl.matrix("p")
    y = dsl.ivector("y")
    picked = p[dsl.arange(y.shape[0]), y]  # @gather
    f = run([p, y], picked)
    err = raises("E0603", f, np.zeros((2, 3), F32), np.array([0, 5], np.int32))
    located_here(err, "@gather")


def test_constant_indices_of_an_axis_known_by_name_are_checked_at_each_call(backend):
    x = dsl.vector("x")
    tenth = x[10]  # @tenth
    f = dsl.function([x], [tenth, x[-3], x[0:4096], x[x.shape[0] - 1]], backend=backend)
    values = f(np.arange(4096, dtype=F32))
    assert [float(v) for v in (values[0], values[1], values[3])] == [10.0, 4093.0, 4095.0]
    err = raises("E0603", f, np.arange(3, dtype=F32))
    located_here(err, "@tenth")
    assert "index 10 is out of range for axis 0 of size n" in str(err)
    assert err.diagnostics[0].notes[0].message == "called here"
    assert "slice 0:4096 is out of range" in str(raises("E0603", dsl.function([x], x[0:4096]), [1.0, 2.0]))
    assert "index `n" in str(raises("E0603", dsl.function([x], x[x.shape[0] - 1]), []))


def test_an_index_past_a_size_fixed_later_is_a_static_error():
    x = dsl.vector("x")
    y = x[10]  # @past
    x + np.zeros(3, F32)                    # x is an f32[3] from here on
    err = raises("E0302", dsl.function, [x], y)
    located_here(err, "@past")
    assert "index 10 is out of range for axis 0 of size 3" in str(err)


# ---- errors from the checker, located at the user's line ------------------------------------
def test_max_of_two_fresh_vectors_unifies_their_sizes_as_maximum_does():
    a, b = dsl.vector("a"), dsl.vector("b")
    assert dsl.max(a, b).type == a.type == b.type


def test_type_errors_are_located_at_the_line_that_built_the_expression():
    t = dsl.tensor("t", shape=("n", 784))
    u = dsl.tensor("u", shape=("k", 784))
    with pytest.raises(dsl.SymError) as info:
        t + u  # @broadcast
    assert info.value.diagnostics[0].code == "E0201"
    located_here(info.value, "@broadcast")
    with pytest.raises(dsl.SymError) as info:
        dsl.dot(t, u)  # @matmul
    assert info.value.diagnostics[0].code == "E0202"
    located_here(info.value, "@matmul")
    err = raises("E0210", dsl.sum, t, axis=2)
    assert "axis 2 is out of range for a tensor of rank 2" in str(err)
    raises("E0207", dsl.exp, dsl.ivector("i"))
    raises("E0206", lambda: dsl.ivector("i") + 1.5)
    raises("E0206", lambda: (t > 0) + 1)                 # the literal cannot become bool
    raises("E0209", lambda: (t > 0) + (u > 0))
    raises("E0208", dsl.reshape, t, (7,))
    raises("E0103", dsl.sum)
    raises("E0104", dsl.sum, t, axes=1)


def test_grad_errors_match_the_sym_checker():
    x = dsl.vector("x")
    c = dsl.scalar("c")
    with pytest.raises(dsl.SymError) as info:
        dsl.grad(x ** 2, x)  # @nonscalar
    err = info.value
    assert err.diagnostics[0].code == "E0401"
    located_here(err, "@nonscalar")
    assert "`grad(sum(...), W)` or `grad(mean(...), W)`" in str(err)
    raises("E0405", dsl.grad, dsl.sum(x), dsl.iscalar("k"))   # as in .sym: wrt is not a float
    raises("E0402", dsl.grad, dsl.sum(dsl.ivector("iv")), x)
    err = raises("E0403", dsl.grad, dsl.sum(x), c)
    assert "the cost does not depend on `c`" in str(err)
    raises("E0406", dsl.grad, dsl.sum(x), "x")


def test_function_input_errors():
    x = dsl.vector("x")
    y = dsl.vector("y")
    W = dsl.shared(np.zeros(3, F32), name="W")
    raises("E1001", dsl.function, [x * 2], x)
    raises("E1001", dsl.function, [W], W)
    raises("E1003", dsl.function, [x, x], x)
    with pytest.raises(dsl.SymError) as info:
        dsl.function([x], x + y)  # @missing
    err = info.value
    assert err.diagnostics[0].code == "E1002" and "`y`" in str(err)
    located_here(err, "@missing")
    raises("E1002", (x * 2).eval)
    raises("E1002", dsl.function, [], x.shape[0] * 2)


def test_symbolic_values_have_no_truth_value_or_length():
    x = dsl.vector("x")
    raises("E1004", bool, x > 0)
    raises("E1004", len, x)
    with pytest.raises(dsl.SymError):
        if x == 0:
            pass


def test_a_warning_for_the_broadcast_surprise():
    a = dsl.tensor("a", shape=(2,))
    b = dsl.tensor("b", shape=(3, 1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        c = a + b  # @surprise
    assert str(c.type) == "f32[3, 2]"
    (w,) = [w for w in caught if issubclass(w.category, dsl.SymWarning)]
    assert w.message.diagnostic.code == "W0201" and w.lineno == marker_line("@surprise")


# ---- fresh sizes -----------------------------------------------------------------------------
def test_two_fresh_vectors_unify_in_an_elementwise_op():
    a, b = dsl.vector("a"), dsl.vector("b")
    s = a + b
    assert a.type == b.type == s.type
    f = run([a, b], s)
    np.testing.assert_array_equal(f(np.ones(3, F32), np.ones(3, F32)), [2, 2, 2])
    raises("E0604", f, np.ones(3, F32), np.ones(4, F32))     # now the same size


def test_vector_times_matrix_unifies_the_inner_size():
    v, m = dsl.vector("v"), dsl.matrix("m")
    out = v @ m
    assert v.type.shape[0] == m.type.shape[0]
    a, b = np.arange(3, dtype=F32), np.ones((3, 2), F32)
    np.testing.assert_array_equal(run([v, m], out)(a, b), a @ b)
    x = dsl.matrix("x")
    W = dsl.shared(np.zeros((784, 10), F32), name="W")
    y = dsl.dot(x, W)
    assert str(x.type).endswith(", 784]") and str(y.type).endswith(", 10]")


def test_fresh_sizes_meet_constants_and_named_sizes():
    v = dsl.vector("v")
    out = v + np.array([1, 2, 3], np.float32)             # a numpy constant fixes it
    assert str(v.type) == "f32[3]" and str(out.type) == "f32[3]"
    t = dsl.tensor("t", shape=("n",))
    w = dsl.vector("w")
    assert str((w * t).type) == "f32[n]" and str(w.type) == "f32[n]"
    row = dsl.vector("row")
    table = dsl.matrix("table")
    assert (table + row).type.shape[1] == row.type.shape[0]      # aligned from the right
    s, r = dsl.vector("s"), dsl.vector("r")
    assert dsl.concat((s, r)).type.shape[0] != s.type.shape[0]   # concat adds lengths
    assert dsl.stack((s, r)).type.shape[1] == s.type.shape[0] == r.type.shape[0]


def test_named_sizes_do_not_unify():
    a = dsl.tensor("a", shape=("n",))
    b = dsl.tensor("b", shape=("k",))
    raises("E0201", lambda: a + b)
    raises("E0201", lambda: a + np.ones(3, F32))


def test_a_failed_operation_binds_no_size():
    v = dsl.vector("v")
    before = v.type
    raises("E0205", lambda: v + np.ones(3))               # f64: refused
    assert v.type == before
    raises("E0202", lambda: dsl.matrix("m") @ dsl.scalar("s"))


def test_unnamed_variables_and_repeated_names():
    a, b = dsl.scalar(), dsl.scalar()
    f = run([a, b], a - b)
    assert float(f(5.0, 3.0)) == 2.0
    x1, x2 = dsl.scalar("x"), dsl.scalar("x")
    g = run([x1, x2], x1 - x2)
    assert float(g(5.0, 3.0)) == 2.0
    # messages use the user's names, never the IR's unique ones (`x_2`)
    assert g.signature == "def f(x: f32, x: f32) -> f32"
    err = raises("E0604", g, 5.0, np.zeros(2, F32))
    assert "argument `x` of `f` must be f32, got shape (2,)" in str(err) and "x_2" not in str(err)
    assert "`f` has two arguments named `x`" in str(raises("E0104", g, x=1.0))


# ---- numpy values, literals and operators -----------------------------------------------------
def test_numpy_arrays_and_python_numbers_become_constants():
    v = dsl.vector("v")
    c = np.array([1.0, 2.0, 3.0], np.float32)
    f = run([v], [v * c, c - v, 2 ** v, v / 2, 1 - v])
    a = np.array([1.0, 2.0, 4.0], np.float32)
    for got, want in zip(f(a), [a * c, c - a, 2 ** a, a / 2, 1 - a]):
        np.testing.assert_allclose(got, want)
    assert str((np.float64(2.0) * dsl.scalar("d", "f64")).type) == "f64"
    raises("E0205", lambda: np.float64(2.0) * dsl.scalar("s"))
    k = dsl.iscalar("k")
    assert str((k * 2).type) == "i32" and str((k + np.int32(1)).type) == "i32"
    assert str((dsl.scalar("s") + [1.0, 2.0]).type) == "f32[2]"     # a .sym tensor literal


def test_every_operator():
    x, y = dsl.tensor("x", shape=(4,)), dsl.tensor("y", shape=(4,))
    a = np.array([1.5, -2.0, 3.0, 0.5], F32)
    b = np.array([2.0, 2.0, -1.0, 0.5], F32)
    ops = [x + y, x - y, x * y, x / y, x // y, x % y, abs(x) ** y, -x, +x,
           x < y, x <= y, x > y, x >= y, x == y, x != y,
           (x > 0) & (y > 0), (x > 0) | (y > 0), ~(x > 0)]
    want = [a + b, a - b, a * b, a / b, a // b, a % b, np.abs(a) ** b, -a, a,
            a < b, a <= b, a > b, a >= b, a == b, a != b,
            (a > 0) & (b > 0), (a > 0) | (b > 0), ~(a > 0)]
    for got, w in zip(run([x, y], ops)(a, b), want):
        np.testing.assert_allclose(got, w, rtol=1e-6)
    m = dsl.tensor("m", shape=(4, 2))
    np.testing.assert_allclose(run([x, m], x @ m)(a, np.ones((4, 2), F32)), a @ np.ones((4, 2)))
    assert len({x, y}) == 2 and {x: 1}[x] == 1                 # hashable by identity


def test_every_builtin_against_numpy():
    m = dsl.tensor("m", shape=(2, 3))
    a = np.array([[0.5, -1.0, 2.0], [3.0, 0.25, -0.5]], F32)
    pos = np.abs(a) + 0.5
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    softmax = e / e.sum(axis=-1, keepdims=True)
    cases = [
        (dsl.exp(m), np.exp(a)), (dsl.log(abs(m) + 0.5), np.log(pos)),
        (dsl.log1p(abs(m)), np.log1p(np.abs(a))), (dsl.sqrt(abs(m)), np.sqrt(np.abs(a))),
        (dsl.abs(m), np.abs(a)), (dsl.sign(m), np.sign(a)), (dsl.tanh(m), np.tanh(a)),
        (dsl.sigmoid(m), 1 / (1 + np.exp(-a))), (dsl.softplus(m), np.log1p(np.exp(a))),
        (dsl.relu(m), np.maximum(a, 0)), (dsl.sin(m), np.sin(a)), (dsl.cos(m), np.cos(a)),
        (dsl.maximum(m, 0.0), np.maximum(a, 0)), (dsl.minimum(m, 1), np.minimum(a, 1)),
        (dsl.where(m > 0, m, 0.0), np.where(a > 0, a, 0)), (dsl.clip(m, -0.5, 1), np.clip(a, -0.5, 1)),
        (dsl.sum(m), a.sum()), (dsl.sum(m, axis=1), a.sum(axis=1)),
        (dsl.sum(m, axis=(0, 1)), a.sum()), (dsl.mean(m, axis=0, keepdims=True), a.mean(0, keepdims=True)),
        (dsl.max(m, axis=-1), a.max(-1)), (dsl.min(m), a.min()), (dsl.prod(m, 0), a.prod(0)),
        (dsl.max(m, 0.0), np.maximum(a, 0)),                 # two positional: elementwise, as in .sym
        (dsl.argmax(m, axis=1), a.argmax(1)), (dsl.argmin(m), a.argmin()),
        (dsl.softmax(m), softmax), (dsl.log_softmax(m), np.log(softmax)),
        (dsl.logsumexp(m), np.log(np.exp(a).sum(-1))), (dsl.softmax(m, axis=0), np.exp(a) / np.exp(a).sum(0)),
        (dsl.one_hot(dsl.argmax(m, axis=1), 3), np.eye(3)[a.argmax(1)]),
        (dsl.transpose(m), a.T), (dsl.transpose(m, (1, 0)), a.T), (dsl.reshape(m, (3, 2)), a.reshape(3, 2)),
        (dsl.concat((m, m), axis=1), np.concatenate([a, a], 1)), (dsl.stack((m, m)), np.stack([a, a])),
        (dsl.concat([m, m]), np.concatenate([a, a])),
        (dsl.zeros((2, 3)) + m, a), (dsl.ones((2,)), np.ones(2)), (dsl.full((2,), 0.5), np.full(2, 0.5)),
        (dsl.zeros((2,), dtype="i32"), np.zeros(2)), (dsl.arange(4), np.arange(4)),
        (dsl.f64(m), a.astype(np.float64)), (dsl.i32(m), a.astype(np.int32)),
        (dsl.i64(m), a.astype(np.int64)), (dsl.f32(dsl.i32(m)), a.astype(np.int32).astype(F32)),
        (dsl.cast(m, "bool"), a.astype(bool)), (m.astype(np.float64), a.astype(np.float64)),
        (dsl.dot(m, dsl.transpose(m)), a @ a.T),
        (m.sum(axis=0), a.sum(0)), (m.mean(), a.mean()), (m.max(axis=1), a.max(1)), (m.argmax(1), a.argmax(1)),
        (m.reshape(6), a.reshape(6)), (m.reshape((3, 2)), a.reshape(3, 2)), (m.flatten(), a.ravel()),
        (m.transpose(1, 0), a.T),
    ]
    got = run([m], [c for c, _ in cases])(a)
    for (expr, want), value in zip(cases, got):
        np.testing.assert_allclose(value, want, rtol=1e-5, atol=1e-6, err_msg=repr(expr))
    assert dsl.argmax(m, axis=1).dtype == "i32" and dsl.arange(4).dtype == "i64"
    assert dsl.zeros((2,), dtype="i32").dtype == "i32" and dsl.full((2,), 3).dtype == "i32"


def test_shapes_from_sizes_of_inputs():
    x = dsl.matrix("x")
    n, k = x.shape
    r = dsl.reshape(x, (n * k,))
    z = dsl.zeros((n, 2))
    f = run([x], [r, z, dsl.arange(n)])
    a = np.arange(6, dtype=F32).reshape(2, 3)
    flat, zeros, idx = f(a)
    np.testing.assert_array_equal(flat, a.ravel())
    assert zeros.shape == (2, 2)
    np.testing.assert_array_equal(idx, [0, 1])
    raises("E0214", dsl.zeros, (dsl.sum(x),))


def test_constant_expressions_evaluate_without_inputs():
    np.testing.assert_array_equal((dsl.arange(3) * 2).eval(), [0, 2, 4])
    assert float(dsl.sum(dsl.ones((2, 2))).eval()) == 4.0


def test_grad_through_intermediates_and_higher_order():
    x = dsl.scalar("x")
    y = x ** 3
    gx = dsl.grad(y, x)
    ggx = dsl.grad(gx, x)
    h = dsl.grad(y * 2, y)                               # wrt an intermediate
    f = run([x], [gx, ggx, h])
    a, b, c = f(2.0)
    assert (float(a), float(b), float(c)) == (12.0, 12.0, 2.0)


def test_repr_names_and_types():
    x = dsl.matrix("x")
    assert repr(x).startswith("Variable(x: f32[")
    W = dsl.shared(np.zeros(3, F32), name="W")
    assert repr(W) == "SharedVariable(W: f32[3])"
    assert "add" in repr(W + 1) and "f32[3]" in repr(W + 1)
