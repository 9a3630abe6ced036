"""Where each input sits: padded (row, col) positions recovered from which Values the products share.

The graph records *which* Value each weight multiplied, not *where* it was.
For output (i, j) and weight (a, b) the input sits at

    (s_h*i + d_h*a,  s_w*j + d_w*b)        in the padded input

so along each axis we look for the smallest dilation d, then stride s, that
explain the sharing: two products share an input exactly when their positions
agree. When the caller passes the input grid too, its Values' known places pin
s, d and the padding p (position = row + p), and no other input (a padding
zero) may then land on a cell of the grid: when the windows reach a single
column of the grid, say, the sharing and that column alone also fit a smaller
stride and dilation. Either way the positions are read from the graph and only
checked against a formula, never drawn from one.
"""
from dataclasses import dataclass

import numpy as np

_SEARCH = 64  # the largest stride and dilation tried


@dataclass
class Placement:
    """Padded positions of the inputs one (batch n, out channel k, weight channel c) slice used."""
    positions: dict          # input Value -> (row, col) in the padded input
    stride: tuple
    dilation: tuple
    padding: tuple           # (top, left) if the input grid was given, else None
    channel: object          # the input grid's channel index if the input grid was given, else None
    extent: tuple            # (rows, cols) of the padded region the windows cover


def _axis(observations, anchors, out_len, k_len):
    """Every (stride, dilation, padding or None) along one axis that explains the sharing, smallest first.

    observations: (i, a, x) for outputs i and kernel taps a along this axis
    (the other axis held at 0); anchors: (i, a, row) for every product whose
    input's row in the unpadded input grid is known. The sharing alone cannot
    always tell stride 2 with dilation 2 from 1 and 1 (when one pixel is all
    the windows reach), so place_inputs picks among these with the padding.
    """
    for d in range(1, _SEARCH + 1) if k_len > 1 else (1,):
        for s in range(1, _SEARCH + 1) if out_len > 1 else (1,):
            at, of, pad = {}, {}, None
            for i, a, x in observations:
                q = s * i + d * a
                if at.setdefault(q, x) is not x or of.setdefault(x, q) != q:
                    break
            else:
                pads = {s * i + d * a - r for i, a, r in anchors}
                if len(pads) > 1:
                    continue
                pad = pads.pop() if pads else None
                if pad is None or pad >= 0:
                    yield s, d, pad


def _outside(free, rows, cols, shape):
    """True when every product's input that is not a pixel (a padding zero) lies outside the image."""
    if shape is None or rows[2] is None or cols[2] is None:
        return True
    (sh, dh, ph), (sw, dw, pw), (H, W) = rows, cols, shape
    return not any(ph <= sh * i + dh * a < ph + H and pw <= sw * j + dw * b < pw + W for i, j, a, b in free)


def place_inputs(terms, known=None, known_shape=None):
    """Placement of the inputs in `terms`, all from one (n, k, c) slice.

    known: optional dict input Value -> (channel, row, col) from the input grid;
    known_shape: that grid's (rows, cols), which tells padding zeros from pixels.
    """
    known = known or {}
    if known_shape is None and known:  # the grid reaches at least as far as its farthest known pixel
        known_shape = tuple(1 + max(place[axis] for place in known.values()) for axis in (1, 2))
    by_pos = {(t.out_index[2], t.out_index[3], t.weight_index[2], t.weight_index[3]): t.x for t in terms}
    OH = 1 + max(p[0] for p in by_pos)
    OW = 1 + max(p[1] for p in by_pos)
    kh = 1 + max(p[2] for p in by_pos)
    kw = 1 + max(p[3] for p in by_pos)
    rows = [(i, a, x) for (i, j, a, b), x in by_pos.items() if j == 0 and b == 0]
    cols = [(j, b, x) for (i, j, a, b), x in by_pos.items() if i == 0 and a == 0]
    channel = next((known[x][0] for x in by_pos.values() if x in known), None)
    anchored = [(key, x) for key, x in by_pos.items() if x in known]
    free = [key for key, x in by_pos.items() if x not in known] if known else []
    row_fits = _axis(rows, [(i, a, known[x][1]) for (i, j, a, b), x in anchored], OH, kh)
    col_fits = list(_axis(cols, [(j, b, known[x][2]) for (i, j, a, b), x in anchored], OW, kw))
    fit = next(((r, c) for r in row_fits for c in col_fits if _outside(free, r, c, known_shape)), None)
    if fit is None:
        raise ValueError("could not place the inputs on a grid: the products do not share inputs as a "
                         "convolution's would (is `outputs` the grid conv2d returned?)")
    (sh, dh, ph), (sw, dw, pw) = fit
    positions = {}
    for (i, j, a, b), x in by_pos.items():
        q = (sh * i + dh * a, sw * j + dw * b)
        if positions.setdefault(x, q) != q:
            raise ValueError(f"input {x.name or x.data} is used at two different places {positions[x]} and {q}; "
                             "this does not look like one convolution")
    padding = None
    for x, (qr, qc) in positions.items():
        if x in known:  # the unpadded input's (row, col) pins the padding: position = index + padding
            pad = (qr - known[x][1], qc - known[x][2])
            if padding is not None and pad != padding:
                raise ValueError("the input grid's Values sit at inconsistent places in the products; "
                                 "is `inputs` the grid this conv2d read?")
            padding = pad
    extent = (sh * (OH - 1) + dh * (kh - 1) + 1, sw * (OW - 1) + dw * (kw - 1) + 1)
    return Placement(positions, (sh, sw), (dh, dw), padding, channel, extent)


def known_inputs(inputs, n):
    """Input Value -> (channel, row, col) for batch element n of the input grid (H, W), (C, H, W) or (N, C, H, W)."""
    grid = np.asarray(inputs, dtype=object)
    if grid.ndim == 2:
        grid = grid.reshape(1, 1, *grid.shape)
    elif grid.ndim == 3:
        grid = grid.reshape(1, *grid.shape)
    elif grid.ndim != 4:
        raise ValueError(f"inputs must be (H, W), (C, H, W) or (N, C, H, W), got shape {grid.shape}")
    if not 0 <= n < grid.shape[0]:
        raise ValueError(f"batch index {n} is out of range for inputs of shape {np.shape(inputs)}")
    return {x: (c, r, col) for (c, r, col), x in np.ndenumerate(grid[n])}, grid[n]


def input_cells(place, input_grid):
    """Input Value -> (row, col) in the padded input, for every input drawn: the ones the windows used
    (from `place`) and, when the input grid is known, the ones no window reached (a stride's gaps).

    An unreached input sits at its own (row, col) shifted by the padding (top, left) along each axis.
    Two Values never share a cell: that would mean the graph is not one convolution.
    """
    cells = dict(place.positions)
    if input_grid is not None and place.padding is not None and place.channel is not None:
        pad_rows, pad_cols = place.padding
        for (r, c), x in np.ndenumerate(input_grid[place.channel]):
            cells.setdefault(x, (r + pad_rows, c + pad_cols))
    taken = {}
    for x, cell in cells.items():
        if taken.setdefault(cell, x) is not x:
            raise ValueError(f"two inputs sit at the padded cell {cell}; this does not look like one convolution")
    return cells
