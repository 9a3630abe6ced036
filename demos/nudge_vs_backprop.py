"""The learner's idea done for real: nudge each filter value, rerun the whole dataset, see the loss move.

    python demos/nudge_vs_backprop.py            # 20 images 12x12, filters 1x1 ... 7x7
    python demos/nudge_vs_backprop.py --quick    # a few seconds

A dataset of images and targets made by a hidden filter; the loss is the mean
squared error over the whole dataset,

    L(W) = mean over n, i, j of (conv2d(x_n, W)[i, j] - t_n[i, j])^2.

Nudging gives each filter value's gradient as a central difference,

    dL/dW_ab ~ (L(W_ab + h) - L(W_ab - h)) / (2h)      two passes over the dataset per value,

so a k x k filter costs 2k^2 passes. One backward() gives all k^2 of them
from one pass and one backward sweep. The two agree to ~1e-9; the cost does not.
(The estimate's error is O(h^2) from the curvature plus ~1e-16 * L / h from
rounding; h = 1e-4 balances the two.)
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))  # run from a clone
import plots  # noqa: E402  (demos/plots.py, next to this file)
import tinygrad_conv as tc  # noqa: E402
from tinygrad_conv import functional as F  # noqa: E402
from tinygrad_conv.gradcheck import numerical_grad  # noqa: E402
from tinygrad_conv.windows import sliding_windows  # noqa: E402


def make_dataset(n_images, size, k, rng):
    """Random images and their targets t = conv2d(x, hidden) for a hidden k x k filter (plain numpy)."""
    images = rng.standard_normal((n_images, size, size))
    hidden = rng.standard_normal((k, k))
    targets = np.einsum("nijab,ab->nij", sliding_windows(images, (k, k)), hidden)
    return images, targets


def loss_function(engine, images, targets, W0):
    """(loss_fn, W): loss_fn() reruns the whole dataset through conv2d with the filter W and returns L."""
    if engine == "tensor":
        x = tc.Tensor(images[:, None])  # (N, 1, H, W)
        W = tc.Tensor(W0[None, None].copy(), requires_grad=True)
        return (lambda: F.mse_loss(F.conv2d(x, W), targets[:, None])), W
    grids = [tc.values(image) for image in images]  # the images are built once; only W changes
    W = tc.values(W0, name="W")
    return (lambda: F.mse_loss(np.stack([F.conv2d(x, W) for x in grids]), targets)), W


def gradient_by_backprop(loss_fn, W):
    """One forward pass and one backward(): every dL/dW_ab at once."""
    if type(W).__name__ == "Tensor":
        W.grad = None
        loss_fn().backward()
        return np.array(W.grad, dtype=np.float64)
    for v in W.flat:
        v.grad = 0.0
    loss_fn().backward()
    return tc.grads(W)


def measure(engine, n_images, size, k, rng, h=1e-4):
    """Both gradients of one k x k filter, the passes they took, and their seconds."""
    images, targets = make_dataset(n_images, size, k, rng)
    loss_fn, W = loss_function(engine, images, targets, rng.standard_normal((k, k)))
    passes = [0]

    def counted():
        passes[0] += 1
        return loss_fn()

    start = time.perf_counter()
    g_backprop = gradient_by_backprop(counted, W)
    t_backprop = time.perf_counter() - start
    start = time.perf_counter()
    g_nudge = numerical_grad(counted, W, h)
    t_nudge = time.perf_counter() - start
    g_backprop, g_nudge = g_backprop.reshape(k, k), g_nudge.reshape(k, k)  # a Tensor filter is (1, 1, k, k)
    return dict(k=k, values=k * k, backprop=g_backprop, nudge=g_nudge, nudge_passes=passes[0] - 1,
                backprop_seconds=t_backprop, nudge_seconds=t_nudge,
                max_diff=float(np.max(np.abs(g_backprop - g_nudge))))


def show_side_by_side(r):
    print(f"\ndL/dW for a {r['k']}x{r['k']} filter, over the whole dataset:")
    print(f"  {'':6}{'backward()':>16}{'nudge and rerun':>18}{'difference':>13}")
    for (a, b), g in np.ndenumerate(r["backprop"]):
        n = r["nudge"][a, b]
        print(f"  W{a + 1}{b + 1}:  {g:16.10f}{n:18.10f}{g - n:13.1e}")
    print(f"  largest difference: {r['max_diff']:.1e}\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, help="images in the dataset (default 20, quick 4)")
    parser.add_argument("--size", type=int, help="image side in pixels (default 12, quick 8)")
    parser.add_argument("--filters", help="filter sides to time (default 1,2,3,5,7, quick 1,2,3)")
    parser.add_argument("--engine", choices=("scalar", "tensor"), default="scalar",
                        help="scalar Values (default) or numpy Tensors")
    parser.add_argument("--quick", action="store_true",
                        help="small settings (4 images 8x8, filters 1,2,3) unless given")
    parser.add_argument("--h", type=float, default=1e-4, help="nudge size (default 1e-4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out", help="folder for the pictures (default out/)")
    parser.add_argument("--scale", type=plots.scale_type, default=1.0,
                        help="the pictures' text and boxes x SCALE (1.5 for a projector)")
    args = parser.parse_args(argv)
    args.images = args.images or (4 if args.quick else 20)
    args.size = args.size or (8 if args.quick else 12)
    try:
        sizes = [int(s) for s in (args.filters or ("1,2,3" if args.quick else "1,2,3,5,7")).split(",")]
    except ValueError:
        parser.error(f"--filters takes filter sides separated by commas, like 1,3,5; got {args.filters!r}")
    if args.images < 1 or min(sizes) < 1 or max(sizes) > args.size:
        parser.error(f"need --images >= 1 and filter sides between 1 and the image side {args.size}, got {sizes}")
    rng = np.random.default_rng(args.seed)

    print(f"Dataset: {args.images} images of {args.size}x{args.size}, targets made by a hidden filter; "
          f"L = mean squared error over all of them ({args.engine} engine).\n")
    header = (f"{'filter':>7} {'values':>6} | {'nudge: passes':>13} {'ms':>8} | "
              f"{'backprop: passes':>16} {'ms':>8} | {'ratio':>6} | {'max diff':>8}")
    print(header + "\n" + "-" * len(header))
    results = []
    for k in sizes:
        r = measure(args.engine, args.images, args.size, k, rng, args.h)
        results.append(r)
        print(f"{k:>4}x{k:<2} {r['values']:>6} | {r['nudge_passes']:>13} {1e3 * r['nudge_seconds']:>8.1f} | "
              f"{'1 + backward':>16} {1e3 * r['backprop_seconds']:>8.1f} | "
              f"{r['nudge_seconds'] / r['backprop_seconds']:>5.1f}x | {r['max_diff']:>8.1e}", flush=True)
    show_side_by_side(next((r for r in results if r["k"] == 3), results[-1]))

    os.makedirs(args.out, exist_ok=True)
    plot = os.path.join(args.out, "nudge_vs_backprop.svg")
    n_values = [r["values"] for r in results]
    plots.line_chart([("nudge each value: 2 passes per value", n_values, [r["nudge_seconds"] for r in results]),
                      ("backprop: 1 pass + 1 backward", n_values, [r["backprop_seconds"] for r in results])],
                     plot, title="Seconds for one gradient of the filter, whole dataset",
                     xlabel="number of filter values (k x k)", ylabel="seconds", logy=True, scale=args.scale)
    print(f"wrote {plot}")

    big = results[-1]
    per_pass = big["nudge_seconds"] / big["nudge_passes"]
    print(f"\nConclusion: nudging works (the gradients agree to {max(r['max_diff'] for r in results):.0e}), "
          f"but it costs 2 passes over the dataset per filter value: {big['nudge_passes']} passes for a "
          f"{big['k']}x{big['k']} filter, {big['nudge_seconds'] / big['backprop_seconds']:.0f}x the time of "
          f"backprop. A small CNN with 10,000 weights would need 20,000 passes (~{20000 * per_pass:.0f} s here) "
          f"for ONE step. backward() gets every dL/dW_ab from one pass, because each W_ab's gradient is just "
          f"the sum, over the output positions it touched, of dL/do_ij times the input it multiplied there.")
    return dict(sizes=sizes, n_values=n_values, results=results, plot=plot,
                max_diff=max(r["max_diff"] for r in results))


if __name__ == "__main__":
    main()
