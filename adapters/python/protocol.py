"""The fencepost client protocol (version 1) for Python adapters: standard library only.

An adapter is an object with

    setup(hello) -> dict      # may be async for run_async. Connect the library to hello["nodes"];
                              # return the hello reply fields: library, package, lock_keys, supports
                              # (version and runtime are filled in here unless given).
                              # Raise Refuse("...") when the library cannot run as asked.

and one method per op it supports, each called as handler(op, stamp) and returning the reply's
op-specific fields (granted, token, released, result, ...):

    acquire  release  extend  held  access

Inside a handler, call the library exactly once through the stamp, which records invoke_ns and
complete_ns with time.monotonic_ns() immediately around that call and nothing else:

    granted = stamp.call(lock.acquire, blocking=False)          # sync adapters
    lock = await stamp.acall(lambda: mgr.lock(name), timeout_ms=500)   # asyncio adapters

Outcomes: a handler that returns is `ok`. A handler that catches the library's own "not owned"
answer returns {"released": False} (still `ok`: that is what the library said). `raise Fail(msg)`
answers `fail` (only when nothing can have reached Redis). Every other exception is `info` with the
exception's text: timeouts, lost connections, anything unknown.

Ops the adapter has no method for are answered `fail` "unsupported op". A malformed input line is
reported on stderr and the process exits 2 (an empty line is no message and is skipped). End of stdin or {"type":"bye"} exits 0 at once, with
os._exit so that library threads (renewal threads, thread pools stuck on a partitioned node) can
not keep the process alive. stdout carries protocol lines only: at start the real stdout is kept
for the protocol and file descriptor 1 is pointed at stderr, so a stray print() in a library lands
in the stderr log instead of corrupting the stream.
"""

import asyncio
import importlib.metadata
import inspect
import json
import logging
import os
import platform
import sys
import time
import traceback

PROTOCOL = 1
OPS = ("acquire", "release", "extend", "held", "access")

log = logging.getLogger("fencepost.adapter")


class Refuse(Exception):
    """Raised by setup(): the adapter cannot run as asked (answered as a hello error, exit 2)."""


class Fail(Exception):
    """Raised by a handler: the op certainly did not take effect (answered `fail`)."""


class Malformed(Exception):
    """An input line that is not a protocol-1 message."""


class Stamp:
    """Records CLOCK_MONOTONIC nanoseconds right before and right after the one library call."""

    __slots__ = ("invoke_ns", "complete_ns")

    def __init__(self):
        self.invoke_ns = None
        self.complete_ns = None

    def call(self, fn, *args, **kwargs):
        self.invoke_ns = time.monotonic_ns()
        try:
            return fn(*args, **kwargs)
        finally:
            self.complete_ns = time.monotonic_ns()

    async def acall(self, fn, timeout_ms=None):
        """Await fn() (a zero-argument function returning an awaitable), optionally bounded.

        With timeout_ms the awaitable is cancelled after that long and TimeoutError raised (an
        `info`): for asyncio clients that have no command timeout of their own.
        """
        self.invoke_ns = time.monotonic_ns()
        try:
            if timeout_ms is None:
                return await fn()
            try:
                return await asyncio.wait_for(fn(), timeout_ms / 1000)
            except asyncio.TimeoutError:
                raise TimeoutError(
                    f"no answer from the library within {timeout_ms} ms (call cancelled)"
                ) from None
        finally:
            self.complete_ns = time.monotonic_ns()


# --- plumbing shared by the sync and asyncio loops ----------------------------------------------

_out = None  # the real stdout, for protocol lines only
BLANK = {"type": "blank"}  # an empty input line: no message, skipped
_line_no = 0


def _claim_stdout():
    global _out
    sys.stdout.flush()
    _out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else written to fd 1 goes to stderr
    sys.stdout = sys.stderr


def _write(obj):
    _out.write(json.dumps(obj, separators=(",", ":")).encode("utf-8") + b"\n")
    _out.flush()


