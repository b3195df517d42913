"""The parser: the language contract's examples parse, precedence and spans are
right, every syntax error is a SymError with a stable code and clear text, and
no input whatsoever makes `parse` raise anything else."""
import re
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from dsl import ast
from dsl.ast import (Assign, BinOp, Bool, Call, Def, ExprStmt, For, If, Index, Keyword,
                     ListExpr, Name, Num, OptionDecl, Return, Slice, Str, TupleExpr,
                     TupleTypeExpr, UnaryOp, Update)
from dsl.diagnostics import SymError
from dsl.parser import _LABELS, parse

ROOT = Path(__file__).resolve().parents[1]
LANGUAGE_MD = ROOT.parent / "shared" / "design" / "LANGUAGE.md"   # beside the checkout, in CI too
SYNTAX_ERRORS = ROOT / "tests" / "errors" / "syntax"

# The whole program of the language contract (LANGUAGE.md), kept here too so the
# test runs where the design folder is absent.
MNIST = '''\
# programs/mnist_logreg.sym — multinomial logistic regression, minibatch SGD
data = mnist()                         # host value: train/valid/test splits

shared W: f32[784, 10] = zeros()       # state that lives between calls (on the device)
shared b: f32[10] = zeros()

def p_y_given_x(x: f32[n, 784]) -> f32[n, 10]:
    return softmax(x @ W + b)          # b broadcasts over the rows

def nll(x: f32[n, 784], y: i32[n]) -> f32:
    return -mean(log(p_y_given_x(x))[arange(n), y])

def errors(x: f32[n, 784], y: i32[n]) -> f32:
    return mean(f32(argmax(p_y_given_x(x), axis=1) != y))

def train(x: f32[n, 784], y: i32[n]) -> f32:
    cost = nll(x, y)
    W <- W - 0.13 * grad(cost, W)      # updates: computed from the old values,
    b <- b - 0.13 * grad(cost, b)      # applied together after the call
    return cost

for epoch in range(1):
    for x, y in batches(data.train, 600):
        train(x, y)
    print("epoch", epoch, "validation error", errors(data.valid.x, data.valid.y))
'''


def expr(src):
    """The expression of `_ = SRC`."""
    (item,) = parse(f"_ = {src}\n").items
    return item.value


def n(id):
    return Name(id)


# ---- the contract's programs and snippets --------------------------------------
def fenced_blocks(text):
    return re.findall(r"^```[a-z]*\n(.*?)^```", text, re.S | re.M)


@pytest.mark.skipif(not LANGUAGE_MD.exists(), reason="design folder not present")
def test_every_program_block_in_language_md_parses_and_checks():
    from dsl.program import check_source
    blocks = fenced_blocks(LANGUAGE_MD.read_text(encoding="utf-8"))
    assert blocks
    for block in blocks:
        assert isinstance(parse(block, "LANGUAGE.md"), ast.Program)
        prog = check_source(block, "LANGUAGE.md")
        assert not prog.errors, "\n".join(d.render() for d in prog.errors)


def test_the_contract_program_checks_clean():
    from dsl.program import check_source
    prog = check_source(MNIST, "mnist.sym")
    assert not prog.diagnostics
    assert prog.signatures["train"] == "def train(x: f32[n, 784], y: i32[n]) -> f32"


def test_the_mnist_program():
    prog = parse(MNIST, "mnist.sym")
    kinds = [type(i).__name__ for i in prog.items]
    assert kinds == ["Assign", "SharedDecl", "SharedDecl", "Def", "Def", "Def", "Def", "For"]
    train = prog.items[6]
    assert [type(s).__name__ for s in train.body] == ["Assign", "Update", "Update", "Return"]
    assert train.body[1] == Update(n("W"), BinOp("-", n("W"), BinOp(
        "*", Num(0.13), Call(n("grad"), (n("cost"), n("W"))))))
    loop = prog.items[7]
    assert loop.body[0].targets == (n("x"), n("y"))
    assert loop.body[1].expr.args[3] == Call(n("errors"), (
        ast.Attribute(ast.Attribute(n("data"), "valid"), "x"),
        ast.Attribute(ast.Attribute(n("data"), "valid"), "y")))


