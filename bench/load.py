"""Load generator for the acknowledgement benchmark, run as its own process.

It is kept out of the process that hosts the fake Slack and Descope servers, so the time those fakes
spend answering the bot's background calls never shows up as client-side delay. ``concurrency``
workers each keep one HTTP/1.1 connection open and send signed ``/impersonate`` commands back to
back (closed loop), or one every ``interval`` seconds (paced, the workers' turns spread evenly over the
interval, so commands arrive at a steady rate rather than in bursts); every command names a login ID of its
own, and requesters take turns.

    python -m bench.load '{"url": …, "secret": …, "count": …, "concurrency": …, "prefix": …,
                           "requesters": [...], "warmup": …, "interval": …}'

prints one JSON object: ``{"latencies": [...seconds...], "statuses": {...}, "accepted": n,
"elapsed": s, "cpu": s}`` (``cpu``: this process's own CPU while sending, warm-up included, start-up not).
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from bench.stack import NoDelayConnection
from bot.devtools.signing import sign, slash_command_body

ACCEPTED_MARK = "Request `"  # the bot's "submitted" answer; the bare app answers an empty body


def run(spec: dict[str, Any]) -> dict[str, Any]:
    cpu0 = time.process_time()
    parts = urlsplit(spec["url"])
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    count, concurrency = int(spec["count"]), int(spec["concurrency"])
    requesters: list[str] = spec["requesters"]
    secret: str = spec["secret"]
    prefix: str = spec["prefix"]
    text_tail = " 30m benchmark: acknowledgement latency"

    def body(i: int) -> str:
        return slash_command_body(f"{prefix}-{i}@bench.example{text_tail}", user_id=requesters[i % len(requesters)])

    next_index = iter(range(count + int(spec.get("warmup", 0)) * concurrency))
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    accepted = 0

    def send(conn: http.client.HTTPConnection, raw: str) -> tuple[float, int, str]:
        headers = sign(secret, raw)
        t0 = time.perf_counter()
        conn.request("POST", parts.path, body=raw.encode(), headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return time.perf_counter() - t0, resp.status, data.decode(errors="replace")

    interval = float(spec.get("interval", 0.0))  # > 0: each worker sends one command per interval

    def worker(k: int) -> None:
        nonlocal accepted
        conn = NoDelayConnection(host, port, timeout=30)
        for _ in range(int(spec.get("warmup", 0))):  # warm the connection and the server's code paths
            with lock:
                i = next(next_index)
            send(conn, body(i))
            time.sleep(interval)
        barrier.wait()
        next_at = time.perf_counter() + k * interval / concurrency  # paced: workers spread evenly, not in bursts
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                break
            i = index
            if interval:
                time.sleep(max(0.0, next_at - time.perf_counter()))
                next_at += interval
            try:
                elapsed, status, text = send(conn, body(i))
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = NoDelayConnection(host, port, timeout=30)
                with lock:
                    statuses[type(exc).__name__] += 1
                continue
            with lock:
                latencies.append(elapsed)
                statuses[str(status)] += 1
                accepted += ACCEPTED_MARK in text
        conn.close()

    barrier = threading.Barrier(concurrency + 1)
    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(concurrency)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    return {"latencies": latencies, "statuses": dict(statuses), "accepted": accepted,
            "elapsed": time.perf_counter() - started, "cpu": time.process_time() - cpu0}


if __name__ == "__main__":
    json.dump(run(json.loads(sys.argv[1])), sys.stdout)
