#!/usr/bin/env python3
"""Side-by-side benchmarks of dancer-analysis against its peers (issue 5).

Every figure that matters is a ratio of two runs taken in the same invocation on the same
machine, because absolute times drift on a shared machine and ratios hold. Nothing here
asserts a time: it measures and writes bench/RESULTS.md and SVG plots.

  bench.py [--out DIR] [--only download,metadata,e2e,growth,cost]
Environment: BENCH_BUILD (build dir, default build-bench), BENCH_FULL=1 (the issue's full
sizes: 4 GiB objects and 10,000 messages; does not fit the 20-minute budget on 2 cores).
"""
import argparse
import datetime
import http.client
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
sys.path.insert(0, os.path.join(BENCH, "peers"))
from sqs_json_protocol import use_sqs_json_protocol  # noqa: E402

# This script's own SQS calls (queueing the benchmark's messages) go through Debian's
# botocore too, which must speak the JSON protocol to fauxqs.
use_sqs_json_protocol()
FULL = os.environ.get("BENCH_FULL") == "1"
SMOKE = os.environ.get("BENCH_SMOKE") == "1"  # tiny sizes, to check the script itself
MiB = 1 << 20
# The peers run on Debian's packages (the seed's stack): awscli and python3-boto3, even when
# another python3 or aws comes first on PATH.
DEBIAN_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
DEBIAN_AWS = "/usr/bin/aws" if os.path.exists("/usr/bin/aws") else "aws"
NGINX = "/usr/sbin/nginx"
# The seed peer runs on Debian's python3-boto3 too; bench/peers/sqs_json_protocol.py lets its
# botocore 1.29 speak SQS's JSON protocol, the only one fauxqs implements.
SEED_PYTHON = DEBIAN_PYTHON
KEY_ID, SECRET = "bench", "bench"


# ---------------------------------------------------------------- measuring ----

class Measured:
    def __init__(self, wall, cpu, rss_mib, returncode, stdout, stderr):
        self.wall, self.cpu, self.rss_mib = wall, cpu, rss_mib
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def measure(argv, env=None, cwd=None, stdin_text=None, timeout=1800):
    """Runs argv under /usr/bin/time: wall time, CPU (user+sys, including the children it
    waited for, e.g. ffprobe) and peak RSS ("Maximum resident set size" of the largest
    process). /usr/bin/time rather than our own wait4(): a child forked from this Python
    process would carry Python's resident pages until exec and inflate ru_maxrss."""
    out_path = os.path.join(OUT, "last.stdout")
    err_path = os.path.join(OUT, "last.stderr")
    time_path = os.path.join(OUT, "last.time")
    full_env = dict(os.environ)
    full_env.update(env or {})
    with open(out_path, "w") as out, open(err_path, "w") as err:
        start = time.monotonic()
        proc = subprocess.Popen(["/usr/bin/time", "-o", time_path, "-f", "%U %S %M"] + argv,
                                env=full_env, cwd=cwd, stdout=out, stderr=err,
                                stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
                                text=True)
        # A blocking wait: Popen.wait(timeout) polls with sleeps of up to 50 ms, which would
        # round every wall time up by as much (40% of a 64 MiB download on loopback).
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        if stdin_text is not None:
            proc.stdin.write(stdin_text)
            proc.stdin.close()
        returncode = proc.wait()
        wall = time.monotonic() - start
        if not timer.is_alive():
            returncode = -1  # killed at the timeout
        timer.cancel()
    with open(out_path) as f:
        stdout = f.read()
    with open(err_path) as f:
        stderr = f.read()
    user = sys_ = rss_kib = 0.0
    with open(time_path) as f:
        for line in f:  # "Command exited with non-zero status N" may come first
            parts = line.split()
            if len(parts) == 3:
                user, sys_, rss_kib = (float(p) for p in parts)
    return Measured(wall, user + sys_, rss_kib / 1024.0, returncode, stdout, stderr)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_http(url, seconds=20, server=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server is not None and server.proc.poll() is not None:
            with open(server.log.name) as f:
                raise SystemExit(f"bench: server for {url} exited: {f.read()[-500:]}")
        try:
            host, port = url.split("//")[1].split(":")
            conn = http.client.HTTPConnection(host, int(port), timeout=1)
            conn.request("GET", "/")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"bench: server at {url} did not start")


class Server:
    """A local server process we start and stop by its own pid."""

    def __init__(self, argv, env, log):
        self.log = open(log, "w")
        self.proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def aws_env(endpoint):
    return {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint, "AWS_EC2_METADATA_DISABLED": "true"}


def fmt(x, digits=2):
    return f"{x:.{digits}f}"


# -------------------------------------------------------------------- plots ----

