"""The differential fuzzer: random programs must mean the same on every backend,
and no damaged program may crash sym.

1. `test_generated_programs_agree`: hypothesis draws well-typed programs
   (tests/fuzz_programs.py: shared values with update rules, defs that are
   random DAGs of elementwise ops with broadcasting, matmul, reductions,
   softmax, reshapes, transposes, slices, gathers, one_hot, casts, calls of
   other defs and `grad`, over shapes with the size variables `n` and `m`,
   and a host part calling each def for one or two bindings of the sizes).
   Each runs on numpy without rewrites (the reference), on numpy and on
   OpenCL; all must print the same values (within a tolerance for f32 and
   f64, exactly for integers and bools) and end in the same error (code,
   line, message and notes), or in none.
2. `test_mutants_never_crash`: programs from programs/, the runtime
   goldens, test_fuzz_checker's own programs and the generator, damaged one
   to three times (tokens and lines deleted, duplicated, swapped, odd
   characters put in). `sym check` and `sym run`
   (numpy; OpenCL for one in eight, compared with numpy) must end with
   status 0 or 1, never in E9999, a traceback, a signal or (without a loop)
   a hang.

Every program runs in a worker process (fuzz_programs.Worker), so a segfault
or a hang is seen and survived. CI runs 2,000 programs (15 % of them
differential), derandomized so a failure reproduces; about two minutes on
2 cores. By hand:

    SYM_FUZZ_EXAMPLES=20000   more programs
    SYM_FUZZ_SEED=random      new programs (or an integer seed) instead of CI's fixed ones
    SYM_FUZZ_AVOID=a,b        do not generate these KNOWN_DEFECTS categories
    SYM_FUZZ_WILD=1           raw log, sqrt and division: NaN and inf on purpose

A failure prints the program; the smallest one hypothesis finds belongs in a
golden test (tests/errors/) once the defect is fixed.
"""
from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, given, seed, settings, strategies as st

from conftest import opencl_skip_reason
from test_fuzz_checker import OWN_PROGRAMS
from fuzz_programs import (KNOWN_DEFECTS, Profile, Worker, compare_runs, corpus_sources, differ,
                           known_difference, known_failure, mutants, programs, summary)