@pytest.mark.parametrize("src", [
    "option epochs = 1000", "a = zeros((600, 784))", "print(sum(a))", "print(W)",
    "best = 1.0", "done = false", "total = total + errors(x, y)", "b = v < best",
    "shared W: f32[3, 4] = normal(0.0, 0.01, seed=1)",
    "shared W: f32[3] = uniform(-a, a, seed=1)", "shared b: f32[2] = [1.0, 2.0]",
    "shared c: f32[2] = full(0.5)", "y = transpose(x, (1, 0))",
    "y = reshape(x, (n, 28, 28))", "y = concat((a, b), axis=0)",
    "y = sum(x, axis=(0, 1), keepdims=true)", "y = x[x > 0]", "y = where(x > 0, x, 0.0)",
    "y = clip(x, lo, hi)", "y = one_hot(y, 10)", "y = x[-1]", "y = x[idx]",
    'record("name", value)', 'save("file.npz")', 'load("file.npz")',
    "y = len(X)", "y = max(a, b)", "y = x.T", "y = x.shape[0]",
    "y = softmax(x, axis=-1)", "y = grad(grad(c, W), W)",
])
def test_language_md_snippets_parse(src):
    assert parse(src + "\n").items


def test_file_without_final_newline_and_comments():
    prog = parse("# head\nx = 1  # one\n\n   # indented comment\ny = 2  # two")
    assert prog.items == (Assign((n("x"),), Num(1)), Assign((n("y"),), Num(2)))


def test_windows_line_endings():
    assert parse("if a:\r\n    b = 1\r\n").items[0].body == (Assign((n("b"),), Num(1)),)


# ---- expressions -------------------------------------------------------------------
@pytest.mark.parametrize("src, tree", [
    ("-x**2", UnaryOp("-", BinOp("**", n("x"), Num(2)))),
    ("2**-1", BinOp("**", Num(2), UnaryOp("-", Num(1)))),
    ("a**b**c", BinOp("**", n("a"), BinOp("**", n("b"), n("c")))),
    ("a - b - c", BinOp("-", BinOp("-", n("a"), n("b")), n("c"))),
    ("a + b * c", BinOp("+", n("a"), BinOp("*", n("b"), n("c")))),
    ("x @ W + b", BinOp("+", BinOp("@", n("x"), n("W")), n("b"))),
    ("a // b % c / d", BinOp("/", BinOp("%", BinOp("//", n("a"), n("b")), n("c")), n("d"))),
    ("-a * b", BinOp("*", UnaryOp("-", n("a")), n("b"))),
    ("a + b < c * d", BinOp("<", BinOp("+", n("a"), n("b")), BinOp("*", n("c"), n("d")))),
    ("not a == b", UnaryOp("not", BinOp("==", n("a"), n("b")))),
    ("a or b and not c", BinOp("or", n("a"), BinOp("and", n("b"), UnaryOp("not", n("c"))))),
    ("a <= b != c >= d", None),  # comparisons do not chain: checked below
    ("(a + b) * c", BinOp("*", BinOp("+", n("a"), n("b")), n("c"))),
    ("-x.shape[0]", UnaryOp("-", Index(ast.Attribute(n("x"), "shape"), (Num(0),)))),
    ("f(a, b, axis=1)", Call(n("f"), (n("a"), n("b")), (Keyword("axis", Num(1)),))),
    ("f()", Call(n("f"), ())),
    ("f(x)[0]", Index(Call(n("f"), (n("x"),)), (Num(0),))),
    ("data.train.x", ast.Attribute(ast.Attribute(n("data"), "train"), "x")),
    ("p[arange(n), y]", Index(n("p"), (Call(n("arange"), (n("n"),)), n("y")))),
    ("x[1:5]", Index(n("x"), (Slice(Num(1), Num(5), None),))),
    ("x[:, 0]", Index(n("x"), (Slice(None, None, None), Num(0)))),
    ("x[::2]", Index(n("x"), (Slice(None, None, Num(2)),))),
    ("x[1:]", Index(n("x"), (Slice(Num(1), None, None),))),
    ("x[a:b:c]", Index(n("x"), (Slice(n("a"), n("b"), n("c")),))),
    ("(n, 10)", TupleExpr((n("n"), Num(10)))),
    ("(1,)", TupleExpr((Num(1),))),
    ("()", TupleExpr(())),
    ("[1.0, 2.0]", ListExpr((Num(1.0), Num(2.0)))),
    ("[[1, 2], [3, 4]]", ListExpr((ListExpr((Num(1), Num(2))), ListExpr((Num(3), Num(4)))))),
    ("true", Bool(True)),
    ('"a \\"q\\" \\\\ b\\n"', Str('a "q" \\ b\n')),
])
def test_precedence_and_forms(src, tree):
    if tree is None:
        with pytest.raises(SymError):
            expr(src)
    else:
        assert expr(src) == tree


