"""Remake the README's seed pictures: docs/img/summary.png, docs/img/wiring_W11.png, docs/seed_wiring.png.

    python demos/readme_pictures.py [--out docs] [--scale 1.5]

The seed exactly as `python -m tinygrad_conv explain` builds it (viz/explain.py build_seed):
a 3x3 image 1..9, the 2x2 filter 1, -1, 2, 0.5, global average pooling, target 1. Drawn at
scale 1.5 so that each still reads when shrunk to 1024 px wide.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))  # run from a clone
import viz  # noqa: E402
from viz.explain import build_seed  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="docs", help="the docs folder (default docs/)")
    parser.add_argument("--scale", type=float, default=1.5, help="text and boxes x SCALE (default 1.5)")
    args = parser.parse_args(argv)
    seed = build_seed()
    I, W, o, p = seed["I"], seed["W"], seed["o"], seed["p"]
    pictures = {"img/summary.png": viz.draw_summary(o, W, I, weight="W11", pooled=p, scale=args.scale),
                "img/wiring_W11.png": viz.draw_conv_wiring(o, W, I, weight="W11", pooled=p, scale=args.scale),
                "seed_wiring.png": viz.draw_conv_wiring(o, W, I, pooled=p, scale=args.scale, layout="panels")}
    written = []
    for name, dot in pictures.items():
        path = os.path.join(args.out, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(dot.pipe(format="png"))
        written.append(path)
    print("wrote " + ", ".join(written))
    return written


if __name__ == "__main__":
    main()
