"""functional's refusals name the argument at fault and its numbers, and its outputs carry their names.

The contract (API.md) asks for a clear ValueError/TypeError naming the shapes or values; these
tests hold each message to what the learner needs to read in it: which argument, which number,
which shape. Each padded extent below is worked by hand: a kernel k with dilation d spans
d*(k - 1) + 1 inputs, and padding p makes an axis of n inputs n + 2p long.
"""
import re

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import Tensor, functional as F

I = tc.values(np.arange(9.0).reshape(3, 3), name="I")
W = tc.values(np.ones((2, 2)), name="W")
NOT_VALUES = np.array([[1, 2], [3, 4]], dtype=object)  # an object array of ints, not Values
P = tc.values(np.ones((2, 2)), name="q")
L = tc.values(np.zeros((2, 3)), name="z")


def esc(text):
    return re.escape(text)


REFUSED = [
    # which argument holds something that is not a Value
    (lambda: F.conv2d(NOT_VALUES, W), TypeError, "^conv2d input must hold only Values, found 1 of type int$"),
    (lambda: F.conv2d(I, NOT_VALUES), TypeError, "^conv2d weight must hold only Values, found 1 of type int$"),
    (lambda: F.conv2d(I, W, NOT_VALUES[0, :1]), TypeError, "^conv2d bias must hold only Values, found 1 of type int$"),
    (lambda: F.conv2d(3.0, W), TypeError,
     "^" + esc("x must be a grid of Values (numpy array, dtype=object) or a Tensor, got float") + "$"),
    (lambda: F.max_pool2d(NOT_VALUES, 2), TypeError, "^pooling input must hold only Values, found 1 of type int$"),
    (lambda: F.global_avg_pool2d(NOT_VALUES), TypeError,
     "^global_avg_pool2d input must hold only Values, found 1 of type int$"),
    (lambda: F.relu(NOT_VALUES), TypeError, "^relu input must hold only Values, found 1 of type int$"),
    (lambda: F.linear(NOT_VALUES, W), TypeError, "^linear input must hold only Values, found 1 of type int$"),
    (lambda: F.linear(P, NOT_VALUES), TypeError, "^linear weight must hold only Values, found 1 of type int$"),
    (lambda: F.linear(P, W, NOT_VALUES[0]), TypeError, "^linear bias must hold only Values, found 1 of type int$"),
    (lambda: F.mse_loss(NOT_VALUES, P), TypeError, "^mse_loss pred must hold only Values, found 1 of type int$"),
    (lambda: F.mse_loss(P, NOT_VALUES), TypeError, "^mse_loss target must hold only Values, found 1 of type int$"),
    (lambda: F.mse_loss(3.0, 1.0), TypeError,
     "^" + esc("pred must be a grid of Values (numpy array, dtype=object) or a Tensor, got float") + "$"),
    (lambda: F.cross_entropy(NOT_VALUES, [0, 1]), TypeError,
     "^cross_entropy logits must hold only Values, found 1 of type int$"),
    (lambda: F.cross_entropy(3.0, 1), TypeError,
     "^" + esc("logits must be a grid of Values (numpy array, dtype=object) or a Tensor, got float") + "$"),
    # which setting is out of range, with the value given
    (lambda: F.conv2d(I, W, stride=0), ValueError, "^stride must be positive, got 0$"),
    (lambda: F.conv2d(I, W, padding=-1), ValueError, "^padding must be non-negative, got -1$"),
    (lambda: F.conv2d(I, W, dilation=(1, 0)), ValueError, "^" + esc("dilation must be positive, got (1, 0)") + "$"),
    (lambda: F.conv2d(I, W, groups=True), ValueError, "^groups must be a positive int, got True$"),
    (lambda: F.max_pool2d(I, 0), ValueError, "^kernel_size must be positive, got 0$"),
    (lambda: F.avg_pool2d(I, 2, stride=0), ValueError, "^stride must be positive, got 0$"),
    (lambda: F.max_pool2d(I, 2, padding=-1), ValueError, "^padding must be non-negative, got -1$"),
    # a filter too big along one axis only: 6 rows against 3 + 2*1, while its one column fits
    (lambda: F.conv2d(I, tc.values(np.ones((6, 1))), padding=(1, 0)), ValueError,
     "^" + esc("filter of extent 6x1 (kernel 6x1, dilation (1, 1)) is larger than the padded input 5x3 "
               "(input shape (3, 3), padding (1, 0))") + "$"),
    (lambda: F.conv2d(I, tc.values(np.ones((1, 6))), padding=(0, 1)), ValueError,
     "^" + esc("filter of extent 1x6 (kernel 1x6, dilation (1, 1)) is larger than the padded input 3x5 "
               "(input shape (3, 3), padding (0, 1))") + "$"),
    (lambda: F.conv2d(I, tc.values(np.ones((2, 2))), dilation=(3, 1)), ValueError,
     "^" + esc("filter of extent 4x2 (kernel 2x2, dilation (3, 1)) is larger than the padded input 3x3 "
               "(input shape (3, 3), padding (0, 0))") + "$"),
    (lambda: F.max_pool2d(I, (4, 1)), ValueError,
     "^" + esc("pooling window of extent 4x1 (kernel 4x1, dilation (1, 1)) is larger than the padded input 3x3 "
               "(input shape (3, 3), padding (0, 0))") + "$"),
    # channels that do not add up, with the numbers
    (lambda: F.conv2d(tc.values(np.ones((4, 3, 3))), tc.values(np.ones((2, 1, 2, 2))), groups=2), ValueError,
     "^" + esc("weight (2, 1, 2, 2) expects 2 input channels (C/groups = 1), but the input (4, 3, 3) has 4") + "$"),
    (lambda: F.conv2d(I, tc.values(np.ones((0, 2)))), ValueError, "^" + esc("weight (0, 2) has an empty kernel") + "$"),
    (lambda: F.global_avg_pool2d(np.empty((1, 2, 3, 0), dtype=object)), ValueError,
     "^" + esc("global_avg_pool2d needs a grid of at least 1x1 to average over, got shape (1, 2, 3, 0)") + "$"),
    # targets
    (lambda: F.mse_loss(P, 1j), TypeError,
     "^" + esc("mse_loss target must be numbers, real ones (or a grid / Tensor like pred), got 1j of type complex")
     + "$"),
    (lambda: F.mse_loss(P, [[1.0, 2.0], [3.0]]), TypeError,
     "^" + esc("mse_loss target must be numbers, real ones (or a grid / Tensor like pred), got [[1.0, 2.0], [3.0]] "
               "of type list") + "$"),
    (lambda: F.cross_entropy(L, np.array([0.0, 1.0])), TypeError,
     "^cross_entropy target must be integer class indices, got dtype float64$"),
    (lambda: F.cross_entropy(Tensor(np.zeros((2, 3))), Tensor(np.array([0.5, 1.0]))), TypeError,
     "^cross_entropy target must be integer class indices, got dtype float64 with numbers that are not whole$"),
    (lambda: F.cross_entropy(L, [0]), ValueError,
     "^" + esc("cross_entropy target must have shape (2,) for logits (2, 3), got (1,)") + "$"),
    (lambda: F.cross_entropy(L[0], [0]), ValueError,  # one row of logits takes one index, not a list of one
     "^" + esc("cross_entropy target must have shape () for logits (3,), got (1,)") + "$"),
]