@pytest.mark.parametrize("src, value", [("3", 3), ("3.0", 3.0), ("1e-3", 1e-3),
                                        (".5", 0.5), ("2.", 2.0), ("1E3", 1000.0)])
def test_numbers(src, value):
    num = expr(src)
    assert num == Num(value) and type(num.value) is type(value)


def test_update_versus_comparison():
    assert parse("W <- W - 1\n").items == (Update(n("W"), BinOp("-", n("W"), Num(1))),)
    assert parse("W <-1\n").items == (Update(n("W"), Num(1)),)
    assert expr("a < -1") == BinOp("<", n("a"), UnaryOp("-", Num(1)))


def test_keywords_are_not_names():
    for word in ("in", "def", "return", "true"):
        with pytest.raises(SymError):
            parse(f"{word} = 1\n")
    assert expr("define + returned") == BinOp("+", n("define"), n("returned"))


def test_calls_span_lines_inside_brackets():
    assert expr("f(a,\n      b,\n)") == Call(n("f"), (n("a"), n("b")))


# ---- statements and items ------------------------------------------------------------
def test_tuple_return_and_tuple_type():
    (d,) = parse("def f(x: f32[n + 1, 2 * n]) -> (f32, f32):\n    return a, b\n").items
    assert isinstance(d, Def)
    assert d.ret == TupleTypeExpr((ast.TensorTypeExpr("f32", ()),) * 2)
    assert d.body == (Return((n("a"), n("b"))),)
    assert d.params[0].type.dims == (BinOp("+", n("n"), Num(1)), BinOp("*", Num(2), n("n")))


def test_elif_chain_nests_in_orelse():
    src = ("if a:\n    x = 1\nelif b:\n    x = 2\nelif c: x = 3\nelse:\n"
           "    break\n    continue\n")
    (top,) = parse(src).items
    x = lambda v: (Assign((n("x"),), Num(v)),)  # noqa: E731
    assert top == If(n("a"), x(1), (If(n("b"), x(2), (If(n("c"), x(3), (
        ast.Break(), ast.Continue())),)),))


def test_for_and_multiple_targets():
    (loop,) = parse("for x, y in batches(d, 10):\n    a, b = f(x)\n").items
    assert loop == For((n("x"), n("y")), Call(n("batches"), (n("d"), Num(10))),
                       (Assign((n("a"), n("b")), Call(n("f"), (n("x"),))),))


