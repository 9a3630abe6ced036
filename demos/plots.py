"""A tiny SVG writer for the demos: line charts, heat maps, strips of heat maps. No dependencies.

Every function returns the SVG document as a string and, given `path`, also
writes it there. Heat maps use a diverging scale (blue < 0 < red, white at 0)
shared by every frame of a strip, so a filter value's colour means the same
number in every frame, and a colour bar shows the scale.
"""
import math
import os
from xml.sax.saxutils import escape

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]


def scale_type(text):
    """An argparse type for the demos' --scale: a positive number, else one line and exit status 2."""
    import argparse
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.25 <= x <= 4:
        raise argparse.ArgumentTypeError(f"must be between 0.25 and 4, got {text!r}")
    return x


def _document(width, height, body):
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}">\n<rect width="100%" height="100%" fill="white"/>\n'
            + "\n".join(body) + "\n</svg>\n")


def _text(x, y, s, anchor="middle", size=12, extra=""):
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-family="sans-serif" font-size="{size:g}"'
            f'{" " + extra if extra else ""}>{escape(str(s))}</text>')


def _save(svg, path):
    if path is not None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(svg)
    return svg


def _ticks(lo, hi, log):
    """Tick positions: powers of ten on a log axis, about five round numbers on a linear one."""
    if log:  # every decade, or every 2nd, 3rd ... so that at most about eight are labelled
        first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
        every = max(1, math.ceil((last - first) / 8))
        last = first + every * math.ceil((last - first) / every)
        return [10.0 ** e for e in range(first, last + 1, every)]
    step = 10 ** math.floor(math.log10((hi - lo) / 5 or 1))
    step *= next(m for m in (1, 2, 5, 10) if (hi - lo) / (step * m) <= 6)
    return [i * step for i in range(math.floor(lo / step), math.ceil(hi / step) + 1)]


def _fmt(v):
    return f"{v:g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.0e}".replace("e-0", "e-")


