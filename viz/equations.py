"""A conv's equations, read off the recorded graph, with the numbers the engine computed.

Forward, one line per output, as its `+` node (Value.sum) holds it:

    o11 = I11*W11 + I12*W12 + I21*W21 + I22*W22
        = 1*0.5 + 2*(-1) + 4*0.25 + 5*2 = 9.5

Backward, one line per weight: W11 is a factor of one product in every output,
so by the chain rule its gradient is what every output sends back through it,

    dL/dW11 = dL/do11*I11 + dL/do12*I12 + dL/do21*I21 + dL/do22*I22

and one line per input (each input meets the filter flipped). Then the two
patterns these lines make, checked with numpy on the numbers alone:
dL/dW = input (valid cross-correlation) dL/do, and dL/dI = dL/do (full
convolution) W.
"""
from fractions import Fraction

import numpy as np

from . import patterns
from .geometry import place_inputs, known_inputs
from .notebook import Equations
from .pooling import read_pool
from .text import number, signed, latex_name, latex_number
from .wiring import read_conv, input_name


class _Text:
    times, plus, eq, cont = "*", " + ", " = ", "    "

    def name(self, n):
        return n

    def num(self, x):
        return signed(x)

    def d(self, n):
        return f"dL/d{n}"

    def frac(self, f):
        return _fraction(f)

    def heading(self, text):
        return f"\n{text}"

    def note(self, text):
        return f"  {text}"

    def matrix(self, a):
        return "[" + "; ".join(" ".join(number(x) for x in row) for row in np.atleast_2d(a)) + "]"

    def line(self, lhs, parts):
        """lhs = parts[0], continued on aligned lines: `    = parts[1] = ...`."""
        pad = " " * len(lhs)
        out = [f"{lhs} = {parts[0]}"] + ([f"{pad} = " + " = ".join(parts[1:])] if parts[1:] else [])
        return "\n".join(out)


class _Latex(_Text):
    times, plus = r" \cdot ", " + "

    def name(self, n):
        return latex_name(n)

    def num(self, x):
        text = latex_number(x)
        return f"({text})" if text.startswith("-") else text

    def d(self, n):
        return r"\frac{\partial L}{\partial " + latex_name(n) + "}"

    def frac(self, f):
        text = _fraction(f)
        if "/" in text:
            top, bottom = text.split("/")
            return rf"\tfrac{{{top}}}{{{bottom}}}"
        return text

    def heading(self, text):
        return r"\\[4pt] &\textbf{" + _latex_text(text) + r"} \\"

    def note(self, text):
        return r"&\text{" + _latex_text(text) + r"} \\"

    def matrix(self, a):
        rows = [" & ".join(latex_number(x) for x in row) for row in np.atleast_2d(a)]
        return r"\begin{bmatrix}" + r" \\ ".join(rows) + r"\end{bmatrix}"

    def line(self, lhs, parts):
        rows = [f"{lhs} &= {parts[0]}"] + (["&= " + " = ".join(parts[1:])] if parts[1:] else [])
        return " \\\\\n".join(rows) + r" \\"


def _latex_text(text):
    return text.replace("\\", r"\textbackslash ").replace("{", r"\{").replace("}", r"\}").replace("_", r"\_") \
        .replace("&", r"\&").replace("%", r"\%").replace("#", r"\#").replace("$", r"\$")


def _fraction(f):
    """1/4 for 0.25, 1 for 1.0; the number itself when it is no simple fraction."""
    if f in (0.0, 1.0):
        return number(f)
    q = Fraction(f).limit_denominator(10_000)
    if q.numerator == 1 and float(q) == f:
        return f"1/{q.denominator}"
    return number(f)


