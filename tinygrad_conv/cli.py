"""The command line: `python -m tinygrad_conv explain --image 3x3 --filter 2x2 --pool avg`.

It builds the seed example with the scalar engine,

    I = 1, 2, ..., H*W              (the image, row by row)
    W = 1, -1, 2, 0.5, ...          (a fixed filter pattern, the tutorial's seed for 2x2)
    o = conv2d(I, W, stride, padding, dilation)
    p = pool(o)                     (global average or max by default; K x K windows with --pool-size)
    L = mean((p - target)^2)

runs backward(), prints the forward and gradient equations read off the
recorded graph, and writes graph.svg (the whole graph) and wiring.svg (which
weight feeds which output through which input) into --out.
"""
import argparse
import os
import re
import sys

import numpy as np

from .windows import output_size

FILTER_PATTERN = (1.0, -1.0, 2.0, 0.5, -0.5, 1.5, -2.0, 0.25, 0.75)  # the tutorial's 2x2 seed filter first
MAX_SIDE = 12  # larger pictures stop being readable


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line on stderr (exit status 2) instead of usage plus the error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _size(text):
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"expected HxW, e.g. 3x3, got {text!r}")
    h, w = int(m.group(1)), int(m.group(2))
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    if h > MAX_SIDE or w > MAX_SIDE:
        raise argparse.ArgumentTypeError(f"at most {MAX_SIDE}x{MAX_SIDE} (the pictures would be unreadable), "
                                         f"got {text!r}")
    return h, w


def _at_least(minimum):
    def parse(text):
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if n < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {n}")
        return n
    return parse


def make_parser():
    parser = _Parser(prog="python -m tinygrad_conv",
                     description="See how a convolution filter gets its gradient, one multiply at a time.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    explain = commands.add_parser(
        "explain", help="build a small conv with the scalar engine, print its equations, draw its graph",
        description="Build the seed example (image 1..H*W, a fixed filter, conv, pool, squared loss), run "
                    "backward(), print the forward and gradient equations read off the recorded graph, and "
                    "write graph.svg and wiring.svg into --out.")
    explain.add_argument("--image", type=_size, default=(3, 3), metavar="HxW", help="image size (default 3x3)")
    explain.add_argument("--filter", type=_size, default=(2, 2), metavar="HxW", help="filter size (default 2x2)")
    explain.add_argument("--stride", type=_at_least(1), default=1, metavar="S", help="stride (default 1)")
    explain.add_argument("--padding", type=_at_least(0), default=0, metavar="P", help="zero padding (default 0)")
    explain.add_argument("--dilation", type=_at_least(1), default=1, metavar="D", help="dilation (default 1)")
    explain.add_argument("--pool", choices=("avg", "max", "none"), default="avg",
                         help="pool after the conv: avg or max over the whole output (default avg), or none")
    explain.add_argument("--pool-size", type=_at_least(1), default=None, metavar="K",
                         help="pool K x K windows (stride K) instead of the whole output")
    explain.add_argument("--target", type=float, default=1.0, metavar="T",
                         help="the target of the squared loss (default 1)")
    explain.add_argument("--out", default="out", metavar="DIR", help="where to write the SVGs (default out/)")
    return parser


def _check(args, parser):
    """The sizes must make a conv (and pool) with at least one output; else a one-line error."""
    (H, W), (kh, kw), s, p, d = args.image, args.filter, args.stride, args.padding, args.dilation
    if p > MAX_SIDE:  # every padded position is a Value of its own: keep the graph to a picture's size
        parser.error(f"--padding {p} is larger than {MAX_SIDE}; the graph would be too big to draw")
    span = (d * (kh - 1) + 1, d * (kw - 1) + 1)
    if span[0] > H + 2 * p or span[1] > W + 2 * p:
        extent = f" (extent {span[0]}x{span[1]} with dilation {d})" if d > 1 else ""
        parser.error(f"the {kh}x{kw} filter{extent} does not fit the {H}x{W} image with padding {p}")
    OH, OW = output_size(H + 2 * p, kh, s, d), output_size(W + 2 * p, kw, s, d)
    if args.pool_size is not None:
        if args.pool == "none":
            parser.error("--pool-size needs --pool avg or --pool max")
        if args.pool_size > min(OH, OW):
            parser.error(f"--pool-size {args.pool_size} is larger than the {OH}x{OW} conv output")
    return OH, OW


