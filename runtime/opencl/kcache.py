"""The on-disk kernel cache: built programs kept between processes, each
file verified by its SHA-256 before it is used.

pocl compiles into a folder of its own (POCL_CACHE_DIR): the program's
bitcode at build time and a shared object per kernel at its first launch,
which it later loads without any check, so a damaged file there aborts
every later process. sym therefore gives pocl a fresh *staging* folder per
process and keeps the store itself:

    ~/.cache/sym/opencl/kernels/KEY/     KEY: SHA-256 of source, options, device
        sums.json                        pocl's folder name and each file's SHA-256
        files/...                        pocl's files for that program

Before a build, a stored entry is copied into the staging folder when every
file matches its sum (else it is deleted and the program rebuilt, with a
one-line warning); at exit, what pocl wrote for each program is stored back
(written to a temporary folder, then renamed). When the cache folder cannot
be written (read-only, or a nearly full disk) the staging folder goes to
the system's temporary folder, stored entries are still read, nothing is
written back, pyopencl's own cache is turned off (PYOPENCL_NO_CACHE), and
one line on stderr says so. A POCL_CACHE_DIR set by the user is left to
pocl alone, unless it cannot be written (then a temporary folder, with the
same warning).
"""
from __future__ import annotations

import atexit
import errno
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

MIN_FREE_BYTES = 64 * 2**20     # below this the disk counts as full: pocl aborts on ENOSPC
SUMS = "sums.json"


def warn(message: str) -> None:
    print(f"sym: warning: {message}", file=sys.stderr)


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_key(source: str, options: list, device_id: str) -> str:
    text = json.dumps([source, options, device_id])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def unusable(folder: Path) -> str | None:
    """Why pocl and the store could not write in `folder`, or None."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-")
        probe.close()
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        return exc.strerror or str(exc)
    if free < MIN_FREE_BYTES:
        return f"the disk is full ({free // 2**20} MiB free)"
    return None


class KernelStore:
    """The store under `root` and this process's staging folder."""

    def __init__(self, root: Path):
        self.root = root
        self.lock = threading.Lock()
        self.built: dict[str, str] = {}     # key -> pocl's folder name in staging
        self.restored = 0                   # entries found in the store, checked and used
        why = unusable(root / "staging")
        self.writable = why is None
        if self.writable:
            self._remove_stale_staging()
            parent = root / "staging"
        else:
            warn(f"cannot write the OpenCL kernel cache in {root} ({why}); "
                 "kernels built now are kept for this run only")
            parent = None
            os.environ.setdefault("PYOPENCL_NO_CACHE", "1")   # pyopencl's cache is beside ours
        self.staging = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=parent))
        atexit.register(self.close)

    # ---- before and after a build ------------------------------------------------
    def restore(self, key: str) -> bool:
        """Copy the stored entry for `key` into staging and check each copy
        against its sum; a damaged entry is deleted (pocl then builds).
        Whether the entry was restored."""
        entry = self.root / "kernels" / key
        if not entry.is_dir():
            return False
        target = None
        try:
            sums = json.loads((entry / SUMS).read_text(encoding="utf-8"))
            name, files = sums["folder"], sums["files"]
            if not all(_inside(rel) for rel in [name, *files]):
                raise ValueError("a path outside its folder")
            target = self.staging / name
            damaged = [rel for rel, want in files.items() if self._copy(entry, target, rel) != want]
        except FileNotFoundError:
            damaged = []    # being replaced by another process, or a file was removed: build
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            damaged = [SUMS]
        else:
            if not damaged:
                self.built[key] = name
                self.restored += 1
                return True
        if target is not None:
            shutil.rmtree(target, ignore_errors=True)
        if damaged:
            warn(f"the cached OpenCL kernels in {entry} were damaged ({damaged[0]}); "
                 "they are rebuilt")
            if self.writable:
                shutil.rmtree(entry, ignore_errors=True)
        return False

    @staticmethod
    def _copy(entry: Path, target: Path, rel: str) -> str:
        """Copy one stored file into staging; the SHA-256 of the copy."""
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(entry / "files" / rel, target / rel)
        return digest(target / rel)

    def folders(self) -> set[str]:
        """pocl's program folders in staging ("AB/CDEF...")."""
        return {f"{a.name}/{b.name}" for a in self._dirs(self.staging) for b in self._dirs(a)}

    def remember(self, key: str, before: set[str]) -> None:
        """After a build: the folder pocl made for it (the one new since `before`)."""
        new = self.folders() - before
        if key not in self.built and len(new) == 1:
            self.built[key] = new.pop()

    # ---- at exit -------------------------------------------------------------------
    def close(self) -> None:
        with self.lock:
            if self.writable:
                for key, name in self.built.items():
                    self._store(key, self.staging / name)
            shutil.rmtree(self.staging, ignore_errors=True)
            self.built.clear()

    def _store(self, key: str, folder: Path) -> None:
        """Store what pocl wrote for one program (its bitcode and kernels),
        unless the store already holds exactly these files."""
        files = {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*"))
                 if p.is_file() and p.name != "last_accessed"}
        entry = self.root / "kernels" / key
        try:
            old = json.loads((entry / SUMS).read_text(encoding="utf-8"))["files"]
        except (OSError, ValueError, KeyError, TypeError):
            old = None
        if not files or (old is not None and set(old) == set(files)):
            return
        tmp = None
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".new-{os.getpid()}-", dir=entry.parent))
            sums = {}
            for rel, path in files.items():
                (tmp / "files" / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, tmp / "files" / rel)
                sums[rel] = digest(tmp / "files" / rel)
            (tmp / SUMS).write_text(json.dumps({"folder": folder.relative_to(self.staging)
                                                .as_posix(), "files": sums}), encoding="utf-8")
            self._replace(entry, tmp)
            tmp = None
        except OSError as exc:
            warn(f"could not store OpenCL kernels in {self.root} "
                 f"({exc.strerror or exc}); they are rebuilt next time")
            self.writable = False
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    @staticmethod
    def _replace(entry: Path, new: Path) -> None:
        """Put `new` at `entry` by renames: a reader sees the old entry, none
        (a miss), or the new one, never half of one."""
        old = entry.with_name(f".old-{os.getpid()}-{entry.name}")
        try:
            os.rename(entry, old)
        except FileNotFoundError:
            old = None
        try:
            os.rename(new, entry)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            shutil.rmtree(new, ignore_errors=True)     # another process stored it meanwhile
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    # ---- helpers ---------------------------------------------------------------------
    @staticmethod
    def _dirs(folder: Path) -> list[Path]:
        try:
            return [p for p in folder.iterdir() if p.is_dir()]
        except OSError:
            return []

    def _remove_stale_staging(self) -> None:
        """Staging and half-stored folders of processes that were killed."""
        for folder in self._dirs(self.root / "staging") + [
                p for p in self._dirs(self.root / "kernels") if p.name.startswith((".new-", ".old-"))]:
            pid = next((part for part in folder.name.split("-") if part.isdigit()), None)
            if pid is not None and not _alive(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)


