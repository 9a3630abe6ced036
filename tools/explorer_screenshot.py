"""The README's screenshot of the explorer: the seed, W11 selected, its ledger showing.

    python tools/explorer_screenshot.py [--out docs/img/explorer.png] [--width 1280] [--height 760]

Made by the same headless Chromium the browser tests use (Debian's `chromium`, driven by playwright).
"""
import argparse
import os
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tinygrad_conv as tc  # noqa: E402
import viz  # noqa: E402
from tinygrad_conv import functional as F  # noqa: E402


def seed_page():
    I = tc.values(np.arange(1.0, 10.0).reshape(3, 3), name="I")
    W = tc.values([[1.0, -1.0], [2.0, 0.5]], name="W")
    p = F.global_avg_pool2d(F.conv2d(I, W))
    L = (p - 1.0) ** 2
    L.name = "L"
    L.backward()
    return viz.explore(L)


def screenshot(page, out, select="W11", width=1280, height=760):
    from playwright.sync_api import sync_playwright
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("no chromium on PATH (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        path = page.save(os.path.join(tmp, "explorer.html"))
        browser = p.chromium.launch(executable_path=chromium)
        tab = browser.new_page(viewport={"width": width, "height": height})
        tab.goto("file://" + path)
        if select:
            tab.click(f'[data-name="{select}"]')
        tab.screenshot(path=out)
        browser.close()
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join("docs", "img", "explorer.png"))
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=760)
    args = parser.parse_args(argv)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    print("wrote", screenshot(seed_page(), args.out, width=args.width, height=args.height))


if __name__ == "__main__":
    main()
