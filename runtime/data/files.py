"""Writing a file so that it is the old one or the new one, never lost.

Every file sym writes (`save()`, `--metrics`, `--plot`) goes through
`write_atomically`: the bytes go to a temporary file beside the target, are
flushed and fsynced, then renamed over it. A kill, a full disk or an error
at any moment leaves the previous file as it was.
"""

import os
import re
import secrets
import stat
from functools import partial

from dsl import errors
from runtime.data.errors import DataError

# What a path can be other than a regular file; none of them is replaced.
NOT_REGULAR = {stat.S_IFDIR: "a directory", stat.S_IFCHR: "a character device",
               stat.S_IFBLK: "a block device", stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket"}


def write_atomically(path, write, what, program=None):
    """Replace the file at `path` by what `write(binary_file)` writes.

    A symlink is followed: its target is replaced and the link kept. An
    existing file keeps its mode; a new one gets the umask's default. `what`
    names the file in messages ("checkpoint"); `program` is the running
    program's source path, which is never overwritten.
    """
    shown = os.fspath(path)
    old = check_target(shown, what, program)
    target = os.path.realpath(shown)
    folder, name = os.path.split(target)
    remove_stale_temps(folder, name)
    try:
        replace(target, write, old)
    except OSError as e:
        raise DataError(f"{shown}: cannot write {what} ({e.strerror or e})") from None
    _fsync_dir(folder)


def check_target(path, what, program=None):
    """The os.stat of the existing file at `path` (None if there is none),
    or a DataError when writing there would destroy something else."""
    try:
        old = os.stat(path)     # follows symlinks
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:  # a symlink loop, a file as a folder, a NUL byte
        raise DataError(f"{path}: cannot write {what} ({getattr(e, 'strerror', None) or e})") from None
    kind = NOT_REGULAR.get(stat.S_IFMT(old.st_mode))
    if kind:
        raise DataError(make=partial(errors.not_a_regular_file, path, kind, what))
    if program and _same_file(old, program):
        raise DataError(make=partial(errors.overwrites_program, path, what))
    return old


def replace(target, write, old):
    """Write a temp file beside `target` and rename it over `target`; the
    temp file is removed when anything fails."""
    folder, name = os.path.split(target)
    # The pid in the name tells a later write whether the writer is still alive.
    tmp = os.path.join(folder, f".{name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            if old is not None:
                _copy_owner_and_mode(f.fileno(), old)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)  # atomic on POSIX
    except BaseException:        # an error, a full disk, Ctrl-C
        _remove(tmp)
        raise


def remove_stale_temps(folder, name):
    """Remove the temp files for `name` that writers killed midway left."""
    pattern = re.compile(re.escape(f".{name}.") + r"(\d+)-[0-9a-f]{8}\.tmp")
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry)
        if match and not _running(int(match.group(1))):
            _remove(os.path.join(folder, entry))


def _running(pid):
    if pid == os.getpid() or os.name != "posix":  # signal 0 tests existence on POSIX only
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:             # exists, owned by another user
        return True
    return True


def _same_file(old, other):
    try:
        return os.path.samestat(old, os.stat(other))
    except OSError:             # "<inline>" programs have no file
        return False


def _copy_owner_and_mode(fd, old):
    if (old.st_uid, old.st_gid) != (os.getuid(), os.getgid()):
        try:
            os.fchown(fd, old.st_uid, old.st_gid)  # only root may give a file away
        except OSError:
            pass
    try:
        os.fchmod(fd, stat.S_IMODE(old.st_mode))  # after chown, which clears setuid bits
    except OSError:             # a file system without modes (FAT)
        pass


def _remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_dir(folder):
    # Makes the rename itself durable; not every system can open a folder.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
