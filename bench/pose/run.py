#!/usr/bin/python3
"""BlazePose speed, side by side in one run: OpenCV DNN (bench_pose) against TensorFlow.js on
the WebAssembly backend (tools/pose_model/oracle.mjs) and onnxruntime-node
(onnxruntime/bench_ort.mjs, bench only), on the same model input; then keypoints of a whole
10 s 1080p30 walk against decoding alone, each configuration --video-runs times (median, min,
max). Writes bench/pose/RESULTS.md.

  bench/pose/run.py --build BUILD_DIR [--repeat 30] [--video-runs 3] [--videos DIR]
                    [--lock FILE] [--no-onnxruntime]

--lock FILE holds an exclusive flock on FILE during each timed process (and only then), so
that builds sharing the machine and taking the same lock wait for the measurement.

Use Debian's /usr/bin/python3 (python3-opencv, python3-numpy). Timings on a shared machine
are noisy: compare the rows of one run, not runs of different days.
"""

import argparse
import contextlib
import fcntl
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


LOCK = None  # --lock: flock held while a timed process runs


@contextlib.contextmanager
def locked():
    if LOCK is None:
        yield
        return
    with open(LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def run_json(cmd):
    with locked():
        r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr[-2000:]}")
    for stream in (r.stdout, r.stderr):
        for line in stream.splitlines():
            if line.startswith("{"):
                return json.loads(line)
    raise RuntimeError(f"no JSON from {' '.join(cmd)}")


ORT_DIR = os.path.join(HERE, "onnxruntime")


