"""Checkpoints of shared values as .npz, written atomically and loaded checked."""

import os
import zipfile

import numpy as np

from runtime.data.errors import DataError
from runtime.data.files import write_atomically


def save(path, values, program=None):
    """Write `values` (name -> array) to the .npz file `path`, atomically
    (see runtime.data.files); `program` is the source file never overwritten."""
    try:
        write_atomically(path, lambda f: _write_npz(f, values), "checkpoint", program)
    except ValueError as e:  # e.g. an object array, which would need pickle
        raise DataError(f"{os.fspath(path)}: cannot save these values ({e})") from None


def _write_npz(f, values):
    """What np.savez writes, but without its keyword names (`file`,
    `allow_pickle`) clashing with value names, and refusing object arrays."""
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, value in values.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)


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
