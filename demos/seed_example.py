"""The seed walkthrough: how does one filter value get its gradient?

A 3x3 image I and a 2x2 filter W give four outputs o11 ... o22; global average
pooling makes them one number p = (o11 + o12 + o21 + o22) / 4, and a squared
loss L = (p - target)^2 scores it. The learner's question: to know whether
to raise or lower W11, must we nudge W11 and rerun everything?

This script answers it three ways, all read off the engine itself:
  1. the forward equations: W11 is one factor of one product in EVERY o_ij;
  2. the gradient equations: so dL/dW11 = sum_ij dL/do_ij * (the input W11 met there),
     which backward() computes for every W_ab in one pass;
  3. the nudge-and-rerun estimate, two full passes per filter value, agrees.

    python demos/seed_example.py [--out DIR] [--target T]
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tinygrad_conv as tc  # noqa: E402
import viz  # noqa: E402
from tinygrad_conv import functional as F  # noqa: E402
from tinygrad_conv.gradcheck import numerical_grad  # noqa: E402
from plots import scale_type  # noqa: E402  (demos/plots.py: the demos' shared --scale)

IMAGE = np.arange(1.0, 10.0).reshape(3, 3)   # I11 = 1 ... I33 = 9
FILTER = np.array([[1.0, -1.0], [2.0, 0.5]])  # W11 W12 / W21 W22


def build(I, W, target):
    """The whole forward pass, from the grids to the loss; called again for every nudge."""
    o = F.conv2d(I, W)            # o11 ... o22: each one Value.sum of four input*weight products
    p = F.global_avg_pool2d(o)    # p = (o11 + o12 + o21 + o22) / 4
    L = (p - target) ** 2
    L.name = "L"
    return o, p, L


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="out", help="folder for the pictures (default: out/)")
    parser.add_argument("--target", type=float, default=1.0, help="the value p should reach (default 1)")
    parser.add_argument("--no-pictures", action="store_true", help="print only; do not render pictures")
    parser.add_argument("--scale", type=scale_type, default=1.0, help="the pictures' text and boxes x SCALE "
                                                                  "(1.5 for a projector; the summary is 1.5x that)")
    parser.add_argument("--format", choices=("svg", "png", "pdf"), default="svg", help="picture file type")
    args = parser.parse_args(argv)

    I = tc.values(IMAGE, name="I")
    W = tc.values(FILTER, name="W")
    o, p, L = build(I, W, args.target)
    L.backward()  # one pass back fills in dL/dv for every Value v: o_ij, p, every W_ab and I_ij

    print(f"Image I (3x3) = {IMAGE.tolist()},  filter W (2x2) = {FILTER.tolist()},  target = {args.target:g}")
    print(f"L = (p - target)^2 = ({p.data:g} - {args.target:g})^2 = {L.data:g}\n")
    print(viz.conv_equations(o, W, pooled=p, inputs=I))

    # The learner's idea, made exact: nudge each W_ab by +-h and rerun the whole forward pass.
    nudged = numerical_grad(lambda: build(I, W, args.target)[2], W)
    backprop = tc.grads(W)
    print("\nW's gradient two ways")
    print(f"  {'':5} {'backward() (1 pass)':>20} {'nudge +-h (2 passes each)':>26} {'difference':>11}")
    for index, w in np.ndenumerate(W):
        print(f"  {w.name:5} {backprop[index]:20.10g} {nudged[index]:26.10g} "
              f"{abs(backprop[index] - nudged[index]):11.1e}")
    passes = 2 * W.size
    print(f"\nNudging took {passes} forward passes for {W.size} filter values; backward() took one pass "
          "for all of them.")
    print("So no: you do not rerun the dataset per filter value. Each W_ab multiplies an input at every "
          "output position,\nand its gradient is the sum of dL/do_ij times that input, which reverse mode "
          "adds up for all W_ab at once.")

    if not args.no_pictures:
        os.makedirs(args.out, exist_ok=True)
        pictures = {  # the summary first: one screen with W11's edges, its equation and its sum
            "seed_summary": viz.draw_summary(o, W, I, weight="W11", pooled=p, scale=1.5 * args.scale),
            "seed_wiring": viz.draw_conv_wiring(o, W, inputs=I, pooled=p, scale=args.scale, layout="panels"),
            "seed_wiring_W11": viz.draw_conv_wiring(o, W, inputs=I, weight="W11", pooled=p, scale=args.scale),
            "seed_graph": viz.draw_graph(L, scale=args.scale)}
        for stem, dot in pictures.items():
            path = dot.render(os.path.join(args.out, stem), format=args.format, cleanup=True)
            print(f"wrote {path}")
    return {"loss": L.data, "backward": backprop, "nudged": nudged, "passes": passes}


if __name__ == "__main__":
    main()
