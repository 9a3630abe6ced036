"""tinygrad_conv.gradcheck: nudge-and-rerun central differences beside backward(), on grids."""
import math

import numpy as np
import pytest
from hypothesis import given

import tinygrad_conv as tc
from tinygrad_conv import Value
from tinygrad_conv import functional as F
from tinygrad_conv.gradcheck import gradcheck, numerical_grad
from strategies import conv_configs, examples, seeds


def test_numerical_grad_of_a_quadratic_is_exact():
    x = tc.values(np.array([[1.0, -2.0], [0.5, 3.0]]), name="x")
    loss_of = lambda: Value.sum([v * v for v in x.flat])  # noqa: E731
    estimate = numerical_grad(loss_of, x, h=0.5)  # central differences are exact on quadratics
    assert estimate.shape == (2, 2)
    np.testing.assert_allclose(estimate, 2 * tc.data(x), rtol=1e-12)


@examples(20)
@given(cfg=conv_configs(max_batch=1, max_groups=2, max_channels_per_group=1), seed=seeds)
def test_gradcheck_agrees_with_backward_on_conv(cfg, seed):
    x, w, b = cfg.arrays(seed)
    X, W = tc.values(x, name="x"), tc.values(w, name="W")
    B = None if b is None else tc.values(b)
    R = np.random.default_rng(seed).standard_normal(cfg.output_shape)
    loss_of = lambda: Value.sum([o * float(r) for o, r in zip(F.conv2d(X, W, B, **cfg.kwargs()).flat, R.flat)])  # noqa: E731
    before_x, before_w = tc.data(X), tc.data(W)
    for inputs, before in ((W, before_w), (X, before_x)):
        analytic, numerical = gradcheck(loss_of, inputs)
        assert analytic.shape == numerical.shape == inputs.shape
        np.testing.assert_allclose(analytic, numerical, rtol=1e-7, atol=1e-8)
        assert np.array_equal(analytic, tc.grads(inputs))
    # every nudge undone exactly, bit for bit
    assert np.array_equal(tc.data(X), before_x) and np.array_equal(tc.data(W), before_w)


def test_gradcheck_on_a_smooth_network():
    rng = np.random.default_rng(3)
    X = tc.values(rng.standard_normal((1, 5, 5)), name="x")
    W = tc.values(rng.standard_normal((2, 1, 3, 3)), name="W")
    V = tc.values(rng.standard_normal((3, 2)), name="V")
    target = 2  # one example: logits (classes,), one class index

    def loss_of():
        h = F.global_avg_pool2d(F.conv2d(X, W, padding=1))  # (2,)
        h = np.array([v.tanh() for v in h], dtype=object)
        return F.cross_entropy(F.linear(h, V), target)
    for inputs in (W, V, X):
        analytic, numerical = gradcheck(loss_of, inputs)
        np.testing.assert_allclose(analytic, numerical, rtol=1e-6, atol=1e-9)


def test_gradcheck_resets_the_inputs_grads_first():
    x = tc.values([1.0, 2.0])
    for v in x:
        v.grad = 123.0
    analytic, _ = gradcheck(lambda: x[0] * x[1], x)
    assert analytic.tolist() == [2.0, 1.0]


def test_a_single_value_and_a_number_loss():
    a = Value(0.7)
    analytic, numerical = gradcheck(lambda: a.tanh(), a)
    assert analytic.shape == numerical.shape == ()
    assert math.isclose(float(numerical), 1 - math.tanh(0.7) ** 2, rel_tol=1e-8)
    assert math.isclose(float(analytic), float(numerical), rel_tol=1e-8)
    assert math.isclose(float(numerical_grad(lambda: a.data ** 3, a, h=1e-4)), 3 * 0.49, rel_tol=1e-7)


def test_inputs_restored_even_when_the_loss_fails():
    x = tc.values([0.1, 0.2, 0.3])
    before = tc.data(x)
    calls = []

    def loss_of():
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("boom")
        return Value.sum(list(x))
    with pytest.raises(RuntimeError, match="boom"):
        numerical_grad(loss_of, x)
    assert np.array_equal(tc.data(x), before)


def test_gradcheck_errors():
    x = tc.values([1.0])
    with pytest.raises(ValueError, match=r"h must be positive.*0"):
        numerical_grad(lambda: x[0], x, h=0)
    with pytest.raises(TypeError, match="function"):
        numerical_grad(x[0], x)
    with pytest.raises(TypeError, match="float"):
        gradcheck(lambda: 1.0, x)
    with pytest.raises(TypeError, match=r"float64 array of shape \(1,\)"):
        numerical_grad(lambda: x[0], np.ones(1))


def test_float32_tensors_get_a_nudge_their_precision_can_see():
    # a 1e-6 nudge of a float32 number is mostly rounding: the estimate was ~10% off for x*x
    rng = np.random.default_rng(0)
    x = tc.Tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    for loss in (lambda: (x * x).sum(), lambda: x.tanh().sum(), lambda: (x.exp() * 0.1).sum()):
        analytic, numerical = gradcheck(loss, x)
        assert analytic.dtype == numerical.dtype == np.float64
        np.testing.assert_allclose(numerical, analytic, rtol=2e-4, atol=2e-4 * np.abs(analytic).max())
    assert x.data.dtype == np.float32
