"""A Pygments lexer for .sym (`pygmentize -l sym`, files named *.sym), so
docs, Sphinx and Jupyter highlight programs.

Nothing of the language is restated here: the keywords, operators and the
name, number and string patterns are the grammar's own terminals
(grammar/sym.lark through dsl.parser), the builtins come from
dsl/registry.py and the dtypes from dsl/types.py. A character the language's
lexer rejects is an Error token here too.
"""
from __future__ import annotations

import re

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import (Comment, Keyword, Name, Number, Operator, Punctuation, String,
                            Whitespace)

from .parser import terminals
from .registry import NAMES as BUILTINS
from .types import DTYPES

CONSTANTS = ("true", "false")
# the grammar's pattern terminals the lexer shows in their own way; those
# named with `_` (newlines with comments, blanks) it lexes by its own rules
KNOWN = ("NAME", "NUMBER", "STRING")


def vocabulary() -> dict[str, list[str]]:
    """The grammar's terminals sorted into what a highlighter shows."""
    found = {"keywords": [], "symbols": [], "patterns": {}}
    for term in terminals():
        value = term.pattern.value
        if term.pattern.type == "str":
            found["keywords" if value.isidentifier() else "symbols"].append(value)
        else:
            found["patterns"][term.name] = term.pattern.to_regexp()
    return found


def _tokens() -> dict:
    vocab = vocabulary()
    patterns = vocab["patterns"]
    keywords = [k for k in vocab["keywords"] if k not in CONSTANTS]
    # longest first, so `**` is one operator and `<-` is not `<` then `-`
    symbols = sorted(vocab["symbols"], key=len, reverse=True)
    brackets = [s for s in symbols if s in "()[]{},:."]
    operators = [s for s in symbols if s not in brackets]
    name = patterns["NAME"]
    return {"root": [
        (r"#[^\n]*", Comment.Single),
        (r"[ \t]+", Whitespace),
        (r"\r?\n", Whitespace),
        (patterns["STRING"], String.Double),
        (patterns["NUMBER"], Number),
        (r"(def)([ \t]+)(%s)" % name, bygroups(Keyword, Whitespace, Name.Function)),
        (words(CONSTANTS, suffix=r"\b"), Keyword.Constant),
        (words(keywords, suffix=r"\b"), Keyword),
        (words(DTYPES, suffix=r"\b"), Keyword.Type),
        (words(sorted(BUILTINS), suffix=r"\b"), Name.Builtin),
        (name, Name),
        ("|".join(re.escape(s) for s in operators), Operator),
        ("|".join(re.escape(s) for s in brackets), Punctuation),
        # any other token the grammar defines by a pattern, plainly
        *((pattern, Name.Other) for name, pattern in patterns.items()
          if name not in KNOWN and not name.startswith("_")),
    ]}


class SymLexer(RegexLexer):
    name = "sym"
    aliases = ["sym"]
    filenames = ["*.sym"]
    mimetypes = ["text/x-sym"]
    url = "https://pypi.org/project/sym/"
    tokens = _tokens()


def textmate_grammar() -> dict:
    """The TextMate grammar of editors/vscode (VS Code, Sublime, GitHub's
    linguist), from the same vocabulary as the lexer. Regenerate the file
    with `python -m dsl.highlight > editors/vscode/syntaxes/sym.tmLanguage.json`."""
    vocab = vocabulary()
    keywords = [k for k in vocab["keywords"] if k not in CONSTANTS]
    operators = sorted((s for s in vocab["symbols"] if s not in "()[]{},:."), key=len, reverse=True)

    def word_list(names):
        return r"\b(" + "|".join(sorted(names)) + r")\b"
    return {
        "name": "sym", "scopeName": "source.sym", "fileTypes": ["sym"],
        "patterns": [
            {"name": "comment.line.number-sign.sym", "match": "#.*$"},
            {"name": "string.quoted.double.sym", "match": vocab["patterns"]["STRING"]},
            {"name": "constant.numeric.sym", "match": r"\b" + vocab["patterns"]["NUMBER"]},
            {"match": r"\b(def)\s+([A-Za-z_][A-Za-z0-9_]*)",
             "captures": {"1": {"name": "keyword.other.sym"}, "2": {"name": "entity.name.function.sym"}}},
            {"name": "constant.language.sym", "match": word_list(CONSTANTS)},
            {"name": "keyword.control.sym", "match": word_list(keywords)},
            {"name": "storage.type.sym", "match": word_list(DTYPES)},
            {"name": "support.function.builtin.sym", "match": word_list(BUILTINS)},
            {"name": "keyword.operator.sym", "match": "|".join(re.escape(s) for s in operators)},
        ],
    }


if __name__ == "__main__":
    import json
    print(json.dumps(textmate_grammar(), indent=2))