def onnxruntime_model(src, dst):
    """A copy of a converted model that onnxruntime accepts. tfjs_to_onnx.py writes Relu6 as Clip
    with min/max attributes (OpenCV 4.6 reads only those) although it declares opset 11, where
    Clip takes min/max as inputs; onnxruntime rejects the attributes ("Unrecognized attribute:
    max for operator Clip"). The copy moves them to constant inputs; nothing else changes."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load(src)
    for node in m.graph.node:
        if node.op_type != "Clip" or not node.attribute:
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        del node.attribute[:]
        for k in ("min", "max"):
            name = f"{node.name}/{k}"
            m.graph.initializer.append(numpy_helper.from_array(np.array(attrs[k], np.float32), name))
            node.input.append(name)
    onnx.checker.check_model(m)
    onnx.save(m, dst)


def opencv_outputs(onnx_path, input_f32, side):
    """OpenCV DNN's outputs (cv2.dnn, OpenCV 4.6 as the service links) on the same input file,
    in the models' own layout (NCHW for 4-D outputs)."""
    import cv2
    import numpy as np

    x = np.fromfile(input_f32, np.float32).reshape(1, side, side, 3)
    net = cv2.dnn.readNetFromONNX(onnx_path)
    names = list(net.getUnconnectedOutLayersNames())
    net.setInput(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    return dict(zip(names, net.forward(names)))


def output_agreement(model, cv_outs, ort_dir):
    """Largest absolute differences between onnxruntime's and OpenCV DNN's outputs."""
    import numpy as np

    got = {n: np.fromfile(os.path.join(ort_dir, f"{n}.f32"), np.float32) for n in cv_outs}
    diff = {n: float(np.abs(got[n] - cv_outs[n].reshape(-1)).max()) for n in cv_outs}
    # Relative to the value, for outputs with large raw values (the detector's reach 2e6,
    # where one float32 step is 0.125).
    main = "person" if model == "detector" else "ld_3d"
    rel = float((np.abs(got[main] - cv_outs[main].reshape(-1)) / np.maximum(np.abs(cv_outs[main].reshape(-1)), 1)).max())
    if model == "detector":
        return {"model": "blazepose-detector", "output": "person (2254 anchors x 13, raw)", "max_abs": diff["person"],
                "max_rel": rel}
    ld_got, ld_cv = got["ld_3d"].reshape(-1, 5), cv_outs["ld_3d"].reshape(-1, 5)
    return {"model": f"blazepose-{model}", "output": "ld_3d (39 x 5)", "max_abs": diff["ld_3d"], "max_rel": rel,
            "xy_px": float(np.abs(ld_got[:33, :2] - ld_cv[:33, :2]).max()),
            "poseflag": diff["output_poseflag"], "world_3d": diff["world_3d"],
            "heatmap": diff["activation_heatmap"], "segmentation": diff["activation_segmentation"]}


def ensure_onnxruntime():
    """onnxruntime-node, pinned by onnxruntime/package-lock.json; None, or why it cannot run."""
    if not os.path.isdir(os.path.join(ORT_DIR, "node_modules", "onnxruntime-node")):
        return "onnxruntime-node is not installed (bench/pose/run.sh runs npm ci in bench/pose/onnxruntime)"
    r = subprocess.run(["node", "-e", "require('onnxruntime-node')"], cwd=ORT_DIR, capture_output=True, text=True)
    if r.returncode != 0:
        return f"onnxruntime-node does not load: {r.stderr.strip()[-500:]}"
    return None


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def main():
    global LOCK
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--video-runs", type=int, default=3, help="runs of each whole-video configuration")
    ap.add_argument("--videos", default=check_opencv.DEFAULT_VIDEOS)
    ap.add_argument("--lock", help="flock this file during each timed process")
    ap.add_argument("--no-onnxruntime", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    args = ap.parse_args()
    LOCK = args.lock
    bench = os.path.join(args.build, "bench", "pose", "bench_pose")
    models = os.path.join(args.build, "models")
    work = tempfile.mkdtemp(prefix="pose-bench-")

    frame = check_opencv.decode_frames(os.path.join(args.videos, CROP["video"]), [CROP["time"]], work)[CROP["time"]]
    crop = os.path.join(work, "crop.f32")
    check_opencv.crop_tensor(frame, CROP["cx"], CROP["cy"], CROP["size"], CROP["rotation"]).tofile(crop)
    det = os.path.join(work, "detector.f32")
    check_opencv.letterbox_tensor(frame).tofile(det)

    ort_error = "not run (--no-onnxruntime)" if args.no_onnxruntime else ensure_onnxruntime()
    if ort_error:
        print(f"onnxruntime: {ort_error}", flush=True)
    ort_models = os.path.join(work, "onnxruntime-models")
    os.makedirs(ort_models, exist_ok=True)

    rows = []
    agreement = []
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
        if not ort_error:
            onnx_path = os.path.join(models, f"blazepose-{m}.onnx")
            ort_path = os.path.join(ort_models, f"blazepose-{m}.onnx")
            onnxruntime_model(onnx_path, ort_path)
            out_dir = os.path.join(work, "onnxruntime", m)
            for threads in (1, 2):
                r = run_json(["node", os.path.join(ORT_DIR, "bench_ort.mjs"), ort_path, inp, str(threads),
                              str(args.repeat), out_dir])
                rows.append(r)
                print(json.dumps(r), flush=True)
            a = output_agreement(m, opencv_outputs(onnx_path, inp, 224 if m == "detector" else 256), out_dir)
            agreement.append(a)
            print(json.dumps(a), flush=True)

    # A real walk at 1080p30, 10 s: the gym clip's first 10 s scaled up (one walker, both
    # directions), and its first 3 s to show that memory does not grow with length.
    walk = os.path.join(work, "walk_1080p30_10s.mp4")
    short = os.path.join(work, "walk_1080p30_3s.mp4")
    gym = os.path.join(args.videos, "side_sports2d_demo4_gym.mp4")
    for out, seconds in ((walk, 10), (short, 3)):
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", gym, "-t", str(seconds), "-an", "-vf", "scale=1920:1080",
                        "-r", "30", "-c:v", "libx264", "-preset", "fast", "-crf", "20", "-pix_fmt", "yuv420p", out],
                       check=True)
    # Each configuration runs --video-runs times, in rounds (every configuration once per
    # round) so that a slow spell of the shared machine spreads over all of them.
    configs = [("decode", None, 1, walk, [], "10 s"),
               ("video", "full", 1, walk, [], "10 s"), ("video", "full", 1, walk, ["--no-overlap"], "10 s"),
               ("video", "full", 2, walk, [], "10 s"), ("video", "lite", 1, walk, [], "10 s"),
               ("video", "lite", 2, walk, [], "10 s"), ("video", "lite", 1, short, [], "3 s")]
    runs = {i: [] for i in range(len(configs))}
    for rnd in range(args.video_runs):
        for i, (mode, variant, threads, video, extra, label) in enumerate(configs):
            if mode == "decode":
                r = run_json([bench, "decode", video])
            else:
                r = run_json([bench, "video", models, variant, str(threads), video, *extra])
            r["video"] = label
            r["round"] = rnd + 1
            runs[i].append(r)
            print(json.dumps(r), flush=True)
    video_rows = []
    for i in range(len(configs)):
        rs = runs[i]
        r = dict(rs[0])
        xs = [x["x_real_time"] for x in rs]
        r.update({"runs": len(rs), "x_real_time": median(xs), "x_min": min(xs), "x_max": max(xs),
                  "fps": median([x["fps"] for x in rs]), "peak_rss_mb": max(x["peak_rss_mb"] for x in rs)})
        video_rows.append(r)

    load = os.getloadavg()
    lines = [
        "# BlazePose speed: OpenCV DNN against TensorFlow.js (tfjs-wasm) and onnxruntime",
        "",
        f"Written by `bench/pose/run.py` ({platform.node()}, {os.cpu_count()} cores, load average "
        f"{load[0]:.1f} at the end: timings are noisy). Median of {args.repeat} forward passes on one input "
        "(kevin1 at 4.0 s, the crops.json crop rotated 8 degrees; the detector gets that frame letterboxed), "
        "each engine in its own process; peak RSS is the process's VmHWM. tfjs-wasm runs one thread in "
        "Node (its threaded build needs browser workers). onnxruntime is onnxruntime-node's CPU runtime "
        "(bench only, never a dependency) at intraOpNumThreads 1 and 2, on the same converted models "
        "with Relu6's Clip bounds as inputs instead of attributes.",
        "",
        "## Per-frame inference",
        "",
        "| model | engine | threads | fusion | median ms | min ms | peak RSS MB | tfjs-wasm / this | OpenCV DNN / onnxruntime |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    tfjs = {r["model"]: r["median_ms"] for r in rows if r["backend"] == "tfjs-wasm"}
    ort = {(r["model"], r["threads"]): r["median_ms"] for r in rows if r["backend"] == "onnxruntime"}
    cv = {(r["model"], r["threads"]): r["median_ms"] for r in rows if r["backend"] == "opencv-dnn" and r["fusion"]}
    for r in rows:
        ratio = tfjs[r["model"]] / r["median_ms"] if r["backend"] != "tfjs-wasm" else 1.0
        key = (r["model"], r.get("threads", 1))
        vs_ort = ""
        if r["backend"] in ("opencv-dnn", "onnxruntime") and key in ort and key in cv:
            vs_ort = f"{(r['median_ms'] if r['backend'] == 'opencv-dnn' else cv[key]) / ort[key]:.2f}"
        lines.append(f"| {r['model']} | {r['backend']} | {r.get('threads', 1)} | {r.get('fusion', '')} | "
                     f"{r['median_ms']:.1f} | {r['min_ms']:.1f} | {r['peak_rss_mb']:.0f} | {ratio:.2f} | {vs_ort} |")
    lines += [""]
    if ort_error:
        lines += [f"onnxruntime: {ort_error}", ""]
    else:
        lines += [
            "OpenCV DNN / onnxruntime: OpenCV DNN's median (fused) over onnxruntime's at the same thread "
            "count; above 1, onnxruntime is faster by that factor.",
            "",
            "### onnxruntime's outputs against OpenCV DNN's (same input)",
            "",
            "| model | output | max abs difference | max relative (to max(abs, 1)) | landmark x, y (px of 256) | "
            "pose flag | world_3d | heatmap | segmentation |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for a in agreement:
            f = lambda k: f"{a[k]:.2g}" if k in a else ""  # noqa: E731
            lines.append(f"| {a['model']} | {a['output']} | {a['max_abs']:.2g} | {a['max_rel']:.2g} | {f('xy_px')} | {f('poseflag')} | "
                         f"{f('world_3d')} | {f('heatmap')} | {f('segmentation')} |")
        lines += [""]
    decode = video_rows[0]
    lines += [
        f"## Whole video: keypoints of every frame of a 10 s 1080p30 walk, median of {args.video_runs} runs",
        "",
        f"Decode only (full resolution, upright, RGB, 1 decoder thread): {decode['fps']:.1f} fps = "
        f"{decode['x_real_time']:.2f}x real time (min {decode['x_min']:.2f}, max {decode['x_max']:.2f}), "
        f"peak RSS {decode['peak_rss_mb']:.0f} MB.",
        "",
        "| video | model | inference threads | decode overlapped | frames with person | detector runs | fps | "
        "x real time (median) | min | max | keypoints / decode-only throughput | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in video_rows[1:]:
        lines.append(f"| {r['video']} | {r['model']} | {r['threads']} | {r['overlap_decoding']} | "
                     f"{r['frames_with_person']}/{r['frames']} | {r['detector_runs']} | {r['fps']:.1f} | "
                     f"{r['x_real_time']:.2f} | {r['x_min']:.2f} | {r['x_max']:.2f} | "
                     f"{r['fps'] / decode['fps']:.2f} | {r['peak_rss_mb']:.0f} |")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
