#!/usr/bin/env python3
"""notify_listen.py SOCKET WATCHDOG_USEC -- COMMAND... — plays systemd for one daemon.

Binds a datagram socket at SOCKET, starts COMMAND with NOTIFY_SOCKET, WATCHDOG_USEC and
WATCHDOG_PID (its own pid, as systemd sets it: through a tiny exec wrapper), and checks the
protocol: READY=1 within 60 s, then at least 3 WATCHDOG=1 within 3 watchdog intervals,
then on SIGTERM a STOPPING=1 and an exit status of 0 within 60 s. Prints what it got;
exit 0 when all held.
"""
import os
import select
import signal
import socket
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    path, usec, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[4:]
    if os.path.exists(path):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC=str(usec))
    # WATCHDOG_PID must be the daemon's own pid: a shell that sets it and execs.
    p = subprocess.Popen(["/bin/sh", "-c", 'WATCHDOG_PID=$$ exec "$@"', "sh"] + cmd, env=env)
    got = []

    def wait_for(pred, secs, what):
        deadline = time.monotonic() + secs
        while time.monotonic() < deadline:
            if any(pred(m) for m in got):
                return True
            r, _, _ = select.select([sock], [], [], 0.2)
            if r:
                got.append(sock.recv(4096).decode(errors="replace"))
            elif p.poll() is not None and not pred(""):
                print("FAIL: %s: the daemon exited %s first; got %r" % (what, p.returncode, got))
                return False
        print("FAIL: no %s within %d s; got %r" % (what, secs, got))
        return False

    ok = wait_for(lambda m: "READY=1" in m.split("\n"), 60, "READY=1")
    if ok:
        n0 = sum(m == "WATCHDOG=1" for m in got)
        ok = wait_for(lambda m: sum(x == "WATCHDOG=1" for x in got) >= n0 + 3,
                      3 * usec / 1e6 + 2, "3 WATCHDOG=1 pings")
    if ok:
        p.send_signal(signal.SIGTERM)
        ok = wait_for(lambda m: "STOPPING=1" in m.split("\n"), 30, "STOPPING=1")
    if p.poll() is None:
        if ok:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        if p.poll() is None:
            p.kill()
            p.wait()
            print("FAIL: still running 60 s after SIGTERM")
            ok = False
    if ok and p.returncode != 0:
        print("FAIL: exit status %s after SIGTERM" % p.returncode)
        ok = False
    print("got: %s" % " | ".join(m.replace("\n", " ") for m in got[:6]))
    sock.close()
    os.unlink(path)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
