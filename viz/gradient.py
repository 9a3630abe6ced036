"""One Value's gradient as the chain rule writes it: one term per use, read off the recorded graph.

A Value v reaches the loss L through every Value u computed from it, so

    dL/dv = sum over the uses of v of  du/dv * dL/du

For a conv output under a dense layer z = V o that reads

    dL/do11 = V11*dL/dz1 + V21*dL/dz2 + V31*dL/dz3
            = 0.5*1.2 + (-1)*0.3 + 2*2.1
            = 4.5

and for a filter value, one term per output it helped make (I11*dL/do11 + ...).

Values the engine made along the way and nobody named (the product I11*W11 inside
a conv's sum, the (z1 - 1) inside a squared loss) are followed through when they
have a single use: their local derivatives multiply into the term, so the term
names the next Value a learner knows (o11, z1) or the loss itself. An unnamed Value
used more than once is a real fork; it is written out by what it is (relu(o11)).

`gradient_path(loss, v)` follows the largest term of each equation from v up to
the loss, and lists the equations from the loss down: the path a learner traces
by hand. `draw_gradient_path` draws it.

Only the recorded graph is read (`_prev`, `_local`, `_op`, `name`, `data`, `grad`);
nothing is recomputed but the sums that are printed.
"""
import math
from dataclasses import dataclass

import graphviz

from tinygrad_conv.grid import parse_name
from tinygrad_conv.value import NO_PATH, Value
from .notebook import Equations
from .text import label, latex_name, latex_number, number, signed

MAX_LABEL_DEPTH = 3   # an unnamed Value is written out this many ops deep, then as (...)
MAX_SUM_TERMS = 3     # a longer unnamed sum is written (a + b + ... + z)
MAX_PATHS = 16        # an unnamed fork is followed along each use while the equation keeps this many terms


@dataclass(frozen=True)
class Factor:
    """One factor of a local derivative: how it is written (text and LaTeX) and its number."""
    text: str
    latex: str
    value: float


@dataclass(frozen=True)
class Term:
    """One use of v: the Value `target` it reaches (a named one, a fork, or the loss), the local
    derivatives multiplied on the way (`factors`, `local`), dL/dtarget, and their product."""
    target: Value
    factors: tuple
    local: float       # d(target)/dv along this use: the product of the engine's local derivatives
    upstream: float    # dL/dtarget, as backward() left it
    value: float       # local * upstream (0 when a relu or max on the way passes nothing)
    chain: tuple       # the Values passed through, v's user first, target last


class GradientEquation(Equations):
    """dL/dv as text (the str itself) with its LaTeX twin; `.terms`, `.total` and `.grad` hold the numbers."""

    def __new__(cls, text, latex, value, terms, total):
        self = super().__new__(cls, text, latex)
        self.value, self.terms, self.total, self.grad = value, tuple(terms), total, value.grad
        return self


class GradientPath(Equations):
    """The equations from the loss down to v, one per hop; `.path` is [loss, ..., v], `.equations` theirs."""

    def __new__(cls, text, latex, path, equations):
        self = super().__new__(cls, text, latex)
        self.path, self.equations = tuple(path), tuple(equations)
        return self


# ---- reading the graph ---------------------------------------------------------------------

def _uses(loss):
    """{Value: [(user, position of the Value among user's inputs), ...]} for every Value loss depends on,
    users in the order the forward pass made them (an iterative post-order walk, inputs first)."""
    order, seen = [], {loss}
    stack = [(loss, iter(loss._prev))]
    while stack:
        node, inputs = stack[-1]
        for child in inputs:
            if child not in seen:
                seen.add(child)
                stack.append((child, iter(child._prev)))
                break
        else:
            stack.pop()
            order.append(node)
    uses = {v: [] for v in order}
    for user in order:
        for position, child in enumerate(user._prev):
            uses[child].append((user, position))
    return uses


