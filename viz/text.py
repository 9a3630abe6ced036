"""How numbers and names are written in pictures and equations.

One place decides this so the graph, the wiring picture and the equations
print the same Value the same way:

    number(0.1 + 0.2) == "0.3"      (6 significant digits: compact, and exact
                                      for the small decimals a learner types)
    escape("a|b")     == "a\\|b"    (safe inside a Graphviz record or label)
    latex_name("W12") == "W_{12}"
"""
import re

import graphviz

_SPECIAL = set('\\{}|<>" ')


def number(x, digits=6):
    """x with 6 (or `digits`) significant digits, no trailing zeros: 3.5, -0.25, 1e-07, inf."""
    text = f"{x:.{digits}g}"
    return "0" if text == "-0" else text


def signed(x, digits=6):
    """A factor inside a product: negatives in brackets, so `2*(-1)` reads unambiguously."""
    text = number(x, digits)
    return f"({text})" if text.startswith("-") else text


def escape(text):
    """text made literal inside a Graphviz label, record fields included.

    Records give `| { } < >` a meaning and DOT strings give `\\` and `"` one;
    each is preceded by a backslash, spaces too (records would otherwise
    squeeze them), and newlines become Graphviz's `\\n`.
    """
    out = []
    for ch in str(text):
        if ch in _SPECIAL:
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        else:
            out.append(ch)
    return graphviz.nohtml("".join(out))


def label(*lines):
    """Several escaped lines as one Graphviz label."""
    return graphviz.nohtml("\\n".join(escape(line) for line in lines))


_TEXTBOOK = re.compile(r"^([A-Za-z]+)(\d+)$")
_BRACKETED = re.compile(r"^([A-Za-z]+)\[([\d,]+)\]$")
_LAYER = re.compile(r"^([A-Za-z]+)(\d+)\[([\d,]+)\]$")  # a later layer's grid: W2[1,1] -> W^{(2)}_{1,1}


def latex_name(name):
    """A Value's name as a LaTeX symbol: I12 -> I_{12}, W[1,1,2,3] -> W_{1,1,2,3}, a later layer's
    W2[1,1] -> W^{(2)}_{1,1}, anything else verbatim."""
    m = _LAYER.match(name)
    if m:
        return f"{m.group(1)}^{{({m.group(2)})}}_{{{m.group(3)}}}"
    m = _TEXTBOOK.match(name) or _BRACKETED.match(name)
    if m:
        return f"{m.group(1)}_{{{m.group(2)}}}"
    if re.fullmatch(r"-?[\d.e+-]+|-?inf", name):
        return name
    return r"\mathrm{" + re.sub(r"([\\{}_^#$%&~])", r"\\\1", name) + "}"


def latex_number(x):
    text = number(x)
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return text.replace("inf", r"\infty")
