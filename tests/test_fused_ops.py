"""The Tensor backend's one-op shortcuts give exactly what the ops they stand for give.

tensor_ops.window_max is windows followed by max (a max pool over windows that do not
overlap), and tensor_ops.matmul with a bias is `@` followed by `+`. Each is checked bit for bit
against the two-op graph it replaces: the forward numbers, and every input's gradient, also
when the incoming gradient holds an inf or a nan (the inputs that lost their window must get
exactly 0, as in PyTorch) and when windows tie (the first in C order takes the gradient).
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad_conv import Tensor, functional as F, tensor_ops


def two_op_max(x, kernel, stride):
    """The graph window_max replaces: a windows view, then max over its last two axes."""
    return x.windows(kernel, stride).max((-2, -1), last_nan=True)


def gradients(make, x_data, g, *params):
    x = Tensor(x_data, requires_grad=True)
    out = make(x, *params)
    out.backward(g)
    return out.data, x.grad


@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(kh, kh + 2)), draw(st.integers(kw, kw + 2))  # windows never overlap
    H = draw(st.integers(kh, kh + 3 * sh))
    W = draw(st.integers(kw, kw + 3 * sw))
    lead = draw(st.sampled_from([(), (2,), (3, 2), (1, 3)]))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    # few distinct values, so that windows tie often (a relu's zeros do in training)
    x = rng.integers(-2, 3, lead + (H, W)).astype(np.float64)
    if draw(st.booleans()):
        x[rng.random(x.shape) < 0.1] = np.nan
    if draw(st.booleans()):
        x[rng.random(x.shape) < 0.1] = -np.inf
    batch_innermost = draw(st.booleans()) and len(lead) == 2
    if batch_innermost:  # laid out as a conv output in training: (C, H, W, N) viewed as (N, C, H, W)
        x = np.ascontiguousarray(np.moveaxis(x, 0, -1)).transpose(3, 0, 1, 2)
    return x, (kh, kw), (sh, sw), rng


@settings(max_examples=60, deadline=None)
@given(pool_cases(), st.sampled_from(["plain", "inf", "nan"]))
def test_window_max_is_windows_then_max_bit_for_bit(case, special):
    x, kernel, stride, rng = case
    OH = (x.shape[-2] - kernel[0]) // stride[0] + 1
    OW = (x.shape[-1] - kernel[1]) // stride[1] + 1
    g = rng.standard_normal(x.shape[:-2] + (OH, OW))
    if special != "plain":
        g.flat[rng.integers(0, g.size)] = np.inf if special == "inf" else np.nan
    fused_out, fused_grad = gradients(tensor_ops.window_max, x, g, kernel, stride, True)
    plain_out, plain_grad = gradients(two_op_max, x, g, kernel, stride)
    np.testing.assert_array_equal(fused_out, plain_out)
    np.testing.assert_array_equal(fused_grad, plain_grad)
    assert fused_grad.shape == x.shape and fused_grad.dtype == x.dtype


def test_max_pool_takes_the_one_op_path_for_images_side_by_side_and_windows_apart():
    side_by_side = np.arange(2 * 36.0).reshape(1, 6, 6, 2).transpose(3, 0, 1, 2)  # (N, C, H, W) stored (C, H, W, N)
    x = Tensor(side_by_side, requires_grad=True)
    assert F.max_pool2d(x, 2)._op == "window_max"
    assert F.max_pool2d(x, 2, stride=3)._op == "window_max"
    assert F.max_pool2d(x, 3, stride=2)._op == "max"  # overlapping windows: windows, then max
    assert F.avg_pool2d(x, 2)._op == "mean"
    one_after_another = Tensor(np.ascontiguousarray(side_by_side), requires_grad=True)
    assert F.max_pool2d(one_after_another, 2)._op == "max"
    # a conv's output in training is stored side by side, so the pool after it takes the one op
    conv = F.conv2d(Tensor(np.ones((4, 1, 6, 6))), Tensor(np.ones((2, 1, 3, 3)), requires_grad=True))
    assert F.max_pool2d(F.relu(conv), 2)._op == "window_max"


def test_window_max_gives_losers_exactly_zero_under_an_infinite_gradient():
    x = Tensor(np.array([[1.0, 5.0], [3.0, 2.0]]), requires_grad=True)
    out = tensor_ops.window_max(x, (2, 2), (2, 2))
    out.backward(np.array([[np.inf]]))
    assert x.grad[0, 1] == np.inf
    assert np.array_equal(x.grad, [[0.0, np.inf], [0.0, 0.0]])  # no 0 * inf = nan for the losers


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 9), st.integers(1, 6), st.sampled_from([(), (1,), (3,)]),
       st.sampled_from(["a", "b", "bias", "all"]), st.booleans(), st.booleans(), st.integers(0, 2 ** 16))
def test_matmul_with_bias_is_product_then_add_bit_for_bit(m, n, p, batch, needs, transpose_b, with_bias, seed):
    """tensor_ops.matmul(a, b, bias, transpose_b) against transpose, `@` and `+` as separate ops."""
    rng = np.random.default_rng(seed)
    a0, b0, c0 = rng.standard_normal(batch + (m, n)), rng.standard_normal((n, p)), rng.standard_normal(p)
    if transpose_b:
        b0 = np.ascontiguousarray(b0.T)  # stored (p, n): one row per output, as a layer's weights
    g = rng.standard_normal(batch + (m, p))

    def run(fused):
        a = Tensor(a0, requires_grad=needs in ("a", "all"))
        b = Tensor(b0, requires_grad=needs in ("b", "all"))
        c = Tensor(c0, requires_grad=needs in ("bias", "all"))
        if fused:
            out = tensor_ops.matmul(a, b, c if with_bias else None, transpose_b=transpose_b)
        else:
            out = a @ (b.transpose(1, 0) if transpose_b else b)
            out = out + c if with_bias else out
        if not out.requires_grad:  # (only the bias needed a gradient, and there is none)
            return out, [None, None, None]
        out.backward(g)
        return out, [t.grad for t in (a, b, c)]
    fused, fused_grads = run(True)
    plain, plain_grads = run(False)
    assert fused._op == ("@+" if with_bias else "@")
    if fused.requires_grad:
        assert len(fused._prev) == (3 if with_bias else 2)  # one op: a, b (not b^T) and the bias
    np.testing.assert_array_equal(fused.data, plain.data)
    for got, want in zip(fused_grads, plain_grads):
        assert (got is None) == (want is None)
        if want is not None:
            np.testing.assert_array_equal(got, want)


def test_matmul_with_a_bias_of_another_dtype_keeps_numpy_promotion():
    a = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    b = Tensor(np.ones((3, 4), np.float32))
    bias = Tensor(np.full(4, 0.1), requires_grad=True)  # float64: the result is float64, as a @ b + bias
    out = tensor_ops.matmul(a, b, bias)
    assert out.dtype == np.float64 and out._op == "+"
    np.testing.assert_array_equal(out.data, (a @ b + bias).data)
    rows_per_output = Tensor(np.ones((4, 3), np.float32), requires_grad=True)
    out = tensor_ops.matmul(a, rows_per_output, bias, transpose_b=True)
    assert out.dtype == np.float64 and out._op == "+"
    out.sum().backward()
    np.testing.assert_array_equal(rows_per_output.grad, np.full((4, 3), 2.0, np.float32))


def test_digits_model_trains_the_same_through_the_one_op_paths():
    """A conv, relu, max-pool, linear step: the fused graph's gradients against PyTorch's."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((16, 1, 8, 8)), rng.integers(0, 10, 16)
    w, b = rng.standard_normal((8, 1, 3, 3)), rng.standard_normal(8)
    v, c = rng.standard_normal((10, 72)), rng.standard_normal(10)
    ours = [Tensor(t, requires_grad=True) for t in (w, b, v, c)]
    h = F.max_pool2d(F.relu(F.conv2d(Tensor(x), ours[0], ours[1])), 2)
    F.cross_entropy(F.linear(h.reshape(16, 72), ours[2], ours[3]), Tensor(y)).backward()
    theirs = [torch.tensor(t, requires_grad=True) for t in (w, b, v, c)]
    th = torch.nn.functional.max_pool2d(torch.relu(torch.nn.functional.conv2d(torch.tensor(x), *theirs[:2])), 2)
    torch.nn.functional.cross_entropy(torch.nn.functional.linear(th.reshape(16, 72), *theirs[2:]),
                                      torch.tensor(y)).backward()
    for mine, torchs in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad, torchs.grad.numpy(), rtol=1e-9, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 70), st.integers(1, 12), st.sampled_from([np.float32, np.float64]),
       st.sampled_from(["plain", "inf", "nan"]), st.integers(0, 2 ** 16))