def _check(loss, v, uses):
    if type(loss) is not Value:
        raise TypeError(f"the loss must be a Value (the scalar engine's result), got {type(loss).__name__}")
    if type(v) is not Value:
        raise TypeError(f"v must be a Value of the loss's graph, got {type(v).__name__}")
    if v not in uses:
        raise ValueError(f"{v!r} is not in the loss's recorded graph (the loss was not computed from it)")


def _terms(loss, v, uses, forms):
    """One Term per use of v, following unnamed Values through to the next named one (or the loss).

    An unnamed Value with one use is always followed. One with several uses (a fork, such as a
    softmax's shifted logit) is followed along each of them when that keeps the equation at
    most MAX_PATHS terms; otherwise the term stops there and names it by what it is.
    """
    expand = _paths(v, loss, uses, MAX_PATHS + 1, True) <= MAX_PATHS
    terms = []
    # depth first over (node, input position, factors so far, local so far, a dead link on the way, chain)
    stack = [(user, position, (), 1.0, False, ()) for user, position in reversed(uses[v])]
    while stack:
        node, at, factors, local, dead, chain = stack.pop()
        d = node._local[at]
        factors = factors + tuple(_local_factors(node, at, loss, forms))
        local, dead, chain = local * d, dead or d is NO_PATH, chain + (node,)
        if _stops(node, loss, uses, expand):
            upstream = 1.0 if node is loss else node.grad
            terms.append(Term(node, factors, local, upstream, 0.0 if dead else local * upstream, chain))
        else:
            stack += [(user, position, factors, local, dead, chain) for user, position in reversed(uses[node])]
    return _in_grid_order(terms)


def _in_grid_order(terms):
    """Terms whose targets are elements of one grid, in the grid's order (o11, o12, o21, ...).

    The walk meets a conv's outputs window by window of the layer above; a learner reads them row
    by row. Grids keep the place of their first term; other terms stay where they are.
    """
    first, keys = {}, []
    for i, t in enumerate(terms):
        parsed = parse_name(t.target.name) if t.target.name else None
        grid, index = parsed if parsed else (i, ())
        keys.append((first.setdefault(grid, i), index, i))
    return [t for _, t in sorted(zip(keys, terms), key=lambda pair: pair[0])]


def _stops(node, loss, uses, expand):
    """A term ends at the loss, at a named Value, and at an unnamed fork unless forks are followed."""
    return node is loss or bool(node.name) or not uses[node] or (len(uses[node]) > 1 and not expand)


def _paths(v, loss, uses, limit, expand):
    """How many terms v's equation has when forks are followed (counting stops past `limit`)."""
    count, stack = 0, [user for user, _ in uses[v]]
    while stack and count <= limit:
        node = stack.pop()
        if _stops(node, loss, uses, expand):
            count += 1
        else:
            stack += [user for user, _ in uses[node]]
    return count


# ---- writing Values and local derivatives, in text and LaTeX -------------------------------

class _TextForm:
    latex = False

    def name(self, n):
        return n

    def num(self, x):
        return signed(x)

    def fn(self, f, args):
        return f"{f}({_unbracket(args)})"

    def power(self, base, n):
        return f"{base}**{n}"

    def frac(self, top, bottom):
        return f"{top}/{bottom}"

    def prime(self, f, arg):
        return f"{f}'({_unbracket(arg)})"

    def d(self, who):
        return f"dL/d{who}" if _plain(who) else f"dL/d[{who}]"

    times, plus, dots = "*", " + ", "..."


class _LatexForm(_TextForm):
    latex = True

    def name(self, n):
        return n if len(n) == 1 and n.isalpha() else latex_name(n)

    def num(self, x):
        text = latex_number(x)
        return f"({text})" if text.startswith("-") else text

    def fn(self, f, args):
        return rf"\mathrm{{{f}}}({_unbracket(args)})"

    def power(self, base, n):
        return f"{{{base}}}^{{{n}}}"

    def frac(self, top, bottom):
        return rf"\tfrac{{{_unbracket(top)}}}{{{_unbracket(bottom)}}}"

    def prime(self, f, arg):
        return rf"\mathrm{{{f}}}'({_unbracket(arg)})"

    def d(self, who):
        return r"\frac{\partial L}{\partial " + who + "}"

    times, plus, dots = r" \cdot ", " + ", r"\dots"


