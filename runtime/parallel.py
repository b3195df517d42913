"""Running a program on K MPI ranks, data parallel (dsl/parallel.py plans it).

A process started by `mpiexec -n K` (K > 1) finds its rank here. Each def
call then runs as its plan says: the rank's rows of the minibatch through
the compute function, ONE `Allreduce` (sum, in place) of a buffer holding
the gradients (and the returned means and sums), the sum divided by K for
means, then the apply function with the reduced gradients, the same on
every rank. mpi4py is imported only when the process runs under MPI.
"""
from __future__ import annotations

import hashlib
import math
import os
import sys
import time
from dataclasses import dataclass, replace

import numpy as np

from dsl.diagnostics import Note
from dsl import errors
from dsl.launch import PIDS_DIR         # set by `sym run --ranks`: where each rank writes its pid
from dsl.parallel import Plan, plan_def
from dsl.rewrites import run_pipeline
from dsl.types import NUMPY_DTYPE
from semantics.boundary import to_arg

# what MPI launchers put in each rank's environment: the world's size
SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")


def launched_ranks() -> int:
    """The number of ranks the launcher started (1 outside MPI)."""
    for name in SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 1


class World:
    """This process's place among the ranks, and the collectives sym uses."""

    def __init__(self):
        try:
            from mpi4py import MPI      # lazy: only a process under mpiexec loads MPI
        except ImportError:
            raise errors.mpi4py_missing(launched_ranks())
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        pids = os.environ.get(PIDS_DIR)
        if pids:
            with open(os.path.join(pids, f"rank-{self.rank}"), "w") as f:
                f.write(str(os.getpid()))

    def refuse_differences(self, digest: str, what: str) -> None:
        """Every rank gives the digest of what it runs; all refuse when one
        differs from rank 0's (each rank gets the same answer: nothing hangs)."""
        digests = self.comm.allgather(digest)
        odd = [r for r, d in enumerate(digests) if d != digests[0]]
        if odd:
            ranks = ", ".join(str(r) for r in odd)
            raise errors.ranks_differ('s' * (len(odd) > 1), ranks, 's' * (len(odd) == 1), what,
                                      [Note(f"digests: rank 0 {digests[0][:12]}, rank {odd[0]} {digests[odd[0]][:12]}")])

    def same_shared_values(self, executor, names) -> str:
        """The digest of the shared values, checked equal on every rank (the
        point of data parallel: a difference is a bug, reported as one)."""
        h = hashlib.sha256()
        for name in sorted(names):
            h.update(np.ascontiguousarray(executor.get_shared(name)).tobytes())
        mine = h.hexdigest()
        digests = self.comm.allgather(mine)
        odd = [r for r, d in enumerate(digests) if d != digests[0]]
        if odd:
            raise errors.shared_values_diverged(odd[0])
        return mine

    def allreduce(self, buffer: np.ndarray) -> None:
        self.comm.Allreduce(self.MPI.IN_PLACE, buffer, op=self.MPI.SUM)

    def allgather_rows(self, value: np.ndarray) -> np.ndarray:
        out = np.empty((self.size,) + value.shape, value.dtype)
        self.comm.Allgather(np.ascontiguousarray(value), out)
        return out.reshape((self.size * value.shape[0],) + value.shape[1:])

    def abort(self, message: str) -> None:
        """Stop every rank now: this one failed, and the others would wait
        for it in their next all-reduce forever. The host program is the
        same on every rank, so most errors happen on all of them at once:
        the other ranks give rank 0 a moment to report it (one message),
        and report their own error after it."""
        sys.stdout.flush()
        if self.rank:
            time.sleep(ABORT_GRACE_S)
        text = f"sym: rank {self.rank} of {self.size} failed:\n{message}\nsym: stopping the other ranks"
        pids = os.environ.get(PIDS_DIR)
        if pids:    # `sym run --ranks` prints it if MPI's forwarding loses it in the abort
            with open(os.path.join(pids, f"failed-{self.rank}"), "w") as f:
                f.write(text)
        print(text, file=sys.stderr, flush=True)
        time.sleep(FORWARD_S)       # MPI forwards stderr asynchronously: let it go out first
        self.comm.Abort(1)
        os._exit(1)         # MPICH's Abort may return to the caller once the others are stopped


ABORT_GRACE_S = 5.0
FORWARD_S = 0.3
_WORLD: list = []


def world() -> World | None:
    """The MPI world when this process is one of K > 1 ranks, else None."""
    if launched_ranks() <= 1:
        return None
    if not _WORLD:
        _WORLD.append(World())
    return _WORLD[0]


