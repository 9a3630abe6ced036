"""`python -m tinygrad_conv worksheet`: conv problems to work by hand, and their answers worked by the engine.

Each problem is a small image I and filter W of whole numbers, a stride s and
padding P, an optional pool, and a loss that is a weighted sum

    o = conv2d(I, W, stride=s, padding=P)
    p = pool(o)                 (max or average over 2x2 windows; or p = o without a pool)
    L = sum_ij c_ij * p_ij      (the whole numbers c are given with the problem)

so dL/dp_ij = c_ij. In a network, dL/dp is whatever the layers after the conv
send back; here the c's stand in for them. They differ from place to place
(no global average, where every output gets the same share), so the answers
show each output's gradient weighting its own inputs:

    dL/dW[a,b] = sum_ij dL/do[i,j] * x[i*s + a, j*s + b]        (x: I with P rings of zeros)
    dL/dI      = the full correlation of dL/do (spread out by s) with the filter rotated 180 degrees

The answers are not computed from these formulas: each problem is built on
the scalar engine, backward() runs, and every line is read off the recorded
graph (viz.wiring.read_conv, viz.pooling.read_pool) with the engine's numbers.
The tests check them against the formulas and the Tensor engine.

Writes worksheet.md and worksheet.tex (the problems), answers.md and
answers.tex (worked answers, each gradient as its sum of terms) and
worksheet.json into --out. The same --seed gives the same files.
"""
import json
import os
import re
from dataclasses import dataclass

import numpy as np

from .explain import _at_least, _size
from .text import number, signed, latex_name, latex_number

HELP = "write a worksheet of conv-gradient problems to work by hand, with worked answers"
DESCRIPTION = ("Write worksheet.md/.tex (problems in small whole numbers: an image, a filter, a stride, a padding, "
               "a pool and a weighted loss), answers.md/.tex (every gradient worked as its sum of terms, by the "
               "scalar engine's backward()) and worksheet.json into --out. The same --seed gives the same files.")

IMAGE_NUMBERS = np.arange(-2, 5)               # -2 .. 4: small, mostly positive, like pixels
FILTER_NUMBERS = np.array([-2, -1, 0, 1, 2])
LOSS_WEIGHTS = np.array([-2, -1, 1, 2, 3])    # c = dL/dp: never 0, so every pooled value matters
MAX_SIDE = 6                                  # a larger image is no longer work for a pencil
MAX_PROBLEMS = 20
MAX_DRAWS = 20_000                            # problems drawn before giving up on one fit for hand work
POOL_WORDS = {"max": "max", "avg": "average", "none": "none"}


# ---- the problems ----

@dataclass
class Problem:
    image: np.ndarray      # (H, W) whole numbers
    filter: np.ndarray     # (kh, kw) whole numbers
    stride: int
    padding: int
    pool: str              # "max", "avg" or "none"
    window: tuple          # the pool's windows (kh, kw), or None without a pool
    pool_stride: tuple     # how far the windows move (down, across), or None without a pool
    weights: np.ndarray    # c, shaped like p (or o): L = sum c * p


