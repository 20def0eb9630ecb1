"""The clinical report in a real browser (ctest clinical_report_browser).

Renders a stored result with report_render and runs report_browser.inspect_report on it
(headless Chromium over the DevTools protocol on a pipe: console and network, overflow at
desktop and A4 printable width, the A4 PDF's pages, every data-metric figure and event marker
against the result), and checks that every initial contact has its key frame.
Key frames are cut from the shared kevin1 clip (the example's source) at its initial contacts;
the keypoint signals are drawn through the example's events (the result does not store them).
Writes report.html, report-desktop.png, report-print.png and report.pdf into --out-dir.
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import report_browser
from report_browser import CHROMIUM, check, failures

PAGES = (4, 9)  # the example report: measured 7 pages


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def key_frames(analysis, video, work):
    """The initial contacts' frames: from the clip when it is there, else a test pattern."""
    specs = []
    for e in analysis["events"]:
        if e["type"] != "initial_contact":
            continue
        png = os.path.join(work, f"frame-{e['frame']}.png")
        if os.path.exists(video):
            src = ["-ss", f"{e['frame'] / analysis['quality']['fps']:.4f}", "-i", video]
        else:
            src = ["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30"]
        run(["ffmpeg", "-v", "error", "-y", *src, "-frames:v", "1", "-vf", "scale=640:-2", png])
        specs.append(f"{png},{e['frame']},{e['time_s']},{e['foot']} initial contact")
    return specs


def signals(analysis, path):
    """Heel-ahead curves through the events: +0.25 body heights at each contact, -0.25 at each
    toe-off, cosine between; null outside the passes."""
    fps = analysis["quality"]["fps"]
    frames = analysis["quality"]["frames"]
    times = [f / fps for f in range(frames)]
    out = {"time_s": times}
    for foot in ("left", "right"):
        knots = [(e["time_s"], 0.25 if e["type"] == "initial_contact" else -0.25)
                 for e in analysis["events"] if e["foot"] == foot]
        values = []
        for t in times:
            in_pass = any(p["start_s"] <= t <= p["end_s"] for p in analysis["passes"])
            v = None
            if in_pass and knots:
                if t <= knots[0][0]:
                    v = knots[0][1]
                elif t >= knots[-1][0]:
                    v = knots[-1][1]
                else:
                    for (t0, v0), (t1, v1) in zip(knots, knots[1:]):
                        if t0 <= t <= t1:
                            w = (1 - math.cos(math.pi * (t - t0) / (t1 - t0))) / 2
                            v = v0 + w * (v1 - v0)
                            break
            values.append(v)
        out[foot] = values
    with open(path, "w") as f:
        json.dump(out, f)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--render", required=True)
    parser.add_argument("--results", required=True)
    parser.add_argument("--video", required=True)
    parser.add_argument("--out-dir", required=True)
    args = parser.parse_args()
    if not check(os.access(CHROMIUM, os.X_OK),
                 f"{CHROMIUM} missing: scripts/install-deps.sh --with-test-extras installs it"):
        print("\n".join(failures))
        return 1
    os.makedirs(args.out_dir, exist_ok=True)
    with open(args.results) as f:
        analysis = json.load(f)["analysis"]

    work = tempfile.mkdtemp(prefix="clinical-report-")
    try:
        html = os.path.join(args.out_dir, "report.html")
        render = [args.render, args.results, html, "--job", "42", "--processed-at", "1764316800"]
        if os.path.exists(args.video):
            meta = os.path.join(work, "metadata.json")
            with open(meta, "w") as f:
                subprocess.run(["ffprobe", "-v", "quiet", "-print_format", "json", "-show_format",
                                "-show_streams", args.video], check=True, stdout=f)
            render += ["--metadata", meta]
        signals_path = os.path.join(work, "signals.json")
        signals(analysis, signals_path)
        render += ["--signals", signals_path]
        for spec in key_frames(analysis, args.video, work):
            render += ["--key-frame", spec]
        run(render)

        seen = report_browser.inspect_report(html, analysis, args.out_dir, work, PAGES)
        # The report's Content-Security-Policy holds, and what it refuses reaches the console
        # that inspect_report checks.
        csp_errors = report_browser.check_content_security_policy(html, work)
        contacts = sum(e["type"] == "initial_contact" for e in analysis["events"])
        check(seen.get("key_frames") == contacts, f"{seen.get('key_frames')} key frames shown")
        print(f"clinical_report_browser: {seen.get('figures')} figures checked against the "
              f"result, {seen.get('events')} events, {seen.get('key_frames')} key frames; "
              f"desktop screenshot {seen.get('desktop_width')} px wide; print width "
              f"{seen.get('print_width')} px, {seen.get('print_overflow')} elements past it; "
              f"PDF {seen.get('pages')} A4 pages; {len(csp_errors or [])} injected violations "
              f"refused and reported; output in {args.out_dir}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for message in failures:
        print("FAIL:", message)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
