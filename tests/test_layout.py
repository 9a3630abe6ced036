"""tinygrad_conv.layout.product: a @ b, also when it is computed in pieces along a long side."""
import numpy as np
import pytest

from tinygrad_conv import layout


@pytest.mark.parametrize("m, n, p", [
    (9, 4 * layout.BLOCK + 5, 8),    # a long inner side: the pieces' products are summed
    (6, 25, 4 * layout.BLOCK + 7),   # long rows of b: pieces of columns
    (4 * layout.BLOCK + 3, 25, 6),   # long columns of a: pieces of rows
    (3, 4 * layout.BLOCK, 2),        # a whole number of pieces
])
@pytest.mark.parametrize("batch", [(), (1,), (2,)])
def test_product_in_pieces_is_the_product(m, n, p, batch):
    rng = np.random.default_rng(m + n + p + len(batch))
    a, b = rng.standard_normal(batch + (m, n)), rng.standard_normal(batch + (n, p))
    expected = np.einsum("...ij,...jk->...ik", a, b)
    for x, y in [(a, b), (np.swapaxes(np.swapaxes(a, -1, -2).copy(), -1, -2), b),
                 (a, np.swapaxes(np.swapaxes(b, -1, -2).copy(), -1, -2))]:  # column-major operands too
        out = layout.product(x, y)
        assert out.shape == expected.shape
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-9)


def test_small_products_are_numpys():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 5))
    np.testing.assert_array_equal(layout.product(a, b), a @ b)
