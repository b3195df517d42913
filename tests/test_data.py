"""Tests of runtime.data: MNIST loading, batches, checkpoints, metrics.

Most tests write small IDX files of their own; the ones on the real MNIST
need $SYM_DATA/mnist and are skipped without it.
"""

import gzip
import hashlib
import io
import os
import pickle
import struct
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from runtime.data import DataError, Metrics, Split, batches, checkpoint, mnist
from runtime.data.mnist import load_idx_dir, load_pickle

# runtime.data exports the functions mnist and batches under their modules'
# names, so the modules (to monkeypatch) come from sys.modules.
mnist_mod = sys.modules["runtime.data.mnist"]
progress_mod = sys.modules["runtime.data.progress"]

N_TRAIN_FILE, N_TEST, N_TRAIN = 8, 3, 5  # a tiny MNIST: 5 train, 3 valid, 3 test


# ---------------------------------------------------------------- helpers

def idx_bytes(magic, array):
    array = np.asarray(array, np.uint8)
    header = struct.pack(f">I{array.ndim}I", magic, *array.shape)
    return header + array.tobytes()


def write(path, data, gz):
    path = Path(str(path) + ".gz") if gz else Path(path)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def fake_arrays(seed=0, n_train=N_TRAIN_FILE, n_test=N_TEST, size=(28, 28)):
    rng = np.random.RandomState(seed)
    images = rng.randint(0, 256, (n_train, *size)).astype(np.uint8)
    images[0, 0, 0] = 255  # the brightest pixel must become 255/256
    return {
        "train-images-idx3-ubyte": (0x803, images),
        "train-labels-idx1-ubyte": (0x801, rng.randint(0, 10, n_train)),
        "t10k-images-idx3-ubyte": (0x803, rng.randint(0, 256, (n_test, *size))),
        "t10k-labels-idx1-ubyte": (0x801, rng.randint(0, 10, n_test)),
    }


def write_fake(directory, gz=True, arrays=None):
    """Write a tiny MNIST into directory; return name -> (path, uint8 array)."""
    arrays = arrays or fake_arrays()
    out = {}
    for i, (name, (magic, array)) in enumerate(arrays.items()):
        use_gz = gz if isinstance(gz, bool) else gz[i]
        out[name] = (write(directory / name, idx_bytes(magic, array), use_gz),
                     np.asarray(array, np.uint8))
    return out


@pytest.fixture
def fake_dir(tmp_path):
    files = write_fake(tmp_path)
    return tmp_path, files


def expect_error(match_file, fn, *args, **kwargs):
    """Call fn, expect a DataError whose message names match_file."""
    with pytest.raises(DataError) as info:
        fn(*args, **kwargs)
    assert str(match_file) in info.value.message
    return info.value


# ---------------------------------------------------------------- DataError

def test_data_error_has_message_and_hint():
    e = DataError("bad file", hint="fix it")
    assert (e.message, e.hint, str(e)) == ("bad file", "fix it", "bad file")
    assert DataError("x").hint is None


# ---------------------------------------------------------------- IDX loading

@pytest.mark.parametrize("gz", [True, False, (True, False, False, True)],
                         ids=["gz", "raw", "mixed"])
