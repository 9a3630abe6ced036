"""Recover a hidden filter (a Sobel edge detector) from examples, by gradient descent alone.

    python demos/learn_a_filter.py             # writes out/learn_a_filter_*.svg
    python demos/learn_a_filter.py --quick     # a second or two

The data are pairs (x, t) with t = conv2d(x, S), S the 3x3 Sobel filter that
responds to vertical edges. Nobody tells the model S: it starts from W = 0
and repeats

    L(W) = mean over n, i, j of (conv2d(x_n, W)[i, j] - t_n[i, j])^2
    W   <- W - lr * dL/dW           (every dL/dW_ab from one backward())

The gradient says, for all nine values at once, which way and how much each
should move; no nudging. L is a bowl in W (quadratic, lowest at W = S), so
the steps walk straight down to S.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))  # run from a clone
import plots  # noqa: E402  (demos/plots.py, next to this file)
import tinygrad_conv as tc  # noqa: E402
from tinygrad_conv import functional as F  # noqa: E402
from tinygrad_conv.optim import SGD  # noqa: E402
from tinygrad_conv.windows import sliding_windows  # noqa: E402

SOBEL = np.array([[-1.0, 0.0, 1.0],
                  [-2.0, 0.0, 2.0],
                  [-1.0, 0.0, 1.0]])


def tensor_engine_available():
    """Whether the Tensor engine is installed and runs a conv (it is optional for this demo)."""
    try:
        F.conv2d(tc.Tensor(np.zeros((1, 1, 3, 3))), tc.Tensor(np.zeros((1, 1, 2, 2))))
    except (ImportError, AttributeError, NotImplementedError):
        return False
    return True


def make_pairs(n_images, size, rng):
    """Random images and what the Sobel filter makes of them (plain numpy, the 'ground truth')."""
    images = rng.standard_normal((n_images, size, size))
    return images, np.einsum("nijab,ab->nij", sliding_windows(images, (3, 3)), SOBEL)


def trainer(engine, images, targets, W0, lr):
    """(step, W, grad): step() does one gradient-descent step and returns the loss before it; W() the filter
    now; grad() the gradient the last step used."""
    if engine == "tensor":
        x, W = tc.Tensor(images[:, None]), tc.Tensor(W0[None, None].copy(), requires_grad=True)
        t = targets[:, None]

        def loss_fn():
            return F.mse_loss(F.conv2d(x, W), t)

        def current():
            return np.array(W.data[0, 0], dtype=np.float64)

        def gradient():
            return np.array(W.grad[0, 0], dtype=np.float64)
    else:
        grids, W = [tc.values(image) for image in images], tc.values(W0, name="W")

        def loss_fn():
            return F.mse_loss(np.stack([F.conv2d(x, W) for x in grids]), targets)

        def current():
            return tc.data(W)

        def gradient():
            return tc.grads(W)

    optimizer = SGD([W], lr=lr)

    def step():
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        optimizer.step()
        return float(np.asarray(loss.data).reshape(()))

    return step, current, gradient


def render(dot, base):
    """Write a graphviz.Digraph as base.svg; without graphviz's `dot` program, its source as base.gv."""
    import graphviz
    try:
        svg = dot.pipe(format="svg")
    except graphviz.ExecutableNotFound:
        with open(base + ".gv", "w", encoding="utf-8") as f:
            f.write(dot.source)
        print(f"(graphviz's dot program is not installed: wrote {base}.gv; render it with dot -Tsvg)")
        return base + ".gv"
    with open(base + ".svg", "wb") as f:
        f.write(svg)
    return base + ".svg"


