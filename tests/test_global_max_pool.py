"""global_max_pool2d: the max over the last two axes, shaped as global_avg_pool2d's result, on both engines.

A learner pooling one 2-D feature map gets one Value (a Tensor of shape ()), not a (1, 1) grid that
needs `.flat[0]`. Checked against max_pool2d with one whole-grid window, PyTorch and central differences.
"""
import numpy as np
import pytest
from hypothesis import example, given, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import Tensor, Value
from tinygrad_conv import functional as F
from tinygrad_conv.gradcheck import numerical_grad
from strategies import examples, seeds


def weighted_sum(out, R):
    """L = sum(out * R) on the grid engine: dL/dout = R."""
    cells = [out] if isinstance(out, Value) else list(out.flat)
    return Value.sum([o * float(r) for o, r in zip(cells, np.ravel(R))])


def distinct_numbers(rng, shape):
    """Numbers with no ties, so the max has one winner and central differences see a smooth function."""
    return rng.permutation(np.arange(int(np.prod(shape)), dtype=np.float64)).reshape(shape) * 0.5 + \
        rng.uniform(0, 0.1, shape)


shapes = st.tuples(st.lists(st.integers(1, 3), max_size=2), st.integers(1, 5), st.integers(1, 5))


@examples(25)
@given(shape=shapes, seed=seeds)
@example(shape=([], 2, 2), seed=0)
def test_values_and_gradients_on_both_engines(shape, seed):
    lead, h, w = shape
    shape = tuple(lead) + (h, w)
    rng = np.random.default_rng(seed)
    x = distinct_numbers(rng, shape)
    R = rng.integers(-3, 4, size=shape[:-2]).astype(np.float64)
    expected = x.max(axis=(-2, -1))
    winner = (x == expected[..., None, None])
    expected_grad = winner * R[..., None, None]

    X = tc.values(x, name="x")
    p = F.global_max_pool2d(X)
    if not lead:  # one image: one Value, named p as global_avg_pool2d's
        assert isinstance(p, Value) and p.name == "p" and p.data == expected
    else:
        assert p.shape == shape[:-2]
        np.testing.assert_array_equal(tc.data(p), expected)
    weighted_sum(p, R).backward()
    np.testing.assert_array_equal(tc.grads(X), expected_grad)

    t = Tensor(x, requires_grad=True)
    q = F.global_max_pool2d(t)
    assert q.shape == shape[:-2]
    np.testing.assert_array_equal(q.data, expected)
    (q * Tensor(R)).sum().backward()
    np.testing.assert_array_equal(t.grad, expected_grad)

    # the same numbers as max_pool2d with one window over the whole grid
    windowed = F.max_pool2d(tc.values(x), (h, w))
    np.testing.assert_array_equal(tc.data(windowed).reshape(expected.shape), expected)


@examples(20)
@given(shape=shapes, seed=seeds)
def test_central_differences_agree(shape, seed):
    lead, h, w = shape
    shape = tuple(lead) + (h, w)
    rng = np.random.default_rng(seed)
    X = tc.values(distinct_numbers(rng, shape))
    R = rng.standard_normal(shape[:-2])
    weighted_sum(F.global_max_pool2d(X), R).backward()
    nudged = numerical_grad(lambda: weighted_sum(F.global_max_pool2d(X), R), X, h=1e-3)
    # the max is linear around distinct numbers 0.4 apart, so a 1e-3 nudge is exact up to rounding
    np.testing.assert_allclose(nudged, tc.grads(X), rtol=1e-9, atol=1e-9)


def test_ties_send_the_gradient_to_the_first_largest_and_nans_to_the_last():
    X = tc.values(np.array([[1.0, 7.0], [7.0, 2.0]]))
    F.global_max_pool2d(X).backward()
    assert tc.grads(X).tolist() == [[0.0, 1.0], [0.0, 0.0]]
    x = np.array([[np.nan, 1.0], [np.nan, 2.0]])
    X, t = tc.values(x), Tensor(x, requires_grad=True)
    p, q = F.global_max_pool2d(X), F.global_max_pool2d(t)
    assert np.isnan(p.data) and np.isnan(q.data)
    p.backward()
    q.backward()
    assert tc.grads(X).tolist() == [[0.0, 0.0], [1.0, 0.0]] == t.grad.tolist()  # as max_pool2d, PyTorch's CPU rule


def test_float32_stays_float32():
    t = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    q = F.global_max_pool2d(t)
    q.backward()
    assert q.data.dtype == np.float32 and t.grad.dtype == np.float32 and q.data == 5.0


@pytest.mark.parametrize("engine", ["grid", "tensor"])
@pytest.mark.parametrize("shape", [(3,), (0, 3), (2, 3, 0)])
def test_bad_shapes_name_the_shape(engine, shape):
    x = np.zeros(shape)
    x = tc.values(x) if engine == "grid" else Tensor(x)
    with pytest.raises(ValueError, match=r"global_max_pool2d.*" + r"\(" + ", ".join(map(str, shape))):
        F.global_max_pool2d(x)


@examples(20)
@given(shape=shapes, seed=seeds)
def test_matches_torch(shape, seed):
    torch = pytest.importorskip("torch")
    lead, h, w = shape
    shape = tuple(lead) + (h, w)
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, size=shape).astype(np.float64)  # small whole numbers: ties happen
    R = rng.standard_normal(shape[:-2])
    xt = torch.tensor(x, requires_grad=True)
    flat = xt.reshape(-1, 1, h, w)  # torch's max_pool2d wants (N, C, H, W)
    qt = torch.nn.functional.max_pool2d(flat, (h, w)).reshape(shape[:-2])
    (qt * torch.tensor(R)).sum().backward()
    X = tc.values(x)
    weighted_sum(F.global_max_pool2d(X), R).backward()
    t = Tensor(x, requires_grad=True)
    (F.global_max_pool2d(t) * Tensor(R)).sum().backward()
    np.testing.assert_allclose(tc.grads(X), xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(t.grad, xt.grad.numpy(), rtol=1e-12, atol=1e-12)
