"""tinygrad_conv.buffers: a cached array is handed out again only when no one else refers to it."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from tinygrad_conv import Tensor, buffers, functional as F
from strategies import examples

BIG = (64, 1024)  # 256 KB of float32: large enough to be cached


@pytest.fixture(autouse=True)
def fresh_cache():
    buffers.clear()
    yield
    buffers.clear()


def test_an_array_in_use_is_never_handed_out_again():
    a = buffers.empty(BIG, np.float32)
    b = buffers.empty(BIG, np.float32)
    assert a is not b and not np.shares_memory(a, b)
    assert a.shape == BIG and a.dtype == np.float32


def test_a_dropped_array_is_reused():
    a = buffers.empty(BIG, np.float32)
    address = a.ctypes.data
    del a
    assert buffers.empty(BIG, np.float32).ctypes.data == address


def test_a_view_keeps_its_array_in_use():
    view = buffers.empty(BIG, np.float32)[3:, ::2].T
    b = buffers.empty(BIG, np.float32)
    assert not np.shares_memory(view, b)


def test_shape_and_dtype_are_the_key():
    a = buffers.empty(BIG, np.float32)
    address = a.ctypes.data
    del a
    other_dtype, other_shape = buffers.empty(BIG, np.int32), buffers.empty(BIG[::-1], np.float32)
    assert (other_dtype.dtype, other_dtype.shape, other_shape.shape) == (np.int32, BIG, BIG[::-1])
    assert address not in (other_dtype.ctypes.data, other_shape.ctypes.data)
    assert buffers.empty(BIG, np.float32).ctypes.data == address


def test_small_arrays_are_not_kept():
    before = buffers.held_bytes()
    buffers.empty((10, 10), np.float64)
    assert buffers.held_bytes() == before


def test_zeros_are_zero_even_when_reused():
    a = buffers.empty(BIG, np.float64)
    a.fill(7.0)
    del a
    assert not buffers.zeros(BIG, np.float64).any()


@examples(20)
@given(order=st.permutations(range(4)))
def test_empty_like_lays_its_array_out_as_the_model_is(order):
    model = np.zeros((8, 16, 32, 64), np.float32).transpose(order)
    copy = buffers.empty_like(model)
    assert copy.shape == model.shape
    assert list(np.argsort(copy.strides)) == list(np.argsort(model.strides))


def test_the_cache_stays_within_its_limit(monkeypatch):
    monkeypatch.setattr(buffers, "LIMIT_BYTES", 3 * 256 * 1024)
    kept = [buffers.empty((64, 1024 + i), np.float32) for i in range(5)]  # all in use: not all can be kept
    assert buffers.held_bytes() <= buffers.LIMIT_BYTES
    del kept
    for i in range(5, 10):  # unused ones make room for new shapes
        buffers.empty((64, 1024 + i), np.float32)
        assert buffers.held_bytes() <= buffers.LIMIT_BYTES


def test_clear_drops_unused_arrays_only():
    kept = buffers.empty(BIG, np.float32)
    dropped = buffers.empty((128, 1024), np.float32)
    del dropped
    buffers.clear()
    assert buffers.held_bytes() == kept.nbytes


def test_a_result_someone_holds_keeps_its_numbers_while_the_same_graph_is_rebuilt():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((16, 4, 20, 20)).astype(np.float32), requires_grad=True)
    w = Tensor(rng.standard_normal((8, 4, 3, 3)).astype(np.float32), requires_grad=True)
    y = F.relu(F.conv2d(x, w, padding=1))
    y.sum().backward()
    kept_y, kept_x_grad, kept_w_grad = y.data.copy(), x.grad.copy(), w.grad.copy()
    x_grad, w_grad = x.grad, w.grad
    for _ in range(3):  # the same shapes again: every cached array that is free gets reused
        x.grad = w.grad = None
        x2 = Tensor(rng.standard_normal(x.shape).astype(np.float32), requires_grad=True)
        F.relu(F.conv2d(x2, w, padding=1)).sum().backward()
    np.testing.assert_array_equal(y.data, kept_y)
    np.testing.assert_array_equal(x_grad, kept_x_grad)
    np.testing.assert_array_equal(w_grad, kept_w_grad)


def test_clear_among_arrays_of_one_shape_keeps_those_in_use():
    arrays = [buffers.empty(BIG, np.float32) for _ in range(4)]
    for a, value in zip(arrays, range(4)):
        a.fill(value)
    del arrays[2], arrays[0]  # two of the four let go
    buffers.clear()
    assert buffers.held_bytes() == 2 * arrays[0].nbytes
    assert [a[0, 0] for a in arrays] == [1.0, 3.0]
    fresh = buffers.empty(BIG, np.float32)
    assert not any(np.shares_memory(fresh, a) for a in arrays)
