"""A conv layer is a dense layer whose weights are tied: start from what you know about dense backprop.

    python demos/conv_as_dense.py                                  # the seed: 3x3 image, 2x2 filter
    python demos/conv_as_dense.py --image 5x5 --filter 3x3 --stride 2 --padding 1

Flatten the image x (H*W numbers) and the output y (OH*OW numbers). Every
output is a weighted sum of inputs, so y = M x for an (OH*OW, H*W) matrix M:
row (i, j) holds W_ab in the column of the pixel W_ab multiplies at output
(i, j), and 0 elsewhere. M is a dense layer in which

    most weights are held at 0, and the rest are TIED: W_ab appears once per output row.

For a dense layer you know the weight gradient: dL/dM = dL/dy x^T (an outer
product; entry (r, c) is dL/dy_r * x_c). A tied weight is used at several
places, so its gradient is the sum over those places:

    dL/dW_ab = sum over the entries (r, c) of M that hold W_ab of dL/dy_r * x_c.

That is exactly what backward() gives for the conv, with no formula of its own.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))  # run from a clone
import plots  # noqa: E402  (demos/plots.py, next to this file)
import tinygrad_conv as tc  # noqa: E402
from tinygrad_conv import functional as F  # noqa: E402
from tinygrad_conv.grid import element_name  # noqa: E402
from tinygrad_conv.windows import output_size  # noqa: E402
from viz.palette import weight_colour  # noqa: E402  (the wiring picture's colours: W12 is red everywhere)

SEED_IMAGE = np.arange(1.0, 10.0).reshape(3, 3)       # I11 .. I33 = 1 .. 9
SEED_FILTER = np.array([[1.0, -1.0], [2.0, 0.5]])    # W11 W12 / W21 W22
SEED_TARGET = 1.0


def loss(outputs, kind, target):
    """The seed's loss, L = (mean of the outputs - 1)^2 (global average pooling), or mse against a target grid."""
    if kind == "pool":
        return (F.global_avg_pool2d(outputs) - SEED_TARGET) ** 2
    return F.mse_loss(outputs, target)


def tied_index(image_shape, filter_shape, stride=1, padding=0):
    """Which filter value sits in each entry of the (OH*OW, H*W) matrix M: a flat index a*kw + b, or -1 for 0.

    Output (i, j) multiplies W_ab with padded pixel (s*i + a, s*j + b), i.e. image pixel
    (s*i + a - p, s*j + b - p); a pixel outside the image is a padding zero and has no column.
    """
    (H, W), (kh, kw) = image_shape, filter_shape
    OH, OW = output_size(H + 2 * padding, kh, stride, 1), output_size(W + 2 * padding, kw, stride, 1)
    if OH < 1 or OW < 1:
        raise ValueError(f"a {kh}x{kw} filter does not fit a {H}x{W} image with padding {padding}")
    index = np.full((OH * OW, H * W), -1)
    for i in range(OH):
        for j in range(OW):
            for a in range(kh):
                for b in range(kw):
                    p, q = stride * i + a - padding, stride * j + b - padding
                    if 0 <= p < H and 0 <= q < W:
                        index[i * OW + j, p * W + q] = a * kw + b
    return index


