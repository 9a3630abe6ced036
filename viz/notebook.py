"""Display in Jupyter: a graphviz.Digraph already shows itself inline; equations show as LaTeX.

`Equations` is a str (print it, compare it, write it to a file) that also
carries its LaTeX form, so a notebook cell ending in `conv_equations(...)`
renders typeset math.
"""


class Equations(str):
    """Equations as text (the str itself) with a LaTeX twin in `.latex`, displayed as math in notebooks."""

    def __new__(cls, text, latex):
        self = super().__new__(cls, text)
        self.latex = latex
        return self

    def _repr_latex_(self):
        return "$$\n" + self.latex + "\n$$"

    def __repr__(self):  # a notebook without LaTeX (or a console) shows the equations, not a quoted str
        return str(self)


def show(obj):
    """Display a Digraph or Equations in a notebook (or print it outside one)."""
    try:
        from IPython.display import display
    except ImportError:
        print(obj)
        return
    display(obj)
