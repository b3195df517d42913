"""Fuzzing the front end: whatever the text, `check_source` ends in a
`CheckedProgram` (with diagnostics, or none), never in an uncaught exception.

Three sources of input, about 2,500 examples in all (well under a minute):
  * random text over the language's characters,
  * random token soup over its keywords, names, dtypes, numbers and operators,
  * randomly mutated VALID programs (the one in LANGUAGE.md, programs/*.sym
    and the small ones below): delete / duplicate / swap tokens, replace a
    dtype, swap two dimensions, change a number, delete / duplicate / indent
    a line.
Every diagnostic found must also render, carry a well-formed code and point
inside the file. A few mutated files go through `sym check` (dsl.cli.main),
which must exit 0 or 1, never with an internal error.

When this finds a crash, fix the root cause and add the smallest program that
shows it as a golden under tests/errors/.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dsl import cli
from dsl.ir import walk
from dsl.program import CheckedProgram, check_source

REPO = Path(__file__).resolve().parent.parent
LANGUAGE_MD = REPO.parent / "shared" / "design" / "LANGUAGE.md"   # beside the checkout, in CI too

# SYM_FUZZ_SCALE=20 pytest tests/test_fuzz_checker.py hunts longer (CI runs scale 1)
SCALE = max(1, int(os.environ.get("SYM_FUZZ_SCALE", "1")))
FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)

# ---- corpus of valid programs --------------------------------------------------
OWN_PROGRAMS = {
    "shapes.sym": '''\
option scale = 2.0
shared W: f32[4, 3] = normal(0.0, 0.01, seed=1)
shared b: f32[3] = full(0.5)
shared steps: i32 = zeros()

def affine(x: f32[n, 4]) -> f32[n, 3]:
    return x @ W + b

def stats(x: f32[n, 4]) -> (f32, f32):
    h = affine(x)
    return mean(h), max(h)

def reshape_it(x: f32[n, 4]) -> f32[n, 2, 2]:
    y = reshape(x, (n, 2, 2))
    return transpose(y, (0, 2, 1))

def pieces(x: f32[n, 4]) -> f32[2 * n, 4]:
    top = x[:, 0:2]
    bottom = x[:, 2:]
    both = concat((top, bottom), axis=1)
    return concat((both, x.T.T), axis=0)

def picks(p: f32[n, 3], y: i32[n]) -> f32[n]:
    return p[arange(n), y] + p[:, -1] * scale

def step(x: f32[n, 4], y: i32[n]) -> f32:
    cost = -mean(log_softmax(affine(x), axis=1)[arange(n), y])
    W <- W - 0.1 * grad(cost, W)
    b <- b - 0.1 * grad(cost, b)
    steps <- steps + 1
    return cost

a = zeros((5, 4))
m, s = stats(a)
for i in range(3):
    if m > s:
        print("bigger", i)
    elif m == s:
        continue
    else:
        break
print(reshape_it(a).shape, pieces(a))
''',
    "elementwise.sym": '''\
def act(x: f32[n, k]) -> f32[n, k]:
    y = relu(x) + sigmoid(x) - tanh(x) * softplus(x)
    z = where(x > 0.0, exp(-abs(x)), sqrt(x * x + 1.0))
    return clip(y + z, -1.0, 1.0) / (1.0 + maximum(x, 0.0) ** 2)

def labels(y: i32[n]) -> f32[n, 10]:
    return one_hot(y, 10) * reshape(f32(y >= 0), (n, 1))

def norms(x: f64[n, 3]) -> f64[n]:
    return sqrt(sum(x * x, axis=1)) + logsumexp(x, axis=1) - f64(argmin(x, axis=1))

def mask(x: f32[n]) -> f32:
    return sum(where((x > 0.0) and not (x > 5.0), x, 0.0)) + mean(x[1:3])

def hess(x: f32[n]) -> f32[n]:
    g = grad(sum(x * x * x), x)
    return grad(sum(g), x)

total = 0.0
for epoch in range(2):
    total = total + mask(zeros((8,)))
print(total, hess([1.0, 2.0]))
''',
}


def corpus() -> dict[str, str]:
    out = dict(OWN_PROGRAMS)
    if LANGUAGE_MD.exists():
        for i, block in enumerate(re.findall(r"```\n(.*?)```", LANGUAGE_MD.read_text(), re.S)):
            if "def " in block or "shared " in block:
                out[f"language_md_{i}.sym"] = block
    for path in sorted((REPO / "programs").glob("*.sym")):
        out[path.name] = path.read_text(encoding="utf-8")
    return out


CORPUS = corpus()
CORPUS_NAMES = sorted(CORPUS)


def test_corpus_is_valid():
    """The mutations start from programs that check (so mutants are near misses)."""
    for name, text in OWN_PROGRAMS.items():
        prog = check_source(text, name)
        assert not prog.errors, "\n\n".join(d.render() for d in prog.errors)
    assert len(CORPUS) >= 4


# ---- the property ---------------------------------------------------------------
CODE = re.compile(r"^[EW]\d{4}$")


def assert_checks(text: str, filename: str = "fuzz.sym") -> CheckedProgram:
    prog = check_source(text, filename)      # must not raise
    assert isinstance(prog, CheckedProgram)
    n_lines = max(1, len(text.splitlines()))
    for d in prog.diagnostics:
        assert CODE.match(d.code), d
        assert d.severity in ("error", "warning")
        rendered = d.render()
        assert rendered.startswith(f"{d.severity}[{d.code}]: ")
        for span in [d.span] + [n.span for n in d.notes]:
            if span is not None and span.file != filename:    # in a file the program imports
                assert span.file in prog.imports.origin, (span, rendered)
            elif span is not None:
                assert 1 <= span.line <= n_lines + 1, (span, rendered)
                assert span.col >= 1, (span, rendered)
    for info in prog.defs.values():           # every checked def is well typed
        for node in walk(info.function.roots):        # loop bodies too
            for t in getattr(node.type, "elts", (node.type,)):     # a loop's results
                for d in t.shape:
                    assert not isinstance(d, int) or d >= 0, (info.name, node.op, node.type)
    assert prog.diagnostics == sorted(
        prog.diagnostics, key=lambda d: (d.span is None, d.span is not None and d.span.file != filename,
                                         d.span.file if d.span else "", d.span.line if d.span else 0,
                                         d.span.col if d.span else 0))
    return prog


# ---- (a) random text ------------------------------------------------------------
ALPHABET = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789"
            " \n\n\n    \t()[],:.=<>-+*/%@#\"'!&|{};\\e")


@settings(FUZZ, max_examples=700 * SCALE)
@given(st.text(alphabet=ALPHABET, max_size=120))
def test_random_text(text):
    assert_checks(text)


KEYWORDS = ["def", "shared", "option", "return", "for", "in", "if", "elif", "else",
            "break", "continue", "and", "or", "not", "true", "false", "<-", "->"]
NAMES = ["x", "y", "n", "m", "W", "b", "cost", "data", "train", "mnist", "batches", "range",
         "print", "grad", "sum", "mean", "max", "argmax", "softmax", "log", "exp", "reshape",
         "zeros", "ones", "full", "arange", "where", "concat", "stack", "transpose", "one_hot",
         "len", "T", "shape", "axis", "keepdims", "seed", "save", "load", "f"]
DTYPES = ["f32", "f64", "i32", "i64", "bool"]
NUMBERS = ["0", "1", "2", "-1", "3", "10", "784", "0.5", "1e-3", "0.13", "600", "99999999999"]
PUNCT = ["(", ")", "[", "]", ",", ":", ".", "=", "==", "!=", "<", "<=", ">", ">=", "+", "-",
         "*", "/", "//", "%", "**", "@", '"s"', "#c", "\n", "\n    ", "\n        "]
TOKENS = KEYWORDS + NAMES + DTYPES + NUMBERS + PUNCT


@settings(FUZZ, max_examples=600 * SCALE)
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_token_soup(tokens):
    assert_checks(" ".join(tokens).replace(" \n", "\n"))


@settings(FUZZ, max_examples=300 * SCALE)
@given(st.lists(st.sampled_from(TOKENS), max_size=30), st.sampled_from(CORPUS_NAMES),
       st.integers(0, 10_000))
def test_token_soup_inside_program(tokens, name, at):
    """Soup spliced into a valid program, so the checker (not only the
    parser) sees the damage."""
    text = CORPUS[name]
    lines = text.splitlines(keepends=True)
    i = at % (len(lines) + 1)
    indent = "    " if i < len(lines) and lines[i].startswith("    ") else ""
    lines.insert(i, indent + " ".join(tokens).replace("\n", " ") + "\n")
    assert_checks("".join(lines))


# ---- (b) mutated valid programs -------------------------------------------------
TOKEN = re.compile(r'\n[ \t]*|[ \t]+|#[^\n]*|"[^"\n]*"|\d+\.\d*(?:e-?\d+)?|\d+(?:e-?\d+)?|\w+'
                   r'|//|\*\*|<-|->|==|!=|<=|>=|.', re.S)
NEW_NUMBERS = ["0", "1", "-1", "2", "3", "7", "10", "784", "0.0", "0.5", "-0.5", "1e-3", "1e40",
               "100000", "2147483648", "9999999999999999999999", "-784", "1.5"]


OPERATORS = ["+", "-", "*", "/", "//", "%", "**", "@", "==", "!=", "<", "<=", ">", ">=",
             "and", "or", ","]


def tokens_of(text: str) -> list[str]:
    return TOKEN.findall(text)


def is_code(tok: str) -> bool:
    return bool(tok) and not tok.isspace() and not tok.startswith(("#", "\n"))


@st.composite
def mutation(draw, text: str) -> str:
    kind = draw(st.sampled_from(["delete", "duplicate", "swap", "dtype", "dims", "number",
                                 "delete_line", "duplicate_line", "indent_line", "replace",
                                 "rename", "operator", "rename", "operator"]))
    toks = tokens_of(text)
    assert "".join(toks) == text
    code = [i for i, t in enumerate(toks) if is_code(t)]
    # these two keep the syntax valid more often, so the checker sees the damage
    if kind == "rename":
        sites = [i for i in code if toks[i].isidentifier() and toks[i] not in KEYWORDS]
        if sites:
            names = sorted({toks[i] for i in sites} | set(NAMES) | set(DTYPES))
            toks[draw(st.sampled_from(sites))] = draw(st.sampled_from(names + NEW_NUMBERS[:8]))
        return "".join(toks)
    if kind == "operator":
        sites = [i for i in code if toks[i] in OPERATORS]
        if sites:
            toks[draw(st.sampled_from(sites))] = draw(st.sampled_from(OPERATORS))
        return "".join(toks)
    if kind in ("delete", "duplicate", "swap", "replace") and code:
        i = draw(st.sampled_from(code))
        if kind == "delete":
            toks[i] = ""
        elif kind == "duplicate":
            toks[i] = toks[i] + " " + toks[i]
        elif kind == "replace":
            toks[i] = draw(st.sampled_from(TOKENS[:-3]))
        else:
            j = draw(st.sampled_from(code))
            toks[i], toks[j] = toks[j], toks[i]
        return "".join(toks)
    if kind == "dtype":
        sites = [i for i, t in enumerate(toks) if t in DTYPES]
        if sites:
            i = draw(st.sampled_from(sites))
            toks[i] = draw(st.sampled_from([d for d in DTYPES if d != toks[i]]))
        return "".join(toks)
    if kind == "dims":
        sites = list(re.finditer(r"\[([^\[\]\n]+), ([^\[\]\n]+)\]", text))
        if sites:
            m = draw(st.sampled_from(sites))
            return text[:m.start()] + f"[{m.group(2)}, {m.group(1)}]" + text[m.end():]
        return text
    if kind == "number":
        sites = [i for i, t in enumerate(toks) if t[:1].isdigit()]
        if sites:
            i = draw(st.sampled_from(sites))
            toks[i] = draw(st.one_of(st.sampled_from(NEW_NUMBERS),
                                     st.integers(-5, 5000).map(str)))
        return "".join(toks)
    return mutate_line(draw, text, kind, ["    ", "  ", ""])


def mutate_line(draw, text: str, kind: str, indents: list) -> str:
    """One line of text deleted, duplicated, swapped with another, or
    re-indented with one of `indents` (any other kind)."""
    lines = text.splitlines(keepends=True)
    if not lines:
        return text
    i = draw(st.integers(0, len(lines) - 1))
    if kind == "delete_line":
        del lines[i]
    elif kind == "duplicate_line":
        lines.insert(i, lines[i])
    elif kind == "swap_lines":
        j = draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    else:
        lines[i] = draw(st.sampled_from(indents)) + lines[i].lstrip(" ")
    return "".join(lines)


@st.composite
def mutant(draw) -> tuple[str, str]:
    name = draw(st.sampled_from(CORPUS_NAMES))
    text = CORPUS[name]
    for _ in range(draw(st.integers(1, 3))):
        text = draw(mutation(text))
    return name, text


@settings(FUZZ, max_examples=900 * SCALE)
@given(mutant())
def test_mutated_programs(case):
    name, text = case
    assert_checks(text, name)


# ---- edge cases that once crashed or could ---------------------------------------
EDGE_CASES = [
    "",
    "\n\n\n",
    "# only a comment",
    "def",
    "def f(",
    "shared W: f32[0] = zeros()\nprint(W)",
    "def f(x: f32[n]) -> f32:\n    return sum(x) * 10 ** 100000000",
    "def f(x: f32[n]) -> f32:\n    return sum(x) * (2 ** 64 ** 64)",
    "def f(x: f32[99999999999999999999, 2]) -> f32:\n    return sum(x)",
    "def f(x: f32[n]) -> f32[n]:\n    return x[99999999999999999999]",
    "def f(x: f32[n]) -> f32:\n    return sum(x, axis=99999999999999999999)",
    "def f(x: f32[n]) -> f32:\n    return sum(x) / 0.0 + 1 // 0 + 1 % 0",
    "def f() -> f32:\n    return 1.0",
    "def f() -> f32:\n    return f()",
    "def f(x: f32[n]) -> f32:\n    return sum(" * 1 + "(" * 300 + "x" + ")" * 300 + ")",
    "x = " + "-" * 500 + "1",
    "def f(x: f32[n]) -> f32:\n    return sum(x" + " + x" * 400 + ")",
]


@pytest.mark.parametrize("text", EDGE_CASES, ids=range(len(EDGE_CASES)))
def test_edge_cases(text):
    assert_checks(text)


# ---- the CLI on mutated files ------------------------------------------------------
@settings(FUZZ, max_examples=25 * SCALE)
@given(mutant())
def test_sym_check_cli(case):
    name, text = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_text(text, encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = cli.main(["check", str(path)])
    assert rc in (0, 1), err.getvalue()
    assert "E9999" not in err.getvalue() and "Traceback" not in err.getvalue(), err.getvalue()
    status = err.getvalue().rstrip().splitlines()[-1]
    assert status.startswith(f"{path}: {'ok' if rc == 0 else 'failed'} ("), status