_FORMS = (_TextForm(), _LatexForm())


def _plain(text):
    return all(ch.isalnum() or ch in "[],_" for ch in text)


def _describe(node, loss, f, depth=0):
    """How a Value is called: the loss L, its name, its number (an unnamed leaf), or what it is."""
    if node is loss:
        return "L"
    if node.name:
        return f.name(node.name)
    if not node._prev:
        return (f.num(node.data) if depth else f.num(node.data).strip("()")) if not f.latex \
            else (f.num(node.data) if depth else latex_number(node.data))
    if depth >= MAX_LABEL_DEPTH:
        return "(" + f.dots + ")"
    args = [_describe(child, loss, f, depth + 1) for child in node._prev]
    op = node._op
    if op == "+":
        if len(args) > MAX_SUM_TERMS:
            args = args[:2] + [f.dots, args[-1]]
        return "(" + f.plus.join(args) + ")"
    if op == "-":
        return f"({args[0]} - {args[1]})"
    if op == "*":
        return f.times.join(args)
    if op == "/":
        return f.frac(*args) if f.latex else f"{args[0]}/{args[1]}"
    if op.startswith("**"):
        return f.power(args[0], op[2:] if len(args) == 1 else args[1])
    if op == "neg":
        return f"-{args[0]}"
    if op == "max" and len(args) > MAX_SUM_TERMS:
        args = args[:2] + [f.dots, args[-1]]
    return f.fn(op, ", ".join(_unbracket(a) for a in args))


def _unbracket(text):
    """(a - b) as a function's argument: a - b (only when the brackets enclose the whole)."""
    if not (text.startswith("(") and text.endswith(")")):
        return text
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and i < len(text) - 1:
            return text
    return text[1:-1]


def _local_factors(node, at, loss, forms):
    """d(node)/d(its input number `at`), as the factors a learner writes (nothing for a 1)."""
    child, d = node._prev[at], node._local[at]
    op = node._op

    def factor(make, value):
        return Factor(make(forms[0]), make(forms[1]), value)

    def of(f, which=child):
        return _describe(which, loss, f)

    if op == "+" or (op == "-" and at == 0) or op == "**1":
        return []
    if op in ("-", "neg"):
        return [factor(lambda f: "-1", -1.0)]
    if op == "*":
        other = node._prev[1 - at]
        return [factor(lambda f: of(f, other), other.data)]
    if op == "/":
        a, b = node._prev
        if at == 0:
            return [factor(lambda f: f.frac("1", of(f, b)), d)]
        return [factor(lambda f: "-" + f.frac(of(f, a), f.power(of(f, b), 2)), d)]
    if op.startswith("**") and len(node._prev) == 1:
        n = op[2:]
        rest = float(n) - 1.0
        base = factor(lambda f: of(f) if rest == 1.0 else f.power(of(f), number(rest)),
                      child.data ** rest if child.data or rest > 0 else d)
        return [factor(lambda f: n, float(n)), base]
    if op == "relu":
        return [factor(lambda f: f.prime("relu", of(f)), d)]
    if op == "max":
        return [] if d == 1.0 else [factor(lambda f: "0", 0.0)]
    if op == "exp":
        return [factor(lambda f: f.fn("exp", of(f)), d)]
    if op == "log":
        return [factor(lambda f: f.frac("1", of(f)), d)]
    if op == "tanh":
        return [factor(lambda f: "(1 - " + f.power(f.fn("tanh", of(f)), 2) + ")", d)]
    if op == "sigmoid":
        return [factor(lambda f: f.fn("sigmoid", of(f)) + f.times + "(1 - " + f.fn("sigmoid", of(f)) + ")", d)]
    # anything else (a Value exponent): the derivative by its name
    return [factor(lambda f: f.fn("d", _describe(node, loss, f) + "/d" + of(f)), d)]


