"""Emulator throughput: small creates per second and resumable-upload MB/s, as one JSON object.

Runs the emulator as its own process (`jupyter-drive-sync emulator --port 0`), drives it from
several client processes over keep-alive loopback connections, prints e.g.
`{"creates_per_s": 640.1, "multipart_creates_per_s": 480.3, "resumable_mb_per_s": 410.0, ...}`.
Targets (task brief): >= 300 creates/s and >= 200 MB/s.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit


def _start_emulator(data_dir: str) -> tuple[subprocess.Popen, str]:
    exe = Path(sys.executable).with_name("jupyter-drive-sync")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "jupyter_drive_sync"]
    # `--profile fast` (no limits, no latency): this step measures the emulator itself, the one
    # bench step that does not run under Google's limits.
    proc = subprocess.Popen([*cmd, "emulator", "--port", "0", "--profile", "fast", "--data-dir", data_dir],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    if not line.startswith("Drive emulator listening on "):
        proc.kill()
        raise SystemExit(f"emulator did not start: {line!r}")
    return proc, line.strip().rsplit(" ", 1)[1]


def _conn(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)


def _call(conn: http.client.HTTPConnection, method: str, path: str, body: bytes = b"",
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def _account(url: str, email: str) -> str:
    conn = _conn(url)
    status, _, body = _call(conn, "POST", "/_emulator/accounts", json.dumps({"email": email}).encode(),
                            {"Content-Type": "application/json"})
    conn.close()
    assert status == 200, body
    return json.loads(body)["access_token"]


def _create_worker(args: tuple[str, str, int, bool]) -> int:
    """One client: `n` sequential creates on one keep-alive connection; returns successes."""
    url, token, n, multipart = args
    conn = _conn(url)
    ok = 0
    auth = {"Authorization": f"Bearer {token}"}
    for i in range(n):
        if multipart:
            b = "bench"
            body = (f"--{b}\nContent-Type: application/json\n\n".encode()
                    + json.dumps({"name": f"f{os.getpid()}-{i}.txt"}).encode()
                    + f"\n--{b}\nContent-Type: text/plain\n\n".encode() + b"x" * 200 + f"\n--{b}--".encode())
            status, _, _ = _call(conn, "POST", "/upload/drive/v3/files?uploadType=multipart&alt=json&fields=id",
                                 body, {**auth, "Content-Type": f"multipart/related; boundary={b}"})
        else:
            body = json.dumps({"name": f"d{os.getpid()}-{i}", "mimeType": "application/vnd.google-apps.folder"}).encode()
            status, _, _ = _call(conn, "POST", "/drive/v3/files?alt=json&fields=id", body,
                                 {**auth, "Content-Type": "application/json"})
        ok += status == 200
    conn.close()
    return ok


def _creates_per_s(url: str, clients: int, per_client: int, multipart: bool) -> float:
    tokens = [_account(url, f"bench{i}-{int(multipart)}@example.edu") for i in range(clients)]
    with mp.Pool(clients) as pool:
        pool.map(_create_worker, [(url, t, 5, multipart) for t in tokens])  # warm-up
        start = time.perf_counter()
        done = sum(pool.map(_create_worker, [(url, t, per_client, multipart) for t in tokens]))
        elapsed = time.perf_counter() - start
    if done != clients * per_client:
        raise SystemExit(f"only {done} of {clients * per_client} creates succeeded")
    return done / elapsed


def _resumable_mb_per_s(url: str, size_mb: int, chunk_mb: int) -> float:
    token = _account(url, "bench-big@example.edu")
    total = size_mb * 1024 * 1024
    chunk = chunk_mb * 1024 * 1024
    block = os.urandom(chunk)
    md5 = hashlib.md5()
    for off in range(0, total, chunk):
        md5.update(block[:min(chunk, total - off)])
    conn = _conn(url)
    start = time.perf_counter()
    status, headers, _ = _call(conn, "POST", "/upload/drive/v3/files?uploadType=resumable&fields=id,md5Checksum",
                               b'{"name": "big.bin"}', {"Authorization": f"Bearer {token}",
                                                        "Content-Type": "application/json",
                                                        "X-Upload-Content-Length": str(total)})
    assert status == 200
    session = urlsplit(headers["location"])
    path = f"{session.path}?{session.query}"
    sent = 0
    while sent < total:
        n = min(chunk, total - sent)
        data = block if n == chunk else block[:n]
        status, _, body = _call(conn, "PUT", path, data, {"Content-Range": f"bytes {sent}-{sent + n - 1}/{total}"})
        sent += n
        assert status == (308 if sent < total else 200), (status, body)
    elapsed = time.perf_counter() - start
    assert json.loads(body)["md5Checksum"] == md5.hexdigest()
    conn.close()
    return total / 1024 / 1024 / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--per-client", type=int, default=300)
    ap.add_argument("--size-mb", type=int, default=256)
    ap.add_argument("--chunk-mb", type=int, default=8)
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="emu-bench-") as data_dir:
        proc, url = _start_emulator(data_dir)
        try:
            result = {
                "creates_per_s": round(_creates_per_s(url, opts.clients, opts.per_client, False), 1),
                "multipart_creates_per_s": round(_creates_per_s(url, opts.clients, opts.per_client, True), 1),
                "resumable_mb_per_s": round(_resumable_mb_per_s(url, opts.size_mb, opts.chunk_mb), 1),
                "clients": opts.clients,
                "creates_per_client": opts.per_client,
                "resumable_size_mb": opts.size_mb,
                "chunk_mb": opts.chunk_mb,
            }
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
