#!/usr/bin/python3
"""Cost per video-minute: CPU-seconds per minute of 1080p30 video for each BlazePose model and
output set, measured on the real binary, so that an operator can size a cluster. Writes
bench/cost/RESULTS.md.

  bench/cost/run.py [--build BUILD] [--video FILE] [--runs 3] [--models lite,full,heavy]
                    [--threads 1] [--out-dir DIR] [--lock FILE]

Each run is one `dancer-analysis analyze FILE --report-dir DIR --model M --threads T
[--no-overlay]` process: its probe, its sandboxed analysis child and everything that writes
the artifacts. CPU is user+sys of the whole process tree (os.wait4's rusage: the process and
every descendant it reaped), wall time from a blocking wait. Output sets:
  - "results": the analysis JSON, report.html, strides.csv and fhir.json (--no-overlay);
  - "all": the same plus overlay.mp4, the verification video.
The metadata-only probe (media::probe_file, what a job's probe child runs) has no command of
its own; bench_metadata_probe runs it in process over the same file, and its marginal cost
per probe is reported beside.

CPU-seconds per video-minute = CPU / video duration * 60 (median of --runs); video-minutes
per core-hour = 3600 / that. The input must be 1080p30; another one is transcoded to a 1080p30
copy in --out-dir (never in the repository). --lock FILE holds an exclusive flock on FILE
while each measured process runs, so builds taking the same lock wait for it.
"""

import argparse
import contextlib
import datetime
import fcntl
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DEFAULT_VIDEO = os.path.normpath(os.path.join(ROOT, "..", "shared", "testdata", "videos",
                                              "side_gaitcdio_4markerskevin1.mp4"))
OUTPUTS = (("results", ["--no-overlay"], "analysis JSON + report + CSV + FHIR"),
           ("all", [], "the same + overlay video"))


@contextlib.contextmanager
def locked(path):
    if not path:
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def measure(cmd, lock, stdout_path=None, stdin_bytes=None):
    """Runs cmd to completion: (exit code, wall s, user+sys CPU s of it and its reaped
    descendants)."""
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    err_path = (stdout_path + ".stderr") if stdout_path else None
    err = open(err_path, "wb") if err_path else subprocess.DEVNULL
    try:
        with locked(lock):
            start = time.monotonic()
            p = subprocess.Popen(cmd, stdout=out, stderr=err,
                                 stdin=subprocess.PIPE if stdin_bytes is not None else subprocess.DEVNULL)
            if stdin_bytes is not None:
                p.stdin.write(stdin_bytes)
                p.stdin.close()
            _, status, ru = os.wait4(p.pid, 0)
            wall = time.monotonic() - start
            p.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting
    finally:
        if stdout_path:
            out.close()
            err.close()
    return p.returncode, wall, ru.ru_utime + ru.ru_stime