def _wrap(text):
    """A factor inside a product: a sum, difference or quotient (outside any brackets) in brackets."""
    depth, inner = 0, text[1:] if text.startswith("-") else text
    for i, ch in enumerate(inner):
        depth += ch in "({"
        depth -= ch in ")}"
        if depth == 0 and (inner.startswith((" + ", " - "), i) or ch == "/"):
            return f"({text})"
    return text


def _signed_parts(term, loss, f, numbers):
    """(sign, text) of one term: its factors then dL/dtarget (left out when the target is the loss:
    dL/dL = 1). Each -1 (a minus, a negation) flips the sign instead of being written, and a
    number that is exactly 1 (the mean over a batch of one) is left out."""
    sign, parts = 1, []
    for factor in term.factors:
        if factor.text == "-1":
            sign = -sign
            continue
        if factor.value == 1.0 and not any(ch.isalpha() for ch in factor.text):
            continue  # 1, 1/1
        if numbers:
            parts.append(f.num(factor.value))
        else:
            parts.append(_wrap(factor.latex if f.latex else factor.text))
    if term.target is not loss:
        parts.append(f.num(term.upstream) if numbers else f.d(_describe(term.target, loss, f)))
    if not parts:
        parts.append("1")
    return sign, f.times.join(parts)


def _term_text(term, loss, f, numbers):
    sign, text = _signed_parts(term, loss, f, numbers)
    return text if sign > 0 else "-" + text


def _join(signed_parts, f):
    """a + b - c: each term's sign as the operator before it."""
    out = ""
    for i, (sign, text) in enumerate(signed_parts):
        if i == 0:
            out = text if sign > 0 else "-" + text
        else:
            out += (f.plus if sign > 0 else " - ") + text
    return out


def _shown(terms, max_terms):
    """The terms to write out: all, or the max_terms largest (in their order) and what the rest add up to."""
    if max_terms is None or len(terms) <= max_terms:
        return terms, []
    keep = sorted(range(len(terms)), key=lambda i: -abs(terms[i].value) if not math.isnan(terms[i].value)
                  else -math.inf)[:max_terms]
    keep = set(keep)
    return [t for i, t in enumerate(terms) if i in keep], [t for i, t in enumerate(terms) if i not in keep]


def _equation(loss, v, terms, f, max_terms, total):
    lhs = f.d(_describe(v, loss, f))
    if v is loss:
        symbols, numbers = ["1"], []
    elif not terms:
        symbols, numbers = ["0"], []
    else:
        shown, rest = _shown(terms, max_terms)
        symbols = [_signed_parts(t, loss, f, False) for t in shown]
        numbers = [_signed_parts(t, loss, f, True) for t in shown]
        if rest:
            more = f"({len(rest)} more terms)" if not f.latex else rf"\text{{({len(rest)} more terms)}}"
            symbols.append((1, more))
            numbers.append((1, f.num(math.fsum(t.value for t in rest))))
        symbols, numbers = _join(symbols, f), _join(numbers, f)
    rows = [symbols if isinstance(symbols, str) else symbols[0]]
    if numbers:
        rows.append(numbers)
    rows.append(f.num(v.grad).strip("()") if not f.latex else latex_number(v.grad))
    if len(rows) == 3 and rows[1].strip("()") == rows[2]:  # dL/dp11 = (-0.5) = -0.5: once is enough
        del rows[1]
    if rows[-1] == rows[0]:
        rows.pop()
    if f.latex:
        return " \\\\\n".join([f"{lhs} &= {rows[0]}"] + [f"&= {r}" for r in rows[1:]])
    pad = " " * len(lhs)
    lines = [f"{lhs} = {rows[0]}"] + [f"{pad} = {r}" for r in rows[1:]]
    if v is not loss and terms and not _close(total, v.grad):
        lines.append(f"{pad}   (the terms add up to {number(total)}; v.grad is {number(v.grad)}: run "
                     "zero_grad() and backward() once, or v is used outside this loss)")
    return "\n".join(lines)