def _inside(rel) -> bool:
    """A relative path that stays inside its folder."""
    path = Path(rel) if isinstance(rel, str) else None
    return path is not None and not path.is_absolute() and ".." not in path.parts \
        and rel not in ("", ".")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


_STORE: KernelStore | None = None
_CHECKED = False        # a POCL_CACHE_DIR of the user's was checked


def store_for(root: Path) -> KernelStore | None:
    """The process's store; None when the user set POCL_CACHE_DIR. Must run
    before pocl starts (it reads POCL_CACHE_DIR once). A staging folder
    inherited from a parent process (SYM_POCL_STAGING) is not the user's."""
    global _STORE, _CHECKED
    env = os.environ
    users = env.get("POCL_CACHE_DIR", env.get("SYM_POCL_STAGING"))
    if _STORE is None and users == env.get("SYM_POCL_STAGING"):
        _STORE = KernelStore(root)
        env["POCL_CACHE_DIR"] = env["SYM_POCL_STAGING"] = str(_STORE.staging)
    elif _STORE is None and not _CHECKED:
        _CHECKED = True
        why = unusable(Path(users))
        if why is not None:     # pocl would fail every build, or abort on a full disk
            warn(f"cannot write POCL_CACHE_DIR={users} ({why}); "
                 "kernels built now are kept for this run only")
            env["POCL_CACHE_DIR"] = tempfile.mkdtemp(prefix="sym-pocl-")
            atexit.register(shutil.rmtree, env["POCL_CACHE_DIR"], True)
    return _STORE
