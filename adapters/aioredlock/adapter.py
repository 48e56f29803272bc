"""fencepost adapter for aioredlock (PyPI `aioredlock`, asyncio, on aioredis 1.3.1), over all nodes.

The lock is the key `<name>` itself on every node (no prefix: aioredlock/redis.py Instance.set_lock
passes the resource as KEYS[1]), holding str(uuid4()) (algorithm.py Aioredlock.lock; Lock.id).
acquire and extend are the same Lua script on every node in parallel: SET key id PX ttl if the key
is absent *or already ours* (redis.py SET_LOCK_SCRIPT), granted when a majority answered in time
(lease - elapsed - drift > 0); otherwise it raises, and deletes its id again in the background.
release is a compare-and-DEL that also counts an absent key as released. retry_count=1: one
attempt, no retry loop. held is Lock.valid, the library's own belief (set True on acquire, False on
unlock or when an extension fails); the library computes no validity.

Auto-renewal: aioredlock renews by itself only when lock() gets no lock_timeout. Then the lease is
Aioredlock.internal_lock_timeout (set to the op's ttl) and a watchdog task re-runs extend every
0.6 x that lease (algorithm.py _auto_extend); a failed renewal unlocks, so Lock.valid turns False.

aioredis 1.3.1 has a connect timeout but no command timeout, and aioredlock waits for every node
(asyncio.gather), so each library call is bounded here with asyncio.wait_for(timeout_ms): a call
into a partition is cancelled and answered `info` (aioredlock then cleans up in the background).
aioredis 1.3.1 authenticates with a password only, as the Redis user `default`.

API generations, told apart from the loaded package: aioredlock.errors has LockAcquiringError and
LockRuntimeError (0.7.3) — a denial is then LockAcquiringError, and a node's failure
LockRuntimeError, an `info` — or only LockError (0.5 to 0.7.2), which lock() and extend() raise
for both ("Can not acquire the lock"): the library cannot tell a denial from unreachable nodes,
and the adapter answers its "no" as a denial; an unlock() LockError is then `info`. setup checks
that the aioredis it runs on has the 1.x API aioredlock calls (create_redis_pool): aioredlock
before 0.7.3 does not bound aioredis, and aioredis 2 is another library under the same name.
"""

import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import protocol  # noqa: E402


class Generation:
    """What the loaded aioredlock calls a denial."""

    def __init__(self, errors):
        self.LockError = errors.LockError
        self.acquiring = getattr(errors, "LockAcquiringError", None)

    def denied(self, e, op):
        """The library's own "no": the key is another's on enough nodes, or the lease ran out
        while acquiring. Everything else (a node failed, anything unknown) is `info`."""
        if type(e) is self.LockError and str(e) == "Lock timeout":
            return True
        if self.acquiring is not None:
            return type(e) is self.acquiring
        # One LockError for a denial and a failure alike: lock() and extend() say "no" with it.
        return type(e) is self.LockError and op != "release"


