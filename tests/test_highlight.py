"""The Pygments lexer (dsl/highlight.py): registered as pyproject.toml says,
derived from the grammar and the builtin registry, and in agreement with the
language's own lexer on every program of the repository."""
import sys
import tomllib

import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Error, Keyword, Name

from conftest import ROOT
from dsl.diagnostics import SymError
from dsl.highlight import SymLexer, vocabulary
from dsl.parser import parse
from dsl.registry import NAMES

PROGRAMS = sorted([*ROOT.joinpath("programs").rglob("*.sym"), *ROOT.joinpath("tests").rglob("*.sym")])


def tokens(text):
    return list(SymLexer().get_tokens_unprocessed(text))


def position(text, offset):
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def invalid_character_at(text, name):
    """Where the language's lexer stops at a character it rejects (E0006), else None."""
    try:
        parse(text, name)
    except SymError as exc:
        d = exc.diagnostic
        if d.code == "E0006":
            return d.span.line, d.span.col
    return None


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: str(p.relative_to(ROOT)))
def test_error_tokens_only_where_the_language_rejects_a_character(path):
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n").removeprefix("\ufeff")
    errors = [position(text, i) for i, kind, _ in tokens(text) if kind in Error]
    rejected = invalid_character_at(text, str(path))
    if rejected is None:
        assert errors == []
    else:
        assert errors and errors[0] == rejected


def test_every_program_lexes_without_error_tokens_but_the_invalid_character_goldens():
    with_errors = {p.name for p in PROGRAMS if any(k in Error for _, k, _ in tokens(p.read_text()))}
    assert len(PROGRAMS) > 100 and all(n.startswith(("invalid_character", "cli_", "unterminated"))
                                       for n in with_errors)


def test_the_vocabulary_is_the_grammars_and_the_registrys():
    vocab = vocabulary()
    assert {"def", "shared", "option", "return", "for", "if", "and"} <= set(vocab["keywords"])
    assert {"<-", "**", "@", "->"} <= set(vocab["symbols"])
    kinds = {value: kind for _, kind, value in tokens("def f(x: f32[n]) -> f32:\n    return softmax(x)\n")}
    assert kinds["def"] in Keyword and kinds["f"] in Name.Function and kinds["f32"] in Keyword.Type
    assert kinds["softmax"] in Name.Builtin and kinds["x"] is Name
    for builtin in NAMES:                   # every builtin of the registry
        assert tokens(builtin)[0][1] in (Name.Builtin, Keyword.Type)


def test_registered_as_a_pygments_entry_point(tmp_path, monkeypatch):
    """Install the entry point pyproject.toml declares (as pip would) and
    look the lexer up by name and by file name."""
    project = tomllib.loads(ROOT.joinpath("pyproject.toml").read_text())["project"]
    lexers = project["entry-points"]["pygments.lexers"]
    dist = tmp_path / "sym-0.0.dist-info"
    dist.mkdir()
    dist.joinpath("METADATA").write_text("Metadata-Version: 2.1\nName: sym-highlight-test\nVersion: 0.0\n")
    dist.joinpath("entry_points.txt").write_text(
        "[pygments.lexers]\n" + "".join(f"{k} = {v}\n" for k, v in lexers.items()))
    monkeypatch.syspath_prepend(str(tmp_path))
    assert isinstance(get_lexer_by_name("sym"), SymLexer)
    assert isinstance(get_lexer_for_filename("model.sym"), SymLexer)


def test_the_vscode_grammar_is_generated_from_the_same_vocabulary():
    import json
    import re
    from dsl.highlight import textmate_grammar
    path = ROOT / "editors" / "vscode" / "syntaxes" / "sym.tmLanguage.json"
    assert json.loads(path.read_text()) == textmate_grammar(), \
        "regenerate: python -m dsl.highlight > editors/vscode/syntaxes/sym.tmLanguage.json"
    manifest = json.loads((ROOT / "editors" / "vscode" / "package.json").read_text())
    grammar = manifest["contributes"]["grammars"][0]
    assert (ROOT / "editors" / "vscode" / grammar["path"]).is_file()
    assert grammar["scopeName"] == textmate_grammar()["scopeName"]
    assert manifest["contributes"]["languages"][0]["extensions"] == [".sym"]
    for rule in textmate_grammar()["patterns"]:
        re.compile(rule["match"])
    keywords = next(r["match"] for r in textmate_grammar()["patterns"] if r.get("name") == "keyword.control.sym")
    assert all(re.fullmatch(keywords, k) for k in vocabulary()["keywords"] if k not in ("true", "false"))
