#!/usr/bin/env python3
"""Start examples/cluster-http many times and time "first request served".

Issue 9, item 8: a black-box check once found nothing listening within 5 s
(2 in ~25 runs, right after a build, stdout on /dev/null). This starts the
example RUNS times, alternating stdout on /dev/null, stdout closed, a pipe
nobody reads and all of stdin, stdout and stderr closed, optionally under
CPU load (--load N busy processes) and with a cold page cache (--cold), and
connects every 2 ms until one HTTP request is answered, then stops it with
SIGTERM, which must end it with status 0. It prints the distribution, every
run that missed the deadline or ended badly, then one JSON line.

  scripts/hunt-cluster-start.py build/examples/cluster-http [--runs 500]
      [--load 2] [--deadline 5] [--cold]
"""
import argparse, json, os, signal, socket, subprocess, sys, time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def served(port):
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=1)
    except OSError:
        return False
    try:
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = c.recv(64)
        return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False
    finally:
        c.close()


def burner():
    pid = os.fork()
    if pid == 0:
        os.setsid()
        while True:
            pass
    return pid


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--runs", type=int, default=500)
    ap.add_argument("--load", type=int, default=0)
    ap.add_argument("--deadline", type=float, default=5.0)
    ap.add_argument("--cold", action="store_true",
                    help="drop the page cache before each start (root)")
    a = ap.parse_args()
    burners = [burner() for _ in range(a.load)]
    modes = ["devnull", "closed", "pipe", "no-stdio"]
    times, missed, bad_exit = [], [], []
    try:
        for i in range(a.runs):
            mode = modes[i % len(modes)]
            if a.cold:
                with open("/proc/sys/vm/drop_caches", "w") as f:
                    f.write("3\n")
            port = free_port()
            env = dict(os.environ, PORT=str(port), WORKERS="2")
            kw = {}
            if mode == "devnull":
                kw["stdout"] = subprocess.DEVNULL
            elif mode == "pipe":
                kw["stdout"] = subprocess.PIPE
            elif mode == "closed":
                kw["preexec_fn"] = lambda: os.close(1)
            else:
                kw["preexec_fn"] = lambda: [os.close(fd) for fd in (0, 1, 2)]
            t0 = time.monotonic()
            p = subprocess.Popen([a.binary], env=env,
                                 stderr=subprocess.DEVNULL, **kw)
            ok = False
            while time.monotonic() - t0 < a.deadline:
                if served(port):
                    ok = True
                    break
                if p.poll() is not None:
                    break
                time.sleep(0.002)
            dt = (time.monotonic() - t0) * 1000
            if ok:
                times.append(dt)
            else:
                missed.append({"run": i, "mode": mode, "ms": round(dt),
                               "exit": p.poll()})
                print(f"run {i} ({mode}): nothing served after {dt:.0f} ms,"
                      f" exit {p.poll()}", file=sys.stderr)
            p.send_signal(signal.SIGTERM)
            try:
                code = p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                code = p.wait()
            if ok and code != 0:
                bad_exit.append({"run": i, "mode": mode, "exit": code})
                print(f"run {i} ({mode}): exit {code} after SIGTERM",
                      file=sys.stderr)
            if p.stdout:
                p.stdout.close()
    finally:
        for b in burners:
            os.killpg(b, signal.SIGKILL)
            os.waitpid(b, 0)
    times.sort()
    q = lambda f: round(times[min(len(times) - 1, int(f * len(times)))], 1)
    res = {"runs": a.runs, "load": a.load, "served": len(times),
           "missed": len(missed), "bad_exit": len(bad_exit), "p50_ms": q(0.5), "p99_ms": q(0.99),
           "max_ms": round(times[-1], 1) if times else None}
    print(f"{len(times)}/{a.runs} served; first request p50 {res['p50_ms']} ms,"
          f" p99 {res['p99_ms']} ms, max {res['max_ms']} ms")
    print(json.dumps(res))
    return 1 if missed or bad_exit else 0


if __name__ == "__main__":
    sys.exit(main())
