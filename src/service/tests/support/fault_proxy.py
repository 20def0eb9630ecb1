#!/usr/bin/env python3
"""A loopback HTTP/1.1 forwarding proxy that injects faults, for the service's fault tests.

Usage: fault_proxy.py --upstream http://127.0.0.1:4566 --port-file FILE

Listens on a free 127.0.0.1 port (written to --port-file once listening) and forwards
every request to the upstream unchanged (Host header included, so SigV4 signatures made
for the proxy's address are forwarded as signed; the local emulator does not check them).

Control endpoint (never forwarded):
  PUT  /__faults        body: JSON list of rules, replacing the current ones
  GET  /__faults/log    JSON list of every proxied request and what was done to it

A rule: {"method": "GET", "path_prefix": "/bucket/uploads/x.mp4", "target": "AmazonSQS.ReceiveMessage",
         "times": 2, "for_seconds": 3.0,
         "action": "status" | "throttle" | "cut",
         "status": 503, "body": "...", "content_type": "application/xml",
         "bytes_per_second": 1048576, "cut_after": 65536}
Match fields are optional (absent = any). "times" bounds how many requests a rule hits
(absent or -1 = unbounded); "for_seconds" makes it expire that long after it was installed.
The first matching live rule applies; requests no rule matches pass through.
"""

import argparse
import http.client
import http.server
import json
import os
import socket
import threading
import time
import urllib.parse

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
              "trailer", "upgrade", "proxy-authenticate", "proxy-authorization"}


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.log = []

    def install(self, rules):
        now = time.monotonic()
        with self.lock:
            self.rules = [dict(rule, _installed=now, _hits=0) for rule in rules]

    def take(self, method, path, target):
        """The rule that applies to this request (its hit counted), or None."""
        now = time.monotonic()
        with self.lock:
            for rule in self.rules:
                if rule.get("method") and rule["method"] != method:
                    continue
                if rule.get("path_prefix") and not path.startswith(rule["path_prefix"]):
                    continue
                if rule.get("target") and rule["target"] != target:
                    continue
                times = rule.get("times", -1)
                if times >= 0 and rule["_hits"] >= times:
                    continue
                if "for_seconds" in rule and now - rule["_installed"] > rule["for_seconds"]:
                    continue
                rule["_hits"] += 1
                return dict(rule)
        return None

    def record(self, entry):
        with self.lock:
            self.log.append(entry)

    def snapshot(self):
        with self.lock:
            return list(self.log)


FAULTS = Faults()
UPSTREAM = None  # (host, port)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the service's libcurl clients expect

    def log_message(self, fmt, *args):  # quiet: the test reads /__faults/log instead
        pass

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(length) if length else b""

    def _send_simple(self, status, body, content_type="application/json", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _control(self, body):
        if self.command == "PUT" and self.path == "/__faults":
            FAULTS.install(json.loads(body or b"[]"))
            self._send_simple(200, b"{}")
        elif self.command == "GET" and self.path == "/__faults/log":
            self._send_simple(200, json.dumps(FAULTS.snapshot()).encode())
        else:
            self._send_simple(404, b"{}")

    def _handle(self):
        body = self._read_body()
        if self.path.startswith("/__faults"):
            self._control(body)
            return
        target = self.headers.get("X-Amz-Target", "")
        path = urllib.parse.urlsplit(self.path).path
        rule = FAULTS.take(self.command, path, target)
        action = rule["action"] if rule else "pass"
        FAULTS.record({"method": self.command, "path": path, "target": target,
                       "range": self.headers.get("Range", ""), "action": action})
        if action == "status":
            self._send_simple(rule.get("status", 503), rule.get("body", "").encode(),
                              rule.get("content_type", "application/xml"))
            return

        upstream = http.client.HTTPConnection(UPSTREAM[0], UPSTREAM[1], timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
        except OSError as error:
            self._send_simple(502, str(error).encode(), "text/plain")
            return
        finally:
            upstream.close()

        self.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        declared = len(data)
        if self.command == "HEAD":
            declared = int(response.getheader("Content-Length", "0") or 0)
        self.send_header("Content-Length", str(declared))
        self.end_headers()
        if self.command == "HEAD":
            return
        if action == "throttle":
            rate = max(1, int(rule.get("bytes_per_second", 1 << 20)))
            step = max(1, rate // 20)
            for offset in range(0, len(data), step):
                self.wfile.write(data[offset:offset + step])
                self.wfile.flush()
                time.sleep(step / rate)
        elif action == "cut":
            # Headers promised the whole body: the client sees a short transfer.
            self.wfile.write(data[:int(rule.get("cut_after", 0))])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        else:
            self.wfile.write(data)

    def do_GET(self):
        self._handle()

    def do_HEAD(self):
        self._handle()

    def do_PUT(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_DELETE(self):
        self._handle()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global UPSTREAM
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    parsed = urllib.parse.urlsplit(args.upstream)
    UPSTREAM = (parsed.hostname, parsed.port or 80)
    server = Server(("127.0.0.1", 0), Handler)
    temporary = args.port_file + ".tmp"
    with open(temporary, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(temporary, args.port_file)  # the test never reads a half-written port
    server.serve_forever()


if __name__ == "__main__":
    main()
