"""The `sym` command: exit codes, output streams, flags."""
import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from dsl.cli import main

GOOD = "def f(x: f32[n]) -> f32:\n    return sum(x)\nrecord(\"loss\", f([1.0, 2.0]))\nrecord(\"loss\", 0.5)\nprint(f([1.0]))\n"


def write(tmp_path, text, name="p.sym"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_check_prints_signatures_and_exits_zero(tmp_path, capsys):
    path = write(tmp_path, "shared W: f32[3] = zeros()\n" + GOOD)
    assert main(["check", path]) == 0
    out = capsys.readouterr().out
    assert "shared W: f32[3]" in out and "def f(x: f32[n]) -> f32" in out


def test_check_errors_exit_one_with_diagnostic_on_stderr(tmp_path, capsys):
    path = write(tmp_path, "def f(x: f32[n]) -> f32:\n    return sum(y)\n")
    assert main(["check", path]) == 1
    err = capsys.readouterr().err
    assert "error[E0101]: unknown name `y`" in err and f"{path}:2:16" in err


def test_usage_errors_exit_two(tmp_path, capsys):
    assert main(["check", str(tmp_path / "missing.sym")]) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["run", "--no-such-flag", "x.sym"])
    assert e.value.code == 2


def test_run_prints_output_and_writes_metrics(tmp_path, capsys):
    path = write(tmp_path, GOOD)
    csv_path = tmp_path / "m.csv"
    assert main(["run", path, "--backend", "numpy", "--metrics", str(csv_path)]) == 0
    assert capsys.readouterr().out == "1.0\n"
    rows = list(csv.reader(csv_path.open()))
    assert rows[0] == ["name", "step", "value"] and rows[1][0] == "loss" and float(rows[1][2]) == 3.0
    assert len(rows) == 3


