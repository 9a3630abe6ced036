"""One colour per filter value, the same in every picture: W11 blue, W12 red, W21 green, W22 purple, ...

A learner who has seen W12 drawn red in the wiring picture should find it red
in the panels, the summary and the demos' matrix too, so every picture takes
its colours from here. Each entry is (strong, light): the strong colour for
edges, borders and text, the light one for fills.
"""

PALETTE = [("#1f77b4", "#d6e6f5"), ("#d62728", "#f8d7d7"), ("#2ca02c", "#d5efd5"), ("#9467bd", "#e6dcf0"),
           ("#ff7f0e", "#ffe3c8"), ("#8c564b", "#eadbd7"), ("#e377c2", "#f9def0"), ("#17becf", "#d1f2f5"),
           ("#7f7f00", "#ededc4"), ("#393b79", "#d9dae9"), ("#ad494a", "#f0d7d7"), ("#637939", "#e0e8d3")]


def weight_colour(k):
    """(strong, light) colour of the k-th filter value, counted row by row from 0 (W11 is 0, W12 is 1, ...)."""
    return PALETTE[k % len(PALETTE)]


def check_scale(scale):
    """A picture's scale: a positive, finite number (fonts and boxes are multiplied by it)."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale < float("inf"):
        raise ValueError(f"scale must be a positive number (1 is the default size, 1.5 for a projector), "
                         f"got {scale!r}")
    return float(scale)
