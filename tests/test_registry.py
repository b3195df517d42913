"""The builtin registry is complete: every entry has what each place it may
be called needs, and the docs table is the registry's."""
import re
from pathlib import Path

from dsl.builtins import HANDLERS
from dsl.hostargs import RULES
from dsl.registry import BUILTINS, markdown_table
from runtime.hostbuiltins import HOST_BUILTINS

DOCS = Path(__file__).parent.parent / "docs" / "language.md"


def test_every_def_builtin_lowers():
    lowered = {b.name for b in BUILTINS if b.sig is not None and not (b.unary or b.cast)}
    assert set(HANDLERS) == lowered


def test_every_host_builtin_runs():
    assert set(HOST_BUILTINS) == {b.name for b in BUILTINS if b.host_sig is not None}


def test_every_host_or_init_builtin_checks_its_arguments_with_a_usage():
    assert set(RULES) == {b.name for b in BUILTINS if b.usage is not None}
    for b in BUILTINS:
        assert b.usage is not None or b.host_sig is None, b.name


def test_every_builtin_is_callable_somewhere_and_documented():
    for b in BUILTINS:
        assert b.where and b.doc, b.name
    assert len({b.name for b in BUILTINS}) == len(BUILTINS)


def test_docs_table_is_the_registry():
    text = DOCS.read_text()
    m = re.search(r"<!-- generated from dsl/registry.py[^\n]*\n(.*?)\n<!-- end of the builtin table -->",
                  text, re.S)
    assert m, "docs/language.md lost its builtin table"
    assert m.group(1) == markdown_table(), \
        "regenerate the table in docs/language.md with dsl.registry.markdown_table()"
