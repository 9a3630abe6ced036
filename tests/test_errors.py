"""Bad input: a TypeError or ValueError whose message names the values or shapes involved,
never an IndexError from deep inside and never a silently wrong shape."""
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import Tensor, Value
from tinygrad_conv import functional as F
from strategies import examples


def grid(*shape):
    return tc.values(np.ones(shape))


def shape_text(shape):
    """How a shape appears in a message, escaped for match=: (3, 5, 5)."""
    return re.escape(str(tuple(shape)))


# ---- Value -------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, error, pattern", [
    (lambda: Value("3"), TypeError, r"'3'.*str"),
    (lambda: Value(None), TypeError, r"None"),
    (lambda: Value([1.0]), TypeError, r"list"),
    (lambda: Value(1.0, name=3), TypeError, r"name.*3"),
    (lambda: Value(1.0) + "a", TypeError, r"'a'"),
    (lambda: None * Value(1.0), TypeError, r"None"),
    (lambda: Value(1.0) ** "2", TypeError, r"'2'"),
    (lambda: Value(0.0).log(), ValueError, r"log.*0\.0"),
    (lambda: Value(-1.0).log(), ValueError, r"log.*-1\.0"),
    (lambda: Value(0.0) ** -1, ValueError, r"0 \*\* -1"),
    (lambda: Value(0.0) ** Value(-1.0), ValueError, r"0 \*\* -1"),
    (lambda: 0 ** Value(-2.0), ValueError, r"0 \*\* -2"),
    (lambda: Value(-8.0) ** 0.5, ValueError, r"-8\.0.*0\.5"),
    (lambda: Value(-8.0) ** Value(0.5), ValueError, r"-8\.0.*0\.5"),
    (lambda: Value(1.0) / 0, ValueError, r"division by zero.*1\.0 / 0\.0"),
    (lambda: Value(2.0) / Value(0.0), ValueError, r"division by zero.*2\.0 / 0\.0"),
    (lambda: 3 / Value(0.0), ValueError, r"division by zero.*3\.0 / 0\.0"),
    (lambda: Value.max([]), ValueError, r"at least one"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_value_errors(make, error, pattern):
    with pytest.raises(error, match=pattern):
        make()


# ---- conv2d ------------------------------------------------------------------------------------

@pytest.mark.parametrize("x, w, kwargs, error, pattern", [
    # a filter larger than the (padded) image
    ((3, 3), (4, 4), {}, ValueError, r"4x4.*larger than the padded input 3x3.*\(3, 3\)"),
    ((3, 3), (6, 6), dict(padding=1), ValueError, r"6x6.*larger than the padded input 5x5.*padding \(1, 1\)"),
    ((1, 3, 3), (1, 1, 2, 2), dict(dilation=3), ValueError, r"extent 4x4.*dilation \(3, 3\).*3x3"),
    # channels
    ((3, 5, 5), (2, 2, 3, 3), {}, ValueError, r"\(2, 2, 3, 3\).*\(3, 5, 5\)"),
    ((2, 3, 5, 5), (2, 4, 3, 3), {}, ValueError, r"\(2, 4, 3, 3\).*\(2, 3, 5, 5\)"),
    ((3, 5, 5), (2, 1, 3, 3), dict(groups=2), ValueError, r"groups=2.*3.*\(3, 5, 5\)"),
    ((4, 5, 5), (3, 2, 3, 3), dict(groups=2), ValueError, r"groups=2.*3.*\(3, 2, 3, 3\)"),
    ((4, 5, 5), (2, 4, 3, 3), dict(groups=2), ValueError, r"\(2, 4, 3, 3\).*\(4, 5, 5\)"),
    # ranks
    ((2, 3, 3), (2, 2), {}, ValueError, r"\(2, 3, 3\).*\(2, 2\)"),
    ((3, 3), (1, 1, 2, 2), {}, ValueError, r"\(3, 3\).*\(1, 1, 2, 2\)"),
    ((3,), (2, 2), {}, ValueError, r"\(3,\)"),
    ((1, 1, 1, 3, 3), (1, 1, 2, 2), {}, ValueError, r"\(1, 1, 1, 3, 3\)"),
    # stride, dilation, padding, groups
    ((3, 3), (2, 2), dict(stride=0), ValueError, r"stride.*0"),
    ((3, 3), (2, 2), dict(stride=(1, -1)), ValueError, r"stride.*\(1, -1\)"),
    ((3, 3), (2, 2), dict(dilation=0), ValueError, r"dilation.*0"),
    ((3, 3), (2, 2), dict(padding=-1), ValueError, r"padding.*-1"),
    ((3, 3), (2, 2), dict(padding=(0, -2)), ValueError, r"padding.*\(0, -2\)"),
    ((3, 3), (2, 2), dict(stride=1.5), TypeError, r"stride.*1\.5"),
    ((3, 3), (2, 2), dict(stride=(1, 1, 1)), TypeError, r"stride.*\(1, 1, 1\)"),
    ((3, 3), (2, 2), dict(groups=0), ValueError, r"groups.*0"),
])
def test_conv2d_errors(x, w, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        F.conv2d(grid(*x), grid(*w), **kwargs)


def test_conv2d_needs_grids_not_float_arrays():
    with pytest.raises(TypeError, match=r"conv2d input.*float64 array of shape \(3, 3\)"):
        F.conv2d(np.ones((3, 3)), grid(2, 2))
    with pytest.raises(TypeError, match=r"conv2d weight.*float64 array of shape \(2, 2\)"):
        F.conv2d(grid(3, 3), np.ones((2, 2)))
    with pytest.raises(TypeError, match=r"conv2d bias.*float64 array of shape \(3,\)"):
        F.conv2d(grid(2, 3, 3), grid(3, 2, 2, 2), bias=np.ones(3))
    with pytest.raises(TypeError, match=r"got str"):
        F.conv2d("image", grid(2, 2))
    with pytest.raises(TypeError, match=r"found 1\.0 of type float"):
        F.conv2d(np.array([[Value(1.0), 1.0], [Value(1.0), Value(1.0)]], dtype=object), grid(1, 1))


@pytest.mark.parametrize("bias_shape", [(2,), (4,), (3, 1), (1, 3)])
def test_conv2d_wrong_bias_shape(bias_shape):
    with pytest.raises(ValueError, match=r"bias.*\(3,\).*" + shape_text(bias_shape)):
        F.conv2d(grid(2, 3, 3), grid(3, 2, 2, 2), bias=grid(*bias_shape))


# every conv2d call either works, with the shape the definition gives, or fails with a clear error

@st.composite
def conv_calls(draw):
    """A valid conv2d call (x shape, w shape, stride, padding, dilation, groups, bias size), then maybe one thing broken."""
    g = draw(st.integers(1, 2))
    C, K = g * draw(st.integers(1, 2)), g * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    s, p, d = draw(st.integers(1, 2)), draw(st.integers(0, 1)), draw(st.integers(1, 2))
    H, W = (max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 2)) for k in (kh, kw))
    lead = draw(st.sampled_from([(), (2,), "flat"]))
    if lead == "flat":
        x, w, C, K, g = [H, W], [kh, kw], 1, 1, 1
    else:
        x, w = list(lead) + [C, H, W], [K, C // g, kh, kw]
    bias = draw(st.sampled_from([None, K]))
    args = dict(x=x, w=w, s=s, p=p, d=d, g=g, bias=bias)
    broken = draw(st.sampled_from(["nothing", "nothing", "s", "p", "d", "g", "x dim", "w dim", "x rank", "w rank",
                                   "bias"]))
    if broken in ("s", "p", "d", "g"):
        args[broken] = draw(st.integers(-1, 3))
    elif broken in ("x dim", "w dim"):
        shape = args[broken[0]]
        shape[draw(st.integers(0, len(shape) - 1))] = draw(st.integers(0, 6))
    elif broken in ("x rank", "w rank"):
        shape = args[broken[0]]
        if draw(st.booleans()) and len(shape) > 1:
            shape.pop(draw(st.integers(0, len(shape) - 1)))
        else:
            shape.insert(draw(st.integers(0, len(shape))), draw(st.integers(1, 2)))
    elif broken == "bias":
        args["bias"] = draw(st.integers(1, 4))
    return args


@examples(80)
@given(call=conv_calls())
def test_conv2d_never_fails_obscurely(call):
    x, w = tc.values(np.ones(call["x"])), np.empty(call["w"], dtype=object)
    for index in np.ndindex(*w.shape):
        w[index] = Value(1.0)
    b = None if call["bias"] is None else grid(call["bias"])
    valid, out_shape = expected_conv(tuple(call["x"]), tuple(call["w"]), call["s"], call["p"], call["d"], call["g"],
                                     call["bias"])
    try:
        out = F.conv2d(x, w, b, stride=call["s"], padding=call["p"], dilation=call["d"], groups=call["g"])
    except (ValueError, TypeError):
        assert not valid, "a valid conv2d call raised"
    else:
        assert valid, f"an invalid conv2d call returned shape {out.shape}"
        assert out.shape == out_shape


def expected_conv(x, w, s, p, d, g, bias):
    """(valid?, output shape) by PyTorch's rules."""
    if s < 1 or d < 1 or p < 0 or g < 1 or len(x) not in (2, 3, 4):
        return False, None
    flat = len(x) == 2
    if flat:
        if len(w) != 2 or g != 1 or (bias is not None and bias != 1):
            return False, None
        x, w = (1,) + x, (1, 1) + w
    elif len(w) != 4:
        return False, None
    *lead, C, H, W = x
    K, Cg, kh, kw = w
    if C % g or K % g or Cg != C // g or min(kh, kw) < 1 or (bias is not None and bias != K):
        return False, None
    if d * (kh - 1) + 1 > H + 2 * p or d * (kw - 1) + 1 > W + 2 * p:
        return False, None
    OH, OW = (H + 2 * p - d * (kh - 1) - 1) // s + 1, (W + 2 * p - d * (kw - 1) - 1) // s + 1
    return True, (OH, OW) if flat else tuple(lead) + (K, OH, OW)


# ---- pooling -----------------------------------------------------------------------------------

@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d])
def test_pool_errors(pool):
    with pytest.raises(ValueError, match=r"padding \(2, 2\).*kernel size \(2, 2\)"):
        pool(grid(4, 4), 2, padding=2)
    with pytest.raises(ValueError, match=r"padding \(0, 2\).*kernel size \(3, 3\)"):
        pool(grid(4, 4), 3, padding=(0, 2))
    with pytest.raises(ValueError, match=r"3x3.*larger than the padded input 2x2.*\(2, 2\)"):
        pool(grid(2, 2), 3)
    with pytest.raises(ValueError, match=r"stride.*0"):
        pool(grid(4, 4), 2, stride=0)
    with pytest.raises(ValueError, match=r"kernel_size.*0"):
        pool(grid(4, 4), 0)
    with pytest.raises(ValueError, match=r"padding.*-1"):
        pool(grid(4, 4), 2, padding=-1)
    with pytest.raises(ValueError, match=r"\(4,\)"):
        pool(grid(4), 2)
    with pytest.raises(TypeError, match=r"float64 array of shape \(4, 4\)"):
        pool(np.ones((4, 4)), 2)
    with pytest.raises(ValueError, match=r"\(4,\)"):
        F.global_avg_pool2d(grid(4))


