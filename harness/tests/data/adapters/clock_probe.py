"""A client that only reads its wall clock: on every op it logs `time.time() - time.monotonic()`
to stderr and answers "not granted". fencepost's tests run it under a client clock fault to see
that the jump reaches a client process's own time.time().

    python3 clock_probe.py
"""
import json
import sys
import time

hello = json.loads(sys.stdin.readline())
print(json.dumps({"type": "hello", "protocol": 1, "library": "clock-probe", "package": "none",
                  "version": "0", "runtime": "python", "lock_keys": [hello["lock"]["name"]],
                  "supports": {"acquire": True, "release": True}}), flush=True)
for line in sys.stdin:
    op = json.loads(line)
    if op.get("type") == "bye":
        break
    now = time.monotonic_ns()
    print(f"wall-minus-monotonic-ms {(time.time() - time.monotonic()) * 1000:.0f}",
          file=sys.stderr, flush=True)
    print(json.dumps({"type": "reply", "id": op["id"], "op": op["op"], "outcome": "ok",
                      "granted": False, "invoke_ns": now, "complete_ns": time.monotonic_ns()}),
          flush=True)
