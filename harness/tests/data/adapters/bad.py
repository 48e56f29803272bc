"""Deliberately bad adapters, one per way an adapter can misbehave (fencepost's tests run them).

    python3 bad.py MODE

crash       exits 1 before answering the hello
hang        reads the hello and never answers
garbage     answers the hello with a line that is not JSON
protocol    answers with protocol 2
refuse      answers the hello with an error
wrong-op    a correct hello, then answers every op with the wrong id (mid-run: each op is info and a
            fresh process takes the slot)
"""
import json
import sys
import time

mode = sys.argv[1]
print(f"bad adapter: {mode}", file=sys.stderr, flush=True)
hello = json.loads(sys.stdin.readline())
if mode == "crash":
    sys.exit(1)
if mode == "hang":
    time.sleep(3600)
if mode == "garbage":
    print("Traceback (most recent call last): this is not JSON", flush=True)
    time.sleep(5)
    sys.exit(0)
reply = {"type": "hello", "protocol": 1, "library": "bad", "package": "bad", "version": "0",
         "runtime": "python", "lock_keys": ["k"], "supports": {"acquire": True, "release": True}}
if mode == "protocol":
    reply["protocol"] = 2
if mode == "refuse":
    reply["error"] = "this adapter refuses: bad on purpose"
print(json.dumps(reply), flush=True)
if mode != "wrong-op":
    time.sleep(5)
    sys.exit(0)
for line in sys.stdin:
    op = json.loads(line)
    if op.get("type") == "bye":
        sys.exit(0)
    print(json.dumps({"type": "reply", "id": op["id"] + 1000, "op": op["op"], "outcome": "ok",
                      "granted": False}), flush=True)
