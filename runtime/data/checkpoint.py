"""Checkpoints of shared values as .npz, written atomically and loaded checked."""

import os
import tempfile
import zipfile

import numpy as np

from runtime.data.errors import DataError


def save(path, values):
    """Write `values` (name -> array) to the .npz file `path`.

    The data goes to a temp file in the same folder, is flushed and fsynced,
    then renamed over `path`: a run killed midway leaves the old file intact.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.",
                                   suffix=".tmp")
    except OSError as e:
        raise DataError(f"{path}: cannot write checkpoint ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            _write_npz(f, values)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX and Windows
    except OSError as e:
        raise DataError(f"{path}: cannot write checkpoint ({e.strerror or e})") from None
    except ValueError as e:  # e.g. an object array, which would need pickle
        raise DataError(f"{path}: cannot save these values ({e})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    _fsync_dir(folder)


def _write_npz(f, values):
    """What np.savez writes, but without its keyword names (`file`,
    `allow_pickle`) clashing with value names, and refusing object arrays."""
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, value in values.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)


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


def load(path, expected=None):
    """Read the .npz file `path` into name -> array.

    `expected` maps each name to its (shape, dtype); the file must hold
    exactly those names with those shapes and dtypes. None skips the checks.
    """
    path = os.fspath(path)
    values = _read_npz(path)
    if expected is not None:
        _check(path, values, expected)
        values = {name: values[name] for name in expected}
    return values


def _read_npz(path):
    if not os.path.exists(path):
        raise DataError(f"{path}: no such checkpoint file",
                        hint="save(\"file.npz\") writes one")
    try:
        # allow_pickle=False: a checkpoint holds plain arrays, never code.
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise DataError(f"{path}: not an .npz checkpoint (a single .npy array)")
        with loaded as npz:
            return {name: npz[name] for name in npz.files}
    except DataError:
        raise
    except OSError as e:
        raise DataError(f"{path}: cannot read checkpoint ({e.strerror or e})") from None
    except Exception as e:  # a damaged zip or .npy can fail in many ways
        raise DataError(f"{path}: corrupt checkpoint ({type(e).__name__}: {e})") from None


def _check(path, values, expected):
    missing = [name for name in expected if name not in values]
    if missing:
        raise DataError(f"{path}: checkpoint lacks {_names(missing)}")
    unexpected = [name for name in values if name not in expected]
    if unexpected:
        raise DataError(f"{path}: checkpoint has {_names(unexpected)}, which the "
                        f"program does not declare")
    for name, (shape, dtype) in expected.items():
        want = (tuple(shape), np.dtype(dtype))
        found = (values[name].shape, values[name].dtype)
        if found != want:
            raise DataError(f"{path}: value '{name}' is {_typ(*found)}, "
                            f"expected {_typ(*want)}")


def _names(names):
    return ", ".join(f"'{n}'" for n in names)


def _typ(shape, dtype):
    return f"{dtype}{list(shape)}"
