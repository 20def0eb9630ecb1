"""The clinical report (report.html) in headless Chromium, for the browser tests.

Shared by clinical_report_browser_test.py (a stored result rendered by report_render) and
src/service/tests/artifacts_shared_clips_test.py (the reports `dancer-analysis analyze` writes
for the shared clips). Standard library only.

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
NUL-terminated JSON on fds 3 and 4), so nothing listens on a port and no package is needed.
inspect_report() checks one page:
  * no console error, no uncaught exception, no request for anything but the page itself;
  * at desktop width (1280 px) nothing is wider than the window; a full-page screenshot;
  * with print media at the A4 printable width (210 mm - 2 x 14 mm margins), no element's box
    reaches past it (nothing cut), and tables and figures are kept whole (break-inside: avoid);
  * the A4 PDF (Page.printToPDF, the page's own @page size) has A4 pages, in the expected
    number;
  * every figure the page shows (data-metric / data-value) equals the result's value, its text
    is that value rounded, and the event markers are the result's events.
Failures are collected in `failures` (check()), so one run reports all of them.
"""

import base64
import json
import math
import os
import re
import select
import subprocess
import time

CHROMIUM = "/usr/bin/chromium"
A4_MARGIN_MM = 14  # @page margins in clinical_report.cpp
A4_CONTENT_WIDTH_MM = 210 - 2 * A4_MARGIN_MM
PX_PER_MM = 96 / 25.4  # CSS pixels
DESKTOP_WIDTH = 1280

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


