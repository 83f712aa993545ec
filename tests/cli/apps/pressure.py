"""Writes 1 KiB of output at a time as fast as its stdout takes it, and
after each write the count so far into $PROGRESS/<pid>, so a test sees
whether it is held back (its pipe not read). Ignores SIGTERM: a stop
takes it the kill timeout."""
import os
import signal

signal.signal(signal.SIGTERM, signal.SIG_IGN)
fd = os.open("%s/%d" % (os.environ["PROGRESS"], os.getpid()),
             os.O_WRONLY | os.O_CREAT, 0o644)
chunk = (("%d " % os.getpid()).ljust(99, "x") + "\n").encode() * 10
n = 0
while True:
    os.write(1, chunk)
    n += 1
    os.pwrite(fd, b"%020d" % n, 0)
