"""The bundled digits and the IDX reader: small IDX files written here, read back, then corrupted."""
import gzip
import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_conv import datasets
from tinygrad_conv.datasets.digits import DIGITS_FILE

# ---- digits ------------------------------------------------------------------------------


def test_load_digits_shapes_dtypes_and_ranges():
    images, labels = datasets.load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.float64
    assert labels.shape == (1797,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    # pixels are counts 0..16 divided by 16, exactly
    assert np.array_equal(images * 16, np.round(images * 16))
    assert set(np.unique(labels)) == set(range(10))


def test_load_digits_is_the_uci_test_set():
    images, labels = datasets.load_digits()
    # class counts and checksums of the UCI optdigits test set as scikit-learn ships it
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert int(round((images * 16).sum())) == 561718
    assert labels[:10].tolist() == list(range(10))
    first = (images[0] * 16).astype(int)
    assert first[0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]
    assert first[7].tolist() == [0, 0, 6, 13, 10, 0, 0, 0]


def test_load_digits_returns_fresh_arrays():
    images, labels = datasets.load_digits()
    images[:] = -1.0
    labels[:] = 99
    again, again_labels = datasets.load_digits()
    assert again.min() == 0.0 and again_labels.max() == 9


def test_attribution_is_bundled_beside_the_data():
    note = (DIGITS_FILE.parent / "ATTRIBUTION.md").read_text()
    assert "CC BY 4.0" in note and "Alpaydin" in note and "Kaynak" in note and "UCI" in note
    assert "CC BY 4.0" in datasets.digits.__doc__


def test_split_is_a_seeded_partition():
    images, labels = datasets.load_digits()
    (xa, ya), (xb, yb) = datasets.split(images, labels, test_fraction=0.2, seed=0)
    assert len(xb) == round(1797 * 0.2) and len(xa) + len(xb) == 1797
    assert len(ya) == len(xa) and len(yb) == len(xb)
    # every sample lands in exactly one half, with its own label
    both = np.concatenate([xa, xb]).reshape(1797, -1)
    assert np.array_equal(np.sort(both.sum(1) * 16 + np.concatenate([ya, yb]) * 1e-3),
                          np.sort(images.reshape(1797, -1).sum(1) * 16 + labels * 1e-3))
    (xa2, _), (xb2, _) = datasets.split(images, labels, test_fraction=0.2, seed=0)
    assert np.array_equal(xb, xb2) and np.array_equal(xa, xa2)
    (_, _), (xb3, _) = datasets.split(images, labels, test_fraction=0.2, seed=1)
    assert not np.array_equal(xb, xb3)


def test_split_bad_input():
    with pytest.raises(ValueError, match="same number of samples"):
        datasets.split(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="test_fraction"):
        datasets.split(np.zeros((5, 2)), np.zeros(5), test_fraction=1.5)


# ---- IDX ---------------------------------------------------------------------------------

CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array, code=None):
    """The IDX encoding of array, written out by hand from the format description."""
    code = CODES[array.dtype.type] if code is None else code
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(tmp_path, name, payload, compress=False):
    path = tmp_path / name
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


arrays = st.sampled_from(list(CODES)).flatmap(lambda t: hnp.arrays(
    np.dtype(t), hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5),
    elements=hnp.from_dtype(np.dtype(t), allow_nan=False)))


@settings(max_examples=50, deadline=None)
@given(array=arrays, compress=st.booleans(), suffix=st.sampled_from(["", ".gz", ".idx"]))
def test_read_idx_round_trip(tmp_path_factory, array, compress, suffix):
    path = write(tmp_path_factory.mktemp("idx"), "a" + suffix, idx_bytes(array), compress)
    back = datasets.read_idx(path)
    assert back.dtype == array.dtype and back.dtype.isnative
    assert back.shape == array.shape
    assert np.array_equal(back, array)
    back.flat[:1] = 0  # a writable array of its own