def build_seed(image=(3, 3), filter=(2, 2), stride=1, padding=0, dilation=1, pool="avg", pool_size=None,
               target=1.0):
    """The seed example as grids of Values, after backward(): a dict with I, W, o, p (None without a pool), L."""
    import tinygrad_conv as tc
    from tinygrad_conv import functional as F
    H, Wd = image
    kh, kw = filter
    I = tc.values(np.arange(1.0, H * Wd + 1).reshape(H, Wd), name="I")
    pattern = np.resize(np.array(FILTER_PATTERN), kh * kw).reshape(kh, kw)
    W = tc.values(pattern, name="W")
    o = F.conv2d(I, W, stride=stride, padding=padding, dilation=dilation)
    if pool == "none":
        p, scored = None, o
    elif pool_size is None:
        p = F.global_avg_pool2d(o) if pool == "avg" else F.max_pool2d(o, o.shape)
        scored = p
    else:
        p = (F.avg_pool2d if pool == "avg" else F.max_pool2d)(o, pool_size)
        scored = p
    L = F.mse_loss(scored, np.full(np.shape(scored), target))
    L.backward()
    return {"I": I, "W": W, "o": o, "p": p, "L": L}


def _describe(args, seed):
    from viz.text import number
    (H, W), (kh, kw) = args.image, args.filter
    weights = ", ".join(number(v.data) for v in seed["W"].flat)
    conv = f"o = conv2d(I, W, stride={args.stride}, padding={args.padding}, dilation={args.dilation})"
    if args.pool == "none":
        pool, scored = "", "o"
    elif args.pool_size is None:
        pool = f"p = {'average' if args.pool == 'avg' else 'max'} of all of o"
        scored = "p"
    else:
        k = args.pool_size
        pool = f"p = {'average' if args.pool == 'avg' else 'max'} of each {k}x{k} window of o (stride {k})"
        scored = "p"
    lines = [f"I = 1 .. {H * W} ({H}x{W} image, row by row)", f"W = {weights} ({kh}x{kw} filter, row by row)",
             conv + f"  -> {np.shape(seed['o'])[0]}x{np.shape(seed['o'])[1]}"]
    if pool:
        lines.append(pool)
    lines.append(f"L = mean(({scored} - {number(args.target)})^2) = {number(seed['L'].data)}")
    if seed["p"] is not None and np.ndim(seed["p"]) == 0:
        p = seed["p"]
        lines.append(f"dL/dp = 2*(p - {number(args.target)}) = 2*({number(p.data)} - {number(args.target)}) "
                     f"= {number(p.grad)}")
    return "\n".join(lines)


def explain(args, parser):
    _check(args, parser)
    import graphviz
    import viz
    try:  # a bad --out is found before anything is printed
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        parser.error(f"cannot write into --out {args.out!r}: {e.strerror or e}")
    seed = build_seed(args.image, args.filter, args.stride, args.padding, args.dilation, args.pool,
                      args.pool_size, args.target)
    try:
        graph = viz.draw_graph(seed["L"])
    except ValueError as e:
        parser.error(f"the graph is too big to draw: {e}")
    print(_describe(args, seed))
    print()
    print(viz.conv_equations(seed["o"], seed["W"], pooled=seed["p"], inputs=seed["I"]))
    wiring = viz.draw_conv_wiring(seed["o"], seed["W"], seed["I"], pooled=seed["p"])
    written = []
    try:
        for name, picture in (("graph.svg", graph), ("wiring.svg", wiring)):
            path = os.path.join(args.out, name)
            with open(path, "wb") as f:
                f.write(picture.pipe(format="svg"))
            written.append(path)
    except graphviz.ExecutableNotFound:
        sys.stderr.write(f"{parser.prog}: error: the Graphviz programs (dot, neato) are needed to write SVGs; "
                         "install them (apt-get install graphviz)\n")
        return 1
    except OSError as e:
        parser.error(f"cannot write {path!r}: {e.strerror or e}")
    print()
    print("wrote " + " and ".join(written))
    return 0


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    explain_parser = parser._subparsers._group_actions[0].choices["explain"]
    return explain(args, explain_parser)
