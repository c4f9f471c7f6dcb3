#!/usr/bin/env python3
"""Measures the TUI from outside, through a real pseudo-terminal.

- start to first frame: from spawning `confpack configure --frontend tui`
  until the first screen (its header) has arrived on the terminal; for
  context also the same command with --dry-run (load, validate, merge, no
  UI), the floor the TUI sits on.
- per-keystroke redraw: from writing one key to the terminal until the
  redrawn screen has arrived, typing into a text field (alternately a
  character and Backspace).

Prints median, p95 and max; asserts nothing (goal: first frame <= 50 ms).

    bench_tui.py BINARY SAMPLE_XML [--starts N] [--keys N]
"""

import argparse
import fcntl
import os
import pty
import select
import signal
import statistics
import struct
import subprocess
import tempfile
import termios
import time

COLS, ROWS = 100, 30


def spawn(argv, env):
    """Starts argv on a new pty of COLS x ROWS; returns (pid, master fd)."""
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        os.execvpe(argv[0], argv, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    return pid, fd


def read_until(fd, needle, timeout=10.0):
    """Reads until `needle` has arrived; returns the time it did."""
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no {needle!r} in {seen[-400:]!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            seen += os.read(fd, 65536)
    return time.monotonic()


def drain(fd, quiet=0.005):
    """Reads until nothing more arrives for `quiet` seconds; returns the
    time of the last byte."""
    last = time.monotonic()
    while True:
        ready, _, _ = select.select([fd], [], [], quiet)
        if not ready:
            return last
        if not os.read(fd, 65536):
            return last
        last = time.monotonic()


def stop(pid, fd):
    try:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    os.close(fd)


def summary(name, values_ms):
    values = sorted(values_ms)
    p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
    print(
        f"{name:34} median {statistics.median(values):7.2f} ms   "
        f"p95 {p95:7.2f} ms   max {values[-1]:7.2f} ms   (n={len(values)})"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("sample")
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--keys", type=int, default=200)
    args = parser.parse_args()

    env = dict(os.environ, TERM="xterm-256color", LANG="C.UTF-8")
    env.pop("DEBIAN_FRONTEND", None)
    root = tempfile.mkdtemp(prefix="confpack-bench-")
    base = [args.binary, "--root", root]
    configure = base + [
        "configure", "--env-file", args.sample, "--machine", "10.10.0.21",
    ]
    # A conflict and an unanswered password, as in a real upgrade.
    subprocess.run(base + ["set", "webshop/db.host", "mydb"], check=True)

    dry = []
    for _ in range(args.starts):
        started = time.monotonic()
        subprocess.run(configure + ["--dry-run"], check=True, capture_output=True)
        dry.append((time.monotonic() - started) * 1000)

    first = []
    for _ in range(args.starts):
        started = time.monotonic()
        pid, fd = spawn(configure + ["--frontend", "tui"], env)
        arrived = read_until(fd, b"question 1 of")
        first.append((arrived - started) * 1000)
        stop(pid, fd)

    pid, fd = spawn(configure + ["--frontend", "tui"], env)
    read_until(fd, b"question 1 of")
    drain(fd)
    os.write(fd, b"\r")  # past the note, onto the conflict's text field
    read_until(fd, b"document/yours")
    drain(fd, 0.05)
    redraw = []
    for i in range(args.keys):
        key = b"x" if i % 2 == 0 else b"\x7f"
        sent = time.monotonic()
        os.write(fd, key)
        ready, _, _ = select.select([fd], [], [], 5)
        if not ready:
            raise TimeoutError("no redraw after a key")
        os.read(fd, 65536)
        complete = drain(fd, 0.003)
        redraw.append((complete - sent) * 1000)
    stop(pid, fd)

    print(f"confpack TUI, {COLS}x{ROWS} pseudo-terminal, sample-env.xml")
    summary("configure --dry-run (no UI)", dry)
    summary("start to first frame", first)
    summary("keystroke to redrawn frame", redraw)
    verdict = "meets" if statistics.median(first) <= 50 else "misses"
    print(f"first frame {verdict} the 50 ms goal (median)")


if __name__ == "__main__":
    main()
