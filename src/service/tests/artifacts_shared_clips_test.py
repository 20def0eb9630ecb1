#!/usr/bin/python3
"""Every artifact of `dancer-analysis analyze` on every shared clip (ctest artifacts_shared_clips).

For each walking clip in ../shared/testdata/videos, the real binary runs
`analyze CLIP --report-dir DIR --subject-height-m 1.70` (the sandboxed child, the default
pose-gait analysis) and `pose CLIP` (the keypoint track, for where the skeleton must be drawn).
Then, against the analysis JSON the command printed:
  * report.html: report_browser.inspect_report (headless Chromium: no console error, no
    request, nothing wider than 1280 px nor past the A4 printable width, A4 PDF pages in range,
    every data-metric figure and event marker equal to the analysis), and the key frames the
    analyzer picks (the initial contacts, at most 6);
  * overlay.mp4 (ffprobe, ffmpeg): H.264, as many frames as the source, the same duration to
    within a frame, the size overlay.cpp derives (the picture scaled to fit 720 lines with the
    timeline strip under it), moov before mdat (faststart); in frames where the legs are apart,
    the knees and ankles of the pose track, scaled to the picture, lie on skeleton pixels of
    the leg colours (Okabe-Ito sky blue and orange, one per leg), and those colours are drawn
    nowhere far from the person; the events' ticks on the timeline strip are in their foot's
    colour. The front-view clip has no walking pass, so its legs must be drawn neutral grey:
    there its knees and ankles must lie on neutral skeleton pixels and no leg colour may be
    drawn anywhere;
  * fhir.json: valid R4 by tools/fhir_validator/validate.mjs; the cadence and walking-speed
    Observations equal the analysis (or carry dataAbsentReason where it is null); the
    DiagnosticReport's presented form is report.html, byte for byte, with its SHA-1;
  * strides.csv: one row per analysis.strides entry, every cell equal to the JSON's;
  * proxy.mp4 and poster.jpg (issue 19): H.264 yuv420p at most 720 lines, as many frames and as
    long as the source, AAC exactly when the source has sound, moov before mdat; the poster a
    JPEG of the proxy's size.
"Drawn" means the overlay's pixel differs from the source frame decoded and scaled as the
renderer does (swscale bilinear), so colours of the scene itself never count.
Screenshots, the PDF, the artifacts and the JSON of each clip stay in --out-dir/<clip>/.

With --readme-images DIR it instead writes the README's pictures of the report of the gym clip
(docs/images/README.md): report-gym-desktop.png and report-gym-print-page1.png.
Standard library only; needs chromium, ffmpeg/ffprobe and node (scripts/install-deps.sh).
"""

import argparse
import base64
import csv
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "render", "tests"))
import report_browser  # noqa: E402  (beside clinical_report_browser_test.py)
from report_browser import CHROMIUM, check, failures  # noqa: E402

CLIPS = ["side_gaitcdio_4markerskevin1.mp4", "side_sports2d_demo4_gym.mp4",
         "side_sarweshshah_outdoor.mp4", "front_assemblyai_walking_cane.mp4"]
README_CLIP = "side_sports2d_demo4_gym.mp4"  # BSD-3-Clause (Sports2D)
SUBJECT_HEIGHT_M = 1.70
# A4 pages: measured 4 (front view, no strides) to 7 (two passes, 11 strides); more than 10
# would mean a layout gone wrong (a table per page, a figure blown up).
PAGES = (3, 10)
REPORT_KEY_FRAMES = 6  # PoseGaitConfig::report_key_frames

# overlay.h / overlay.cpp
OVERLAY_MAX_HEIGHT = 720
MIN_VISIBILITY = 0.3  # landmarks below it are not drawn
LEG_LANDMARKS = {"model left": (25, 27), "model right": (26, 28)}  # knee, ankle
OTHER_LEG = {25: (24, 26, 28, 30, 32), 27: (24, 26, 28, 30, 32),
             26: (23, 25, 27, 29, 31), 28: (23, 25, 27, 29, 31)}