def _exit(code):
    for stream in (_out, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass
    os._exit(code)


def _malformed(message):
    sys.stderr.write(f"fencepost adapter: malformed input line {_line_no}: {message}\n")
    _exit(2)


def _parse(raw):
    """One stdin line -> message dict; None at end of input; BLANK for an empty line (skipped).
    Exits 2 on a malformed line."""
    global _line_no
    if not raw:
        return None
    _line_no += 1
    if not raw.strip():
        return BLANK
    try:
        msg = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        _malformed(f"not UTF-8 JSON ({e}): {raw[:200]!r}")
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        _malformed(f"not a JSON object with a \"type\": {raw[:200]!r}")
    return msg


def _check_op(msg):
    t = msg["type"]
    if t == "bye":
        return
    if t != "op":
        _malformed(f"unexpected message type {t!r} (expected \"op\" or \"bye\")")
    if not isinstance(msg.get("id"), int) or isinstance(msg.get("id"), bool):
        _malformed(f"op without an integer \"id\": {msg!r}")
    if not isinstance(msg.get("op"), str):
        _malformed(f"op without a string \"op\": {msg!r}")


def _check_hello(msg):
    if msg is None:
        log.info("stdin closed before the hello")
        _exit(0)
    if msg["type"] == "bye":
        _exit(0)
    if msg["type"] != "hello":
        _malformed(f"the first message must be the hello, got type {msg['type']!r}")
    if msg.get("protocol") != PROTOCOL:
        _refuse(f"this adapter speaks fencepost protocol {PROTOCOL}, not {msg.get('protocol')!r}")


def _refuse(message):
    sys.stderr.write(f"fencepost adapter: refusing the hello: {message}\n")
    _write({"type": "hello", "protocol": PROTOCOL, "error": message})
    _exit(2)


def _setup_failed(e):
    log.error("setup failed:\n%s", traceback.format_exc())
    _refuse(f"adapter setup failed: {error_text(e)}")


def _hello_reply(fields):
    reply = {"type": "hello", "protocol": PROTOCOL}
    reply.update(fields)
    if "version" not in reply:
        reply["version"] = importlib.metadata.version(reply["package"])
    reply.setdefault("runtime", f"python {platform.python_version()}")
    return reply


def error_text(e):
    """The library's error text, with the underlying cause when it wraps one."""
    def one(x):
        s = str(x)
        return f"{type(x).__name__}: {s}" if s else type(x).__name__
    text = one(e)
    cause = e.__cause__ or (None if e.__suppress_context__ else e.__context__)
    if cause is not None and cause is not e:
        text += f" (caused by {one(cause)})"
    return text


def _reply(msg, stamp, outcome, fields=None, error=None):
    now = time.monotonic_ns()
    invoke = stamp.invoke_ns if stamp.invoke_ns is not None else now
    complete = stamp.complete_ns if stamp.complete_ns is not None else max(invoke, now)
    reply = {"type": "reply", "id": msg["id"], "op": msg["op"], "outcome": outcome,
             "invoke_ns": invoke, "complete_ns": complete}
    if fields:
        reply.update(fields)
    reply["error"] = error
    return reply


def _handler(adapter, msg):
    name = msg["op"]
    return getattr(adapter, name, None) if name in OPS else None


def _from_exception(msg, stamp, e):
    if isinstance(e, Fail):
        return _reply(msg, stamp, "fail", error=str(e))
    if stamp.invoke_ns is None:
        log.error("op %s raised before calling the library:\n%s", msg["op"], traceback.format_exc())
    else:
        log.warning("op %s %s: %s", msg["op"], msg["id"], error_text(e))
    return _reply(msg, stamp, "info", error=error_text(e))


def _unsupported(msg):
    return _reply(msg, Stamp(), "fail", error="unsupported op")


def _setup_logging():
    logging.basicConfig(stream=sys.stderr, level=os.environ.get("FENCEPOST_ADAPTER_LOG", "WARNING"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


# --- the loops -----------------------------------------------------------------------------------

def run(adapter):
    """The protocol loop for an adapter whose library is synchronous. Never returns. It is the
    asyncio loop below: a synchronous handler simply runs to completion on it."""
    run_async(adapter)


def run_async(adapter):
    """The protocol loop: setup and handlers may be coroutines (an asyncio library) or plain
    functions. Never returns. stdin is read on a helper thread so the library's own tasks (renewal watchdogs) keep
    running on the event loop between ops."""
    _claim_stdout()
    _setup_logging()

    async def main():
        loop = asyncio.get_running_loop()

        async def readline():
            return await loop.run_in_executor(None, sys.stdin.buffer.readline)

        hello = BLANK
        while hello is BLANK:
            hello = _parse(await readline())
        _check_hello(hello)
        try:
            fields = adapter.setup(hello)
            if inspect.isawaitable(fields):
                fields = await fields
            reply = _hello_reply(fields)
        except Refuse as e:
            _refuse(str(e))
        except Exception as e:
            _setup_failed(e)
        _write(reply)
        while True:
            msg = _parse(await readline())
            if msg is None:
                _exit(0)
            if msg is BLANK:
                continue
            _check_op(msg)
            if msg["type"] == "bye":
                _exit(0)
            handler = _handler(adapter, msg)
            if handler is None:
                _write(_unsupported(msg))
                continue
            stamp = Stamp()
            try:
                fields = handler(msg, stamp)
                if inspect.isawaitable(fields):
                    fields = await fields
                reply = _reply(msg, stamp, "ok", fields)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as e:  # CancelledError included: the effect is unknown
                reply = _from_exception(msg, stamp, e)
            _write(reply)

    asyncio.run(main())
    _exit(0)


# --- small helpers the adapters share -------------------------------------------------------------

def redis_client(node, timeout_ms, cls=None):
    """A redis-py client for one node (`cls`, default redis.Redis): fencepost's deadline on connect
    and on every command, no retries. Imports redis-py only when called: not every adapter has it."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return (cls or redis.Redis)(
        host=node["host"], port=node["port"],
        username=node.get("username"), password=node.get("password"),
        socket_timeout=timeout_ms / 1000, socket_connect_timeout=timeout_ms / 1000,
        retry=Retry(NoBackoff(), 0),
    )


class LockAdapter:
    """What the synchronous redis-py-based adapters share: the protected resource reached through
    its script (the access op), and the lock object of the last acquire (extend, held, release)."""

    lock = None

    def connect_resource(self, hello):
        self.resource = redis_client(hello["resource"], hello["timeout_ms"])
        self.access_script = self.resource.register_script(hello["resource"]["script"])

    def held_lock(self):
        if self.lock is None:
            raise Fail("no lock object: no acquire was made yet")
        return self.lock

    def access(self, op, stamp):
        result = stamp.call(self.access_script, keys=op["keys"], args=op["args"])
        return {"result": list(result)}


def ttl_ms(op, hello):
    """The op's ttl_ms, or the hello's lock.ttl_ms when the op carries none."""
    ttl = op.get("ttl_ms")
    return int(ttl) if ttl is not None else int(hello["lock"]["ttl_ms"])