class Browser:
    """Headless Chromium with the DevTools protocol on a pipe."""

    def __init__(self, profile, log):
        to_r, self.w = os.pipe()
        self.r, from_w = os.pipe()
        # The protocol reads fd 3 and writes fd 4 of the browser process. bash, not sh: dash
        # redirects only single-digit descriptors, and a pipe opened after a few others is >= 10.
        cmd = ["/bin/bash", "-c", f'exec "$0" "$@" 3<&{to_r} 4>&{from_w}', CHROMIUM,
               "--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
               "--no-first-run", "--no-default-browser-check", "--disable-extensions",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", "--user-data-dir=" + profile, "about:blank"]
        self.proc = subprocess.Popen(cmd, pass_fds=(to_r, from_w), stdout=log, stderr=log)
        os.close(to_r)
        os.close(from_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def _read(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.r], [], [], left)[0]:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the protocol pipe")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method, params=None, session=None, timeout=60):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.w, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m["result"]
            self.events.append(m)

    def wait_for(self, method, timeout=60):
        deadline = time.monotonic() + timeout
        for m in self.events:
            if m.get("method") == method:
                return m
        while True:
            m = self._read(deadline)
            self.events.append(m)
            if m.get("method") == method:
                return m

    def evaluate(self, session, expression):
        r = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                      session)
        if "exceptionDetails" in r:
            raise RuntimeError(f"page script failed: {r['exceptionDetails']}")
        return json.loads(r["result"]["value"])

    def open(self, html):
        """A tab with `html` loaded at desktop width; returns its session id."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=sid)
        self.viewport(sid, DESKTOP_WIDTH, 900)
        self.send("Page.navigate", {"url": "file://" + os.path.abspath(html)}, sid)
        self.wait_for("Page.loadEventFired")
        return sid

    def viewport(self, sid, width, height):
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, sid)

    def content_height(self, sid):
        metrics = self.send("Page.getLayoutMetrics", session=sid)
        return math.ceil(metrics["cssContentSize"]["height"])

    def screenshot(self, sid, clip=None):
        params = {"format": "png"}
        if clip:
            params["clip"] = {**clip, "scale": 1}
        return base64.b64decode(self.send("Page.captureScreenshot", params, sid)["data"])

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except Exception:  # the browser may close the pipe before answering
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.r)
        os.close(self.w)


def resolve(analysis, path):
    node = analysis
    for part in path.split("."):
        if isinstance(node, list):
            node = node[int(part)]
        else:
            node = node[part]
    return node


def expected_value(analysis, metric):
    """(value, n) the page should show for a data-metric."""
    if metric.startswith("summary."):
        key = metric[len("summary."):]
        values = [s[key] for s in analysis["strides"] if isinstance(s.get(key), (int, float))]
        return (sum(values) / len(values) if len(values) >= 3 else None), len(values)
    return resolve(analysis, metric), None


def check_figures(analysis, figures, absent=()):
    """The page's figures against the result, and that every figure the result has is shown,
    except in the sections (`absent`: "per-side", "symmetry", "kinematics") the page says it
    left out, which must be those the result has no values for."""
    if "per-side" in absent or "symmetry" in absent:
        check(not analysis["strides"], f"{sorted(absent)} left out, yet there are "
              f"{len(analysis['strides'])} strides")
    if "kinematics" in absent:
        cycles = analysis["kinematics"]["cycles"]
        means = [cycles[side][joint]["mean"] for side in ("left", "right")
                 for joint in ("hip", "knee", "ankle")]
        check(all(m is None for m in means), "joint angles left out, yet the result has curves")
    seen = set()
    for metric, value, n, text in figures:
        seen.add(metric)
        try:
            expected, expected_n = expected_value(analysis, metric)
        except (KeyError, IndexError, ValueError):
            check(False, f"{metric}: not in the result")
            continue
        shown = json.loads(value)
        if expected is None or shown is None:
            check(expected is None and shown is None, f"{metric}: page {shown}, result {expected}")
            check(shown is not None or text.strip() == "—", f"{metric}: null shown as {text!r}")
            continue
        check(math.isclose(shown, expected, rel_tol=1e-12, abs_tol=1e-12),
              f"{metric}: page {shown}, result {expected}")
        if expected_n is not None:
            check(n is not None and int(n) == expected_n, f"{metric}: n {n}, strides {expected_n}")
        # The text is the value rounded to the decimals shown (passes are shown 1-based).
        digits = text.strip()
        if metric.startswith("strides.") and metric.endswith(".pass"):
            check(int(digits) == expected + 1, f"{metric}: shown {digits!r}")
            continue
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        check(abs(float(digits) - expected) <= 0.5 * 10 ** -decimals + 1e-9,
              f"{metric}: shown {digits!r}, value {expected}")
    # What must be on the page.
    required = ["cadence_steps_per_min", "walking_speed.m_per_s", "summary.stride_time_s",
                "summary.step_length_m", "summary.double_support_pct", "summary.stance_pct",
                "subject_height_m", "quality.duration_s"]
    for side in ("left", "right"):
        for measure in analysis["per_side"][side] if "per-side" not in absent else ():
            if measure.endswith("_body_heights"):
                continue  # lengths are shown in metres when the subject's height is known
            for stat in ("mean", "cv", "n"):
                required.append(f"per_side.{side}.{measure}.{stat}")
        for peak in analysis["kinematics"]["peaks"][side] if "kinematics" not in absent else ():
            required.append(f"kinematics.peaks.{side}.{peak}.mean")
    for key in ("step_time", "swing_time", "step_length") if "symmetry" not in absent else ():
        required.append(f"symmetry.{key}.pct")
    for i, stride in enumerate(analysis["strides"]):
        for key in ("start_s", "stride_time_s", "step_time_s", "stance_pct", "swing_pct",
                    "single_support_pct", "double_support_pct", "step_length_m",
                    "stride_length_m"):
            required.append(f"strides.{i}.{key}")
    missing = [m for m in required if m not in seen]
    check(not missing, f"figures missing from the page: {missing}")
    return len(figures)


FIGURES_JS = """JSON.stringify(Array.from(document.querySelectorAll('[data-metric]')).map(
  e => [e.dataset.metric, e.dataset.value, e.dataset.n || null, e.textContent]))"""

EVENTS_JS = """JSON.stringify(Array.from(document.querySelectorAll(
  '[data-figure=timeline] [data-event]')).map(
  e => [e.dataset.foot, e.dataset.event, parseFloat(e.dataset.timeS)]))"""

OVERFLOW_JS = """(() => {
  const W = document.documentElement.clientWidth;
  const bad = [];
  for (const e of document.querySelectorAll('body *')) {
    const r = e.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > W + 0.5 || r.left < -0.5) {
      bad.push(e.tagName + (e.id ? '#' + e.id : '') + ' ' + r.left.toFixed(1) + '..' +
               r.right.toFixed(1));
    }
  }
  const loose = [];
  for (const e of document.querySelectorAll('table, figure')) {
    if (getComputedStyle(e).breakInside !== 'avoid') loose.push(e.tagName);
  }
  return JSON.stringify({width: W, scroll: document.documentElement.scrollWidth,
                         bad: bad.slice(0, 20), n: bad.length, loose: loose});
})()"""

# Sections the page leaves out with a reason (no strides, no joint-angle curves).
ABSENT_JS = """JSON.stringify(['per-side', 'symmetry', 'kinematics'].filter(
  s => document.querySelector('[data-' + s + '=none]')))"""

KEY_FRAMES_JS = "JSON.stringify(document.querySelectorAll('.key-frame img').length)"


def png_size(data):
    check(data[:8] == b"\x89PNG\r\n\x1a\n", "screenshot is not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def pdf_pages(pdf):
    """Page objects and their MediaBoxes (Chromium's PDFs keep page dictionaries uncompressed)."""
    pages = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))
    boxes = [tuple(float(x) for x in m.groups()) for m in re.finditer(
        rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]", pdf)]
    return pages, boxes


def console_problems(browser):
    """What the page said to the console (a Content-Security-Policy violation is a browser
    error there), and what it tried to load."""
    problems = []
    for m in browser.events:
        method, params = m.get("method"), m.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            problems.append(f"console {params['type']}: {params.get('args')}")
        elif method == "Runtime.exceptionThrown":
            problems.append(f"exception: {params.get('exceptionDetails')}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            problems.append(f"browser error: {params['entry'].get('text')}")
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if not (url.startswith("file://") or url.startswith("data:")):
                problems.append(f"the page requested {url}")
    return problems


def check_console(browser):
    for problem in console_problems(browser):
        check(False, problem)


# A script, a style attribute, a style sheet and an image the policy does not allow, put into a
# copy of a report: each must be refused, and each refusal must reach console_problems.
CSP_PROBE = ('<script>document.title = "script ran"</script>'
             '<p id="csp-probe-style" style="color: rgb(255, 0, 0)">probe</p>'
             '<style>#csp-probe-style { background: rgb(0, 255, 0) }</style>'
             '<img id="csp-probe-img" alt="" src="file:///dev/null">')
CSP_PROBE_JS = """JSON.stringify((() => {
  const p = document.getElementById("csp-probe-style");
  const csp = document.querySelector('meta[http-equiv="Content-Security-Policy"]');
  return {title: document.title, color: getComputedStyle(p).color,
          background: getComputedStyle(p).backgroundColor,
          policy: csp ? csp.content : null,
          policy_first: csp !== null && csp === document.head.children[1]};
})())"""


def check_content_security_policy(html, work):
    """The report's policy is in force: a copy with CSP_PROBE after <body> runs no script and
    applies none of the probe's styles, and every violation shows as a console problem, so a
    violation by the report itself fails inspect_report."""
    with open(html, encoding="utf-8") as f:
        page = f.read()
    if not check("<body>" in page, "no <body> in the report"):
        return
    probe = os.path.join(work, "csp-probe.html")
    with open(probe, "w", encoding="utf-8") as f:
        f.write(page.replace("<body>", "<body>" + CSP_PROBE, 1))
    with open(os.path.join(work, "chromium-csp.log"), "w") as log:
        browser = Browser(os.path.join(work, "profile-csp"), log)
        try:
            sid = browser.open(probe)
            seen = browser.evaluate(sid, CSP_PROBE_JS)
            time.sleep(0.5)  # violations are reported asynchronously
            browser.send("Runtime.evaluate", {"expression": "0"}, sid)
            problems = [p for p in console_problems(browser) if "Content Security Policy" in p]
        finally:
            browser.close()
    check(seen["policy"] is not None and "default-src 'none'" in seen["policy"],
          f"the report's Content-Security-Policy: {seen['policy']}")
    check(seen["policy_first"], "the Content-Security-Policy is not first after the charset")
    check(seen["title"] != "script ran", "an injected script ran despite the policy")
    check(seen["color"] != "rgb(255, 0, 0)", "an injected style attribute applied")
    check(seen["background"] != "rgb(0, 255, 0)", "an injected style sheet applied")
    for what in ("script", "style", "img"):
        check(any(what in p.lower() for p in problems),
              f"no console error for the refused {what}: {problems}")
    return problems


def inspect_report(html, analysis, out_dir, work, pages):
    """Every check of the module docstring on `html` against `analysis` (the result's analysis
    object), in a fresh browser. Writes report-desktop.png, report-print.png and report.pdf
    into out_dir; `pages` is the (min, max) number of A4 pages expected. Returns what it saw."""
    os.makedirs(out_dir, exist_ok=True)
    seen = {}
    with open(os.path.join(out_dir, "chromium.log"), "w") as log:
        browser = Browser(os.path.join(work, "profile"), log)
        try:
            sid = browser.open(html)

            # The figures against the result.
            seen["absent"] = browser.evaluate(sid, ABSENT_JS)
            seen["figures"] = check_figures(analysis, browser.evaluate(sid, FIGURES_JS),
                                            seen["absent"])
            events = browser.evaluate(sid, EVENTS_JS)
            stored = sorted((e["foot"], e["type"], e["time_s"]) for e in analysis["events"])
            check(sorted((f, t, s) for f, t, s in events) == stored,
                  f"timeline events {events} differ from the result's {stored}")
            seen["events"] = len(events)
            seen["key_frames"] = browser.evaluate(sid, KEY_FRAMES_JS)

            # Desktop: nothing wider than the window; a full-page screenshot.
            desktop = browser.evaluate(sid, OVERFLOW_JS)
            check(desktop["scroll"] <= DESKTOP_WIDTH, f"desktop: page {desktop['scroll']} px wide")
            browser.viewport(sid, DESKTOP_WIDTH, browser.content_height(sid))
            shot = browser.screenshot(sid)
            with open(os.path.join(out_dir, "report-desktop.png"), "wb") as f:
                f.write(shot)
            seen["desktop_width"], seen["desktop_height"] = png_size(shot)
            check(seen["desktop_width"] == DESKTOP_WIDTH,
                  f"screenshot {seen['desktop_width']} px wide")
            check(len(shot) > 100_000, f"screenshot of {len(shot)} bytes: a blank page?")

            # Print: the A4 printable width, print media; nothing reaches past it.
            print_width = math.floor(A4_CONTENT_WIDTH_MM * PX_PER_MM)
            browser.send("Emulation.setEmulatedMedia", {"media": "print"}, sid)
            browser.viewport(sid, print_width, 1100)
            printed = browser.evaluate(sid, OVERFLOW_JS)
            check(printed["width"] == print_width, f"print layout {printed['width']} px wide")
            check(printed["n"] == 0 and printed["scroll"] <= print_width,
                  f"print: {printed['n']} elements past {print_width} px "
                  f"(page {printed['scroll']} px): {printed['bad']}")
            check(not printed["loose"],
                  f"tables/figures that may split across pages: {printed['loose']}")
            browser.viewport(sid, print_width, browser.content_height(sid))
            with open(os.path.join(out_dir, "report-print.png"), "wb") as f:
                f.write(browser.screenshot(sid))
            browser.send("Emulation.clearDeviceMetricsOverride", session=sid)
            browser.send("Emulation.setEmulatedMedia", {"media": ""}, sid)
            seen["print_width"] = print_width
            seen["print_overflow"] = printed["n"]

            pdf = base64.b64decode(browser.send(
                "Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True}, sid,
                timeout=120)["data"])
            with open(os.path.join(out_dir, "report.pdf"), "wb") as f:
                f.write(pdf)
            seen["pages"], boxes = pdf_pages(pdf)
            check(pages[0] <= seen["pages"] <= pages[1],
                  f"{seen['pages']} PDF pages, expected {pages[0]}-{pages[1]}")
            check(boxes and all(abs(b[2] - b[0] - 595.3) < 2 and abs(b[3] - b[1] - 841.9) < 2
                                for b in boxes), f"PDF pages not A4: {boxes[:3]}")
            check_console(browser)
        finally:
            browser.close()
    return seen