EXAMPLES = int(os.environ.get("SYM_FUZZ_EXAMPLES", "2000"))
DIFFERENTIAL = max(1, EXAMPLES * 15 // 100)   # OpenCL builds each new def: ~0.25 s a program
MUTANTS = EXAMPLES - DIFFERENTIAL              # ~30 ms a program
OPENCL_SHARE = 8                               # one mutant in 8 also runs on OpenCL
SEED = os.environ.get("SYM_FUZZ_SEED")
# every category that once found a defect is generated: they are all fixed;
# SYM_FUZZ_AVOID=name,name leaves some out by hand
AVOID = frozenset(filter(None, os.environ.get("SYM_FUZZ_AVOID", "").split(",")))
PROFILE = Profile(avoid=AVOID,
                  wild=os.environ.get("SYM_FUZZ_WILD") == "1")
NO_OPENCL = opencl_skip_reason()
RAN = {"differential": 0, "mutants": 0}
# run-time errors `sym check` reports when it knows the values: an index out
# of range, an empty max, a negative integer power, a value too large, a
# number that does not fit, a host call that contradicts a signature
FOUND_BEFORE_RUNNING = {"E0603", "E0219", "E0220", "E0221", "E0218", "E0602", "E0606", "E0213"}


def fuzz(max_examples: int):
    """Fixed examples in CI (derandomized), or seeded / random by hand."""
    def wrap(test):
        test = settings(max_examples=max_examples, deadline=None, database=None, print_blob=True,
                        derandomize=SEED is None, suppress_health_check=list(HealthCheck))(test)
        if SEED not in (None, "random"):
            test = seed(int(SEED))(test)
        return test
    return wrap


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()


# ---- 1. generated programs: numpy and OpenCL agree ---------------------------------------
def run(worker, source: str, backend: str, rewrites: bool = True) -> dict:
    job = {"op": "run", "source": source, "backend": backend, "rewrites": rewrites}
    return worker.ask(job, timeout=120 if backend == "opencl" else 30)


@fuzz(DIFFERENTIAL)
@given(source=programs(PROFILE))
def test_generated_programs_agree(worker, source):
    RAN["differential"] += 1
    # the reference: numpy on the IR as the checker built it, before any rewrite
    reference = run(worker, source, "numpy", rewrites=False)
    error = reference.get("error") or {}
    # `sym check` also finds run-time errors whose values it knows (an index
    # that the call's shapes put out of range): both backends then stop there
    rejected = error.get("phase") == "check" and error.get("code") not in FOUND_BEFORE_RUNNING
    assert not rejected, f"generator bug: the checker rejects the program: {error}\n{source}"
    others = [run(worker, source, "numpy")] + ([] if NO_OPENCL else [run(worker, source, "opencl")])
    for other in others:
        why = compare_runs(reference, other, PROFILE)
        assert why is None, f"{why}\n\nprogram:\n{source}"


# ---- 2. damaged programs: sym never crashes --------------------------------------------------
CORPUS = {**corpus_sources(), **OWN_PROGRAMS}


def first_error(stderr: str) -> tuple | None:
    """(code, line) of the first error sym printed."""
    m = re.search(r"^error\[(E\d{4})\][^\n]*\n\s*--> [^\n]*?:(\d+):\d+", stderr, re.M)
    if m:
        return m.group(1), int(m.group(2))
    m = re.search(r"^error\[(E\d{4})\]", stderr, re.M)
    return (m.group(1), None) if m else None


def crash(result: dict, source: str) -> str | None:
    """Why a `sym` run ended badly: an internal error, a signal, a bad status, a hang."""
    if result.get("timeout"):
        if re.search(r"^\s*for ", source, re.M):
            return None     # a loop that runs long is the program's business
        return f"no answer within {result['timeout']} s (the program has no loop)"
    if result.get("internal") or result.get("died") is not None:
        return summary(result)
    if result.get("rc") not in (0, 1):
        return f"exit status {result.get('rc')}\n{result.get('err', '')[-2000:]}"
    return None


def sym(worker, argv: list[str], source: str, timeout: int) -> dict:
    return worker.ask({"op": "cli", "argv": argv, "source": source,
                       "backend": "opencl" if "opencl" in argv else "numpy"}, timeout=timeout)


def assert_no_crash(result: dict, source: str, what: str, origin: str):
    why = crash(result, source)
    if why and known_failure(PROFILE, source, result) is None:
        pytest.fail(f"`{what}` crashed: {why}\n\nprogram (a mutant of {origin}):\n{source}")


@fuzz(MUTANTS)
@given(case=mutants(CORPUS, PROFILE), on_opencl=st.integers(0, OPENCL_SHARE - 1))
def test_mutants_never_crash(worker, case, on_opencl):
    RAN["mutants"] += 1
    origin, source = case
    checked = sym(worker, ["check"], source, timeout=20)
    assert_no_crash(checked, source, "sym check", origin)
    if checked.get("rc") != 0:
        return
    ran = sym(worker, ["run", "--backend", "numpy", "--no-progress"], source, timeout=10)
    assert_no_crash(ran, source, "sym run --backend numpy", origin)
    if on_opencl or NO_OPENCL or crash(ran, source) or ran.get("timeout"):
        return
    other = sym(worker, ["run", "--backend", "opencl", "--no-progress"], source, timeout=60)
    assert_no_crash(other, source, "sym run --backend opencl", origin)
    if known_failure(PROFILE, source, other) or other.get("timeout"):
        return
    if known_difference(PROFILE, first_error(ran["err"]), first_error(other["err"])):
        return
    assert first_error(other["err"]) == first_error(ran["err"]), \
        f"the backends end differently:\nnumpy:\n{ran['err']}\nopencl:\n{other['err']}\n\nprogram:\n{source}"
    why = differ("f32", ran["out"], other["out"])
    assert why is None, f"the backends print differently: {why}\nnumpy:\n{ran['out']}\nopencl:\n" \
                        f"{other['out']}\n\nprogram:\n{source}"


# ---- the budget ----------------------------------------------------------------------------
def test_enough_programs_ran():
    """CI runs at least 2,000 generated programs in all (this file run whole)."""
    if 0 in RAN.values():
        pytest.skip("run with the two fuzz tests above (the whole file)")
    assert sum(RAN.values()) >= EXAMPLES, RAN
