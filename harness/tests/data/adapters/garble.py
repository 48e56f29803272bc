"""Wraps a working adapter and garbles its replies, to test how fencepost counts protocol
violations mid-run (fencepost's tests run it).

    python3 garble.py N MODE CLIENTS ADAPTER-COMMAND…

The first process of each slot (the hello's `process` below CLIENTS) answers its Nth reply with
a line that is not JSON.
MODE `once`: every later process of the slot answers correctly.
MODE `always`: every later process of the slot garbles every reply (a broken adapter).
"""
import json
import subprocess
import sys

n, mode, clients, command = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4:]
inner = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
hello = sys.stdin.readline()
first = json.loads(hello)["process"] < clients
inner.stdin.write(hello)
inner.stdin.flush()
sys.stdout.write(inner.stdout.readline())
sys.stdout.flush()
replies = 0
for line in sys.stdin:
    inner.stdin.write(line)
    inner.stdin.flush()
    if json.loads(line).get("type") == "bye":
        break
    reply = inner.stdout.readline()
    replies += 1
    if (first and replies == n) or (not first and mode == "always"):
        print("Traceback (most recent call last): not a protocol line", flush=True)
    else:
        sys.stdout.write(reply)
        sys.stdout.flush()
inner.stdin.close()
inner.wait()
