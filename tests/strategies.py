"""Hypothesis strategies for conv and pooling configurations, valid by construction, and the
definitions they are checked against.

    @given(cfg=conv_configs(), seed=seeds)
    def test_something(cfg, seed):
        x, w, b = cfg.arrays(seed)                      # float64 numpy arrays of the right shapes
        out = F.conv2d(tc.values(x), tc.values(w), None if b is None else tc.values(b), **cfg.kwargs())
        assert out.shape == cfg.output_shape

A config is drawn backwards from the kernel: first kernel, stride, padding and
dilation, then an image just big enough that the dilated kernel fits the
padded image, plus a little extra. So every drawn config is one PyTorch
accepts, and the output size is at least 1.

The oracles at the bottom (`conv2d_reference`, `conv2d_weight_grad`,
`conv2d_input_grad`, `pool2d_reference`) are the definitions written as plain
loops over numpy arrays, independent of the engines under test.
"""
import os
from dataclasses import dataclass

import numpy as np
from hypothesis import settings, strategies as st


def examples(n):
    """`settings(max_examples=...)` for one test, scaled by the active profile (standard = n)."""
    scale = {"quick": 5 / 25, "thorough": 10}.get(os.environ.get("HYPOTHESIS_PROFILE", "standard"), 1)
    return settings(max_examples=max(1, int(n * scale)))


seeds = st.integers(0, 2**32 - 1)  # numbers for a test are drawn from np.random.default_rng(seed)


def _out(size, kernel, stride, padding, dilation):
    """Output length along one axis: floor((size + 2p - d*(k-1) - 1) / s) + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _arg(pair):
    """A pair passed as an int when both sides agree, so both spellings get exercised."""
    return pair[0] if pair[0] == pair[1] else pair


def distinct_values(rng, shape, gap=0.25):
    """Numbers at least ~gap apart (no ties, no kinks within gap/2), shuffled, centred on 0.

    Max pooling and relu are piecewise linear; with inputs this far apart a
    nudge smaller than gap/2 never changes which piece is active, so central
    differences are exact there.
    """
    n = int(np.prod(shape, dtype=np.int64))
    ranks = rng.permutation(n) - (n - 1) / 2.0
    return ((ranks + 0.5 * np.sign(ranks + 0.25)) * gap + rng.uniform(0, gap / 10, n)).reshape(shape)


# ---- convolution --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvConfig:
    """One conv2d call. `batch` None means no batch axis; `flat` means x (H, W) with a (kh, kw) filter."""
    batch: object  # int or None
    flat: bool
    in_channels: int
    out_channels: int
    groups: int
    height: int
    width: int
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    bias: bool

    @property
    def x_shape(self):
        if self.flat:
            return (self.height, self.width)
        chw = (self.in_channels, self.height, self.width)
        return chw if self.batch is None else (self.batch,) + chw

    @property
    def weight_shape(self):
        if self.flat:
            return self.kernel
        return (self.out_channels, self.in_channels // self.groups) + self.kernel

    @property
    def output_hw(self):
        return tuple(_out(n, k, s, p, d) for n, k, s, p, d in
                     zip((self.height, self.width), self.kernel, self.stride, self.padding, self.dilation))

    @property
    def output_shape(self):
        if self.flat:
            return self.output_hw
        khw = (self.out_channels,) + self.output_hw
        return khw if self.batch is None else (self.batch,) + khw

    def kwargs(self):
        """stride/padding/dilation/groups as conv2d's keyword arguments (ints where square)."""
        return dict(stride=_arg(self.stride), padding=_arg(self.padding), dilation=_arg(self.dilation),
                    groups=self.groups)

    def arrays(self, seed):
        """(x, weight, bias or None): float64 arrays of this config's shapes, standard normal."""
        rng = np.random.default_rng(seed)
        x = rng.standard_normal(self.x_shape)
        w = rng.standard_normal(self.weight_shape)
        b = rng.standard_normal(self.out_channels) if self.bias else None
        return x, w, b

    def as_4d(self, x, w, out=None):
        """x as (N, C, H, W), weight as (K, C/groups, kh, kw) (and an output as (N, K, OH, OW))."""
        if self.flat:
            x, w = x[None, None], w[None, None]
            out = None if out is None else out[None, None]
        elif self.batch is None:
            x = x[None]
            out = None if out is None else out[None]
        return (x, w) if out is None else (x, w, out)