def _close(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12 * max(1.0, abs(b)))


def _build(loss, v, uses, max_terms):
    terms = [] if v is loss else _terms(loss, v, uses, _FORMS)
    total = 1.0 if v is loss else math.fsum(t.value for t in terms) if all(
        math.isfinite(t.value) for t in terms) else sum(t.value for t in terms)
    text = _equation(loss, v, terms, _FORMS[0], max_terms, total)
    latex = _equation(loss, v, terms, _FORMS[1], max_terms, total)
    return GradientEquation(text, latex, v, terms, total), latex


def gradient_equation(loss, v, form="text", max_terms=None):
    """dL/dv as the chain rule writes it: one term per use of v, du/dv * dL/du, names then numbers,
    ending in v.grad (run loss.backward() first).

        dL/do11 = V11*dL/dz1 + V21*dL/dz2 + V31*dL/dz3
                = 0.5*1.2 + (-1)*0.3 + 2*2.1
                = 4.5

    loss: the Value backward() ran from; v: any Value it was computed from (or the loss).
    form: "text" or "latex" (an aligned block). max_terms: write out only that many terms (the
    largest), and what the others add up to. Returns a `GradientEquation`: a str of the chosen form
    that shows as LaTeX in a notebook, with `.terms` (one `Term` per use), `.total` and `.grad`.
    """
    if form not in ("text", "latex"):
        raise ValueError(f'form must be "text" or "latex", got {form!r}')
    if max_terms is not None and (not isinstance(max_terms, int) or max_terms < 1):
        raise ValueError(f"max_terms must be a positive int or None, got {max_terms!r}")
    uses = _uses(loss) if type(loss) is Value else {}
    _check(loss, v, uses)
    equation, latex = _build(loss, v, uses, max_terms)
    block = r"\begin{aligned}" + "\n" + latex + "\n" + r"\end{aligned}"
    return GradientEquation(str(equation) if form == "text" else block, block, v, equation.terms, equation.total)


def path_to_loss(loss, v):
    """[loss, ..., v]: from v, the term of largest size each time (the first, on ties), up to the loss."""
    uses = _uses(loss) if type(loss) is Value else {}
    _check(loss, v, uses)
    return _path(loss, v, uses)


def _path(loss, v, uses):
    path, node = [v], v
    while node is not loss:
        terms = _terms(loss, node, uses, _FORMS)
        if not terms:
            break
        best = max(terms, key=lambda t: abs(t.value) if not math.isnan(t.value) else math.inf)
        node = best.target
        path.append(node)
    return path[::-1]


def gradient_path(loss, v, form="text", max_terms=8):
    """The chain from the loss down to v, one gradient equation per hop, top first.

    From v the largest term is followed up to the Value it reaches, and from there again, until
    the loss: for a first-layer filter value that is L <- z <- p <- r2 <- o2 <- r <- o <- W. The
    equations are then listed from the loss down, each using the one before, as a learner works
    them by hand. Each names the term the path goes on through. max_terms: as in gradient_equation.
    Returns a `GradientPath` (a str of the chosen form; `.path`, `.equations`).
    """
    if form not in ("text", "latex"):
        raise ValueError(f'form must be "text" or "latex", got {form!r}')
    uses = _uses(loss) if type(loss) is Value else {}
    _check(loss, v, uses)
    path = _path(loss, v, uses)
    equations, text, latex = [], [], []
    steps = len(path) - 1
    for step, (above, node) in enumerate(zip(path, path[1:]), 1):
        equation, eq_latex = _build(loss, node, uses, max_terms)
        equations.append(equation)
        via = next((t for t in equation.terms if t.target is above), None)
        uses_ = len(equation.terms)
        head = (f"step {step} of {steps}, from {_describe(above, loss, _FORMS[0])} down to "
                f"{_describe(node, loss, _FORMS[0])} ({uses_} use{'s' if uses_ != 1 else ''}"
                + (f"; the term through {_describe(above, loss, _FORMS[0])} is {number(via.value)}"
                   if via is not None and uses_ > 1 else "") + "):")
        text += [head, str(equation), ""]
        latex += [r"&\text{" + head.replace("_", r"\_").replace("%", r"\%").replace("#", r"\#")
                  .replace("&", r"\&") + r"} \\", eq_latex + r" \\[6pt]"]
    block = r"\begin{aligned}" + "\n" + "\n".join(latex) + "\n" + r"\end{aligned}"
    return GradientPath("\n".join(text).rstrip() if form == "text" else block, block, path, equations)