def conv_equations(outputs, weights, form="text", pooled=None, inputs=None, gradients=None):
    """The forward and gradient equations of a scalar conv, symbols then numbers, read off the graph.

    outputs: the grid conv2d returned; weights: its filter grid.
    form: "text" (plain, for a terminal) or "latex" (an aligned environment).
    pooled: the pool's output, if a max or average pool follows the conv; its
        routing (max: all to the winner; average: 1/k^2 to each) is shown too.
    inputs: the input grid, optional; it only lets the checks say where
        each input sits in a strided conv whose windows do not overlap.
    gradients: show the backward part; by default, when backward() has run
        (some output or weight has a non-zero grad).

    Returns an `Equations`: a str of the chosen form that displays as LaTeX in
    a notebook (its `.latex` is always the LaTeX form).
    """
    if form not in ("text", "latex"):
        raise ValueError(f'form must be "text" or "latex", got {form!r}')
    reading = read_conv(outputs, weights)
    if gradients is None:
        gradients = any(o.grad != 0.0 for o in reading.outputs.flat) or \
            any(w.grad != 0.0 for w in reading.weights.flat)
    text = _write(_Text(), reading, pooled, outputs, inputs, gradients)
    latex = r"\begin{aligned}" + "\n" + _write(_Latex(), reading, pooled, outputs, inputs, gradients) + \
        "\n" + r"\end{aligned}"
    return Equations(text if form == "text" else latex, latex)


def _write(f, reading, pooled, outputs, inputs, gradients):
    lines = [f.heading("Forward: each output is one sum of input * weight products").lstrip("\n")]
    by_out = {}
    for t in reading.terms:
        by_out.setdefault(t.out, []).append(t)
    extras_of = {reading.outputs[index]: extras for index, extras in reading.extras.items()}
    for o in reading.outputs.flat:
        terms, extras = by_out.get(o, []), extras_of.get(o, [])
        symbols = [f"{f.name(input_name(t.x))}{f.times}{f.name(reading.weight_names[t.weight])}" for t in terms]
        symbols += [f.name(input_name(e)) for e in extras]
        numbers = [f"{f.num(t.x.data)}{f.times}{f.num(t.weight.data)}" for t in terms]
        numbers += [f.num(e.data) for e in extras]
        lines.append(f.line(f.name(reading.out_names[o]),
                            [f.plus.join(symbols), f.plus.join(numbers), f.num(o.data).strip("()")]))

    if pooled is not None:
        lines += _pool_lines(f, pooled, outputs, gradients)
    if not gradients:
        lines.append(f.note("(run backward() to see the gradient equations)"))
        return "\n".join(lines)

    lines.append(f.heading("Backward: W's gradient sums what every output sends back through it"))
    by_weight = {}
    for t in reading.terms:
        by_weight.setdefault(t.weight, []).append(t)
    for w in reading.weights.flat:
        terms = by_weight.get(w, [])
        wname = reading.weight_names[w]
        if not terms:
            lines.append(f.line(f.d(wname), ["0", "0"]))
            continue
        symbols = [f"{f.d(reading.out_names[t.out])}{f.times}{f.name(input_name(t.x))}" for t in terms]
        numbers = [f"{f.num(t.out.grad)}{f.times}{f.num(t.x.data)}" for t in terms]
        lines.append(f.line(f.d(wname), [f.plus.join(symbols), f.plus.join(numbers), f.num(w.grad).strip("()")]))
        share = sum(t.out.grad * t.x.data for t in terms)
        if not np.isclose(share, w.grad, rtol=1e-9, atol=1e-12):
            lines.append(f.note(f"(this conv sends {number(share)}; {wname} also gets gradient from elsewhere)"))

    bias = {}
    for o in reading.outputs.flat:
        for e in extras_of.get(o, []):
            bias.setdefault(e, []).append(o)
    for b, outs in bias.items():
        symbols = [f.d(reading.out_names[o]) for o in outs]
        lines.append(f.line(f.d(input_name(b)), [f.plus.join(symbols), f.plus.join(f.num(o.grad) for o in outs),
                                                  f.num(b.grad).strip("()")]))

    lines.append(f.heading("Backward: each input's gradient, from every output its pixel reached"))
    by_input = {}
    for t in reading.terms:
        by_input.setdefault(t.x, []).append(t)
    where = {}  # input -> (slice, row, col): list the inputs row by row, as the image reads
    for number_, (_, _, _, _, place) in enumerate(slices(reading, inputs)):
        for x, pos in place.positions.items():
            where.setdefault(x, (number_,) + pos)
    for x, terms in sorted(by_input.items(), key=lambda item: where.get(item[0], (0, 0, 0))):
        if _is_padding(x):
            continue
        symbols = [f"{f.d(reading.out_names[t.out])}{f.times}{f.name(reading.weight_names[t.weight])}" for t in terms]
        numbers = [f"{f.num(t.out.grad)}{f.times}{f.num(t.weight.data)}" for t in terms]
        lines.append(f.line(f.d(input_name(x)), [f.plus.join(symbols), f.plus.join(numbers),
                                                  f.num(x.grad).strip("()")]))

    lines += _pattern_lines(f, reading, inputs)
    return "\n".join(lines)