def draw(path, index, dL_dM, rows, cols, wnames, tied_grad, scale=1.0):
    """M with row and column labels, each W_ab in the wiring picture's colour; dL/dM on the same entries,
    numbers as the equations write them; and each W_ab's sum under them."""
    strong = [[weight_colour(k)[0] if k >= 0 else "black" for k in row] for row in index]
    light = [[weight_colour(k)[1] if k >= 0 else "white" for k in row] for row in index]
    blocks = [dict(title="M: where each W_ab sits (rows: outputs, columns: inputs)", rows=rows, columns=cols,
                   texts=[[wnames[k] if k >= 0 else "" for k in row] for row in index], fills=light,
                   text_colours=strong),
              dict(title="dL/dM = dL/dy x^T, on those entries", rows=rows, columns=cols,
                   texts=[[plots.exact_number(v) if k >= 0 else "" for v, k in zip(vs, ks)]
                          for vs, ks in zip(dL_dM, index)], fills=light, text_colours=strong)]
    notes = []
    for k, name in enumerate(wnames):
        entries = dL_dM[index == k]
        terms = " + ".join(plots.exact_number(v) for v in entries).replace("+ -", "- ")
        written = terms + " = " if 0 < len(entries) <= 6 else (f"the sum of its {len(entries)} entries = "
                                                              if len(entries) else "(no entries) ")
        notes.append((f"dL/d{name} = {written}{plots.exact_number(tied_grad.flat[k])}", weight_colour(k)[0]))
    plots.matrix_table(blocks, path, title="A conv as a dense layer y = M x: tied weights, their gradients summed",
                       notes=notes, scale=scale)


def print_matrix(rows, cols, cells, width):
    print(" " * 5 + "".join(f"{c:>{width}}" for c in cols))
    for r, row in zip(rows, cells):
        print(f"{r:>5}" + "".join(f"{c:>{width}}" for c in row))


