"""The one signature binder (dsl/signature.py): sizes bound, mismatches as
data, statically (symbolic or unknown dimensions) and at run time (ints)."""
import io

import dsl
from dsl.signature import Mismatch, bind
from dsl.types import Size, TensorType, dim_add

n, m = Size.var("n"), Size.var("m")
n1 = dim_add(n, 1)


def t(*shape):
    return TensorType("f32", shape)


def test_binds_sizes_at_run_time():
    assert bind([t(n, m), t(m)], [(2, 3), (3,)]) == ({"n": 2, "m": 3}, None)


def test_a_size_bound_twice_names_the_first_argument():
    sizes, problem = bind([t(n), t(n)], [(2,), (3,)])
    assert problem == Mismatch("twice", 1, 0, "n", 0, 2, 3)


def test_rank_and_constant_dimension():
    assert bind([t(n, 3)], [(2,)])[1] == Mismatch("rank", 0, want=2, got=1)
    assert bind([t(n, 3)], [(2, 4)])[1] == Mismatch("axis", 0, 1, want=3, got=4)


def test_derived_size_bound_by_a_later_argument():
    assert bind([t(n1), t(n)], [(4,), (3,)]) == ({"n": 3}, None)
    assert bind([t(n1), t(n)], [(3,), (3,)])[1] == Mismatch("axis", 0, 0, want=4, got=3)


def test_unbound_size_at_run_time():
    assert bind([t(dim_add(n, m))], [(3,)])[1].kind == "unbound"


def test_static_dimensions_symbolic_and_unknown():
    k = Size.var("k")
    assert bind([t(n), t(n1)], [(k,), (dim_add(k, 1),)]) == ({"n": k}, None)
    assert bind([t(n), t(n)], [(None,), (5,)]) == ({"n": 5}, None)
    # the host checker leaves `n + 1` to the run
    assert bind([t(n), t(n1)], [(2,), (7,)], derived=False)[1] is None


def test_def_calling_a_def_whose_size_a_later_argument_binds(tmp_path):
    # the checker bound sizes argument by argument and refused this (E0203),
    # though the same call from the host ran
    src = ("def g(a: f32[n + 1], b: f32[n]) -> f32:\n    return sum(a) + sum(b)\n\n"
           "def f(x: f32[4], y: f32[3]) -> f32:\n    return g(x, y)\n\n"
           "print(f([1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0]))\n")
    path = tmp_path / "later.sym"
    path.write_text(src)
    out = io.StringIO()
    dsl.load(path, backend="numpy", out=out, progress=False).run()
    assert out.getvalue() == "13.0\n"
