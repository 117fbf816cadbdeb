#!/usr/bin/env python3
"""The run report page in a real browser: headless Chromium (Debian chromium
+ chromium-driver, driven with python3-selenium) opens the page of a small
run from file:// and checks that every section rendered: each picture
decoded and laid out at a non-zero size, each table has its rows, nothing
was fetched, nothing logged an error. A copy with one damaged picture must
fail the same check (the check can fail).

Usage: report_browser_test.py PATH/TO/edgemlp [--screenshot PNG [RUN_DIR]]
  (MNIST from $EDGEMLP_DATA or <source>/data/mnist). With --screenshot, a
  full-page screenshot of RUN_DIR's page (default: the small run's) goes to
  PNG (docs/img/report.png is made so). Exits 77 (skipped) when Chromium,
  chromedriver or selenium is missing. About 20 s.
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report_test import SECTIONS, make_run  # noqa: E402

SKIP = 77

# What each section must show when present: pictures, and at least this
# many table rows / list items.
EXPECTED = {
    "configuration": {"img": 0, "rows": 10},
    "curves": {"img": 2, "rows": 0},
    "diagnostics": {"img": 0, "rows": 6, "items": 1},
    "confusion": {"img": 1, "rows": 0},
    "misclassified": {"img": 1, "rows": 2},
    "quantization": {"img": 0, "rows": 4},
    "bench": {"img": 0, "rows": 4},
}

# Per section: its box, each picture's decode state and box, rows, items.
PROBE = """
const out = {};
for (const s of document.querySelectorAll('section')) {
  const box = e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
  out[s.id] = {
    present: s.dataset.present,
    box: box(s),
    heading: box(s.querySelector('h2')),
    images: [...s.querySelectorAll('img')].map(i => ({
      complete: i.complete, natural: [i.naturalWidth, i.naturalHeight], box: box(i)})),
    rows: s.querySelectorAll('tr').length,
    items: s.querySelectorAll('li').length,
  };
}
out.resources = performance.getEntriesByType('resource').map(e => e.name);
return out;
"""


def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None, "python3-selenium is not installed"
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        return None, "chromium and chromium-driver are not installed"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1200,900", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options), ""


def problems(driver, page):
    """What is wrong with `page` as the browser shows it ([] when nothing)."""
    driver.get("file://" + os.path.abspath(page))
    state = driver.execute_script(PROBE)
    found = []
    if state.pop("resources"):
        found.append("the page fetched something")
    for entry in driver.get_log("browser"):
        if entry["level"] in ("SEVERE", "WARNING"):
            found.append(f"console: {entry['message']}")
    if sorted(state) != sorted(SECTIONS):
        found.append(f"sections {sorted(state)}, expected {sorted(SECTIONS)}")
    for name, s in state.items():
        want = EXPECTED.get(name, {})
        if s["present"] != "1":
            found.append(f"{name}: not present")
        if min(s["box"]) <= 0 or min(s["heading"]) <= 0:
            found.append(f"{name}: not laid out ({s['box']})")
        if len(s["images"]) != want.get("img", 0):
            found.append(f"{name}: {len(s['images'])} pictures, expected {want.get('img')}")
        for i in s["images"]:
            if not i["complete"] or min(i["natural"]) <= 0 or min(i["box"]) <= 0:
                found.append(f"{name}: a picture did not render ({i})")
        if s["rows"] < want.get("rows", 0) or s["items"] < want.get("items", 0):
            found.append(f"{name}: {s['rows']} rows, {s['items']} items, expected {want}")
    return found


def screenshot(driver, page, png):
    driver.get("file://" + os.path.abspath(page))
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1200, height + 40)
    driver.save_screenshot(png)
    driver.set_window_size(1200, 900)


def main():
    edgemlp = os.path.abspath(sys.argv[1])
    shot = sys.argv[sys.argv.index("--screenshot") + 1] if "--screenshot" in sys.argv else ""
    shot_dir = (sys.argv[sys.argv.index("--screenshot") + 2]
                if shot and len(sys.argv) > sys.argv.index("--screenshot") + 2 else "")
    data = os.environ.get("EDGEMLP_DATA") or os.path.join(
        os.environ.get("EDGEMLP_SOURCE_ROOT", "."), "data", "mnist")
    driver, why = browser()
    if not driver:
        print(f"skipped: {why}")
        return SKIP
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run_dir = os.path.join(tmp, "run")
            make_run(edgemlp, data, run_dir)
            page = os.path.join(tmp, "report.html")
            subprocess.run([edgemlp, "report", run_dir, "--out", page], check=True,
                           stdout=subprocess.DEVNULL)
            found = problems(driver, page)
            for p in found:
                print("FAIL", p)
            if not found:
                print(f"ok: {len(SECTIONS)} sections rendered in Chromium "
                      f"({driver.capabilities.get('browserVersion')})")
            # The same check on a page whose confusion matrix does not decode.
            with open(page) as f:
                html = f.read()
            damaged = os.path.join(tmp, "damaged.html")
            with open(damaged, "w") as f:
                marker = "<h2>Confusion matrix</h2>\n<img src=\"data:image/svg+xml;base64,"
                assert marker in html
                f.write(html.replace(marker, marker + "AAAA", 1))
            caught = problems(driver, damaged)
            if not any(p.startswith("confusion: a picture did not render") for p in caught):
                print("FAIL the check passed a page with an undecodable picture:", caught)
                found.append("negative control")
            if shot:
                if shot_dir:
                    page = os.path.join(tmp, "shot.html")
                    subprocess.run([edgemlp, "report", shot_dir, "--out", page], check=True,
                                   stdout=subprocess.DEVNULL)
                screenshot(driver, page, shot)
                print("screenshot", shot)
            return 1 if found else 0
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main())
