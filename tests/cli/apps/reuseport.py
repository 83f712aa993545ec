"""An HTTP app that shares its port with SO_REUSEPORT (every instance and,
during a reload, the old and the new process) and answers with its pid.
On SIGTERM it accepts what is already queued for it, then closes: the
condition for a reload without a failed request in fork mode. FAIL=1 makes
it exit at once (a broken release)."""
import os
import sys

if os.environ.get("FAIL") == "1":
    print("failing on purpose", flush=True)
    sys.exit(3)

import select  # noqa: E402 (after the check: fail as early as possible)
import signal  # noqa: E402
import socket  # noqa: E402

port = int(os.environ["PORT"])
lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
lst.bind(("127.0.0.1", port))
lst.listen(128)
lst.setblocking(False)
stopping = False


def on_term(signo, frame):
    global stopping
    stopping = True


signal.signal(signal.SIGTERM, on_term)
body = ("pid %d\n" % os.getpid()).encode()
reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body


def serve(conn):
    conn.setblocking(True)
    conn.settimeout(5)
    try:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        conn.sendall(reply)
    except OSError:
        pass
    finally:
        conn.close()


print("listening on %d" % port, flush=True)
while True:
    try:
        select.select([lst], [], [], 0.05)
    except InterruptedError:
        pass
    while True:
        try:
            conn, _ = lst.accept()
        except BlockingIOError:
            break
        serve(conn)
    if stopping:
        # Whatever the kernel queued for us before the close is served by
        # the loop above (it ran once more after the signal).
        lst.close()
        sys.exit(0)
