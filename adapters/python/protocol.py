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

Two things the protocol does for every adapter, advertised in the hello's supports (an adapter
may set either to False): `starve` busy-loops on the event loop — the main thread, where a
synchronous library's calls run too — for the op's `ms` without yielding, then answers `ok`; and
`abandon_after_ms` on acquire, extend or release stops waiting for the library call after that
long, as a user with a client-side timeout would (an asyncio handler's task is cancelled; a
synchronous handler runs on a thread of its own, which is left running), answers `info`
"abandoned after N ms", and forgets the lock object (`adapter.forget()`, or `adapter.lock =
None`), so a later release, extend or held is `fail` "no lock object".

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
import threading
import time
import traceback

PROTOCOL = 1
OPS = ("acquire", "release", "extend", "held", "access")
ABANDONABLE = ("acquire", "release", "extend")

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
    supports = reply.setdefault("supports", {})
    supports.setdefault("abandon", True)  # both are the protocol's, below
    supports.setdefault("starve", True)
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


def _starve(msg):
    """Busy for the op's `ms` on the calling thread — the event loop's, the main thread — without
    yielding to the loop or sleeping, as a CPU-bound stretch of the program would be."""
    stamp = Stamp()
    ms = msg.get("ms")
    if not isinstance(ms, (int, float)) or isinstance(ms, bool) or ms < 0:
        return _reply(msg, stamp, "fail", error=f"starve needs a number of milliseconds \"ms\", got {ms!r}")
    stamp.invoke_ns = time.monotonic_ns()
    end = stamp.invoke_ns + int(ms * 1_000_000)
    while time.monotonic_ns() < end:
        pass
    stamp.complete_ns = time.monotonic_ns()
    return _reply(msg, stamp, "ok")


def _abandon_after_ms(msg):
    """The op's abandon_after_ms, or None (absent, or an op that is never abandoned)."""
    ms = msg.get("abandon_after_ms")
    if msg["op"] not in ABANDONABLE or ms is None:
        return None
    if not isinstance(ms, (int, float)) or isinstance(ms, bool) or ms < 0:
        return None
    return ms


def _forget(adapter):
    """An abandoned call's lock object is dropped, as a user who gave up would drop it."""
    forget = getattr(adapter, "forget", None)
    if forget is not None:
        forget()
    else:
        adapter.lock = None


def _abandoned(msg, stamp, ms, given_up_ns):
    invoke = stamp.invoke_ns if stamp.invoke_ns is not None else given_up_ns
    stamp = Stamp()
    stamp.invoke_ns = invoke
    stamp.complete_ns = max(invoke, given_up_ns)
    return _reply(msg, stamp, "info", error=f"abandoned after {ms:g} ms")


def _retrieve(task):
    """A done callback: an abandoned task's result or error is nobody's (no 'never retrieved')."""
    if not task.cancelled():
        task.exception()


