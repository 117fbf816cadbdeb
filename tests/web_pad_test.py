"""The drawing pad in a real browser: headless Chromium (Selenium) loads the
pad built by tools/build-web.sh from a server bound to 127.0.0.1, draws
digits with pointer strokes and checks the answers, the 28 x 28 input the
page shows (against the native preprocessing of the same pixels), the
target and latency, a bad blob's message, another blob by the file picker
and by drag and drop, a digit drawn by touch; then the same page from
file://.

Usage: python3 tests/web_pad_test.py OUTDIR EDGEMLP_CLI [--screenshot PNG]
"""
import argparse
import base64
import functools
import http.server
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time

from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions import interaction
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.actions.pointer_input import PointerInput
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

PAD = 280  # the pad canvas, in its own pixels (web/index.html)


def ellipse(cx, cy, rx, ry, steps=36):
    return [(cx + rx * math.sin(2 * math.pi * i / steps), cy - ry * math.cos(2 * math.pi * i / steps))
            for i in range(steps + 1)]


# Strokes of known digits, in pad pixels: polylines drawn with the pointer.
DIGITS = {
    1: [[(140, 45), (140, 140), (140, 235)]],
    0: [ellipse(140, 140, 62, 92)],
    7: [[(75, 60), (140, 60), (205, 60), (165, 145), (125, 235)]],
}


class Failures:
    def __init__(self):
        self.items = []

    def check(self, ok, what):
        print(("ok    " if ok else "FAIL  ") + what)
        if not ok:
            self.items.append(what)