def test_nll_loss_is_index_then_mean_then_neg_bit_for_bit(n, classes, dtype, special, seed):
    rng = np.random.default_rng(seed)
    log_probs0 = rng.standard_normal((n, classes)).astype(dtype)
    labels = rng.integers(0, classes, n)
    g = np.array(rng.standard_normal(), dtype)
    if special != "plain":
        g = np.array(np.inf if special == "inf" else np.nan, dtype)

    def run(fused):
        log_probs = Tensor(log_probs0, requires_grad=True)
        loss = tensor_ops.nll_loss(log_probs, labels) if fused else \
            -tensor_ops.reduce_mean(log_probs[np.arange(n), labels])
        loss.backward(g)
        return loss, log_probs.grad
    (fused, fused_grad), (plain, plain_grad) = run(True), run(False)
    assert fused._op == "nll_loss" and fused.dtype == plain.dtype and fused.shape == ()
    np.testing.assert_array_equal(fused.data, plain.data)
    np.testing.assert_array_equal(fused_grad, plain_grad)


def test_nll_loss_of_an_empty_batch_is_refused_as_the_mean_of_nothing():
    with pytest.raises(ValueError, match="empty"):
        tensor_ops.nll_loss(Tensor(np.zeros((0, 3)), requires_grad=True), np.zeros(0, np.int64))