def test_options():
    items = parse('option epochs = 1000\noption lr = -0.5\noption name = "a"\n'
                  "option on = true\n").items
    assert [i.value for i in items] == [Num(1000), UnaryOp("-", Num(0.5)), Str("a"), Bool(True)]
    assert all(isinstance(i, OptionDecl) for i in items)


def test_expression_statements():
    assert parse("train(x, y)\n").items == (ExprStmt(Call(n("train"), (n("x"), n("y")))),)


def test_dtypes_and_dims():
    for dtype in ("f32", "f64", "i32", "i64", "bool"):
        (s,) = parse(f"shared w: {dtype}[3, n - 1] = zeros()\n").items
        assert s.type == ast.TensorTypeExpr(dtype, (Num(3), BinOp("-", n("n"), Num(1))))


# ---- spans -----------------------------------------------------------------------------
def test_spans():
    prog = parse("x = 1\ndef f(a: f32) -> f32:\n    return a + bb\n", "s.sym")
    d = prog.items[1]
    ret = d.body[0].values[0]
    bb = ret.right
    assert (bb.span.file, bb.span.line, bb.span.col, bb.span.end_line, bb.span.end_col) == \
        ("s.sym", 3, 16, 3, 18)
    assert (ret.span.line, ret.span.col, ret.span.end_col) == (3, 12, 18)
    assert (d.span.line, d.span.col, d.span.end_line, d.span.end_col) == (2, 1, 2, 22)
    assert (d.params[0].span.col, d.params[0].span.end_col) == (7, 13)
    assert prog.items[0].targets[0].span.col == 1


def test_every_node_has_a_span():
    def walk(node):
        if isinstance(node, tuple):
            for x in node:
                yield from walk(x)
        elif hasattr(node, "__dataclass_fields__"):
            yield node
            for f in node.__dataclass_fields__:
                if f not in ("span", "file"):
                    yield from walk(getattr(node, f))
    nodes = list(walk(parse(MNIST + "y = x[1:, ::2]\nif a:\n    b\nelif c:\n    d\n").items))
    assert nodes and all(node.span is not None for node in nodes)


# ---- syntax errors ------------------------------------------------------------------------
def error_text(src, filename="t.sym"):
    with pytest.raises(SymError) as info:
        parse(src, filename)
    return "\n".join(d.render() for d in info.value.diagnostics)


def test_e0001_unexpected_token():
    assert error_text("y = softmax(x @ W +)\n") == """\
error[E0001]: unexpected `)`
 --> t.sym:1:20
  |
1 | y = softmax(x @ W +)
  |                    ^
  = help: expected an expression"""


def test_e0001_names_the_token_in_words():
    assert "error[E0001]: unexpected end of line" in error_text("x = 1 +\n")
    assert "error[E0001]: unexpected name `b`" in error_text("x = a b\n")
    assert "error[E0001]: unexpected number `2`" in error_text("x = 1 2\n")
    assert "help: use `==` to compare" in error_text("if x = 1:\n    y\n")


def test_a_method_call_parses_and_only_append_in_a_loop_means_something():
    from dsl.program import check_source
    prog = check_source("x = 1.0\ny = x.sum(1)\n", "t.sym")
    assert [d.code for d in prog.errors] == ["E1303"]
    assert "help: values have no methods" in prog.errors[0].render()


def test_e0002_unclosed_bracket():
    assert error_text("cost = nll(x, y\nW <- W - 1\n") == """\
error[E0002]: unclosed `(`
 --> t.sym:1:11
  |
1 | cost = nll(x, y
  |           ^
  = help: add the missing `)`"""
    assert "error[E0002]: unclosed `[`" in error_text("x = [1, 2")


def test_e0003_missing_colon():
    assert error_text("for i in range(3)\n    print(i)\n") == """\
error[E0003]: missing `:` after the `for` header
 --> t.sym:1:18
  |
1 | for i in range(3)
  |                  ^
  = help: end the line with `:` and indent the block under it"""
    for src in ("def f(x: f32) -> f32\n", "def f() -> (f32, f32)\n", "if x\n",
                "if x:\n    y\nelif z\n", "if x:\n    y\nelse\n",
                "def f() -> f32:\n    for i in x\n        y\n"):
        assert "error[E0003]" in error_text(src), src