async def _run_abandonable(adapter, handler, msg, stamp, ms):
    """Runs one op's handler, giving up after `ms`. An async handler runs as a task that is
    cancelled then (the library sees CancelledError at its current await, as under wait_for); a
    synchronous one runs on a thread of its own that is left to finish or hang."""
    loop = asyncio.get_running_loop()
    if inspect.iscoroutinefunction(handler):
        task = asyncio.ensure_future(handler(msg, stamp))
        done, _ = await asyncio.wait({task}, timeout=ms / 1000)
        if task in done:
            return _reply(msg, stamp, "ok", task.result())
        given_up = time.monotonic_ns()
        task.cancel()
        task.add_done_callback(_retrieve)
    else:
        future = loop.create_future()

        def work():
            try:
                result = handler(msg, stamp)
            except BaseException as e:  # noqa: B036 — handed to the loop, or dropped
                loop.call_soon_threadsafe(lambda: future.done() or future.set_exception(e))
            else:
                loop.call_soon_threadsafe(lambda: future.done() or future.set_result(result))

        threading.Thread(target=work, name=f"op-{msg['id']}", daemon=True).start()
        done, _ = await asyncio.wait({future}, timeout=ms / 1000)
        if future in done:
            return _reply(msg, stamp, "ok", future.result())
        given_up = time.monotonic_ns()
        future.cancel()  # a late result is dropped
    _forget(adapter)
    log.warning("op %s %s abandoned after %s ms", msg["op"], msg["id"], ms)
    return _abandoned(msg, stamp, ms, given_up)


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
            hello_reply = _hello_reply(fields)
        except Refuse as e:
            _refuse(str(e))
        except Exception as e:
            _setup_failed(e)
        _write(hello_reply)
        supports = hello_reply["supports"]
        while True:
            msg = _parse(await readline())
            if msg is None:
                _exit(0)
            if msg is BLANK:
                continue
            _check_op(msg)
            if msg["type"] == "bye":
                _exit(0)
            if msg["op"] == "starve" and supports.get("starve"):
                _write(_starve(msg))
                continue
            handler = _handler(adapter, msg)
            if handler is None:
                _write(_unsupported(msg))
                continue
            stamp = Stamp()
            abandon_ms = _abandon_after_ms(msg) if supports.get("abandon") else None
            try:
                if abandon_ms is not None:
                    _write(await _run_abandonable(adapter, handler, msg, stamp, abandon_ms))
                    continue
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
    and on every command, no retries. Imports redis-py only when called: not every adapter has it.

    Works with whichever redis-py a library version resolved: `retry=Retry(NoBackoff(), 0)` where
    the client takes a retry policy (redis-py 4 and later; from 6 on the default retries), else
    retry_on_timeout=False, which never resends (redis-py 3). A redis-py without `username`
    (before 3.5) logs in with the password alone, as the user `default`."""
    import redis

    cls = cls or redis.Redis
    params = inspect.signature(cls.__init__).parameters
    options = {"host": node["host"], "port": node["port"], "password": node.get("password"),
               "socket_timeout": timeout_ms / 1000, "socket_connect_timeout": timeout_ms / 1000}
    if "username" in params:
        options["username"] = node.get("username")
    elif node.get("username") not in (None, "", "default"):
        raise Refuse(f"redis-py {redis.__version__} cannot log in as the user {node['username']!r}")
    if "retry" in params:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        options["retry"] = Retry(NoBackoff(), 0)
    else:
        options["retry_on_timeout"] = False
    return cls(**options)


def decoded(value):
    """A lock value as text: bytes decoded as UTF-8 with invalid bytes replaced (how fencepost
    reads the nodes' record); None and text unchanged."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return value


def missing_api(obj, methods=(), params=None):
    """What of an expected API the loaded library lacks: `methods` it must have, and for
    `params` ({method: [parameter, ...]}) the parameters each must take. [] when all is there.
    For telling a library's API generation from the package itself, not its version number."""
    missing = [m for m in methods if not callable(getattr(obj, m, None))]
    for method, names in (params or {}).items():
        fn = getattr(obj, method, None)
        if fn is None:
            missing.append(method)
            continue
        try:
            taken = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            continue  # a builtin without a signature: cannot tell, trust it
        missing += [f"{method}({n}=)" for n in names if n not in taken]
    return missing


class LockAdapter:
    """What the synchronous redis-py-based adapters share: the protected resource reached through
    its script (the access op), and the lock object of the last acquire (extend, held, release)."""

    lock = None

    def connect_resource(self, hello):
        self.resource = redis_client(hello["resource"], hello["timeout_ms"])
        self.access_script = self.resource.register_script(hello["resource"]["script"])

    def held_lock(self):
        if self.lock is None:
            raise Fail("no lock object: no acquire was made yet, or the last call was abandoned")
        return self.lock

    def forget(self):
        self.lock = None

    def access(self, op, stamp):
        result = stamp.call(self.access_script, keys=op["keys"], args=op["args"])
        return {"result": list(result)}


def ttl_ms(op, hello):
    """The op's ttl_ms, or the hello's lock.ttl_ms when the op carries none."""
    ttl = op.get("ttl_ms")
    return int(ttl) if ttl is not None else int(hello["lock"]["ttl_ms"])