NEAR_PX = 6  # joint discs have a radius of thickness + 1 = 5 px at 688 lines
DRAWN = 60  # |overlay - source| summed over R, G, B: the renderer drew here
FAR_PX = 40  # "far from the person": this much outside the box of its visible landmarks


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


# ----------------------------------------------------------------------------- the binary


def analyze(binary, clip, report_dir):
    out = run([binary, "analyze", clip, "--report-dir", report_dir, "--subject-height-m",
               str(SUBJECT_HEIGHT_M)], stdout=subprocess.PIPE).stdout
    return json.loads(out)


def pose_track(binary, clip, save):
    """frame index -> 33 landmarks [x, y, z, visibility, presence], in the source's pixels."""
    out = run([binary, "pose", clip], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    with open(save, "wb") as f:
        f.write(out)
    return read_track(out.decode())


def read_track(lines):
    track = {}
    for line in lines.splitlines():
        d = json.loads(line)
        if d.get("person"):
            track[d["frame"]] = d["landmarks"]
    return track


# ----------------------------------------------------------------------------- overlay.mp4


def probe_video(path, count=True):
    cmd = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
           "stream=codec_name,width,height,nb_read_frames,nb_frames,duration,avg_frame_rate",
           "-of", "json", path]
    if count:
        cmd.insert(1, "-count_frames")
    return json.loads(run(cmd, stdout=subprocess.PIPE).stdout)["streams"][0]


def top_level_boxes(path):
    """The MP4's top-level box types in file order (ISO/IEC 14496-12 4.2: 32-bit size, type;
    size 1: a 64-bit size follows; size 0: to the end of the file)."""
    boxes = []
    size_total = os.path.getsize(path)
    with open(path, "rb") as f:
        pos = 0
        while pos + 8 <= size_total:
            f.seek(pos)
            header = f.read(16)
            size = int.from_bytes(header[:4], "big")
            kind = header[4:8].decode("latin-1")
            if size == 1:
                size = int.from_bytes(header[8:16], "big")
            elif size == 0:
                size = size_total - pos
            if size < 8:
                boxes.append(kind + "?")
                break
            boxes.append(kind)
            pos += size
    return boxes


# ----------------------------------------------------------------------- proxy.mp4, poster.jpg


def check_proxy(name, out, source):
    """The web-playable copy: H.264 yuv420p, at most 720 high, upright (the source's shown size
    scaled down), as many frames and as long as the source (within a frame), AAC when the
    source has sound, faststart; the poster a JPEG of the same size."""
    proxy = os.path.join(out, "proxy.mp4")
    streams = json.loads(run(["ffprobe", "-v", "error", "-show_entries",
                              "stream=codec_type,codec_name,pix_fmt,width,height", "-of", "json",
                              proxy], stdout=subprocess.PIPE).stdout)["streams"]
    kinds = {s["codec_type"]: s for s in streams}
    video = kinds.get("video", {})
    check(video.get("codec_name") == "h264" and video.get("pix_fmt") == "yuv420p",
          f"{name}: proxy video {video}")
    src = probe_video(source, count=False)
    src_audio = run(["ffprobe", "-v", "error", "-select_streams", "a", "-show_entries",
                     "stream=codec_name", "-of", "csv=p=0", source],
                    stdout=subprocess.PIPE).stdout.strip()
    check(("audio" in kinds) == bool(src_audio), f"{name}: proxy audio {kinds.get('audio')}")
    if "audio" in kinds:
        check(kinds["audio"]["codec_name"] == "aac", f"{name}: proxy audio {kinds['audio']}")
    check(video.get("height", 0) <= 720 and video.get("height", 0) % 2 == 0
          and video.get("width", 0) % 2 == 0, f"{name}: proxy size {video}")
    counted = probe_video(proxy)
    source_frames = int(probe_video(source).get("nb_read_frames", 0))
    check(abs(int(counted.get("nb_read_frames", 0)) - source_frames) <= 1,
          f"{name}: proxy {counted.get('nb_read_frames')} frames, source {source_frames}")
    check(abs(float(counted["duration"]) - float(src["duration"])) <= 1.5 / 30,
          f"{name}: proxy {counted['duration']} s, source {src['duration']} s")
    boxes = top_level_boxes(proxy)
    check("moov" in boxes and "mdat" in boxes and boxes.index("moov") < boxes.index("mdat"),
          f"{name}: proxy boxes {boxes}")
    poster = json.loads(run(["ffprobe", "-v", "error", "-show_entries",
                             "stream=codec_name,width,height", "-of", "json",
                             os.path.join(out, "poster.jpg")],
                            stdout=subprocess.PIPE).stdout)["streams"][0]
    check(poster.get("codec_name") == "mjpeg" and poster.get("width") == video.get("width")
          and poster.get("height") == video.get("height"), f"{name}: poster {poster}")
    return {"size": f"{video.get('width')}x{video.get('height')}", "audio": "audio" in kinds,
            "bytes": os.path.getsize(proxy)}