def test_e0004_bad_indentation():
    assert error_text("if x:\n        y = 1\n    z = 2\n") == """\
error[E0004]: unindent does not match any outer indentation level
 --> t.sym:3:1
  |
3 |     z = 2
  | ^^^^
  = help: line it up with an enclosing block: 0 or 8 spaces"""
    assert "error[E0004]: unexpected indent" in error_text("x = 1\n    y = 2\n")
    assert "error[E0004]: unexpected indent" in error_text("  x = 1\n")
    assert "error[E0004]: expected an indented block" in error_text("if x:\ny = 1\n")
    tab = error_text("if x:\n\ty = 1\n")
    assert "error[E0004]: tab in indentation" in tab and "indent with spaces" in tab


def test_e0005_unexpected_end_of_input():
    assert error_text("x = 1\ndef f() -> f32:\n") == """\
error[E0005]: unexpected end of input
 --> t.sym:2:16
  |
2 | def f() -> f32:
  |                ^
  = help: a line ending in `:` needs an indented block after it"""


def test_e0006_invalid_character_and_unterminated_string():
    assert error_text('print("done)\n') == """\
error[E0006]: unterminated string
 --> t.sym:1:7
  |
1 | print("done)
  |       ^^^^^^
  = help: close the string with `"` on the same line"""
    assert "error[E0006]: invalid character `$` (U+0024 DOLLAR SIGN)" in error_text("x = a $ b\n")
    assert "help: use `and`" in error_text("x = a && b\n")
    assert 'help: strings use straight double quotes: "..."' in error_text("x = \u201chi\u201d\n")
    assert "help: use the ASCII minus `-`" in error_text("x = 1 \u2212 2\n")


@pytest.mark.parametrize("char, name, fix", [
    ("\u00a0", "U+00A0 NO-BREAK SPACE", "replace it with a plain space"),
    ("\u200b", "U+200B ZERO WIDTH SPACE", "delete it"),
    ("\u000c", "U+000C FORM FEED", "delete it"),
    ("\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE", "delete it"),
    ("\ufeff", "U+FEFF ZERO WIDTH NO-BREAK SPACE", "delete it"),    # a BOM not at the start
    ("\u001b", "U+001B ESCAPE", "delete it"),
])
def test_invisible_characters_are_named_and_shown(char, name, fix):
    text = error_text(f"x = 1{char}+ 2\n")
    assert text.startswith(f"error[E0006]: invisible character {name}\n --> t.sym:1:6\n")
    # the quoted line shows a visible stand-in (one column: the caret stays under it)
    # and never the raw control character
    assert "1 | x = 1" + ("\u00a0" if char == "\u00a0" else "\ufffd") + "+ 2\n  |      ^\n" in text
    assert f"help: {fix}" in text
    assert "\u001b" not in text and "\u202e" not in text


def test_a_leading_byte_order_mark_is_allowed():
    program = parse("\ufeffx = 1\nprint(x)\n", "bom.sym")
    assert len(program.items) == 2
    assert error_text("\ufeffx = $\n").splitlines()[1] == " --> t.sym:1:5"


def test_e0007_invalid_type():
    assert error_text("shared W: f16[3] = zeros()\n") == """\
error[E0007]: unknown dtype `f16`
 --> t.sym:1:11
  |
1 | shared W: f16[3] = zeros()
  |           ^^^
  = help: the dtypes are f32 f64 i32 i64 bool, e.g. `f32`, `f32[10]`, `i32[n]`"""
    assert "error[E0007]: expected a type" in error_text("def f(x: 3) -> f32:\n    x\n")
    assert "error[E0007]: invalid dimension" in error_text("def f(x: f32[-1]) -> f32:\n    x\n")