def _is_padding(x):
    return not x._prev and x.name in ("0", "-inf") and x.data in (0.0, -np.inf)


def _pool_lines(f, pooled, outputs, gradients):
    routes, names = read_pool(pooled, outputs)
    lines = [f.heading("Pooling: how the gradient reaches the conv outputs")]
    by_pool = {}
    for r in routes:
        by_pool.setdefault(r.pooled, []).append(r)
    for p, rs in by_pool.items():
        onames = [f.name(names[r.output]) for r in rs]
        if rs[0].kind == "max":
            winner = next(r for r in rs if r.fraction == 1.0)
            lines.append(f.line(f.name(names[p]), ["max(" + ", ".join(onames) + ")",
                                                   "max(" + ", ".join(f.num(r.output.data) for r in rs) + ")",
                                                   f.num(p.data).strip("()")]))
            equal = [r for r in rs if r.output.data == p.data]
            if len(equal) > 1:  # Value.max's rule: the first of the tied inputs takes it all
                lines.append(f.note(f"a tie: {', '.join(names[r.output] for r in equal)} are all the max; all of "
                                    f"dL/d{names[p]} goes to the first, {names[winner.output]}, the others get 0"))
            else:
                lines.append(f.note(f"{names[winner.output]} is the max, so all of dL/d{names[p]} goes to it; "
                                    "the others get 0"))
        else:
            n = _fraction(rs[0].fraction).replace("1/", "")
            lines.append(f.line(f.name(names[p]), ["(" + f.plus.join(onames) + f") / {n}",
                                                   "(" + f.plus.join(f.num(r.output.data) for r in rs) + f") / {n}",
                                                   f.num(p.data).strip("()")]))
            lines.append(f.note(f"each of the {n} outputs gets 1/{n} of dL/d{names[p]}"))
    if gradients:
        by_output = {}
        for r in routes:
            by_output.setdefault(r.output, []).append(r)
        for o, rs in by_output.items():
            symbols = [f"{f.d(names[r.pooled])}{f.times}{f.frac(r.fraction)}" for r in rs]
            numbers = [f"{f.num(r.pooled.grad)}{f.times}{f.frac(r.fraction)}" for r in rs]
            lines.append(f.line(f.d(names[o]), [f.plus.join(symbols), f.plus.join(numbers),
                                                f.num(o.grad).strip("()")]))
    return lines


def slices(reading, inputs=None):
    """One (n, k, c, terms, Placement) per batch element, output channel and weight channel."""
    N, K = reading.outputs.shape[:2]
    Cg = reading.weights.shape[1]
    for n in range(N):
        known, grid = known_inputs(inputs, n) if inputs is not None else (None, None)
        shape = None if grid is None else grid.shape[-2:]
        for k in range(K):
            for c in range(Cg):
                terms = reading.terms_of(n, k, c)
                if terms:
                    yield n, k, c, terms, place_inputs(terms, known, shape)


