"""viz/geometry.py: where each input of a recorded conv sits, checked against the conv's own formula.

For output (i, j) and weight (a, b) the input sits at (s_h*i + d_h*a, s_w*j + d_w*b) of the
padded input, and row r, column c of the unpadded input at (r + p_h, c + p_w). geometry reads
the positions off the graph without that formula; these tests hold its answers against it, for
configurations hypothesis draws and for small cases worked by hand. Rows and columns often get
different paddings, strides and dilations here, so a placement that mixes up the two axes (the
row padding used for columns, say) fails.
"""
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import example, given

import tinygrad_conv as tc
from tinygrad_conv import Value, functional as F
import viz
from viz.geometry import known_inputs, place_inputs
from viz.wiring import Term, read_conv

from strategies import ConvConfig, conv_configs, examples, seeds


def reading_of(cfg, seed):
    """(input grid, reading of the conv) for one config."""
    x, w, b = cfg.arrays(seed)
    X, W = tc.values(x, name="I"), tc.values(w, name="W")
    return X, read_conv(F.conv2d(X, W, None if b is None else tc.values(b, name="b"), **cfg.kwargs()), W)


def slices(cfg, reading):
    """(n, k, c, the input channel the slice reads, its terms) for every slice of the conv."""
    N, K = reading.outputs.shape[:2]
    Cg = reading.weights.shape[1]
    for n in range(N):
        for k in range(K):
            for c in range(Cg):
                yield n, k, c, (k // (K // cfg.groups)) * Cg + c, reading.terms_of(n, k, c)


def known_by_hand(X, cfg, n):
    """Input Value -> (channel, row, col) of batch element n, by walking the grid in its own shape."""
    grid = np.asarray(X, dtype=object)
    grid = grid.reshape((1, 1) + grid.shape) if cfg.flat else (grid[None] if cfg.batch is None else grid)
    return {grid[n, ch, r, col]: (ch, r, col) for ch in range(grid.shape[1])
            for r in range(grid.shape[2]) for col in range(grid.shape[3])}


def config(kernel, stride, padding, dilation, size, channels=1, groups=1, out=1, batch=None, flat=True):
    return ConvConfig(batch, flat, channels, out, groups, size[0], size[1], kernel, stride, padding, dilation,
                      False)


# ---- with the input grid: stride, dilation, padding and every position are the conv's ------------


def pinned(points, out_len, k_len):
    """Whether s*i + d*a - r = p over the reached real inputs' (i, a, r) has one solution (s, d, p).

    A stride with one window (out_len 1) or a dilation with a one-wide kernel (k_len 1) is no
    unknown: geometry reads it as 1. Otherwise the unknowns are pinned when the rows (i, a, 1)
    have full rank. When they are not (a window reaching one real row only, say), the graph also
    fits other strides and dilations, and only the weaker checks below apply.
    """
    columns = [n for n, moves in enumerate((out_len > 1, k_len > 1)) if moves] + [2]
    rows = np.array([[i, a, 1] for i, a, _ in points], dtype=float)[:, columns]
    return np.linalg.matrix_rank(rows) == len(columns)


@examples(40)
@given(cfg=conv_configs(max_stride=3, max_padding=2, max_dilation=3, max_extra=3), seed=seeds)
# rows and columns differ in every setting, one at a time and all at once
@example(cfg=config((2, 2), (1, 1), (1, 2), (1, 1), (3, 3)), seed=0)
@example(cfg=config((2, 2), (1, 1), (2, 0), (1, 1), (3, 4)), seed=0)
@example(cfg=config((2, 3), (3, 1), (0, 1), (2, 1), (5, 4)), seed=0)
@example(cfg=config((2, 2), (2, 3), (1, 2), (3, 2), (4, 5)), seed=0)
# only the middle column is ever read: the sharing alone also fits stride 1, dilation 1, padding 0
@example(cfg=config((3, 2), (2, 2), (2, 1), (2, 2), (3, 3)), seed=0)
@example(cfg=config((3, 2), (2, 2), (2, 1), (2, 2), (3, 3), channels=4, groups=2, out=2, batch=2, flat=False),
         seed=1)
# a 1x1 filter reads padded rows 0, 2, 4 of a 2-row input padded by 2: stride 1, padding 1 fits the
# sharing too, but puts the padding zero read at row 2 on the input's second row (and the same across)
@example(cfg=config((1, 1), (2, 1), (2, 0), (1, 1), (2, 1)), seed=0)
@example(cfg=config((1, 1), (1, 2), (0, 2), (1, 1), (1, 2)), seed=0)
def test_with_the_input_grid_every_input_sits_where_the_formula_puts_it(cfg, seed):
    X, reading = reading_of(cfg, seed)
    (oh, ow), (kh, kw) = cfg.output_hw, cfg.kernel
    # a stride with one window, or a dilation with a one-wide kernel, moves nothing: geometry reads 1
    true_s = tuple(s if o > 1 else 1 for s, o in zip(cfg.stride, (oh, ow)))
    true_d = tuple(d if k > 1 else 1 for d, k in zip(cfg.dilation, cfg.kernel))
    for n, k, c, channel, terms in slices(cfg, reading):
        known = known_by_hand(X, cfg, n)
        assert known_inputs(X, n)[0] == known
        place = place_inputs(terms, known)
        assert set(place.positions) == {t.x for t in terms}
        if not any(t.x in known for t in terms):  # the windows read only padding: nothing pins the place
            assert place.padding is None and place.channel is None
            continue
        (sh, sw), (dh, dw), (ph, pw) = place.stride, place.dilation, place.padding
        # always: the formula with the stride and dilation reported, the real inputs at their own
        # row and column moved by the padding reported, and no padding zero on a cell of the grid
        for t in terms:
            (_, _, i, j), (_, _, a, b) = t.out_index, t.weight_index
            assert place.positions[t.x] == (sh * i + dh * a, sw * j + dw * b)
        grid_cells = {(r + ph, col + pw) for ch, r, col in known.values() if ch == channel}
        for x, q in place.positions.items():
            if x in known:
                assert known[x] == (channel, q[0] - ph, q[1] - pw)
            else:
                assert q not in grid_cells, (x.name, q)
        assert place.channel == channel and ph >= 0 and pw >= 0
        assert place.extent == (sh * (oh - 1) + dh * (kh - 1) + 1, sw * (ow - 1) + dw * (kw - 1) + 1)
        # and where the real inputs read leave one answer, it is the conv's own, axis by axis
        reached = [(t.out_index[2:], t.weight_index[2:], known[t.x][1:]) for t in terms if t.x in known]
        for axis, (length, k_len) in enumerate(((oh, kh), (ow, kw))):
            if pinned([(o[axis], w[axis], r[axis]) for o, w, r in reached], length, k_len):
                assert (place.stride[axis], place.dilation[axis], place.padding[axis]) == \
                    (true_s[axis], true_d[axis], cfg.padding[axis])


def test_padding_differs_by_axis_worked_by_hand():
    """I (2x3), W (1x1), padding (1, 2): the outputs cover the padded 4x7 grid cell by cell, and I[r, c] is
    at (r + 1, c + 2). The same conv transposed moves the paddings with the axes."""
    for image, padding, expect in ((np.arange(6.0).reshape(2, 3), (1, 2), (1, 2)),
                                   (np.arange(6.0).reshape(3, 2), (2, 1), (2, 1))):
        I, W = tc.values(image, name="I"), tc.values([[2.0]], name="W")
        o = F.conv2d(I, W, padding=padding)
        place = place_inputs(read_conv(o, W).terms, known_inputs(I, 0)[0])
        assert place.padding == expect and place.extent == o.shape == (image.shape[0] + 2 * expect[0],
                                                                       image.shape[1] + 2 * expect[1])
        for (r, c), x in np.ndenumerate(I):
            assert place.positions[x] == (r + expect[0], c + expect[1])
        assert place.stride == place.dilation == (1, 1) and place.channel == 0


# ---- without the input grid: the smallest stride and dilation that explain the sharing -----------


def test_seed_example_without_the_input_grid():
    """The README's 3x3 input, 2x2 filter: I[r, c] at (r, c), all ones, extent 3x3, nothing pinned."""
    I = tc.values(np.arange(1.0, 10.0).reshape(3, 3), name="I")
    W = tc.values([[0.5, -1.0], [0.25, 2.0]], name="W")
    place = place_inputs(read_conv(F.conv2d(I, W), W).terms)
    assert {x.name: q for x, q in place.positions.items()} == {f"I{r + 1}{c + 1}": (r, c)
                                                               for r in range(3) for c in range(3)}
    assert (place.stride, place.dilation, place.extent) == ((1, 1), (1, 1), (3, 3))
    assert place.padding is None and place.channel is None


def test_without_the_input_grid_gaps_no_window_reaches_are_left_out():
    """I 5x7, W 2x2, stride (2, 3), dilation (2, 1), no padding, worked by hand.

    Rows: windows start at 0 and 2 and take rows (0, 2) and (2, 4): row 2 is shared, and
    (s, d) = (1, 1) already explains that with rows 0, 2, 4 at 0, 1, 2. Columns: windows take
    (0, 1), (3, 4); (1, 1) would put columns 1 and 3 both at 1, so (s, d) = (2, 1): 0, 1, 2, 3.
    Given the grid, the same conv reads stride (2, 3), dilation (2, 1) and the true columns.
    """
    I = tc.values(np.arange(35.0).reshape(5, 7), name="I")
    W = tc.values(np.ones((2, 2)), name="W")
    o = F.conv2d(I, W, stride=(2, 3), dilation=(2, 1))
    terms = read_conv(o, W).terms
    free = place_inputs(terms)
    assert (free.stride, free.dilation, free.extent) == ((1, 2), (1, 1), (3, 4))
    rows, cols = {0: 0, 2: 1, 4: 2}, {0: 0, 1: 1, 3: 2, 4: 3}
    assert {x: q for x, q in free.positions.items()} == {I[r, c]: (rows[r], cols[c]) for r in rows for c in cols}
    pinned = place_inputs(terms, known_inputs(I, 0)[0])
    assert (pinned.stride, pinned.dilation, pinned.padding, pinned.extent) == ((2, 3), (2, 1), (0, 0), (5, 5))
    assert {x: q for x, q in pinned.positions.items()} == {I[r, c]: (r, c) for r in rows for c in cols}


@examples(30)
@given(cfg=conv_configs(max_stride=3, max_padding=2, max_dilation=3, max_extra=3), seed=seeds)
@example(cfg=config((2, 2), (2, 3), (1, 2), (3, 2), (4, 5)), seed=0)
@example(cfg=config((2, 1), (2, 1), (0, 0), (1, 1), (4, 1)), seed=0)  # rows need stride 2; one column of taps
@example(cfg=config((1, 2), (1, 2), (0, 0), (1, 1), (1, 4)), seed=0)  # and across
def test_without_the_input_grid_positions_share_exactly_as_the_products_do(cfg, seed):
    """Two products get the same position exactly when they multiplied the same input, and the
    placement is the formula's with the stride and dilation it reports (no padding, no channel)."""
    _, reading = reading_of(cfg, seed)
    for n, k, c, _, terms in slices(cfg, reading):
        place = place_inputs(terms)
        (sh, sw), (dh, dw) = place.stride, place.dilation
        for t in terms:
            (_, _, i, j), (_, _, a, b) = t.out_index, t.weight_index
            assert place.positions[t.x] == (sh * i + dh * a, sw * j + dw * b)
        assert len(set(place.positions.values())) == len(place.positions) == len({t.x for t in terms})
        # the conv's own (dilation, stride) explains the sharing too, so the one chosen, the smallest
        # dilation and then stride, comes no later (a stride with one window or a one-wide kernel's
        # dilation moves nothing and reads as 1)
        (oh, ow), (kh, kw) = cfg.output_hw, cfg.kernel
        for chosen, d, s, length, k_len in (((dh, sh), *cfg.dilation[:1], *cfg.stride[:1], oh, kh),
                                            ((dw, sw), *cfg.dilation[1:], *cfg.stride[1:], ow, kw)):
            assert (1, 1) <= chosen <= (d if k_len > 1 else 1, s if length > 1 else 1)
        assert place.extent == (sh * (oh - 1) + dh * (kh - 1) + 1, sw * (ow - 1) + dw * (kw - 1) + 1)
        assert place.padding is None and place.channel is None


# ---- what is not a conv, and bad input grids -----------------------------------------------------


def fake_terms(layout):
    """Terms of a made-up 'conv' with a 1x1 kernel: layout[i][j] is the Value output (i, j) multiplied."""
    w = Value(1.0, "W11")
    terms = []
    for (i, j), x in np.ndenumerate(np.asarray(layout, dtype=object)):
        out = Value(0.0, f"o{i + 1}{j + 1}")
        terms.append(Term(out, (0, 0, i, j), w, (0, 0, 0, 0), x, x * w))
    return terms


def test_an_input_used_twice_along_an_axis_is_not_a_conv():
    """Outputs 0 and 2 of a row share an input but output 1 does not: no stride explains that."""
    x, y = Value(1.0, "x"), Value(2.0, "y")
    with pytest.raises(ValueError, match=r"^could not place the inputs on a grid: .* \(is `outputs` the grid "
                                         r"conv2d returned\?\)$"):
        place_inputs(fake_terms([[x, y, x]]))


def test_an_input_at_two_places_is_not_one_convolution():
    """Row 0 and column 0 read as a stride-1 grid, but output (1, 1) reuses output (0, 0)'s input."""
    a, b, c = Value(1.0, "a"), Value(2.0, "b"), Value(3.0, "c")
    with pytest.raises(ValueError, match=r"^input a is used at two different places \(0, 0\) and \(1, 1\); "
                                         r"this does not look like one convolution$"):
        place_inputs(fake_terms([[a, b], [c, a]]))


def test_an_input_grid_the_conv_did_not_read_is_refused():
    """The inputs claimed to sit one row lower than the conv read them (a padding of -1): no placement."""
    I = tc.values(np.arange(9.0).reshape(3, 3), name="I")
    W = tc.values(np.ones((2, 2)), name="W")
    terms = read_conv(F.conv2d(I, W), W).terms
    shifted = {x: (0, r + 1, c) for (r, c), x in np.ndenumerate(I)}
    with pytest.raises(ValueError, match=r"^could not place the inputs on a grid"):
        place_inputs(terms, shifted)
    assert place_inputs(terms, {x: (0, r, c) for (r, c), x in np.ndenumerate(I)}).padding == (0, 0)


def test_known_inputs_reads_every_grid_shape():
    """(H, W) is one channel of one image, (C, H, W) one image; (N, C, H, W) gives image n."""
    values = tc.values(np.arange(24.0).reshape(2, 3, 2, 2), name="I")
    for grid, n, plane in ((values[1, 2], 0, values[1, 2][None]), (values[1], 0, values[1]), (values, 1, values[1])):
        known, got = known_inputs(grid, n)
        assert got.shape == plane.shape and all(g is p for g, p in zip(got.flat, plane.flat))
        assert known == {x: index for index, x in np.ndenumerate(plane)}


def test_known_inputs_refuses_other_shapes_and_batch_indices():
    values = tc.values(np.zeros((2, 1, 2, 2)), name="I")
    for bad in (values[0, 0, 0], values[None]):
        with pytest.raises(ValueError, match=r"^inputs must be \(H, W\), \(C, H, W\) or \(N, C, H, W\), got shape"):
            known_inputs(bad, 0)
    for n in (-1, 2):
        with pytest.raises(ValueError, match=rf"^batch index {n} is out of range for inputs of shape \(2, 1, 2, 2\)"):
            known_inputs(values, n)
    assert known_inputs(values, 1)[1][0, 1, 1] is values[1, 0, 1, 1]
    assert known_inputs(values[0, 0], 0)[1][0, 1, 0] is values[0, 0, 1, 0]  # (H, W): batch 0 is its only one
    with pytest.raises(ValueError, match=r"^batch index 1 is out of range for inputs of shape \(2, 2\)"):
        known_inputs(values[0, 0], 1)


# ---- the wiring picture puts unreached inputs by the same padding, axis by axis ------------------

needs_dot = pytest.mark.skipif(shutil.which("neato") is None, reason="Graphviz's neato is not installed")
SVG = "{http://www.w3.org/2000/svg}"


def centres_by_label(digraph):
    """First text line of each node -> list of (x, y) where it is drawn, from the SVG neato makes."""
    root = ET.fromstring(digraph.pipe(format="svg"))
    found = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "node":
            first = next(g.iter(f"{SVG}text"), None)
            if first is not None:
                found.setdefault(" ".join((first.text or "").split()), []).append(
                    (float(first.get("x")), float(first.get("y"))))
    return found


@needs_dot
def test_unreached_inputs_are_drawn_at_their_own_row_and_column_with_non_square_padding():
    """I 4x4, W 2x2, stride 3, padding (1, 2): padded rows 0 1 | 3 4 and columns 0 1 | 3 4 | 6 7 are read.

    I[r, c] sits at padded (r + 1, c + 2), so rows 1 and columns 0, 3 of I are never reached and are
    drawn dashed. Every input, reached or not, must be drawn at its own padded place: one lattice,
    the same step across and down, from I12 (reached, at padded (1, 3))."""
    I = tc.values(np.arange(16.0).reshape(4, 4), name="I")
    W = tc.values(np.ones((2, 2)), name="W")
    o = F.conv2d(I, W, stride=3, padding=(1, 2))
    place = place_inputs(read_conv(o, W).terms, known_inputs(I, 0)[0])
    reached = {(r, c) for (r, c), x in np.ndenumerate(I) if x in place.positions}
    assert reached == {(r, c) for r in (0, 2, 3) for c in (1, 2)}
    at = centres_by_label(viz.draw_conv_wiring(o, W, I))
    (x0, y0), = at["I12"]
    (_, y_far), = at["I42"]  # 3 rows down, both reached
    step = (y_far - y0) / 3
    assert step > 0
    for (r, c), x in np.ndenumerate(I):
        (xx, yy), = at[x.name]
        assert xx == pytest.approx(x0 + (c - 1) * step, abs=0.2) and yy == pytest.approx(y0 + r * step, abs=0.2), \
            (x.name, (r, c) in reached)
    # the padding zeros the windows read sit on the same lattice, on the padded cells no input takes
    read = {(R, C) for R in (0, 1, 3, 4) for C in (0, 1, 3, 4, 6, 7)}
    drawn = [(round((yy - y0) / step) + 1, round((xx - x0) / step) + 3) for xx, yy in at["0"]]
    assert sorted(drawn) == sorted(read - {(r + 1, c + 2) for r, c in reached})


def test_the_search_reaches_a_dilation_of_64_and_stops_there():
    """A 1x2 filter with dilation d over a 1x(d+1) input: its two taps read columns 0 and d. Only the
    input grid tells d apart from 1; geometry tries dilations (and strides) up to 64."""
    for d in (2, 64):
        I = tc.values(np.arange(d + 1.0).reshape(1, d + 1), name="I")
        W = tc.values([[1.0, 1.0]], name="W")
        place = place_inputs(read_conv(F.conv2d(I, W, dilation=(1, d)), W).terms, known_inputs(I, 0)[0])
        assert place.dilation == (1, d) and place.positions[I[0, d]] == (0, d) and place.extent == (1, d + 1)
    I = tc.values(np.arange(66.0).reshape(1, 66), name="I")
    W = tc.values([[1.0, 1.0]], name="W")
    with pytest.raises(ValueError, match=r"^could not place the inputs on a grid"):
        place_inputs(read_conv(F.conv2d(I, W, dilation=(1, 65)), W).terms, known_inputs(I, 0)[0])


def test_the_search_reaches_a_stride_of_64_and_stops_there():
    """A 1x1 filter with stride s over a 1x(s+1) input reads columns 0 and s."""
    for s in (2, 64):
        I = tc.values(np.arange(s + 1.0).reshape(1, s + 1), name="I")
        W = tc.values([[1.0]], name="W")
        place = place_inputs(read_conv(F.conv2d(I, W, stride=(1, s)), W).terms, known_inputs(I, 0)[0])
        assert place.stride == (1, s) and place.positions[I[0, s]] == (0, s) and place.extent == (1, s + 1)
    I = tc.values(np.arange(66.0).reshape(1, 66), name="I")
    W = tc.values([[1.0]], name="W")
    with pytest.raises(ValueError, match=r"^could not place the inputs on a grid"):
        place_inputs(read_conv(F.conv2d(I, W, stride=(1, 65)), W).terms, known_inputs(I, 0)[0])
