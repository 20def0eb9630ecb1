#!/usr/bin/python3
"""BlazePose speed, side by side in one run: OpenCV DNN (bench_pose) against TensorFlow.js on
the WebAssembly backend (tools/pose_model/oracle.mjs), on the same model input; then keypoints
of a whole 10 s 1080p30 walk against decoding alone. Writes bench/pose/RESULTS.md.

  bench/pose/run.py --build BUILD_DIR [--repeat 30] [--videos DIR]

Use Debian's /usr/bin/python3 (python3-opencv, python3-numpy). Timings on a shared machine
are noisy: compare the rows of one run, not runs of different days.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
TOOL = os.path.join(ROOT, "tools", "pose_model")
sys.path.insert(0, TOOL)
import check_opencv  # noqa: E402  (crop and letterbox exactly as the oracle check does)

# One crop of crops.json: kevin1 at 4.0 s, rotated 8 degrees, the whole body inside.
CROP = {"video": "side_gaitcdio_4markerskevin1.mp4", "time": 4.0, "cx": 875, "cy": 570, "size": 850, "rotation": 8}


def run_json(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr[-2000:]}")
    for stream in (r.stdout, r.stderr):
        for line in stream.splitlines():
            if line.startswith("{"):
                return json.loads(line)
    raise RuntimeError(f"no JSON from {' '.join(cmd)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--videos", default=check_opencv.DEFAULT_VIDEOS)
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    args = ap.parse_args()
    bench = os.path.join(args.build, "bench", "pose", "bench_pose")
    models = os.path.join(args.build, "models")
    work = tempfile.mkdtemp(prefix="pose-bench-")

    frame = check_opencv.decode_frames(os.path.join(args.videos, CROP["video"]), [CROP["time"]], work)[CROP["time"]]
    crop = os.path.join(work, "crop.f32")
    check_opencv.crop_tensor(frame, CROP["cx"], CROP["cy"], CROP["size"], CROP["rotation"]).tofile(crop)
    det = os.path.join(work, "detector.f32")
    check_opencv.letterbox_tensor(frame).tofile(det)

    rows = []
    for m in ("lite", "full", "heavy", "detector"):
        inp = det if m == "detector" else crop
        for threads in (1, 2):
            if m == "detector":
                r = run_json([bench, "detect", models, str(threads), str(args.repeat), inp])
            else:
                r = run_json([bench, "infer", models, m, str(threads), str(args.repeat), inp])
            rows.append(r)
            print(json.dumps(r), flush=True)
        if m == "full":
            r = run_json([bench, "infer", models, m, "1", str(args.repeat), inp, "--no-fusion"])
            rows.append(r)
            print(json.dumps(r), flush=True)
        model_json = os.path.join(check_opencv.MODELS_DIR, f"blazepose-{m}.json")
        r = run_json(["node", os.path.join(TOOL, "oracle.mjs"), model_json, os.path.join(work, "oracle"), inp,
                      "--repeat", str(args.repeat)])
        r["model"] = f"blazepose-{m}"
        r["backend"] = "tfjs-wasm"
        rows.append(r)
        print(json.dumps(r), flush=True)

    # A real walk at 1080p30, 10 s: the gym clip's first 10 s scaled up (one walker, both
    # directions), and its first 3 s to show that memory does not grow with length.
    walk = os.path.join(work, "walk_1080p30_10s.mp4")
    short = os.path.join(work, "walk_1080p30_3s.mp4")
    gym = os.path.join(args.videos, "side_sports2d_demo4_gym.mp4")
    for out, seconds in ((walk, 10), (short, 3)):
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", gym, "-t", str(seconds), "-an", "-vf", "scale=1920:1080",
                        "-r", "30", "-c:v", "libx264", "-preset", "fast", "-crf", "20", "-pix_fmt", "yuv420p", out],
                       check=True)
    video_rows = [run_json([bench, "decode", walk])]
    print(json.dumps(video_rows[-1]), flush=True)
    for variant, threads, extra in (("full", 1, []), ("full", 1, ["--no-overlap"]), ("full", 2, []),
                                    ("lite", 1, []), ("lite", 2, [])):
        r = run_json([bench, "video", models, variant, str(threads), walk, *extra])
        r["video"] = "10 s"
        video_rows.append(r)
        print(json.dumps(r), flush=True)
    r = run_json([bench, "video", models, "lite", "1", short])
    r["video"] = "3 s"
    video_rows.append(r)
    print(json.dumps(r), flush=True)

    load = os.getloadavg()
    lines = [
        "# BlazePose speed: OpenCV DNN against TensorFlow.js (tfjs-wasm)",
        "",
        f"Written by `bench/pose/run.py` ({platform.node()}, {os.cpu_count()} cores, load average "
        f"{load[0]:.1f} at the end: timings are noisy). Median of {args.repeat} forward passes on one input "
        "(kevin1 at 4.0 s, the crops.json crop rotated 8 degrees; the detector gets that frame letterboxed), "
        "each engine in its own process; peak RSS is the process's VmHWM. tfjs-wasm runs one thread in "
        "Node (its threaded build needs browser workers).",
        "",
        "## Per-frame inference",
        "",
        "| model | engine | threads | fusion | median ms | min ms | peak RSS MB | tfjs-wasm / this |",
        "|---|---|---|---|---|---|---|---|",
    ]
    tfjs = {r["model"]: r["median_ms"] for r in rows if r["backend"] == "tfjs-wasm"}
    for r in rows:
        ratio = tfjs[r["model"]] / r["median_ms"] if r["backend"] != "tfjs-wasm" else 1.0
        lines.append(f"| {r['model']} | {r['backend']} | {r.get('threads', 1)} | {r.get('fusion', '')} | "
                     f"{r['median_ms']:.1f} | {r['min_ms']:.1f} | {r['peak_rss_mb']:.0f} | {ratio:.2f} |")
    decode = video_rows[0]
    lines += [
        "",
        "## Whole video: keypoints of every frame of a 10 s 1080p30 walk",
        "",
        f"Decode only (full resolution, upright, RGB, 1 decoder thread): {decode['fps']:.1f} fps = "
        f"{decode['x_real_time']:.2f}x real time, peak RSS {decode['peak_rss_mb']:.0f} MB.",
        "",
        "| video | model | inference threads | decode overlapped | frames with person | detector runs | fps | x real time | keypoints / decode-only throughput | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in video_rows[1:]:
        lines.append(f"| {r['video']} | {r['model']} | {r['threads']} | {r['overlap_decoding']} | "
                     f"{r['frames_with_person']}/{r['frames']} | {r['detector_runs']} | {r['fps']:.1f} | "
                     f"{r['x_real_time']:.2f} | {r['fps'] / decode['fps']:.2f} | {r['peak_rss_mb']:.0f} |")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
