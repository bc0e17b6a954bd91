"""load_digits (the packaged UCI digits) and load_mnist (IDX files written here)."""

import gzip
import hashlib
import socket

import numpy as np
import pytest

import minigrad as mg
from minigrad.data import load_digits, load_mnist

# From the UCI CSV as shipped in scikit-learn 1.9.1 (tools/make_digits_npz.py).
DIGITS_PIXEL_SUM = 561718  # sum of the raw 0..16 counts over all 1797 images
DIGITS_SHA256 = "87ff0c9e40dc7e2c0e34e7257799c2e3f3aec1a016363bb11cad869ec428a826"
DIGITS_LABEL_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_digits_shapes_and_dtypes(digits):
    images, labels = digits
    assert isinstance(images, mg.Tensor) and isinstance(labels, mg.Tensor)
    assert images.shape == (1797, 1, 8, 8) and images.dtype == np.float32
    assert labels.shape == (1797,) and labels.dtype == np.int64
    assert not images.requires_grad and str(images.device) == "cpu"


def test_digits_values_are_counts_over_16(digits):
    x = digits[0].numpy()
    assert x.min() == 0.0 and x.max() == 1.0
    counts = x * 16
    np.testing.assert_array_equal(counts, np.round(counts))
    assert int(counts.astype(np.int64).sum()) == DIGITS_PIXEL_SUM
    # The exact content and order, images then labels, as stored in digits.npz.
    raw = counts.astype(np.uint8).reshape(1797, 8, 8).tobytes()
    digest = hashlib.sha256(raw + digits[1].numpy().astype(np.uint8).tobytes()).hexdigest()
    assert digest == DIGITS_SHA256


def test_digits_labels(digits):
    labels = digits[1].numpy()
    assert np.bincount(labels).tolist() == DIGITS_LABEL_COUNTS
    assert labels[:10].tolist() == list(range(10))


def test_digits_needs_no_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("load_digits tried to open a socket")

    monkeypatch.setattr(socket, "socket", no_network)
    assert load_digits()[0].shape == (1797, 1, 8, 8)


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(folder, prefix="train", n=5, gz=(False, False), side=28):
    """Write a small IDX image/label pair; gz says which of the two to gzip."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, side, side), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    for kind, data, magic, zipped in (("images-idx3", images, 0x803, gz[0]),
                                      ("labels-idx1", labels, 0x801, gz[1])):
        raw = idx_bytes(data, magic)
        name = f"{prefix}-{kind}-ubyte"
        if zipped:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return images, labels


@pytest.mark.parametrize("gz", [(False, False), (True, True), (True, False)])
@pytest.mark.parametrize("train", [True, False])
def test_mnist_reads_raw_and_gzipped_idx(tmp_path, gz, train):
    images, labels = write_mnist(tmp_path, "train" if train else "t10k", n=5, gz=gz)
    x, y = load_mnist(tmp_path, train=train)
    assert x.shape == (5, 1, 28, 28) and x.dtype == np.float32
    assert y.shape == (5,) and y.dtype == np.int64
    np.testing.assert_allclose(x.numpy()[:, 0], images / np.float32(255), rtol=0, atol=1e-7)
    assert x.numpy()[0, 0, 0, 0] == 0.0 and x.numpy()[0, 0, 0, 1] == 1.0
    np.testing.assert_array_equal(y.numpy(), labels)


def test_mnist_accepts_a_str_path(tmp_path):
    write_mnist(tmp_path, n=2)
    assert load_mnist(str(tmp_path))[0].shape == (2, 1, 28, 28)


def test_mnist_missing_file_names_file_and_folder(tmp_path):
    write_mnist(tmp_path, "train")
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path)
    message = str(info.value)
    assert "train-labels-idx1-ubyte" in message and str(tmp_path) in message
    assert "train-images" not in message
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte.*t10k-labels"):
        load_mnist(tmp_path, train=False)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_bad_magic_names_the_file(tmp_path, gz):
    write_mnist(tmp_path, gz=(gz, gz))
    name = "train-images-idx3-ubyte" + (".gz" if gz else "")
    # A label file where the images belong: right format, wrong kind.
    raw = idx_bytes(np.zeros(5, np.uint8), 0x801)
    (tmp_path / name).write_bytes(gzip.compress(raw) if gz else raw)
    with pytest.raises(ValueError, match=f"{name}.*magic number 0x00000801"):
        load_mnist(tmp_path)


@pytest.mark.parametrize("cut", [2, 10, 100])
def test_mnist_truncated_file_names_the_file(tmp_path, cut):
    write_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.*truncated"):
        load_mnist(tmp_path)


def test_mnist_trailing_bytes_are_an_error(tmp_path):
    write_mnist(tmp_path)
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte is longer than its header"):
        load_mnist(tmp_path)


def test_mnist_damaged_gzip_and_count_mismatch(tmp_path):
    write_mnist(tmp_path, gz=(False, True))
    gz_path = tmp_path / "train-labels-idx1-ubyte.gz"
    gz_path.write_bytes(gz_path.read_bytes()[:-6])
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz"):
        load_mnist(tmp_path)
    gz_path.write_bytes(gzip.compress(idx_bytes(np.zeros(4, np.uint8), 0x801)))
    with pytest.raises(ValueError, match="5 images but .* 4 labels"):
        load_mnist(tmp_path)
