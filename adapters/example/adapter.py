"""A complete fencepost adapter in one file: copy it, then swap the lock for your library's.

It speaks docs/client-protocol.md on stdin/stdout and implements the plain single-instance lock
itself with redis-py: SET key token NX PX ttl to acquire, compare-and-delete to release,
compare-and-pexpire to extend. Logs go to stderr; stdout carries protocol lines only.
"""

import importlib.metadata, json, os, platform, sys, time, uuid

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
EXTEND = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"


def send(msg):
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def connect(node, timeout_ms):
    # fencepost's deadline on connect and on every command; no client-side retries.
    return redis.Redis(host=node["host"], port=node["port"], username=node.get("username"),
                       password=node.get("password"), socket_timeout=timeout_ms / 1000,
                       socket_connect_timeout=timeout_ms / 1000, retry=Retry(NoBackoff(), 0))


def main():
    hello = json.loads(sys.stdin.readline() or "null")
    if not hello:
        return
    if hello.get("protocol") != 1:
        send({"type": "hello", "protocol": 1, "error": f"example speaks protocol 1, not {hello.get('protocol')}"})
        sys.exit(2)
    if len(hello["nodes"]) != 1:
        send({"type": "hello", "protocol": 1, "error": "example takes exactly 1 lock node"})
        sys.exit(2)
    key, default_ttl = hello["lock"]["name"], hello["lock"]["ttl_ms"]
    node = connect(hello["nodes"][0], hello["timeout_ms"])
    resource = connect(hello["resource"], hello["timeout_ms"])
    release, extend = node.register_script(RELEASE), node.register_script(EXTEND)
    access = resource.register_script(hello["resource"]["script"])
    send({"type": "hello", "protocol": 1, "library": "example", "package": "redis",
          "version": importlib.metadata.version("redis"), "runtime": f"python {platform.python_version()}",
          "lock_keys": [key],
          "supports": {"acquire": True, "release": True, "extend": True, "held": True,
                       "auto_renewal": False, "fencing_token": False, "validity": False}})
    token = None  # the value this client stored in the key, while it believes it holds the lock

    for line in sys.stdin:  # end of input ends the loop
        if not line.strip():  # empty lines carry nothing
            continue
        try:
            op = json.loads(line)
            if op["type"] == "bye":
                break
            reply = {"type": "reply", "id": op["id"], "op": op["op"], "outcome": "ok", "error": None}
            kind, ttl = op["op"], op.get("ttl_ms", default_ttl)
        except (ValueError, KeyError, TypeError) as e:
            print(f"malformed input line {line!r}: {e}", file=sys.stderr)
            sys.exit(2)
        if kind not in ("acquire", "release", "extend", "held", "access"):
            now = time.monotonic_ns()  # nothing called: both stamps are now
            send({**reply, "outcome": "fail", "error": "unsupported op", "invoke_ns": now, "complete_ns": now})
            continue
        reply["invoke_ns"] = time.monotonic_ns()  # stamp right before the lock call...
        try:
            if kind == "acquire":  # one attempt, no retry loop
                attempt, token = uuid.uuid4().hex, None
                if node.set(key, attempt, nx=True, px=ttl):
                    token = attempt
                reply.update(granted=token is not None, validity_ms=None, token=token, fence=None)
            elif kind in ("release", "extend", "held") and token is None:
                # no lock object to call: nothing was asked of the library
                reply.update(outcome="fail", error=f"no lock object: {kind} before any grant")
            elif kind == "release":
                reply["released"] = release(keys=[key], args=[token]) == 1
                token = None
            elif kind == "extend":
                reply.update(extended=extend(keys=[key], args=[token, ttl]) == 1, validity_ms=None)
            elif kind == "held":
                reply.update(held=node.get(key) == token.encode(), validity_ms=None)
            else:  # access: the resource script, run as given
                reply["result"] = access(keys=op["keys"], args=op["args"])
        except Exception as e:  # timeout, lost connection, anything unknown: the effect is unknown
            reply.update(outcome="info", error=f"{type(e).__name__}: {e}")
        reply["complete_ns"] = time.monotonic_ns()  # ...and right after it returns
        send(reply)
    sys.stdout.flush()
    os._exit(0)  # exit at once, whatever threads a library left behind


if __name__ == "__main__":
    main()
