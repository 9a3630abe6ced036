"""`python -m tinygrad_conv explain`: the seed example built, explained and drawn.

It builds the seed with the scalar engine,

    I = 1, 2, ..., H*W              (the image, row by row; or the class's own --image-values)
    W = 1, -1, 2, 0.5, ...          (the tutorial's 2x2 seed filter first; or --filter-values)
    o = conv2d(I, W, stride, padding, dilation)
    p = pool(o)                     (global average or max by default; K x K windows with --pool-size)
    L = mean((p - target)^2)

runs backward(), prints the forward and gradient equations read off the
recorded graph, and writes graph.svg (the whole graph) and wiring.svg (which
weight feeds which output through which input) into --out. A picture too big
to read is skipped with a note naming the option that draws it; the equations
still print.
"""
import argparse
import math
import os
import re
import warnings

import numpy as np

from tinygrad_conv.windows import output_size

HELP = "build a small conv with the scalar engine, print its equations, draw its graph"
DESCRIPTION = ("Build the seed example (image 1..H*W, a fixed filter, conv, pool, squared loss), run backward(), "
               "print the forward and gradient equations read off the recorded graph, and write graph.svg and "
               "wiring.svg into --out.")

FILTER_PATTERN = (1.0, -1.0, 2.0, 0.5, -0.5, 1.5, -2.0, 0.25, 0.75)  # the tutorial's 2x2 seed filter first
SECOND_FILTER_PATTERN = (0.5, -1.0, 1.0, 0.25, -0.5, 1.5, 0.75, -0.25, 2.0)  # --conv2's filter U
HEAD_PATTERN = (0.5, -1.0, 1.0, 0.25, 1.5, -0.5, 2.0, -0.25, 0.75, -1.5, 0.5)  # --head's weights V, row by row
MAX_SIDE = 12        # the equations of a larger image stop being something to read
MAX_NODES = 2000     # draw_graph's default: past it graph.svg is skipped unless --max-nodes says otherwise
MAX_CELLS = 20000    # input cells over all of wiring's panels (one panel per weight) past which it is skipped
FORMATS = ("svg", "png", "pdf")


# ---- reading the command line: each type states what it accepts, and says so when it does not ----

def _size(text):
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"expected HxW, e.g. 3x3, got {text!r}")
    h, w = int(m.group(1)), int(m.group(2))
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    if h > MAX_SIDE or w > MAX_SIDE:
        raise argparse.ArgumentTypeError(f"at most {MAX_SIDE}x{MAX_SIDE} (the equations would be unreadable; "
                                         f"viz.explore in Python takes any size), got {text!r}")
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


def _finite(text):
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return x


