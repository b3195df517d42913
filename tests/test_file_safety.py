"""No lost file: `save()`, `--metrics` and `--plot` write atomically.

A kill -9 midway, a full disk or a failing write leaves the previous file
intact; a device, FIFO, directory, socket or the program's own source is
never replaced; a symlink's target is replaced and the link kept; the file's
mode is kept; temp files of killed writers are cleaned by the next write.
"""
import csv
import os
import random
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from dsl.cli import main
from runtime.data import DataError, Metrics, checkpoint

# Runs `sym` with os.fsync replaced by a stall that says so on stderr: the
# temp file is then fully written but not yet renamed, the worst moment.
STALL_IN_FSYNC = """
import os, sys, time
def stall(fd):
    print("STALLED", file=sys.stderr, flush=True)
    time.sleep(120)
os.fsync = stall
from dsl.cli import main
sys.exit(main(sys.argv[1:]))
"""


def sym_process(*argv, stall=False):
    code = STALL_IN_FSYNC if stall else "import sys; from dsl.cli import main; sys.exit(main())"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code, *map(str, argv)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def kill_when_stalled(proc):
    line = proc.stderr.readline()
    assert line == "STALLED\n", line + proc.stderr.read()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()


def temps(path):
    return sorted(p.name for p in path.parent.glob(f".{path.name}.*.tmp"))


def write_program(tmp_path, text, name="p.sym"):
    path = tmp_path / name
    path.write_text(text)
    return path


def run(program, *flags):
    return main(["run", str(program), "--backend", "numpy", "--no-progress", *map(str, flags)])


def saving(path, value="ones()", size=3):
    return f"shared W: f32[{size}] = {value}\nsave(\"{path}\")\n"


# ---------------------------------------------------------------- kill -9

def test_kill_during_save_keeps_the_old_checkpoint(tmp_path):
    target = tmp_path / "m.npz"
    program = write_program(tmp_path, saving(target, "full(2.0)"))
    checkpoint.save(target, {"W": np.ones(3, np.float32)})
    before = target.read_bytes()
    kill_when_stalled(sym_process("run", program, "--backend", "numpy", stall=True))
    assert target.read_bytes() == before
    assert np.array_equal(checkpoint.load(target)["W"], np.ones(3))
    assert len(temps(target)) == 1  # what the killed writer left
    assert run(program) == 0
    assert temps(target) == []
    assert np.array_equal(checkpoint.load(target)["W"], np.full(3, 2.0))


def test_kill_during_metrics_keeps_the_old_csv(tmp_path):
    target = tmp_path / "m.csv"
    target.write_text("name,step,value\ncost,0,9.0\n")
    program = write_program(tmp_path, "record(\"cost\", 1.0)\nrecord(\"cost\", 0.5)\n")
    kill_when_stalled(sym_process("run", program, "--backend", "numpy", "--metrics", target,
                                  stall=True))
    assert list(csv.reader(target.open())) == [["name", "step", "value"], ["cost", "0", "9.0"]]
    assert len(temps(target)) == 1
    assert run(program, "--metrics", target) == 0
    assert temps(target) == []
    assert list(csv.reader(target.open()))[1:] == [["cost", "0", "1.0"], ["cost", "1", "0.5"]]


def test_kill_at_random_moments_of_a_saving_loop(tmp_path):
    """Kills that land anywhere: before, inside or between writes."""
    target = tmp_path / "m.npz"
    program = write_program(tmp_path, "shared W: f32[500, 1000] = full(3.0)\n"
                                      f"for i in range(100000):\n    save(\"{target}\")\n")
    rng = random.Random(0)
    for _ in range(3):
        last = mtime(target)
        proc = sym_process("run", program, "--backend", "numpy")
        deadline = time.monotonic() + 60
        while mtime(target) == last and time.monotonic() < deadline:  # a first save of this run
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.2))
        proc.kill()
        proc.wait(timeout=30)
        proc.stderr.close()
        W = checkpoint.load(target)["W"]
        assert W.shape == (500, 1000) and (W == 3.0).all()
    checkpoint.save(target, {"W": np.zeros(2)})
    assert temps(target) == []


def mtime(path):
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def test_temp_of_a_live_writer_is_not_removed(tmp_path):
    target = tmp_path / "m.npz"
    writer = subprocess.Popen(["sleep", "60"])
    try:
        live = tmp_path / f".m.npz.{writer.pid}-0123abcd.tmp"
        live.write_bytes(b"half written")
        checkpoint.save(target, {"W": np.zeros(2)})
        assert live.exists()
    finally:
        writer.kill()
        writer.wait()