def digest(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(repr(p).encode())
        h.update(b"\0")
    return h.hexdigest()


# ---- the plans, compiled ---------------------------------------------------------------
@dataclass(frozen=True)
class Compiled:
    plan: Plan
    compute: object         # Function: outputs then gradients
    compute_grads: object   # Function: gradients only (the call's value is not used)
    apply: object           # Function or None


def compile_plans(checked, rewrites: bool = True) -> dict[str, Compiled]:
    """Each def's plan with its functions through the rewrite pipeline
    (the plan is made before rewrites, where the gradients are known)."""
    def rewrite(fn):
        return run_pipeline(fn)[0] if rewrites and fn is not None else fn
    out = {}
    for name, info in checked.defs.items():
        plan = plan_def(info.function, checked.gradients)
        n_out = len(plan.compute.outputs) - len(plan.grads)
        grads_only = replace(plan.compute, outputs=plan.compute.outputs[n_out:])
        out[name] = Compiled(plan, rewrite(plan.compute), rewrite(grads_only), rewrite(plan.apply))
    return out


# ---- calls ---------------------------------------------------------------------------------
class DataParallel:
    """Runs def calls as their plans say (`Interpreter.parallel`)."""

    def __init__(self, world: World, plans: dict[str, Compiled]):
        self.world, self.plans = world, plans
        self.bytes_reduced = 0      # all-reduced so far (the bench reads it)

    def call(self, interp, name, args, arg_spans, span, discard):
        c = self.plans[name]
        if c.plan.whole:
            return None             # the caller runs it whole
        fn = interp.functions[name]
        arrays = [to_arg(fn, p, a, arg_spans[i] if arg_spans else span)
                  for i, (p, a) in enumerate(zip(fn.params, args))]
        sizes = interp.bind(fn, name, arrays, arg_spans, span)
        rows, k = sizes[c.plan.batch], self.world.size
        if rows % k:
            if not c.plan.grads:
                return None         # nothing to reduce: run it whole, alike on every rank
            raise errors.uneven_minibatch(name, rows, c.plan.batch, k, span,
                                          [Note(f"under --ranks each rank takes {rows} / {k} rows of "
                                                f"{', '.join(f'`{p}`' for p in c.plan.sliced)}")])
        lo, hi = self.world.rank * rows // k, (self.world.rank + 1) * rows // k
        local = [a[lo:hi] if p.attr("name") in c.plan.sliced else a
                 for p, a in zip(fn.params, arrays)]
        if c.plan.first_row:        # the rank's draws start at its first row
            local.append(np.array(lo, np.int64))
        grads_only = discard and c.apply is not None and not (interp.nan_check or interp.call_hook)
        compute = c.compute_grads if grads_only else c.compute
        outs = interp.execute(compute, name, local, arg_spans, span)
        n_out = len(outs) - len(c.plan.grads)
        values, grads = list(outs[:n_out]), outs[n_out:]
        reduced = self.reduce(c.plan, compute, grads, values, sizes)
        if c.apply is not None:
            by_name = {p.attr("name"): a for p, a in zip(fn.params, arrays)}
            interp.execute(c.apply, name, reduced + [by_name[a] for a in c.plan.apply_args],
                           None, span)
        for i, kind in enumerate(c.plan.outputs[:n_out]):
            if kind == "rows":
                values[i] = self.world.allgather_rows(np.asarray(values[i]))
        return values

    def reduce(self, plan: Plan, compute, grads, values, sizes) -> list:
        """ONE all-reduce: the gradients, then the returned means and sums,
        packed in one buffer, summed in place; means divided by K. The
        returned values are rounded back to their own dtype."""
        shared = [i for i, k in enumerate(plan.outputs[:len(values)])
                  if k in ("mean", "sum", "mean_of_sum")]
        parts = [np.asarray(g) for g in grads] + [np.asarray(values[i]) for i in shared]
        if not parts:
            return []
        dtypes = {g.dtype for g in parts[:len(grads)]}
        dtype = dtypes.pop() if len(dtypes) == 1 else np.dtype(np.float64)
        buffer = np.concatenate([p.astype(dtype, copy=False).ravel() for p in parts])
        self.world.allreduce(buffer)
        self.bytes_reduced += buffer.nbytes
        means = [g.mean for g in plan.grads] + [plan.outputs[i] == "mean" for i in shared]
        out, at = [], 0
        for part, mean in zip(parts, means):
            piece = buffer[at:at + part.size].reshape(part.shape)
            at += part.size
            if mean:
                piece /= dtype.type(self.world.size)    # in place, in the buffer
            out.append(piece)
        for i, piece in zip(shared, out[len(grads):]):
            dtype = np.dtype(NUMPY_DTYPE[compute.outputs[i].type.dtype])
            values[i] = piece.astype(dtype)
            if plan.outputs[i] == "mean_of_sum":     # the whole sum / the whole count, as np.mean
                t, axes = plan.reduced_means[i]
                shape = t.concrete_shape(sizes)
                values[i] = values[i] / dtype.type(math.prod(shape[a] for a in axes))
        return out[:len(grads)]
