"""Shared values that fit the physical memory but not the memory a process
may take now are E0221 when allocated, not an internal error."""
import subprocess
import sys
import textwrap

from conftest import ROOT

SCRIPT = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    from dsl import cli
    sys.exit(cli.main(["run", "-", "--backend", "numpy"]))
""")


def test_shared_values_beyond_the_memory_limit_are_e0221():
    source = "shared W: f32[1073741824] = zeros()\nprint(1)\n"     # 4 GiB
    done = subprocess.run([sys.executable, "-c", SCRIPT], input=source, capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error[E0221]: out of memory allocating shared `W`"), done.stderr
    assert "<stdin>:1:11" in done.stderr
