#!/usr/bin/python3
"""Proves the converted BlazePose models equal to TensorFlow.js, on crops of the real test videos.

For each model: converts the pinned TF.js model with tfjs_to_onnx.py (or takes the .onnx from
--onnx-dir, e.g. the build's models/ directory), cuts the crops listed in crops.json out of
frames decoded with ffmpeg, runs them through TensorFlow.js (oracle.mjs, wasm backend) and
through cv2.dnn (OpenCV 4.6, the library the service links), and compares every output.
Fails (exit 1) when a landmark's x or y differs by more than --tolerance of the crop size.

  check_opencv.py [--models full,lite,heavy,detector] [--onnx-dir DIR] [--videos DIR]
                  [--work DIR] [--tolerance 1e-3] [--bench N]

--bench N also times N forward passes per model and crop subset: OpenCV at 1 and 2 threads
(each in its own process, so peak RSS is the model's) against tfjs-wasm.

Preprocessing (what the models expect): landmark models take RGB 256x256 in [0, 1]; the
detector takes the whole frame letterboxed (centred, black bars) to RGB 224x224 in [-1, 1],
as MediaPipe's pose_detection graph does.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS_DIR = os.path.join(HERE, "node_modules", "@vladmandic", "human-models", "models")
DEFAULT_VIDEOS = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "testdata", "videos"))
LANDMARK_MODELS = ("full", "lite", "heavy")
CROP = 256
DETECTOR_INPUT = 224


def decode_frames(video, times, work):
    """RGB frames of one video at the given times (s): the first frame at or after each time,
    the frame `ffmpeg -ss T` starts at. One decoding pass per video: seeking each frame
    separately decodes from the previous keyframe every time, several times slower."""
    times = sorted(set(times))
    prefix = os.path.join(work, os.path.basename(video))
    # select keeps a frame when its time t reaches T and the previous frame's time was before T.
    expr = "+".join(f"gte(t,{t})*lt(prev_pts*TB,{t})" for t in times)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", video, "-vf", f"select='{expr}'", "-fps_mode", "passthrough",
         "-start_number", "0", f"{prefix}_%03d.png"],
        check=True,
    )
    frames = {}
    for i, t in enumerate(times):
        bgr = cv2.imread(f"{prefix}_{i:03d}.png", cv2.IMREAD_COLOR)
        if bgr is None:
            raise RuntimeError(f"no frame at {t} s in {video}")
        frames[t] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return frames


def crop_tensor(rgb, cx, cy, size, rotation_deg=0.0):
    """The square crop (centre, side, rotation) resampled to 256x256, [0,1], NHWC float32.

    Output pixel centre (u + 0.5) maps to cx + R * (u + 0.5 - 128) * size / 256; OpenCV puts
    pixel centres at integer coordinates, hence the -0.5. Outside the frame repeats the edge
    pixels: MediaPipe's pose_landmark_by_roi leaves ImageToTensorCalculator's border_mode
    unset, and its default is BORDER_REPLICATE (image_to_tensor_calculator.proto)."""
    k = size / CROP
    a = np.deg2rad(rotation_deg)
    c, s = np.cos(a) * k, np.sin(a) * k
    o = 0.5 - CROP / 2
    m = np.array([[c, -s, cx - 0.5 + c * o - s * o], [s, c, cy - 0.5 + s * o + c * o]], np.float64)
    img = cv2.warpAffine(
        rgb, m, (CROP, CROP), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    return (img.astype(np.float32) / 255.0)[None]


def letterbox_tensor(rgb, side=DETECTOR_INPUT):
    """The whole frame padded to a centred square and resized, [-1,1], NHWC float32. Black
    bars: pose_detection sets border_mode BORDER_ZERO."""
    h, w = rgb.shape[:2]
    n = max(h, w)
    sq = np.zeros((n, n, 3), np.uint8)
    y0, x0 = (n - h) // 2, (n - w) // 2
    sq[y0 : y0 + h, x0 : x0 + w] = rgb
    img = cv2.resize(sq, (side, side), interpolation=cv2.INTER_AREA)
    return (img.astype(np.float32) / 127.5 - 1.0)[None]


def run_oracle(model_json, inputs, out_dir, repeat=0):
    cmd = ["node", os.path.join(HERE, "oracle.mjs"), model_json, out_dir, *inputs]
    if repeat:
        cmd += ["--repeat", str(repeat)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"oracle failed: {r.stderr}")
    for line in r.stderr.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    return None


def run_opencv(onnx_path, tensors):
    net = cv2.dnn.readNetFromONNX(onnx_path)
    names = list(net.getUnconnectedOutLayersNames())
    results = []
    for x in tensors:
        net.setInput(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        outs = net.forward(names)
        results.append({n: (o.transpose(0, 2, 3, 1) if o.ndim == 4 else o) for n, o in zip(names, outs)})
    return results


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x.astype(np.float64)))  # no overflow for large logits


def compare_landmarks(name, crops, cv_outs, oracle_dir, tolerance_px):
    worst = {"xy_px": 0.0, "z": 0.0, "visibility": 0.0, "presence": 0.0, "poseflag": 0.0, "world": 0.0}
    worst_map = {"activation_heatmap": 0.0, "activation_segmentation": 0.0}
    worst_crop = None
    for i, crop in enumerate(crops):
        ref = {k: np.load(os.path.join(oracle_dir, f"crop{i:02d}.{k}.npy")) for k in cv_outs[i]}
        got = cv_outs[i]
        ld_ref, ld_got = ref["ld_3d"].reshape(-1, 5), got["ld_3d"].reshape(-1, 5)
        # ld_3d holds 39 rows of (x, y, z, visibility logit, presence logit); x, y in crop pixels.
        xy = float(np.abs(ld_ref[:33, :2] - ld_got[:33, :2]).max())
        if xy > worst["xy_px"]:
            worst["xy_px"], worst_crop = xy, crop
        worst["z"] = max(worst["z"], float(np.abs(ld_ref[:33, 2] - ld_got[:33, 2]).max()))
        worst["visibility"] = max(worst["visibility"], float(np.abs(sigmoid(ld_ref[:33, 3]) - sigmoid(ld_got[:33, 3])).max()))
        worst["presence"] = max(worst["presence"], float(np.abs(sigmoid(ld_ref[:33, 4]) - sigmoid(ld_got[:33, 4])).max()))
        worst["poseflag"] = max(worst["poseflag"], float(np.abs(ref["output_poseflag"] - got["output_poseflag"]).max()))
        worst["world"] = max(worst["world"], float(np.abs(ref["world_3d"] - got["world_3d"]).max()))
        for k in worst_map:
            worst_map[k] = max(worst_map[k], float(np.abs(ref[k] - got[k]).max()))
    worst.update(worst_map)
    ok = worst["xy_px"] <= tolerance_px
    where = f" (worst: {worst_crop['video']} at {worst_crop['time']} s)" if worst_crop else ""
    print(f"{name}: {len(crops)} crops, max |dx|,|dy| = {worst['xy_px']:.2e} px of {CROP}{where}; " + ", ".join(f"{k} {v:.1e}" for k, v in worst.items() if k != "xy_px"))
    print(f"{name}: {'PASS' if ok else 'FAIL'} (tolerance {tolerance_px:.3f} px)")
    return ok, worst


def compare_detector(frames, cv_outs, oracle_dir):
    box, score = 0.0, 0.0
    for i in range(len(frames)):
        ref = np.load(os.path.join(oracle_dir, f"frame{i:02d}.person.npy"))[0]
        got = cv_outs[i]["person"][0]
        # person: 2254 anchors x (score logit, box cx, cy, w, h, 4 keypoints x, y) in 224-px units.
        box = max(box, float(np.abs(ref[:, 1:] - got[:, 1:]).max()))
        score = max(score, float(np.abs(sigmoid(ref[:, 0]) - sigmoid(got[:, 0])).max()))
    print(f"detector: {len(frames)} frames, max box/keypoint diff {box:.2e} px of {DETECTOR_INPUT}, max score diff {score:.1e}")
    return box, score


def peak_rss_mb():
    """VmHWM: this process image's peak RSS. ru_maxrss would not do: Linux carries it across
    fork and exec, so a child started from this (large) process would report the parent's."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def bench_one(onnx_path, input_path, threads, repeat):
    """Runs in a child process: median forward time and this process's peak RSS."""
    cv2.setNumThreads(threads)
    x = np.fromfile(input_path, np.float32)
    side = int(round((x.size / 3) ** 0.5))
    x = x.reshape(1, side, side, 3).transpose(0, 3, 1, 2).copy()
    net = cv2.dnn.readNetFromONNX(onnx_path)
    names = list(net.getUnconnectedOutLayersNames())
    net.setInput(x)
    net.forward(names)  # first run allocates and fuses layers
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        net.setInput(x)
        net.forward(names)
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    print(json.dumps({
        "model": os.path.basename(onnx_path), "backend": "opencv", "threads": threads, "runs": repeat,
        "median_ms": times[len(times) // 2], "min_ms": times[0],
        "peak_rss_mb": peak_rss_mb(),
    }))


def bench(onnx_path, model_json, input_path, repeat, work):
    rows = []
    for threads in (1, 2):
        r = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--bench-one", onnx_path, input_path, str(threads), str(repeat)],
            capture_output=True, text=True, check=True,
        )
        rows.append(json.loads(r.stdout))
    rows.append(run_oracle(model_json, [input_path], os.path.join(work, "bench_oracle"), repeat))
    for row in rows:
        print(f"  bench {row['model']}: {row['backend']} {row['threads']} thread(s): median {row['median_ms']:.1f} ms, "
              f"min {row['min_ms']:.1f} ms, peak RSS {row['peak_rss_mb']:.0f} MB")
    return rows


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--bench-one":
        bench_one(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="full", help="comma-separated: full, lite, heavy, detector")
    ap.add_argument("--onnx-dir", help="take blazepose-<model>.onnx from here instead of converting")
    ap.add_argument("--videos", default=os.environ.get("DANCER_TESTDATA_VIDEOS", DEFAULT_VIDEOS))
    ap.add_argument("--crops", default=os.path.join(HERE, "crops.json"))
    ap.add_argument("--work", help="keep intermediate files here (default: a temporary directory)")
    ap.add_argument("--tolerance", type=float, default=1e-3, help="fraction of the crop size")
    ap.add_argument("--bench", type=int, default=0, metavar="N")
    args = ap.parse_args()

    work = args.work or tempfile.mkdtemp(prefix="pose-check-")
    os.makedirs(work, exist_ok=True)
    sys.path.insert(0, HERE)
    import tfjs_to_onnx

    crops = json.load(open(args.crops))["crops"]
    frames = {}
    for video in sorted({c["video"] for c in crops}):
        decoded = decode_frames(os.path.join(args.videos, video), [c["time"] for c in crops if c["video"] == video], work)
        frames.update({(video, t): rgb for t, rgb in decoded.items()})
    tensors, inputs = [], []
    for i, c in enumerate(crops):
        x = crop_tensor(frames[(c["video"], c["time"])], c["cx"], c["cy"], c["size"], c.get("rotation", 0.0))
        path = os.path.join(work, f"crop{i:02d}.f32")
        x.tofile(path)
        tensors.append(x)
        inputs.append(path)

    all_ok = True
    summary = {}
    for m in args.models.split(","):
        name = f"blazepose-{m}"
        model_json = os.path.join(MODELS_DIR, f"{name}.json")
        onnx_path = os.path.join(args.onnx_dir, f"{name}.onnx") if args.onnx_dir else os.path.join(work, f"{name}.onnx")
        if not args.onnx_dir:
            tfjs_to_onnx.convert_file(model_json, onnx_path)
        oracle_dir = os.path.join(work, f"oracle-{m}")
        if m == "detector":
            det_inputs, det_tensors = [], []
            for j, rgb in enumerate(frames.values()):
                x = letterbox_tensor(rgb)
                p = os.path.join(work, f"frame{j:02d}.f32")
                x.tofile(p)
                det_inputs.append(p)
                det_tensors.append(x)
            run_oracle(model_json, det_inputs, oracle_dir)
            summary[m] = compare_detector(det_inputs, run_opencv(onnx_path, det_tensors), oracle_dir)
            bench_input = det_inputs[0]
        elif m in LANDMARK_MODELS:
            run_oracle(model_json, inputs, oracle_dir)
            ok, worst = compare_landmarks(name, crops, run_opencv(onnx_path, tensors), oracle_dir, args.tolerance * CROP)
            all_ok &= ok
            summary[m] = worst
            bench_input = inputs[len(inputs) // 2]
        else:
            ap.error(f"unknown model {m}")
        if args.bench:
            bench(onnx_path, model_json, bench_input, args.bench, work)
    if not args.work:
        shutil.rmtree(work)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