def svg_plot(path, title, xlabel, ylabel, series, logx=True):
    """A small line chart as SVG text: series is {name: [(x, y), ...]}."""
    import math
    width, height, left, right, top, bottom = 640, 400, 70, 160, 40, 50
    xs = [x for pts in series.values() for x, _ in pts]
    ys = [y for pts in series.values() for _, y in pts]
    if not xs:
        return
    fx = (lambda v: math.log10(v)) if logx else (lambda v: v)
    x0, x1 = fx(min(xs)), fx(max(xs))
    if x1 == x0:
        x1 = x0 + 1
    y1 = max(ys) * 1.1 or 1

    def px(x):
        return left + (fx(x) - x0) / (x1 - x0) * (width - left - right)

    def py(y):
        return height - bottom - y / y1 * (height - top - bottom)

    colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="black"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="black"/>',
             f'<text x="{(left + width - right) / 2}" y="{height - 12}" text-anchor="middle">{xlabel}</text>',
             f'<text x="16" y="{(top + height - bottom) / 2}" text-anchor="middle" '
             f'transform="rotate(-90 16 {(top + height - bottom) / 2})">{ylabel}</text>']
    for i in range(5):
        y = y1 * i / 4
        parts.append(f'<text x="{left - 6}" y="{py(y) + 4}" text-anchor="end">{y:.3g}</text>')
        parts.append(f'<line x1="{left}" y1="{py(y)}" x2="{width - right}" y2="{py(y)}" stroke="#ddd"/>')
    for x in sorted(set(xs)):
        parts.append(f'<text x="{px(x)}" y="{height - bottom + 16}" text-anchor="middle">{x:g}</text>')
    for i, (name, pts) in enumerate(series.items()):
        color = colors[i % len(colors)]
        pts = sorted(pts)
        parts.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (
            color, " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)))
        for x, y in pts:
            parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}"/>')
        parts.append(f'<rect x="{width - right + 10}" y="{top + 18 * i}" width="12" height="12" fill="{color}"/>')
        parts.append(f'<text x="{width - right + 28}" y="{top + 18 * i + 10}">{name}</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


# ----------------------------------------------------------------- download ----

DOWNLOAD_ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


def rounds_for(size_mib):
    """At least DOWNLOAD_ROUNDS; more for small objects, whose runs last a tenth of a second
    and are the most exposed to the shared machine's noise (15 at 64 MiB, 12 at 256 MiB)."""
    return max(DOWNLOAD_ROUNDS, min(15, 3 * 1024 // size_mib))
DEFAULT_DOWNLOAD = "dancer (8 x 16 MiB ranges)"  # S3Config's defaults


def dancer_peers(build, endpoint, key, dest):
    driver = os.path.join(build, "bench/bench_s3_download")
    return {
        "dancer (1 stream)": [driver, endpoint, "bench", key, dest, str(16 * MiB), "1"],
        "dancer (4 x 8 MiB ranges)": [driver, endpoint, "bench", key, dest, str(8 * MiB), "4"],
        DEFAULT_DOWNLOAD: [driver, endpoint, "bench", key, dest, str(16 * MiB), "8"],
    }


def curl_peers(url, dest):
    return {
        "curl": ["curl", "-sS", "-f", "-o", dest, url],
        # What the server can send when nothing is written: the ceiling every client shares.
        "curl -o /dev/null": ["curl", "-sS", "-f", "-o", "/dev/null", url],
    }


def run_rounds(peers, env, dest, size_bytes, server=None):
    """rounds_for(size) rounds, each starting one peer later (a rotation), so that a noisy
    moment of the shared machine hits every peer in turn. Returns per peer the list of
    (Measured, ok, server CPU seconds)."""
    names = list(peers)
    runs = {name: [] for name in names}
    for r in range(rounds_for(size_bytes // MiB)):
        for name in names[r % len(names):] + names[:r % len(names)]:
            if os.path.exists(dest):
                os.remove(dest)
            server_cpu = server.cpu_seconds() if server else 0.0
            m = measure(peers[name], env)
            server_cpu = (server.cpu_seconds() - server_cpu) if server else 0.0
            to_null = "/dev/null" in peers[name]
            ok = m.returncode == 0 and (to_null or os.path.getsize(dest) == size_bytes)
            runs[name].append((m, ok, server_cpu))
            if os.path.exists(dest):
                os.remove(dest)
    return runs


def summarize(server_name, size_mib, runs):
    rows = []
    for name, results in runs.items():
        speeds = sorted(size_mib * MiB / 1e6 / m.wall for m, _, _ in results)
        walls = sorted(m.wall for m, _, _ in results)
        rows.append({
            "server": server_name, "size_mib": size_mib, "peer": name,
            "ok": all(ok for _, ok, _ in results), "runs": len(results),
            "mb_s": statistics.median(speeds), "mb_s_min": speeds[0], "mb_s_max": speeds[-1],
            "wall": statistics.median(walls),
            "cpu": statistics.median(m.cpu for m, _, _ in results),
            "rss_mib": max(m.rss_mib for m, _, _ in results),  # the worst round
            "server_cores": statistics.median(cpu / m.wall for m, _, cpu in results),
        })
    curl = next(r for r in rows if r["peer"] == "curl")
    for r in rows:
        r["x_curl"] = r["mb_s"] / curl["mb_s"]
        print(f"  {server_name} {size_mib} MiB {r['peer']}: median {r['mb_s']:.0f} MB/s "
              f"({r['mb_s_min']:.0f}-{r['mb_s_max']:.0f}), x curl {r['x_curl']:.2f}, "
              f"rss {r['rss_mib']:.1f} MiB, ok={r['ok']}", flush=True)
    return rows


NGINX_CONF = """daemon off;
worker_processes 1;
pid {out}/nginx.pid;
error_log {out}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {out}/nginx-tmp;
  proxy_temp_path {out}/nginx-tmp;
  fastcgi_temp_path {out}/nginx-tmp;
  uwsgi_temp_path {out}/nginx-tmp;
  scgi_temp_path {out}/nginx-tmp;
  sendfile on;
  server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
"""


def bench_download(build):
    """Two servers hold the same objects. s3rver is an S3 implementation (SigV4, ETags,
    ranges) in single-threaded Node.js: it is the ceiling there, and every client lands
    near it. nginx serves the same bytes as static files with sendfile(2), far cheaper per
    byte, so there the client's own cost decides; the service's S3 client talks to it as to
    S3 (path-style GET with Range, ETag checks; nginx ignores the signature)."""
    sizes_mib = [8, 16] if SMOKE else [64, 256, 1024] + ([4096] if FULL else [])
    data_dir = os.path.join(OUT, "s3rver-data")
    static_root = os.path.join(OUT, "static")
    for d in (data_dir, static_root, os.path.join(OUT, "nginx-tmp")):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    os.makedirs(os.path.join(static_root, "bench"))
    port, static_port = free_port(), free_port()
    endpoint, static_endpoint = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{static_port}"
    server = Server(["node", os.path.join(BENCH, "tools/node_modules/s3rver/bin/s3rver.js"),
                     "-d", data_dir, "-a", "127.0.0.1", "-p", str(port), "-s",
                     "--configure-bucket", "bench"], {}, os.path.join(OUT, "s3rver.log"))
    conf = os.path.join(OUT, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(out=OUT, port=static_port, root=static_root))
    static_server = Server([NGINX, "-c", conf, "-p", OUT], {}, os.path.join(OUT, "nginx.log"))
    env = aws_env(endpoint)
    # s3rver's default credentials; it checks SigV4 signatures like S3 does.
    env.update({"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER"})
    rows = []
    dl_dir = os.path.join(OUT, "downloads")
    os.makedirs(dl_dir, exist_ok=True)
    try:
        wait_http(endpoint, server=server)
        wait_http(static_endpoint, server=static_server)
        import boto3  # noqa: F401  (fail early if missing)
        for size in sizes_mib:
            key = f"obj-{size}m"
            src = os.path.join(static_root, "bench", key)
            with open(src, "wb") as f:  # incompressible bytes, written once per size
                block = os.urandom(MiB)
                for i in range(size):
                    f.write(block[i % 997:] + block[:i % 997])
            put = measure([DEBIAN_AWS, "--endpoint-url", endpoint, "s3", "cp", "--only-show-errors", src, f"s3://bench/{key}"], env)
            if put.returncode != 0:
                raise SystemExit("bench: upload to s3rver failed: " + put.stderr[-500:])
            dest = os.path.join(dl_dir, "dl.bin")
            peers = dancer_peers(build, endpoint, key, dest)
            peers.update(curl_peers(f"{endpoint}/bench/{key}", dest))  # s3rver serves anonymous GETs
            peers.update({
                "aws s3 cp": [DEBIAN_AWS, "--endpoint-url", endpoint, "s3", "cp", "--only-show-errors", f"s3://bench/{key}", dest],
                "boto3 download_file": [DEBIAN_PYTHON, "-c",
                                        "import boto3,sys;boto3.client('s3',endpoint_url=sys.argv[3])"
                                        ".download_file('bench',sys.argv[1],sys.argv[2])",
                                        key, dest, endpoint],
            })
            rows += summarize("s3rver", size, run_rounds(peers, env, dest, size * MiB, server))
            subprocess.run(["rm", "-rf", os.path.join(data_dir, "bench", key + "._S3rver_object")])
            peers = dancer_peers(build, static_endpoint, key, dest)
            peers.update(curl_peers(f"{static_endpoint}/bench/{key}", dest))
            rows += summarize("nginx", size, run_rounds(peers, env, dest, size * MiB))
            os.remove(src)
    finally:
        server.stop()
        static_server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(static_root, ignore_errors=True)
    return rows


# ----------------------------------------------------------------- metadata ----

CORPUS_KINDS = [
    ("mp4", "-c:v libx264 -preset ultrafast -pix_fmt yuv420p"),
    ("mov", "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac"),
    ("mkv", "-c:v mpeg4 -q:v 5"),
    ("webm", "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 100k"),
    ("avi", "-c:v mjpeg -q:v 5"),
    ("mp4", "-c:v mpeg4 -q:v 5 -c:a aac"),
    ("mkv", "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a libopus"),
    ("mov", "-c:v mjpeg -q:v 8"),
]
FORMAT_FIELDS = ["format_name", "duration", "size", "bit_rate", "nb_streams", "start_time"]
STREAM_FIELDS = ["index", "codec_type", "codec_name", "width", "height", "pix_fmt", "r_frame_rate",
                 "avg_frame_rate", "duration", "nb_frames", "sample_rate", "channels"]


def make_corpus(count):
    corpus = os.path.join(OUT, "corpus")
    os.makedirs(corpus, exist_ok=True)
    paths = []
    for i in range(count):
        ext, codec = CORPUS_KINDS[i % len(CORPUS_KINDS)]
        path = os.path.join(corpus, f"clip{i:04d}.{ext}")
        paths.append(path)
        if os.path.exists(path):
            continue
        w, h = [(96, 64), (128, 96), (160, 120), (176, 144)][i % 4]
        seconds = 0.4 + (i % 5) * 0.2
        rate = [15, 24, 25, 30][(i // 2) % 4]
        audio = "-f lavfi -i sine=frequency=440:sample_rate=48000 " if "-c:a" in codec else ""
        cmd = (f"ffmpeg -v error -y -f lavfi -i testsrc=size={w}x{h}:rate={rate} {audio}"
               f"-t {seconds} {codec} {path}")
        if subprocess.run(cmd, shell=True).returncode != 0:
            raise SystemExit(f"bench: could not make {path}")
    return paths


def contracted(meta):
    fmt_ = {k: meta.get("format", {}).get(k) for k in FORMAT_FIELDS}
    streams = [{k: s.get(k) for k in STREAM_FIELDS} for s in meta.get("streams", [])]
    return {"format": fmt_, "streams": streams}


def bench_metadata(build):
    count = 400 if FULL else 240
    t0 = time.monotonic()
    paths = make_corpus(count)
    print(f"  corpus of {len(paths)} files ready in {time.monotonic() - t0:.0f} s", flush=True)
    # The seed's way: one ffprobe process per file, from Python, JSON parsed per file.
    seed_code = (
        "import json,subprocess,sys\n"
        "out={}\n"
        "for p in sys.stdin.read().split():\n"
        "  r=subprocess.run(['ffprobe','-v','quiet','-print_format','json','-show_format',"
        "'-show_streams',p],capture_output=True,text=True)\n"
        "  out[p]=json.loads(r.stdout) if r.returncode==0 else None\n"
        "print(json.dumps(out))\n")
    listing = "\n".join(paths) + "\n"
    rounds = []
    for _ in range(2):  # alternate the order to cancel drift
        ours = measure([os.path.join(build, "bench/bench_metadata_probe")], stdin_text=listing)
        seed = measure([DEBIAN_PYTHON, "-c", seed_code], stdin_text=listing)
        rounds.append((ours, seed))
    ours, seed = min(rounds, key=lambda r: r[0].wall)[0], min(rounds, key=lambda r: r[1].wall)[1]
    ours_meta = {}
    for line in ours.stdout.splitlines():
        item = json.loads(line)
        ours_meta[item["path"]] = item.get("metadata")
    seed_meta = json.loads(seed.stdout)
    mismatches = []
    for p in paths:
        a, b = ours_meta.get(p), seed_meta.get(p)
        if a is None or b is None or contracted(a) != contracted(b):
            mismatches.append(p)
    return {"files": len(paths), "ours": ours, "seed": seed, "mismatches": mismatches,
            "sample_diff": (contracted(ours_meta.get(mismatches[0]) or {}),
                            contracted(seed_meta.get(mismatches[0]) or {})) if mismatches else None}


# ---------------------------------------------------------------------- e2e ----

class Emulator:
    def __init__(self):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.server = Server(["node", os.path.join(ROOT, "tools/emulator/node_modules/fauxqs/dist/cli.js")],
                             {"FAUXQS_PORT": str(self.port), "FAUXQS_HOST": "localhost",
                              "FAUXQS_LOGGER": "false"}, os.path.join(OUT, "fauxqs.log"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        import boto3
        os.environ.update(aws_env(self.endpoint))
        from botocore.config import Config
        self.s3 = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                               config=Config(s3={"addressing_style": "path"}))
        self.sqs = boto3.client("sqs", endpoint_url=self.endpoint, region_name="us-east-1")


def make_short_video():
    path = os.path.join(OUT, "short.mp4")
    if not os.path.exists(path):
        subprocess.run(f"ffmpeg -v error -y -f lavfi -i testsrc=size=320x240:rate=30 -t 2 "
                       f"-c:v libx264 -preset ultrafast -pix_fmt yuv420p {path}", shell=True, check=True)
    return path


def s3_event(bucket, key, size, etag):
    return json.dumps({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-23T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": key, "size": size, "eTag": etag, "sequencer": "0"}}}]})


def upload_objects(emu, bucket, count, video):
    with open(video, "rb") as f:
        body = f.read()
    objects = []
    for i in range(count):
        key = f"uploads/walk-{i:05d}.mp4"
        etag = emu.s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"].strip('"')
        objects.append((key, len(body), etag))
    return objects


def enqueue(emu, queue_url, bucket, objects):
    for i in range(0, len(objects), 10):
        emu.sqs.send_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(j), "MessageBody": s3_event(bucket, key, size, etag)}
            for j, (key, size, etag) in enumerate(objects[i:i + 10])])


def count_completed(db):
    import sqlite3
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM processing_jobs WHERE status='completed'").fetchone()[0]


def run_consumer(emu, build, impl, workers, objects, analyzer="placeholder", perf_out=None):
    """Queues one message per object, runs one consumer --until-empty and measures it."""
    queue = f"q-{impl}-{analyzer}-{workers}-{len(objects)}-{time.monotonic_ns()}"
    queue_url = emu.sqs.create_queue(QueueName=queue)["QueueUrl"]
    enqueue(emu, queue_url, "bench", objects)
    work = os.path.join(OUT, "work", queue)
    os.makedirs(work)
    db = os.path.join(work, "jobs.db")
    env = aws_env(emu.endpoint)
    env.update({"SQS_QUEUE_URL": queue_url, "S3_BUCKET": "bench", "S3_PREFIX": "uploads/",
                "S3_FORCE_PATH_STYLE": "true", "MAX_WORKERS": str(workers), "SQS_WAIT_TIME": "1",
                "SQS_VISIBILITY_TIMEOUT": "300", "DOWNLOAD_DIR": os.path.join(work, "dl"),
                "REPORT_DIR": os.path.join(work, "reports"), "DATABASE_URL": f"sqlite:///{db}",
                "LOG_LEVEL": "WARNING", "LOG_FILE": "", "HEALTH_PORT": "0", "ANALYZER": analyzer,
                "CLEANUP_AFTER_PROCESSING": "true", "STATS_INTERVAL": "3600",
                # The seed makes no browser proxy or poster; like for like, neither does dancer.
                "PROXY_ENABLED": "false"})
    if impl == "dancer-exec":
        env["ANALYSIS_FORK_SERVER"] = "false"  # each probe's child executed afresh
    if impl.startswith("dancer"):
        argv = [os.path.join(build, "dancer-analysis"), "run", "--until-empty"]
        if perf_out:
            argv = ["perf", "record", "-e", "cpu-clock", "-F", "999", "-g", "-o", perf_out, "--"] + argv
    else:
        argv = [SEED_PYTHON, os.path.join(BENCH, "peers/seed_worker.py"), "--until-empty"]
    emu_cpu0 = emu.server.cpu_seconds()
    m = measure(argv, env, cwd=work)
    emu_cpu = emu.server.cpu_seconds() - emu_cpu0
    done = count_completed(db)
    shutil.rmtree(work, ignore_errors=True)
    emu.sqs.delete_queue(QueueUrl=queue_url)
    if m.returncode != 0 or done != len(objects):
        print(f"  WARNING {impl} w={workers}: exit {m.returncode}, {done}/{len(objects)} completed: "
              f"{m.stderr[-400:]}", flush=True)
    return {"impl": impl, "analyzer": analyzer, "workers": workers, "messages": len(objects),
            "completed": done, "wall": m.wall, "cpu": m.cpu, "rss_mib": m.rss_mib,
            "msg_s": done / m.wall if m.wall else 0, "cpu_per_msg_ms": 1000 * m.cpu / max(done, 1),
            "emulator_cpu": emu_cpu}


def emulator_ceiling(emu, seconds=4.0, threads=4):
    """fauxqs measured alone: ReceiveMessage (WaitTimeSeconds 0) + GetObject rate with
    keep-alive connections, no signing work on the client side."""
    queue_url = emu.sqs.create_queue(QueueName="ceiling")["QueueUrl"]
    count = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    auth = ("AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/sqs/aws4_request, "
            "SignedHeaders=host, Signature=" + "0" * 64)

    def loop():
        conn = http.client.HTTPConnection("127.0.0.1", emu.port)
        n = 0
        body = json.dumps({"QueueUrl": queue_url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0})
        while time.monotonic() < stop:
            conn.request("POST", "/", body=body, headers={
                "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.ReceiveMessage",
                "Authorization": auth, "X-Amz-Date": "20260101T000000Z"})
            conn.getresponse().read()
            conn.request("GET", "/bench/uploads/walk-00000.mp4",
                         headers={"Authorization": auth.replace("/sqs/", "/s3/"),
                                  "X-Amz-Date": "20260101T000000Z",
                                  "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"})
            conn.getresponse().read()
            n += 2
        with lock:
            count[0] += n

    ts = [threading.Thread(target=loop) for _ in range(threads)]
    cpu0 = emu.server.cpu_seconds()
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.monotonic() - t0
    return {"requests_s": count[0] / wall, "emulator_cpu_share": (emu.server.cpu_seconds() - cpu0) / wall}


def child_overhead(build):
    """The service's children per job, executed against forked from the fork server
    (drivers/child_overhead.cpp), on a 6-frame 1080p30 clip: its Markdown table."""
    clip = os.path.join(OUT, "six_frames_1080p.mp4")
    if not os.path.exists(clip):
        subprocess.run(f"ffmpeg -v error -y -f lavfi -i testsrc2=size=1920x1080:rate=30 -frames:v 6 "
                       f"-c:v libx264 -pix_fmt yuv420p {clip}", shell=True, check=True)
    r = subprocess.run([os.path.join(build, "bench", "bench_child_overhead"),
                        os.path.join(build, "dancer-analysis"), clip, "5" if SMOKE else "20"],
                       capture_output=True, text=True, check=True)
    return "\n".join(line for line in r.stdout.splitlines() if line.startswith("|"))


def bench_e2e_and_queue_growth(build, only):
    n = 30 if SMOKE else 1000
    queue_lengths = [10, 30] if SMOKE else [100, 1000, 3000] + ([10000] if FULL else [])
    emu = Emulator()
    results = {"e2e": [], "gait": [], "queue_growth": [], "ceiling": None, "profile": None,
               "children": None}
    try:
        emu.s3.create_bucket(Bucket="bench")
        video = make_short_video()
        objects = upload_objects(emu, "bench", max(n, max(queue_lengths) if "growth" in only else n), video)
        print(f"  {len(objects)} objects uploaded to fauxqs", flush=True)
        results["ceiling"] = emulator_ceiling(emu)
        print(f"  emulator alone: {results['ceiling']['requests_s']:.0f} requests/s", flush=True)
        if "e2e" in only:
            for workers in (1, 2, 4):
                for impl in ("dancer", "dancer-exec", "seed"):
                    r = run_consumer(emu, build, impl, workers, objects[:n])
                    results["e2e"].append(r)
                    print(f"  e2e {impl} w={workers}: {r['msg_s']:.1f} msg/s, "
                          f"{r['cpu_per_msg_ms']:.2f} ms CPU/msg", flush=True)
            results["children"] = child_overhead(build)
            print(results["children"], flush=True)
            r = run_consumer(emu, build, "dancer", 2, objects[:min(n, 100)], analyzer="gait")
            results["gait"].append(r)
            print(f"  e2e dancer gait w=2: {r['msg_s']:.1f} msg/s", flush=True)
            perf_data = os.path.join(OUT, "perf.data")
            r = run_consumer(emu, build, "dancer", 2, objects[:n], perf_out=perf_data)
            report = subprocess.run(["perf", "report", "-i", perf_data, "--stdio", "--no-children",
                                     "--sort", "dso,symbol", "--percent-limit", "1.5", "-g", "none"],
                                    capture_output=True, text=True)
            results["profile"] = "\n".join(
                line.rstrip(" -") for line in report.stdout.splitlines()
                if line.strip() and not line.startswith("#"))[:6000]
        if "growth" in only:
            for length in queue_lengths:
                r = run_consumer(emu, build, "dancer", 2, objects[:length])
                results["queue_growth"].append(r)
                print(f"  queue {length}: {r['wall']:.1f} s, rss {r['rss_mib']:.1f} MiB", flush=True)
    finally:
        emu.server.stop()
    return results


# --------------------------------------------------------------------- cost ----

def bench_cost(build):
    """CPU-seconds per video-minute of the real binary (bench/cost/run.py, which writes
    bench/cost/RESULTS.md; a smoke run writes into the output directory): its table."""
    out_dir = os.path.join(OUT, "cost")
    results = os.path.join(out_dir, "RESULTS.md") if SMOKE else os.path.join(BENCH, "cost", "RESULTS.md")
    cmd = [sys.executable, os.path.join(BENCH, "cost", "run.py"), "--build", build, "--out-dir", out_dir,
           "--results", results]
    if SMOKE:
        cmd += ["--runs", "1", "--models", "lite", "--loop-runs", "0"]
    subprocess.run(cmd, check=True)
    with open(results) as f:
        return [line for line in f.read().splitlines() if line.startswith("|")]


# ------------------------------------------------------------------- report ----

def boto_version(python):
    r = subprocess.run([python, "-c", "import boto3,botocore;print(boto3.__version__,botocore.__version__)"],
                       capture_output=True, text=True)
    parts = r.stdout.split()
    return f"boto3 {parts[0]} / botocore {parts[1]}" if len(parts) == 2 else "boto3 (unknown)"


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.node()}: {os.cpu_count()} CPUs ({cpu}), {mem:.1f} GiB RAM, Linux {platform.release()}"


def write_results(download, metadata, e2e, started, path, cost=None):
    global SEED_BOTO
    SEED_BOTO = boto_version(SEED_PYTHON)
    lines = ["# Benchmark results", "",
             f"Written by `bench/run.sh` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC} "
             f"in {time.monotonic() - started:.0f} s. Machine: {machine()}.", "",
             "Every ratio compares runs taken side by side in this one invocation (shared machine: "
             "absolute times drift, ratios hold). " +
             ("Full sizes (BENCH_FULL=1)." if FULL else
              "Default budget: objects up to 1 GiB and queues up to 3,000 messages; the issue's 4 GiB "
              "and 10,000-message cases run with `BENCH_FULL=1` (they do not fit 20 minutes on 2 cores)."), ""]
    if download:
        sizes = sorted({r["size_mib"] for r in download})

        def ratio_line(server, peer):
            return " / ".join(f"{r['x_curl']:.2f}×" for size in sizes for r in download
                              if r["server"] == server and r["peer"] == peer and r["size_mib"] == size)

        size_list = " / ".join(f"{s} MiB" for s in sizes)
        lines += ["## 1. Download over loopback: the service's S3 client against curl and the AWS tools", "",
                  f"Two servers hold the same objects ({size_list}). **s3rver** 3.7.1 is an S3 "
                  "implementation (SigV4, ETags, ranges, files on disk) in single-threaded Node.js; "
                  "**nginx** (Debian's, `sendfile on`) serves the same bytes as static files and costs "
                  "far less per byte, so there the client's own cost decides. The service's client "
                  "talks to both as to S3 (HEAD, then path-style GETs with Range and ETag checks; "
                  "nginx ignores the signature). aws s3 cp is Debian's awscli "
                  f"({DEBIAN_AWS}); boto3 is Debian's python3-boto3 ({boto_version(DEBIAN_PYTHON)}). "
                  f"`curl -o /dev/null` writes nothing: it shows what the server can send.", "",
                  "Each peer ran " + " / ".join(str(rounds_for(s)) for s in sizes) +
                  f" times ({size_list}), rounds rotating the order; MB/s is the median "
                  "with the range of the rounds, × curl the ratio of medians, CPU the median user+sys, "
                  "peak RSS the worst round (/usr/bin/time), server cores the s3rver process's CPU "
                  "seconds per wall second during the download. The service's default is 8 ranged parts "
                  "of 16 MiB; its downloads are scratch copies and are not fsynced.", "",
                  f"**Default against curl**: s3rver {ratio_line('s3rver', DEFAULT_DOWNLOAD)}; "
                  f"nginx {ratio_line('nginx', DEFAULT_DOWNLOAD)} ({size_list}).", ""]
        for server in ("s3rver", "nginx"):
            lines += [f"### {server}", "",
                      "| size | peer | MB/s median (range) | × curl | CPU s | peak RSS MiB |" +
                      (" server cores |" if server == "s3rver" else ""),
                      "|---|---|---|---|---|---|" + ("---|" if server == "s3rver" else "")]
            for r in (r for r in download if r["server"] == server):
                lines.append(f"| {r['size_mib']} MiB | {r['peer']}{'' if r['ok'] else ' (FAILED)'} | "
                             f"{r['mb_s']:.0f} ({r['mb_s_min']:.0f}–{r['mb_s_max']:.0f}) | "
                             f"{r['x_curl']:.2f} | {r['cpu']:.2f} | {r['rss_mib']:.1f} |" +
                             (f" {r['server_cores']:.2f} |" if server == "s3rver" else ""))
            lines.append("")
        lines += ["![download time](download_time.svg) ![download memory](download_rss.svg)", ""]
    if metadata:
        o, s = metadata["ours"], metadata["seed"]
        lines += ["## 2. Metadata: in-process libavformat vs one ffprobe process per file", "",
                  f"Corpus: {metadata['files']} generated files (MP4, MOV, MKV, WebM, AVI; H.264, MPEG-4, "
                  "VP9, MJPEG; some with AAC/Opus audio). Best of two alternating rounds.", "",
                  "| implementation | wall s | files/s | CPU s | peak RSS MiB |", "|---|---|---|---|---|",
                  f"| dancer probe_file (in process) | {o.wall:.2f} | {metadata['files'] / o.wall:.0f} | "
                  f"{o.cpu:.2f} | {o.rss_mib:.1f} |",
                  f"| seed: ffprobe subprocess per file | {s.wall:.2f} | {metadata['files'] / s.wall:.0f} | "
                  f"{s.cpu:.2f} | {s.rss_mib:.1f} |", "",
                  f"**Speed-up: {s.wall / o.wall:.1f}× wall, {s.cpu / max(o.cpu, 1e-9):.1f}× less CPU.** "
                  f"Contracted fields (format: {', '.join(FORMAT_FIELDS)}; streams: {', '.join(STREAM_FIELDS)}) "
                  f"identical in {metadata['files'] - len(metadata['mismatches'])} of {metadata['files']} files.", ""]
        if metadata["mismatches"]:
            lines += ["First mismatch (" + metadata["mismatches"][0] + "):", "", "```",
                      "ours: " + json.dumps(metadata["sample_diff"][0]),
                      "ffprobe: " + json.dumps(metadata["sample_diff"][1]), "```", ""]
    if e2e and e2e["e2e"]:
        c = e2e["ceiling"]
        lines += ["## 3. End to end: 1,000 queued short videos, `run --until-empty`", "",
                  f"Local fauxqs (S3+SQS, in memory). Seed peer: bench/peers/seed_worker.py on {SEED_BOTO}. Both implementations with ANALYZER=placeholder "
                  "(metadata-derived figures, no decoding), SQLite, SQS_WAIT_TIME=1, same machine, same run. "
                  "CPU is the consumer's own user+sys including its children (ffprobe for the seed); "
                  "the emulator's CPU is listed apart.", "",
                  "| workers | implementation | msg/s | CPU ms/msg | peak RSS MiB | emulator CPU s | "
                  "× seed msg/s | seed CPU ÷ ours |", "|---|---|---|---|---|---|---|---|"]
        for w in (1, 2, 4):
            seed = next(r for r in e2e["e2e"] if r["impl"] == "seed" and r["workers"] == w)
            ours_all = [r for r in e2e["e2e"] if r["impl"].startswith("dancer") and r["workers"] == w]
            for r in ours_all + [seed]:
                ratio = (f"{r['msg_s'] / seed['msg_s']:.1f}" if r is not seed and seed["msg_s"] else "")
                cpu_ratio = (f"{seed['cpu_per_msg_ms'] / r['cpu_per_msg_ms']:.1f}"
                             if r is not seed and r["cpu_per_msg_ms"] else "")
                lines.append(f"| {w} | {r['impl']} ({r['completed']}/{r['messages']}) | {r['msg_s']:.1f} | "
                             f"{r['cpu_per_msg_ms']:.2f} | {r['rss_mib']:.1f} | {r['emulator_cpu']:.1f} | "
                             f"{ratio} | {cpu_ratio} |")
        lines += ["", "`dancer` forks each probe's sandboxed child from the fork server "
                  "(ANALYSIS_FORK_SERVER=true, the default); `dancer-exec` executes the program for "
                  "each (ANALYSIS_FORK_SERVER=false)."]
        if e2e.get("children"):
            lines += ["", "### The sandboxed children per job (bench_child_overhead, 6-frame 1080p30 "
                      "clip, one worker)", "", e2e["children"], ""]
        for r in e2e["gait"]:
            lines += ["", f"For information, ANALYZER=gait (the real silhouette analysis, sandboxed child per "
                      f"job), {r['messages']} messages, {r['workers']} workers: {r['msg_s']:.2f} msg/s, "
                      f"{r['cpu_per_msg_ms']:.0f} ms CPU per message."]
        lines += ["", f"Emulator ceiling, measured alone (4 keep-alive clients, ReceiveMessage + GetObject "
                  f"pairs, no client-side signing): {c['requests_s']:.0f} requests/s using "
                  f"{c['emulator_cpu_share'] * 100:.0f}% of one core. A job costs the service at least "
                  "4 requests (receive share, GetObject, DeleteMessage, plus visibility heartbeats), so the "
                  f"emulator alone caps the pipeline near {c['requests_s'] / 4:.0f} msg/s; fauxqs is single-"
                  "threaded Node.js and shares the 2 cores with the consumer under test.", ""]
        if e2e["profile"]:
            lines += ["### Profile (perf record -e cpu-clock, dancer, 2 workers, 1,000 messages)", "",
                      "```", e2e["profile"], "```", ""]
    if (download or (e2e and e2e["queue_growth"])):
        lines += ["## 4. Growth", ""]
        if download:
            lines += ["Time and peak RSS against object size (s3rver; the service, curl and the AWS tools): "
                      "[time](download_time.svg), [memory](download_rss.svg).", ""]
        if e2e and e2e["queue_growth"]:
            lines += ["| queue length | wall s | s per 1,000 msg | peak RSS MiB |", "|---|---|---|---|"]
            for r in e2e["queue_growth"]:
                lines.append(f"| {r['messages']} | {r['wall']:.1f} | {1000 * r['wall'] / r['messages']:.2f} | "
                             f"{r['rss_mib']:.1f} |")
            lines += ["", "![queue time](queue_time.svg) ![queue memory](queue_rss.svg)", ""]
    if cost:
        lines += ["## 5. Cost per video-minute (bench/cost, the real binary on a 1080p30 walk)", "",
                  "CPU-seconds per minute of 1080p30 video, per model and output set; details and the "
                  "probe's cost in [cost/RESULTS.md](cost/RESULTS.md).", "", *cost, ""]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def plots(download, e2e, out_dir):
    if download:
        peers = ["dancer (1 stream)", DEFAULT_DOWNLOAD, "curl", "aws s3 cp", "boto3 download_file"]
        s3rver = [r for r in download if r["server"] == "s3rver"]
        svg_plot(os.path.join(out_dir, "download_time.svg"), "Download time vs object size (s3rver)",
                 "MiB", "seconds (median)",
                 {p: [(r["size_mib"], r["wall"]) for r in s3rver if r["peer"] == p] for p in peers})
        svg_plot(os.path.join(out_dir, "download_rss.svg"), "Peak RSS vs object size (s3rver)", "MiB",
                 "peak RSS (MiB)", {p: [(r["size_mib"], r["rss_mib"]) for r in s3rver if r["peer"] == p]
                                    for p in peers})
    if e2e and e2e["queue_growth"]:
        g = e2e["queue_growth"]
        svg_plot(os.path.join(out_dir, "queue_time.svg"), "Time vs queue length (dancer, 2 workers)",
                 "messages", "seconds", {"wall time": [(r["messages"], r["wall"]) for r in g]})
        svg_plot(os.path.join(out_dir, "queue_rss.svg"), "Peak RSS vs queue length (dancer, 2 workers)",
                 "messages", "peak RSS (MiB)", {"peak RSS": [(r["messages"], r["rss_mib"]) for r in g]})


def main():
    global OUT
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(BENCH, "out"))
    parser.add_argument("--only", default="download,metadata,e2e,growth,cost")
    parser.add_argument("--results", default=os.path.join(BENCH, "RESULTS.md"))
    args = parser.parse_args()
    OUT = os.path.abspath(args.out)  # nginx resolves relative paths against its prefix
    os.makedirs(OUT, exist_ok=True)
    only = args.only.split(",")
    build = os.path.join(ROOT, os.environ.get("BENCH_BUILD", "build-bench"))
    started = time.monotonic()
    download = metadata = e2e = cost = None
    if "download" in only:
        print("== download", flush=True)
        download = bench_download(build)
    if "metadata" in only:
        print("== metadata", flush=True)
        metadata = bench_metadata(build)
        print(f"  ours {metadata['ours'].wall:.2f} s, seed {metadata['seed'].wall:.2f} s, "
              f"{len(metadata['mismatches'])} mismatches", flush=True)
    if "e2e" in only or "growth" in only:
        print("== end to end / queue growth", flush=True)
        e2e = bench_e2e_and_queue_growth(build, only)
    if "cost" in only:
        print("== cost per video-minute", flush=True)
        cost = bench_cost(build)
    results_dir = os.path.dirname(args.results)
    plots(download, e2e, results_dir)
    write_results(download, metadata, e2e, started, args.results, cost)
    print(f"wrote {args.results} in {time.monotonic() - started:.0f} s")


OUT = None
SEED_BOTO = ""
if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    main()