def test_idx_shapes_scaling_and_splits(tmp_path, gz):
    files = write_fake(tmp_path, gz=gz)
    d = load_idx_dir(tmp_path, n_train=N_TRAIN)
    train_images = files["train-images-idx3-ubyte"][1].reshape(-1, 784)
    train_labels = files["train-labels-idx1-ubyte"][1]
    assert d.train.x.shape == (N_TRAIN, 784) and len(d.train) == N_TRAIN
    assert d.valid.x.shape == (N_TRAIN_FILE - N_TRAIN, 784)
    assert d.test.x.shape == (N_TEST, 784) and len(d.test) == N_TEST
    for split in (d.train, d.valid, d.test):
        assert split.x.dtype == np.float32 and split.y.dtype == np.int32
        assert split.x.flags.c_contiguous and split.y.flags.c_contiguous
    # Pixels / 256 exactly, as the classic pickle has them (not / 255).
    assert np.array_equal(d.train.x, train_images[:N_TRAIN].astype(np.float32) / np.float32(256))
    assert np.array_equal(d.train.x * 256, train_images[:N_TRAIN])
    assert d.train.x.max() == np.float32(255 / 256)
    # train is the first n_train training images, valid the rest.
    assert np.array_equal(d.valid.x * 256, train_images[N_TRAIN:])
    assert np.array_equal(d.train.y, train_labels[:N_TRAIN])
    assert np.array_equal(d.valid.y, train_labels[N_TRAIN:])
    assert np.array_equal(d.test.x * 256, files["t10k-images-idx3-ubyte"][1].reshape(-1, 784))
    assert np.array_equal(d.test.y, files["t10k-labels-idx1-ubyte"][1])


def test_split_repr_is_short(fake_dir):
    d = load_idx_dir(fake_dir[0], n_train=N_TRAIN)
    assert repr(d.train) == "Split(x=f32[5, 784], y=i32[5])"


def test_loaded_arrays_are_cached_and_read_only(fake_dir):
    directory, files = fake_dir
    first = load_idx_dir(directory, n_train=N_TRAIN)
    assert load_idx_dir(directory, n_train=N_TRAIN) is first
    assert not first.train.x.flags.writeable and not first.test.y.flags.writeable
    with pytest.raises(ValueError):
        first.train.x[0, 0] = 1.0


def test_cache_notices_a_replaced_file(tmp_path):
    write_fake(tmp_path)
    first = load_idx_dir(tmp_path, n_train=N_TRAIN)
    path = write_fake(tmp_path, arrays=fake_arrays(seed=1))["train-images-idx3-ubyte"][0]
    os.utime(path, ns=(1, 1))  # a different mtime even on a coarse clock
    second = load_idx_dir(tmp_path, n_train=N_TRAIN)
    assert second is not first
    assert not np.array_equal(second.train.x, first.train.x)


def test_public_mnist_takes_a_folder_and_needs_50000_train_images(fake_dir):
    directory, files = fake_dir
    e = expect_error(files["train-images-idx3-ubyte"][0], mnist, directory)
    assert "50000" in e.message


def test_missing_folder(tmp_path):
    expect_error(tmp_path / "nope", mnist, tmp_path / "nope")


def test_missing_files_are_listed(fake_dir):
    directory, files = fake_dir
    files["train-labels-idx1-ubyte"][0].unlink()
    files["t10k-images-idx3-ubyte"][0].unlink()
    e = expect_error(directory, load_idx_dir, directory)
    assert "train-labels-idx1-ubyte[.gz]" in e.message
    assert "t10k-images-idx3-ubyte[.gz]" in e.message
    assert "train-images" not in e.message
    assert "SYM_DATA" in e.hint


def test_missing_files_hint_at_mnist_subfolder(tmp_path):
    (tmp_path / "mnist").mkdir()
    write_fake(tmp_path / "mnist")
    e = expect_error(tmp_path, mnist, tmp_path)
    assert str(tmp_path / "mnist") in e.hint


