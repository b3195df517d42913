"""The checker's builder (BodyChecker.unary, .binary, .index, .call): the
`.sym` AST walker and the Python tensor API both call it, with operands
evaluated already; fresh sizes of the tensor API meet where the builder
makes an op whose dimensions meet."""
import numpy as np

import dsl
from dsl.checker import BodyChecker, Globals
from dsl.ir import Node
from dsl.parser import parse
from dsl.program import check_source
from dsl.scope import Given, SliceItem, Weak
from dsl.build import apply
from dsl.types import Size, TensorType
from dsl import tensor_core

F32 = np.float32


def checker():
    d = parse("def f(x: f32) -> f32:\n    return x\n", "<t>").items[0]
    return BodyChecker(Globals({}, {}, {}, lambda d: None), d, {}, {}, (), False)


def param(name, *shape):
    return apply("param", (), None, type=TensorType("f32", shape), name=name)


def test_the_builder_takes_evaluated_operands_and_python_values():
    ck = checker()
    x = param("x", 4, 3)
    total = ck.call("sum", [Given(x, None)], [("axis", Given(Weak(-1), None), None)], None)
    assert isinstance(total, Node) and total.op == "sum" and total.attr("axes") == (1,)
    assert ck.binary("mul", total, Weak(2.0), None, "*").type == TensorType("f32", (4,))
    assert ck.unary("-", Weak(3), None, None) == Weak(-3, None)
    row = ck.index(x, [Given(Weak(1), None), SliceItem(Given(Weak(0), None), None, None, None)],
                   None, None)
    assert row.op == "slice" and row.type == TensorType("f32", (3,))


def test_the_builder_and_the_ast_walker_give_one_graph():
    source = "def f(x: f32[4, 3]) -> f32[4]:\n    return sum(x * 2.0, axis=-1)\n"
    program = check_source(source, "<t>")
    want = program.defs["f"].function.outputs[0]
    ck = checker()
    x = program.defs["f"].function.params[0]
    got = ck.call("sum", [Given(ck.binary("mul", x, Weak(2.0), None, "*"), None)],
                  [("axis", Given(Weak(-1), None), None)], None)
    assert got.op == want.op and got.type == want.type and got.attrs == want.attrs
    assert [i.op for i in got.inputs] == [i.op for i in want.inputs]


def test_a_reshape_by_the_function_binds_a_fresh_size_as_the_method_does():
    m = dsl.matrix("m")
    n = m.shape[0]
    image = dsl.reshape(m, (n, 1, 28, 28))
    assert m.type.shape[1] == 784 and image.type.shape[1:] == (1, 28, 28)


def test_index_arrays_and_concat_operands_meet():
    x = dsl.matrix("x")
    i, j = dsl.ivector("i"), dsl.ivector("j")
    assert x[i, j].type.shape[0] == i.type.shape[0] == j.type.shape[0]
    a, b = dsl.matrix("a"), dsl.matrix("b")
    joined = dsl.concat((a, b), axis=0)
    assert a.type.shape[1] == b.type.shape[1] == joined.type.shape[1]
    assert isinstance(a.type.shape[0], Size) and a.type.shape[0] != b.type.shape[0]


def test_the_tensor_api_builds_no_syntax():
    assert not hasattr(tensor_core, "Lowerer")
    v = dsl.vector("v")
    out = dsl.sum(v * np.arange(3, dtype=F32), axis=0)
    assert "_v0" not in repr(out.node) and float(out.eval({v: np.ones(3, F32)})) == 3.0


# ---- one size environment per program ------------------------------------------------
def raises(code, fn):
    try:
        fn()
    except dsl.SymError as err:
        assert err.diagnostics[0].code == code, str(err)
        return err
    raise AssertionError(f"no {code}")


def test_each_graph_has_its_own_sizes():
    with dsl.graph():
        a = dsl.vector("a")
        first = str(a.type)
        a + np.ones(3, F32)                 # binds a's size in this program only
    with dsl.graph():
        b = dsl.vector("b")
        assert str(b.type) == first         # numbered from n1 again
        b + np.ones(5, F32)
    assert str(a.type) == "f32[3]" and str(b.type) == "f32[5]"


def test_variables_of_two_graphs_do_not_mix():
    with dsl.graph():
        a = dsl.vector("a")
    with dsl.graph():
        b = dsl.vector("b")
        err = raises("E1005", lambda: a + b)
        assert "`b` belongs to another program" in str(err) and "dsl.graph()" in str(err)
        raises("E1005", lambda: dsl.function([a, b], a))


def test_shared_values_and_fixed_shapes_belong_to_every_graph():
    W = dsl.shared(np.ones((3, 2), F32), name="W")
    s = dsl.scalar("s")
    with dsl.graph():
        x = dsl.matrix("x")
        y = (x @ W) * s
        assert x.type.shape[1] == 3
        f = dsl.function([x, s], y, backend="numpy")
        np.testing.assert_array_equal(f(np.ones((4, 3), F32), 2.0), np.full((4, 2), 6, F32))


def test_a_failed_operation_in_a_graph_binds_nothing():
    with dsl.graph():
        v = dsl.vector("v")
        before = v.type
        raises("E0205", lambda: v + np.ones(3))    # f64: refused after meeting v's size
        assert v.type == before