def parse_size(text):
    try:
        h, w = (int(n) for n in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size like 3x3, got {text!r}") from None
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return h, w


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", type=parse_size, default=(3, 3), help="image size HxW (default 3x3)")
    parser.add_argument("--filter", type=parse_size, default=(2, 2), help="filter size KxK (default 2x2)")
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--padding", type=int, default=0)
    parser.add_argument("--loss", choices=("pool", "mse"), default="pool",
                        help="pool (default): L = (average of the outputs - 1)^2, as the seed; "
                             "mse: mean squared error against a random target per output")
    parser.add_argument("--quick", action="store_true", help="accepted for uniformity; this demo is always quick")
    parser.add_argument("--seed", type=int, default=0, help="random numbers for any size but the seed's")
    parser.add_argument("--out", default="out", help="folder for the pictures (default out/)")
    parser.add_argument("--scale", type=plots.scale_type, default=1.0,
                        help="the pictures' text and boxes x SCALE (1.5 for a projector)")
    args = parser.parse_args(argv)
    if args.stride < 1 or args.padding < 0:
        parser.error(f"need stride >= 1 and padding >= 0, got {args.stride} and {args.padding}")
    (H, Wd), (kh, kw) = args.image, args.filter
    rng = np.random.default_rng(args.seed)
    seed = (H, Wd, kh, kw) == (3, 3, 2, 2)
    x = SEED_IMAGE if seed else rng.integers(-4, 5, size=(H, Wd)).astype(float)
    w = SEED_FILTER if seed else rng.integers(-3, 4, size=(kh, kw)).astype(float)
    try:
        index = tied_index((H, Wd), (kh, kw), args.stride, args.padding)
    except ValueError as error:
        parser.error(str(error))
    OH = output_size(H + 2 * args.padding, kh, args.stride, 1)
    OW = index.shape[0] // OH
    target = rng.integers(-5, 6, size=(OH, OW)).astype(float)

    # 1. the conv on the scalar engine, and its backward()
    I, W = tc.values(x, name="I"), tc.values(w, name="W")
    o = F.conv2d(I, W, stride=args.stride, padding=args.padding)
    loss(o, args.loss, target).backward()
    conv_grad, dL_dy = tc.grads(W), tc.grads(o).reshape(-1)

    # 2. the same layer as a matrix: M[r, c] = W_ab where index[r, c] = a*kw + b, else 0
    M = np.where(index >= 0, w.reshape(-1)[np.maximum(index, 0)], 0.0)
    y_dense, y_conv = M @ x.reshape(-1), tc.data(o).reshape(-1)
    forward_diff = float(np.max(np.abs(y_dense - y_conv)))
    rows = [element_name("o", (i, j), (OH, OW)) for i in range(OH) for j in range(OW)]
    cols = [element_name("I", (p, q), (H, Wd)) for p in range(H) for q in range(Wd)]
    wnames = [element_name("W", (a, b), (kh, kw)) for a in range(kh) for b in range(kw)]
    show = len(cols) <= 25
    print(f"A {H}x{Wd} image, a {kh}x{kw} filter, stride {args.stride}, padding {args.padding}: "
          f"{OH}x{OW} outputs, so M is {OH * OW} x {H * Wd} ({H * Wd} inputs, flattened row by row).")
    print("Loss: " + ("L = (p - 1)^2, p = the average of the outputs (global average pooling)\n" if args.loss == "pool"
                      else "L = mean over outputs of (o_ij - t_ij)^2, t a random target\n"))
    if show:
        print("y = M x, with M:")
        print_matrix(rows, cols, [[wnames[k] if k >= 0 else "0" for k in row] for row in index], 6)
    print(f"\nM x equals conv2d(x, W): largest difference {forward_diff:.1e}\n")

    # 3. the dense layer's weight gradient, two ways: backward() through an untied dense layer, and dL/dy x^T
    M_free, x_free = tc.values(M, name="M"), tc.values(x.reshape(-1), name="x")
    y_free = F.linear(x_free, M_free).reshape(OH, OW)
    loss(y_free, args.loss, target).backward()
    dL_dM = tc.grads(M_free)
    outer = np.outer(dL_dy, x.reshape(-1))
    dense_diff = float(np.max(np.abs(dL_dM - outer)))
    if show:
        print(f"dL/dy = {np.array2string(dL_dy, precision=4)} (from backward()),  x = {x.reshape(-1)}")
        print("The dense layer's gradient dL/dM = dL/dy x^T (from backward() on a dense layer with free weights):")
        print_matrix(rows, cols, [[f"{v:.3g}" for v in row] for row in dL_dM], 8)
    print(f"\nbackward()'s dL/dM equals the outer product dL/dy x^T: largest difference {dense_diff:.1e}\n")

    # 4. tie the weights back: dL/dW_ab = sum of dL/dM over the entries that hold W_ab
    tied_grad = np.array([dL_dM[index == k].sum() for k in range(kh * kw)]).reshape(kh, kw)
    grad_diff = float(np.max(np.abs(tied_grad - conv_grad)))
    print("Tie the weights back: each W_ab's gradient is the sum of dL/dM over the entries holding W_ab.")
    for k, name in enumerate(wnames):
        places = list(zip(*np.nonzero(index == k)))
        if len(places) <= 4:
            terms = " + ".join(f"dL/dM[{rows[r]},{cols[c]}]" for r, c in places) or "(no entries)"
            terms += " = " + " + ".join(f"{dL_dM[r, c]:.6g}" for r, c in places).replace("+ -", "- ")
        else:
            terms = f"the {len(places)} entries holding {name}"
        print(f"  dL/d{name} = {terms} = {tied_grad.flat[k]:.10g}   (conv backward(): {conv_grad.flat[k]:.10g})")
    print(f"\nlargest difference: {grad_diff:.1e}")

    os.makedirs(args.out, exist_ok=True)
    picture = os.path.join(args.out, "conv_as_dense.svg")
    draw(picture, index, dL_dM, rows, cols, wnames, tied_grad, args.scale)
    print(f"wrote {picture}")
    print("\nConclusion: a conv is a dense layer y = M x in which each filter value W_ab is copied into many "
          "entries of M. The dense gradient you already know, dL/dM = dL/dy x^T, gives each copy its share; "
          "the filter value's gradient is the sum of its copies' shares. No nudging: one backward() computes "
          "exactly this sum for every W_ab.")
    return dict(M=M, index=index, y_dense=y_dense, y_conv=y_conv, forward_diff=forward_diff, dL_dM=dL_dM,
                outer=outer, dense_diff=dense_diff, tied_grad=tied_grad, conv_grad=conv_grad,
                grad_diff=grad_diff, picture=picture)


if __name__ == "__main__":
    main()