def plain_id(message):
    """A test id of letters, digits and dashes (mutmut passes ids on a command line; regex characters break it)."""
    return re.sub(r"[^a-z0-9]+", "-", message.replace("\\", "").lower()).strip("-")[:60]


@pytest.mark.parametrize("call, error, message", REFUSED, ids=[plain_id(m) for _, _, m in REFUSED])
def test_each_refusal_names_its_argument_and_numbers(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_outputs_carry_their_textbook_names_or_the_ones_given():
    x = tc.values(np.arange(16.0).reshape(4, 4) - 5.0, name="x")
    assert [v.name for v in F.conv2d(x, W).flat][:3] == ["o11", "o12", "o13"]
    assert [v.name for v in F.conv2d(x, W, name="c").flat][:2] == ["c11", "c12"]
    assert [v.name for v in F.max_pool2d(x, 2).flat] == ["p11", "p12", "p21", "p22"]
    assert [v.name for v in F.avg_pool2d(x, 2).flat] == ["p11", "p12", "p21", "p22"]
    assert [v.name for v in F.max_pool2d(x, 2, name="m").flat] == ["m11", "m12", "m21", "m22"]
    assert [v.name for v in F.avg_pool2d(x, 2, name="a").flat] == ["a11", "a12", "a21", "a22"]
    assert F.global_avg_pool2d(x).name == "p" and F.global_avg_pool2d(x, name="g").name == "g"
    assert [v.name for v in F.relu(x, name="r").flat][:2] == ["r11", "r12"]
    assert [v.name for v in F.linear(x, tc.values(np.ones((2, 4))), name="h").flat][:2] == ["h11", "h12"]
    assert all(v.name is None for v in F.relu(x).flat)  # no name asked, none given