def reference_argmax(windows, last_nan):
    """Each window's winner by definition: the first maximum in C order; with a nan, the first nan
    (or the last one, last_nan=True)."""
    flat = windows.reshape(windows.shape[:-2] + (-1,))
    winner = np.argmax(flat, axis=-1)  # the first maximum (numpy stops at the first nan)
    nans = np.isnan(flat)
    if last_nan:
        winner = np.where(nans.any(-1), flat.shape[-1] - 1 - np.argmax(nans[..., ::-1], axis=-1), winner)
    return np.take_along_axis(flat, winner[..., None], -1)[..., 0], winner


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([(2, 2), (3, 3), (1, 2), (2, 3)]), st.sampled_from([(8, 3, 4), (64, 2, 3), (3, 5, 4)]),
       st.booleans(), st.sampled_from(["ties", "nan", "inf"]), st.booleans(), st.integers(0, 2 ** 16))
def test_argmax_over_small_windows_is_the_first_maximum_in_c_order(window, lead, side_by_side, special, last_nan,
                                                                     seed):
    """reductions.argmax's whole-array paths (a knockout for 2x2 windows, a running maximum for
    others) against the definition, on numbers that tie often, with nans and infinities."""
    from tinygrad_conv import reductions
    rng = np.random.default_rng(seed)
    x = rng.integers(-1, 2, lead + window).astype(np.float32)
    if special == "nan":
        x[rng.random(x.shape) < 0.05] = np.nan
    elif special == "inf":
        x[rng.random(x.shape) < 0.1] = rng.choice([np.inf, -np.inf])
    if side_by_side:  # laid out as a conv's output in training: the first axis innermost
        x = np.ascontiguousarray(np.moveaxis(x, 0, -1))
        x = np.moveaxis(x, -1, 0)
    best, winner = reductions.argmax(x, (x.ndim - 2, x.ndim - 1), last_nan)
    want_best, want_winner = reference_argmax(x, last_nan)
    np.testing.assert_array_equal(winner, want_winner)
    np.testing.assert_array_equal(best, want_best)