def test_runtime_error_is_located_without_traceback(tmp_path):
    # `v`'s length is not known to the checker (3 before the loop, 2 in it): a run-time error
    path = write(tmp_path, "def f(x: f32[3]) -> f32:\n    return sum(x)\nv = [1.0, 2.0, 3.0]\n"
                 "for i in range(1):\n    v = [1.0, 2.0]\nprint(f(v))\n")
    proc = subprocess.run([sys.executable, "-m", "dsl.cli", "run", path, "--backend", "numpy"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "error[E0604]" in proc.stderr and ":6:9" in proc.stderr


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "check", "explain", "trace", "devices"):
        assert command in out


def test_verbose_reports_backend(tmp_path, capsys):
    path = write(tmp_path, "print(1)\n")
    assert main(["run", path, "--backend", "numpy", "-v"]) == 0
    assert "backend numpy" in capsys.readouterr().err


def test_verbose_reports_calls_computing_only_updates(tmp_path, capsys):
    path = write(tmp_path, "shared c: f32 = zeros()\n\ndef bump() -> f32:\n    c <- c + 1.0\n"
                           "    return c\n\nbump()\nbump()\nprint(c)\n")
    assert main(["run", path, "--backend", "numpy", "-v"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "2.0"
    assert captured.err.count("`bump` is called as a statement (line 7): its value is not used, "
                              "so only its updates are computed") == 1


def test_plot_without_matplotlib_is_a_clear_error(tmp_path, capsys, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    path = write(tmp_path, GOOD)
    assert main(["run", path, "--backend", "numpy", "--plot", str(tmp_path / "p.png")]) == 1
    assert "matplotlib" in capsys.readouterr().err


def test_fallback_to_numpy_is_announced(monkeypatch, capsys):
    import dsl.api
    import runtime.opencl.device
    monkeypatch.setattr(runtime.opencl.device, "opencl_available", lambda: False)
    monkeypatch.setattr(dsl.api, "_FALLBACK_ANNOUNCED", False)
    monkeypatch.delenv("SYM_BACKEND", raising=False)
    assert dsl.api.choose_backend(None) == "numpy"
    assert "no OpenCL device found, running on the numpy backend" in capsys.readouterr().err


# ---- usage errors, every file, standard input -------------------------------------------------
PROGRAM_WITH_OPTION = "option rate = 0.5\n\ndef train(x: f32[n]) -> f32:\n    return sum(x) * rate\n" \
                      "\nprint(train([1.0, 2.0]))\n"


@pytest.mark.parametrize("argv, env, code", [
    (["run", "{p}"], {"SYM_BACKEND": "cuda"}, "E0901"),
    (["explain", "{p}", "--after", "bogus"], {}, "E0903"),
    (["run", "{p}", "--backend", "numpy", "--device", "9:9"], {}, "E0904"),
    (["explain", "{p}", "--backend", "numpy", "--device", "cpu"], {}, "E0904"),
    (["run", "{p}", "--backend", "numpy", "--set", "nope=1"], {}, "E0702"),
    (["run", "{p}", "--backend", "numpy", "--set", "rate=fast"], {}, "E0703"),
    (["check", "{p}", "--set", "rate=fast"], {}, "E0703"),
    (["run", "{p}", "--set", "rate"], {}, "--set expects NAME=VALUE, got 'rate'"),
    (["run", "{p}", "--set", "=1"], {}, "--set expects NAME=VALUE, got '=1'"),
])
def test_usage_errors_exit_two_and_say_why(tmp_path, capsys, monkeypatch, argv, env, code):
    path = write(tmp_path, PROGRAM_WITH_OPTION)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main([a.format(p=path) for a in argv]) == 2
    captured = capsys.readouterr()
    assert code in captured.err and "Traceback" not in captured.err
    assert argv[0] == "check" or captured.out == ""


def test_bad_flags_exit_two(capsys):
    for argv in (["run", "x.sym", "--no-such-flag"], ["trace", "x.sym", "--calls", "0"],
                 ["run", "x.sym", "--backend", "cuda"], ["check"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2, argv
    assert "--calls: expected a positive integer, got '0'" in capsys.readouterr().err


def test_a_program_error_still_exits_one(tmp_path):
    path = write(tmp_path, "option rate = 0.5\nprint(rate + y)\n")
    assert main(["run", path, "--backend", "numpy", "--set", "nope=1"]) == 1


def test_check_checks_every_file_and_reports_the_missing_one(tmp_path, capsys):
    good = write(tmp_path, "print(1)\n", "a.sym")
    bad = write(tmp_path, "print(y)\n", "b.sym")
    missing = str(tmp_path / "missing.sym")
    assert main(["check", good, missing, bad]) == 2
    err = capsys.readouterr().err
    assert f"{good}: ok" in err and f"{bad}: failed (1 error(s)" in err
    assert f"sym check: error: no such file: {missing}" in err
    assert err.index(good) < err.index(missing) < err.index(bad)
    assert main(["check", good, bad]) == 1


def test_device_with_the_numpy_backend_is_refused_not_ignored(tmp_path, capsys, monkeypatch):
    path = write(tmp_path, "print(1)\n")
    assert main(["run", path, "--backend", "numpy", "--device", "gpu"]) == 2
    err = capsys.readouterr().err
    assert "error[E0904]: device `gpu` names an OpenCL device, but the backend is numpy" in err
    monkeypatch.setenv("SYM_DEVICE", "9:9")     # a default for OpenCL: numpy ignores it
    assert main(["run", path, "--backend", "numpy"]) == 0


def test_trace_of_an_unknown_def_is_an_error_with_a_suggestion(tmp_path, capsys):
    path = write(tmp_path, PROGRAM_WITH_OPTION)
    assert main(["trace", path, "--def", "trian"]) == 2
    captured = capsys.readouterr()
    assert captured.err == (f"sym trace: error: {path} has no def `trian` "
                            "(did you mean `train`?; its defs: train)\n")
    assert captured.out == ""
    assert main(["explain", path, "trian"]) == 2
    assert "did you mean `train`?" in capsys.readouterr().err


def stdin_of(monkeypatch, text: str):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode("utf-8"))))


def test_dash_reads_the_program_from_standard_input(capsys, monkeypatch):
    stdin_of(monkeypatch, PROGRAM_WITH_OPTION)
    assert main(["run", "-", "--backend", "numpy", "--set", "rate=2"]) == 0
    assert capsys.readouterr().out == "6.0\n"
    stdin_of(monkeypatch, "x = 1\r\nprint(x +)\r\n")
    assert main(["check", "-"]) == 1
    err = capsys.readouterr().err
    assert " --> <stdin>:2:10\n" in err and "<stdin>: failed" in err
    stdin_of(monkeypatch, PROGRAM_WITH_OPTION)
    assert main(["explain", "-", "train"]) == 0
    assert "train" in capsys.readouterr().out
    stdin_of(monkeypatch, PROGRAM_WITH_OPTION)
    assert main(["trace", "-", "--def", "train"]) == 0
    assert "call 1 of train(x: f32[2])" in capsys.readouterr().out


def test_subcommand_help_has_examples(capsys):
    for command in ("run", "check", "explain", "trace"):
        with pytest.raises(SystemExit) as e:
            main([command, "--help"])
        assert e.value.code == 0
        out = capsys.readouterr().out
        assert "examples:" in out and "`-`: standard input" in out, command


# ---- Ctrl-C and library warnings ------------------------------------------------------------
def test_interrupt_while_running_prints_one_line(tmp_path, capsys, monkeypatch):
    import dsl.cli

    def interrupted(args):
        raise KeyboardInterrupt
    monkeypatch.setitem(dsl.cli.COMMANDS, "run", interrupted)
    assert main(["run", "x.sym"]) == 130
    assert capsys.readouterr().err == "sym: interrupted\n"


def test_ctrl_c_in_a_running_program_exits_130_without_traceback(tmp_path):
    import signal
    path = write(tmp_path, 'print("started")\nfor i in range(100000):\n    for j in range(100000):\n'
                           '        _x = i + j\n')
    proc = subprocess.Popen([sys.executable, "-u", "-m", "dsl.cli", "run", path, "--backend", "numpy"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout.readline() == "started\n"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err == "sym: interrupted\n"


INTERRUPT_AT_IMPORT = """
import os, signal, sys
class InterruptAtImport:          # Ctrl-C while `dsl` is being imported
    def find_spec(self, name, path=None, target=None):
        if name == "dsl.program":
            os.kill(os.getpid(), signal.SIGINT)
sys.meta_path.insert(0, InterruptAtImport())
sys.argv = ["sym", "check", "x.sym"]
from symcli import main           # the `sym` command's entry point
sys.exit(main())
"""


def test_ctrl_c_while_starting_up_exits_130_without_traceback():
    proc = subprocess.run([sys.executable, "-c", INTERRUPT_AT_IMPORT], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 130 and proc.stderr == "sym: interrupted\n"


def test_library_warnings_do_not_reach_the_terminal(tmp_path):
    # numpy warns "Mean of empty slice"; sym's answer is the NaN itself
    # (and --nan-check names the line)
    path = write(tmp_path, "print(mean(zeros((0,))))\nprint(exp(f32([100.0])), f32([1e38]) * 10.0)\n")
    proc = subprocess.run([sys.executable, "-W", "default", "-m", "dsl.cli", "run", path,
                           "--backend", "numpy"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout == "nan\n[inf] [inf]\n"
    assert proc.stderr == ""


def test_the_interrupt_message_follows_an_erased_progress_bar(tmp_path, monkeypatch):
    import importlib
    from runtime.host import Interpreter
    bar_module = importlib.import_module("runtime.data.progress")

    class Terminal(io.StringIO):
        def isatty(self):
            return True
    calls, real_call = [], Interpreter.call_def

    def call_def(self, *args, **kwargs):      # Ctrl-C in the loop body, the bar drawn
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_call(self, *args, **kwargs)
    monkeypatch.setattr(Interpreter, "call_def", call_def)
    monkeypatch.setattr(bar_module, "REDRAW_SECONDS", 0)
    monkeypatch.setattr(sys, "stderr", Terminal())
    path = write(tmp_path, "def f(x: f32[n, 3]) -> f32:\n    return sum(x)\n\n"
                           "for x, y in batches((zeros((100, 3)), zeros((100,))), 10):\n"
                           "    f(x)\n")
    assert main(["run", path, "--backend", "numpy"]) == 130
    err = sys.stderr.getvalue()
    assert "2/10" in err and err.split("\x1b[2K")[-1].endswith("\rsym: interrupted\n")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_an_endless_file_is_refused_not_read_forever(capsys):
    assert main(["check", "/dev/zero"]) == 2
    assert "/dev/zero is longer than 64 MiB: not a .sym program" in capsys.readouterr().err


@pytest.mark.parametrize("fault, shown", [
    (KeyError("x"), "error[E9999]: internal error: KeyError: 'x'\n"
                    "  = help: this is a bug in sym; rerun with SYM_DEBUG=1 for the traceback\n"),
    (MemoryError("cannot allocate"), "error[E0221]: out of memory: cannot allocate\n"
                                     "  = help: use smaller sizes; a value must fit in memory at once\n"),
])
def test_a_failure_outside_the_program_renders_like_every_diagnostic(tmp_path, monkeypatch, capsys,
                                                                   fault, shown):
    """An internal error or a MemoryError has no span: its help line is
    indented as any other diagnostic without one (dsl/diagnostics.render)."""
    def broken(*args, **kwargs):
        raise fault
    monkeypatch.setattr("dsl.cli.check_source", broken)
    monkeypatch.delenv("SYM_DEBUG", raising=False)
    assert main(["check", write(tmp_path, GOOD)]) == 1
    assert capsys.readouterr().err == shown