def test_read_idx_nan_and_inf_float(tmp_path):
    array = np.array([[np.nan, np.inf], [-np.inf, -0.0]], dtype=np.float32)
    back = datasets.read_idx(write(tmp_path, "f", idx_bytes(array)))
    assert np.array_equal(back, array, equal_nan=True) and np.signbit(back[1, 1])


def test_read_idx_mnist_like_header(tmp_path):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    payload = idx_bytes(images)
    assert payload[:4] == b"\x00\x00\x08\x03"  # MNIST's image magic 2051
    assert np.array_equal(datasets.read_idx(write(tmp_path, "train-images-idx3-ubyte.gz", payload, True)), images)


def test_read_idx_gzip_detected_by_content_not_name(tmp_path):
    array = np.array([1, 2, 3], dtype=np.int16)
    assert np.array_equal(datasets.read_idx(write(tmp_path, "plain.bin", idx_bytes(array), True)), array)
    assert np.array_equal(datasets.read_idx(write(tmp_path, "not-really.gz", idx_bytes(array))), array)


def test_read_idx_accepts_str_path(tmp_path):
    array = np.array([7], dtype=np.int32)
    assert datasets.read_idx(str(write(tmp_path, "s", idx_bytes(array)))).tolist() == [7]


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        datasets.read_idx(tmp_path / "nope.idx")


GOOD = idx_bytes(np.arange(6, dtype=np.int32).reshape(2, 3))

CORRUPTIONS = [
    # (name, bytes, pieces the message must contain)
    ("empty", b"", ["4-byte", "0 byte"]),
    ("short magic", b"\x00\x00\x08", ["4-byte", "3 byte"]),
    ("bad first bytes", b"\x01\x02" + GOOD[2:], ["00 00", "01 02"]),
    ("text file", b"hello world", ["not an IDX file", "68 65"]),
    ("unknown type", GOOD[:2] + b"\x0A" + GOOD[3:], ["0x0A", "type code", "0x08 uint8"]),
    ("zero dims", b"\x00\x00\x08\x00", ["0 dimensions"]),
    ("truncated dims", GOOD[:4 + 5], ["2 dimension", "ends after 5"]),
    ("short data", GOOD[:-1], ["too short", "(2, 3)", "int32", "24 bytes", "found 23"]),
    ("no data", GOOD[:12], ["too short", "found 0"]),
    ("trailing bytes", GOOD + b"\x00", ["trailing bytes", "24 bytes", "found 25"]),
    ("wrong dims", GOOD[:4] + struct.pack(">II", 3, 3) + GOOD[12:], ["too short", "(3, 3)", "36 bytes", "found 24"]),
]


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("name,payload,pieces", CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_read_idx_corrupt_files_say_what_is_wrong(tmp_path, name, payload, pieces, compress):
    path = write(tmp_path, "bad.idx", payload, compress)
    with pytest.raises(ValueError) as info:
        datasets.read_idx(path)
    message = str(info.value)
    assert str(path) in message
    assert ("after gunzip" in message) == compress
    for piece in pieces:
        assert piece in message, (piece, message)


@pytest.mark.parametrize("cut", [3, 12, -5])
def test_read_idx_broken_gzip(tmp_path, cut):
    payload = gzip.compress(GOOD)
    path = write(tmp_path, "broken.gz", payload[:cut])
    with pytest.raises(ValueError, match="gzip") as info:
        datasets.read_idx(path)
    assert str(path) in str(info.value)


@settings(max_examples=30, deadline=None)
@given(array=arrays, extra=st.integers(1, 9), data=st.data())
def test_read_idx_any_length_change_is_an_error(tmp_path_factory, array, extra, data):
    """Removing or adding any number of bytes after the header is always caught."""
    payload = idx_bytes(array)
    header = 4 + 4 * array.ndim
    if data.draw(st.booleans()) and len(payload) > header:
        payload = payload[:len(payload) - min(extra, len(payload) - header)]
        expect = "too short"
    else:
        payload = payload + bytes(extra)
        expect = "trailing bytes"
    path = write(tmp_path_factory.mktemp("idx"), "x", payload, data.draw(st.booleans()))
    with pytest.raises(ValueError, match=expect):
        datasets.read_idx(path)
