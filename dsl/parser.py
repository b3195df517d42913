"""Text -> untyped AST (dsl/ast.py); every syntax error becomes a SymError.

The grammar lives in grammar/sym.lark. This module builds the lark parser
once, turns indentation into _INDENT/_DEDENT tokens, transforms lark's tree
into AST nodes with spans, and turns every way parsing can fail into one
diagnostic with a stable code:

    E0001 unexpected token          E0005 unexpected end of input
    E0002 unclosed bracket          E0006 invalid character / unterminated string
    E0003 missing `:` after header  E0007 invalid type
    E0004 bad indentation
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer_NonRecursive, v_args
from lark.exceptions import (UnexpectedCharacters, UnexpectedInput, UnexpectedToken,
                             VisitError)
from lark.indenter import Indenter

import grammar

from . import ast
from .diagnostics import (Span, SymError, char_name, is_invisible,
                          register_source)
from . import errors
from .types import DTYPES

GRAMMAR_PATH = Path(grammar.__file__).parent / "sym.lark"
DTYPE_HINT = f"the dtypes are {' '.join(DTYPES)}, e.g. `f32`, `f32[10]`, `i32[n]`"


def parse(text: str, filename: str = "<input>") -> ast.Program:
    """Parse a whole .sym file. Raises SymError for every syntax error.
    A leading byte order mark (some Windows editors write one) is dropped."""
    text = text.removeprefix("\ufeff")
    register_source(filename, text)
    source = text if text.endswith("\n") else text + "\n"
    try:
        return _parse(source, filename)
    except SymError:
        raise
    except Exception:  # a bug in the error path must still not show a traceback
        raise errors.unexpected_token("could_not_parse", None) from None


def _parse(source: str, filename: str) -> ast.Program:
    try:
        _check_first_line(source, filename)
        tree = _lark().parse(source)
        return _ToAst(filename).transform(tree)
    except VisitError as e:  # a transformer method raised (E0007, ...)
        raise e.orig_exc from None
    except _IndentError as e:
        message, line, col, end_col, hint = e.args
        raise errors.bad_indentation("indenter", Span(filename, line, col, line, end_col), hint,
                                     message=message) from None
    except UnexpectedInput as e:
        raise _syntax_error(e, source, filename) from None


# ---- the lark parser ---------------------------------------------------------
class _IndentError(Exception):
    """(message, line, col, end_col, hint): the Indenter knows no file name."""


def _indent_width(indent: str, line: int) -> int:
    if "\t" in indent:
        col = indent.index("\t") + 1
        raise _IndentError("tab in indentation", line, col, col + 1,
                           "indent with spaces (4 per level)")
    return len(indent)


class _SymIndenter(Indenter):
    """lark's Indenter with positioned tokens and errors, and tabs refused.

    The stock one gives _INDENT/_DEDENT the position of the newline before
    them and raises a position-less DedentError; ours points at the
    indentation of the offending line.
    """
    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR", "LSQB"]
    CLOSE_PAREN_types = ["RPAR", "RSQB"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8

    def handle_NL(self, token):
        if self.paren_level > 0:
            return  # a newline inside brackets continues the line
        yield token
        indent = re.match(r"[ \t]*", token.value.rsplit("\n", 1)[-1]).group()
        line = token.end_line
        width, levels = _indent_width(indent, line), list(self.indent_level)

        def at(kind):
            return Token(kind, indent, token.end_pos - width, line, 1,
                         line, width + 1, token.end_pos)

        if width > self.indent_level[-1]:
            self.indent_level.append(width)
            yield at(self.INDENT_type)
            return
        while width < self.indent_level[-1]:
            self.indent_level.pop()
            yield at(self.DEDENT_type)
        if width != self.indent_level[-1]:
            choices = ", ".join(str(n) for n in levels[:-1]) + f" or {levels[-1]}"
            raise _IndentError("unindent does not match any outer indentation level",
                               line, 1, width + 1,
                               f"line it up with an enclosing block: {choices} spaces")

    def _process(self, stream):
        token = None
        for token in stream:
            if token.type == self.NL_type:
                yield from self.handle_NL(token)
            else:
                yield token
            if token.type in self.OPEN_PAREN_types:
                self.paren_level += 1
            elif token.type in self.CLOSE_PAREN_types:
                self.paren_level = max(0, self.paren_level - 1)
        end = token.end_pos if token is not None else 0
        while len(self.indent_level) > 1:  # close open blocks at end of file
            self.indent_level.pop()
            yield Token(self.DEDENT_type, "", end, None, None, None, None, end)


@lru_cache(maxsize=None)
def _lark() -> Lark:
    # A basic (not contextual) lexer: errors are then found after LALR's
    # reductions, in the state of the construct being parsed, which is what
    # the example-based classification below needs. The cost: `a <-1` inside
    # an expression is an update arrow (an error), not `a < -1`.
    return Lark(GRAMMAR_PATH.read_text(encoding="utf-8"), parser="lalr",
                lexer="basic", postlex=_SymIndenter(), propagate_positions=True,
                maybe_placeholders=True)


def _check_first_line(source: str, filename: str) -> None:
    """The Indenter only measures indentation after a newline: check line 1."""
    m = re.match(r"[ \t]+(?=[^ \t\r\n#])", source)
    if m is not None:
        raise _IndentError("unexpected indent", 1, 1, _indent_width(m.group(), 1) + 1,
                           "the first line of a file starts at column 1")


# ---- syntax errors -------------------------------------------------------------
# Each label names a situation; its examples are small broken programs. An error
# whose LALR state (and, for labels with a token, whose unexpected token) is the
# same as an example's gets that label's code, message and hint. Labels that hold
# for any token in their state come first (see lark's match_examples).
_HEADER_COLON = "end the line with `:` and indent the block under it"
_SAME_TARGET = "only a name can be assigned or updated: `y = ...`, `W <- ...`"
_LABELS = {
    # label: (constructor, its first argument or None for "unexpected X" (E0001),
    #         hint, token types it needs or None for any, examples)
    "colon_def": (errors.missing_colon, "the `def` header",
                  "end the header with `:` and indent the body: `def f(x: f32[n]) -> f32:`",
                  None, ["def f() -> f32\n", "def f() -> f32[n]\n", "def f() -> (f32, f32)\n"]),
    "colon_for": (errors.missing_colon, "the `for` header", _HEADER_COLON, None,
                  ["for i in x\n"]),
    "colon_if": (errors.missing_colon, "the `if` condition", _HEADER_COLON, None,
                 ["if x\n"]),
    "colon_elif": (errors.missing_colon, "the `elif` condition", _HEADER_COLON, None,
                   ["if x:\n    y\nelif x\n"]),
    "colon_else": (errors.missing_colon, "`else`", _HEADER_COLON, None,
                   ["if x:\n    y\nelse\n"]),
    "type": (errors.invalid_type, "expected_type", DTYPE_HINT, None,
             ["shared W: 1 = 0\n", "def f(x: 1) -> f32:\n", "def f() -> 1:\n"]),
    "option": (errors.unexpected_token, None, "an option's value is a literal: a number, a string, "
               "`true` or `false`, as in `option epochs = 10`", None,
               ["option a = x\n", "option a = 1 + 2\n", "option a = -x\n"]),
    "arrow": (errors.unexpected_token, None, "a `def` declares its return type: `def f(x: f32[n]) -> f32:`",
              None, ["def f()\n", "def f():\n"]),
    "param": (errors.unexpected_token, None, "every parameter has a type: `x: f32[n, 784]`", None,
              ["def f(x) -> f32:\n"]),
    "shared": (errors.unexpected_token, None, "a shared value needs an initial value: "
               "`shared W: f32[784, 10] = zeros()`", None,
               ["shared W: f32\n", "shared W: f32[3]\n"]),
    "for_in": (errors.unexpected_token, None, "a loop reads `for x in EXPR:` or `for x, y in EXPR:`", None,
               ["for i range(3):\n", "for i, j range(3):\n"]),
    # Below: only when the unexpected token is one of those named.
    "eq_in_cond": (errors.unexpected_token, None, "use `==` to compare", {"EQUAL"}, ["if x = 1:\n"]),
    "chained": (errors.unexpected_token, None, "comparisons do not chain: write `a < b and b < c`",
                {"EQ", "NE", "LT", "LE", "GT", "GE"},
                ["x = a < b < c\n", "x = a == b == c\n"]),
    "assign_target": (errors.unexpected_token, None, _SAME_TARGET, {"EQUAL"},
                      ["x[0] = 1\n", "x.T = 1\n", "f(x) = 1\n"]),
    "update_target": (errors.unexpected_token, None, _SAME_TARGET, {"_ARROW"}, ["x[0] <- 1\n", "x.T <- 1\n"]),
    "arrow_in_expr": (errors.unexpected_token, None, "`<-` updates a shared value and must start a "
                      "statement; to compare with a negative number write `a < -1`",
                      {"_ARROW"}, ["y = a <- 1\n", "if a <- 1:\n"]),
}
_EXAMPLES = {label: entry[4] for label, entry in _LABELS.items()}

_WORDS = {"NAME": "a name", "NUMBER": "a number", "STRING": "a string",
          "_NL": "end of line", "_INDENT": "an indented block",
          "_DEDENT": "end of the block", "$END": "end of input"}
_EXPR_START = {"NAME", "NUMBER", "STRING", "LPAR", "LSQB", "MINUS"}


class _Position:
    """Stands in for a lark ParserState in match_examples: compares only the
    LALR state, not the stack depth, so an example written at top level also
    matches the same mistake inside a def body."""

    def __init__(self, position):
        self.position = position

    def __eq__(self, other):
        return self.position == getattr(other, "position", None)

    def __index__(self):  # lark logs the state with %d
        return self.position


def _syntax_error(e: UnexpectedInput, source: str, filename: str) -> SymError:
    if isinstance(e, UnexpectedCharacters):
        return _bad_character(e, source, filename)
    if not isinstance(e, UnexpectedToken):  # UnexpectedEOF: not raised by LALR
        return _unclosed(source, len(source), filename) or _end_of_input(source, filename, None)
    tok = e.token
    at_end = tok.type == "$END" or (tok.type == "_DEDENT" and tok.line is None)
    pos = len(source) if at_end else tok.start_pos
    opener = _open_brackets(source, pos)
    if opener:  # an unclosed bracket is the mistake if the error is past its line
        past = tok.type not in ("RPAR", "RSQB") and (
            at_end or _line_of(source, opener[-1][0]) < tok.line)
        if past or _closing_fits(e, opener[-1][1]):
            return _unclosed(source, pos, filename)
    if at_end:
        return _end_of_input(source, filename, e.expected)
    span = _token_span(tok, filename)
    if tok.type == "_INDENT":
        return errors.bad_indentation("unexpected_indent", span)
    if "_INDENT" in e.expected:
        return errors.bad_indentation("expected_indented_block", span)
    make, first, hint = _classify(e, source)
    if first is None:
        return errors.unexpected_token("token", span, hint, what=_describe(tok))
    return make(first, span, hint)


def _closing_fits(e: UnexpectedToken, char: str) -> bool:
    """Would the token fit if the bracket `char` were closed just before it?
    Then the missing closer is the mistake: `f32[784, 10 = zeros()`."""
    if e.interactive_parser is None:
        return False
    closer = Token("RPAR" if char == "(" else "RSQB", _CLOSE[char])
    try:
        ip = e.interactive_parser.copy(deepcopy_values=False)
        ip.feed_token(closer)
        ip.feed_token(e.token)
        return True
    except UnexpectedInput:
        return False


def _classify(e: UnexpectedToken, source: str):
    """(constructor, its first argument or None, hint) for an unexpected token."""
    opener = _open_brackets(source, e.token.start_pos or 0)
    hint = _expected_hint(e.expected, opener[-1][1] if opener else None)
    closer = _closer_hint(e.token, source)
    if closer:
        return errors.unexpected_token, None, closer
    if e.state is not None and hasattr(e.state, "position"):
        e.state = _Position(e.state.position)
        # use_accepts=False: lark's accepts depend on the whole stack, so they
        # would differ between `y = x.f(` and `return x.f(` in the same state.
        label = e.match_examples(_parse_example, _EXAMPLES,
                                 token_type_match_fallback=True, use_accepts=False)
        if label is not None:
            make, message, label_hint, needs, _ = _LABELS[label]
            if needs is None or e.token.type in needs:
                return make, message, label_hint
    return errors.unexpected_token, None, hint


_EXAMPLE_ERRORS: dict[str, UnexpectedInput] = {}


def _parse_example(text: str) -> None:
    """lark.parse for match_examples, remembering each example's error: the
    examples never change, so each is parsed once per process."""
    if text not in _EXAMPLE_ERRORS:
        try:
            _lark().parse(text)
            raise AssertionError(f"example parses: {text!r}")
        except UnexpectedInput as e:
            _EXAMPLE_ERRORS[text] = e
    raise _EXAMPLE_ERRORS[text].with_traceback(None)  # no growing traceback


def _describe(tok: Token) -> str:
    if tok.type in ("NAME", "NUMBER"):
        return f"{tok.type.lower()} `{tok.value}`"
    return "string" if tok.type == "STRING" else _word(tok.type)


def _word(terminal: str) -> str:
    if terminal in _WORDS:
        return _WORDS[terminal]
    for t in _lark().terminals:
        if t.name == terminal and t.pattern.type == "str":
            return f"`{t.pattern.value}`"
    return terminal.lower()


def _expected_hint(expected, inside: str | None = None) -> str | None:
    """What the parser wanted, in words; `inside` is the innermost open bracket."""
    expected = set(expected or ())
    if _EXPR_START <= expected or expected == {"NAME"}:
        return "expected an expression" if len(expected) > 1 else "expected a name"
    words = sorted(_word(t) for t in expected)
    if 0 < len(words) <= 4:
        return "expected " + (words[0] if len(words) == 1
                              else ", ".join(words[:-1]) + " or " + words[-1])
    if "PLUS" in expected:  # after an operand; LALR's merged states can't say more
        if inside:
            return f"expected an operator, `,` or `{_CLOSE[inside]}`"
        return "expected an operator or the end of the line"
    return None


def _closer_hint(tok: Token, source: str) -> str | None:
    """A hint for a `)` or `]` that closes nothing or the wrong bracket."""
    if tok.type not in ("RPAR", "RSQB"):
        return None
    opener = _open_brackets(source, tok.start_pos)
    if not opener:
        return f"there is no `{'(' if tok.type == 'RPAR' else '['}` for this to close"
    pos, char = opener[-1]
    if _CLOSE[char] == tok.value:
        return None
    line, col = _line_of(source, pos), pos - source.rfind("\n", 0, pos)
    return f"the `{char}` at {line}:{col} is still open; close it with `{_CLOSE[char]}`"


# ---- brackets, characters, end of input --------------------------------------------
_CLOSE = {"(": ")", "[": "]"}
_BRACKET_SCAN = re.compile(r'"(?:[^"\\\n]|\\.)*"?|#[^\n]*|[()\[\]]')


def _open_brackets(source: str, end: int) -> list[tuple[int, str]]:
    """Brackets opened before `end` and not closed, as (offset, char)."""
    stack = []
    for m in _BRACKET_SCAN.finditer(source, 0, end):
        c = m.group()
        if c in _CLOSE:
            stack.append((m.start(), c))
        elif c in (")", "]") and stack:
            stack.pop()
    return stack


def _unclosed(source: str, end: int, filename: str) -> SymError | None:
    opener = _open_brackets(source, end)
    if not opener:
        return None
    pos, char = opener[-1]
    span = _offset_span(source, pos, filename)
    return errors.unclosed_bracket(char, _CLOSE[char], span)


_CHAR_HINTS = {"'": "strings use double quotes: \"...\"",
               ";": "put each statement on its own line",
               "&": "use `and`", "|": "use `or`", "!": "use `not` (or `!=` to compare)",
               "{": "a tensor literal uses square brackets: `[1.0, 2.0]`",
               "\\": "a line continues inside brackets; wrap the expression in `(...)`",
               "\u00d7": "use `*`", "\u00b7": "use `*`, or `@` for a matrix product"}
# typographic quotes and dashes, as word processors and web pages write them
_CHAR_HINTS.update(dict.fromkeys("\u2018\u2019\u201c\u201d", 'strings use straight double quotes: "..."'))
_CHAR_HINTS.update(dict.fromkeys("\u2212\u2013\u2014", "use the ASCII minus `-`"))


def _bad_character(e: UnexpectedCharacters, source: str, filename: str) -> SymError:
    pos = e.pos_in_stream
    char = source[pos] if pos < len(source) else " "
    if char == '"':
        end = source.find("\n", pos)
        span = Span(filename, e.line, e.column, e.line, e.column + (end - pos))
        return errors.invalid_character("unterminated_string", span)
    span = _offset_span(source, pos, filename)
    if is_invisible(char):
        fix = "replace it with a plain space" if unicodedata.category(char) == "Zs" else "delete it"
        return errors.invalid_character("invisible", span, char_name=char_name(char), fix=fix)
    hint = _CHAR_HINTS.get(char) or (
        "names use only ASCII letters, digits and `_`" if char.isalnum() else
        "the operators are `+ - * / // % ** @`, comparisons and `and or not`")
    return errors.invalid_character("invalid", span, hint, char=char, char_name=char_name(char))


def _end_of_input(source: str, filename: str, expected) -> SymError:
    """Point just after the last non-blank character of the file."""
    lines = source.rstrip().splitlines() or [""]
    line, col = len(lines), len(lines[-1]) + 1
    hint = ("a line ending in `:` needs an indented block after it"
            if expected and "_INDENT" in expected else _expected_hint(expected))
    return errors.unexpected_end(Span(filename, line, col, line, col + 1), hint)


def _line_of(source: str, pos: int) -> int:
    return source.count("\n", 0, pos) + 1


def _offset_span(source: str, pos: int, filename: str) -> Span:
    line = _line_of(source, pos)
    col = pos - source.rfind("\n", 0, pos)
    return Span(filename, line, col, line, col + 1)


def _token_span(tok: Token, filename: str) -> Span:
    """The token on its first line; an end of line is one column wide."""
    one_line = tok.type != "_NL" and tok.end_line == tok.line
    end_col = tok.end_column if one_line else tok.column + 1
    return Span(filename, tok.line, tok.column, tok.line, max(end_col, tok.column + 1))


# ---- lark tree -> AST ----------------------------------------------------------------
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
# Rules whose children are their node's fields, in order (see __default__).
_PLAIN = {"shared": ast.SharedDecl, "option": ast.OptionDecl, "param": ast.Param,
          "update": ast.Update, "expr_stmt": ast.ExprStmt, "break_stmt": ast.Break,
          "continue_stmt": ast.Continue, "index": ast.Index, "slice": ast.Slice}


@v_args(inline=True, meta=True)
class _ToAst(Transformer_NonRecursive):
    """One method per grammar rule that is not in _PLAIN; each returns an ast
    node with a span. Non-recursive, so deep nesting cannot overflow the stack.
    Tokens are visited first: every NAME is already an ast.Name."""

    def __init__(self, filename: str):
        super().__init__()
        self.file = filename

    def _span(self, meta) -> Span | None:
        if getattr(meta, "empty", True):
            return None
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def NAME(self, tok: Token) -> ast.Name:
        return ast.Name(tok.value, Span(self.file, tok.line, tok.column,
                                        tok.end_line, tok.end_column))

    def __default__(self, rule, children, meta):
        return _PLAIN[rule](*children, span=self._span(meta))

    def _children(self, meta, *children):
        return tuple(children)

    params = dims = body = args = subscripts = _children

    def start(self, meta, *items):
        return ast.Program(items, self.file)

    def def_header(self, meta, name, params, ret):
        return name, params, ret, self._span(meta)

    def def_item(self, meta, header, body):
        name, params, ret, span = header
        return ast.Def(name, params, ret, body, span)

    def type(self, meta, dtype, dims=()):
        if dtype.id == "group" and not dims:    # a def parameter taking a group of shared values
            return ast.GroupTypeExpr(self._span(meta))
        if dtype.id not in DTYPES and not (dtype.id == "stream" and not dims):
            raise errors.invalid_type("unknown_dtype", dtype.span, DTYPE_HINT, dtype=dtype.id)
        for dim in dims:
            _check_dim(dim)
        return ast.TensorTypeExpr(dtype.id, dims, self._span(meta))

    def tuple_type(self, meta, *types):
        return ast.TupleTypeExpr(types, self._span(meta))

    # -- modules: imports and host functions
    def import_item(self, meta, module):
        return ast.Import(module, self._span(meta))

    def proc_item(self, meta, name, params, body):
        span = self._span(meta)
        header = Span(span.file, span.line, span.col, name.span.end_line, name.span.end_col)
        return ast.Proc(name, params, body, header)

    proc_params = _children

    def shared_group(self, meta, name, *members):
        return ast.SharedGroup(name, members, self._span(meta))

    def shared_like(self, meta, name, group, init):
        return ast.SharedLike(name, group, init, self._span(meta))

    # -- statements
    def assign(self, meta, *parts):
        return ast.Assign(parts[:-1], parts[-1], self._span(meta))

    def return_stmt(self, meta, *values):
        return ast.Return(values, self._span(meta))

    def for_stmt(self, meta, *parts):
        *targets, iter_, body = parts
        return ast.For(tuple(targets), iter_, body, _header(self._span(meta), iter_))

    def if_stmt(self, meta, cond, body, *clauses):
        # Fold the clauses from the last one up: an `elif` becomes an If that
        # is the whole orelse of the one before it.
        orelse = ()
        for clause in reversed(clauses):
            orelse = clause(orelse)
        return ast.If(cond, body, orelse, _header(self._span(meta), cond))

    def elif_clause(self, meta, cond, body):
        span = _header(self._span(meta), cond)
        return lambda orelse: (ast.If(cond, body, orelse, span),)

    def else_clause(self, meta, body):
        return lambda orelse: body

    # -- expressions
    def binop(self, meta, left, op, right):
        return ast.BinOp(str(op), left, right, self._span(meta))

    def unop(self, meta, op, operand):
        return ast.UnaryOp(str(op), operand, self._span(meta))

    def name(self, meta, name):
        return name

    def number(self, meta, tok):
        is_float = any(c in tok for c in ".eE")
        return ast.Num(float(tok) if is_float else int(tok), self._span(meta))

    def string(self, meta, tok):
        unescape = lambda m: _ESCAPES.get(m.group(1), m.group())  # noqa: E731
        return ast.Str(re.sub(r"\\(.)", unescape, tok[1:-1]), self._span(meta))

    def true(self, meta):
        return ast.Bool(True, self._span(meta))

    def false(self, meta):
        return ast.Bool(False, self._span(meta))

    def tuple(self, meta, *elts):
        return ast.TupleExpr(elts, self._span(meta))

    def list(self, meta, *elts):
        return ast.ListExpr(elts, self._span(meta))

    def call(self, meta, func, args):
        kinds = [isinstance(a, ast.Keyword) for a in args]
        if True in kinds and False in kinds[kinds.index(True):]:
            late = args[kinds.index(False, kinds.index(True))]
            raise errors.unexpected_token("positional_argument_after", late.span)
        positional = tuple(a for a, kw in zip(args, kinds) if not kw)
        keywords = tuple(a for a, kw in zip(args, kinds) if kw)
        return ast.Call(func, positional, keywords, self._span(meta))

    def keyword(self, meta, name, value):
        return ast.Keyword(name.id, value, self._span(meta))

    def attribute(self, meta, value, attr):
        return ast.Attribute(value, attr.id, self._span(meta))

    def method_call(self, meta, value, method, args):
        return ast.MethodCall(value, method, tuple(args), self._span(meta))


def _header(span: Span | None, last) -> Span | None:
    """The span of a block's header: its keyword up to the end of `last`."""
    return span.to(last.span) if span is not None and last.span is not None else span


def _check_dim(dim) -> None:
    """A dimension is an int, a size variable, or + - * of those."""
    ok = (isinstance(dim, ast.Num) and isinstance(dim.value, int)) or isinstance(dim, ast.Name)
    if isinstance(dim, ast.BinOp) and dim.op in ("+", "-", "*"):
        _check_dim(dim.left)
        _check_dim(dim.right)
        ok = True
    if not ok:
        raise errors.invalid_type("invalid_dimension", dim.span)


def terminals():
    """The grammar's terminal definitions (name, pattern), for tools that
    lex .sym text without parsing it (the Pygments lexer, dsl/highlight.py)."""
    return _lark().terminals