def _numbers(text):
    """A comma-separated list of finite numbers, row by row: "4,-4,-3,-2" -> (4.0, -4.0, -3.0, -2.0)."""
    parts = [part.strip() for part in text.split(",")]
    numbers = []
    for part in parts:
        try:
            x = float(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {part!r} in {text!r}") \
                from None
        if not math.isfinite(x):
            raise argparse.ArgumentTypeError(f"every number must be finite, got {part!r}")
        numbers.append(x)
    return tuple(numbers)


def _scale(text):
    x = _finite(text)
    if not 0.25 <= x <= 4:
        raise argparse.ArgumentTypeError(f"must be between 0.25 and 4, got {text!r}")
    return x


def add_arguments(explain):
    explain.add_argument("--image", type=_size, default=(3, 3), metavar="HxW", help="image size (default 3x3)")
    explain.add_argument("--filter", type=_size, default=(2, 2), metavar="HxW", help="filter size (default 2x2)")
    explain.add_argument("--image-values", type=_numbers, default=None, metavar="A,B,...",
                         help="the image's numbers, row by row (default 1, 2, ..., H*W)")
    explain.add_argument("--filter-values", type=_numbers, default=None, metavar="A,B,...",
                         help="the filter's numbers, row by row (write --filter-values=-1,2,... when the first "
                              "is negative; default 1, -1, 2, 0.5, ...)")
    explain.add_argument("--stride", type=_at_least(1), default=1, metavar="S", help="stride (default 1)")
    explain.add_argument("--padding", type=_at_least(0), default=0, metavar="P", help="zero padding (default 0)")
    explain.add_argument("--dilation", type=_at_least(1), default=1, metavar="D", help="dilation (default 1)")
    explain.add_argument("--pool", choices=("avg", "max", "none"), default="avg",
                         help="pool after the conv: avg or max over the whole output (default avg), or none")
    explain.add_argument("--pool-size", type=_at_least(1), default=None, metavar="K",
                         help="pool K x K windows (stride K) instead of the whole output")
    explain.add_argument("--target", type=_finite, default=1.0, metavar="T",
                         help="the target of the squared loss (default 1)")
    explain.add_argument("--out", default="out", metavar="DIR", help="where to write the pictures (default out/)")
    explain.add_argument("--format", choices=FORMATS, default="svg",
                         help="the pictures' file type (default svg)")
    explain.add_argument("--max-nodes", type=_at_least(1), default=MAX_NODES, metavar="N",
                         help=f"draw graph.svg only up to N Values (default {MAX_NODES}); a larger graph is "
                              "skipped with a note")
    # following a gradient through a network (issue 12): a second conv, a dense head, the path of one value
    explain.add_argument("--conv2", type=_size, default=None, metavar="HxW",
                         help="stack a second conv (filter U of this size, outputs q) on the first conv's outputs")
    explain.add_argument("--head", type=_at_least(1), default=None, metavar="N",
                         help="flatten the last conv's outputs (or their pool; --pool none feeds the conv's "
                              "outputs themselves), then a dense layer z = V f of N outputs, scored by the loss")
    explain.add_argument("--follow", default=None, metavar="NAME",
                         help="print the chain of equations from the loss down to this Value (e.g. W12), and "
                              "draw it as path.svg (default with --conv2 or --head: W11, the first filter value)")
    # the explorer (issue 11): a page to click through, each gradient formed term by term
    explain.add_argument("--html", action="store_true",
                         help="also write explorer.html: click any weight, output or pixel and watch its gradient "
                              "form (open it in a browser)")
    # pictures that stay readable (issue 11) and carry on a projector (issue 15)
    explain.add_argument("--focus", default=None, metavar="NAME",
                         help="draw one weight's fan-out (W12), one output's window (o22) or one input pixel's "
                              "reach (I23) as wiring.<format>, instead of one input panel per weight")
    explain.add_argument("--scale", type=_scale, default=1.0, metavar="X",
                         help="multiply the pictures' fonts and boxes by X (default 1; 1.5 for a projector)")


def _check(args, fail):
    """The sizes must make a conv (and pool) with at least one output, and the values fit them; else one line."""
    (H, W), (kh, kw), s, p, d = args.image, args.filter, args.stride, args.padding, args.dilation
    if p > MAX_SIDE:  # every padded position is a Value of its own
        fail(f"--padding {p} is larger than {MAX_SIDE}; the graph would be too big to explain")
    for flag, values, (h, w) in (("--image-values", args.image_values, args.image),
                                 ("--filter-values", args.filter_values, args.filter)):
        what = "image" if flag == "--image-values" else "filter"
        if values is not None and len(values) != h * w:
            fail(f"{flag} has {len(values)} numbers; a {h}x{w} {what} needs {h * w}")
    span = (d * (kh - 1) + 1, d * (kw - 1) + 1)
    if span[0] > H + 2 * p or span[1] > W + 2 * p:
        extent = f" (extent {span[0]}x{span[1]} with dilation {d})" if d > 1 else ""
        fail(f"the {kh}x{kw} filter{extent} does not fit the {H}x{W} image with padding {p}")
    OH, OW = output_size(H + 2 * p, kh, s, d), output_size(W + 2 * p, kw, s, d)
    if args.pool_size is not None:
        if args.pool == "none":
            fail("--pool-size needs --pool avg or --pool max")
        if args.pool_size > min(OH, OW):
            fail(f"--pool-size {args.pool_size} is larger than the {OH}x{OW} conv output")
    return OH, OW


# ---- the seed, built on the scalar engine ----

def build_seed(image=(3, 3), filter=(2, 2), stride=1, padding=0, dilation=1, pool="avg", pool_size=None,
               target=1.0, image_values=None, filter_values=None, conv2=None, head=None):
    """The seed example as grids of Values, after backward(): a dict with I, W, o, p (None without a pool), L.

    conv2 (kh, kw): a second conv q = conv2d(o, U) follows the first (the pool then pools q);
    head N: the pool's (or last conv's) outputs are flattened into f and z = V f (N outputs) is
    what the loss scores. The dict then also holds U, q and/or f, V, z.
    """
    import tinygrad_conv as tc
    from tinygrad_conv import functional as F
    H, Wd = image
    kh, kw = filter
    image_values = np.arange(1.0, H * Wd + 1) if image_values is None else np.asarray(image_values, float)
    filter_values = np.resize(np.array(FILTER_PATTERN), kh * kw) if filter_values is None \
        else np.asarray(filter_values, float)
    I = tc.values(image_values.reshape(H, Wd), name="I")
    W = tc.values(filter_values.reshape(kh, kw), name="W")
    o = F.conv2d(I, W, stride=stride, padding=padding, dilation=dilation)
    network = {}
    if conv2 is not None:
        network["U"] = tc.values(np.resize(np.array(SECOND_FILTER_PATTERN), conv2[0] * conv2[1]).reshape(conv2),
                                 name="U")
        network["q"] = F.conv2d(o, network["U"], name="q")
    last = network.get("q", o)
    if pool == "none":
        p, scored = None, last
    elif pool_size is None:
        # one Value either way; the max keeps the name explain has always printed for it
        p = F.global_avg_pool2d(last) if pool == "avg" else F.global_max_pool2d(last, name="p11")
        scored = p
    else:
        p = (F.avg_pool2d if pool == "avg" else F.max_pool2d)(last, pool_size)
        scored = p
    if head is not None:
        network["f"] = np.asarray(scored, dtype=object).reshape(-1)  # flatten: the same Values, in a row
        size = network["f"].size
        network["V"] = tc.values(np.resize(np.array(HEAD_PATTERN), head * size).reshape(head, size), name="V")
        scored = network["z"] = F.linear(network["f"], network["V"], name="z")
    L = F.mse_loss(scored, np.full(np.shape(scored), target))
    L.backward()
    return {"I": I, "W": W, "o": o, "p": p, "L": L, **network}


def _all_finite(seed):
    """True when every number and gradient of the seed's grids is finite (an overflow shows up as inf or nan)."""
    for key in ("I", "W", "o", "p", "L", "U", "q", "V", "z"):
        grid = seed.get(key)
        if grid is None:
            continue
        for v in np.asarray(grid, dtype=object).flat:
            if not (math.isfinite(v.data) and math.isfinite(v.grad)):
                return False
    return True


def _describe(args, seed):
    from .text import number
    (H, W), (kh, kw) = args.image, args.filter
    image = "1 .. " + str(H * W) if args.image_values is None else ", ".join(number(x) for x in args.image_values)
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
    lines = [f"I = {image} ({H}x{W} image, row by row)", f"W = {weights} ({kh}x{kw} filter, row by row)",
             conv + f"  -> {np.shape(seed['o'])[0]}x{np.shape(seed['o'])[1]}"]
    if pool:
        lines.append(pool)
    lines.append(f"L = mean(({scored} - {number(args.target)})^2) = {number(seed['L'].data)}")
    p = seed["p"]
    if p is not None and np.size(p) == 1:
        p = np.asarray(p, dtype=object).flat[0]
        lines.append(f"dL/dp = 2*(p - {number(args.target)}) = 2*({number(p.data)} - {number(args.target)}) "
                     f"= {number(p.grad)}")
    return "\n".join(lines)


# ---- a network: a second conv, a dense head, one value followed from the loss down (issue 12) ----

def _network_options(args):
    """build_seed's keywords for --conv2 and --head (none when they are not given)."""
    options = {}
    if getattr(args, "conv2", None) is not None:
        options["conv2"] = args.conv2
    if getattr(args, "head", None) is not None:
        options["head"] = args.head
    return options


def _check_network(args, fail, OH, OW):
    """The second conv must fit the first's output, and a pool the second's; else one line."""
    if getattr(args, "conv2", None) is None:
        return
    kh, kw = args.conv2
    if kh > OH or kw > OW:
        fail(f"the --conv2 {kh}x{kw} filter does not fit the first conv's {OH}x{OW} output")
    if args.pool_size is not None and args.pool_size > min(OH - kh + 1, OW - kw + 1):
        fail(f"--pool-size {args.pool_size} is larger than the second conv's {OH - kh + 1}x{OW - kw + 1} output")


def _named_values(seed):
    """Every named Value of the seed's grids, by name, first one first."""
    named = {}
    for key in ("W", "I", "o", "U", "q", "p", "V", "z"):
        grid = seed.get(key)
        if grid is not None:
            for v in np.asarray(grid, dtype=object).flat:
                named.setdefault(v.name, v)
    return named


def _followed(args, seed, fail):
    """The Value --follow names (W11 by default for a network), or None."""
    name = getattr(args, "follow", None)
    if name is None:
        return seed["W"].flat[0] if _network_options(args) else None
    named = _named_values(seed)
    if name not in named:
        fail(f"--follow {name!r} names no Value here; try one of {', '.join(list(named)[:8])}, ...")
    return named[name]


def _describe_network(args, seed):
    """_describe's lines for a network: the convs, the pool, the head and the loss, in order."""
    from .text import number
    lines = _describe(args, seed).splitlines()
    lines = [line for line in lines if not line.startswith(("L = ", "dL/dp", "p = "))]
    last = "o"
    if "q" in seed:
        q = seed["q"]
        lines.append(f"U = {', '.join(number(v.data) for v in seed['U'].flat)} ({args.conv2[0]}x{args.conv2[1]} "
                     f"second filter, row by row)")
        lines.append(f"q = conv2d(o, U)  -> {q.shape[0]}x{q.shape[1]}")
        last = "q"
    scored = last
    if args.pool != "none":
        k = args.pool_size
        kind = "average" if args.pool == "avg" else "max"
        lines.append(f"p = {kind} of all of {last}" if k is None else
                     f"p = {kind} of each {k}x{k} window of {last} (stride {k})")
        scored = "p"
    if "z" in seed:
        f = seed["f"]
        lines.append(f"f = {scored} flattened, row by row: ({', '.join(v.name for v in f)})")
        lines.append(f"V = {args.head}x{f.size} weights, row by row: "
                     f"{', '.join(number(v.data) for v in seed['V'].flat)}")
        lines.append(f"z = V f  ({args.head} outputs: z_j = sum over i of V_ji * f_i)")
        scored = "z"
    lines.append(f"L = mean(({scored} - {number(args.target)})^2) = {number(seed['L'].data)}")
    return "\n".join(lines)


def _print_network(args, seed, followed):
    """The second conv's equations, the dense head's, and the chain down to the followed Value."""
    import viz
    if "q" in seed:
        print()
        print("The second conv: q = conv2d(o, U); its inputs are the first conv's outputs, so its input "
              "gradients are the dL/do used above")
        print(viz.conv_equations(seed["q"], seed["U"], pooled=seed["p"], inputs=seed["o"]))
    if "z" in seed:
        print()
        print(_head_equations(seed))
    if followed is not None:
        print()
        print(f"Following {followed.name}'s gradient from the loss down, one equation per hop:")
        print(viz.gradient_path(seed["L"], followed, max_terms=6))


def _head_equations(seed):
    """z = V f forward, dL/dz, and dL/df = V^T dL/dz one term per output, checked with numpy."""
    import viz
    from .text import number, signed
    f, V, z, L = seed["f"], seed["V"], seed["z"], seed["L"]
    lines = ["The dense head: each z_j is one sum of V_ji * f_i"]
    for j, zj in enumerate(z):
        symbols = " + ".join(f"{V[j, i].name}*{x.name}" for i, x in enumerate(f))
        numbers = " + ".join(f"{signed(V[j, i].data)}*{signed(x.data)}" for i, x in enumerate(f))
        pad = " " * len(zj.name)
        lines += [f"{zj.name} = {symbols}", f"{pad} = {numbers}", f"{pad} = {number(zj.data)}"]
    lines.append("")
    lines.append("The loss sends each z_j its gradient")
    lines += [str(viz.gradient_equation(L, zj)) for zj in z]
    lines.append("")
    lines.append("How the head sends dL/df back: f_i met V_ji in every output z_j, so dL/df_i = sum over j "
                 "of V_ji * dL/dz_j")
    lines += [str(viz.gradient_equation(L, x)) for x in f]
    from tinygrad_conv import data, grads
    closed = data(V).T @ grads(z)
    engine = grads(f)
    difference = float(np.abs(closed - engine).max())
    ok = np.allclose(closed, engine, rtol=1e-9, atol=1e-12 * max(1.0, float(np.abs(engine).max())))
    lines.append(f"  check: dL/df = V^T dL/dz (numpy on the numbers alone) " + ("holds" if ok else "DOES NOT HOLD")
                 + f" (largest difference {number(difference)})")
    return "\n".join(lines)


def _network_pictures(seed, followed):
    """The second conv's wiring and the followed Value's path, as _pictures lists them."""
    import viz
    pictures = []
    if "q" in seed:
        def wiring2():  # one panel per filter value of U over o, as wiring's (no edges to tangle)
            cells = np.size(seed["U"]) * np.size(seed["o"])
            if cells > MAX_CELLS:
                raise ValueError(f"{cells} cells in its panels are too many to look at (at most {MAX_CELLS})")
            return viz.draw_conv_wiring(seed["q"], seed["U"], seed["o"], pooled=seed["p"])
        pictures.append(("wiring2", wiring2, "a smaller --image or --conv2 draws it"))
    if followed is not None:
        pictures.append(("path", lambda: viz.draw_gradient_path(seed["L"], followed), "a smaller network draws it"))
    return pictures


# ---- the command ----

def focus_names(seed):
    """The names --focus accepts: the filter's, the outputs' and the image's Values (W11.., o11.., I11..)."""
    return {kind: [v.name for v in np.asarray(seed[key], dtype=object).flat]
            for kind, key in (("weight", "W"), ("output", "o"), ("input", "I"))}


def _check_focus(focus, seed, fail):
    """The keyword draw_conv_wiring takes for a --focus name, or one line naming the valid names, exit 2."""
    names = focus_names(seed)
    for kind, valid in names.items():
        if focus in valid:
            return kind
    listed = "; ".join(f"{valid[0]} .. {valid[-1]}" if len(valid) > 1 else valid[0] for valid in names.values())
    fail(f"--focus {focus!r} names nothing drawn; valid names are {listed}")


def _wiring(seed, args):
    """The panels (one input grid per weight; readable at every size explain accepts), or the --focus edges."""
    import viz
    pooled = None if "q" in seed else seed["p"]  # with --conv2 the pool reads the second conv's outputs
    if args.focus is None:
        (H, W), p = args.image, args.padding
        cells = np.size(seed["W"]) * (H + 2 * p) * (W + 2 * p)
        if cells > MAX_CELLS:
            first = np.asarray(seed["o"], dtype=object).flat[0].name
            raise ValueError(f"{np.size(seed['W'])} panels of {H + 2 * p}x{W + 2 * p} cells are too many to look at "
                             f"(at most {MAX_CELLS} cells); pass --focus {first} (or another output's or input "
                             f"pixel's name) to draw its edges")
        return viz.draw_conv_wiring(seed["o"], seed["W"], seed["I"], pooled=pooled, scale=args.scale)
    # a focus draws at most kh*kw edges (an output's window, a pixel's reach); a weight feeding many
    # outputs is drawn as its own panel, so every size explain accepts is drawn
    return viz.draw_conv_wiring(seed["o"], seed["W"], seed["I"], pooled=pooled, scale=args.scale,
                                **{args.focus_kind: args.focus})


def _pictures(args, seed):
    """(file name, a function drawing it or raising ValueError when it is too big, what to pass instead)."""
    import viz
    return [("graph", lambda: viz.draw_graph(seed["L"], max_nodes=args.max_nodes, scale=args.scale),
             "pass --max-nodes N to draw it anyway"),
            ("wiring", lambda: _wiring(seed, args), "pass --focus NAME to draw one weight, output or pixel")]


def run(args, fail):
    OH, OW = _check(args, fail)
    _check_network(args, fail, OH, OW)
    import graphviz
    try:  # a bad --out is found before anything is printed
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        fail(f"cannot write into --out {args.out!r}: {e.strerror or e}")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            seed = build_seed(args.image, args.filter, args.stride, args.padding, args.dilation, args.pool,
                              args.pool_size, args.target, args.image_values, args.filter_values,
                              **_network_options(args))
        except OverflowError:
            seed = None
    if seed is None or not _all_finite(seed):
        fail("the numbers overflow (a loss or gradient past the largest float); use smaller --target, "
             "--image-values or --filter-values")
    args.focus_kind = _check_focus(args.focus, seed, fail) if args.focus is not None else None
    import viz
    followed = _followed(args, seed, fail)
    print(_describe(args, seed) if not _network_options(args) else _describe_network(args, seed))
    print()
    print(viz.conv_equations(seed["o"], seed["W"], pooled=None if "q" in seed else seed["p"], inputs=seed["I"]))
    _print_network(args, seed, followed)
    written, notes = [], []
    for name, draw, instead in _pictures(args, seed) + _network_pictures(seed, followed):
        path = os.path.join(args.out, f"{name}.{args.format}")
        try:
            picture = draw()
        except ValueError as e:
            reason, _, own = str(e).partition("; ")
            notes.append(f"{name}.{args.format} skipped: {reason}; {own if own.startswith('pass --') else instead}")
            continue
        try:
            rendered = picture.pipe(format=args.format)
        except graphviz.ExecutableNotFound:
            fail("the Graphviz programs (dot, neato) are needed to draw pictures; install them "
                 "(apt-get install graphviz)")
        try:
            with open(path, "wb") as f:
                f.write(rendered)
        except OSError as e:
            fail(f"cannot write {path!r}: {e.strerror or e}")
        written.append(path)
    if args.html:  # the explorer page
        path = os.path.join(args.out, "explorer.html")
        try:
            viz.explore(seed["L"]).save(path)
        except OSError as e:
            fail(f"cannot write {path!r}: {e.strerror or e}")
        written.append(path)
    print()
    for note in notes:
        print(note)
    if written:
        print("wrote " + " and ".join(written))
    return 0