def timeline_height(picture_height):
    """overlay.cpp timeline_height(): 4.5 % of the picture, even, at least 12 lines."""
    return max(12, int(math.floor(picture_height * 0.045 / 2 + 0.5)) * 2)


def even_at_least_2(v):  # video_decoder.cpp
    return max(2, int(math.floor(v / 2 + 0.5)) * 2)


def overlay_geometry(src_w, src_h):
    """The picture's size and scale as render_overlay() plans them (no rotation)."""
    scale = min(1.0, (OVERLAY_MAX_HEIGHT - timeline_height(OVERLAY_MAX_HEIGHT)) / src_h)
    scaled_w, scaled_h = ((even_at_least_2(src_w * scale), even_at_least_2(src_h * scale))
                          if scale < 1 else (src_w, src_h))
    w, h = scaled_w & ~1, scaled_h & ~1
    return {"scaled_w": scaled_w, "scaled_h": scaled_h, "w": w, "h": h,
            "H": h + timeline_height(h), "sx": scaled_w / src_w, "sy": scaled_h / src_h}


def decode_frames(path, indices, w, h, scale=None):
    """Frames `indices` (0-based, in output order) as RGB24 bytes, w x h each."""
    vf = "select=" + "+".join(f"eq(n\\,{i})" for i in indices)
    if scale:
        vf += f",scale={scale[0]}:{scale[1]}:flags=bilinear,crop={w}:{h}:0:0"
    out = run(["ffmpeg", "-v", "error", "-i", path, "-vf", vf, "-fps_mode", "passthrough",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], stdout=subprocess.PIPE).stdout
    n = w * h * 3
    if not check(len(out) == n * len(indices),
                 f"{path}: {len(out)} bytes decoded for frames {indices} of {w}x{h}"):
        return None
    return [out[i * n:(i + 1) * n] for i in range(len(indices))]


def colour(r, g, b):
    """The leg colours of overlay.cpp after H.264: sky blue #56B4E9, orange #E69F00."""
    if b > 150 and b - r > 80 and 110 < g < 230:
        return "blue"
    if r > 170 and r - b > 120 and 100 < g < 210 and g < r - 20:
        return "orange"
    if max(r, g, b) - min(r, g, b) <= 40:
        return "neutral"  # the grey legs, the white body, the black outline
    return None


def scaled_landmarks(landmarks, geo):
    """Landmark k -> (x, y, visibility) in the overlay's pixels (pixel i's centre is i)."""
    return [(p[0] * geo["sx"] - 0.5, p[1] * geo["sy"] - 0.5, p[3]) for p in landmarks]


