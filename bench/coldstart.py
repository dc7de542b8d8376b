#!/usr/bin/env python3
"""Cold start of each function's process, beside a hello-world Lambda built the same way.

Method (shared/reference/local-stack.md, section 5): a stub of the Lambda Runtime API
listens on 127.0.0.1; each stripped release `bootstrap` is spawned with the environment
Lambda would give it (standard AWS_LAMBDA_* variables, region, fake credentials) plus the
function's own settings with fake values, and the time from exec to its first
`GET /2018-06-01/runtime/invocation/next` is taken. That request comes once `main` has
read its configuration and built every client, so it is the process part of a cold
start. No invocation is ever handed out, so no function reaches AWS: the process is
killed as soon as it asks for work. (Every AWS endpoint is pointed at a closed loopback
port as well, so nothing could leave the machine if one tried.) Lambda's own sandbox
set-up and code download are not included.

One warm-up run per binary, then N measured runs (default 20) with the page cache warm;
the median, min and max are printed.

    bench/build-sizes.sh                 # builds target/lambda-x86-64/<bin>/bootstrap
    bench/coldstart.py [-n 20] [--dir target/lambda-x86-64]
"""

import argparse
import http.server
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BINARIES = ["hello", "ingest", "deliver", "logs", "admin"]

# What each function reads at init (functions/*/src/config.rs, main.rs), with fake values.
# tests/template/main.rs checks that the template sets every required one.
FAKE_SETTINGS = {
    "TABLE_NAME": "leadrelay-bench",
    "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/leadrelay-bench-deliveries",
    "CURSOR_SECRET": "bench-cursor-secret-not-a-real-one-0123456789abcdef",
    "KMS_KEY_ID": "11111111-2222-3333-4444-555555555555",
    "RETRY_SCHEDULE_S": "30,120,600,1800,3600,7200,14400,28800,28800",
    "ATTEMPT_TIMEOUT_S": "15",
    "BATCH_CONCURRENCY": "10",
    "RUST_LOG": "info",
}

MEMORY_MB = {"hello": 128, "ingest": 256, "deliver": 512, "logs": 256, "admin": 256}


class Run:
    """One spawned process: when it was started and when it first asked for work."""

    def __init__(self):
        self.started_ns = 0
        self.first_next_ns = None
        self.asked = threading.Event()
        self.done = threading.Event()


current = {"run": None}


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    """The Runtime API's `next` endpoint: notes the time, then holds the request."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server's naming)
        now = time.perf_counter_ns()
        run = current["run"]
        if self.path.endswith("/runtime/invocation/next") and run is not None:
            if run.first_next_ns is None:
                run.first_next_ns = now
                run.asked.set()
            # Never hand out an invocation: hold the request until the process is gone.
            run.done.wait(timeout=30)
        self.close_connection = True

    def do_POST(self):  # noqa: N802
        # An init error report: answer it so the process can exit and be reported.
        length = int(self.headers.get("content-length", "0"))
        self.rfile.read(length)
        self.send_response(202)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def environment(binary, api):
    """The environment Lambda gives a function, plus its settings with fake values."""
    closed = "http://127.0.0.1:9"  # discard port: nothing listens, nothing leaves
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_LAMBDA_RUNTIME_API": api,
        "AWS_LAMBDA_FUNCTION_NAME": f"leadrelay-bench-{binary}",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(MEMORY_MB[binary]),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/leadrelay-bench-{binary}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]bench",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "_HANDLER": "bootstrap",
        "LAMBDA_TASK_ROOT": "/var/task",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIDBENCHFAKE",
        "AWS_SECRET_ACCESS_KEY": "bench-fake-secret",
        "AWS_SESSION_TOKEN": "bench-fake-token",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": closed,
        "TZ": ":UTC",
    }
    if binary != "hello":
        env.update(FAKE_SETTINGS)
    return env


def spawn_once(path, binary, api, log):
    """Starts the bootstrap, waits for its first `next`, kills it; returns milliseconds."""
    run = Run()
    current["run"] = run
    run.started_ns = time.perf_counter_ns()
    proc = subprocess.Popen(
        [path], env=environment(binary, api), stdout=log, stderr=log, close_fds=True
    )
    try:
        while not run.asked.wait(timeout=0.05):
            if proc.poll() is not None:
                log.seek(0)
                raise SystemExit(
                    f"{binary} exited with {proc.returncode} before asking for work:\n"
                    + log.read().decode(errors="replace")[-2000:]
                )
            if time.perf_counter_ns() - run.started_ns > 10e9:
                raise SystemExit(f"{binary} did not ask for work within 10 s")
    finally:
        proc.kill()
        proc.wait()
        run.done.set()
        current["run"] = None
    return (run.first_next_ns - run.started_ns) / 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    parser.add_argument("--dir", default=os.path.join(target, "lambda-x86-64"),
                        help="where <binary>/bootstrap are (bench/build-sizes.sh output)")
    parser.add_argument("-n", type=int, default=20, help="measured runs per binary")
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), RuntimeApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api = f"127.0.0.1:{args.port}"

    rows = []
    for binary in BINARIES:
        path = os.path.join(args.dir, binary, "bootstrap")
        if not os.access(path, os.X_OK):
            sys.exit(f"{path} is missing: run bench/build-sizes.sh first")
        with tempfile.TemporaryFile() as log:
            spawn_once(path, binary, api, log)  # warm-up: page cache, first exec
            times = [spawn_once(path, binary, api, log) for _ in range(args.n)]
        rows.append((binary, statistics.median(times), min(times), max(times),
                     os.path.getsize(path)))
    server.shutdown()

    hello = rows[0][1]
    print(f"exec -> first /next, median of {args.n} after one warm-up "
          f"({os.uname().machine}, {os.cpu_count()} cores)")
    print("| binary  | median ms | min ms | max ms | vs hello ms | bootstrap MiB |")
    print("|---------|----------:|-------:|-------:|------------:|--------------:|")
    for binary, median, lo, hi, size in rows:
        print(f"| {binary:<7} | {median:9.2f} | {lo:6.2f} | {hi:6.2f} | "
              f"{median - hello:+11.2f} | {size / 1048576:13.2f} |")


if __name__ == "__main__":
    main()