def probe_video(path):
    r = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                        "stream=width,height,r_frame_rate,nb_frames:format=duration", "-of", "json", path],
                       capture_output=True, text=True, check=True)
    j = json.loads(r.stdout)
    s = j["streams"][0]
    num, den = (int(x) for x in s["r_frame_rate"].split("/"))
    return {"width": s["width"], "height": s["height"], "fps": num / den,
            "frames": int(s.get("nb_frames") or 0), "duration": float(j["format"]["duration"])}


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--video", default=DEFAULT_VIDEO)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--models", default="lite,full,heavy")
    ap.add_argument("--threads", type=int, default=1,
                    help="inference threads per analysis (1: what each job gets from the service's "
                         "defaults on 2 cores, MAX_WORKERS=2)")
    ap.add_argument("--out-dir", default=os.path.join(ROOT, "bench", "out", "cost"))
    ap.add_argument("--loops", type=int, default=3,
                    help="length of the looped copy, in plays of the input, for the marginal cost")
    ap.add_argument("--loop-runs", type=int, default=1,
                    help="runs of each model on the looped copy (0: no marginal cost)")
    ap.add_argument("--lock", help="flock this file while each measured process runs")
    ap.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"))
    args = ap.parse_args()
    binary = os.path.join(args.build, "dancer-analysis")
    probe_driver = os.path.join(args.build, "bench", "bench_metadata_probe")
    os.makedirs(args.out_dir, exist_ok=True)
    models = args.models.split(",")

    video = args.video
    info = probe_video(video)
    source_note = os.path.basename(video)
    if (info["width"], info["height"]) != (1920, 1080) or abs(info["fps"] - 30) > 0.01:
        copy = os.path.join(args.out_dir, "walk_1080p30.mp4")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", video, "-an", "-vf", "scale=1920:1080", "-r", "30",
                        "-c:v", "libx264", "-preset", "fast", "-crf", "20", "-pix_fmt", "yuv420p", copy], check=True)
        source_note = f"{os.path.basename(video)} transcoded to 1080p30"
        video = copy
        info = probe_video(video)
    print(f"input: {source_note}: {info}", flush=True)

    # Rounds: every configuration once per round, so a slow spell of the shared machine
    # spreads over all of them.
    runs = {}
    for rnd in range(args.runs):
        for model in models:
            for name, extra, _ in OUTPUTS:
                run_dir = os.path.join(args.out_dir, f"{model}-{name}-{rnd + 1}")
                os.makedirs(run_dir, exist_ok=True)
                for f in os.listdir(run_dir):
                    os.remove(os.path.join(run_dir, f))
                stdout_path = os.path.join(args.out_dir, f"{model}-{name}-{rnd + 1}.json")
                cmd = [binary, "analyze", video, "--report-dir", run_dir, "--model", model,
                       "--threads", str(args.threads), *extra]
                code, wall, cpu = measure(cmd, args.lock, stdout_path)
                if code != 0:
                    with open(stdout_path + ".stderr") as f:
                        sys.exit(f"{' '.join(cmd)} exited {code}: {f.read()[-2000:]}")
                artifacts = sorted(os.listdir(run_dir))
                runs.setdefault((model, name), []).append({"wall": wall, "cpu": cpu, "artifacts": artifacts})
                print(json.dumps({"model": model, "outputs": name, "round": rnd + 1, "wall_s": round(wall, 2),
                                  "cpu_s": round(cpu, 2), "artifacts": artifacts}), flush=True)

    # The marginal cost: the same walk played --loops times in one file (stream copy), results
    # only. (CPU(long) - CPU(clip)) / (its extra duration) is what a further minute of video
    # costs, free of a job's fixed costs; the rest of the clip's CPU is the fixed cost.
    marginal = []
    if args.loop_runs > 0 and args.loops > 1:
        looped = os.path.join(args.out_dir, f"walk_x{args.loops}.mp4")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", str(args.loops - 1), "-i", video, "-an",
                        "-c", "copy", looped], check=True)
        long_info = probe_video(looped)
        print(f"looped: {long_info}", flush=True)
        long_runs = {}
        for rnd in range(args.loop_runs):
            for model in models:
                run_dir = os.path.join(args.out_dir, f"{model}-looped-{rnd + 1}")
                os.makedirs(run_dir, exist_ok=True)
                stdout_path = os.path.join(args.out_dir, f"{model}-looped-{rnd + 1}.json")
                cmd = [binary, "analyze", looped, "--report-dir", run_dir, "--model", model,
                       "--threads", str(args.threads), "--no-overlay"]
                code, wall, cpu = measure(cmd, args.lock, stdout_path)
                if code != 0:
                    with open(stdout_path + ".stderr") as f:
                        sys.exit(f"{' '.join(cmd)} exited {code}: {f.read()[-2000:]}")
                long_runs.setdefault(model, []).append(cpu)
                print(json.dumps({"model": model, "outputs": "results", "video": "looped", "round": rnd + 1,
                                  "wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}), flush=True)
        for model in models:
            short = median([r["cpu"] for r in runs[(model, "results")]])
            long = median(long_runs[model])
            per_s = (long - short) / (long_info["duration"] - info["duration"])
            marginal.append({"model": model, "cpu_clip": short, "cpu_long": long, "long_duration": long_info["duration"],
                             "marginal_per_min": per_s * 60, "fixed_s": short - per_s * info["duration"]})

    probe = None
    if os.path.exists(probe_driver):
        # Marginal cost of one probe: (CPU(1 + N) - CPU(1)) / N, free of the process's start.
        n = 200
        samples = []
        for _ in range(args.runs):
            _, _, one = measure([probe_driver], args.lock, stdin_bytes=(video + "\n").encode())
            _, _, many = measure([probe_driver], args.lock, stdin_bytes=((video + "\n") * (n + 1)).encode())
            samples.append(max(many - one, 0.0) / n)
        probe = {"cpu_per_probe_s": median(samples), "process_s": one}
        print(json.dumps(probe), flush=True)

    minutes = info["duration"] / 60
    rows = []
    for (model, name), rs in runs.items():
        cpus = [r["cpu"] for r in rs]
        walls = [r["wall"] for r in rs]
        per_min = median(cpus) / minutes
        rows.append({"model": model, "outputs": name, "cpu_s": median(cpus), "cpu_min": min(cpus),
                     "cpu_max": max(cpus), "wall_s": median(walls), "x_real_time": info["duration"] / median(walls),
                     "cpu_s_per_video_min": per_min, "video_min_per_core_hour": 3600 / per_min,
                     "artifacts": rs[0]["artifacts"]})
    with open(os.path.join(args.out_dir, "cost.json"), "w") as f:
        json.dump({"input": info, "source": source_note, "threads": args.threads, "rows": rows, "marginal": marginal,
                   "probe": probe}, f,
                  indent=1)

    load = os.getloadavg()
    described = {name: text for name, _, text in OUTPUTS}
    lines = [
        "# Cost per video-minute",
        "",
        f"Written by `bench/cost/run.py` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC} "
        f"({platform.node()}, {os.cpu_count()} vCPUs shared with other work, load average {load[0]:.1f} at "
        "the end: a noisy VM). Input: "
        f"{source_note}, {info['width']}x{info['height']} at {info['fps']:.0f} fps, {info['duration']:.2f} s "
        f"({info['frames']} frames), a side-view walk. One `dancer-analysis analyze FILE --report-dir DIR "
        f"--model M --threads {args.threads} [--no-overlay]` process per run (probe, sandboxed analysis child, "
        "artifacts); CPU is user+sys of its whole process tree; median of "
        f"{args.runs} runs, taken in rounds.",
        "",
        "| model | outputs | CPU s per run (median) | min–max | wall s | x real time | "
        "**CPU-s per video-minute** | video-minutes per core-hour |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['model']} | {described[r['outputs']]} | {r['cpu_s']:.2f} | "
                     f"{r['cpu_min']:.2f}–{r['cpu_max']:.2f} | {r['wall_s']:.2f} | {r['x_real_time']:.2f} | "
                     f"**{r['cpu_s_per_video_min']:.0f}** | {r['video_min_per_core_hour']:.0f} |")
    lines += ["", "Artifacts: " + "; ".join(
        f"{described[r['outputs']]}: {', '.join(r['artifacts'])} (+ the JSON on stdout)" for r in rows[:2]) + ".", ""]
    if marginal:
        lines += [
            f"Marginal cost: the same walk played {args.loops} times in one file "
            f"({marginal[0]['long_duration']:.1f} s, stream copy), results only, {args.loop_runs} run(s). "
            "The extra CPU over the extra duration is what each further minute of video costs; the rest "
            "of the clip's CPU is a job's fixed cost (process and sandbox start, model loading, report).",
            "",
            f"| model | CPU s, {info['duration']:.1f} s clip (median above) | CPU s, {args.loops}x looped | "
            "**marginal CPU-s per video-minute** | fixed CPU s per job | video-minutes per core-hour (marginal) |",
            "|---|---|---|---|---|---|",
        ]
        for m in marginal:
            lines.append(f"| {m['model']} | {m['cpu_clip']:.2f} | {m['cpu_long']:.2f} | **{m['marginal_per_min']:.0f}** | "
                         f"{m['fixed_s']:.1f} | {3600 / m['marginal_per_min']:.0f} |")
        lines += [""]
    if probe:
        per_min = probe["cpu_per_probe_s"] / minutes
        lines += [
            f"Metadata-only probe (`media::probe_file`, in process, `bench_metadata_probe`, marginal over 200 "
            f"probes, median of {args.runs}): {probe['cpu_per_probe_s'] * 1000:.2f} ms CPU per file, "
            f"{per_min:.3f} CPU-s per video-minute of this clip (it reads headers and the index, so it grows "
            "with the index, not with decoding). A job's probe runs in a sandboxed child; that child's own "
            "cost per job is in bench/RESULTS.md (`bench_child_overhead`).",
            "",
        ]
    lines += [
        "Each run is a fresh process on a 7 s clip: its fixed costs (process start, the sandboxed "
        "children's start and model loading, the detector's first frames, the report) are spread over "
        "7 s of video, so for longer videos, and for the service that keeps its fork server and models "
        "between jobs, these figures are an upper bound.",
        "",
    ]
    with open(args.results, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