@st.composite
def conv_configs(draw, max_batch=2, max_groups=2, max_channels_per_group=2, max_out_per_group=2,
                 max_kernel=3, max_stride=2, max_padding=2, max_dilation=2, max_extra=2,
                 flat=None, batch=None, bias=None):
    """ConvConfig, valid by construction; flat/batch/bias True or False fix that choice, None draws it.

    The defaults keep the scalar graph to a few thousand nodes.
    """
    flat = draw(st.integers(0, 3)) == 0 if flat is None else flat  # a quarter of the draws: (H, W) with (kh, kw)
    pair = lambda lo, hi: (draw(st.integers(lo, hi)), draw(st.integers(lo, hi)))  # noqa: E731
    kernel, stride, padding, dilation = (pair(1, max_kernel), pair(1, max_stride),
                                         pair(0, max_padding), pair(1, max_dilation))
    # the image: at least 1, and big enough that the dilated kernel fits once the padding is added
    size = [max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, max_extra))
            for k, p, d in zip(kernel, padding, dilation)]
    if flat:
        groups, cin, cout, n, with_bias = 1, 1, 1, None, False
    else:
        groups = draw(st.integers(1, max_groups))
        cin = groups * draw(st.integers(1, max_channels_per_group))
        cout = groups * draw(st.integers(1, max_out_per_group))
        with_batch = draw(st.booleans()) if batch is None else batch
        n = draw(st.integers(1, max_batch)) if with_batch else None
        with_bias = draw(st.booleans()) if bias is None else bias
    return ConvConfig(n, flat, cin, cout, groups, size[0], size[1], kernel, stride, padding, dilation, with_bias)


# ---- pooling ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolConfig:
    """One pooling call on x of shape lead + (H, W). `stride` None means the default (= kernel)."""
    lead: tuple
    height: int
    width: int
    kernel: tuple
    stride: object  # pair or None
    padding: tuple

    @property
    def x_shape(self):
        return self.lead + (self.height, self.width)

    @property
    def effective_stride(self):
        return self.kernel if self.stride is None else self.stride

    @property
    def output_shape(self):
        return self.lead + tuple(_out(n, k, s, p, 1) for n, k, s, p in
                                 zip((self.height, self.width), self.kernel, self.effective_stride, self.padding))

    def kwargs(self):
        return dict(kernel_size=_arg(self.kernel), stride=None if self.stride is None else _arg(self.stride),
                    padding=_arg(self.padding))