@examples(60)
@given(lead=st.lists(st.integers(1, 2), max_size=2), h=st.integers(1, 5), w=st.integers(1, 5), k=st.integers(0, 4),
       s=st.one_of(st.none(), st.integers(-1, 3)), p=st.integers(-1, 2), mode=st.sampled_from(["max", "avg"]))
def test_pools_never_fail_obscurely(lead, h, w, k, s, p, mode):
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    stride = k if s is None else s
    valid = k >= 1 and stride >= 1 and 0 <= p <= k // 2 and k <= min(h, w) + 2 * p
    try:
        out = pool(grid(*lead, h, w), k, stride=s, padding=p)
    except (ValueError, TypeError):
        assert not valid, "a valid pooling call raised"
    else:
        assert valid, f"an invalid pooling call returned shape {out.shape}"
        assert out.shape == tuple(lead) + ((h + 2 * p - k) // stride + 1, (w + 2 * p - k) // stride + 1)


# ---- linear and the losses ----------------------------------------------------------------------

def test_linear_errors():
    with pytest.raises(ValueError, match=r"\(2, 3\).*in_features = 2.*\(4, 2\)"):
        F.linear(grid(2, 3), grid(4, 2))
    with pytest.raises(ValueError, match=r"bias.*\(4,\).*\(3,\)"):
        F.linear(grid(2, 3), grid(4, 3), grid(3))
    with pytest.raises(ValueError, match=r"\(out, in\).*\(3,\)"):
        F.linear(grid(3), grid(3))
    with pytest.raises(TypeError, match=r"linear weight.*float64 array of shape \(4, 3\)"):
        F.linear(grid(3), np.ones((4, 3)))


def test_cross_entropy_bad_targets():
    logits = grid(2, 3)
    with pytest.raises(ValueError, match=r"0\.\.2.*3"):
        F.cross_entropy(logits, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"0\.\.2.*-1"):
        F.cross_entropy(logits, np.array([-1, 0]))
    with pytest.raises(TypeError, match=r"integer.*float64"):
        F.cross_entropy(logits, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"\(2,\).*\(2, 3\).*\(3,\)"):
        F.cross_entropy(logits, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"\(2, 3, 4\)"):
        F.cross_entropy(grid(2, 3, 4), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"0\.\.3.*4"):
        F.cross_entropy(grid(4), 4)


def test_mse_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        F.mse_loss(grid(2, 3), np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2,\)"):
        F.mse_loss(grid(2, 3), grid(2))
    with pytest.raises(TypeError, match=r"mse_loss pred.*float64 array of shape \(3,\)"):
        F.mse_loss(np.ones(3), np.ones(3))


def test_grid_errors():
    with pytest.raises(TypeError, match=r"already holds objects.*\(1,\)"):
        tc.values(np.array([Value(1.0)], dtype=object))
    with pytest.raises(TypeError, match=r"float64 array of shape \(2, 2\)"):
        tc.grads(np.zeros((2, 2)))


def test_cross_entropy_takes_a_tensor_of_whole_numbers_as_labels():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, 4))
    by_array, by_tensor = Tensor(z, requires_grad=True), Tensor(z, requires_grad=True)
    F.cross_entropy(by_array, np.array([0, 2, 1])).backward()
    loss = F.cross_entropy(by_tensor, Tensor(np.array([0, 2, 1])))  # a Tensor holds them as 0.0, 2.0, 1.0
    loss.backward()
    assert loss.item() == F.cross_entropy(Tensor(z), [0, 2, 1]).item()
    np.testing.assert_array_equal(by_tensor.grad, by_array.grad)
    with pytest.raises(TypeError, match=r"integer.*not whole"):
        F.cross_entropy(Tensor(z), Tensor([0.5, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"\(3, 0\).*no classes"):
        F.cross_entropy(Tensor(np.ones((3, 0))), np.array([0, 0, 0]))


def test_a_tensor_of_zeros_and_ones_as_an_index_is_refused_as_ambiguous():
    x = Tensor([5.0, 6.0, 7.0])
    mask = np.array([True, False, True])
    np.testing.assert_array_equal(x[mask].data, [5.0, 7.0])
    with pytest.raises(IndexError, match=r"ambiguous.*bool for a mask, int for positions"):
        x[Tensor(mask)]  # as positions it would read [6, 5, 6]
    np.testing.assert_array_equal(x[Tensor([2.0, 0.0, 2.0])].data, [7.0, 5.0, 7.0])
    assert x[Tensor(1.0)].item() == 6.0


def test_targets_and_names_of_the_wrong_type_say_so():
    with pytest.raises(TypeError, match=r"mse_loss target must be numbers.*'abc'"):
        F.mse_loss(Tensor(np.ones(3)), "abc")
    with pytest.raises(TypeError, match=r"mse_loss target must be numbers.*'abc'"):
        F.mse_loss(grid(3), "abc")
    with pytest.raises(TypeError, match=r"values\(\) name must be a string.*3"):
        tc.values(np.ones(2), name=3)
