"""A leaf's .grad may be the very array a VJP made (no copy), but never one anything else shares.

backward() keeps a VJP's result as a leaf's gradient when the numbers are that result's alone:
a new array, or a reshaped or transposed view of the whole of one that nothing else refers to.
These tests change one gradient in place and check that no other gradient, no data and no later
backward() sees the change, over leaves used through reshape, transpose, twice, or not at all.
"""
import numpy as np
from hypothesis import given, settings, strategies as st

from tinygrad_conv import Tensor


def build(kind, w, v):
    """A loss using the leaves w (2, 3) and v (3, 2) in one of several ways."""
    if kind == "reshape":
        return (w.reshape(6) * v.reshape(6)).sum()
    if kind == "transpose":
        return (w.transpose() @ w * 2.0).sum() + (v.transpose(1, 0) * w).sum()
    if kind == "twice":
        return (w * w).sum() + (w.reshape(3, 2) * v).sum()
    if kind == "product":
        return (w @ v).sum()
    return (w.transpose(1, 0) + v).sum()  # the same incoming gradient reaches both leaves


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["reshape", "transpose", "twice", "product", "shared"]), st.integers(0, 2 ** 16))
def test_changing_one_gradient_in_place_changes_nothing_else(kind, seed):
    rng = np.random.default_rng(seed)
    w0, v0 = rng.standard_normal((2, 3)), rng.standard_normal((3, 2))
    w, v = Tensor(w0, requires_grad=True), Tensor(v0, requires_grad=True)
    build(kind, w, v).backward()
    w_grad, v_grad = w.grad.copy(), v.grad.copy()
    assert not np.shares_memory(w.grad, v.grad)
    assert not np.shares_memory(w.grad, w.data) and not np.shares_memory(v.grad, v.data)

    w.grad += 100.0  # in place, as an optimizer or a user may do
    np.testing.assert_array_equal(v.grad, v_grad)
    np.testing.assert_array_equal(w.data, w0)
    np.testing.assert_array_equal(v.data, v0)

    # gradients accumulate across calls onto the changed arrays, and a fresh graph is unaffected
    v.grad = None
    build(kind, w, v).backward()
    np.testing.assert_allclose(w.grad, w_grad + 100.0 + w_grad, rtol=1e-12)
    np.testing.assert_array_equal(v.grad, v_grad)


def test_two_leaves_fed_by_one_gradient_get_arrays_of_their_own():
    a, b = Tensor(np.ones((2, 2)), requires_grad=True), Tensor(np.ones((2, 2)), requires_grad=True)
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad, b.grad)
    a.grad[0, 0] = 7.0
    assert b.grad[0, 0] == 1.0
