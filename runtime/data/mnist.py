"""MNIST exactly as the classic `mnist.pkl.gz` of the Theano tutorials has it.

train = the first 50,000 training images, valid = the last 10,000, test = the
10,000 test images; x is float32 pixels / 256 (the pickle divided by 256, not
255), shape (N, 784); y is int32 labels. The arrays are read from the four
standard IDX files (gzipped or raw) or, safely, from the classic pickle.
"""

import gzip
import hashlib
import http.client
import importlib
import io
import math
import os
import pickle
import shutil
import struct
import sys
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from runtime.data.errors import DataError

IMAGE_MAGIC = 0x00000803  # IDX: unsigned bytes, 3 dimensions
LABEL_MAGIC = 0x00000801  # IDX: unsigned bytes, 1 dimension
ROWS = COLS = 28
N_TRAIN = 50_000          # the classic split: the rest of the 60,000 is valid

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
NAMES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

DOWNLOAD_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"

# SHA-256 of the *decompressed* IDX files. The decompressed bytes are the same
# for every mirror, while the .gz bytes differ between copies that were
# recompressed, so hashing the content lets any faithful copy pass.
SHA256 = {
    TRAIN_IMAGES: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    TRAIN_LABELS: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    TEST_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    TEST_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

GET_FILES_HINT = ("set SYM_DATA to a folder whose mnist/ subfolder holds the four "
                  "IDX files, or pass their folder: mnist(\"dir\")")


@dataclass(frozen=True, eq=False)
class Split:
    """One split: x f32[N, 784], y i32[N]. len() is the number of rows."""
    host_record = "split"       # its type on the host (dsl.hosttypes.type_of)
    x: np.ndarray
    y: np.ndarray

    def __len__(self):
        return len(self.y)

    def __repr__(self):
        return f"Split(x=f32{list(self.x.shape)}, y=i32{list(self.y.shape)})"


@dataclass(frozen=True, eq=False)
class Mnist:
    """What mnist() returns: the train, valid and test splits."""
    host_record = "mnist"       # its type on the host (dsl.hosttypes.type_of)
    train: Split
    valid: Split
    test: Split


# In-process cache: key -> Mnist. Small, since each entry holds ~220 MB.
_CACHE = {}
_CACHE_MAX = 4


def mnist(path=None):
    """Load MNIST from `path` (a folder of IDX files or a .pkl[.gz] file), else
    from $SYM_DATA/mnist, else from the user's cache folder (downloading there)."""
    if path is None:
        return load_idx_dir(_default_dir())
    path = Path(os.fspath(path))
    if _is_pickle_name(path):
        return load_pickle(path)
    if path.is_dir():
        return load_idx_dir(path)
    if path.exists():
        raise DataError(f"{path}: mnist() expects a folder of IDX files or a "
                        f".pkl/.pkl.gz pickle, not this file")
    raise DataError(f"{path}: no such folder", hint=GET_FILES_HINT)


def load_idx_dir(directory, n_train=N_TRAIN):
    """Read the four IDX files in `directory`; the first `n_train` training
    images are train, the rest valid. (n_train is a parameter for tests.)"""
    directory = Path(directory)
    files = _find_files(directory)
    missing = [name for name, f in files.items() if f is None]
    if missing:
        hint = GET_FILES_HINT
        if (directory / "mnist").is_dir():
            hint = f"did you mean mnist(\"{directory / 'mnist'}\")?"
        raise DataError(f"{directory}: MNIST files missing: "
                        + ", ".join(f"{n}[.gz]" for n in missing), hint=hint)
    key = ("idx", str(directory.resolve()), n_train, _stat_key(files.values()))
    return _cached(key, lambda: _load_idx_files(files, n_train))


def load_pickle(file):
    """Read the classic mnist.pkl[.gz] without running any code in it."""
    file = Path(file)
    if not file.is_file():
        raise DataError(f"{file}: no such file", hint=GET_FILES_HINT)
    key = ("pickle", str(file.resolve()), _stat_key([file]))
    return _cached(key, lambda: _parse_pickle(file, _read_bytes(file)))


# ---------------------------------------------------------------- locating

def _default_dir():
    """$SYM_DATA/mnist when SYM_DATA is set (used as is: never downloads
    into a folder the user named), else the cache folder, filled on demand."""
    sym_data = os.environ.get("SYM_DATA")
    if sym_data:
        directory = Path(sym_data) / "mnist"
        if not directory.is_dir():
            raise DataError(f"{directory}: no such folder (SYM_DATA is {sym_data})",
                            hint="put the four MNIST IDX files there, or unset "
                                 "SYM_DATA to download them into the cache folder")
        return directory
    directory = cache_dir()
    _download_missing(directory)
    return directory


def cache_dir():
    """The user's cache folder for MNIST: $XDG_CACHE_HOME/sym/mnist or ~/.cache/sym/mnist."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sym" / "mnist"


def _find_files(directory):
    """name -> the raw or .gz file present in directory, or None."""
    found = {}
    for name in NAMES:
        candidates = [directory / name, directory / (name + ".gz")]
        found[name] = next((c for c in candidates if c.is_file()), None)
    return found


def _stat_key(files):
    # Size and mtime make the cache notice a file that was replaced.
    return tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)


def _cached(key, load):
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = load()
    return _CACHE[key]


# ---------------------------------------------------------------- download

def _download_missing(directory):
    missing = [name for name, f in _find_files(directory).items() if f is None]
    for name in missing:
        try:
            _download(name, directory)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            looked = ", ".join(f"{n}[.gz]" for n in missing)
            raise DataError(
                f"MNIST not found: SYM_DATA is not set and {directory} lacks {looked}; "
                f"downloading {DOWNLOAD_URL}{name}.gz failed: {_reason(e)}",
                hint=GET_FILES_HINT) from None


def _download(name, directory):
    """Fetch name.gz into a temp file beside its final place, check its
    SHA-256, then rename, so an interrupted download never looks complete."""
    url = f"{DOWNLOAD_URL}{name}.gz"
    directory.mkdir(parents=True, exist_ok=True)
    print(f"sym: downloading {url} into {directory}", file=sys.stderr)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            shutil.copyfileobj(response, out)
        digest = _content_sha256(Path(tmp))
        if digest != SHA256[name]:
            raise DataError(f"{url}: downloaded file has SHA-256 {digest} of its "
                            f"content, expected {SHA256[name]}; it was not kept",
                            hint=GET_FILES_HINT)
        os.replace(tmp, directory / f"{name}.gz")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _content_sha256(gz_file):
    h = hashlib.sha256()
    try:
        with gzip.open(gz_file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except (OSError, EOFError, zlib.error):
        return "(not a valid gzip file)"
    return h.hexdigest()


def _reason(e):
    return str(getattr(e, "reason", None) or e)


# ---------------------------------------------------------------- IDX files

# The most a data file may decompress to. The classic pickle is 220 MB and
# the largest IDX file 47 MB; the cap keeps a gzip bomb from filling memory.
MAX_DATA_BYTES = 1 << 30
# Bytes read past what an IDX header announces, to say how many are extra.
IDX_SLACK = 1 << 20


class _Reading:
    """A data file opened for reading, decompressed when its name ends in
    .gz; read errors become DataErrors naming the file."""

    def __init__(self, file):
        self.file = file

    def __enter__(self):
        try:
            self.stream = (gzip.open(self.file, "rb") if self.file.name.endswith(".gz")
                           else open(self.file, "rb"))
        except OSError as e:
            raise DataError(f"{self.file}: cannot read ({e.strerror or e})") from None
        return self

    def __exit__(self, kind, value, tb):
        self.stream.close()
        if isinstance(value, (gzip.BadGzipFile, EOFError, zlib.error)):
            raise DataError(f"{self.file}: corrupt gzip file ({value})",
                            hint="delete it and get a fresh copy") from None
        if isinstance(value, OSError):
            raise DataError(f"{self.file}: cannot read ({value.strerror or value})") from None

    def read_rest(self, limit):
        """The rest of the file up to `limit` bytes, and whether it holds more."""
        data = self.stream.read(limit + 1)
        return (data[:limit], True) if len(data) > limit else (data, False)


def _read_bytes(file):
    """The file's content, decompressed when its name ends in .gz, refused
    when it would be larger than MAX_DATA_BYTES."""
    limit = MAX_DATA_BYTES
    with _Reading(file) as f:
        data, more = f.read_rest(limit)
    if more:
        raise DataError(f"{file}: holds more than {limit} bytes "
                        f"({'decompressed; ' if file.name.endswith('.gz') else ''}"
                        "no MNIST file is that large)",
                        hint="check that this is the file you meant")
    return data


def _read_idx(file, magic, ndim):
    """An IDX file read no further than its header announces (plus a little,
    to report extra bytes): a header can claim at most MAX_DATA_BYTES."""
    header = 4 + 4 * ndim
    with _Reading(file) as f:
        head = f.stream.read(header)
        if len(head) == header:
            dims = struct.unpack(f">{ndim}I", head[4:])
            need = math.prod(dims)
            if need > MAX_DATA_BYTES:
                raise DataError(f"{file}: its header says {_dims(dims)} = {need} bytes of data, more than the {MAX_DATA_BYTES} "
                                "bytes sym reads from a data file",
                                hint="the header is damaged; get a fresh copy")
            body, more = f.read_rest(need + IDX_SLACK)
            if more:
                raise DataError(f"{file}: more than {IDX_SLACK} bytes beyond what its header "
                                f"({_dims(dims)}) says")
            head += body
    return _parse_idx(file, head, magic, ndim)


def _parse_idx(file, data, magic, ndim):
    """Check an IDX header against the data and return the uint8 array."""
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{file}: truncated: {len(data)} bytes, shorter than "
                        f"its {header}-byte IDX header")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DataError(f"{file}: wrong magic number: expected 0x{magic:08x} "
                        f"({_kind(magic)}), found 0x{found:08x} ({_kind(found)})")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    need = math.prod(dims)   # Python ints: a damaged header cannot overflow
    have = len(data) - header
    if have < need:
        raise DataError(f"{file}: truncated or corrupt: its header says {_dims(dims)} = "
                        f"{need} bytes of data, but the file has only {have}")
    if have > need:
        raise DataError(f"{file}: {have - need} bytes more than its header "
                        f"({_dims(dims)}) says")
    return np.frombuffer(data, np.uint8, count=need, offset=header).reshape(dims)


def _kind(magic):
    return {IMAGE_MAGIC: "IDX images", LABEL_MAGIC: "IDX labels"}.get(magic, "not MNIST IDX")


def _dims(dims):
    return " x ".join(str(d) for d in dims)


def _read_pair(images_file, labels_file):
    """Images as float32 / 256, shape (N, 784), and int32 labels, checked."""
    images = _read_idx(images_file, IMAGE_MAGIC, 3)
    labels = _read_idx(labels_file, LABEL_MAGIC, 1)
    n, rows, cols = images.shape
    if (rows, cols) != (ROWS, COLS):
        raise DataError(f"{images_file}: wrong image size: {rows}x{cols}, "
                        f"expected {ROWS}x{COLS}")
    if len(labels) != n:
        raise DataError(f"{images_file} has {n} images but {labels_file} has "
                        f"{len(labels)} labels")
    if n and labels.max() > 9:
        raise DataError(f"{labels_file}: label {labels.max()} out of range 0..9")
    # uint8 -> float32 is exact and so is the power-of-two scale: the values
    # are bit-for-bit those of the pickle (pixel / 256).
    x = np.multiply(images.reshape(n, ROWS * COLS), np.float32(1 / 256), dtype=np.float32)
    return x, labels.astype(np.int32)


def _load_idx_files(files, n_train):
    train_x, train_y = _read_pair(files[TRAIN_IMAGES], files[TRAIN_LABELS])
    test_x, test_y = _read_pair(files[TEST_IMAGES], files[TEST_LABELS])
    if not 0 <= n_train <= len(train_y):
        raise DataError(f"{files[TRAIN_IMAGES]}: only {len(train_y)} training "
                        f"images; the train/valid split needs {n_train} for train")
    for a in (train_x, train_y, test_x, test_y):
        a.flags.writeable = False  # cached and shared: nobody may change them
    # Row slices of a C-contiguous array are C-contiguous views: no copies.
    return Mnist(train=Split(train_x[:n_train], train_y[:n_train]),
                 valid=Split(train_x[n_train:], train_y[n_train:]),
                 test=Split(test_x, test_y))


# ---------------------------------------------------------------- pickle

def _is_pickle_name(path):
    return path.name.endswith((".pkl", ".pkl.gz"))


def _numpy_module(*names):
    for name in names:  # numpy 2 moved numpy.core to numpy._core
        try:
            return importlib.import_module(name)
        except ImportError:
            pass
    raise ImportError(names[0])


def _latin1_encode(text, encoding="latin1"):
    # Python 3 protocol-2 pickles spell bytes as _codecs.encode(str, "latin1");
    # this stand-in does that and nothing else.
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


def _allowed_globals():
    """What pickled numpy arrays need, under both numpy spellings; nothing else."""
    multiarray = _numpy_module("numpy._core.multiarray", "numpy.core.multiarray")
    numeric = _numpy_module("numpy._core.numeric", "numpy.core.numeric")
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
               ("_codecs", "encode"): _latin1_encode}
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = numeric._frombuffer
    return allowed


class _SafeUnpickler(pickle.Unpickler):
    """Every global a pickle names goes through find_class, so refusing all
    but numpy's array builders means no code of the file's choosing can run."""

    def __init__(self, data, file):
        # latin1: the classic file is a Python 2 pickle of byte strings.
        super().__init__(io.BytesIO(data), encoding="latin1")
        self.file = file
        self.allowed = _allowed_globals()

    def find_class(self, module, name):
        if (module, name) in self.allowed:
            return self.allowed[(module, name)]
        raise DataError(f"{self.file}: refused to unpickle: it asks for "
                        f"{module}.{name}, which is not part of a numpy array; "
                        f"nothing in the file was run",
                        hint="only pickles of numpy arrays, like the classic "
                             "mnist.pkl.gz, can be read")


def _parse_pickle(file, data):
    try:
        obj = _SafeUnpickler(data, file).load()
    except DataError:
        raise
    except Exception as e:  # a damaged pickle can fail in many ways
        raise DataError(f"{file}: not a valid pickle ({type(e).__name__}: {e})") from None
    return _pickle_record(file, obj)


def _pickle_record(file, obj):
    """Check the classic layout ((x, y), (x, y), (x, y)) and build the record."""
    if not (isinstance(obj, (tuple, list)) and len(obj) == 3):
        raise DataError(f"{file}: expected 3 (x, y) pairs (train, valid, test), "
                        f"found {_describe(obj)}")
    splits = [_pickle_split(file, which, pair)
              for which, pair in zip(("train", "valid", "test"), obj)]
    return Mnist(*splits)


def _pickle_split(file, which, pair):
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2
            and all(isinstance(a, np.ndarray) for a in pair)):
        raise DataError(f"{file}: {which} should be an (x, y) pair of arrays, "
                        f"found {_describe(pair)}")
    x, y = pair
    if x.ndim != 2 or x.shape[1] != ROWS * COLS or x.dtype.kind not in "fiu":
        raise DataError(f"{file}: {which} x should be numbers of shape (N, 784), "
                        f"found {x.dtype} {x.shape}")
    if y.ndim != 1 or len(y) != len(x) or y.dtype.kind not in "iu":
        raise DataError(f"{file}: {which} y should be {len(x)} integer labels, "
                        f"found {y.dtype} {y.shape}")
    if len(y) and not 0 <= y.min() <= y.max() <= 9:
        raise DataError(f"{file}: {which} y has labels outside 0..9")
    x = np.ascontiguousarray(x, dtype=np.float32)
    y = np.ascontiguousarray(y, dtype=np.int32)
    x.flags.writeable = y.flags.writeable = False
    return Split(x, y)


def _describe(obj):
    if isinstance(obj, (tuple, list)):
        return f"a {type(obj).__name__} of {len(obj)}"
    return type(obj).__name__