def draw_gradient_path(loss, v, max_others=3):
    """A graphviz.Digraph of the path from the loss down to v, drawn top to bottom as the gradient flows.

    Each Value on the path is a box (name; data, grad). Each arrow is one hop, labelled with its
    term: the local derivative times dL/du above, and their product. Beside each Value a note lists
    what its other uses add, so its grad reads as the sum of the terms shown.
    """
    uses = _uses(loss) if type(loss) is Value else {}
    _check(loss, v, uses)
    path = _path(loss, v, uses)  # loss first
    dot = graphviz.Digraph(graph_attr={"rankdir": "TB", "nodesep": "0.4", "ranksep": "0.45"},
                           node_attr={"fontname": "Helvetica", "fontsize": "12"},
                           edge_attr={"fontname": "Helvetica", "fontsize": "11"})
    target = _describe(v, loss, _FORMS[0])
    dot.attr(label=label(f"How dL/d{target} is made, from the loss down",
                         "each red arrow is one term: the local derivative times the gradient above it;",
                         "a grey note lists the other terms of that Value's sum (its other uses)"),
             labelloc="t", fontname="Helvetica", fontsize="13")
    ids = {node: f"n{i}" for i, node in enumerate(path)}
    for node in path:
        name = _describe(node, loss, _FORMS[0])
        fill = "#fde8e8" if node is v else ("#e8f0fe" if node is loss else "#ffffff")
        dot.node(ids[node], label(name, f"data {number(node.data)}   grad {number(node.grad)}"),
                 shape="box", style="rounded,filled", fillcolor=fill)
    for i, (above, node) in enumerate(zip(path, path[1:])):
        terms = _terms(loss, node, uses, _FORMS)
        via = next(t for t in terms if t.target is above)
        symbols = _term_text(via, loss, _FORMS[0], False)
        if len(symbols) > 48:  # a softmax's long local derivative: its number says enough
            symbols = "local derivative" + (f" * dL/d{_describe(above, loss, _FORMS[0])}" if above is not loss
                                            else " (see its equation)")
        numbers = _term_text(via, loss, _FORMS[0], True)
        lines = [symbols] + ([f"= {numbers}"] if numbers not in (symbols, signed(via.value)) else []) \
            + [f"= {number(via.value)}"]
        dot.edge(ids[above], ids[node], label=label(*lines),
                 color="#c0392b", fontcolor="#c0392b", penwidth="2")
        others = [t for t in terms if t is not via]
        if others:
            ranked = sorted(others, key=lambda t: -abs(t.value) if not math.isnan(t.value) else -math.inf)
            lines = []
            for t in ranked[:max_others]:
                text = _term_text(t, loss, _FORMS[0], False)
                lines.append((text if len(text) <= 48 else "another use") + f" = {number(t.value)}")
            if len(others) > max_others:
                lines.append(f"... and {len(others) - max_others} more")
            lines.append(f"{len(others)} other use{'s' if len(others) > 1 else ''} add "
                         f"{number(math.fsum(t.value for t in others))}")
            with dot.subgraph() as row:
                row.attr(rank="same")
                row.node(f"note{i}", label(*lines), shape="note", fontsize="10", color="#999999",
                         fontcolor="#555555")
                row.edge(ids[node], f"note{i}", style="dashed", color="#999999", arrowhead="none")
    return dot
