"""The Tensor engine against the scalar engine, PyTorch and central differences, through the shared
`functional` layers, on hypothesis-drawn conv and pooling configurations (float64).

Each comparison uses L = sum(out * R) for a random R, so dL/d(every input) is checked for a random
upstream gradient. The scalar engine spells every product out; the Tensor engine must give the
same numbers from its few VJPs. PyTorch tests skip without torch.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import Tensor, Value, functional as F, tensor_ops
from tinygrad_conv.gradcheck import numerical_grad
from strategies import conv_configs, distinct_values, examples, pool_configs, seeds

RTOL, ATOL = 1e-12, 1e-12


def tensor_backward(out, R):
    (out * Tensor(R)).sum().backward()


def grid_backward(out, R):
    cells = [out] if isinstance(out, Value) else list(out.flat)
    Value.sum([o * float(r) for o, r in zip(cells, np.ravel(R))]).backward()


def leaves(*arrays):
    return [None if a is None else Tensor(a, requires_grad=True) for a in arrays]


def grids(*arrays):
    return [None if a is None else tc.values(a) for a in arrays]


def torch_leaves(torch, *arrays):
    return [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]


def assert_close(actual, expected, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(actual, np.asarray(expected).reshape(np.shape(actual)), rtol=rtol, atol=atol)


def torch_conv(torch, cfg, xt, wt, bt):
    conv = torch.nn.functional.conv2d
    if cfg.flat:  # torch wants channels: (1, 1, H, W) with a (1, 1, kh, kw) filter
        return conv(xt[None, None], wt[None, None], None, cfg.stride, cfg.padding, cfg.dilation)[0, 0]
    return conv(xt, wt, bt, cfg.stride, cfg.padding, cfg.dilation, cfg.groups)


def torch_pool(torch, mode, xt, cfg):
    shape = xt.shape
    x3 = xt.reshape((1,) + tuple(shape[-2:])) if len(shape) == 2 else xt.reshape((-1,) + tuple(shape[-3:])) \
        if len(shape) > 4 else xt
    pool = torch.nn.functional.max_pool2d if mode == "max" else torch.nn.functional.avg_pool2d
    out = pool(x3, cfg.kernel, cfg.effective_stride, cfg.padding)
    return out.reshape(tuple(shape[:-2]) + tuple(out.shape[-2:]))


POOLS = {"max": F.max_pool2d, "avg": F.avg_pool2d}


# ---- conv2d ------------------------------------------------------------------------------------------


@examples(25)
@given(cfg=conv_configs(), seed=seeds)
def test_conv2d_tensor_equals_scalar_engine(cfg, seed):
    x, w, b = cfg.arrays(seed)
    X, W, B = leaves(x, w, b)
    gx, gw, gb = grids(x, w, b)
    out, ref = F.conv2d(X, W, B, **cfg.kwargs()), F.conv2d(gx, gw, gb, **cfg.kwargs())
    assert out.shape == ref.shape == cfg.output_shape
    assert_close(out.data, tc.data(ref))
    R = np.random.default_rng(seed + 1).standard_normal(out.shape)
    tensor_backward(out, R)
    grid_backward(ref, R)
    for t, g in [(X, gx), (W, gw)] + ([(B, gb)] if cfg.bias else []):
        assert_close(t.grad, tc.grads(g))


@examples(40)
@given(cfg=conv_configs(max_batch=3, max_groups=3, max_channels_per_group=3, max_out_per_group=3,
                        max_kernel=4, max_stride=3, max_padding=3, max_dilation=3, max_extra=5), seed=seeds)
def test_conv2d_tensor_equals_torch(cfg, seed):
    torch = pytest.importorskip("torch")
    x, w, b = cfg.arrays(seed)
    X, W, B = leaves(x, w, b)
    xt, wt, bt = torch_leaves(torch, x, w, b)
    out, ot = F.conv2d(X, W, B, **cfg.kwargs()), torch_conv(torch, cfg, xt, wt, bt)
    assert out.shape == tuple(ot.shape)
    assert_close(out.data, ot.detach().numpy())
    R = np.random.default_rng(seed + 1).standard_normal(out.shape)
    tensor_backward(out, R)
    (ot * torch.tensor(R)).sum().backward()
    for t, tt in [(X, xt), (W, wt)] + ([(B, bt)] if cfg.bias else []):
        assert_close(t.grad, tt.grad.numpy(), rtol=1e-11, atol=1e-11)


@examples(25)
@given(cfg=conv_configs(), seed=seeds)
def test_conv2d_numbers_do_not_depend_on_the_memory_layout_it_picks(cfg, seed):
    # tensor_ops.window_rows stores a batch of images batch-innermost, one image as it comes; that
    # is layout only, so with either choice forced the output and every gradient agree
    x, w, b = cfg.arrays(seed)
    R = np.random.default_rng(seed + 1).standard_normal(cfg.output_shape)
    results = []
    chosen = tensor_ops.batch_innermost
    for innermost in (True, False):
        tensor_ops.batch_innermost = lambda x, innermost=innermost: innermost
        try:
            for x_needs_grad in (True, False):
                X, W = Tensor(x, requires_grad=x_needs_grad), Tensor(w, requires_grad=True)
                out = F.conv2d(X, W, **cfg.kwargs())
                tensor_backward(out, R)
                results.append((out.data, W.grad, X.grad))
        finally:
            tensor_ops.batch_innermost = chosen
    out_a, grad_a, x_grad_a = results[0]
    for out_b, grad_b, x_grad_b in results[1:]:
        np.testing.assert_allclose(out_a, out_b, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(grad_a, grad_b, rtol=1e-13, atol=1e-13)
        if x_grad_b is not None:
            np.testing.assert_allclose(x_grad_a, x_grad_b, rtol=1e-13, atol=1e-13)


@examples(10)
@given(cfg=conv_configs(max_batch=1, max_groups=2, max_channels_per_group=1, max_out_per_group=1, max_extra=1),
       seed=seeds)
def test_conv2d_filter_gradient_equals_nudge_and_rerun(cfg, seed):
    x, w, b = cfg.arrays(seed)
    X, W = Tensor(x), Tensor(w, requires_grad=True)
    R = Tensor(np.random.default_rng(seed + 1).standard_normal(cfg.output_shape))
    loss = lambda: (F.conv2d(X, W, **cfg.kwargs()) * R).sum()  # noqa: E731
    loss().backward()
    np.testing.assert_allclose(W.grad, numerical_grad(loss, W), rtol=1e-6, atol=1e-8)


# ---- pooling -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["max", "avg"])
@examples(25)
@given(cfg=pool_configs(), seed=seeds)
def test_pools_tensor_equals_scalar_engine(mode, cfg, seed):
    x = distinct_values(np.random.default_rng(seed), cfg.x_shape)
    (X,), (gx,) = leaves(x), grids(x)
    out, ref = POOLS[mode](X, **cfg.kwargs()), POOLS[mode](gx, **cfg.kwargs())
    assert out.shape == ref.shape == cfg.output_shape
    assert_close(out.data, tc.data(ref))
    R = np.random.default_rng(seed + 1).standard_normal(out.shape)
    tensor_backward(out, R)
    grid_backward(ref, R)
    assert_close(X.grad, tc.grads(gx))


@pytest.mark.parametrize("mode", ["max", "avg"])
@examples(30)
@given(cfg=pool_configs(max_lead=3, max_lead_size=3, max_kernel=4, max_extra=6), seed=seeds)
def test_pools_tensor_equals_torch(mode, cfg, seed):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(seed).standard_normal(cfg.x_shape)
    (X,), (xt,) = leaves(x), torch_leaves(torch, x)
    out, ot = POOLS[mode](X, **cfg.kwargs()), torch_pool(torch, mode, xt, cfg)
    assert out.shape == tuple(ot.shape)
    assert_close(out.data, ot.detach().numpy())
    R = np.random.default_rng(seed + 1).standard_normal(out.shape)
    tensor_backward(out, R)
    (ot * torch.tensor(R)).sum().backward()
    assert_close(X.grad, xt.grad.numpy())


@examples(30)
@given(cfg=pool_configs(max_lead=1), seed=seeds)
def test_max_pool_ties_go_to_the_first_maximum_in_both_engines(cfg, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-1, 2, size=cfg.x_shape).astype(float)  # three values: ties in most windows
    (X,), (gx,) = leaves(x), grids(x)
    out, ref = F.max_pool2d(X, **cfg.kwargs()), F.max_pool2d(gx, **cfg.kwargs())
    R = rng.standard_normal(out.shape)
    tensor_backward(out, R)
    grid_backward(ref, R)
    assert_close(X.grad, tc.grads(gx))  # overlapping windows: equal up to the order of the additions
    np.testing.assert_array_equal(X.grad == 0, tc.grads(gx) == 0)


@examples(30)
@given(cfg=pool_configs(max_lead=2, max_lead_size=3, max_extra=5), seed=seeds)
def test_max_pool_ties_follow_torch(cfg, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    x = rng.integers(-1, 2, size=cfg.x_shape).astype(float)
    (X,), (xt,) = leaves(x), torch_leaves(torch, x)
    out, ot = F.max_pool2d(X, **cfg.kwargs()), torch_pool(torch, "max", xt, cfg)
    R = rng.standard_normal(out.shape)
    tensor_backward(out, R)
    (ot * torch.tensor(R)).sum().backward()
    # overlapping windows may add up a shared input's shares in another order: equal to rounding,
    # and the same inputs get nothing
    assert_close(X.grad, xt.grad.numpy())
    np.testing.assert_array_equal(X.grad == 0, xt.grad.numpy() == 0)


def test_max_pool_ties_on_a_large_input_follow_torch():
    # big enough for the running-maximum path of Tensor.max (few window positions, many windows)
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = rng.integers(0, 2, size=(4, 8, 26, 26)).astype(float)
    X, xt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    R = rng.standard_normal((4, 8, 13, 13))
    tensor_backward(F.max_pool2d(X, 2), R)
    (torch.nn.functional.max_pool2d(xt, 2) * torch.tensor(R)).sum().backward()
    np.testing.assert_array_equal(X.grad, xt.grad.numpy())


@given(lead=st.lists(st.integers(1, 3), max_size=2), h=st.integers(1, 5), w=st.integers(1, 5), seed=seeds)
def test_global_avg_pool_in_both_engines(lead, h, w, seed):
    x = np.random.default_rng(seed).standard_normal(tuple(lead) + (h, w))
    (X,), (gx,) = leaves(x), grids(x)
    out, ref = F.global_avg_pool2d(X), F.global_avg_pool2d(gx)
    assert_close(out.data, x.mean(axis=(-2, -1)))
    assert_close(out.data, tc.data(ref) if isinstance(ref, np.ndarray) else ref.data)
    R = np.random.default_rng(seed + 1).standard_normal(out.shape)
    tensor_backward(out, R)
    grid_backward(ref, R)
    assert_close(X.grad, tc.grads(gx))


# ---- linear, relu and the losses -----------------------------------------------------------------------


@given(lead=st.lists(st.integers(1, 3), max_size=2), n_in=st.integers(1, 5), n_out=st.integers(1, 4),
       bias=st.booleans(), seed=seeds)
def test_linear_and_relu_in_both_engines_and_torch(lead, n_in, n_out, bias, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(tuple(lead) + (n_in,)), rng.standard_normal((n_out, n_in))
    b = rng.standard_normal(n_out) if bias else None
    X, W, B = leaves(x, w, b)
    gx, gw, gb = grids(x, w, b)
    out, ref = F.relu(F.linear(X, W, B)), F.relu(F.linear(gx, gw, gb))
    assert_close(out.data, tc.data(ref))
    R = rng.standard_normal(out.shape)
    tensor_backward(out, R)
    grid_backward(ref, R)
    for t, g in [(X, gx), (W, gw)] + ([(B, gb)] if bias else []):
        assert_close(t.grad, tc.grads(g))
    torch = pytest.importorskip("torch")
    xt, wt, bt = torch_leaves(torch, x, w, b)
    ot = torch.relu(torch.nn.functional.linear(xt, wt, bt))
    (ot * torch.tensor(R)).sum().backward()
    assert_close(out.data, ot.detach().numpy())
    for t, tt in [(X, xt), (W, wt)] + ([(B, bt)] if bias else []):
        assert_close(t.grad, tt.grad.numpy())


@given(shape=st.lists(st.integers(1, 4), max_size=3), target_kind=st.sampled_from(["array", "tensor", "leaf"]),
       seed=seeds)
def test_mse_loss_in_both_engines_and_torch(shape, target_kind, seed):
    rng = np.random.default_rng(seed)
    p, t = rng.standard_normal(shape), rng.standard_normal(shape)
    P = Tensor(p, requires_grad=True)
    T = t if target_kind == "array" else Tensor(t, requires_grad=target_kind == "leaf")
    loss = F.mse_loss(P, T)
    assert loss.shape == ()
    gp = tc.values(p)
    ref = F.mse_loss(gp, t)
    assert np.isclose(loss.item(), ref.data, rtol=RTOL)
    loss.backward()
    ref.backward()
    assert_close(P.grad, tc.grads(gp))
    if target_kind == "leaf":
        assert_close(T.grad, -P.grad)
    torch = pytest.importorskip("torch")
    pt, tt = torch_leaves(torch, p, t)
    torch.nn.functional.mse_loss(pt, tt).backward()
    assert_close(P.grad, pt.grad.numpy())


@examples(30)
@given(batch=st.one_of(st.none(), st.integers(1, 5)), classes=st.integers(1, 6),
       scale=st.sampled_from([0.1, 1.0, 30.0, 1000.0]), seed=seeds)
def test_cross_entropy_in_both_engines_and_torch(batch, classes, scale, seed):
    rng = np.random.default_rng(seed)
    shape = (classes,) if batch is None else (batch, classes)
    z = rng.standard_normal(shape) * scale  # scale 1000: exp overflows unless shifted
    target = rng.integers(0, classes, size=shape[:-1])
    Z, gz = Tensor(z, requires_grad=True), tc.values(z)
    loss, ref = F.cross_entropy(Z, target), F.cross_entropy(gz, target)
    assert np.isclose(loss.item(), ref.data, rtol=RTOL, atol=ATOL)
    loss.backward()
    ref.backward()
    assert_close(Z.grad, tc.grads(gz))
    torch = pytest.importorskip("torch")
    zt = torch.tensor(z, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(zt, torch.tensor(target))
    lt.backward()
    assert np.isclose(loss.item(), lt.item(), rtol=RTOL, atol=ATOL)
    assert_close(Z.grad, zt.grad.numpy())


def small_cnn(x, w1, b1, w2, b2):
    h = F.max_pool2d(F.relu(F.conv2d(x, w1, b1, padding=1)), 2)
    return F.linear(h.reshape(x.shape[0], -1), w2, b2)


def assert_loss_and_grads_match_torch(loss, lt, tensors, tts):
    """loss (already backpropagated) equals PyTorch's lt, and every leaf's gradient its counterpart's."""
    lt.backward()
    assert np.isclose(loss.item(), lt.item(), rtol=RTOL)
    for t, tt in zip(tensors, tts):
        assert_close(t.grad, tt.grad.numpy())