class Adapter:
    def setup(self, hello):
        for node in hello["nodes"] + [hello["resource"]]:
            if node.get("username") not in (None, "", "default"):
                raise protocol.Refuse(
                    "aioredlock (aioredis 1.3.1) authenticates with a password only, as user "
                    f"'default': it cannot log in as {node['username']!r}")
        try:
            import aioredis
            from aioredlock import Aioredlock, errors
        except Exception as e:
            raise protocol.Refuse(f"aioredlock does not import here: {protocol.error_text(e)}")
        if not callable(getattr(aioredis, "create_redis_pool", None)):
            raise protocol.Refuse(
                f"aioredlock runs on aioredis {getattr(aioredis, '__version__', '?')}, which lacks the "
                "aioredis 1.x API it calls (create_redis_pool): this aioredlock does not bound aioredis "
                "below 2; install it with aioredis<2")
        missing = protocol.missing_api(Aioredlock, ("lock", "extend", "unlock"),
                                       {"lock": ["lock_timeout"], "extend": ["lock_timeout"]})
        if missing:
            raise protocol.Refuse(f"this aioredlock lacks what the adapter drives: {', '.join(missing)}")
        self.aioredis = aioredis
        self.gen = Generation(errors)
        self.LockError = errors.LockError
        self.hello = hello
        self.name = hello["lock"]["name"]
        self.timeout_ms = hello["timeout_ms"]
        self.auto_renewal = bool(hello["lock"].get("auto_renewal", False))
        connect_s = self.timeout_ms / 1000
        self.manager = Aioredlock(
            redis_connections=[{"host": n["host"], "port": n["port"], "password": n.get("password"),
                                "timeout": connect_s} for n in hello["nodes"]],
            retry_count=1, internal_lock_timeout=hello["lock"]["ttl_ms"] / 1000)
        self.resource_node = hello["resource"]
        self.sha = hashlib.sha1(hello["resource"]["script"].encode()).hexdigest()
        self.resource = None
        self.lock = None
        return {
            "library": "aioredlock", "package": "aioredlock", "lock_keys": [self.name],
            "supports": {"acquire": True, "release": True, "extend": True, "held": True,
                         "auto_renewal": self.auto_renewal, "fencing_token": False,
                         "validity": False},
        }

    def _held_lock(self):
        if self.lock is None:
            raise protocol.Fail("no lock object: the last acquire returned none, or a call was abandoned")
        return self.lock

    async def acquire(self, op, stamp):
        ttl_s = protocol.ttl_ms(op, self.hello) / 1000
        self.lock = None
        if self.auto_renewal:  # no lock_timeout: aioredlock's watchdog renews the lease
            self.manager.internal_lock_timeout = ttl_s
            call = lambda: self.manager.lock(self.name)  # noqa: E731
        else:
            call = lambda: self.manager.lock(self.name, lock_timeout=ttl_s)  # noqa: E731
        try:
            self.lock = await stamp.acall(call, timeout_ms=self.timeout_ms)
        except self.LockError as e:
            if self.gen.denied(e, "acquire"):
                return {"granted": False, "validity_ms": None, "token": None, "fence": None}
            raise
        return {"granted": True, "validity_ms": None, "token": self.lock.id, "fence": None}

    async def extend(self, op, stamp):
        lock = self._held_lock()
        ttl_s = protocol.ttl_ms(op, self.hello) / 1000
        try:
            await stamp.acall(lambda: self.manager.extend(lock, lock_timeout=ttl_s),
                              timeout_ms=self.timeout_ms)
        except RuntimeError as e:  # "Lock is not valid": refused before sending anything
            if str(e) != "Lock is not valid":
                raise
            return {"extended": False, "validity_ms": None}
        except self.LockError as e:
            if self.gen.denied(e, "extend"):
                return {"extended": False, "validity_ms": None}
            raise
        return {"extended": True, "validity_ms": None}

    async def held(self, op, stamp):
        lock = self._held_lock()
        return {"held": bool(stamp.call(lambda: lock.valid)), "validity_ms": None}

    async def release(self, op, stamp):
        lock = self._held_lock()
        try:
            await stamp.acall(lambda: self.manager.unlock(lock), timeout_ms=self.timeout_ms)
        except self.LockError as e:
            if self.gen.denied(e, "release"):
                return {"released": False}
            raise
        return {"released": True}

    async def _access(self, keys, args):
        if self.resource is None:  # connected on first use, inside the op's deadline
            node = self.resource_node
            self.resource = await self.aioredis.create_redis_pool(
                (node["host"], node["port"]), password=node.get("password"),
                timeout=self.timeout_ms / 1000)
        try:
            return await self.resource.evalsha(self.sha, keys=keys, args=args)
        except self.aioredis.errors.ReplyError as e:
            if not str(e).startswith("NOSCRIPT"):
                raise
            return await self.resource.eval(self.resource_node["script"], keys=keys, args=args)

    async def access(self, op, stamp):
        result = await stamp.acall(lambda: self._access(op["keys"], op["args"]),
                                   timeout_ms=self.timeout_ms)
        return {"result": list(result)}


if __name__ == "__main__":
    protocol.run_async(Adapter())