def line_chart(series, path=None, title="", xlabel="", ylabel="", logx=False, logy=False,
               width=520, height=340, legend="top left", scale=1.0):
    """Lines with markers: `series` is a list of (label, xs, ys); axes with ticks, labels and a legend.

    `legend` puts the legend in a corner inside the axes: "top left", "top right", "bottom left" ...
    `scale` multiplies the size, the text and the lines (1.5 for a projector).
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    z, width, height = scale, width * scale, height * scale
    if not series:
        raise ValueError("line_chart needs at least one series")
    f = {False: float, True: math.log10}
    xs = [x for _, sx, _ in series for x in sx]
    ys = [y for _, _, sy in series for y in sy]
    if (logx and min(xs) <= 0) or (logy and min(ys) <= 0):
        raise ValueError("a log axis needs positive numbers")
    xt, yt = _ticks(min(xs), max(xs), logx), _ticks(min(ys), max(ys), logy)
    x0, x1, y0, y1 = f[logx](xt[0]), f[logx](xt[-1]), f[logy](yt[0]), f[logy](yt[-1])
    left, right, top, bottom = 70 * z, width - 20 * z, 40 * z, height - 50 * z

    def px(x):
        return left + (f[logx](x) - x0) / ((x1 - x0) or 1) * (right - left)

    def py(y):
        return bottom - (f[logy](y) - y0) / ((y1 - y0) or 1) * (bottom - top)

    body = [_text(width / 2, 22 * z, title, size=12 * z, extra='font-weight="bold"'),
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{right - left:.1f}" height="{bottom - top:.1f}" fill="none" '
            f'stroke="black"/>']
    for t in xt:
        body.append(f'<line x1="{px(t):.1f}" y1="{bottom:.1f}" x2="{px(t):.1f}" y2="{bottom + 5 * z:.1f}" '
                    f'stroke="black"/>')
        body.append(_text(px(t), bottom + 18 * z, _fmt(t), size=12 * z))
    for t in yt:
        body.append(f'<line x1="{left - 5 * z:.1f}" y1="{py(t):.1f}" x2="{right:.1f}" y2="{py(t):.1f}" '
                    f'stroke="#ddd"/>')
        body.append(_text(left - 8 * z, py(t) + 4 * z, _fmt(t), anchor="end", size=12 * z))
    body.append(_text((left + right) / 2, height - 12 * z, xlabel, size=12 * z))
    body.append(_text(16 * z, (top + bottom) / 2, ylabel, size=12 * z,
                      extra=f'transform="rotate(-90 {16 * z:.1f} {(top + bottom) / 2:.1f})"'))
    for i, (label, sx, sy) in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(sx, sy))
        body.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="{2 * z:g}"/>')
        body.extend(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="{3 * z:g}" fill="{colour}"/>'
                    for x, y in zip(sx, sy))
        lx = left + 10 * z if "left" in legend else right - 250 * z
        ly = top + (16 + 18 * i) * z if "top" in legend else bottom - (10 + 18 * (len(series) - 1 - i)) * z
        body.append(f'<line x1="{lx:.1f}" y1="{ly - 4 * z:.1f}" x2="{lx + 20 * z:.1f}" y2="{ly - 4 * z:.1f}" '
                    f'stroke="{colour}" stroke-width="{2 * z:g}"/>')
        body.append(_text(lx + 26 * z, ly, label, anchor="start", size=12 * z))
    return _save(_document(width, height, body), path)


def colour(v, vmax):
    """Diverging colour for v on the scale [-vmax, vmax]: blue, white at 0, red."""
    t = max(-1.0, min(1.0, v / vmax)) if vmax > 0 else 0.0
    fade = round(255 * (1 - abs(t)))
    return f"rgb(255,{fade},{fade})" if t >= 0 else f"rgb({fade},{fade},255)"


def short_number(v):
    """A number short enough for a heat-map cell: 2 significant digits, no exponent."""
    if abs(v) < 5e-3:
        return "0"
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.2g}"


def exact_number(v):
    """A number as the equations write it (up to 6 significant digits): 33.75 stays 33.75."""
    text = f"{v:.6g}"
    return "0" if text == "-0" else text


def _colour_bar(x, y, width, vmax, scale=1.0):
    """A bar from -vmax (blue) through 0 (white) to +vmax (red), labelled at both ends and the middle."""
    steps = 20
    body = [f'<rect x="{x + k * width / steps:.1f}" y="{y:.1f}" width="{width / steps + 0.5:.1f}" '
            f'height="{10 * scale:.1f}" fill="{colour(vmax * (2 * (k + 0.5) / steps - 1), vmax)}"/>'
            for k in range(steps)]
    end, size, below = _fmt(float(f"{vmax:.3g}")), 12 * scale, y + 24 * scale
    return body + [_text(x, below, "-" + end, anchor="start", size=size),
                   _text(x + width / 2, below, "0", size=size), _text(x + width, below, end, anchor="end", size=size)]


def strip(frames, path=None, titles=None, title="", cell=30, numbers=True, vmax=None, labels=None, scale=1.0,
          columns=None):
    """Heat maps in a grid of `columns` per row (default: all in one row), each with its title, and a colour bar.

    One colour scale is shared by every frame (so a colour means the same number in each),
    unless `vmax` is a list with one scale per frame, when each frame gets its own bar.
    Each cell shows its number (numbers=True) or, given `labels` (one 2-D grid of strings per
    frame), its label; hovering shows the exact number. `scale` multiplies cells and text
    (1.5 for a projector); `columns` wraps a long strip into rows so that it fits a screen.
    """
    frames = [[list(map(float, row)) for row in frame] for frame in frames]
    if not frames or not all(frame and frame[0] for frame in frames):
        raise ValueError("strip needs at least one non-empty 2-D frame")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    if vmax is None:
        vmax = max(abs(v) for frame in frames for row in frame for v in row)
    scales = list(vmax) if isinstance(vmax, (list, tuple)) else [vmax] * len(frames)
    if len(scales) != len(frames):
        raise ValueError(f"vmax needs one scale per frame: {len(frames)} frames, {len(scales)} scales")
    columns = len(frames) if columns is None else max(1, min(int(columns), len(frames)))
    titles = titles or [""] * len(frames)
    cell, text, small = cell * scale, 12 * scale, 9 * scale
    gap, head = 16 * scale, 24 * scale
    top = (24 * scale if title else 4 * scale) + head
    body = [_text(10, 20 * scale, title, anchor="start", size=text, extra='font-weight="bold"')] if title else []
    each_bar = isinstance(vmax, (list, tuple))
    bar = 36 * scale if each_bar else 0  # room under each frame for its own colour bar
    lefts, width, y = [], 0.0, top
    for start in range(0, len(frames), columns):
        x, row_height = 10.0, 0.0
        for f in range(start, min(start + columns, len(frames))):
            frame, label = frames[f], titles[f]
            rows, cols = len(frame), len(frame[0])
            body.append(_text(x + cols * cell / 2, y - 6 * scale, label, size=text))
            for i, row in enumerate(frame):
                for j, v in enumerate(row):
                    cx, cy = x + j * cell, y + i * cell
                    body.append(f'<rect x="{cx:.1f}" y="{cy:.1f}" width="{cell:.1f}" height="{cell:.1f}" '
                                f'fill="{colour(v, scales[f])}" stroke="#999" stroke-width="0.5">'
                                f'<title>{v:.6g}</title></rect>')
                    words = labels[f][i][j] if labels is not None else short_number(v) if numbers else ""
                    if words and cell >= 24:  # white on the darkest colours, so the text stays readable
                        dark = scales[f] > 0 and abs(v) > 0.6 * scales[f]
                        body.append(_text(cx + cell / 2, cy + cell / 2 + small / 2.5, words, size=small,
                                          extra='fill="white"' if dark else ""))
            if each_bar:
                body += _colour_bar(x, y + rows * cell + 8 * scale, max(cols * cell, 100 * scale), scales[f], scale)
            lefts.append((x, cols * cell))
            x += max(cols * cell, 100 * scale if each_bar else 0) + gap
            row_height = max(row_height, rows * cell + bar)
        width = max(width, x)
        y += row_height + head + gap
    height = y - head
    if not each_bar:
        body += _colour_bar(10, height, 160 * scale, vmax, scale)
        height += 36 * scale
    width = max(width, 180 * scale, 20 + 7.5 * scale * len(title))  # room for the bold title
    return _save(_document(width, height + 10, body), path)


def matrix_table(blocks, path=None, title="", notes=(), scale=1.0):
    """Labelled matrices side by side (or one under another when side by side would pass 1024 px).

    blocks: dicts with "title", "texts" (2-D strings), "fills" (2-D colours or None), "text_colours"
    (2-D or None), "rows" and "columns" (labels). notes: lines under the matrices as (text, colour).
    """
    text, small = 12 * scale, 10 * scale
    widths = []
    for block in blocks:
        longest = max(len(t) for row in block["texts"] for t in row)
        cw = max(30 * scale, (longest * 0.62 * small) + 10 * scale)
        label_w = max(len(r) for r in block["rows"]) * 0.62 * small + 12 * scale
        widths.append((cw, label_w, label_w + len(block["columns"]) * cw))
    side = sum(w for _, _, w in widths) + 30 * scale * len(blocks) <= 1024
    ch = 24 * scale
    body = [_text(10, 20 * scale, title, anchor="start", size=text, extra='font-weight="bold"')] if title else []
    x, y, width, bottom = 10.0, 34 * scale if title else 10.0, 0.0, 0.0
    for block, (cw, lw, w) in zip(blocks, widths):
        y0 = y + 18 * scale
        body.append(_text(x + lw + (w - lw) / 2, y0 - 4 * scale, block["title"], size=text))
        for j, name in enumerate(block["columns"]):
            body.append(_text(x + lw + (j + 0.5) * cw, y0 + 14 * scale, name, size=small, extra='fill="#555"'))
        for i, (name, row) in enumerate(zip(block["rows"], block["texts"])):
            cy = y0 + 20 * scale + i * ch
            body.append(_text(x + lw - 6 * scale, cy + ch / 2 + small / 3, name, anchor="end", size=small,
                              extra='fill="#555"'))
            for j, t in enumerate(row):
                fill = block["fills"][i][j] if block.get("fills") else "white"
                body.append(f'<rect x="{x + lw + j * cw:.1f}" y="{cy:.1f}" width="{cw:.1f}" height="{ch:.1f}" '
                            f'fill="{fill}" stroke="#bbb" stroke-width="0.5"/>')
                if t:
                    c = block["text_colours"][i][j] if block.get("text_colours") else "black"
                    body.append(_text(x + lw + (j + 0.5) * cw, cy + ch / 2 + small / 3, t, size=small,
                                      extra=f'fill="{c}"'))
        block_bottom = y0 + 20 * scale + len(block["rows"]) * ch
        width, bottom = max(width, x + w), max(bottom, block_bottom)
        if side:
            x += w + 30 * scale
        else:
            y = block_bottom + 10 * scale
    y = bottom + 24 * scale
    for line, c in notes:
        body.append(_text(10, y, line, anchor="start", size=text, extra=f'fill="{c}"'))
        width = max(width, 20 + 0.6 * text * len(line))
        y += 18 * scale
    return _save(_document(width + 10, y + 6 * scale, body), path)


def heatmap(grid, path=None, title="", **options):
    """One heat map (a filter, an image, a matrix) with its colour bar."""
    return strip([grid], path, title=title, **options)