def pick_frames(track, geo, frames_in_passes, count=3, spacing=15):
    """Frames whose legs are drawn (visible, inside the picture) and whose knees and ankles are
    far from the other leg's points, so what is drawn around each is that leg's alone: the best
    separated, spread out."""
    margin = NEAR_PX + 2
    candidates = []
    for f in frames_in_passes:
        if f not in track:
            continue
        pts = scaled_landmarks(track[f], geo)
        if any(pts[k][2] < 0.5 or not margin <= pts[k][0] < geo["w"] - margin or
               not margin <= pts[k][1] < geo["h"] - margin for k in range(23, 33)):
            continue
        sep = min(math.dist(pts[k][:2], pts[j][:2]) for k, others in OTHER_LEG.items()
                  for j in others)
        candidates.append((sep, f))
    chosen = []
    for sep, f in sorted(candidates, reverse=True):
        if all(abs(f - c) >= spacing for c in chosen):
            chosen.append(f)
        if len(chosen) == count:
            break
    return sorted(chosen), {f: round(s, 1) for s, f in candidates if f in chosen}


def near_counts(over, src, w, cx, cy):
    counts = {"drawn": 0, "blue": 0, "orange": 0, "neutral": 0}
    for y in range(int(cy) - NEAR_PX - 1, int(cy) + NEAR_PX + 2):
        for x in range(int(cx) - NEAR_PX - 1, int(cx) + NEAR_PX + 2):
            if (x - cx) ** 2 + (y - cy) ** 2 > NEAR_PX ** 2:
                continue
            i = (y * w + x) * 3
            r, g, b = over[i], over[i + 1], over[i + 2]
            if abs(r - src[i]) + abs(g - src[i + 1]) + abs(b - src[i + 2]) <= DRAWN:
                continue
            counts["drawn"] += 1
            c = colour(r, g, b)
            if c:
                counts[c] += 1
    return counts


def far_leg_pixels(over, src, geo, pts, label_box):
    """Drawn leg-colour pixels of the picture outside the person's box (and the event labels'
    corner, drawn in the feet's colours)."""
    w, h = geo["w"], geo["h"]
    seen = [p for p in pts if p[2] >= MIN_VISIBILITY]
    x0 = min(p[0] for p in seen) - FAR_PX
    x1 = max(p[0] for p in seen) + FAR_PX
    y0 = min(p[1] for p in seen) - FAR_PX
    y1 = max(p[1] for p in seen) + FAR_PX
    n = 0
    for y in range(h):
        row = y * w * 3
        for x in range(w):
            if (x0 <= x <= x1 and y0 <= y <= y1) or (x < label_box[0] and y < label_box[1]):
                continue
            i = row + x * 3
            r, g, b = over[i], over[i + 1], over[i + 2]
            if colour(r, g, b) in ("blue", "orange") and \
                    abs(r - src[i]) + abs(g - src[i + 1]) + abs(b - src[i + 2]) > DRAWN:
                n += 1
    return n


def check_timeline(name, over, geo, analysis, shown_frame):
    """Each event's tick on the strip under the picture is in its foot's colour, capped white
    when the event is of low confidence (events that share a tick with another foot's, or the
    playhead's, are left out)."""
    w, h = geo["w"], geo["h"]
    total = analysis["quality"]["frames"]
    bar = geo["H"] - h

    def column(f):
        return min(max(int((f + 0.5) * w / total), 0), w - 1)

    checked = 0
    y = h + bar - 3  # initial contacts are full height, toe-offs the lower half
    for e in analysis["events"]:
        x = column(e["frame"])
        if any(o is not e and o["foot"] != e["foot"] and abs(column(o["frame"]) - x) <= 4
               for o in analysis["events"]) or abs(column(shown_frame) - x) <= 4:
            continue
        i = (y * w + x) * 3
        got = colour(over[i], over[i + 1], over[i + 2])
        want = "blue" if e["foot"] == "left" else "orange"
        check(got == want, f"{name}: timeline tick of {e['foot']} {e['type']} at frame "
              f"{e['frame']} (x {x}) is {got} {tuple(over[i:i + 3])}, expected {want}")
        # An event of low confidence (results 1.7.0) wears a white cap over the strip's top
        # quarter; any other contact's tick is in its colour there too.
        top = ((h + 1) * w + x) * 3
        capped = min(over[top:top + 3]) > 200
        if e.get("low_confidence"):
            check(capped, f"{name}: low-confidence {e['foot']} {e['type']} at frame "
                  f"{e['frame']} has no white cap {tuple(over[top:top + 3])}")
        elif e["type"] == "initial_contact":
            check(not capped, f"{name}: {e['foot']} initial contact at frame {e['frame']} is "
                  f"capped white without low confidence")
        checked += 1
    return checked


