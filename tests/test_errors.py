"""Golden tests of every diagnostic's exact text, and the error index.

Layout: `tests/errors/<category>/NAME.sym` holds a small bad program and
`NAME.expected` the exact text a user sees.

* Every category except `runtime/` is a *check* golden: the expected text is
  `"\\n\\n".join(d.render() for d in prog.diagnostics) + "\\n"` where
  `prog = check_source(text, "tests/errors/<category>/NAME.sym")` — errors
  and warnings, in the order `check_source` sorts them. A first line
  `# set: NAME=VALUE ...` passes option overrides, as `--set` would
  (`check_source(text, path, {"NAME": "VALUE"})`).
* `tests/errors/runtime/` holds *run* goldens: the program type-checks, and
  the expected text is the standard error of
  `sym run tests/errors/runtime/NAME.sym --backend numpy --no-progress`
  (run in-process through `dsl.cli.main`, from the repository root). A
  first line `# run: FLAGS` adds flags (`# run: --nan-check`). They must
  not need the MNIST files.

Files in a folder named `imported` are imported by goldens, not goldens.

`SYM_UPDATE_GOLDEN=1 pytest tests/test_errors.py` rewrites the .expected
files from the current output; read the diff before committing it.

The last tests keep docs/errors.md honest: every code that the source tree
can emit is documented there, and every documented code exists.
"""
from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import pytest

from dsl import cli
from dsl.program import check_source

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "errors"
RUN_CATEGORY = "runtime"
UPDATE = os.environ.get("SYM_UPDATE_GOLDEN") == "1"

# files under a folder named `imported` are what other goldens import, not cases
CASES = sorted(p for p in GOLDEN.rglob("*.sym") if "imported" not in p.relative_to(GOLDEN).parts)


def case_id(path: Path) -> str:
    return path.relative_to(GOLDEN).with_suffix("").as_posix()


def overrides(text: str) -> dict:
    first = text.split("\n", 1)[0]
    if not first.startswith("# set:"):
        return {}
    return dict(item.split("=", 1) for item in first[len("# set:"):].split())


def check_text(path: Path) -> str:
    rel = path.relative_to(REPO).as_posix()
    text = path.read_text(encoding="utf-8")
    prog = check_source(text, rel, overrides(text))
    return "\n\n".join(d.render() for d in prog.diagnostics) + "\n"


def run_text(path: Path, capsys, monkeypatch) -> tuple[int, str]:
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("SYM_DEBUG", raising=False)
    capsys.readouterr()
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    flags = first[len("# run:"):].split() if first.startswith("# run:") else []
    rc = cli.main(["run", path.relative_to(REPO).as_posix(), "--backend", "numpy", "--no-progress",
                   *flags])
    return rc, capsys.readouterr().err


def compare(path: Path, actual: str):
    expected_path = path.with_suffix(".expected")
    if UPDATE:
        expected_path.write_text(actual, encoding="utf-8")
        return
    if not expected_path.exists():
        pytest.fail(f"{expected_path.relative_to(REPO)} is missing; "
                    f"run with SYM_UPDATE_GOLDEN=1 to create it. Actual output:\n{actual}")
    expected = expected_path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(difflib.unified_diff(
            expected.splitlines(keepends=True), actual.splitlines(keepends=True),
            fromfile=f"{expected_path.relative_to(REPO)} (expected)", tofile="actual"))
        pytest.fail(f"diagnostics of {path.relative_to(REPO)} changed "
                    f"(SYM_UPDATE_GOLDEN=1 regenerates):\n{diff}", pytrace=False)


def test_enough_goldens():
    assert len(CASES) >= 40
    assert any(p.parent.name == "syntax" for p in CASES)


@pytest.mark.parametrize("path", CASES, ids=case_id)
def test_golden(path: Path, capsys, monkeypatch):
    if path.parent.name == RUN_CATEGORY:
        rc, actual = run_text(path, capsys, monkeypatch)
        assert check_source(path.read_text(encoding="utf-8"), "x.sym").errors == [], \
            "a runtime golden must pass the checker"
        assert rc == 1, f"`sym run` should fail with exit status 1, got {rc}:\n{actual}"
        assert "E9999" not in actual, actual
    else:
        actual = check_text(path)
        assert actual.strip(), "a golden program must produce at least one diagnostic"
        assert "Traceback" not in actual
    compare(path, actual)


# ---- docs/errors.md ------------------------------------------------------------
CODE = re.compile(r"\b([EW]\d{4})\b")
SOURCE_DIRS = ("dsl", "semantics", "runtime", "grammar")


def codes_in_source() -> dict[str, str]:
    """Every code the implementation can emit, with one file that does."""
    found: dict[str, str] = {}
    for folder in SOURCE_DIRS:
        for path in sorted((REPO / folder).rglob("*")):
            if path.suffix not in (".py", ".lark") or "__pycache__" in path.parts:
                continue
            for code in CODE.findall(path.read_text(encoding="utf-8")):
                found.setdefault(code, path.relative_to(REPO).as_posix())
    return found


def documented_codes() -> set[str]:
    text = (REPO / "docs" / "errors.md").read_text(encoding="utf-8")
    return set(re.findall(r"^#{2,4} +`?([EW]\d{4})\b", text, re.M))


def test_every_code_is_documented():
    missing = {c: f for c, f in codes_in_source().items() if c not in documented_codes()}
    assert not missing, ("codes used in the source but not documented in docs/errors.md "
                         f"(add a `### CODE` section with an example and its fix): {missing}")


def test_every_documented_code_exists():
    stale = documented_codes() - set(codes_in_source())
    assert not stale, f"docs/errors.md documents codes that nothing emits: {sorted(stale)}"


def test_docs_sections_have_example_and_fix():
    text = (REPO / "docs" / "errors.md").read_text(encoding="utf-8")
    sections = re.split(r"^#{2,4} +(?=`?[EW]\d{4}\b)", text, flags=re.M)[1:]
    for section in sections:
        code = CODE.match(section.lstrip("`")).group(1)
        assert "```" in section, f"{code} has no example"
        assert re.search(r"\bfix\b", section, re.I), f"{code} does not say how to fix it"


def test_goldens_use_documented_codes():
    documented = documented_codes()
    for path in GOLDEN.rglob("*.expected"):
        for code in re.findall(r"^(?:error|warning)\[([EW]\d{4})\]", path.read_text(), re.M):
            assert code in documented, f"{path.name}: {code}"
