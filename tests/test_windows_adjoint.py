"""add_windows_back, the adjoint of sliding_windows, against its definition written as a loop.

Its fast path for windows that never share an input (stride at least the window's extent)
must take the DILATED extent d*(k-1)+1: a 2x2 kernel with stride 2 and dilation 2 spans 3
inputs, so its windows overlap although stride == kernel. The @examples pin such cases, so
hypothesis need not happen to draw them.
"""
import numpy as np
from hypothesis import example, given, settings, strategies as st

from tinygrad_conv.windows import add_windows_back, output_size, sliding_windows


def add_windows_back_by_loop(G, input_shape, kernel, stride, dilation):
    """dL/dx[..., s*i + d*a, t*j + e*b] += dL/dwindows[..., i, j, a, b], for every i, j, a, b."""
    (kh, kw), (s, t), (d, e) = kernel, stride, dilation
    out = np.zeros(input_shape)
    oh, ow = G.shape[-4], G.shape[-3]
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    out[..., s * i + d * a, t * j + e * b] += G[..., i, j, a, b]
    return out


pairs = st.tuples(st.integers(1, 3), st.integers(1, 3))


@settings(max_examples=40, deadline=None)
@given(kernel=pairs, stride=pairs, dilation=pairs, extra=pairs, lead=st.integers(1, 3), seed=st.integers(0, 2**16))
@example(kernel=(2, 2), stride=(2, 2), dilation=(2, 2), extra=(1, 1), lead=1, seed=0)  # overlap despite stride 2
@example(kernel=(2, 2), stride=(3, 3), dilation=(2, 2), extra=(2, 0), lead=2, seed=1)  # disjoint, dilated
@example(kernel=(2, 2), stride=(2, 2), dilation=(1, 1), extra=(0, 0), lead=1, seed=2)  # tiles exactly
@example(kernel=(2, 3), stride=(3, 2), dilation=(1, 2), extra=(1, 2), lead=1, seed=3)  # one axis overlaps
def test_add_windows_back_is_its_definition(kernel, stride, dilation, extra, lead, seed):
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    shape = (lead, span[0] + extra[0], span[1] + extra[1])
    oh, ow = (output_size(n, k, s, d) for n, k, s, d in zip(shape[1:], kernel, stride, dilation))
    G = np.random.default_rng(seed).standard_normal((lead, oh, ow) + kernel)
    back = add_windows_back(G, shape, kernel, stride, dilation)
    np.testing.assert_allclose(back, add_windows_back_by_loop(G, shape, kernel, stride, dilation), rtol=1e-13)
    # and it is the adjoint: <windows(x), G> == <x, back>
    x = np.random.default_rng(seed + 1).standard_normal(shape)
    np.testing.assert_allclose(np.sum(sliding_windows(x, kernel, stride, dilation) * G), np.sum(x * back),
                               rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(kernel=pairs, extra=st.tuples(st.integers(0, 4), st.integers(0, 4)), lead=st.integers(1, 3),
       transposed=st.booleans(), seed=st.integers(0, 2**16))
@example(kernel=(2, 2), extra=(0, 0), lead=2, transposed=True, seed=0)  # 2x2 pooling of a batch-innermost array
@example(kernel=(2, 2), extra=(1, 1), lead=1, transposed=False, seed=1)  # an odd size: the last row and column unused
def test_tiling_windows_are_the_windows_by_definition(kernel, extra, lead, transposed, seed):
    # stride == kernel takes a shortcut (a reshape); it must be the same read-only view of the same numbers
    kh, kw = kernel
    shape = (lead, 2 * kh + extra[0], 3 * kw + extra[1])
    x = np.random.default_rng(seed).standard_normal(shape[::-1] if transposed else shape)
    x = x.T if transposed else x  # numbers stored in another order than the axes'
    win = sliding_windows(x, kernel, kernel)
    oh, ow = shape[1] // kh, shape[2] // kw
    assert win.shape == (lead, oh, ow, kh, kw) and not win.flags.writeable
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    assert win[:, i, j, a, b].tolist() == x[:, kh * i + a, kw * j + b].tolist()
    assert np.shares_memory(win, x)
    grid = np.empty(shape, dtype=object)  # the scalar engine's grids of Values take the same path
    grid[...] = [[[object() for _ in range(shape[2])] for _ in range(shape[1])] for _ in range(lead)]
    assert sliding_windows(grid, kernel, kernel)[0, 0, 0, kh - 1, kw - 1] is grid[0, kh - 1, kw - 1]