def start_server(directory):
    handler = functools.partial(QuietHandler, directory=directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1040,740"):
        options.add_argument(arg)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses to run as root otherwise
    service = Service(executable_path="/usr/bin/chromedriver")
    return webdriver.Chrome(service=service, options=options)


def wait_for(driver, script, what, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


def state(driver):
    return driver.execute_script("return window.edgemlpPad.state")


def draw(driver, strokes):
    driver.find_element(By.ID, "clear").click()
    pad = driver.find_element(By.ID, "pad")
    for line in strokes:
        # Selenium 4 offsets are from the element's centre.
        actions = ActionChains(driver, duration=0)
        x, y = line[0]
        actions.move_to_element_with_offset(pad, round(x - PAD / 2), round(y - PAD / 2)).click_and_hold()
        for nx, ny in line[1:]:
            actions.move_by_offset(round(nx) - round(x), round(ny) - round(y))
            x, y = nx, ny
        actions.release().perform()
    return state(driver)


def draw_touch(driver, strokes):
    """The same strokes with a finger (touch pointer events)."""
    driver.find_element(By.ID, "clear").click()
    pad = driver.find_element(By.ID, "pad")
    for line in strokes:
        actions = ActionBuilder(driver, mouse=PointerInput(interaction.POINTER_TOUCH, "finger"), duration=0)
        finger = actions.pointer_action
        x, y = line[0]
        finger.move_to(pad, round(x - PAD / 2), round(y - PAD / 2)).pointer_down()
        for nx, ny in line[1:]:
            finger.move_to(pad, round(nx - PAD / 2), round(ny - PAD / 2))
        finger.pointer_up()
        actions.perform()
    return state(driver)


def drop_file(driver, name, data):
    """Drops a file with these bytes on the page, as a drag from the desktop does."""
    driver.execute_script(
        "const bytes = Uint8Array.from(atob(arguments[1]), (c) => c.charCodeAt(0));"
        "const dt = new DataTransfer();"
        "dt.items.add(new File([bytes], arguments[0]));"
        "document.body.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true}));",
        name, base64.b64encode(data).decode())


def shown_frame(driver):
    """The 28 x 28 input as the page shows it (the frame canvas's pixels)."""
    return driver.execute_script(
        "const c = document.getElementById('frame').getContext('2d');"
        "return Array.from(c.getImageData(0, 0, 28, 28).data.filter((_, i) => i % 4 == 0));")


def pad_png(driver):
    url = driver.execute_script("return document.getElementById('pad').toDataURL('image/png')")
    return base64.b64decode(url.split(",", 1)[1])


def native_predict(cli, model, path):
    out = subprocess.run([cli, "predict", model, path, "--json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)["predictions"][0]


def frame_properties(frame):
    """Ink bounding box and centre of mass of a 28 x 28 frame."""
    ink = [(i % 28, i // 28, v) for i, v in enumerate(frame) if v]
    xs = [x for x, _, _ in ink]
    ys = [y for _, y, _ in ink]
    mass = sum(v for _, _, v in ink)
    cx = sum((x + 0.5) * v for x, _, v in ink) / mass
    cy = sum((y + 0.5) * v for _, y, v in ink) / mass
    return max(xs) - min(xs) + 1, max(ys) - min(ys) + 1, cx, cy


def check_digits(driver, f, cli, model, work, where):
    for digit, strokes in DIGITS.items():
        s = draw(driver, strokes)
        f.check(s["digit"] == digit, f"{where}: drawn {digit} answered {s['digit']} "
                                     f"(p = {max(s['probabilities'] or [0]):.3f})")
        shown = [driver.find_element(By.ID, f"p-{c}").text for c in range(10)]
        f.check(driver.find_element(By.ID, "digit").text == str(s["digit"]) and
                all(t.endswith("%") and abs(float(t[:-1]) - 100 * p) <= 0.051
                    for t, p in zip(shown, s["probabilities"])),
                f"{where}: the page shows that answer and a bar per class ({shown[digit]})")
        frame = shown_frame(driver)
        w, h, cx, cy = frame_properties(frame)
        f.check(19 <= max(w, h) <= 20 and abs(cx - 14) <= 1 and abs(cy - 14) <= 1,
                f"{where}: {digit}'s input is MNIST-like (ink {w}x{h}, centre of mass {cx:.1f}, {cy:.1f})")
        if digit == 1:
            f.check(w * 2 < h, f"{where}: the 1 is tall and narrow ({w}x{h})")
        # The native runtime and preprocessing on the same pixels (a PNG of
        # the pad), and on the frame the page shows (a .raw file).
        png = os.path.join(work, f"pad-{digit}.png")
        raw = os.path.join(work, f"frame-{digit}.raw")
        with open(png, "wb") as out:
            out.write(pad_png(driver))
        with open(raw, "wb") as out:
            out.write(bytes(frame))
        from_png, from_raw = native_predict(cli, model, png), native_predict(cli, model, raw)
        f.check(from_png["probabilities"] == from_raw["probabilities"],
                f"{where}: native preprocessing of the pad's pixels gives the input the page shows")
        f.check(from_png["digit"] == s["digit"] and
                all(abs(a - b) < 1e-6 for a, b in zip(from_png["probabilities"], s["probabilities"])),
                f"{where}: the page's answer and probabilities equal the native ones")
        latency = s["latency_us"] or 0
        f.check(0 < latency < 1000 and driver.find_element(By.ID, "latency").text.endswith("calls)"),
                f"{where}: forward-pass latency shown ({latency:.2f} us)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("outdir")
    parser.add_argument("cli")
    parser.add_argument("--screenshot")
    a = parser.parse_args()
    outdir = os.path.abspath(a.outdir)
    model = os.path.join(outdir, "model.q8")
    f = Failures()
    server = start_server(outdir)
    driver = browser()
    with tempfile.TemporaryDirectory() as work:
        try:
            driver.get(f"http://127.0.0.1:{server.server_address[1]}/index.html")
            wait_for(driver, "return window.edgemlpPad && window.edgemlpPad.state.ready", "the pad")
            s = state(driver)
            f.check(s["model"] == "model.q8" and not s["error"], f"default model loaded ({s['error']})")
            f.check(s["target"] == "WASM", f"SIMD target WASM ({s['target']})")
            f.check(driver.find_element(By.ID, "target").text.startswith("WASM"), "target shown")
            check_digits(driver, f, a.cli, model, work, "served")
            if a.screenshot:
                draw(driver, DIGITS[7])
                driver.save_screenshot(a.screenshot)
                print(f"screenshot {a.screenshot}")

            # Bad blob: the loader's message is shown, the model stays.
            bad = os.path.join(work, "bad.q8")
            with open(bad, "wb") as out:
                out.write(b"not a blob" * 20)
            driver.find_element(By.ID, "blob-file").send_keys(bad)
            message = wait_for(driver, "return document.getElementById('message').className == 'error'"
                               " && document.getElementById('message').textContent", "an error message")
            f.check(message.startswith("bad.q8: bad_magic"), f"bad blob rejected: {message!r}")
            f.check(state(driver)["model"] == "model.q8", "the previous model stays loaded")
            # Another (valid) blob through the picker.
            other = os.path.join(work, "other.q8")
            with open(model, "rb") as src, open(other, "wb") as out:
                out.write(src.read())
            driver.find_element(By.ID, "blob-file").send_keys(other)
            wait_for(driver, "return window.edgemlpPad.state.model == 'other.q8'", "the other blob")
            f.check(draw(driver, DIGITS[1])["digit"] == 1, "the loaded blob answers")
            # Drag and drop: a bad file, then a good one.
            drop_file(driver, "dropped-bad.q8", b"EMLP" + bytes(60))
            message = wait_for(driver, "return document.getElementById('message').textContent"
                               ".startsWith('dropped-bad.q8') && "
                               "document.getElementById('message').textContent", "the dropped file's error")
            f.check(state(driver)["model"] == "other.q8", f"a bad dropped blob is refused: {message!r}")
            with open(model, "rb") as src:
                drop_file(driver, "dropped.q8", src.read())
            wait_for(driver, "return window.edgemlpPad.state.model == 'dropped.q8'", "the dropped blob")
            # A finger instead of a mouse.
            driver.execute_script("window.pointerTypes = new Set(); document.getElementById('pad')"
                                  ".addEventListener('pointerdown', (e) => pointerTypes.add(e.pointerType));")
            s = draw_touch(driver, DIGITS[0])
            types = driver.execute_script("return Array.from(window.pointerTypes)")
            f.check(s["model"] == "dropped.q8" and s["digit"] == 0 and types == ["touch"],
                    f"the dropped blob answers a 0 drawn by touch ({s['digit']}, pointers {types})")

            # Offline: the same folder opened from file://.
            driver.get("file://" + os.path.join(outdir, "index.html"))
            wait_for(driver, "return window.edgemlpPad && window.edgemlpPad.state.ready", "the file:// pad")
            s = draw(driver, DIGITS[0])
            f.check(s["model"] == "model.q8" and s["digit"] == 0, "file://: default model loads and answers 0")
        finally:
            driver.quit()
            server.shutdown()
    print(f"web pad: {'FAILED: ' + '; '.join(f.items) if f.items else 'all checks passed'}")
    return 1 if f.items else 0


if __name__ == "__main__":
    sys.exit(main())
