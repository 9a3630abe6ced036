"""log_softmax on rows holding inf or nan: the Tensor engine gives what PyTorch gives, values and gradients;
the scalar engine, whose log refuses what is not a positive number, refuses such a row by name."""
import math

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import grid_ops

INF, NAN = math.inf, math.nan
ROWS = [[INF, 1.0], [-INF, -INF], [-INF, 1.0], [NAN, 1.0], [1.0, NAN], [INF, INF], [1e308, -1e308], [3.0, -INF, 2.0]]


@pytest.mark.parametrize("row", ROWS, ids=[str(r) for r in ROWS])
def test_tensor_log_softmax_matches_pytorch_on_non_finite_rows(row):
    torch = pytest.importorskip("torch")
    weights = np.arange(1.0, len(row) + 1.0)[None]  # a gradient that differs per element
    x = tc.Tensor(np.array([row]), requires_grad=True)
    with np.errstate(all="ignore"):
        (x.log_softmax(-1) * tc.Tensor(weights)).sum().backward()
        ours = x.log_softmax(-1).data
    xt = torch.tensor([row], dtype=torch.float64, requires_grad=True)
    yt = torch.log_softmax(xt, -1)
    (yt * torch.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(ours, yt.detach().numpy())  # nan == nan and -inf == -inf here
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-12, atol=0)


@pytest.mark.parametrize("row", [[INF, 1.0], [-INF, -INF], [NAN, 1.0], [1.0, NAN]])
def test_grid_log_softmax_refuses_a_row_without_a_finite_largest_number(row):
    with pytest.raises(ValueError, match=r"log_softmax needs a row whose largest number is finite, got \["):
        grid_ops.log_softmax(tc.values(np.array([row])))


def test_grid_log_softmax_keeps_a_minus_inf_entry_of_a_finite_row():
    out = grid_ops.log_softmax(tc.values(np.array([[-INF, 1.0, 1.0]])))
    assert [v.data for v in out.flat] == [-INF, -math.log(2.0), -math.log(2.0)]