@st.composite
def pool_configs(draw, max_lead=2, max_lead_size=2, max_kernel=3, max_stride=3, max_extra=3):
    """PoolConfig, valid by construction: padding at most half the kernel (PyTorch's rule)."""
    lead = tuple(draw(st.lists(st.integers(1, max_lead_size), max_size=max_lead)))
    kernel = (draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    stride = draw(st.none() | st.tuples(st.integers(1, max_stride), st.integers(1, max_stride)))
    size = [max(1, k - 2 * p) + draw(st.integers(0, max_extra)) for k, p in zip(kernel, padding)]
    return PoolConfig(lead, size[0], size[1], kernel, stride, padding)


# ---- the definitions, as loops --------------------------------------------------------------------


def pad2d(x, padding, value=0.0):
    """x (..., H, W) with `value` added around the last two axes."""
    (ph, pw) = padding
    return np.pad(x, [(0, 0)] * (x.ndim - 2) + [(ph, ph), (pw, pw)], constant_values=value)


def conv2d_reference(x, w, b, stride, padding, dilation, groups):
    """o[n,k,i,j] = sum_{c,a,b} x_pad[n, g*Cg + c, s*i + d*a, t*j + e*b] * w[k,c,a,b] + bias[k],
    where g = k // (K/groups) is the group of output channel k. x (N,C,H,W), w (K,Cg,kh,kw)."""
    N, C, H, W = x.shape
    K, Cg, kh, kw = w.shape
    xp = pad2d(x, padding)
    (s, t), (d, e) = stride, dilation
    OH = (xp.shape[2] - d * (kh - 1) - 1) // s + 1
    OW = (xp.shape[3] - e * (kw - 1) - 1) // t + 1
    out = np.zeros((N, K, OH, OW))
    for n in range(N):
        for k in range(K):
            g = k // (K // groups)
            for i in range(OH):
                for j in range(OW):
                    total = 0.0 if b is None else b[k]
                    for c in range(Cg):
                        for a in range(kh):
                            for bb in range(kw):
                                total += xp[n, g * Cg + c, s * i + d * a, t * j + e * bb] * w[k, c, a, bb]
                    out[n, k, i, j] = total
    return out


def conv2d_weight_grad(x, upstream, weight_shape, stride, padding, dilation, groups):
    """The closed form dL/dW[k,c,a,b] = sum_{n,i,j} dL/do[n,k,i,j] * x_pad[n, g*Cg + c, s*i + d*a, t*j + e*b]."""
    K, Cg, kh, kw = weight_shape
    xp = pad2d(x, padding)
    (s, t), (d, e) = stride, dilation
    N, _, OH, OW = upstream.shape
    grad = np.zeros(weight_shape)
    for k in range(K):
        g = k // (K // groups)
        for c in range(Cg):
            for a in range(kh):
                for bb in range(kw):
                    window = xp[:, g * Cg + c, d * a: d * a + s * (OH - 1) + 1: s, e * bb: e * bb + t * (OW - 1) + 1: t]
                    grad[k, c, a, bb] = np.sum(upstream[:, k] * window)
    return grad


def conv2d_input_grad(x_shape, w, upstream, stride, padding, dilation, groups):
    """dL/dx: every product x_pad[...] * w[k,c,a,b] sends dL/do * w back to the x_pad it read;
    the padding's share is then cut away."""
    N, C, H, W = x_shape
    K, Cg, kh, kw = w.shape
    (s, t), (d, e), (ph, pw) = stride, dilation, padding
    grad = np.zeros((N, C, H + 2 * ph, W + 2 * pw))
    _, _, OH, OW = upstream.shape
    for n in range(N):
        for k in range(K):
            g = k // (K // groups)
            for i in range(OH):
                for j in range(OW):
                    for c in range(Cg):
                        for a in range(kh):
                            for bb in range(kw):
                                grad[n, g * Cg + c, s * i + d * a, t * j + e * bb] += upstream[n, k, i, j] * w[k, c, a, bb]
    return grad[:, :, ph: ph + H, pw: pw + W]


def pool2d_reference(x, kernel, stride, padding, mode):
    """p[..., i, j] = max or mean of x_pad[..., s*i + a, t*j + b] over the kh x kw window.

    Max pooling pads with -inf (never chosen); average pooling with zeros that count (PyTorch's default)."""
    xp = pad2d(x, padding, -np.inf if mode == "max" else 0.0)
    (kh, kw), (s, t) = kernel, stride
    OH = (xp.shape[-2] - kh) // s + 1
    OW = (xp.shape[-1] - kw) // t + 1
    out = np.zeros(x.shape[:-2] + (OH, OW))
    for i in range(OH):
        for j in range(OW):
            window = xp[..., s * i: s * i + kh, t * j: t * j + kw].reshape(x.shape[:-2] + (-1,))
            out[..., i, j] = window.max(-1) if mode == "max" else window.mean(-1)
    return out
