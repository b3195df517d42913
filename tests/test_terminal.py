"""`sym` as a person sees it: run in a pseudo-terminal, diagnostics are in
colour and training loops show a progress bar; piped, the same output is
plain text and the bar never reaches stdout."""
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios

import pytest

from conftest import ROOT
from dsl import terminal
from dsl.diagnostics import error, render

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")

BAD = "def f(x: f32[n]) -> f32:\n    return sum(y)\n"
TRAIN = ("def f(x: f32[n, 3]) -> f32:\n    return sum(x)\n\n"
         "for epoch in range(1, 3):\n"
         "    for x, y in batches((zeros((40, 3)), zeros((40,))), 10):\n"
         "        record(\"cost\", f(x))\n"
         "    print(\"epoch\", epoch, \"done\")\n")
ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
RED_ERROR = "\x1b[1;31merror[E0101]"
CYAN_HELP = "\x1b[1;36m= help:"


def env(**extra):
    out = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS")}
    out.update(TERM="xterm-256color", PYTHONPATH=str(ROOT), **extra)
    return out


def sym(*args):
    return [sys.executable, "-m", "dsl.cli", *args]


def in_terminal(argv, stdout_piped=False, **extra_env):
    """Run `argv` with stderr (and stdout unless piped) on a 120-column
    pseudo-terminal: (what the terminal showed, stdout when piped, rc)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stderr=slave,
                            stdout=subprocess.PIPE if stdout_piped else slave,
                            cwd=ROOT, env=env(**extra_env))
    os.close(slave)
    shown = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:     # EIO: the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    piped = proc.stdout.read().decode() if stdout_piped else None
    rc = proc.wait(timeout=60)
    os.close(master)
    return shown.decode().replace("\r\n", "\n"), piped, rc


@pytest.fixture
def bad(tmp_path):
    path = tmp_path / "bad.sym"
    path.write_text(BAD)
    return str(path)


@pytest.fixture
def train(tmp_path):
    path = tmp_path / "train.sym"
    path.write_text(TRAIN)
    return str(path)


def test_check_in_a_terminal_is_in_colour(bad):
    shown, _, rc = in_terminal(sym("check", bad))
    assert rc == 1
    assert RED_ERROR in shown and CYAN_HELP in shown
    assert "\x1b[1;31m                ^\x1b[0m" in shown       # the caret, red
    assert "error[E0101]: unknown name `y`" in ESCAPE.sub("", shown)


def test_warnings_of_a_run_are_yellow(tmp_path):
    path = tmp_path / "warn.sym"
    path.write_text("def relu(x: f32) -> f32:\n    return x\n\nprint(relu(-1.0))\n")
    shown, _, rc = in_terminal(sym("run", str(path), "--backend", "numpy"))
    assert rc == 0 and "-1.0" in shown
    assert "\x1b[1;33mwarning[W0101]" in shown             # the warning, yellow
    assert re.search(r"\x1b\[1;33m +\^{4}\x1b\[0m", shown)   # and its caret


def test_no_color_and_color_never_give_plain_text_in_a_terminal(bad):
    for argv, extra in ((sym("check", bad), {"NO_COLOR": "1"}),
                        (sym("check", "--color", "never", bad), {})):
        shown, _, rc = in_terminal(argv, **extra)
        assert rc == 1 and "\x1b[" not in shown and "error[E0101]" in shown


def test_piped_output_is_plain_and_color_always_colours_it(bad):
    plain = subprocess.run(sym("check", bad), capture_output=True, text=True, cwd=ROOT, env=env())
    assert "\x1b[" not in plain.stderr and "error[E0101]" in plain.stderr
    forced = subprocess.run(sym("check", "--color", "always", bad), capture_output=True, text=True,
                            cwd=ROOT, env=env(NO_COLOR="1"))
    assert RED_ERROR in forced.stderr
    assert ESCAPE.sub("", forced.stderr) == plain.stderr    # the same text, coloured


def test_run_in_a_terminal_shows_the_bar_and_erases_it(train):
    shown, _, rc = in_terminal(sym("run", train, "--backend", "numpy"))
    assert rc == 0
    assert "epoch 1" in shown and "epoch 2" in shown and "4/4" in shown
    assert "batches/s" in shown and "ETA" in shown and "cost 0" in shown
    assert "epoch 1 done" in shown and "epoch 2 done" in shown
    after_last_erase = shown.split("\x1b[2K")[-1]      # the bar's line erased, then
    assert ESCAPE.sub("", after_last_erase).strip() == "epoch 2 done"   # the output alone


def test_piped_stdout_gets_only_the_program_output(train):
    shown, piped, rc = in_terminal(sym("run", train, "--backend", "numpy"), stdout_piped=True)
    assert rc == 0
    assert piped == "epoch 1 done\nepoch 2 done\n"       # no bar, no escapes
    assert "batches/s" in shown                         # the bar went to the terminal (stderr)


def test_no_bar_when_stderr_is_not_a_terminal(train):
    proc = subprocess.run(sym("run", train, "--backend", "numpy"), capture_output=True,
                          text=True, cwd=ROOT, env=env())
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout == "epoch 1 done\nepoch 2 done\n"


def test_colour_is_the_plain_rendering_with_styles():
    d = error("E0101", "unknown name `y`", None, "did you mean `x`?").diagnostic
    text = terminal.styled(render(d))
    assert text.plain == render(d)
    assert [s.style for s in text.spans][:1] == ["bold red"]
