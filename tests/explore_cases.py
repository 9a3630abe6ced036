"""Networks for the explorer's tests, and what its page should show for them, from the conv formula alone.

`build(cfg, seed, head)` makes a scalar network from a drawn ConvConfig:

    x (named I) -> conv2d with W (and bias b) -> o  [-> pool p] [-> relu -> dense with V -> z] -> squared loss L

`closed_form_lit(cfg)` enumerates the products of the conv from its formula,

    o[n,k,i,j] = sum_{c,a,b} x_pad[n, g*Cg + c, s*i + d*a, t*j + e*b] * W[k,c,a,b],

with no graph at all, and says which names a click on each weight, output and input must light.
"""
import numpy as np

import tinygrad_conv as tc
from tinygrad_conv import functional as F
from tinygrad_conv.grid import element_name


def build(cfg, seed, pool=None, head=0):
    """(loss, grids) after backward(); pool None, "avg" or "max" (2x2 windows, or all of a small output)."""
    x_arr, w_arr, b_arr = cfg.arrays(seed)
    rng = np.random.default_rng(seed + 1)
    I = tc.values(x_arr, name="I")
    W = tc.values(w_arr, name="W")
    b = None if b_arr is None else tc.values(b_arr, name="b")
    o = F.conv2d(I, W, b, **cfg.kwargs())
    grids = {"I": I, "W": W, "o": o}
    if b is not None:
        grids["b"] = b
    top = o
    if pool is not None:
        k = 2 if min(o.shape[-2:]) >= 2 else 1
        top = (F.max_pool2d if pool == "max" else F.avg_pool2d)(o, k)
        grids["p"] = top
    if head:
        flat = F.relu(top).reshape(-1)
        V = tc.values(rng.standard_normal((head, flat.size)), name="V")
        top = F.linear(flat, V, name="z")
        grids["V"], grids["z"] = V, top
    L = F.mse_loss(top, rng.standard_normal(np.shape(top)))
    L.name = "L"
    L.backward()
    return L, grids


def products(cfg):
    """(weight index, input index or None for padding, output index) of every product, in the grids' own shapes."""
    N = 1 if cfg.batch is None else cfg.batch
    C, K, groups = cfg.in_channels, cfg.out_channels, cfg.groups
    Cg, Kg = C // groups, K // groups
    (kh, kw), (s, t), (p, q), (d, e) = cfg.kernel, cfg.stride, cfg.padding, cfg.dilation
    OH, OW = cfg.output_hw
    lead_x = 2 if cfg.flat else (1 if cfg.batch is None else 0)  # axes of (n, c, h, w) a grid leaves out
    lead_o = 2 if cfg.flat else (1 if cfg.batch is None else 0)
    lead_w = 2 if cfg.flat else 0
    out = []
    for n in range(N):
        for k in range(K):
            g = k // Kg
            for i in range(OH):
                for j in range(OW):
                    for c in range(Cg):
                        for a in range(kh):
                            for bb in range(kw):
                                h, w = s * i + d * a - p, t * j + e * bb - q
                                inside = 0 <= h < cfg.height and 0 <= w < cfg.width
                                x_index = (n, g * Cg + c, h, w)[lead_x:] if inside else None
                                out.append(((k, c, a, bb)[lead_w:], x_index, (n, k, i, j)[lead_o:]))
    return out


def closed_form_lit(cfg, shown=None):
    """{clicked name: set of names lit}, for every weight, output and input of the conv.

    shown: the names in the loss's graph (a pool may leave out an output's products), or None for all."""
    names = {"W": cfg.weight_shape, "I": cfg.x_shape, "o": cfg.output_shape}
    lit = {}

    def name(grid, index):
        return element_name(grid, index, names[grid])

    for w, x, o in products(cfg):
        wn, on = name("W", w), name("o", o)
        if shown is not None and on not in shown:
            continue
        lit.setdefault(wn, set()).add(on)
        lit.setdefault(on, set()).add(wn)
        if x is not None:
            xn = name("I", x)
            lit[wn].add(xn)
            lit[on].add(xn)
            lit.setdefault(xn, set()).update({on, wn})
    for index in np.ndindex(*cfg.x_shape):  # an input that no window reaches lights nothing
        lit.setdefault(name("I", index), set())
    return lit


def closed_form_shares(cfg, grids, shown):
    """{weight name: sorted [x * dL/do for every product]}: the terms dL/dW_ab must be the sum of
    (products of outputs that are not in `shown`, the names in the loss's graph, are left out)."""
    I, o = grids["I"], grids["o"]
    shares = {}
    for w, x, out in products(cfg):
        if o[out].name not in shown:
            continue
        wn = element_name("W", w, cfg.weight_shape)
        x_value = 0.0 if x is None else I[x].data
        shares.setdefault(wn, []).append(x_value * o[out].grad)
    return {k: sorted(v) for k, v in shares.items()}
