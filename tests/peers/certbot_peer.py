"""A real certbot lock user for lockscope's interop tests.

Runs certbot's own lock code (certbot._internal.lock from the certbot package on PyPI), never a
reimplementation.

  certbot_peer.py hold DIR     lock_dir(DIR) once; print "locked PID" or "busy MESSAGE"; when locked,
                               wait for "release" (or EOF) on stdin, release, print "released".
  certbot_peer.py cycle DIR N LOG
                               print "ready", then N times: lock_dir(DIR) (retrying every 0.5 ms on
                               LockError), append "enter certbot PID I" and "leave certbot PID I" to
                               LOG while holding (0.2 ms), release, pause 0.3 ms (so the lock changes
                               hands instead of going straight back to the releaser).
  certbot_peer.py serve        read commands on stdin, one per line, for benchmarks:
                               "lock DIR"  -> lock_dir(DIR), print "locked T" (T = CLOCK_MONOTONIC
                                              seconds right after the lock was taken) or "busy";
                               "release"   -> print "releasing T" (T just before), release, print "released".
  certbot_peer.py hold-many DIR...
                               lock_dir each DIR (one process holding many locks), print "locked N",
                               hold until stdin closes.
  certbot_peer.py hold-with-child DIR
                               lock_dir(DIR), start a child `sleep 300` (as certbot runs a hook),
                               print "locked PID CHILD", and wait for the child to exit.
  certbot_peer.py prompt CONFIG WORK LOGS
                               run the real `certbot register` on a new pseudo-terminal with those
                               directories; once it asks for an e-mail address (holding all three
                               locks), print "prompt PID"; when stdin closes, kill it.
  certbot_peer.py timed DIR    lock_dir(DIR) once; print "locked PID T" (T = time.time() right after
                               the lock was taken) or "busy MESSAGE"; on "release" (or EOF) print
                               "releasing T" (just before), release, print "released T". The truth
                               oracle (tests/suite/truth.rs) builds its ground truth from these.
  certbot_peer.py loop DIR N HOLD
                               N times: lock_dir(DIR), retrying every 1 ms on LockError (giving up
                               after 20 s: "gave-up"), print "locked PID T", hold HOLD seconds,
                               print "releasing T", release, print "released T", pause 1 ms: quick
                               hand-overs between certbot processes, timed like `timed`.
  certbot_peer.py version      print certbot's version.
"""
import os
import sys
import time

import certbot
from certbot import errors
from certbot._internal import lock


def hold_with_child(directory):
    import subprocess
    held = lock.lock_dir(directory)
    child = subprocess.Popen(["sleep", "300"])
    print("locked", os.getpid(), child.pid, flush=True)
    child.wait()
    held.release()
    return 0


def prompt(config, work, logs):
    import pty
    import select
    certbot_cmd = os.path.join(os.path.dirname(sys.executable), "certbot")
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(certbot_cmd, [certbot_cmd, "register", "--config-dir", config, "--work-dir", work,
                               "--logs-dir", logs, "--server", "https://127.0.0.1:9/directory"])
    seen = b""
    deadline = time.monotonic() + 60
    while b"(Enter" not in seen:
        if time.monotonic() > deadline:
            print("no prompt:", seen.decode(errors="replace"), flush=True)
            os.kill(pid, 9)
            return 1
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    print("prompt", pid, flush=True)
    sys.stdin.read()
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return 0


def hold(directory):
    try:
        held = lock.lock_dir(directory)
    except errors.LockError as err:
        print("busy", err, flush=True)
        return 0
    print("locked", os.getpid(), flush=True)
    for line in sys.stdin:
        if line.strip() == "release":
            break
    held.release()
    print("released", flush=True)
    return 0


def cycle(directory, count, log_path):
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    pid = os.getpid()
    busy = 0
    print("ready", flush=True)
    for i in range(count):
        while True:
            try:
                held = lock.lock_dir(directory)
                break
            except errors.LockError:
                busy += 1
                time.sleep(0.0005)
        os.write(log, f"enter certbot {pid} {i}\n".encode())
        time.sleep(0.0002)
        os.write(log, f"leave certbot {pid} {i}\n".encode())
        held.release()
        time.sleep(0.0003)
    os.close(log)
    print("done", count, "busy", busy, flush=True)
    return 0


def timed_release(held):
    print("releasing", repr(time.time()), flush=True)
    try:
        held.release()
    except OSError as err:  # the directory was removed or renamed: the lock is gone all the same
        print("release-error", err, flush=True)
    print("released", repr(time.time()), flush=True)


def timed(directory):
    try:
        held = lock.lock_dir(directory)
    except errors.LockError as err:
        print("busy", err, flush=True)
        return 0
    print("locked", os.getpid(), repr(time.time()), flush=True)
    for line in sys.stdin:
        if line.strip() == "release":
            break
    timed_release(held)
    return 0


def loop(directory, count, hold_s):
    for _ in range(count):
        deadline = time.monotonic() + 20
        while True:
            try:
                held = lock.lock_dir(directory)
                break
            except errors.LockError:
                if time.monotonic() > deadline:
                    print("gave-up", flush=True)
                    return 0
                time.sleep(0.001)
            except OSError as err:  # the directory is gone for a moment (removed, renamed)
                if time.monotonic() > deadline:
                    print("gave-up", err, flush=True)
                    return 0
                time.sleep(0.001)
        print("locked", os.getpid(), repr(time.time()), flush=True)
        time.sleep(hold_s)
        timed_release(held)
        time.sleep(0.001)
    return 0


def serve():
    held = None
    for line in sys.stdin:
        words = line.split(maxsplit=1)
        if words[:1] == ["lock"]:
            try:
                held = lock.lock_dir(words[1].rstrip("\n"))
                print("locked", time.monotonic(), flush=True)
            except errors.LockError:
                print("busy", flush=True)
        elif words[:1] == ["release"] and held is not None:
            print("releasing", time.monotonic(), flush=True)
            held.release()
            held = None
            print("released", flush=True)
    return 0


def hold_many(directories):
    held = [lock.lock_dir(d) for d in directories]
    print("locked", len(held), flush=True)
    sys.stdin.read()
    for h in held:
        h.release()
    return 0


def main(argv):
    if argv[1:2] == ["version"]:
        print(certbot.__version__)
        return 0
    if argv[1:2] == ["serve"]:
        return serve()
    if argv[1:2] == ["hold-many"]:
        return hold_many(argv[2:])
    if argv[1:2] == ["hold-with-child"] and len(argv) == 3:
        return hold_with_child(argv[2])
    if argv[1:2] == ["prompt"] and len(argv) == 5:
        return prompt(argv[2], argv[3], argv[4])
    if argv[1:2] == ["hold"] and len(argv) == 3:
        return hold(argv[2])
    if argv[1:2] == ["timed"] and len(argv) == 3:
        return timed(argv[2])
    if argv[1:2] == ["loop"] and len(argv) == 5:
        return loop(argv[2], int(argv[3]), float(argv[4]))
    if argv[1:2] == ["cycle"] and len(argv) == 5:
        return cycle(argv[2], int(argv[3]), argv[4])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