def check_patterns(reading, inputs=None):
    """numpy's dL/dW and dL/dx (from data and output grads alone) beside the engine's grads.

    Returns (dW_numpy, dW_engine, dx_numpy, dx_engine, placements): dW arrays
    shaped like the weights; dx as dicts input Value -> gradient.
    """
    dW = np.zeros(reading.weights.shape)
    dx = {}
    placements = []
    for n, k, c, terms, place in slices(reading, inputs):
        x_pad = np.zeros(place.extent)
        for x, pos in place.positions.items():
            x_pad[pos] = x.data
        g = np.array([[o.grad for o in row] for row in reading.outputs[n, k]])
        w = np.array([[v.data for v in row] for row in reading.weights[k, c]])
        dW[k, c] += patterns.weight_gradient(x_pad, g, place.stride, place.dilation, w.shape)
        dx_pad = patterns.input_gradient(g, w, place.stride, place.dilation)
        for x, pos in place.positions.items():
            dx[x] = dx.get(x, 0.0) + dx_pad[pos]
        placements.append((n, k, c, place))
    engine_dW = np.array([w.grad for w in reading.weights.flat]).reshape(reading.weights.shape)
    engine_dx = {x: x.grad for x in dx}
    return dW, engine_dW, dx, engine_dx, placements


def _close(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return bool(np.allclose(a, b, rtol=1e-9, atol=1e-12 * max(1.0, float(np.abs(b).max(initial=0.0)))))


def _pattern_lines(f, reading, inputs):
    dW, engine_dW, dx, engine_dx, placements = check_patterns(reading, inputs)
    stride, dilation = placements[0][3].stride, placements[0][3].dilation
    single = reading.outputs.shape[:2] == (1, 1) and reading.weights.shape[:2] == (1, 1)
    lines = [f.heading("The pattern, checked with numpy on the numbers alone")]
    holes = ""
    if stride != (1, 1):
        holes = f" (stride {_pair_text(stride)}: dL/do spread out, with stride-1 zeros - holes - between its entries)"
    taps = f" (dilation {_pair_text(dilation)}: filter taps {_pair_text(dilation)} apart)" if dilation != (1, 1) else ""

    ok_w = _close(dW, engine_dW)
    lines.append(f.note("dL/dW is the valid cross-correlation of the input with dL/do" + holes +
                        (f", read every {_pair_text(dilation)} places" if dilation != (1, 1) else "") + "."))
    if single:
        lines.append(f.line(r"\text{numpy}" if isinstance(f, _Latex) else "numpy ", [f.matrix(dW[0, 0])]))
        lines.append(f.line(r"\text{engine}" if isinstance(f, _Latex) else "engine", [f.matrix(engine_dW[0, 0])]))
    lines.append(f.note("check: " + ("holds" if ok_w else "DOES NOT HOLD") +
                        f" (largest difference {number(float(np.abs(dW - engine_dW).max(initial=0.0)))})"))

    xs = [x for x in dx]
    num_x = np.array([dx[x] for x in xs])
    eng_x = np.array([engine_dx[x] for x in xs])
    ok_x = _close(num_x, eng_x)
    lines.append(f.note("dL/dI is the full convolution of dL/do" + holes + " with the filter flipped "
                        "(rotated 180 degrees)" + taps + "."))
    if single:
        place = placements[0][3]
        grid = np.zeros(place.extent)
        engine_grid = np.zeros(place.extent)
        for x, pos in place.positions.items():
            grid[pos], engine_grid[pos] = dx[x], x.grad
        lines.append(f.line(r"\text{numpy}" if isinstance(f, _Latex) else "numpy ", [f.matrix(grid)]))
        lines.append(f.line(r"\text{engine}" if isinstance(f, _Latex) else "engine", [f.matrix(engine_grid)]))
        if any(_is_padding(x) for x in place.positions):
            lines.append(f.note("(these are the padded input's gradients: the border is the padding zeros')"))
    lines.append(f.note("check: " + ("holds" if ok_x else "DOES NOT HOLD") +
                        f" (largest difference {number(float(np.abs(num_x - eng_x).max(initial=0.0)))})"))
    if not (ok_w and ok_x):
        lines.append(f.note("(a difference means a weight or input is also used outside this conv, "
                            "or backward() has not run since the last change)"))
    return lines


def _pair_text(pair):
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"
