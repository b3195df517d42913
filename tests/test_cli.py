"""The `sym` command: exit codes, output streams, flags."""
import csv
import subprocess
import sys

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
