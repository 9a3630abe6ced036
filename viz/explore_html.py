"""The explorer's HTML: the page viz.explore read off the graph, written out as one self-contained file.

The grids become static HTML (every cell a `data-name`, its data and grad as text); everything the
script needs (lit ids per Value, the wires to draw, ledger terms, backward()'s steps as text, the
quiz's answers) goes into one JSON block. The template, style and script are the package data in
explore_page/, filled in one pass, so nothing is fetched when the page opens.
"""
import html
import json
import os
import re

import numpy as np

from .text import number, signed

MAX_LINES = 120       # wiring lines drawn for one selection; past this the lit cells say it alone
COMPACT_SIDE = 16     # grids wider or taller than this show their cells without names (in the tooltip), and
                      # their numbers to 3 digits
ROW_1D = 16           # a long 1-D grid wraps at this many per row
_HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "explore_page")


def _ids(page, events):
    """Page ids: drawn Values first, in grid order, then every other Value a backward step touches."""
    ids = {}
    for g in page.grids:
        for index in sorted(g.cells):
            ids.setdefault(g.cells[index], len(ids))
    drawn_count = len(ids)
    for e in events:
        for v in (e.target, e.user):
            if v not in ids:
                ids[v] = len(ids)
    return ids, drawn_count


def _finite_or_none(x):
    return x if x == x and abs(x) != float("inf") else None


def render(page, ran, grads, label, lines, notes, windows):
    """The page's HTML: `label(v)` names any Value; `lines`, `notes` and `windows` map a drawn Value to its
    wires, its dead uses and the pool windows it belongs to."""
    ids, drawn_count = _ids(page, page.events)
    values = sorted(ids, key=ids.__getitem__)
    drawn = values[:drawn_count]
    mismatched = [page.names[v] for v in drawn if ran and v in grads and grads[v] != v.grad
                  and not (grads[v] != grads[v] and v.grad != v.grad)]  # (nan != nan)
    data = {
        "root": ids[page.root],
        "ran": ran,
        "drawn": drawn_count,
        "labels": [label.wrapped(v) for v in values],
        "data": [number(v.data) for v in drawn],
        # what backward() left in v.grad; the replay's totals equal it (tested), so Step ends here
        "grad": [number(v.grad if ran and i < drawn_count else grads.get(v, 0.0)) for i, v in enumerate(values)],
        "answer": [_finite_or_none(v.grad if ran else grads.get(v, 0.0)) for v in drawn],
        "nudge": [None if page.nudges[v] != page.nudges[v] else number(page.nudges[v]) for v in drawn],
        "lit": [sorted(ids[u] for u in page._lit.get(v, ())) for v in drawn],
        "window": [sorted(ids[u] for u in windows.get(v, ())) for v in drawn],
        "lines": [[i for pair in lines.get(v, [])[:MAX_LINES] for i in (ids[pair[0]], ids[pair[1]])]
                  for v in drawn],
        "wires": [len(lines.get(v, [])) for v in drawn],
        "ledger": [[[t.step, t.symbols, t.numbers, number(t.value)] for t in page._ledgers.get(v, ())]
                   for v in drawn],
        "notes": [notes.get(v, []) for v in drawn],
        "et": [ids[e.target] for e in page.events],
        "eu": [ids[e.user] for e in page.events],
        "el": [signed(e.local) for e in page.events],
        "es": [number(e.total) for e in page.events],
        "mismatch": mismatched,
    }
    blob = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    with open(os.path.join(_HERE, "page.html"), encoding="utf-8") as f:
        template = f.read()
    with open(os.path.join(_HERE, "page.css"), encoding="utf-8") as f:
        style = f.read()
    with open(os.path.join(_HERE, "page.js"), encoding="utf-8") as f:
        script = f.read()
    parts = {"/*STYLE*/": style, "/*DATA*/": blob, "/*SCRIPT*/": script.replace("</", "<\\/"),
             "<!--GRIDS-->": _grids_html(page.grids, page.names, ids, ran), "/*TOTAL*/": str(len(page.events)),
             "<!--TITLE-->": html.escape(f"explorer: {page.names[page.root]} and its {len(drawn)} Values")}
    # one pass over the template, so nothing inserted (a name, say) is ever read as a marker
    return re.sub(r"/\*(?:STYLE|DATA|SCRIPT|TOTAL)\*/|<!--(?:GRIDS|TITLE)-->", lambda m: parts[m.group(0)], template)


def _grids_html(grids, names, ids, ran):
    out = []
    for g in grids:
        compact = any(n > COMPACT_SIDE for n in g.shape)
        out.append(f'<section class="grid{" compact" if compact else ""}" data-grid="{html.escape(g.name)}" '
                   f'data-role="{html.escape(g.role)}">'
                   f'<h2>{html.escape(g.title)}</h2><div class="panels">')
        for lead, rows, cols in _panels(g.shape):
            caption = ""
            if lead:
                caption = f'<div class="caption">{html.escape(g.name)}[{",".join(str(i + 1) for i in lead)},:,:]</div>'
            out.append(f'<div class="panel">{caption}<div class="cells" style="grid-template-columns:'
                       f'repeat({cols},auto)">')
            for r in range(rows):
                for c in range(cols):
                    index = _index(g.shape, lead, r, c, cols)
                    v = g.cells.get(index)
                    if v is None:
                        out.append('<div class="empty"></div>')
                        continue
                    name = html.escape(names[v])
                    grad = number(v.grad) if ran else ""
                    named = "" if compact else f'<span class="n">{name}</span>'
                    out.append(f'<div class="cell" data-name="{name}" data-id="{ids[v]}" title="{name}" tabindex="0">{named}'
                               f'<span class="d">{number(v.data)}</span><span class="g">{grad}</span></div>')
            out.append("</div></div>")
        out.append("</div></section>")
    return "".join(out)


def _panels(shape):
    """(leading index, rows, columns) of each 2-D panel: a 3-D or 4-D grid is a row of 2-D panels."""
    if len(shape) == 0:
        return [((), 1, 1)]
    if len(shape) == 1:
        cols = min(shape[0], ROW_1D)
        return [((), -(-shape[0] // cols), cols)]
    return [(lead, shape[-2], shape[-1]) for lead in np.ndindex(*shape[:-2])]


def _index(shape, lead, r, c, cols):
    if len(shape) == 0:
        return ()
    if len(shape) == 1:
        return (r * cols + c,)
    return tuple(lead) + (r, c)