def check_overlay(name, path, source, analysis, track):
    info = {}
    src = probe_video(source)
    ov = probe_video(path)
    check(ov["codec_name"] == "h264", f"{name}: overlay codec {ov['codec_name']}")
    check(ov["nb_read_frames"] == src["nb_read_frames"],
          f"{name}: overlay has {ov['nb_read_frames']} frames, source {src['nb_read_frames']}")
    fps = analysis["quality"]["fps"]
    check(abs(float(ov["duration"]) - float(src["duration"])) <= 1 / fps + 1e-6,
          f"{name}: overlay lasts {ov['duration']} s, source {src['duration']} s")
    geo = overlay_geometry(src["width"], src["height"])
    check((ov["width"], ov["height"]) == (geo["w"], geo["H"]),
          f"{name}: overlay {ov['width']}x{ov['height']}, expected {geo['w']}x{geo['H']}")
    check(ov["height"] <= OVERLAY_MAX_HEIGHT, f"{name}: overlay {ov['height']} lines high")
    boxes = top_level_boxes(path)
    check("moov" in boxes and "mdat" in boxes and boxes.index("moov") < boxes.index("mdat"),
          f"{name}: overlay boxes {boxes}: moov must come before mdat (faststart)")
    check(analysis["quality"]["rotation_degrees"] == 0,
          f"{name}: a rotated source; the geometry here assumes none")
    info.update(frames=int(ov["nb_read_frames"]), size=f"{ov['width']}x{ov['height']}",
                boxes=boxes[:4])

    side_view = bool(analysis["passes"])
    in_passes = ([f for p in analysis["passes"] for f in range(p["first_frame"],
                                                                p["last_frame"] + 1)]
                 if side_view else sorted(track))
    frames, separation = pick_frames(track, geo, in_passes)
    if not check(len(frames) >= 2, f"{name}: {len(frames)} frames with the legs apart"):
        return info
    over = decode_frames(path, frames, geo["w"], geo["H"])
    scene = decode_frames(source, frames, geo["w"], geo["h"], (geo["scaled_w"], geo["scaled_h"]))
    if over is None or scene is None:
        return info
    label_box = (int(0.2 * geo["w"]), int(0.3 * geo["h"]))
    info["frames_checked"] = {}
    for f, o, s in zip(frames, over, scene):
        pts = scaled_landmarks(track[f], geo)
        legs = {}
        for leg, joints in LEG_LANDMARKS.items():
            for k in joints:
                c = near_counts(o, s, geo["w"], pts[k][0], pts[k][1])
                where = f"{name} frame {f}: landmark {k} ({leg} leg) at " \
                        f"({pts[k][0]:.0f}, {pts[k][1]:.0f})"
                if side_view:
                    top = max(("blue", "orange"), key=lambda col: c[col])
                    check(c[top] >= 10 and c[top] >= 0.8 * (c["blue"] + c["orange"]),
                          f"{where}: {c} within {NEAR_PX} px, expected one leg colour")
                    legs.setdefault(leg, set()).add(top)
                else:
                    check(c["neutral"] >= 10 and c["blue"] + c["orange"] == 0,
                          f"{where}: {c} within {NEAR_PX} px, expected neutral (grey) only")
        if side_view:
            check(all(len(v) == 1 for v in legs.values()) and
                  legs["model left"] != legs["model right"],
                  f"{name} frame {f}: leg colours {legs}: each leg one colour, the two different")
        far = far_leg_pixels(o, s, geo, pts, label_box if side_view else (0, 0))
        # A few stray pixels can come from H.264 ringing at the clock's and the labels' edges.
        check(far <= 20, f"{name} frame {f}: {far} leg-colour pixels drawn far from the person")
        info["frames_checked"][f] = {"separation_px": separation[f], "far_leg_pixels": far,
                                     "legs": {k: sorted(v) for k, v in legs.items()}}
    info["timeline_ticks"] = check_timeline(name, over[0], geo, analysis, frames[0])
    if side_view:
        check(info["timeline_ticks"] >= 2, f"{name}: {info['timeline_ticks']} ticks checked")
    return info