def test_a_small_cnn_end_to_end_in_both_engines_and_torch():
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(s) for s in [(2, 1, 6, 6), (3, 1, 3, 3), (3,), (4, 27), (4,)]]
    target = np.array([1, 3])
    tensors, cells = leaves(*arrays), grids(*arrays)
    loss, ref = F.cross_entropy(small_cnn(*tensors), target), F.cross_entropy(small_cnn(*cells), target)
    assert np.isclose(loss.item(), ref.data, rtol=RTOL)
    loss.backward()
    ref.backward()
    for t, g in zip(tensors, cells):
        assert_close(t.grad, tc.grads(g))
    torch = pytest.importorskip("torch")
    tts = torch_leaves(torch, *arrays)
    x, w1, b1, w2, b2 = tts
    h = torch.nn.functional.max_pool2d(torch.relu(torch.nn.functional.conv2d(x, w1, b1, padding=1)), 2)
    lt = torch.nn.functional.cross_entropy(torch.nn.functional.linear(h.reshape(2, -1), w2, b2),
                                           torch.tensor(target))
    assert_loss_and_grads_match_torch(loss, lt, tensors, tts)


def test_two_conv_layers_end_to_end_match_torch():
    # the second conv's input needs a gradient, so its output comes laid out with the batch innermost:
    # relu, both poolings and the reshape after them must read it right, forward and backward
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    arrays = [rng.standard_normal(s) for s in [(5, 2, 10, 10), (4, 2, 3, 3), (4,), (6, 4, 3, 3), (6,), (3, 24), (3,)]]
    target = np.array([0, 2, 1, 1, 0])

    def cnn(fn, x, w1, b1, w2, b2, w3, b3):
        h = fn.max_pool2d(fn.relu(fn.conv2d(x, w1, b1, padding=1)), 2)
        h = fn.avg_pool2d(fn.relu(fn.conv2d(h, w2, b2, padding=1, stride=1)), 2)
        return fn.linear(h.reshape(5, -1), w3, b3)
    tensors, tts = leaves(*arrays), torch_leaves(torch, *arrays)
    loss = F.cross_entropy(cnn(F, *tensors), target)
    lt = torch.nn.functional.cross_entropy(cnn(torch.nn.functional, *tts), torch.tensor(target))
    loss.backward()
    assert_loss_and_grads_match_torch(loss, lt, tensors, tts)