def test_a_file_that_is_neither_folder_nor_pickle(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("hello")
    expect_error(path, mnist, path)


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
def test_truncated_file(tmp_path, gz):
    files = write_fake(tmp_path, gz=gz)
    path, array = files["train-images-idx3-ubyte"]
    data = idx_bytes(0x803, array)[:-100]
    path.write_bytes(gzip.compress(data) if gz else data)
    e = expect_error(path, load_idx_dir, tmp_path, n_train=N_TRAIN)
    assert "truncated" in e.message and str(8 * 28 * 28) in e.message


def test_truncated_header(fake_dir):
    directory, files = fake_dir
    path = files["t10k-labels-idx1-ubyte"][0]
    path.write_bytes(gzip.compress(b"\x00\x00\x08"))
    e = expect_error(path, load_idx_dir, directory, n_train=N_TRAIN)
    assert "truncated" in e.message


def test_header_dimensions_whose_product_overflows_int64(fake_dir):
    # 2**22 * 2**21 * 2**21 = 2**64 wraps to 0 in int64: the header claims far
    # more data than sym reads from any file, and the message must say so
    directory, files = fake_dir
    path = files["train-images-idx3-ubyte"][0]
    path.write_bytes(gzip.compress(struct.pack(">4I", 0x803, 2 ** 22, 2 ** 21, 2 ** 21) + b"x" * 16))
    e = expect_error(path, load_idx_dir, directory, n_train=N_TRAIN)
    assert f"= {2 ** 64} bytes of data, more than the" in e.message
    assert "more than its header" not in e.message


def test_extra_bytes(fake_dir):
    directory, files = fake_dir
    path, array = files["t10k-labels-idx1-ubyte"]
    path.write_bytes(gzip.compress(idx_bytes(0x801, array) + b"junk"))
    e = expect_error(path, load_idx_dir, directory, n_train=N_TRAIN)
    assert "4 bytes more" in e.message


@pytest.mark.parametrize("damage", ["garbage", "cut"])
def test_corrupt_gzip(fake_dir, damage):
    directory, files = fake_dir
    path = files["train-labels-idx1-ubyte"][0]
    data = path.read_bytes()
    path.write_bytes(b"this is not gzip at all" if damage == "garbage" else data[:-12])
    e = expect_error(path, load_idx_dir, directory, n_train=N_TRAIN)
    assert "corrupt gzip" in e.message


def test_wrong_magic_says_expected_and_found(fake_dir):
    directory, files = fake_dir
    # A labels file where the images should be: the classic mix-up.
    path = files["train-images-idx3-ubyte"][0]
    path.write_bytes(gzip.compress(idx_bytes(0x801, np.zeros(8))))
    e = expect_error(path, load_idx_dir, directory, n_train=N_TRAIN)
    assert "expected 0x00000803" in e.message and "found 0x00000801" in e.message


def test_image_label_count_mismatch(fake_dir):
    directory, files = fake_dir
    path = files["t10k-labels-idx1-ubyte"][0]
    path.write_bytes(gzip.compress(idx_bytes(0x801, np.zeros(N_TEST + 1))))
    e = expect_error(path, load_idx_dir, directory, n_train=N_TRAIN)
    assert str(files["t10k-images-idx3-ubyte"][0]) in e.message
    assert f"{N_TEST} images" in e.message and f"{N_TEST + 1} labels" in e.message


def test_wrong_image_size(tmp_path):
    files = write_fake(tmp_path, arrays=fake_arrays(size=(27, 28)))
    e = expect_error(files["train-images-idx3-ubyte"][0], load_idx_dir, tmp_path,
                     n_train=N_TRAIN)
    assert "27x28" in e.message and "28x28" in e.message


def test_label_out_of_range(fake_dir):
    directory, files = fake_dir
    path = files["train-labels-idx1-ubyte"][0]
    path.write_bytes(gzip.compress(idx_bytes(0x801, [1, 2, 3, 11, 0, 0, 0, 0])))
    e = expect_error(path, load_idx_dir, directory, n_train=N_TRAIN)
    assert "11" in e.message


# ---------------------------------------------------------------- where to look

def test_sym_data_folder_without_mnist(tmp_path, monkeypatch):
    monkeypatch.setenv("SYM_DATA", str(tmp_path))
    e = expect_error(tmp_path / "mnist", mnist)
    assert "SYM_DATA" in e.message


def test_sym_data_is_used(tmp_path, monkeypatch):
    (tmp_path / "mnist").mkdir()
    write_fake(tmp_path / "mnist")
    monkeypatch.setenv("SYM_DATA", str(tmp_path))
    # The fake has too few images for the 50,000 split: proof it was read.
    expect_error(tmp_path / "mnist" / "train-images-idx3-ubyte.gz", mnist)


def no_network(url, timeout=None):
    raise urllib.error.URLError("no network")


def test_no_network_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.delenv("SYM_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(mnist_mod.urllib.request, "urlopen", no_network)
    cache = tmp_path / "sym" / "mnist"
    e = expect_error(cache, mnist)
    assert "train-images-idx3-ubyte[.gz]" in e.message and "no network" in e.message
    assert "SYM_DATA" in e.hint and "mnist(" in e.hint
    assert list(cache.iterdir()) == []  # no half-downloaded file left behind


def test_cache_dir_without_xdg(monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert mnist_mod.cache_dir() == Path.home() / ".cache" / "sym" / "mnist"


def test_download_with_wrong_checksum_is_not_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("SYM_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(mnist_mod.urllib.request, "urlopen",
                        lambda url, timeout=None: io.BytesIO(gzip.compress(b"tampered")))
    e = expect_error("SHA-256", mnist)
    assert "train-images-idx3-ubyte.gz" in e.message
    assert list((tmp_path / "sym" / "mnist").iterdir()) == []


# ---------------------------------------------------------------- pickles

def fake_splits(y_dtype=np.int64):
    rng = np.random.RandomState(3)
    return tuple((rng.randint(0, 256, (n, 784)).astype(np.float32) / np.float32(256),
                  rng.randint(0, 10, n).astype(y_dtype)) for n in (4, 2, 3))


@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize("suffix", [".pkl", ".pkl.gz"])
def test_pickle_round_trip(tmp_path, protocol, suffix):
    splits = fake_splits()
    data = pickle.dumps(splits, protocol=protocol)
    path = tmp_path / f"mnist{suffix}"
    path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    d = mnist(path)
    for split, (x, y) in zip((d.train, d.valid, d.test), splits):
        assert split.x.dtype == np.float32 and split.y.dtype == np.int32
        assert np.array_equal(split.x, x) and np.array_equal(split.y, y)
    assert mnist(path) is d  # cached


def test_pickle_with_numpy1_names(tmp_path):
    # The classic file was written by numpy 1 (numpy.core.multiarray).
    data = pickle.dumps(fake_splits(), protocol=2).replace(b"numpy._core", b"numpy.core")
    assert b"numpy.core.multiarray" in data
    path = tmp_path / "classic.pkl.gz"
    path.write_bytes(gzip.compress(data))
    assert np.array_equal(mnist(path).test.y, fake_splits()[2][1])


class SystemCall:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class OpenCall(SystemCall):
    def __reduce__(self):
        return (open, (str(self.marker), "w"))


class EvalCall(SystemCall):
    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w')",))


class SubprocessCall(SystemCall):
    def __reduce__(self):
        import subprocess
        return (subprocess.call, (["touch", str(self.marker)],))


@pytest.mark.parametrize("payload,global_name", [
    (SystemCall, "system"), (OpenCall, "open"), (EvalCall, "eval"),
    (SubprocessCall, "call"),  # protocol 2 spells it commands.call (Python 2)
])
@pytest.mark.parametrize("suffix,protocol", [(".pkl", 2), (".pkl.gz", 2), (".pkl", 4)])
def test_malicious_pickle_runs_nothing(tmp_path, payload, global_name, suffix, protocol):
    marker = tmp_path / "pwned"
    # Hidden after real arrays, as an attacker would do it.
    evil = fake_splits()[:2] + ((payload(marker), np.zeros(3)),)
    data = pickle.dumps(evil, protocol=protocol)
    path = tmp_path / f"mnist{suffix}"
    path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    e = expect_error(path, mnist, path)
    assert "refused" in e.message and global_name in e.message
    assert not marker.exists()


def test_pickle_must_hold_three_pairs(tmp_path):
    path = tmp_path / "two.pkl"
    path.write_bytes(pickle.dumps(fake_splits()[:2]))
    e = expect_error(path, load_pickle, path)
    assert "3 (x, y) pairs" in e.message


def test_pickle_with_wrong_x_shape(tmp_path):
    splits = list(fake_splits())
    splits[1] = (np.zeros((2, 10), np.float32), np.zeros(2, np.int64))
    path = tmp_path / "shape.pkl"
    path.write_bytes(pickle.dumps(tuple(splits)))
    e = expect_error(path, load_pickle, path)
    assert "valid" in e.message


@pytest.mark.parametrize("damage", ["cut", "garbage"])
def test_corrupt_pickle(tmp_path, damage):
    data = pickle.dumps(fake_splits())
    path = tmp_path / "bad.pkl"
    path.write_bytes(data[: len(data) // 2] if damage == "cut" else b"\x80\x04junk")
    e = expect_error(path, load_pickle, path)
    assert "not a valid pickle" in e.message


def test_corrupt_gzip_pickle(tmp_path):
    path = tmp_path / "bad.pkl.gz"
    path.write_bytes(b"nope")
    e = expect_error(path, mnist, path)
    assert "corrupt gzip" in e.message


def test_missing_pickle(tmp_path):
    expect_error(tmp_path / "mnist.pkl.gz", mnist, tmp_path / "mnist.pkl.gz")


# ---------------------------------------------------------------- batches

def small_split(n=10):
    x = np.arange(n * 4, dtype=np.float32).reshape(n, 4)
    return Split(x, np.arange(n, dtype=np.int32))


def test_batches_are_views_in_order_with_a_short_last_batch():
    split = small_split(10)
    bs = batches(split, 4, progress=False)
    assert len(bs) == 3
    got = list(bs)
    assert [len(x) for x, _ in got] == [4, 4, 2]
    for x, y in got:
        assert np.shares_memory(x, split.x) and np.shares_memory(y, split.y)
    assert np.array_equal(np.concatenate([x for x, _ in got]), split.x)
    assert np.array_equal(np.concatenate([y for _, y in got]), split.y)
    assert len(list(bs)) == 3  # iterable again


def test_batches_exact_division_and_tuple_input():
    x, y = np.zeros((6, 2)), np.zeros(6)
    bs = batches((x, y), np.int64(3), progress=False)
    assert len(bs) == 2 and [len(b[0]) for b in bs] == [3, 3]


@pytest.mark.parametrize("size", [0, -1, 2.5, True, "4"])
def test_batches_bad_size(size):
    with pytest.raises(DataError, match="positive integer"):
        batches(small_split(), size)


def test_batches_mismatched_split():
    with pytest.raises(DataError, match="rows"):
        batches((np.zeros((3, 2)), np.zeros(4)), 2)


def test_no_progress_when_not_a_terminal(capsys):
    assert len(list(batches(small_split(), 3))) == 4
    out, err = capsys.readouterr()
    assert out == "" and err == ""


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


ERASE_LINE = "\x1b[2K"


def shown_last(text: str) -> str:
    """What a terminal shows last on the bar's line: the text after the last
    erase (rich redraws a line as CR, erase line, text)."""
    return text.rsplit(ERASE_LINE, 1)[1]


def test_progress_bar_in_a_terminal(monkeypatch):
    term = FakeTerminal()
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setattr(sys, "stderr", term)
    monkeypatch.setattr(progress_mod, "REDRAW_SECONDS", 0.0)
    metrics = Metrics()
    metrics.record("validation error", 12.458333)
    for _ in batches(small_split(10), 4, epoch=3, status=metrics.latest_text):
        pass
    text = term.getvalue()
    assert "1/3" in text and "3/3" in text
    assert "batches/s" in text and "ETA" in text
    assert "epoch 3" in text and "validation error 12.46" in text
    assert "\x1b[" in text  # drawn by rich, in colour
    assert shown_last(text).strip("\r\x1b[?25h") == ""  # erased at the end


def test_progress_bar_is_cleared_on_break(monkeypatch):
    term = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", term)
    monkeypatch.setattr(progress_mod, "REDRAW_SECONDS", 0.0)
    for i, _ in enumerate(batches(small_split(10), 2)):
        if i == 2:
            break
    assert "2/5" in term.getvalue()
    assert shown_last(term.getvalue()).strip("\r\x1b[?25h") == ""
    assert not progress_mod.active()


def test_nested_loops_share_one_display(monkeypatch):
    term = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", term)
    monkeypatch.setattr(progress_mod, "REDRAW_SECONDS", 0.0)
    for _ in batches(small_split(10), 5, epoch=1):
        for _ in batches(small_split(6), 3):
            pass
    assert "2/2" in term.getvalue() and not progress_mod.active()


def test_printing_to_a_terminal_lifts_the_bar(monkeypatch):
    term, out = FakeTerminal(), FakeTerminal()
    monkeypatch.setattr(sys, "stderr", term)
    for _ in batches(small_split(4), 2):
        with progress_mod.above_bars(out):
            out.write("line\n")
    assert out.getvalue() == "line\nline\n"
    assert term.getvalue().count("\x1b[?25h") == 3   # erased before each line and at the end


def test_progress_bar_redraws_rarely(monkeypatch):
    term = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", term)
    for _ in batches(small_split(1000), 1):
        pass
    assert term.getvalue().count(ERASE_LINE) < 20  # not 1000 redraws


# ---------------------------------------------------------------- checkpoints

def values(seed=0):
    rng = np.random.RandomState(seed)
    return {"W": rng.randn(3, 2).astype(np.float32), "b": np.zeros(2, np.float32),
            "file": np.arange(3)}  # `file` would clash with np.savez's argument


def expected_of(vals):
    return {k: (v.shape, v.dtype) for k, v in vals.items()}


def test_checkpoint_round_trip(tmp_path):
    path = tmp_path / "model.npz"
    checkpoint.save(path, values())
    loaded = checkpoint.load(path, expected_of(values()))
    assert list(loaded) == ["W", "b", "file"]
    for k, v in values().items():
        assert np.array_equal(loaded[k], v) and loaded[k].dtype == v.dtype
    assert np.load(path)["W"].shape == (3, 2)  # a plain .npz numpy can read
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]


def test_checkpoint_crash_midway_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    checkpoint.save(path, values(seed=0))
    before = path.read_bytes()
    real_write = np.lib.format.write_array
    calls = []

    def crash_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # after one value is already written
            raise KeyboardInterrupt("killed")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(path, values(seed=1))
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]  # no temp file left
    monkeypatch.undo()
    assert np.array_equal(checkpoint.load(path, expected_of(values()))["W"], values(0)["W"])


def test_checkpoint_save_into_missing_folder(tmp_path):
    expect_error(tmp_path / "no" / "m.npz", checkpoint.save, tmp_path / "no" / "m.npz", values())


def test_checkpoint_refuses_object_arrays(tmp_path):
    path = tmp_path / "m.npz"
    expect_error(path, checkpoint.save, path, {"o": np.array([{}, None], dtype=object)})
    assert os.listdir(tmp_path) == []


def test_checkpoint_load_missing_file(tmp_path):
    expect_error(tmp_path / "none.npz", checkpoint.load, tmp_path / "none.npz", {})


@pytest.mark.parametrize("damage", ["garbage", "cut", "npy"])
def test_checkpoint_load_corrupt_file(tmp_path, damage):
    path = tmp_path / "m.npz"
    checkpoint.save(path, values())
    if damage == "garbage":
        path.write_bytes(b"not a zip file")
    elif damage == "cut":
        path.write_bytes(path.read_bytes()[:200])
    else:
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
    expect_error(path, checkpoint.load, path, expected_of(values()))


def test_checkpoint_load_missing_key(tmp_path):
    path = tmp_path / "m.npz"
    vals = values()
    checkpoint.save(path, {"W": vals["W"]})
    e = expect_error(path, checkpoint.load, path, expected_of(vals))
    assert "'b'" in e.message and "'file'" in e.message and "'W'" not in e.message


def test_checkpoint_load_unexpected_key(tmp_path):
    path = tmp_path / "m.npz"
    checkpoint.save(path, values())
    e = expect_error(path, checkpoint.load, path, {"W": ((3, 2), np.float32),
                                                   "b": ((2,), "float32")})
    assert "'file'" in e.message


@pytest.mark.parametrize("wrong,found,want", [
    ({"W": ((2, 3), np.float32)}, "float32[3, 2]", "float32[2, 3]"),
    ({"W": ((3, 2), np.float64)}, "float32[3, 2]", "float64[3, 2]"),
])
def test_checkpoint_load_wrong_shape_or_dtype(tmp_path, wrong, found, want):
    path = tmp_path / "m.npz"
    checkpoint.save(path, values())
    expected = {**expected_of(values()), **wrong}
    e = expect_error(path, checkpoint.load, path, expected)
    assert "'W'" in e.message and found in e.message and want in e.message
    assert e.message.index(found) < e.message.index(want)  # found, then expected


def test_checkpoint_load_without_expectations(tmp_path):
    path = tmp_path / "m.npz"
    checkpoint.save(path, values())
    assert sorted(checkpoint.load(path)) == ["W", "b", "file"]


# ---------------------------------------------------------------- metrics

def test_metrics_csv(tmp_path):
    m = Metrics()
    m.record("cost", 2.5)
    m.record("cost", np.float32(1.25))
    m.record("error", np.array(0.5), step=3)
    m.record("error", 0.25, step=7)
    m.record("cost", 1)
    m.record("error", 0.125)  # auto step continues from the last one
    path = tmp_path / "m.csv"
    m.write_csv(path)
    assert path.read_text().splitlines() == [
        "name,step,value", "cost,0,2.5", "cost,1,1.25", "cost,2,1.0",
        "error,3,0.5", "error,7,0.25", "error,8,0.125"]


def test_metrics_record_needs_a_number():
    with pytest.raises(DataError, match="cost"):
        Metrics().record("cost", np.zeros(3))


def test_metrics_csv_unwritable(tmp_path):
    expect_error(tmp_path / "no" / "m.csv", Metrics().write_csv, tmp_path / "no" / "m.csv")


def test_plot_without_matplotlib(tmp_path, monkeypatch):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.ticker",
                 "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # makes the import fail
    m = Metrics()
    m.record("cost", 1.0)
    with pytest.raises(DataError) as info:
        m.plot(tmp_path / "m.png")
    assert info.value.message == "--plot needs matplotlib"
    assert "pip install matplotlib" in info.value.hint
    assert not (tmp_path / "m.png").exists()


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    m = Metrics()
    for epoch in range(5):
        m.record("cost", 1 / (epoch + 1), step=epoch)
        m.record("error", 0.5 - epoch / 20)
    m.record("error", float("inf"))
    path = tmp_path / "m.png"
    m.plot(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- real MNIST

REAL = Path(os.environ.get("SYM_DATA", "/nonexistent")) / "mnist"
real = pytest.mark.skipif(not REAL.is_dir(),
                          reason="real MNIST absent: set SYM_DATA to a folder with mnist/")


def sha(a):
    return hashlib.sha256(a.tobytes()).hexdigest()


@real
def test_real_mnist_splits():
    d = mnist()
    shapes = [(s.x.shape, s.y.shape) for s in (d.train, d.valid, d.test)]
    assert shapes == [((50000, 784), (50000,)), ((10000, 784), (10000,)),
                      ((10000, 784), (10000,))]
    for s in (d.train, d.valid, d.test):
        assert s.x.dtype == np.float32 and s.y.dtype == np.int32
        assert s.x.flags.c_contiguous
        assert s.x.min() == 0 and s.x.max() == np.float32(255 / 256)
    assert d.train.y[0] == 5 and d.valid.y[0] == 3 and d.test.y[0] == 7


@real
def test_real_mnist_label_counts_match_the_classic_pickle():
    d = mnist()
    assert np.bincount(d.train.y).tolist() == [4932, 5678, 4968, 5101, 4859,
                                               4506, 4951, 5175, 4842, 4988]
    assert np.bincount(d.test.y).tolist() == [980, 1135, 1032, 1010, 982,
                                              892, 958, 1028, 974, 1009]


@real
def test_real_mnist_checksums():
    d = mnist()
    assert [int((s.x * 256).sum(dtype=np.int64)) for s in (d.train, d.valid, d.test)] \
        == [1309089051, 258209494, 264923200]
    assert [int(s.y.sum(dtype=np.int64)) for s in (d.train, d.valid, d.test)] \
        == [222442, 44794, 44434]
    assert sha(d.train.x) == "776032e7e6a9793aa363ced48409f59393deff07333dbd953f3749bf80667d30"
    assert sha(d.valid.x) == "04197cf3c7f94ed5f6b5f472b6be8368610bdccf10bfd78aa83bce8ca1f7c6a4"
    assert sha(d.test.x) == "0194b01ac10d2940c3823564d797c586e7bfd25ffac681a9577bfbbb62d0a81a"
    assert sha(d.train.y) == "0a30474f301fc4bfff7c6907c2de85626e473967bce1b7ea50605539b3f0a4dc"
    assert sha(d.valid.y) == "dcf9c92b17944b8d883ca4c0ab39d126ba390ed006905222e7dbd279f3e9e161"
    assert sha(d.test.y) == "52aa149c856ca033d02e1d2e5cc61033b4c56ed4a56f0edc328206a178c42126"


@real
def test_real_mnist_is_cached_in_process():
    assert mnist() is mnist()
    assert mnist(REAL) is mnist()  # the same folder named explicitly


@real
def test_real_files_match_the_download_checksums():
    for name, digest in mnist_mod.SHA256.items():
        path = REAL / f"{name}.gz"
        if not path.exists():
            pytest.skip(f"{path} not gzipped")
        assert mnist_mod._content_sha256(path) == digest


@real
def test_download_into_the_cache(tmp_path, monkeypatch):
    # Serve the real files as if from the mirror: no network needed.
    served = []

    def fake_urlopen(url, timeout=None):
        name = url.rsplit("/", 1)[1]
        served.append(name)
        return open(REAL / name, "rb")

    monkeypatch.delenv("SYM_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(mnist_mod.urllib.request, "urlopen", fake_urlopen)
    d = mnist()
    assert len(served) == 4 and d.train.y[0] == 5
    cache = tmp_path / "sym" / "mnist"
    assert sorted(os.listdir(cache)) == sorted(f"{n}.gz" for n in mnist_mod.NAMES)
    mnist()
    assert len(served) == 4  # downloaded once


# ---------------------------------------------------------------- hostile files

def test_idx_header_claiming_terabytes_is_refused_before_reading(fake_dir):
    directory, files = fake_dir
    path = files["train-images-idx3-ubyte"][0]
    path.write_bytes(gzip.compress(struct.pack(">IIII", 0x803, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)))
    e = expect_error(path, load_idx_dir, directory, n_train=N_TRAIN)
    assert "4294967295 x 4294967295 x 4294967295" in e.message
    assert str((2 ** 32 - 1) ** 3) in e.message and "bytes of data, more than" in e.message


def test_gzip_bomb_pickle_is_not_decompressed_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_mod, "MAX_DATA_BYTES", 1 << 16)
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(b"\0" * (1 << 20)))
    e = expect_error(path, load_pickle, path)
    assert f"holds more than {1 << 16} bytes (decompressed" in e.message


def test_gzip_bomb_idx_reads_only_what_the_header_says(fake_dir, monkeypatch):
    directory, files = fake_dir
    monkeypatch.setattr(mnist_mod, "IDX_SLACK", 16)
    path, array = files["t10k-labels-idx1-ubyte"]
    path.write_bytes(gzip.compress(idx_bytes(0x801, array) + b"\0" * (1 << 22)))
    e = expect_error(path, load_idx_dir, directory, n_train=N_TRAIN)
    assert "more than 16 bytes beyond what its header (3) says" in e.message