def output_shape(image, filter, stride, padding):
    return tuple((n + 2 * padding - k) // stride + 1 for n, k in zip(image, filter))


def pool_window(conv_shape):
    """(window, stride) along each side of the conv output: 2-wide windows, side by side along an even side
    and overlapping (stride 1) along an odd one, so every output is in a window and no pool is global
    unless the output is 2 wide; a side of 1 keeps its one output."""
    window = tuple(min(2, n) for n in conv_shape)
    stride = tuple(2 if n % 2 == 0 else 1 for n in conv_shape)
    return window, stride


def make_problems(count, image=(3, 3), filter=(2, 2), stride=1, padding=0, pool="none", seed=0):
    """`count` problems drawn from np.random.default_rng(seed); the first k are the same for any count >= k."""
    reason = why_not(image, filter, stride, padding)
    if reason:
        raise ValueError(reason)
    rng = np.random.default_rng(seed)
    conv_shape = output_shape(image, filter, stride, padding)
    window, pool_stride = pool_window(conv_shape) if pool != "none" else (None, None)
    scored = conv_shape if window is None else \
        tuple((n - k) // s + 1 for n, k, s in zip(conv_shape, window, pool_stride))
    problems = []
    for _ in range(MAX_DRAWS):
        if len(problems) == count:
            return problems
        problem = Problem(rng.choice(IMAGE_NUMBERS, image), rng.choice(FILTER_NUMBERS, filter), stride, padding,
                          pool, window, pool_stride, rng.choice(LOSS_WEIGHTS, scored))
        if _fit_for_hand_work(problem):
            problems.append(problem)
    if len(problems) < count:
        raise ValueError(f"no {image[0]}x{image[1]} image and {filter[0]}x{filter[1]} filter without ties in a max "
                         f"pool came up in {MAX_DRAWS} draws; try --pool avg or other sizes")
    return problems


def _fit_for_hand_work(problem):
    """No all-zero filter, weights that are not all equal, and a max pool with one clear winner per window."""
    if not problem.filter.any() or not problem.image.any():
        return False
    if problem.weights.size > 1 and np.all(problem.weights == problem.weights.flat[0]):
        return False
    if problem.pool == "max":
        from tinygrad_conv.grid import data
        values = data(solve(problem)["o"])
        (kh, kw), (sh, sw) = problem.window, problem.pool_stride
        for i in range(0, values.shape[0] - kh + 1, sh):
            for j in range(0, values.shape[1] - kw + 1, sw):
                window = values[i:i + kh, j:j + kw]
                if np.count_nonzero(window == window.max()) > 1:
                    return False
    return True


def solve(problem):
    """The problem on the scalar engine, after backward(): a dict with I, W, o, p (o without a pool), L."""
    import tinygrad_conv as tc
    from tinygrad_conv import Value
    from tinygrad_conv import functional as F
    I = tc.values(problem.image.astype(float), name="I")
    W = tc.values(problem.filter.astype(float), name="W")
    o = F.conv2d(I, W, stride=problem.stride, padding=problem.padding)
    if problem.pool == "none":
        p = o
    else:
        p = (F.max_pool2d if problem.pool == "max" else F.avg_pool2d)(o, problem.window, problem.pool_stride)
    L = Value.sum([v * float(c) for v, c in zip(p.flat, problem.weights.flat)])
    L.name = "L"
    L.backward()
    return {"I": I, "W": W, "o": o, "p": p, "L": L}


def _plain(x):
    """A whole number as an int (3, not 3.0), so the JSON reads as the worksheet does."""
    x = float(x)
    return int(x) if x.is_integer() else x


def _plain_grid(array):
    return [[_plain(x) for x in row] for row in np.asarray(array, dtype=float)]


def as_json(problem, solved):
    """One problem in the contract's shape; the gradients are the engine's."""
    from tinygrad_conv.grid import grads
    return {"image": _plain_grid(problem.image), "filter": _plain_grid(problem.filter), "stride": problem.stride,
            "padding": problem.padding, "pool": problem.pool, "dL_do": _plain_grid(grads(solved["o"])),
            "dL_dW": _plain_grid(grads(solved["W"])), "dL_dI": _plain_grid(grads(solved["I"]))}


# ---- the worked answers, read off the graph ----
# An equation is lhs = kind(terms) over symbols, then the same over numbers, then its value. A term
# is a tuple of factors; a factor is ("name", "I11"), ("d", "o11") for dL/do11, ("frac", 0.25) or a number.

@dataclass
class Equation:
    lhs: tuple
    kind: str            # "sum", "max" or "mean"
    symbols: list
    numbers: list
    value: float
    note: str = ""


def worked(problem, solved):
    """The answer's sections: [(heading, [Equation, ...]), ...], every number the engine's."""
    from .pooling import read_pool
    from .wiring import read_conv, input_name
    I, W, o, p, L = (solved[k] for k in ("I", "W", "o", "p", "L"))
    reading = read_conv(o, W)
    wname, oname = reading.weight_names, reading.out_names
    sections = []

    forward = []
    for out in o.flat:
        terms = [t for t in reading.terms if t.out is out]
        forward.append(Equation(("name", oname[out]), "sum",
                                [(("name", input_name(t.x)), ("name", wname[t.weight])) for t in terms],
                                [(t.x.data, t.weight.data) for t in terms], out.data))
    sections.append(("The conv: each output is one sum of input times weight", forward))

    pooled = [] if problem.pool == "none" else read_pool(p, o)[0]
    if pooled:
        pool_lines = []
        for q in p.flat:
            routes = [r for r in pooled if r.pooled is q]
            kind = "max" if problem.pool == "max" else "mean"
            pool_lines.append(Equation(("name", q.name), kind, [(("name", oname[r.output]),) for r in routes],
                                       [(r.output.data,) for r in routes], q.data))
        sections.append((f"The pool: the {POOL_WORDS[problem.pool]} of each {_windows(problem)}", pool_lines))

    loss = Equation(("name", "L"), "sum", [(c, ("name", q.name)) for q, c in zip(p.flat, problem.weights.flat)],
                    [(c, q.data) for q, c in zip(p.flat, problem.weights.flat)], L.data)
    sections.append(("The loss: a weighted sum, so dL/d" + ("p" if pooled else "o") + " = c", [loss]))

    if pooled:
        spread = []
        for out in o.flat:
            routes = [r for r in pooled if r.output is out]
            # dL/do = dL/dp * dp/do: 1 for a max's winner and 0 for the rest, 1/k^2 for an average
            share = [((("d", r.pooled.name), ("frac", r.fraction)), (r.pooled.grad, ("frac", r.fraction)))
                     for r in routes]
            note = ""
            if problem.pool == "max":
                wins, windows = sum(r.fraction == 1.0 for r in routes), len(routes)
                if windows == 1:
                    note = "the max of its window" if wins else "not the max of its window: gets 0"
                else:
                    note = f"the max of {wins} of its {windows} windows" if wins else \
                        f"the max of none of its {windows} windows: gets 0"
            spread.append(Equation(("d", oname[out]), "sum", [s for s, _ in share], [n for _, n in share],
                                   out.grad, note))
        sections.append(("dL/do: the pool sends each dL/dp back to the outputs in its window", spread))

    by_weight = []
    for w in W.flat:
        terms = [t for t in reading.terms if t.weight is w]
        by_weight.append(Equation(("d", wname[w]), "sum",
                                  [(("d", oname[t.out]), ("name", input_name(t.x))) for t in terms],
                                  [(t.out.grad, t.x.data) for t in terms], w.grad))
    sections.append(("dL/dW: every output W_ab fed sends back its dL/do times the input W_ab multiplied there",
                     by_weight))

    by_input = []
    for x in I.flat:
        terms = [t for t in reading.terms if t.x is x]
        by_input.append(Equation(("d", x.name), "sum",
                                 [(("d", oname[t.out]), ("name", wname[t.weight])) for t in terms],
                                 [(t.out.grad, t.weight.data) for t in terms], x.grad,
                                 "" if terms else "no window covers this pixel"))
    sections.append(("dL/dI: every output a pixel reached sends back its dL/do times the weight it met", by_input))
    return sections


# ---- writing it out: Markdown and LaTeX ----

class Markdown:
    """Plain text for a terminal or GitHub: sums in code blocks, grids as tables, `$...$` prose made plain."""

    def factor(self, f):
        if isinstance(f, tuple):
            kind, x = f
            if kind == "name":
                return x
            if kind == "d":
                return f"dL/d{x}"
            return _fraction(x)
        return signed(f)

    def side(self, kind, terms):
        parts = ["*".join(self.factor(f) for f in term) for term in terms]
        if kind == "max":
            return "max(" + ", ".join(parts) + ")"
        if kind == "mean":
            return "(" + " + ".join(parts) + f") / {len(parts)}"
        return " + ".join(parts) if parts else "0"

    def equations(self, equations):
        lines = []
        for e in equations:
            lhs = self.factor(e.lhs)
            pad = " " * len(lhs)
            note = f"    ({e.note})" if e.note else ""
            if not e.symbols:
                lines.append(f"{lhs} = 0{note}")
                continue
            lines.append(f"{lhs} = {self.side(e.kind, e.symbols)}")
            lines.append(f"{pad} = {self.side(e.kind, e.numbers)} = {number(e.value)}{note}")
        return "```\n" + "\n".join(lines) + "\n```\n"

    def grid(self, name, array):
        array = np.asarray(array, dtype=float)
        head = f"| {name} | " + " | ".join(f"{j + 1}" for j in range(array.shape[1])) + " |"
        rule = "|---|" + "---:|" * array.shape[1]
        rows = [f"| **{i + 1}** | " + " | ".join(number(x) for x in r) + " |" for i, r in enumerate(array)]
        return "\n".join([head, rule] + rows) + "\n"

    def heading(self, text, level):
        return "#" * level + " " + text + "\n"

    def paragraph(self, text):
        return _markdown_math(text) + "\n"

    def items(self, items):
        return "\n".join(f"{n}. {_markdown_math(item)}" for n, item in enumerate(items, 1)) + "\n"

    def gradient_of(self, name):
        return f"dL/d{name}"

    def document(self, title, body):
        return f"# {title}\n\n" + "\n".join(body)


class Latex(Markdown):
    """A complete LaTeX document: sums in align*, wrapped; grids as bmatrix."""
    TERMS_PER_ROW = 5  # a long sum wraps, so a 3x3 filter's nine terms stay on the page

    def factor(self, f):
        if isinstance(f, tuple):
            kind, x = f
            if kind == "name":
                return latex_name(x)
            if kind == "d":
                return r"\frac{\partial L}{\partial " + latex_name(x) + "}"
            text = _fraction(x)
            return rf"\tfrac{{{text.split('/')[0]}}}{{{text.split('/')[1]}}}" if "/" in text else text
        text = latex_number(f)
        return f"({text})" if text.startswith("-") else text

    def rows(self, kind, terms):
        parts = [r" \cdot ".join(self.factor(f) for f in term) for term in terms]
        if kind == "mean":
            return [r"\tfrac{1}{" + str(len(parts)) + r"}\left(" + " + ".join(parts) + r"\right)"]
        if kind == "max":
            return [r"\max(" + ", ".join(parts) + ")"]
        if not parts:
            return ["0"]
        rows = -(-len(parts) // self.TERMS_PER_ROW)
        per_row = -(-len(parts) // rows)  # nine terms as 5 + 4, not 4 + 4 + 1
        chunks = [parts[i:i + per_row] for i in range(0, len(parts), per_row)]
        return [" + ".join(chunk) for chunk in chunks]

    def equations(self, equations):
        rows = []
        for e in equations:
            symbol_rows, number_rows = self.rows(e.kind, e.symbols), self.rows(e.kind, e.numbers)
            note = rf" && \text{{({_latex_text(e.note)})}}" if e.note else ""
            lhs = self.factor(e.lhs)
            if not e.symbols:
                rows.append(f"{lhs} &= 0{note}")
                continue
            first = True
            for r, chunk in enumerate(symbol_rows):
                rows.append((f"{lhs} &= " if first else "&\\quad + ") + chunk)
                first = False
            for r, chunk in enumerate(number_rows):
                end = f" = {latex_number(e.value)}{note}" if r == len(number_rows) - 1 else ""
                rows.append(("&= " if r == 0 else "&\\quad + ") + chunk + end)
        return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}\n"

    def grid(self, name, array):
        array = np.asarray(array, dtype=float)
        body = r" \\ ".join(" & ".join(latex_number(x) for x in r) for r in array)
        return rf"\[ {name} = \begin{{bmatrix}} {body} \end{{bmatrix}} \]" + "\n"

    def heading(self, text, level):
        command = {1: "section*", 2: "subsection*", 3: "subsubsection*"}[level]
        return f"\\{command}{{{_latex_text(text)}}}\n"

    def paragraph(self, text):
        return _latex_text(text, math=True) + "\n"

    def items(self, items):
        return "\\begin{enumerate}\n" + "\n".join(r"\item " + _latex_text(i, math=True) for i in items) + \
            "\n\\end{enumerate}\n"

    def gradient_of(self, name):
        return r"\frac{\partial L}{\partial " + name + "}"

    def document(self, title, body):
        return ("\\documentclass[11pt]{article}\n\\usepackage[a4paper,margin=2cm]{geometry}\n"
                "\\usepackage{amsmath}\n\\allowdisplaybreaks\n\\setlength{\\parindent}{0pt}\n\\setlength{\\parskip}{4pt}\n"
                f"\\title{{{_latex_text(title)}}}\n\\date{{}}\n\\begin{{document}}\n\\maketitle\n"
                + "\n".join(body) + "\n\\end{document}\n")


def _fraction(x):
    """1/4 for 0.25, 1 and 0 as numbers: the share of dL/dp an output gets."""
    from fractions import Fraction
    q = Fraction(float(x)).limit_denominator(100)
    return number(x) if q.denominator == 1 or float(q) != x else f"{q.numerator}/{q.denominator}"


def _latex_text(text, math=False):
    """Prose for LaTeX: its special characters escaped; with math=True, `$...$` spans are kept as math."""
    def escape(part):
        for a, b in (("\\", r"\textbackslash "), ("{", r"\{"), ("}", r"\}"), ("_", r"\_"), ("&", r"\&"),
                     ("%", r"\%"), ("#", r"\#"), ("^", r"\^{}"), ("~", r"\~{}"), ("`", "")):
            part = part.replace(a, b)
        return part
    if not math:
        return escape(text.replace("$", ""))
    pieces = text.split("$")
    return "".join(escape(piece) if n % 2 == 0 else f"${piece}$" for n, piece in enumerate(pieces))


# Prose used by both files: `$...$` is math in LaTeX and kept as plain text in Markdown.
WHAT_DL_DO_IS = (
    "The loss is a weighted sum, L = sum of $c_{ij} p_{ij}$, with the whole numbers c given in each problem "
    "(without a pool, p is o itself). So $dL/dp_{ij} = c_{ij}$. In a real network these numbers are whatever the "
    "layers after the conv send back: for a squared loss $(p - t)^2$ it would be $2(p - t)$, behind a dense layer "
    "a sum of its weights times their gradients. Here the c's stand in for the rest of the network. They differ "
    "from place to place, so you can see each output weight its own inputs: a filter value's gradient is the sum, "
    "over every output it fed, of that output's dL/do times the input it multiplied there.")


def _windows(problem):
    """'2x2 window of o (stride 2)', saying when windows overlap."""
    (kh, kw), (sh, sw) = problem.window, problem.pool_stride
    stride = f"stride {sh}" if sh == sw else f"stride {sh} down, {sw} across"
    overlap = ", so windows overlap" if (sh < kh or sw < kw) else ""
    return f"{kh}x{kw} window of o ({stride}{overlap})"


def _problem_title(n, problem):
    pool = "no pool" if problem.pool == "none" else f"{POOL_WORDS[problem.pool]} pool"
    return f"Problem {n}: stride {problem.stride}, padding {problem.padding}, {pool}"


def _tasks(problem):
    H, W = problem.image.shape
    kh, kw = problem.filter.shape
    OH, OW = output_shape((H, W), (kh, kw), problem.stride, problem.padding)
    tasks = []
    if problem.padding:
        tasks.append(f"Pad I with {problem.padding} ring(s) of zeros: x is {H + 2 * problem.padding}x"
                     f"{W + 2 * problem.padding}.")
    tasks.append(f"Compute the {OH}x{OW} conv output: $o_{{ij}}$ = sum over a, b of "
                 f"$x_{{(i-1)s+a,\\,(j-1)s+b}} W_{{ab}}$ (stride s = {problem.stride}).")
    scored = "o"
    if problem.pool != "none":
        tasks.append(f"Pool: p = the {POOL_WORDS[problem.pool]} of each {_windows(problem)}.")
        scored = "p"
    tasks.append(f"Compute L = sum of $c_{{ij}} {scored}_{{ij}}$.")
    if problem.pool != "none":
        tasks.append("Send $dL/dp = c$ back through the pool: find $dL/do_{ij}$ for every output (an output in "
                     "several windows adds what each sends).")
    else:
        tasks.append("Write down $dL/do_{ij}$ for every output.")
    tasks.append("Work out every $dL/dW_{ab}$ as a sum of terms, one per output that $W_{ab}$ fed.")
    tasks.append("Work out every $dL/dI_{ij}$ as a sum of terms, one per output that pixel reached.")
    return tasks


def _markdown_math(text):
    """LaTeX-ish prose as plain text: c_{ij} -> c_ij, x_{(i-1)s+a,\\,(j-1)s+b} -> x[(i-1)s+a, (j-1)s+b]."""
    text = text.replace("$", "").replace("\\,", " ")
    return re.sub(r"_\{([^}]*)\}", lambda m: "_" + m.group(1) if m.group(1).isalnum() else f"[{m.group(1)}]", text)


def write_worksheet(f, problems, seed):
    """The problems, in f's format (Markdown() or Latex()), with no answers."""
    body = [f.paragraph("Work each problem by hand, with a pencil. The answers, worked term by term, are in the "
                "answers file (made by the engine's backward()). Indices start at 1, as in o11, W12."),
            f.heading("What dL/do is here", 2), f.paragraph(WHAT_DL_DO_IS)]
    for n, problem in enumerate(problems, 1):
        body += [f.heading(_problem_title(n, problem), 2),
                 f.grid("I", problem.image), f.grid("W", problem.filter), f.grid("c", problem.weights),
                 f.items(_tasks(problem))]
    return f.document(f"Worksheet: how a conv filter gets its gradient (seed {seed})", body)


def write_answers(f, problems, solutions, seed):
    """The worked answers, in f's format, from the solved problems' recorded graphs."""
    from tinygrad_conv.grid import grads
    body = [f.paragraph("Every line below was read off the scalar engine's recorded graph after backward(): each gradient "
                "is the sum of its terms, symbols first, then the engine's numbers.")]
    for n, (problem, solved) in enumerate(zip(problems, solutions), 1):
        body += [f.heading(_problem_title(n, problem), 2), f.grid("I", problem.image), f.grid("W", problem.filter),
                 f.grid("c", problem.weights)]
        if problem.padding:
            x = np.pad(problem.image, problem.padding)
            body += [f.paragraph(f"x is I padded with {problem.padding} ring(s) of zeros (each zero is named 0 below):"),
                     f.grid("x", x)]
        for heading, equations in worked(problem, solved):
            body += [f.heading(heading, 3), f.equations(equations)]
        body += [f.heading("In grids", 3)] + [f.grid(f.gradient_of(name), grads(solved[name])) for name in "oWI"]
    return f.document(f"Answers: how a conv filter gets its gradient (seed {seed})", body)


# ---- the command ----

def add_arguments(worksheet):
    worksheet.add_argument("--image", type=_size, default=(3, 3), metavar="HxW", help="image size (default 3x3)")
    worksheet.add_argument("--filter", type=_size, default=(2, 2), metavar="HxW", help="filter size (default 2x2)")
    worksheet.add_argument("--stride", type=_at_least(1), default=1, metavar="S", help="stride (default 1)")
    worksheet.add_argument("--padding", type=_at_least(0), default=0, metavar="P", help="zero padding (default 0)")
    worksheet.add_argument("--pool", choices=("avg", "max", "none"), default="none",
                           help="pool the conv output in 2x2 windows (stride 2 along an even side, 1 along an "
                                "odd one), then the weighted loss; default none: the loss weights the conv outputs")
    worksheet.add_argument("--problems", type=_at_least(1), default=3, metavar="N",
                           help=f"how many problems (default 3, at most {MAX_PROBLEMS})")
    worksheet.add_argument("--seed", type=_at_least(0), default=0, metavar="S",
                           help="the random seed: the same seed gives the same worksheet (default 0)")
    worksheet.add_argument("--out", default="out", metavar="DIR", help="where to write the files (default out/)")


def why_not(image, filter, stride, padding):
    """Why these sizes make no worksheet problem (a sentence), or None when they do."""
    (H, W), (kh, kw), s, p = image, filter, stride, padding
    if max(H, W) > MAX_SIDE:
        return f"--image {H}x{W} is too big to work by hand; at most {MAX_SIDE}x{MAX_SIDE}"
    if p >= max(kh, kw):
        return (f"--padding {p} would make outputs of padding zeros only; a {kh}x{kw} filter takes at most "
                f"{max(kh, kw) - 1}")
    if kh > H + 2 * p or kw > W + 2 * p:
        return f"the {kh}x{kw} filter does not fit the {H}x{W} image with padding {p}"
    for n, k, side in ((H, kh, "row"), (W, kw, "column")):
        # output i reads padded positions s*i .. s*i + k - 1; the image sits at p .. p + n - 1
        for i in range((n + 2 * p - k) // s + 1):
            if s * i + k - 1 < p or s * i >= p + n:
                return (f"with stride {s} and padding {p}, output {side} {i + 1} reads only padding zeros; "
                        "use less --padding or another --stride")
    return None


def _check(args, fail):
    reason = why_not(args.image, args.filter, args.stride, args.padding)
    if reason:
        fail(reason)
    if args.problems > MAX_PROBLEMS:
        fail(f"--problems {args.problems}: at most {MAX_PROBLEMS}")
    if args.seed >= 2 ** 63:
        fail(f"--seed {args.seed}: at most {2 ** 63 - 1}")


def write_all(out, problems, seed):
    """Every file, as {file name: text}, then written into `out`."""
    solutions = [solve(problem) for problem in problems]
    files = {"worksheet.md": write_worksheet(Markdown(), problems, seed),
             "worksheet.tex": write_worksheet(Latex(), problems, seed),
             "answers.md": write_answers(Markdown(), problems, solutions, seed),
             "answers.tex": write_answers(Latex(), problems, solutions, seed),
             "worksheet.json": json.dumps({"problems": [as_json(pr, so) for pr, so in zip(problems, solutions)]},
                                          indent=1) + "\n"}
    for name, text in files.items():
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            f.write(text)
    return files


def run(args, fail):
    _check(args, fail)
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        fail(f"cannot write into --out {args.out!r}: {e.strerror or e}")
    try:
        problems = make_problems(args.problems, args.image, args.filter, args.stride, args.padding, args.pool,
                                 args.seed)
    except ValueError as e:
        fail(str(e))
    try:
        files = write_all(args.out, problems, args.seed)
    except OSError as e:
        fail(f"cannot write into --out {args.out!r}: {e.strerror or e}")
    print(f"{len(problems)} problem{'s' if len(problems) > 1 else ''} (seed {args.seed}); wrote "
          + ", ".join(os.path.join(args.out, name) for name in files))
    return 0