def test_float32_conv_and_pools_match_torch_float32():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((4, 3, 12, 12)).astype(np.float32), rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    X, W = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    out = F.avg_pool2d(F.max_pool2d(F.conv2d(X, W, padding=1), 2), 2)
    ot = torch.nn.functional.avg_pool2d(torch.nn.functional.max_pool2d(torch.nn.functional.conv2d(xt, wt, padding=1),
                                                                        2), 2)
    R = rng.standard_normal(out.shape).astype(np.float32)
    tensor_backward(out, R)
    (ot * torch.tensor(R)).sum().backward()
    assert out.dtype == X.grad.dtype == W.grad.dtype == np.float32
    assert_close(out.data, ot.detach().numpy(), rtol=1e-5, atol=1e-5)
    assert_close(X.grad, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    assert_close(W.grad, wt.grad.numpy(), rtol=1e-4, atol=1e-4)


# ---- the backend itself ---------------------------------------------------------------------------------


def test_tensor_ops_backend_surface():
    assert tensor_ops.KIND == "tensor" and tensor_ops.Tensor is Tensor
    t = Tensor([1.0])
    assert tensor_ops.check(t, "x") is t
    weights = tensor_ops.check(np.ones((2, 2)), "weight")
    assert isinstance(weights, Tensor) and not weights.requires_grad
    c = tensor_ops.constant([1, 2], like=Tensor(np.zeros(1, dtype=np.float32)))
    assert c.dtype == np.float32 and not c.requires_grad


def test_mixing_a_grid_into_a_tensor_layer_is_a_type_error():
    X = Tensor(np.ones((1, 1, 3, 3)))
    with pytest.raises(TypeError, match="grid of Values"):
        F.conv2d(X, tc.values(np.ones((1, 1, 2, 2))))
    with pytest.raises(TypeError, match="Value"):
        tensor_ops.check(Value(1.0), "bias")
    with pytest.raises(TypeError):
        tensor_ops.check("w", "weight")


@pytest.mark.parametrize("call, pattern", [
    (lambda X: F.conv2d(X, Tensor(np.ones((2, 3, 2, 2)))), r"\(1, 2, 4, 4\)"),
    (lambda X: F.conv2d(X, Tensor(np.ones((2, 2, 5, 5)))), r"larger than the padded input"),
    (lambda X: F.conv2d(X, Tensor(np.ones((2, 2, 2, 2))), stride=0), "positive"),
    (lambda X: F.max_pool2d(X, 5), r"\(1, 2, 4, 4\)"),
    (lambda X: F.linear(X, Tensor(np.ones((3, 5)))), r"\(1, 2, 4, 4\)"),
])
def test_layer_errors_on_tensors_name_the_shapes(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call(Tensor(np.ones((1, 2, 4, 4))))


@pytest.mark.parametrize("shape, axis", [((4, 63), 0), ((4, 64), 0), ((3, 200), 1), ((2, 3, 70), (0, 2))])
def test_max_with_a_nan_gives_nan_and_the_gradient_to_the_first_nan(shape, axis):
    # small and large windows take different paths through reductions.argmax
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal(shape)
    row = shape[-1]  # nans after the first position of their windows: v > nan is never true
    x.flat[[row + 0, 2 * row + 7, row + 9]] = np.nan
    x.flat[[2 * row + 0, 3]] = 50.0
    ours = Tensor(x, requires_grad=True)
    out = ours.max(axis)
    out.sum().backward()
    theirs = torch.tensor(x, requires_grad=True)
    expected = theirs.amax(dim=axis) if isinstance(axis, tuple) else theirs.max(dim=axis).values
    np.testing.assert_array_equal(out.data, expected.detach().numpy())
    if not isinstance(axis, tuple):  # amax splits ties evenly; max(dim) sends the gradient to one index
        expected.sum().backward()
        np.testing.assert_array_equal(ours.grad, theirs.grad.numpy())
    else:
        first_nan_or_max = np.isnan(out.data) | (out.data == x.max(axis=axis))
        assert first_nan_or_max.all() and (ours.grad.sum(axis=axis) == 1.0).all()


def test_max_pool_and_relu_pass_a_nan_on_as_pytorch_does():
    torch = pytest.importorskip("torch")
    x = np.zeros((1, 2, 16, 16))
    x[0, 0, 0, 1], x[0, 0, 1, 0], x[0, 1, 5, 5] = np.nan, 5.0, np.nan
    ours = Tensor(x, requires_grad=True)
    (F.max_pool2d(ours, 2).sum() + ours.relu().sum()).backward()
    theirs = torch.tensor(x, requires_grad=True)
    (torch.nn.functional.max_pool2d(theirs, 2).sum() + torch.relu(theirs).sum()).backward()
    np.testing.assert_array_equal(ours.grad, theirs.grad.numpy())
    np.testing.assert_array_equal(F.max_pool2d(Tensor(x), 2).data, torch.nn.functional.max_pool2d(torch.tensor(x), 2))


def test_an_int_operand_keeps_a_float32_tensor_float32_as_in_pytorch():
    torch = pytest.importorskip("torch")
    x32 = np.array([1.5, -2.0, 3.25], dtype=np.float32)
    ints = np.array([1, 2, 3])
    for ours, theirs in [(Tensor(x32) * ints, torch.tensor(x32) * torch.tensor(ints)),
                         (ints - Tensor(x32), torch.tensor(ints) - torch.tensor(x32)),
                         (Tensor(x32) * np.array([True, True, False]), torch.tensor(x32) * torch.tensor([True, True, False])),
                         (Tensor(x32) + np.array([0.5, 1.0, 2.0]), torch.tensor(x32) + torch.tensor([0.5, 1.0, 2.0],
                                                                                                   dtype=torch.float64))]:
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_a_retained_gradient_accumulates_over_backward_calls_as_in_pytorch():
    torch = pytest.importorskip("torch")
    x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    h = (x * 2.0).retain_grad()
    loss = h.tanh().sum()
    xt = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    ht = xt * 2.0
    ht.retain_grad()
    loss_t = ht.tanh().sum()
    for _ in range(2):
        loss.backward()
        loss_t.backward(retain_graph=True)
        np.testing.assert_allclose(h.grad, ht.grad.numpy(), rtol=1e-15)
        np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-15)
