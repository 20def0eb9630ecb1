#!/usr/bin/env python3
"""The seed service's design, rebuilt faithfully for side-by-side benchmarks.

What the seed did, per its description: a ThreadPoolExecutor of MAX_WORKERS threads fed by
a boto3 SQS long poll (receive_message), each message an S3 upload notification; per
object: s3.download_file to DOWNLOAD_DIR, `ffprobe -v quiet -print_format json
-show_format -show_streams` in a subprocess for metadata, a processing_jobs row in SQLite
written with status 'processing' and then 'completed' (with results), a placeholder that
"simulates gait analysis", delete_message, and removal of the download. Same configuration
variable names as the C++ service. --until-empty stops once a poll returns nothing and no
job is running, as `dancer-analysis run --until-empty` does.

This is a benchmark peer, not production code: it keeps the seed's design (one boto3
client shared by the threads, one SQLite connection per write, JSON built per job) and its
placeholder work (bench/README: the same trivial figures as src/analysis/placeholder_analyzer).
It runs on Debian's python3-boto3, the seed's stack, with SQS spoken in the JSON protocol.
"""
import argparse
import datetime
import json
import os
import sqlite3
import subprocess
import sys
import threading
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from sqs_json_protocol import use_sqs_json_protocol

# Before any client exists: Debian's botocore 1.29 would otherwise send SQS requests in the
# query protocol, which the local emulator does not serve (see sqs_json_protocol.py).
use_sqs_json_protocol()

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS processing_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket TEXT NOT NULL,
    object_key TEXT NOT NULL,
    etag TEXT NOT NULL DEFAULT '',
    size_bytes INTEGER NOT NULL,
    status TEXT NOT NULL,
    error_message TEXT NOT NULL DEFAULT '',
    metadata_json TEXT,
    results_json TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    completed_at TEXT
)"""


def env(name, default):
    value = os.environ.get(name, "")
    return value if value else default


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def sqlite_path(url):
    if not url.startswith("sqlite:///"):
        raise SystemExit("seed_worker: DATABASE_URL must be sqlite:///...")
    return url[len("sqlite:///"):]


def rational(text):
    if not isinstance(text, str) or "/" not in text:
        return float(text or 0)
    num, den = text.split("/", 1)
    return float(num) / float(den) if float(den) > 0 else 0.0


def placeholder_analysis(metadata):
    """The seed's stand-in for gait analysis; same figures as placeholder_analyzer.cpp."""
    video = next((s for s in metadata.get("streams", []) if s.get("codec_type") == "video"), None)
    if video is None:
        raise ValueError("no video stream in the metadata")
    duration = float(video.get("duration", 0) or 0)
    if duration <= 0:
        duration = float(metadata.get("format", {}).get("duration", 0) or 0)
    fps = rational(video.get("avg_frame_rate", "0/0"))
    if fps <= 0:
        fps = rational(video.get("r_frame_rate", "0/0"))
    frames = int(video.get("nb_frames", 0) or 0)
    if frames <= 0:
        frames = round(duration * fps)
    return {"analyzer": {"name": "placeholder", "version": "1.0.0"}, "placeholder": True,
            "duration_seconds": duration, "frame_count": frames, "fps": fps,
            "width": video.get("width", 0), "height": video.get("height", 0)}


class SeedWorker:
    def __init__(self):
        region = env("AWS_REGION", "us-east-1")
        endpoint = os.environ.get("AWS_ENDPOINT_URL") or None
        path_style = env("S3_FORCE_PATH_STYLE", "false").lower() == "true"
        self.sqs = boto3.client("sqs", region_name=region, endpoint_url=endpoint)
        self.s3 = boto3.client("s3", region_name=region, endpoint_url=endpoint,
                               config=Config(s3={"addressing_style": "path" if path_style else "auto"}))
        self.queue_url = env("SQS_QUEUE_URL", "") or self.sqs.get_queue_url(
            QueueName=env("SQS_QUEUE_NAME", "dancer-processing-queue"))["QueueUrl"]
        self.download_dir = env("DOWNLOAD_DIR", "./temp_downloads")
        self.max_workers = int(env("MAX_WORKERS", "2"))
        self.wait_time = int(env("SQS_WAIT_TIME", "20"))
        self.visibility = int(env("SQS_VISIBILITY_TIMEOUT", "300"))
        self.cleanup = env("CLEANUP_AFTER_PROCESSING", "true").lower() == "true"
        self.db_path = sqlite_path(env("DATABASE_URL", "sqlite:///./dancer_uploads.db"))
        os.makedirs(self.download_dir, exist_ok=True)
        with sqlite3.connect(self.db_path) as db:
            db.execute(CREATE_TABLE)
        self.in_flight = 0
        self.lock = threading.Lock()
        self.slots = threading.Semaphore(self.max_workers)
        self.processed = 0

    def db_execute(self, sql, args):
        with sqlite3.connect(self.db_path, timeout=30) as db:
            cursor = db.execute(sql, args)
            return cursor.lastrowid

    def process(self, message):
        try:
            body = json.loads(message["Body"])
            for record in body.get("Records", []):
                s3info = record["s3"]
                bucket = s3info["bucket"]["name"]
                key = urllib.parse.unquote_plus(s3info["object"]["key"])
                etag = s3info["object"].get("eTag", "")
                size = int(s3info["object"].get("size", 0))
                job_id = self.db_execute(
                    "INSERT INTO processing_jobs (bucket, object_key, etag, size_bytes, status,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, 'processing', ?, ?)",
                    (bucket, key, etag, size, now(), now()))
                local = os.path.join(self.download_dir, f"{job_id}_{os.path.basename(key)}")
                self.s3.download_file(bucket, key, local)
                probe = subprocess.run(
                    ["ffprobe", "-v", "quiet", "-print_format", "json", "-show_format",
                     "-show_streams", local], capture_output=True, check=True, text=True)
                metadata = json.loads(probe.stdout)
                results = {"analysis": placeholder_analysis(metadata)}
                self.db_execute(
                    "UPDATE processing_jobs SET status='completed', metadata_json=?, results_json=?,"
                    " updated_at=?, completed_at=? WHERE id=?",
                    (json.dumps(metadata), json.dumps(results), now(), now(), job_id))
                if self.cleanup:
                    os.remove(local)
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            with self.lock:
                self.processed += 1
        except Exception as error:  # the seed logged and left the message for redelivery
            print(f"seed_worker: {error}", file=sys.stderr)
        finally:
            with self.lock:
                self.in_flight -= 1
            self.slots.release()

    def run(self, until_empty):
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            while True:
                response = self.sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=min(10, self.max_workers),
                    WaitTimeSeconds=self.wait_time, VisibilityTimeout=self.visibility)
                messages = response.get("Messages", [])
                if not messages:
                    with self.lock:
                        idle = self.in_flight == 0
                    if until_empty and idle:
                        break
                    continue
                for message in messages:
                    self.slots.acquire()
                    with self.lock:
                        self.in_flight += 1
                    pool.submit(self.process, message)
        print(json.dumps({"processed": self.processed}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--until-empty", action="store_true")
    args = parser.parse_args()
    SeedWorker().run(args.until_empty)


if __name__ == "__main__":
    main()