def test_failing_write_removes_its_temp_and_keeps_the_old_file(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure
    target = tmp_path / "p.png"
    target.write_bytes(b"old png")

    def full_disk(fig, f, **kwargs):
        f.write(b"\x89PNG half")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(Figure, "savefig", full_disk)
    m = Metrics()
    m.record("cost", 1.0)
    with pytest.raises(DataError, match="cannot write plot"):
        m.plot(target)
    assert target.read_bytes() == b"old png"
    assert temps(target) == []
    target.unlink()
    with pytest.raises(DataError):
        m.plot(target)
    assert not target.exists()  # no 0-byte or half PNG


# ---------------------------------------------------------------- targets that are not files

def refused(capsys, program, *flags, code="E0610"):
    assert run(program, *flags) == 1
    err = capsys.readouterr().err
    assert f"error[{code}]" in err and "Traceback" not in err
    return err


def test_fifo_is_not_replaced(tmp_path, capsys):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert "is a FIFO" in refused(capsys, write_program(tmp_path, saving(fifo)))
    program = write_program(tmp_path, "record(\"cost\", 1.0)\n", "q.sym")
    refused(capsys, program, "--metrics", fifo)
    refused(capsys, program, "--plot", fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_directory_is_not_replaced(tmp_path, capsys):
    folder = tmp_path / "d"
    folder.mkdir()
    assert "is a directory" in refused(capsys, write_program(tmp_path, saving(folder)))
    program = write_program(tmp_path, "record(\"cost\", 1.0)\n", "q.sym")
    refused(capsys, program, "--metrics", folder)
    refused(capsys, program, "--plot", folder)
    assert folder.is_dir() and list(folder.iterdir()) == []


def test_socket_is_not_replaced(tmp_path, capsys):
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        assert "is a socket" in refused(capsys, write_program(tmp_path, saving(path)))
        assert stat.S_ISSOCK(os.lstat(path).st_mode)


def test_null_device_is_not_replaced(tmp_path, capsys):
    assert "/dev/null is a character device" in refused(capsys, write_program(tmp_path, saving("/dev/null")))
    program = write_program(tmp_path, "record(\"cost\", 1.0)\n", "q.sym")
    refused(capsys, program, "--metrics", "/dev/null")
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)
    assert not list(Path("/dev").glob(".null.*.tmp"))


def test_symlink_is_followed_and_kept(tmp_path):
    real = tmp_path / "real.npz"
    checkpoint.save(real, {"W": np.zeros(3, np.float32)})
    link = tmp_path / "link.npz"
    link.symlink_to(real.name)
    assert run(write_program(tmp_path, saving(link, "full(5.0)"))) == 0
    assert link.is_symlink() and os.readlink(link) == real.name
    assert np.array_equal(checkpoint.load(real)["W"], np.full(3, 5.0))
    assert sorted(os.listdir(tmp_path)) == ["link.npz", "p.sym", "real.npz"]


def test_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "m.csv"
    link.symlink_to("target.csv")
    assert run(write_program(tmp_path, "record(\"cost\", 1.0)\n"), "--metrics", link) == 0
    assert link.is_symlink() and (tmp_path / "target.csv").read_text().startswith("name,step")


# ---------------------------------------------------------------- modes

def test_mode_of_an_existing_file_is_kept(tmp_path):
    target = tmp_path / "m.npz"
    checkpoint.save(target, {"W": np.zeros(3)})
    os.chmod(target, 0o640)
    checkpoint.save(target, {"W": np.ones(3)})
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    csv_path = tmp_path / "m.csv"
    csv_path.write_text("")
    os.chmod(csv_path, 0o604)
    Metrics().write_csv(csv_path)
    assert stat.S_IMODE(os.stat(csv_path).st_mode) == 0o604


def test_new_file_gets_the_umask_default(tmp_path):
    old = os.umask(0o027)
    try:
        checkpoint.save(tmp_path / "m.npz", {"W": np.zeros(3)})
        Metrics().write_csv(tmp_path / "m.csv")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m.npz").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(tmp_path / "m.csv").st_mode) == 0o640


# ---------------------------------------------------------------- the program's own source

def test_save_onto_the_program_is_refused(tmp_path, capsys):
    program = tmp_path / "p.sym"
    text = saving(program)
    program.write_text(text)
    err = refused(capsys, program, code="E0611")
    assert f"{program}:2:1" in err  # located at the save call
    assert program.read_text() == text


@pytest.mark.parametrize("flag", ["--metrics", "--plot"])
def test_metrics_onto_the_program_is_refused_before_it_runs(tmp_path, capsys, flag):
    text = "print(\"ran\")\nrecord(\"cost\", 1.0)\n"
    program = write_program(tmp_path, text)
    other_spelling = tmp_path / "." / "p.sym"
    assert run(program, flag, other_spelling) == 1
    captured = capsys.readouterr()
    assert "error[E0611]" in captured.err and "own source" in captured.err
    assert captured.out == ""   # refused before the program ran
    assert program.read_text() == text


def test_metrics_onto_a_link_to_the_program_is_refused(tmp_path, capsys):
    program = write_program(tmp_path, "record(\"cost\", 1.0)\n")
    (tmp_path / "m.csv").symlink_to("p.sym")
    refused(capsys, program, "--metrics", tmp_path / "m.csv", code="E0611")
    assert program.read_text() == "record(\"cost\", 1.0)\n"


# ---------------------------------------------------------------- both errors shown

def test_program_error_and_write_error_are_both_shown(tmp_path, capsys):
    # the zero comes from a loop, so the error is one of the run, not of `sym check`
    program = write_program(tmp_path, "record(\"cost\", 1.0)\ncount = 1\nfor i in range(1):\n"
                            "    count = count - 1\nprint(1 / count)\n")
    missing = tmp_path / "no" / "m.csv"
    assert run(program, "--metrics", missing, "--plot", tmp_path / "no" / "p.png") == 1
    err = capsys.readouterr().err
    assert "error[E0606]: division by zero" in err
    assert f"error[E0601]: {missing}: cannot write metrics" in err
    assert "cannot write plot" in err or "matplotlib" in err
    assert err.index("E0606") < err.index("E0601")  # the program's error first


def test_interrupt_and_write_error_are_both_shown(tmp_path, capsys, monkeypatch):
    from runtime.host import Interpreter

    def interrupted(self):
        raise KeyboardInterrupt
    monkeypatch.setattr(Interpreter, "run", interrupted)
    program = write_program(tmp_path, "record(\"cost\", 1.0)\n")
    assert run(program, "--metrics", tmp_path / "no" / "m.csv") == 130
    err = capsys.readouterr().err
    assert "cannot write metrics" in err and "sym: interrupted" in err


def test_opencl_gives_the_same_refusal(capsys, monkeypatch, backend):
    golden = ROOT / "tests" / "errors" / "runtime" / "file_save_onto_program"
    monkeypatch.chdir(ROOT)
    assert main(["run", str(golden.with_suffix(".sym").relative_to(ROOT)), "--backend", backend,
                 "--no-progress"]) == 1
    assert capsys.readouterr().err == golden.with_suffix(".expected").read_text()


# ---------------------------------------------------------------- a full disk

@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs; mounting one needs root (CAP_SYS_ADMIN)."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_full_disk_keeps_the_old_checkpoint(small_disk, tmp_path, capsys):
    target = small_disk / "m.npz"
    checkpoint.save(target, {"W": np.ones(3, np.float32)})
    before = target.read_bytes()
    program = write_program(tmp_path, saving(target, size=40000))
    assert run(program) == 1
    err = capsys.readouterr().err
    assert f"error[E0601]: {target}: cannot write checkpoint (No space left on device)" in err
    assert "Traceback" not in err
    assert target.read_bytes() == before
    assert os.listdir(small_disk) == ["m.npz"]


def test_full_disk_keeps_the_old_metrics(small_disk, tmp_path, capsys):
    target = small_disk / "m.csv"
    target.write_text("name,step,value\ncost,0,9.0\n")
    program = write_program(tmp_path, "for i in range(8000):\n    record(\"cost\", 1.0)\n")
    assert run(program, "--metrics", target) == 1
    err = capsys.readouterr().err
    assert f"error[E0601]: {target}: cannot write metrics (No space left on device)" in err
    assert target.read_text() == "name,step,value\ncost,0,9.0\n"
    assert os.listdir(small_disk) == ["m.csv"]
