"""Numbers worked by hand, with no PyTorch: the scalar relu at exactly 0, and two steps of each
optimizer on a quadratic. (The PyTorch comparisons elsewhere skip without torch; these never do.)"""
import math

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import Tensor, Value, optim

# ---- relu at the kink -----------------------------------------------------------------------------


@pytest.mark.parametrize("x, slope", [(0.0, 0.0), (-0.0, 0.0), (-1e-300, 0.0), (1e-300, 1.0), (2.5, 1.0)])
def test_value_relu_slope_at_and_around_zero(x, slope):
    """d relu(a)/da at a = 0 is 0, as PyTorch takes it (the kink belongs to the flat side)."""
    a = Value(x)
    out = a.relu()
    (out * 3.0).backward()
    assert a.grad == 3.0 * slope
    assert out.data == max(x, 0.0)


def test_tensor_relu_slope_at_zero_is_zero_too():
    x = Tensor(np.array([0.0, -0.0, 1.0, -1.0]), requires_grad=True)
    (x.relu() * 3.0).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 3.0, 0.0]


# ---- optimizers: two steps on L(w) = sum_i c_i * w_i**2, dL/dw_i = 2 c_i w_i ----------------------

C = np.array([1.0, 3.0])
W0 = np.array([1.0, -2.0])


def two_steps(engine, make_optimizer):
    """The parameter after each of two steps of the optimizer on L(w) = sum c_i w_i**2."""
    if engine == "tensor":
        w = Tensor(W0.copy(), requires_grad=True)
    else:
        w = tc.values(W0.copy(), name="w")
    opt = make_optimizer([w])
    seen = []
    for _ in range(2):
        opt.zero_grad()
        if engine == "tensor":
            (Tensor(C) * w * w).sum().backward()
        else:
            Value.sum([c * v * v for c, v in zip(C, w)]).backward()
        opt.step()
        seen.append((w.data if engine == "tensor" else tc.data(w)).copy())
    return seen


def grad(w):
    return 2.0 * C * w


ENGINES = ["tensor", "scalar"]


@pytest.mark.parametrize("engine", ENGINES)
def test_plain_sgd_by_hand(engine):
    lr = 0.1
    w1 = W0 - lr * grad(W0)                       # [1 - 0.2, -2 + 1.2] = [0.8, -0.8]
    w2 = w1 - lr * grad(w1)                       # [0.8 - 0.16, -0.8 + 0.48] = [0.64, -0.32]
    assert np.allclose(w2, [0.64, -0.32], rtol=1e-15)
    got = two_steps(engine, lambda p: optim.SGD(p, lr=lr))
    np.testing.assert_allclose(got, [w1, w2], rtol=1e-15)


@pytest.mark.parametrize("engine", ENGINES)
def test_sgd_momentum_by_hand(engine):
    lr, m = 0.1, 0.9
    v1 = grad(W0)                                 # the first step: v = g, no momentum yet
    w1 = W0 - lr * v1                             # [0.8, -0.8]
    v2 = m * v1 + grad(w1)                        # [0.9*2 + 1.6, 0.9*(-12) - 4.8] = [3.4, -15.6]
    w2 = w1 - lr * v2                             # [0.46, 0.76]
    assert np.allclose(w2, [0.46, 0.76], rtol=1e-14)
    np.testing.assert_allclose(two_steps(engine, lambda p: optim.SGD(p, lr=lr, momentum=m)), [w1, w2],
                               rtol=1e-14)


@pytest.mark.parametrize("engine", ENGINES)
def test_sgd_momentum_with_dampening_by_hand(engine):
    lr, m, d = 0.1, 0.9, 0.5
    v1 = grad(W0)                                 # dampening never touches the first step
    w1 = W0 - lr * v1
    v2 = m * v1 + (1 - d) * grad(w1)              # [1.8 + 0.8, -10.8 - 2.4] = [2.6, -13.2]
    w2 = w1 - lr * v2                             # [0.54, 0.52]
    assert np.allclose(w2, [0.54, 0.52], rtol=1e-14)
    got = two_steps(engine, lambda p: optim.SGD(p, lr=lr, momentum=m, dampening=d))
    np.testing.assert_allclose(got, [w1, w2], rtol=1e-14)


@pytest.mark.parametrize("engine", ENGINES)
def test_sgd_nesterov_by_hand(engine):
    lr, m = 0.1, 0.9
    g1 = grad(W0)
    v1 = g1
    w1 = W0 - lr * (g1 + m * v1)                  # [1 - 0.38, -2 + 2.28] = [0.62, 0.28]
    g2 = grad(w1)                                 # [1.24, 1.68]
    v2 = m * v1 + g2                              # [3.04, -9.12]
    w2 = w1 - lr * (g2 + m * v2)                  # [0.62 - 0.3976, 0.28 + 0.6528] = [0.2224, 0.9328]
    assert np.allclose(w2, [0.2224, 0.9328], rtol=1e-13)
    got = two_steps(engine, lambda p: optim.SGD(p, lr=lr, momentum=m, nesterov=True))
    np.testing.assert_allclose(got, [w1, w2], rtol=1e-14)


@pytest.mark.parametrize("engine", ENGINES)
def test_sgd_weight_decay_by_hand(engine):
    lr, m, wd = 0.1, 0.5, 0.1
    v1 = grad(W0) + wd * W0                       # [2.1, -12.2]
    w1 = W0 - lr * v1                             # [0.79, -0.78]
    v2 = m * v1 + grad(w1) + wd * w1              # [1.05 + 1.58 + 0.079, -6.1 - 4.68 - 0.078]
    w2 = w1 - lr * v2
    assert np.allclose(w2, [0.79 - 0.2709, -0.78 + 1.0858], rtol=1e-13)
    got = two_steps(engine, lambda p: optim.SGD(p, lr=lr, momentum=m, weight_decay=wd))
    np.testing.assert_allclose(got, [w1, w2], rtol=1e-14)