def first_step(images, targets, W0, out_dir, scale=1.0):
    """The first step's real gradient on the scalar engine, image by image, and the panels of image 1.

    The training loss is L = mean over n, i, j of (o_n,ij - t_n,ij)^2, so

        dL/dW_ab = sum over images n of [ sum_ij dL/do_n,ij * x_n(i + a, j + b) ]   (image n's share)

    Returns (paths, lines, gradient): the picture(s), the printed equations, and dL/dW as an array,
    which the caller checks against the first step of the training itself.
    """
    try:
        import viz
    except ImportError:
        print("(the viz package is not available: skipping the wiring picture)")
        viz = None
    W = tc.values(W0, name="W")
    grids = [tc.values(image, name="I") for image in images]
    outputs = [F.conv2d(x, W) for x in grids]
    F.mse_loss(np.stack(outputs), targets).backward()
    gradient = tc.grads(W)
    lines = []
    for (a, b), w in np.ndenumerate(W):
        shares = [sum(o.grad * x[i + a, j + b].data for (i, j), o in np.ndenumerate(out))
                  for x, out in zip(grids, outputs)]
        written = " + ".join(f"{v:.4g}" if v >= 0 or k == 0 else f"({v:.4g})" for k, v in enumerate(shares))
        lines.append(f"dL/d{w.name} = {written}\n        = {w.grad:.6g}")
    paths = []
    if viz is not None:
        base = os.path.join(out_dir, "learn_a_filter_wiring")
        paths.append(render(viz.draw_conv_wiring(outputs[0], W, grids[0], scale=scale, digits=3), base))
        paths.append(render(viz.draw_conv_wiring(outputs[0], W, grids[0], weight="W11", scale=scale),
                            base + "_W11"))
    return paths, "\n".join(lines), gradient


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=("auto", "tensor", "scalar"), default="auto",
                        help="auto (default): the Tensor engine when present, else the scalar one")
    parser.add_argument("--images", type=int, help="training images (default 16 tensor / 6 scalar, quick 4)")
    parser.add_argument("--size", type=int, help="image side (default 10, quick 8)")
    parser.add_argument("--steps", type=int, help="gradient-descent steps (default 80, quick 60)")
    parser.add_argument("--lr", type=float, default=0.15, help="learning rate (default 0.15)")
    parser.add_argument("--init", choices=("zero", "random"), default="zero", help="starting filter")
    parser.add_argument("--quick", action="store_true", help="small settings (4 images 8x8, 60 steps) unless given")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out", help="folder for the pictures (default out/)")
    parser.add_argument("--scale", type=plots.scale_type, default=1.0,
                        help="the pictures' text and boxes x SCALE (1.5 for a projector)")
    args = parser.parse_args(argv)
    engine = args.engine
    if engine == "auto":
        engine = "tensor" if tensor_engine_available() else "scalar"
    n_images = args.images or (4 if args.quick else 16 if engine == "tensor" else 6)
    args.size = args.size or (8 if args.quick else 10)
    args.steps = args.steps or (60 if args.quick else 80)
    if args.size < 4 or n_images < 1 or args.steps < 1:
        parser.error("need --size >= 4, --images >= 1 and --steps >= 1")
    rng = np.random.default_rng(args.seed)
    images, targets = make_pairs(n_images, args.size, rng)
    W0 = np.zeros((3, 3)) if args.init == "zero" else rng.standard_normal((3, 3))
    os.makedirs(args.out, exist_ok=True)

    print(f"Learning a 3x3 filter from {n_images} (image, Sobel-filtered image) pairs of {args.size}x{args.size}, "
          f"{engine} engine, SGD lr={args.lr}, starting from W = {args.init}.")
    wiring, equations, first_gradient = first_step(images, targets, W0, args.out, args.scale)
    print(f"\nThe first step's gradient, as the sum of each image's share (one term per image, "
          f"each the sum over its outputs of dL/do_ij times the pixel W_ab met there):\n")
    print(equations)
    with open(os.path.join(args.out, "learn_a_filter_equations.txt"), "w", encoding="utf-8") as f:
        f.write(equations + "\n")
    step, current, gradient_now = trainer(engine, images, targets, W0, args.lr)
    show = sorted({0, 1, 2, 5, 10, 20, 40, args.steps} & set(range(args.steps + 1)))
    frames, losses, errors = {0: current()}, [], []
    for n in range(1, args.steps + 1):
        losses.append(step())
        if n == 1:  # the equations above are this very step's gradient
            step_difference = float(np.abs(gradient_now() - first_gradient).max())
            print(f"  step    1 used exactly this gradient: largest difference {step_difference:.1e} "
                  f"({engine} engine)")
        errors.append(float(np.abs(current() - SOBEL).max()))
        if n in show:
            frames[n] = current()
        if n in show or n % 20 == 0:
            print(f"  step {n:4d}: loss {losses[-1]:.3e}   max |W - Sobel| {errors[-1]:.2e}", flush=True)
    final = current()
    max_error = float(np.abs(final - SOBEL).max())

    strip = os.path.join(args.out, "learn_a_filter_frames.svg")
    plots.strip([frames[n] for n in show] + [SOBEL], strip, titles=[f"step {n}" for n in show] + ["Sobel"],
                title="The filter W during gradient descent (blue < 0 < red)", vmax=2.0, scale=args.scale,
                columns=5)
    curve = os.path.join(args.out, "learn_a_filter_loss.svg")
    plots.line_chart([("loss L(W)", list(range(1, len(losses) + 1)), [max(v, 1e-30) for v in losses]),
                      ("max |W - Sobel|", list(range(1, len(errors) + 1)), [max(v, 1e-30) for v in errors])],
                     curve, title="Loss and distance to the Sobel filter", xlabel="step", ylabel="", logy=True,
                     legend="top right", scale=args.scale)
    print(f"\nlearned W:\n{np.array2string(np.round(final, 5) + 0.0)}\n"
          f"largest difference from Sobel: {max_error:.1e}")
    print("wrote " + ", ".join([strip, curve] + wiring) + " and the equations (.txt)")
    outcome = (f"after {args.steps} steps W equals the Sobel filter to {max_error:.0e}" if max_error < 1e-3 else
               f"after {args.steps} steps W is still {max_error:.1e} away from Sobel (more --steps, or a "
               f"smaller --lr if the loss grew)")
    print(f"\nConclusion: nobody nudged anything. Each step, one backward() told every filter value which way "
          f"to move (the sign of dL/dW_ab) and how far (its size); {outcome}. The gradient of each W_ab is "
          f"the sum, over every output position of every image, of dL/do_ij times the pixel W_ab multiplied there" +
          (f": image 1's share is drawn in {os.path.basename(wiring[0])}." if wiring else "."))
    return dict(engine=engine, final=final, sobel=SOBEL.copy(), max_error=max_error, losses=losses,
                frames=strip, loss_plot=curve, wiring=wiring, equations=equations, first_gradient=first_gradient,
                step_difference=step_difference)


if __name__ == "__main__":
    main()