def test_every_error_example_gets_its_own_label():
    # The examples that classify parser states (dsl/parser.py) must keep failing
    # the way they were written for, whatever the grammar becomes.
    for label, (make, first, hint, _, examples) in _LABELS.items():
        for src in examples:
            with pytest.raises(SymError) as info:
                parse(src)
            (d,) = info.value.diagnostics
            want = (make(first, d.span, hint) if first is not None else
                    make("token", d.span, hint, what=d.message.removeprefix("unexpected ")))
            assert d == want.diagnostic, (label, src)


def test_errors_inside_nested_blocks_classify_the_same():
    src = "def f(x: f32) -> f32:\n    for i in x:\n        if i\n            y\n"
    assert "error[E0003]: missing `:` after the `if` condition" in error_text(src)


def test_there_is_a_golden_file_per_code():
    # tests/test_errors.py compares each golden file with the parser's output.
    codes = {p.read_text().split("]")[0].split("[")[1] for p in SYNTAX_ERRORS.glob("*.expected")}
    assert codes >= {f"E000{i}" for i in range(1, 8)}


# ---- nothing but Program or SymError, for any input -----------------------------------------
def parses_or_sym_error(text):
    try:
        assert isinstance(parse(text, "fuzz.sym"), ast.Program)
    except SymError as e:
        assert e.diagnostics and all(d.code.startswith("E000") for d in e.diagnostics)
        # No span means parse's last-resort diagnostic, i.e. a bug in the parser.
        assert all(d.span is not None for d in e.diagnostics), str(e)
        str(e)  # renders


PIECES = list("()[]:,.=<>-+*/@%!#\"\\' \t\n\r$01239xyzWnabf_é") + [
    "def ", "for ", " in ", "if ", "elif ", "else", "return ", "shared ", "option ",
    "break", "continue", " and ", " or ", "not ", "true", "false", "f32", "i32[n]",
    "<-", "->", "**", "//", "==", "!=", "<=", ">=", "    ", "\n    ", "\n        ",
    ":\n    ", '"s"', "1e-3", ".5", "f(", "x[", "\t"]


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40).map("".join))
def test_random_text_never_escapes(text):
    parses_or_sym_error(text)


@settings(max_examples=1000, deadline=None)
@given(st.text(max_size=60))
def test_random_unicode_never_escapes(text):
    parses_or_sym_error(text)


# Tokens of the MNIST program with the whitespace between them kept, so joining
# them gives the program back and a mutation changes exactly one token.
_TOKEN = r'\s+|"[^"\n]*"|#[^\n]*|\d*\.\d+|\d+\.?\d*(?:e-?\d+)?|\w+|<-|->|\*\*|//|[=!<>]=|\S'
TOKENS = re.findall(_TOKEN, MNIST)
WORDS = [i for i, t in enumerate(TOKENS) if not t.isspace()]


def mutate(tokens, edits):
    tokens = list(tokens)
    for kind, i, j in edits:
        i, j = WORDS[i % len(WORDS)], WORDS[j % len(WORDS)]
        if kind == "delete":
            tokens[i] = ""
        elif kind == "duplicate":
            tokens[i] = tokens[i] + " " + tokens[i]
        else:
            tokens[i], tokens[j] = tokens[j], tokens[i]
    return "".join(tokens)


def test_tokens_rebuild_the_program():
    assert "".join(TOKENS) == MNIST


EDIT = st.tuples(st.sampled_from(["delete", "duplicate", "swap"]),
                 st.integers(0, 10**6), st.integers(0, 10**6))


@settings(max_examples=1000, deadline=None)
@given(st.lists(EDIT, min_size=1, max_size=3))
def test_mutated_programs_never_escape(edits):
    parses_or_sym_error(mutate(TOKENS, edits))
