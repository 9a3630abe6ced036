"""viz: pictures and equations of a scalar conv, read off the engine's recorded graph.

    import viz
    viz.draw_graph(loss)                          # the whole graph, micrograd-style (a graphviz.Digraph)
    viz.conv_wiring(o, W)                         # [(weight, output, input), ...] for every product
    viz.draw_conv_wiring(o, W, inputs=I)          # one input grid per weight, its products marked (small multiples)
    viz.draw_conv_wiring(o, W, I, weight="W12")   # or output="o22", input="I23": that focus's edges
    viz.conv_equations(o, W)                      # forward and gradient equations, checked with numpy
    viz.pool_routing(p, o)                        # how a pool after the conv routes the gradient
    viz.draw_summary(o, W, I, weight="W11", pooled=p)   # one screen: W11's edges, its equation and its sum
    viz.gradient_equation(loss, v)                # dL/dv = sum of du/dv * dL/du, one term per use of v
    viz.gradient_path(loss, W[0, 0])              # the equations from the loss down to W11, one per hop
    viz.explore(loss).save("explorer.html")       # a page to click: each gradient formed term by term

`o` is always the grid `conv2d` returned (a following pool is given as
`pooled=`). viz only reads Values (`_prev`, `_local`, `_op`, `name`, `data`,
`grad`); the engine never imports viz.
"""
from .graph import draw_graph
from .wiring import conv_wiring
from .draw_wiring import draw_conv_wiring
from .summary import draw_summary
from .equations import conv_equations
from .pooling import pool_routing
from .notebook import Equations, show
from .gradient import gradient_equation, gradient_path, draw_gradient_path
from .explore import explore

__all__ = ["draw_graph", "conv_wiring", "draw_conv_wiring", "draw_summary", "conv_equations", "pool_routing",
           "Equations", "show", "gradient_equation", "gradient_path", "draw_gradient_path", "explore"]
