"""fencepost adapter for python-redis-lock (PyPI `python-redis-lock`, module redis_lock).

The lock is the key `lock:<name>` on a single node, holding the Lock's id (18 random bytes,
base64: Lock.id). acquire(blocking=False) is one GET (the "already acquired" check) and one
SET NX EX in whole seconds; release and extend are Lua scripts comparing the id (release also
pushes to `lock-signal:<name>` to wake blocked waiters). With auto_renewal=True a daemon thread
re-EXPIREs the key every 2/3 of the expiry. The library computes no validity; held is
get_owner_id() == lock.id.

API generations, told apart from the loaded package: Lock.id is raw random bytes (the first 3.x
releases: get_owner_id() returns bytes too) or base64 text (later); the token is reported as text
either way. setup checks that Lock takes expire and auto_renewal and has acquire, extend,
get_owner_id and release, and refuses otherwise, naming what is missing. The key is the one the
Lock itself names (Lock._name, `lock:<name>`).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import protocol  # noqa: E402




def whole_seconds(ttl_ms):
    if ttl_ms <= 0 or ttl_ms % 1000:
        raise ValueError(f"python-redis-lock takes whole seconds: ttl {ttl_ms} ms cannot be expressed")
    return ttl_ms // 1000


class Adapter(protocol.LockAdapter):
    def setup(self, hello):
        if len(hello["nodes"]) != 1:
            raise protocol.Refuse(
                f"python-redis-lock is single-instance: it takes 1 node, not {len(hello['nodes'])}")
        try:
            whole_seconds(int(hello["lock"]["ttl_ms"]))
        except ValueError as e:
            raise protocol.Refuse(str(e))
        try:
            import redis_lock
        except Exception as e:
            raise protocol.Refuse(f"python-redis-lock does not import here: {protocol.error_text(e)}")
        missing = protocol.missing_api(redis_lock.Lock, ("acquire", "extend", "get_owner_id", "release"),
                                       {"__init__": ["expire", "auto_renewal"], "acquire": ["blocking"]})
        missing += [e for e in ("NotAcquired", "NotExpirable") if not hasattr(redis_lock, e)]
        if missing:
            raise protocol.Refuse(f"this python-redis-lock lacks what the adapter drives: {', '.join(missing)}")
        self.redis_lock = redis_lock
        self.hello = hello
        self.name = hello["lock"]["name"]
        self.auto_renewal = bool(hello["lock"].get("auto_renewal", False))
        self.client = protocol.redis_client(hello["nodes"][0], hello["timeout_ms"])
        self.connect_resource(hello)
        key = getattr(redis_lock.Lock(self.client, self.name, expire=1), "_name", None)
        return {
            "library": "python-redis-lock", "package": "python-redis-lock",
            "lock_keys": [key if isinstance(key, str) else "lock:" + self.name],
            "supports": {"acquire": True, "release": True, "extend": True, "held": True,
                         "auto_renewal": self.auto_renewal, "fencing_token": False,
                         "validity": False},
        }

    def _seconds(self, op):
        try:
            return whole_seconds(protocol.ttl_ms(op, self.hello))
        except ValueError as e:
            raise protocol.Fail(str(e))  # refused before anything is sent

    def acquire(self, op, stamp):
        expire = self._seconds(op)
        # A fresh Lock (fresh id) per attempt, as a user takes a new lock each time.
        self.lock = lock = self.redis_lock.Lock(self.client, self.name, expire=expire,
                                                auto_renewal=self.auto_renewal)
        granted = stamp.call(lock.acquire, blocking=False)  # one SET NX, no BLPOP wait
        return {"granted": bool(granted), "validity_ms": None,
                "token": protocol.decoded(lock.id) if granted else None, "fence": None}

    def extend(self, op, stamp):
        lock = self.held_lock()
        expire = self._seconds(op)
        try:
            stamp.call(lock.extend, expire=expire)
        except (self.redis_lock.NotAcquired, self.redis_lock.NotExpirable):
            return {"extended": False, "validity_ms": None}
        return {"extended": True, "validity_ms": None}

    def held(self, op, stamp):
        lock = self.held_lock()
        owner = stamp.call(lock.get_owner_id)
        return {"held": owner == lock.id, "validity_ms": None}

    def release(self, op, stamp):
        lock = self.held_lock()
        try:
            stamp.call(lock.release)  # stops the renewal thread first, then the Lua release
        except self.redis_lock.NotAcquired:
            return {"released": False}
        return {"released": True}


if __name__ == "__main__":
    protocol.run(Adapter())
