# A Python app: prints its environment markers, then a line a second.
import os, sys, time
print("python", os.environ.get("MUSTER_APP_NAME"), os.environ.get("MUSTER_INSTANCE"),
      os.environ.get("GREETING", "-"), flush=True)
print("to stderr", file=sys.stderr, flush=True)
while True:
    time.sleep(1)