# ----------------------------------------------------------------------------- fhir.json


def check_fhir(name, path, validator, analysis, report_html):
    r = subprocess.run(["node", validator, path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    check(r.returncode == 0, f"{name}: fhir.json invalid: {r.stdout.decode()[:2000]}")
    with open(path) as f:
        bundle = json.load(f)
    resources = [e["resource"] for e in bundle["entry"]]
    observations = {}
    for res in resources:
        if res["resourceType"] == "Observation":
            observations[res["code"]["coding"][0]["code"]] = res

    def component(obs, code):
        for c in obs.get("component", []):
            if c["code"]["coding"][0]["code"] == code:
                return c
        return {}

    def value(code, expected, unit, count_code, count):
        obs = observations.get(code)
        if not check(obs is not None, f"{name}: no {code} Observation"):
            return
        if expected is None:
            check("dataAbsentReason" in obs and "valueQuantity" not in obs,
                  f"{name}: {code} is null in the analysis but the Observation has "
                  f"{obs.get('valueQuantity')}")
        else:
            q = obs.get("valueQuantity", {})
            check(q.get("value") == expected and q.get("code") == unit,
                  f"{name}: {code} {q}, analysis {expected} {unit}")
        check(component(obs, count_code).get("valueInteger") == count,
              f"{name}: {code} component {count_code} {component(obs, count_code)}, "
              f"analysis {count}")

    value("cadence", analysis["cadence_steps_per_min"], "/min", "steps",
          analysis["cadence_steps"])
    value("walking-speed", analysis["walking_speed"]["m_per_s"], "m/s", "passes",
          analysis["walking_speed"]["passes"])
    check("walking-speed-body-heights" not in observations,
          f"{name}: speed in body heights although a subject height was given")

    report = [res for res in resources if res["resourceType"] == "DiagnosticReport"]
    if check(len(report) == 1, f"{name}: {len(report)} DiagnosticReports"):
        form = report[0].get("presentedForm", [{}])[0]
        check(base64.b64decode(form.get("data", "")) == report_html,
              f"{name}: the presented form is not report.html")
        check(form.get("hash") == base64.b64encode(hashlib.sha1(report_html).digest()).decode(),
              f"{name}: presented form hash {form.get('hash')}")
    media = [res for res in resources if res["resourceType"] == "Media"]
    if check(len(media) == 1, f"{name}: {len(media)} Media"):
        q = analysis["quality"]
        check((media[0].get("width"), media[0].get("height"), media[0].get("frames")) ==
              (q["resolution"]["width"], q["resolution"]["height"], q["frames"]),
              f"{name}: Media {media[0].get('width')}x{media[0].get('height')}, "
              f"{media[0].get('frames')} frames")
    return len(observations)


# ----------------------------------------------------------------------------- strides.csv


def check_strides_csv(name, path, analysis):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    strides = analysis["strides"]
    check(len(body) == len(strides), f"{name}: strides.csv has {len(body)} rows, the analysis "
          f"{len(strides)} strides")
    check("stride_time_s" in header, f"{name}: strides.csv header {header}")
    for i, (row, stride) in enumerate(zip(body, strides)):
        for column, cell in zip(header, row):
            expected = i if column == "stride" else stride.get(column, "missing")
            if expected is None:
                ok = cell == ""
            elif isinstance(expected, str):
                ok = cell == expected
            else:
                ok = cell != "" and float(cell) == expected
            check(ok, f"{name}: strides.csv row {i} {column} {cell!r}, analysis {expected!r}")
    return len(body)


# ----------------------------------------------------------------------------- README images


def page_box(rgb, w, h):
    """The white page in a screenshot of Chromium's PDF viewer (dark around it)."""
    def white(x, y):
        i = (y * w + x) * 3
        return min(rgb[i:i + 3]) >= 250

    mid = h // 2
    xs = [x for x in range(w) if white(x, mid)]
    if not xs:
        return None
    x0, x1 = xs[0], xs[-1]
    ys = [y for y in range(h) if white(x0 + 3, y)]
    return (x0, ys[0], x1 - x0 + 1, ys[-1] - ys[0] + 1) if ys else None


def readme_images(binary, clip, out_dir, work):
    """report-gym-desktop.png (the top of the report at 1280 px) and
    report-gym-print-page1.png (page 1 of the A4 PDF, rendered by Chromium's PDF viewer)."""
    os.makedirs(out_dir, exist_ok=True)
    report_dir = os.path.join(work, "report")
    analyze(binary, clip, report_dir)
    html = os.path.join(report_dir, "report.html")
    with open(os.path.join(work, "chromium.log"), "w") as log:
        browser = report_browser.Browser(os.path.join(work, "profile"), log)
        try:
            sid = browser.open(html)
            height = min(1400, browser.content_height(sid))
            browser.viewport(sid, report_browser.DESKTOP_WIDTH, height)
            with open(os.path.join(out_dir, "report-gym-desktop.png"), "wb") as f:
                f.write(browser.screenshot(
                    sid, {"x": 0, "y": 0, "width": report_browser.DESKTOP_WIDTH,
                          "height": height}))
            pdf = os.path.join(work, "report.pdf")
            with open(pdf, "wb") as f:
                f.write(base64.b64decode(browser.send(
                    "Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True},
                    sid, timeout=120)["data"]))
            # Page 1 fitted into a window of about A4's proportions, without the toolbar.
            browser.viewport(sid, 900, 1250)
            browser.send("Page.navigate", {"url": f"file://{pdf}#page=1&toolbar=0&view=Fit"},
                         sid)
            shot, box = None, None
            for _ in range(40):  # the viewer renders asynchronously: until two shots agree
                time.sleep(0.5)
                again = browser.screenshot(sid)
                if again == shot:
                    break
                shot = again
            raw = os.path.join(work, "viewer.png")
            with open(raw, "wb") as f:
                f.write(shot)
            rgb = run(["ffmpeg", "-v", "error", "-i", raw, "-f", "rawvideo", "-pix_fmt", "rgb24",
                       "-"], stdout=subprocess.PIPE).stdout
            box = page_box(rgb, 900, 1250)
            if box is None:
                raise RuntimeError("no page found in the PDF viewer's screenshot")
            run(["ffmpeg", "-v", "error", "-y", "-i", raw, "-vf",
                 "crop={2}:{3}:{0}:{1}".format(*box),
                 os.path.join(out_dir, "report-gym-print-page1.png")])
        finally:
            browser.close()
    for image in ("report-gym-desktop.png", "report-gym-print-page1.png"):
        path = os.path.join(out_dir, image)
        print(f"{path}: {os.path.getsize(path)} bytes")


# ----------------------------------------------------------------------------- main


def check_clip(args, clip, work):
    name = os.path.splitext(clip)[0]
    source = os.path.join(args.videos, clip)
    out = os.path.join(args.out_dir, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    timings = {}

    t = time.monotonic()
    result = analyze(args.binary, source, out)
    timings["analyze_s"] = time.monotonic() - t
    with open(os.path.join(out, "analysis.json"), "w") as f:
        json.dump(result, f, indent=1)
    t = time.monotonic()
    track = pose_track(args.binary, source, os.path.join(out, "pose.jsonl"))
    timings["pose_s"] = time.monotonic() - t

    t = time.monotonic()
    analysis = result["analysis"]
    artifacts = {os.path.basename(p) for p in result.get("artifacts", [])}
    check(artifacts == {"report.html", "overlay.mp4", "strides.csv", "fhir.json", "proxy.mp4",
                        "poster.jpg"},
          f"{name}: artifacts {sorted(artifacts)}")
    check(result.get("report_path") == os.path.join(os.path.abspath(out), "report.html"),
          f"{name}: report_path {result.get('report_path')}")
    check(analysis["subject_height_m"] == SUBJECT_HEIGHT_M,
          f"{name}: subject height {analysis['subject_height_m']}")
    summary = {"strides": len(analysis["strides"]), "events": len(analysis["events"]),
               "passes": len(analysis["passes"])}

    seen = report_browser.inspect_report(os.path.join(out, "report.html"), analysis, out,
                                         os.path.join(work, name), PAGES)
    contacts = sum(e["type"] == "initial_contact" for e in analysis["events"])
    check(seen.get("key_frames") == min(contacts, REPORT_KEY_FRAMES),
          f"{name}: {seen.get('key_frames')} key frames for {contacts} initial contacts")
    summary["report"] = {k: seen.get(k) for k in ("figures", "events", "key_frames", "pages",
                                                  "absent")}
    summary["overlay"] = check_overlay(name, os.path.join(out, "overlay.mp4"), source,
                                       analysis, track)
    summary["proxy"] = check_proxy(name, out, source)
    with open(os.path.join(out, "report.html"), "rb") as f:
        html = f.read()
    summary["fhir_observations"] = check_fhir(name, os.path.join(out, "fhir.json"),
                                              args.validator, analysis, html)
    summary["csv_rows"] = check_strides_csv(name, os.path.join(out, "strides.csv"), analysis)
    timings["checks_s"] = time.monotonic() - t
    summary["timings"] = {k: round(v, 1) for k, v in timings.items()}
    return summary


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True, help="the dancer-analysis executable")
    parser.add_argument("--videos", required=True, help="../shared/testdata/videos")
    parser.add_argument("--validator", help="tools/fhir_validator/validate.mjs")
    parser.add_argument("--out-dir", help="where each clip's artifacts and screenshots go")
    parser.add_argument("--readme-images", metavar="DIR",
                        help="only write the README's report images (gym clip) into DIR")
    args = parser.parse_args()
    if not args.readme_images and not (args.validator and args.out_dir):
        parser.error("--validator and --out-dir are needed unless --readme-images is given")
    tools = [(CHROMIUM, "scripts/install-deps.sh --with-test-extras"),
             (shutil.which("ffmpeg") or "ffmpeg", "scripts/install-deps.sh"),
             (args.binary, "build the dancer-analysis target")]
    if not args.readme_images:
        tools.append((shutil.which("node") or "node", "scripts/install-deps.sh"))
        modules = os.path.join(os.path.dirname(args.validator), "node_modules")
        check(os.path.isdir(modules), f"{modules} missing: npm ci there (scripts/install-deps.sh)")
    for tool, hint in tools:
        check(os.access(tool, os.X_OK), f"{tool} missing: {hint}")
    for clip in CLIPS:
        check(os.path.exists(os.path.join(args.videos, clip)), f"{clip} not in {args.videos}")
    if failures:
        print("\n".join("FAIL: " + m for m in failures))
        return 1

    work = tempfile.mkdtemp(prefix="artifacts-shared-clips-")
    try:
        if args.readme_images:
            readme_images(args.binary, os.path.join(args.videos, README_CLIP),
                          args.readme_images, work)
            return 0
        os.makedirs(args.out_dir, exist_ok=True)
        started = time.monotonic()
        for clip in CLIPS:
            before = len(failures)
            try:
                summary = check_clip(args, clip, work)
            except (subprocess.CalledProcessError, OSError, ValueError, KeyError,
                    RuntimeError, TimeoutError) as e:  # the next clips still get checked
                summary = None
                check(False, f"{clip}: {type(e).__name__}: {e}")
            print(f"{clip}: {'ok' if len(failures) == before else 'FAILED'} "
                  f"{json.dumps(summary)}", flush=True)
        print(f"artifacts_shared_clips: {len(CLIPS)} clips in "
              f"{time.monotonic() - started:.0f} s; output in {args.out_dir}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for message in failures:
        print("FAIL:", message)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
