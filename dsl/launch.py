"""`sym run --ranks K`: start `mpiexec -n K` running this `sym run` on K ranks.

The ranks' output is passed through. When a rank dies (killed, or exiting
without a word), MPICH's launcher stops the others and prints a banner
naming a process id; it is replaced by one error naming the rank (each
rank writes its pid into a folder this launcher gives it: SYM_RANK_PIDS).
A rank that fails with an error reports it itself and stops the others
(runtime/parallel.py `World.abort`).
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from .diagnostics import Note
from . import errors

PIDS_DIR = "SYM_RANK_PIDS"
LAUNCHER = "SYM_MPIEXEC"        # another launcher, e.g. `srun` or `mpiexec -hosts a,b`
# MPICH's words around a rank that died, and MPI_Abort's own line
BANNER = re.compile(r"^(=+|=  .*|YOUR APPLICATION TERMINATED.*|This typically refers.*"
                    r"|Please see the FAQ.*|Abort\(\d+\) on node .*)$")


def mpiexec() -> list[str]:
    """The launcher: $SYM_MPIEXEC, else the mpiexec beside this Python (the
    `mpich` wheel's), else the first on PATH."""
    given = os.environ.get(LAUNCHER)
    if given:
        return shlex.split(given)
    beside = Path(sys.executable).parent / "mpiexec"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("mpiexec")
    if found:
        return [found]
    raise errors.no_mpi_launcher("ranks_needs_mpiexec", LAUNCHER=LAUNCHER)


def forwarded_args(argv: list[str]) -> list[str]:
    """The `sym run` arguments without `--ranks K`: what every rank runs."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--ranks":
            skip = True
        elif not a.startswith("--ranks="):
            out.append(a)
    return out


def launch(args, file: str, ranks: int) -> int:
    package_root = str(Path(__file__).resolve().parent.parent)
    with tempfile.TemporaryDirectory(prefix="sym-ranks-") as pids:
        env = dict(os.environ, **{PIDS_DIR: pids})
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        command = [*mpiexec(), "-n", str(ranks), sys.executable, "-m", "dsl.cli",
                   *forwarded_args(args.argv)]
        try:
            proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, bufsize=1)
        except OSError as exc:
            raise errors.no_mpi_launcher("cannot_start", command=command[0],
                                         reason=exc.strerror or exc, LAUNCHER=LAUNCHER)
        died: dict = {}
        reported: set = set()       # ranks whose failure message came through
        pumps = [threading.Thread(target=pump, args=(stream, out, died, reported))
                 for stream, out in ((proc.stdout, sys.stdout), (proc.stderr, sys.stderr))]
        for t in pumps:
            t.start()
        status = proc.wait()
        for t in pumps:
            t.join()
        print_lost_failures(pids, reported)
        if died.get("pid"):
            report_death(died, rank_of(pids, died["pid"]), ranks)
    return 0 if status == 0 else 1


def pump(stream, out, died: dict, reported: set) -> None:
    """Copy a rank stream line by line, keeping MPICH's banner out (what it
    says is kept in `died`)."""
    for line in stream:
        text = line.rstrip("\n")
        if BANNER.match(text):
            pid = re.search(r"PID (\d+)", text)
            code = re.search(r"EXIT CODE: (\d+)", text)
            if pid:
                died["pid"] = int(pid.group(1))
            if code:
                died["code"] = int(code.group(1))
            continue
        failed = FAILED.match(text)
        if failed:
            reported.add(int(failed.group(1)))
        out.write(line)
        out.flush()


FAILED = re.compile(r"sym: rank (\d+) of \d+ failed:$")


def print_lost_failures(pids_dir: str, reported: set) -> None:
    """A failing rank's message that MPI's stderr forwarding lost when the
    ranks were stopped (it is also written beside the rank's pid)."""
    for f in sorted(Path(pids_dir).glob("failed-*")):
        if int(f.name.split("-")[1]) not in reported:
            print(f.read_text(), file=sys.stderr, flush=True)


def rank_of(pids_dir: str, pid: int) -> int | None:
    for f in Path(pids_dir).glob("rank-*"):
        try:
            if int(f.read_text()) == pid:
                return int(f.name.split("-")[1])
        except (OSError, ValueError):
            continue
    return None


def report_death(died: dict, rank, ranks: int) -> None:
    code = died.get("code")
    how = f"exited with code {code}" if code is not None else "stopped"
    if code is not None and (code > 128 or code in (9, 15)):
        how = f"was killed by signal {code - 128 if code > 128 else code}"
    who = f"rank {rank}" if rank is not None else "a rank"
    print(str(errors.rank_died(who, ranks, died['pid'], how,
                               [Note("no rank waits for a rank that died: MPI stops them all")])),
          file=sys.stderr)
