"""functional on grids of Values: every layer against its definition (numpy loops), every gradient
against a closed form and against finite differences, and the recorded graph against the textbook.

The loss is always L = sum(out * R) for random numbers R, so dL/dout = R: a random upstream
gradient, which exercises every path at once. Conv, pooling, linear and mse are (piecewise)
polynomials of degree <= 2 in any one input, where a central difference is exact for any step
(away from the pieces' edges); only cross_entropy needs a small step and Richardson's correction.
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import Value
from tinygrad_conv import functional as F
from strategies import (conv2d_input_grad, conv2d_reference, conv2d_weight_grad, conv_configs,
                        distinct_values, examples, pad2d, pool2d_reference, pool_configs, seeds)

# ---- helpers ----------------------------------------------------------------------------------


def weighted_sum(out, R):
    """L = sum(out * R) as one Value.sum: dL/dout = R."""
    cells = [out] if isinstance(out, Value) else list(out.flat)
    return Value.sum([o * float(r) for o, r in zip(cells, np.ravel(R))])


def central_differences(loss_of, leaves, h):
    """(L(v + h) - L(v - h)) / 2h for each leaf v, rebuilding the loss every time; data restored."""
    estimates = []
    for v in leaves:
        x = v.data
        v.data = x + h
        up = loss_of().data
        v.data = x - h
        down = loss_of().data
        v.data = x
        estimates.append((up - down) / (2 * h))
    return np.array(estimates)


def richardson(loss_of, leaves, h=1e-3):
    """Central differences with the h^2 error term cancelled: (4 D(h/2) - D(h)) / 3."""
    return (4 * central_differences(loss_of, leaves, h / 2) - central_differences(loss_of, leaves, h)) / 3


def some(grid, rng, k):
    """Up to k cells of a grid, chosen at random (finite differences on every cell would be slow)."""
    cells = list(np.ravel(grid))
    return [cells[i] for i in rng.choice(len(cells), size=min(k, len(cells)), replace=False)]


def assert_close(actual, expected, rtol=1e-12, atol=1e-12):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def textbook_names(name, shape):
    def one(index):
        if len(shape) == 2 and max(shape) <= 9:
            return name + "".join(str(i + 1) for i in index)
        return name + "[" + ",".join(str(i + 1) for i in index) + "]"
    return [one(index) for index in np.ndindex(*shape)]


def conv_setup(cfg, seed):
    x, w, b = cfg.arrays(seed)
    X, Wt = tc.values(x, name="I"), tc.values(w, name="W")
    B = None if b is None else tc.values(b, name="b")
    return (x, w, b), (X, Wt, B)


# ---- conv2d -------------------------------------------------------------------------------------


@examples(50)
@given(cfg=conv_configs(), seed=seeds)
def test_conv2d_forward_is_the_definition(cfg, seed):
    (x, w, b), (X, Wt, B) = conv_setup(cfg, seed)
    out = F.conv2d(X, Wt, B, **cfg.kwargs())
    assert out.dtype == object and out.shape == cfg.output_shape
    x4, w4 = cfg.as_4d(x, w)
    expected = conv2d_reference(x4, w4, b, cfg.stride, cfg.padding, cfg.dilation, cfg.groups)
    assert_close(tc.data(out), expected.reshape(cfg.output_shape))
    assert [v.name for v in out.flat] == textbook_names("o", cfg.output_shape)


@examples(50)
@given(cfg=conv_configs(), seed=seeds)
def test_conv2d_gradients_closed_form_and_finite_differences(cfg, seed):
    (x, w, b), (X, Wt, B) = conv_setup(cfg, seed)
    rng = np.random.default_rng(seed + 1)
    R = rng.standard_normal(cfg.output_shape)
    loss_of = lambda: weighted_sum(F.conv2d(X, Wt, B, **cfg.kwargs()), R)  # noqa: E731
    loss_of().backward()

    x4, w4, R4 = cfg.as_4d(x, w, R)
    dW = conv2d_weight_grad(x4, R4, w4.shape, cfg.stride, cfg.padding, cfg.dilation, cfg.groups)
    assert_close(tc.grads(Wt), dW.reshape(w.shape))
    dx = conv2d_input_grad(x4.shape, w4, R4, cfg.stride, cfg.padding, cfg.dilation, cfg.groups)
    assert_close(tc.grads(X), dx.reshape(x.shape))
    if B is not None:
        assert_close(tc.grads(B), R4.sum(axis=(0, 2, 3)))

    # L is affine in each number, so a central difference with any step is exact up to rounding
    for grid in (X, Wt) + ((B,) if B is not None else ()):
        cells = some(grid, rng, 4)
        assert_close([v.grad for v in cells], central_differences(loss_of, cells, h=1.0), rtol=1e-9, atol=1e-10)


@examples(30)
@given(cfg=conv_configs(max_batch=2), seed=seeds)
def test_conv2d_every_output_is_one_sum_of_input_times_weight(cfg, seed):
    """o[n,k,i,j] = Value.sum(x_pad[n, g*Cg+c, s*i+d*a, t*j+e*b] * W[k,c,a,b] for (c,a,b) in order) [+ bias[k]]."""
    _, (X, Wt, B) = conv_setup(cfg, seed)
    out = F.conv2d(X, Wt, B, **cfg.kwargs())
    X4 = X.reshape((1, 1) + X.shape if cfg.flat else ((1,) + X.shape if cfg.batch is None else X.shape))
    W4 = Wt.reshape((1, 1) + Wt.shape) if cfg.flat else Wt
    O4 = out.reshape(X4.shape[:1] + (W4.shape[0],) + cfg.output_hw)
    N, C, H, Wd = X4.shape
    K, Cg, kh, kw = W4.shape
    (s, t), (d, e), (ph, pw) = cfg.stride, cfg.dilation, cfg.padding
    for n, k, i, j in np.ndindex(*O4.shape):
        o = O4[n, k, i, j]
        terms = Cg * kh * kw + (B is not None)
        assert o._op == "+" and len(o._prev) == terms
        if B is not None:
            assert o._prev[-1] is B[k]
        g = k // (K // cfg.groups)
        for m, (c, a, bb) in enumerate(np.ndindex(Cg, kh, kw)):
            product = o._prev[m]
            assert product._op == "*" and product._prev[1] is W4[k, c, a, bb]
            p, q = s * i + d * a - ph, t * j + e * bb - pw
            x_in = product._prev[0]
            if 0 <= p < H and 0 <= q < Wd:
                assert x_in is X4[n, g * Cg + c, p, q]
            else:  # a padding zero: its own leaf
                assert x_in.data == 0.0 and x_in.name == "0" and x_in._prev == ()


def test_the_seed_example_graph_reads_like_the_textbook():
    I = tc.values(np.arange(1.0, 10.0).reshape(3, 3), name="I")
    W = tc.values([[1.0, 2.0], [3.0, 4.0]], name="W")
    o = F.conv2d(I, W)
    assert o.shape == (2, 2) and [v.name for v in o.flat] == ["o11", "o12", "o21", "o22"]
    o11 = o[0, 0]
    assert o11._op == "+" and len(o11._prev) == 4
    assert [p._op for p in o11._prev] == ["*"] * 4
    assert [(p._prev[0].name, p._prev[1].name) for p in o11._prev] == \
        [("I11", "W11"), ("I12", "W12"), ("I21", "W21"), ("I22", "W22")]
    assert all(p._prev[0] is I[a, b] and p._prev[1] is W[a, b] for p, (a, b) in zip(o11._prev, np.ndindex(2, 2)))
    assert o11.data == 1 * 1 + 2 * 2 + 4 * 3 + 5 * 4
    # global average pooling and a squared loss on top, as in the seed demo
    p = F.global_avg_pool2d(o)
    assert p.name == "p" and p.data == tc.data(o).mean()
    loss = (p - 10.0) ** 2
    loss.backward()
    dp = 2 * (p.data - 10.0)
    assert np.array_equal(tc.grads(o), np.full((2, 2), dp / 4))
    # dL/dW_ab = sum_ij dL/do_ij * I_(i+a)(j+b) = dp/4 * (sum of the 2x2 block of I starting at (a, b))
    i = tc.data(I)
    expected = [[i[a:a + 2, b:b + 2].sum() * dp / 4 for b in range(2)] for a in range(2)]
    assert_close(tc.grads(W), expected)


def test_padding_zeros_are_separate_leaves_shared_by_the_windows_that_read_them():
    I = tc.values(np.ones((3, 3)), name="I")
    W = tc.values(np.ones((2, 2)), name="W")
    o = F.conv2d(I, W, padding=1)
    assert o.shape == (4, 4) and o[3, 3].name == "o44"
    inputs = lambda v: [p._prev[0] for p in v._prev]  # noqa: E731
    o11, o12 = inputs(o[0, 0]), inputs(o[0, 1])
    assert [v.name for v in o11] == ["0", "0", "0", "I11"]
    assert len({id(v) for v in o11[:3]}) == 3  # three different padded positions, three leaves
    assert o11[1] is o12[0]  # padded position (0, 1) is one leaf, read by both windows
    Value.sum(list(o.flat)).backward()
    assert o11[0].grad == 1.0 and o11[1].grad == 2.0  # how many products each padding zero joined


def test_channels_give_bracketed_names_and_the_bias_joins_the_sum():
    x = tc.values(np.ones((2, 3, 3)), name="I")
    w = tc.values(np.ones((2, 2, 2, 2)), name="W")
    b = tc.values([10.0, 20.0], name="b")
    o = F.conv2d(x, w, b)
    assert o.shape == (2, 2, 2)
    assert [v.name for v in o.flat][:3] == ["o[1,1,1]", "o[1,1,2]", "o[1,2,1]"]
    assert len(o[1, 0, 0]._prev) == 9 and o[1, 0, 0]._prev[-1] is b[1]
    assert o[1, 0, 0]._prev[4]._prev[1] is w[1, 1, 0, 0]  # (c, a, b) order: channel first
    assert tc.data(o)[1].tolist() == [[28.0, 28.0], [28.0, 28.0]]
    wide = F.conv2d(tc.values(np.ones((1, 11))), tc.values(np.ones((1, 1))), name="y")
    assert wide[0, 9].name == "y[1,10]" and wide[0, 8].name == "y[1,9]"


# ---- pooling ------------------------------------------------------------------------------------

POOLS = {"max": F.max_pool2d, "avg": F.avg_pool2d}


@pytest.mark.parametrize("mode", sorted(POOLS))
@examples(40)
@given(cfg=pool_configs(), seed=seeds)
def test_pool_forward_and_gradients(mode, cfg, seed):
    rng = np.random.default_rng(seed)
    x = distinct_values(rng, cfg.x_shape)  # no ties, so max pooling is linear near x
    X = tc.values(x, name="x")
    R = rng.standard_normal(cfg.output_shape)
    loss_of = lambda: weighted_sum(POOLS[mode](X, **cfg.kwargs()), R)  # noqa: E731
    out = POOLS[mode](X, **cfg.kwargs())
    assert out.shape == cfg.output_shape
    assert_close(tc.data(out), pool2d_reference(x, cfg.kernel, cfg.effective_stride, cfg.padding, mode))
    assert [v.name for v in out.flat] == textbook_names("p", out.shape)
    loss_of().backward()
    # nudges of 0.05 stay inside one linear piece (inputs are >= 0.2 apart)
    assert_close(tc.grads(X), central_differences(loss_of, list(X.flat), h=0.05).reshape(x.shape),
                 rtol=1e-9, atol=1e-10)


def test_max_pool_ties_go_to_the_first_input_of_each_window():
    X = tc.values(np.zeros((4, 4)))
    Value.sum(list(F.max_pool2d(X, 2).flat)).backward()
    expected = np.zeros((4, 4))
    expected[::2, ::2] = 1.0  # the top-left of each 2x2 window
    assert np.array_equal(tc.grads(X), expected)
    Y = tc.values(np.zeros((3, 3)))
    Value.sum(list(F.max_pool2d(Y, 2, stride=1).flat)).backward()  # overlapping windows
    assert tc.grads(Y).tolist() == [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]


def test_max_pool_padding_never_wins():
    X = tc.values(-np.arange(1.0, 10.0).reshape(3, 3) - 100.0)  # all very negative
    p = F.max_pool2d(X, 3, stride=1, padding=1)
    assert tc.data(p)[0, 0] == -101.0
    pads = [v for v in p[0, 0]._prev if v.name == "-inf"]
    assert len(pads) == 5 and all(v.data == -math.inf for v in pads)
    Value.sum(list(p.flat)).backward()
    assert all(v.grad == 0.0 for v in pads)


def test_avg_pool_zero_padding_counts_in_the_mean():
    X = tc.values(np.ones((2, 2)))
    p = F.avg_pool2d(X, 3, stride=1, padding=1)
    assert tc.data(p).tolist() == [[4 / 9, 4 / 9], [4 / 9, 4 / 9]]


@examples(25)
@given(lead=st.lists(st.integers(1, 3), max_size=2), h=st.integers(1, 5), w=st.integers(1, 5), seed=seeds)
def test_global_avg_pool(lead, h, w, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(lead) + (h, w)
    x = rng.standard_normal(shape)
    X = tc.values(x)
    p = F.global_avg_pool2d(X)
    R = rng.standard_normal(shape[:-2])
    assert_close(tc.data(p) if isinstance(p, np.ndarray) else p.data, x.mean(axis=(-2, -1)))
    weighted_sum(p, R).backward()
    assert_close(tc.grads(X), np.broadcast_to(R[..., None, None] / (h * w), shape))
    cells = some(X, rng, 4)  # linear: exact central differences
    assert_close([v.grad for v in cells], central_differences(lambda: weighted_sum(F.global_avg_pool2d(X), R),
                                                              cells, h=1.0), rtol=1e-9, atol=1e-12)


# ---- relu, linear and the losses --------------------------------------------------------------


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), seed=seeds)
def test_relu(shape, seed):
    rng = np.random.default_rng(seed)
    x = distinct_values(rng, tuple(shape))  # at least 0.125 from the kink at 0
    X = tc.values(x)
    R = rng.standard_normal(x.shape)
    out = F.relu(X)
    assert out.shape == x.shape and np.array_equal(tc.data(out), np.maximum(x, 0.0))
    loss_of = lambda: weighted_sum(F.relu(X), R)  # noqa: E731
    loss_of().backward()
    assert np.array_equal(tc.grads(X), R * (x > 0))
    assert_close(tc.grads(X), central_differences(loss_of, list(X.flat), h=0.05).reshape(x.shape))


@examples(25)
@given(lead=st.lists(st.integers(1, 3), max_size=2), n_in=st.integers(1, 5), n_out=st.integers(1, 4),
       bias=st.booleans(), seed=seeds)
def test_linear(lead, n_in, n_out, bias, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(tuple(lead) + (n_in,)), rng.standard_normal((n_out, n_in))
    b = rng.standard_normal(n_out) if bias else None
    X, Wt = tc.values(x, name="x"), tc.values(w, name="W")
    B = tc.values(b, name="b") if bias else None
    out = F.linear(X, Wt, B)
    assert out.shape == tuple(lead) + (n_out,)
    assert_close(tc.data(out), x @ w.T + (b if bias else 0.0))
    first = out.reshape(-1)[0]
    assert first._op == "+" and len(first._prev) == n_in + bias  # one sum: x.w (+ b)
    R = rng.standard_normal(out.shape)
    loss_of = lambda: weighted_sum(F.linear(X, Wt, B), R)  # noqa: E731
    loss_of().backward()
    x2, R2 = x.reshape(-1, n_in), R.reshape(-1, n_out)
    assert_close(tc.grads(X), (R2 @ w).reshape(x.shape))
    assert_close(tc.grads(Wt), R2.T @ x2)
    if bias:
        assert_close(tc.grads(B), R2.sum(axis=0))
    cells = some(X, rng, 3) + some(Wt, rng, 3)
    assert_close([v.grad for v in cells], central_differences(loss_of, cells, h=1.0), rtol=1e-9, atol=1e-10)


@given(shape=st.lists(st.integers(1, 4), min_size=0, max_size=3), target_is_grid=st.booleans(), seed=seeds)
def test_mse_loss(shape, target_is_grid, seed):
    rng = np.random.default_rng(seed)
    p, t = rng.standard_normal(shape), rng.standard_normal(shape)
    P = tc.values(p, name="y")
    T = tc.values(t, name="t") if target_is_grid else t
    loss = F.mse_loss(P, T)
    assert isinstance(loss, Value)
    assert math.isclose(loss.data, np.mean((p - t) ** 2), rel_tol=1e-12)
    loss.backward()
    assert_close(tc.grads(P), 2 * (p - t) / p.size)
    if target_is_grid:
        assert_close(tc.grads(T), -2 * (p - t) / p.size)
    # a quadratic: central differences are exact for any step
    assert_close(tc.grads(P), central_differences(lambda: F.mse_loss(P, T), list(np.ravel(P)), h=1.0)
                 .reshape(p.shape), rtol=1e-9, atol=1e-12)


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@examples(30)
@given(batch=st.one_of(st.none(), st.integers(1, 4)), classes=st.integers(1, 5),
       scale=st.sampled_from([1.0, 10.0, 1000.0]), seed=seeds)
def test_cross_entropy(batch, classes, scale, seed):
    rng = np.random.default_rng(seed)
    shape = (classes,) if batch is None else (batch, classes)
    z = rng.standard_normal(shape) * scale  # scale 1000: exp would overflow without the shift
    target = rng.integers(0, classes, size=shape[:-1])
    Z = tc.values(z, name="z")
    loss = F.cross_entropy(Z, target)
    assert isinstance(loss, Value)
    z2, t2 = z.reshape(-1, classes), np.reshape(target, -1)
    m = z2.max(axis=1)
    lse = m + np.log(np.exp(z2 - m[:, None]).sum(axis=1))
    expected = np.mean(lse - z2[np.arange(len(t2)), t2])
    assert math.isfinite(loss.data) and math.isclose(loss.data, expected, rel_tol=1e-12, abs_tol=1e-12)
    loss.backward()
    onehot = np.eye(classes)[t2]
    assert_close(tc.grads(Z), ((softmax(z2) - onehot) / len(t2)).reshape(shape))
    if scale == 1.0:  # finite differences where the function is not too curved for a 1e-3 step
        cells = some(Z, rng, 4)
        assert_close([v.grad for v in cells], richardson(lambda: F.cross_entropy(Z, target), cells),
                     rtol=1e-8, atol=1e-10)


def test_functional_gives_a_value_for_a_scalar_result():
    X = tc.values(np.ones((1, 2, 2)))
    p = F.global_avg_pool2d(X)
    assert p.shape == (1,)
    q = F.global_avg_pool2d(X[0])
    assert isinstance(q, Value) and q.data == 1.0


def test_padding_helper_agrees_with_numpy():  # the oracle itself: zero padding around the last two axes
    x = np.arange(6.0).reshape(1, 2, 3)
    assert pad2d(x, (1, 0)).shape == (1, 4, 3) and pad2d(x, (0, 2))[0, 0].tolist() == [0, 0, 0, 1, 2, 0, 0]