@pytest.mark.parametrize("engine", ENGINES)
def test_adam_by_hand_with_both_bias_corrections(engine):
    """m_hat = m / (1 - b1**t) and v_hat = v / (1 - b2**t): the step is lr * m_hat / (sqrt(v_hat) + eps)."""
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    g1 = grad(W0)                                 # [2, -12]
    m1, v1 = (1 - b1) * g1, (1 - b2) * g1 ** 2    # [0.2, -1.2], [0.004, 0.144]
    # after one step m_hat = g and v_hat = g**2: the step is lr * sign(g), whatever g's size
    w1 = W0 - lr * (m1 / (1 - b1)) / (np.sqrt(v1 / (1 - b2)) + eps)
    assert np.allclose(w1, [0.9, -1.9], rtol=1e-8)
    g2 = grad(w1)                                 # about [1.8, -11.4]
    m2, v2 = b1 * m1 + (1 - b1) * g2, b2 * v1 + (1 - b2) * g2 ** 2
    m_hat, v_hat = m2 / (1 - b1 ** 2), v2 / (1 - b2 ** 2)
    w2 = w1 - lr * m_hat / (np.sqrt(v_hat) + eps)
    # the first coordinate, spelled out: m2 = 0.18 + 0.18 = 0.36, v2 = 0.003996 + 0.00324 = 0.007236
    assert math.isclose(m2[0], 0.36, rel_tol=1e-7) and math.isclose(v2[0], 0.007236, rel_tol=1e-7)
    assert math.isclose(w2[0], 0.9 - 0.1 * (0.36 / 0.19) / math.sqrt(0.007236 / 0.001999), rel_tol=1e-7)
    got = two_steps(engine, lambda p: optim.Adam(p, lr=lr, betas=(b1, b2), eps=eps))
    np.testing.assert_allclose(got, [w1, w2], rtol=1e-14)


@pytest.mark.parametrize("engine", ENGINES)
def test_adam_weight_decay_by_hand(engine):
    lr, b1, b2, eps, wd = 0.01, 0.8, 0.9, 1e-3, 0.5
    m = v = np.zeros(2)
    w, steps = W0.copy(), []
    for t in (1, 2):
        g = grad(w) + wd * w
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        w = w - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        steps.append(w)
    got = two_steps(engine, lambda p: optim.Adam(p, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd))
    np.testing.assert_allclose(got, steps, rtol=1e-14)


def test_nesterov_and_dampening_are_checked():
    w = [Tensor(np.zeros(2), requires_grad=True)]
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD(w, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD(w, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)
    with pytest.raises(ValueError, match="dampening"):
        optim.SGD(w, lr=0.1, momentum=0.9, dampening=1.5)


# ---- the optimizers' defaults and limits, as PyTorch's (found by mutation testing) ----------------


def test_defaults_are_pytorchs_sgd_lr_0_01_and_adam_lr_0_001():
    w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    (w * w).sum().backward()  # g = 2w = [2, -4]
    optim.SGD([w]).step()
    np.testing.assert_allclose(w.data, [1.0 - 0.02, -2.0 + 0.04], rtol=1e-15)
    v = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    (v * v).sum().backward()
    optim.Adam([v]).step()  # the first Adam step is lr * sign(g), up to eps
    np.testing.assert_allclose(v.data, [1.0 - 0.001, -2.0 + 0.001], rtol=1e-9)


def test_a_single_value_is_a_parameter_too():
    w = Value(3.0, name="w")
    opt = optim.SGD([w], lr=0.25)
    (w * w).backward()  # dL/dw = 6
    opt.step()
    assert w.data == 3.0 - 1.5 and w.name == "w"
    opt.zero_grad()
    assert w.grad == 0.0


def test_adams_moments_keep_the_parameters_dtype():
    w = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    assert opt.m[0].dtype == np.float32 and opt.v[0].dtype == np.float32 and w.dtype == np.float32


def test_the_limits_of_each_setting_are_pytorchs():
    w = [Tensor(np.zeros(2), requires_grad=True)]
    # allowed at the edge: lr 0, dampening 1, betas 0, eps 0
    optim.SGD(w, lr=0.0)
    optim.SGD(w, lr=0.1, momentum=0.5, dampening=1.0)
    optim.Adam(w, lr=0.0, betas=(0.0, 0.0), eps=0.0)
    refused = [
        (lambda: optim.SGD([], lr=0.1), "^optimizer got an empty parameter list$"),
        (lambda: optim.SGD(w, lr=-0.1), "learning rate must be >= 0"),
        (lambda: optim.SGD(w, lr=0.1, momentum=-0.5), "momentum and weight_decay must be >= 0"),
        (lambda: optim.SGD(w, lr=0.1, weight_decay=-0.5), "momentum and weight_decay must be >= 0"),
        (lambda: optim.Adam(w, betas=(1.0, 0.5)), r"betas must be in \[0, 1\)"),
        (lambda: optim.Adam(w, betas=(0.5, 1.0)), r"betas must be in \[0, 1\)"),
        (lambda: optim.Adam(w, betas=(-0.1, 0.5)), r"betas must be in \[0, 1\)"),
        (lambda: optim.Adam(w, betas=(0.5, 1.5)), r"betas must be in \[0, 1\)"),
        (lambda: optim.Adam(w, eps=-1e-8), "eps and weight_decay must be >= 0"),
    ]
    for make, message in refused:
        with pytest.raises(ValueError, match=message):
            make()
