"""PyTorch parity: the scalar engine's forward values and every gradient against torch in float64.

Skipped without torch; CI installs it. The loss is L = sum(out * R) for random R, so each test
compares dL/d(every input) for a random upstream gradient, to ~1e-12.
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import Value
from tinygrad_conv import functional as F
from strategies import conv_configs, examples, pool_configs, seeds

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RTOL = ATOL = 1e-12


def leaf(array):
    return torch.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def both(array, name=None):
    """The same numbers as a grid of Values and as a float64 torch leaf."""
    return tc.values(array, name=name), leaf(array)


def backward_both(out_grid, out_torch, R):
    """L = sum(out * R) in both engines, then backward in both."""
    cells = [out_grid] if isinstance(out_grid, Value) else list(out_grid.flat)
    Value.sum([o * float(r) for o, r in zip(cells, np.ravel(R))]).backward()
    (out_torch * torch.tensor(R)).sum().backward()


def assert_same(grid, tensor, what="values"):
    actual = tc.grads(grid) if what == "grads" else tc.data(grid)
    expected = (tensor.grad if what == "grads" else tensor).detach().numpy()
    np.testing.assert_allclose(actual, expected.reshape(actual.shape), rtol=RTOL, atol=ATOL)


def value_of(out):
    return np.array(out.data) if isinstance(out, Value) else tc.data(out)


# ---- conv2d -------------------------------------------------------------------------------------


@examples(60)
@given(cfg=conv_configs(max_batch=2, max_groups=3, max_kernel=3, max_stride=3, max_padding=2, max_dilation=3),
       seed=seeds)
def test_conv2d_matches_torch(cfg, seed):
    x, w, b = cfg.arrays(seed)
    (X, xt), (W, wt) = both(x), both(w)
    B, bt = both(b) if cfg.bias else (None, None)
    out = F.conv2d(X, W, B, **cfg.kwargs())
    if cfg.flat:  # torch wants channels: (1, H, W) with a (1, 1, kh, kw) filter
        ot = TF.conv2d(xt[None], wt[None, None], None, cfg.stride, cfg.padding, cfg.dilation)[0]
    else:
        ot = TF.conv2d(xt, wt, bt, cfg.stride, cfg.padding, cfg.dilation, cfg.groups)
    assert out.shape == tuple(ot.shape)
    np.testing.assert_allclose(tc.data(out), ot.detach().numpy(), rtol=RTOL, atol=ATOL)
    R = np.random.default_rng(seed + 1).standard_normal(out.shape)
    backward_both(out, ot, R)
    assert_same(X, xt, "grads")
    assert_same(W, wt, "grads")
    if cfg.bias:
        assert_same(B, bt, "grads")


# ---- pooling ------------------------------------------------------------------------------------


def torch_pool(mode, xt, cfg):
    # torch pools want (C, H, W) or (N, C, H, W): give a bare (H, W) a channel, a long lead one batch axis
    shape = xt.shape
    x3 = xt.reshape((1,) + tuple(shape[-2:])) if len(shape) == 2 else xt
    pool = TF.max_pool2d if mode == "max" else TF.avg_pool2d
    out = pool(x3, cfg.kernel, cfg.effective_stride, cfg.padding)
    return out.reshape(tuple(shape[:-2]) + tuple(out.shape[-2:]))


@pytest.mark.parametrize("mode", ["max", "avg"])
@examples(40)
@given(cfg=pool_configs(), seed=seeds)
def test_pools_match_torch(mode, cfg, seed):
    rng = np.random.default_rng(seed)
    X, xt = both(rng.standard_normal(cfg.x_shape))  # continuous numbers: no ties
    out = (F.max_pool2d if mode == "max" else F.avg_pool2d)(X, **cfg.kwargs())
    ot = torch_pool(mode, xt, cfg)
    assert out.shape == tuple(ot.shape)
    np.testing.assert_allclose(tc.data(out), ot.detach().numpy(), rtol=RTOL, atol=ATOL)
    backward_both(out, ot, rng.standard_normal(out.shape))
    assert_same(X, xt, "grads")


@examples(30)
@given(cfg=pool_configs(max_lead=1), seed=seeds)
def test_max_pool_ties_follow_torch(cfg, seed):
    rng = np.random.default_rng(seed)
    X, xt = both(rng.integers(-1, 2, size=cfg.x_shape).astype(float))  # three values: ties everywhere
    out, ot = F.max_pool2d(X, **cfg.kwargs()), torch_pool("max", xt, cfg)
    backward_both(out, ot, rng.standard_normal(out.shape))
    assert_same(X, xt, "grads")


@given(lead=st.lists(st.integers(1, 3), max_size=2), h=st.integers(1, 5), w=st.integers(1, 5), seed=seeds)
def test_global_avg_pool_matches_torch(lead, h, w, seed):
    rng = np.random.default_rng(seed)
    X, xt = both(rng.standard_normal(tuple(lead) + (h, w)))
    out, ot = F.global_avg_pool2d(X), xt.mean(dim=(-2, -1))
    np.testing.assert_allclose(value_of(out), ot.detach().numpy(), rtol=RTOL, atol=ATOL)
    backward_both(out, ot, rng.standard_normal(ot.shape))
    assert_same(X, xt, "grads")


# ---- linear, relu and the losses ----------------------------------------------------------------


@given(lead=st.lists(st.integers(1, 3), max_size=2), n_in=st.integers(1, 5), n_out=st.integers(1, 4),
       bias=st.booleans(), seed=seeds)
def test_linear_and_relu_match_torch(lead, n_in, n_out, bias, seed):
    rng = np.random.default_rng(seed)
    (X, xt), (W, wt) = both(rng.standard_normal(tuple(lead) + (n_in,))), both(rng.standard_normal((n_out, n_in)))
    B, bt = both(rng.standard_normal(n_out)) if bias else (None, None)
    out, ot = F.relu(F.linear(X, W, B)), TF.relu(TF.linear(xt, wt, bt))
    np.testing.assert_allclose(tc.data(out), ot.detach().numpy(), rtol=RTOL, atol=ATOL)
    backward_both(out, ot, rng.standard_normal(out.shape))
    for grid, tensor in [(X, xt), (W, wt)] + ([(B, bt)] if bias else []):
        assert_same(grid, tensor, "grads")


@given(shape=st.lists(st.integers(1, 4), max_size=3), target_is_grid=st.booleans(), seed=seeds)
def test_mse_loss_matches_torch(shape, target_is_grid, seed):
    rng = np.random.default_rng(seed)
    p, t = rng.standard_normal(shape), rng.standard_normal(shape)
    (P, pt), (T, tt) = both(p), both(t)
    loss = F.mse_loss(P, T if target_is_grid else t)
    lt = TF.mse_loss(pt, tt)
    assert math.isclose(loss.data, lt.item(), rel_tol=RTOL, abs_tol=ATOL)
    loss.backward()
    lt.backward()
    assert_same(P, pt, "grads")
    if target_is_grid:
        assert_same(T, tt, "grads")


@examples(30)
@given(batch=st.one_of(st.none(), st.integers(1, 4)), classes=st.integers(1, 6),
       scale=st.sampled_from([0.1, 1.0, 30.0, 1000.0]), seed=seeds)
def test_cross_entropy_matches_torch(batch, classes, scale, seed):
    rng = np.random.default_rng(seed)
    shape = (classes,) if batch is None else (batch, classes)
    Z, zt = both(rng.standard_normal(shape) * scale)  # scale 1000: exp overflows unless shifted
    target = rng.integers(0, classes, size=shape[:-1])
    loss, lt = F.cross_entropy(Z, target), TF.cross_entropy(zt, torch.tensor(target))
    assert math.isclose(loss.data, lt.item(), rel_tol=RTOL, abs_tol=ATOL)
    loss.backward()
    lt.backward()
    assert_same(Z, zt, "grads")


def test_a_small_cnn_end_to_end_matches_torch():
    rng = np.random.default_rng(7)
    (X, xt) = both(rng.standard_normal((2, 1, 6, 6)))
    (W1, w1t), (b1, b1t) = both(rng.standard_normal((3, 1, 3, 3))), both(rng.standard_normal(3))
    (W2, w2t), (b2, b2t) = both(rng.standard_normal((4, 12))), both(rng.standard_normal(4))
    target = np.array([1, 3])
    h = F.max_pool2d(F.relu(F.conv2d(X, W1, b1, padding=1)), 3)  # (2, 3, 2, 2)
    loss = F.cross_entropy(F.linear(h.reshape(2, -1), W2, b2), target)
    ht = TF.max_pool2d(TF.relu(TF.conv2d(xt, w1t, b1t, padding=1)), 3)
    lt = TF.cross_entropy(TF.linear(ht.reshape(2, -1), w2t, b2t), torch.tensor(target))
    assert math.isclose(loss.data, lt.item(), rel_tol=RTOL)
    loss.backward()
    lt.backward()
    for grid, tensor in [(X, xt), (W1, w1t), (b1, b1t), (W2, w2t), (b2, b2t)]:
        assert_same(grid, tensor, "grads")


# ---- the Value ops themselves -------------------------------------------------------------------

UNARY = {
    "neg": (lambda a: -a, lambda t: -t), "relu": (Value.relu, torch.relu), "tanh": (Value.tanh, torch.tanh),
    "sigmoid": (Value.sigmoid, torch.sigmoid), "exp": (Value.exp, torch.exp), "log": (Value.log, torch.log),
    "**3": (lambda a: a ** 3, lambda t: t ** 3), "**-2": (lambda a: a ** -2, lambda t: t ** -2),
    "**0.5": (lambda a: a ** 0.5, lambda t: t ** 0.5), "2/a": (lambda a: 2 / a, lambda t: 2 / t),
    "2**a": (lambda a: 2 ** a, lambda t: 2 ** t), "3-a": (lambda a: 3 - a, lambda t: 3 - t),
}
BINARY = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b,
    "**": lambda a, b: a ** b,
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(x=st.floats(0.1, 5) | st.floats(-5, -0.1))
def test_value_unary_ops_match_torch(name, x):
    if name in ("log", "**0.5"):
        x = abs(x)
    op, top = UNARY[name]
    a, t = Value(x), leaf(x)
    out, ot = op(a), top(t)
    out.backward()
    ot.backward()
    assert math.isclose(out.data, ot.item(), rel_tol=RTOL, abs_tol=1e-300)
    assert math.isclose(a.grad, t.grad.item(), rel_tol=RTOL, abs_tol=1e-300)


@pytest.mark.parametrize("name", sorted(BINARY))
@given(x=st.floats(0.1, 4), y=st.floats(-3, 3).filter(lambda y: abs(y) > 0.1))
def test_value_binary_ops_match_torch(name, x, y):
    a, b, s, t = Value(x), Value(y), leaf(x), leaf(y)
    out, ot = BINARY[name](a, b), BINARY[name](s, t)
    out.backward()
    ot.backward()
    assert math.isclose(out.data, ot.item(), rel_tol=RTOL, abs_tol=1e-300)
    assert math.isclose(a.grad, s.grad.item(), rel_tol=RTOL, abs_tol=1e-300)
    assert math.isclose(b.grad, t.grad.item(), rel_tol=RTOL, abs_tol=1e-300)


@given(xs=st.lists(st.integers(-2, 2), min_size=1, max_size=8))
def test_value_max_ties_follow_torch(xs):
    values, t = [Value(float(x)) for x in xs], leaf(np.array(xs, dtype=float))
    Value.max(values).backward()
    t.max(dim=0).values.backward()  # max over a dim: the gradient goes to the index it returns
    assert [v.grad for v in values] == t.grad.tolist()


def test_a_stride_or_dilation_too_large_to_matter_is_no_overflow():
    # one window per axis makes the stride irrelevant, a kernel one wide the dilation: numbers past
    # what fits in a C long then give what any stride or dilation would (PyTorch cannot take them)
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 1, 3))
    huge = 10 ** 20
    for ours, theirs in [(dict(stride=huge), dict(stride=1000)), (dict(stride=(huge, 1), padding=1),
                         dict(stride=(1000, 1), padding=1)), (dict(dilation=(huge, 2)), dict(dilation=(1000, 2)))]:
        X, W = tc.Tensor(x, requires_grad=True), tc.Tensor(w, requires_grad=True)
        out = F.conv2d(X, W, **ours)
        out.sum().backward()
        tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        expected = TF.conv2d(tx, tw, **theirs)
        expected.sum().backward()
        np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(X.grad, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(W.grad, tw.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(tc.data(F.conv2d(tc.values(x[0]), tc.values(w), **ours)), out.data[0], rtol=1e-12)
    pooled = F.max_pool2d(tc.Tensor(x), 2, stride=huge)
    np.testing.assert_array_equal(pooled.data, TF.max_pool2d(torch.tensor(x), 2, stride=1000).numpy())


def test_mse_loss_with_a_target_of_one_number_compares_it_with_every_element():
    x = np.array([[1.0, 2.0], [4.0, -0.5]])
    tensor, grid = tc.Tensor(x, requires_grad=True), tc.values(x, name="p")
    loss_t, loss_g = F.mse_loss(tensor, 2.0), F.mse_loss(grid, 2.0)
    loss_t.backward()
    loss_g.backward()
    xt = torch.tensor(x, requires_grad=True)
    expected = ((xt - 2.0) ** 2).mean()
    expected.backward()
    assert loss_t.item() == pytest.approx(expected.item(), rel=1e-15)
    assert loss_g.data == pytest.approx(expected.item(), rel=1e-15)
    np.testing.assert_allclose(tensor.grad, xt.grad.numpy(), rtol=1e-15)
    np.testing.assert_allclose(tc.grads(grid), xt.grad.numpy(), rtol=1e-15)


@pytest.mark.parametrize("logits, labels", [
    ([[1000.0, 1000.0, 0.0]], [0]), ([[1000.0, 999.0, 0.0], [-1000.0, -999.5, -1001.0]], [1, 2]),
    ([[1e5, 1e5]], [0]), ([[1e17, 1e17], [3.0, -1e17]], [0, 1]), ([[1e300, 1e300, 0.0], [0.0, 1.0, 2.0]], [0, 1]),
])
def test_cross_entropy_keeps_its_digits_with_large_logits(logits, labels):
    # logsumexp(z) - z_t would lose them: the large parts must cancel before the small ones are added
    z = np.array(logits)
    zt = torch.tensor(z, requires_grad=True)
    expected = TF.cross_entropy(zt, torch.tensor(labels))
    expected.backward()
    tensor = tc.Tensor(z, requires_grad=True)
    loss = F.cross_entropy(tensor, np.array(labels))
    loss.backward()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-14)
    np.testing.assert_allclose(tensor.grad, zt.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert F.cross_entropy(tc.values(z), np.array(labels)).data == pytest.approx(expected.item(), rel=1e-14)
    if np.abs(z).max() < 1e38:  # float32 too, against PyTorch's float32
        z32 = z.astype(np.float32)
        ours = F.cross_entropy(tc.Tensor(z32), np.array(labels)).item()
        assert ours == pytest.approx(TF.cross_entropy(torch.tensor(z32), torch.tensor(labels)).item(), rel=1e-6)
