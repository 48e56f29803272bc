"""fencepost adapter for redis-py's redis.lock.Lock (PyPI `redis`).

The lock is one key, named exactly lock.name, on a single node: acquire is SET name token NX PX ttl
(redis/lock.py do_acquire), release and extend are Lua scripts that compare the token first.
The token is uuid1().hex, kept in lock.local.token. redis-py computes no validity, so none is
reported; held is Lock.owned() (a GET compared with the local token).

thread_local=False: the token is kept on the Lock object, not per thread, so a call the protocol
runs on a thread of its own (abandon_after_ms) and the calls after it see the same token, as for
any user who shares a lock object between threads.

The Lock API is one generation from redis-py 4 to 8; setup checks the loaded package has it
(Lock taking thread_local, acquire(blocking=, token=), extend(additional_time, replace_ttl=),
owned, release) and refuses otherwise, naming what is missing.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import protocol  # noqa: E402


class Adapter(protocol.LockAdapter):
    def setup(self, hello):
        if len(hello["nodes"]) != 1:
            raise protocol.Refuse(
                f"redis-py's Lock is single-instance: it takes 1 node, not {len(hello['nodes'])}")
        try:
            import redis
            from redis.exceptions import LockError  # LockNotOwnedError is a LockError
            from redis.lock import Lock
        except Exception as e:
            raise protocol.Refuse(f"redis-py does not import here: {protocol.error_text(e)}")
        missing = protocol.missing_api(Lock, ("acquire", "extend", "owned", "release"), {
            "__init__": ["timeout", "blocking", "thread_local"], "acquire": ["blocking"],
            "extend": ["additional_time", "replace_ttl"]})
        if missing:
            raise protocol.Refuse(f"redis-py {redis.__version__}'s Lock lacks what the adapter "
                                  f"drives: {', '.join(missing)}")
        self.Lock, self.LockError = Lock, LockError
        self.hello = hello
        self.name = hello["lock"]["name"]
        self.client = protocol.redis_client(hello["nodes"][0], hello["timeout_ms"])
        self.connect_resource(hello)
        return {
            "library": "redis-py", "package": "redis", "lock_keys": [self.name],
            "supports": {"acquire": True, "release": True, "extend": True, "held": True,
                         "auto_renewal": False, "fencing_token": False, "validity": False},
        }

    def acquire(self, op, stamp):
        ttl = protocol.ttl_ms(op, self.hello)
        # One attempt: blocking=False returns as soon as SET NX answers.
        # The Lock class itself: Redis.lock() takes `blocking` only from redis-py 4.2 on.
        self.lock = lock = self.Lock(self.client, self.name, timeout=ttl / 1000, blocking=False,
                                     thread_local=False)
        granted = stamp.call(lock.acquire, blocking=False)
        token = protocol.decoded(lock.local.token) if granted else None
        return {"granted": bool(granted), "validity_ms": None, "token": token, "fence": None}

    def extend(self, op, stamp):
        lock = self.held_lock()
        ttl = protocol.ttl_ms(op, self.hello)
        try:
            stamp.call(lock.extend, ttl / 1000, replace_ttl=True)
        except self.LockError:  # LockNotOwnedError, or "Cannot extend an unlocked lock"
            return {"extended": False, "validity_ms": None}
        return {"extended": True, "validity_ms": None}

    def held(self, op, stamp):
        lock = self.held_lock()
        return {"held": bool(stamp.call(lock.owned)), "validity_ms": None}

    def release(self, op, stamp):
        lock = self.held_lock()
        try:
            stamp.call(lock.release)
        except self.LockError:  # LockNotOwnedError, or "Cannot release a lock that's not owned"
            return {"released": False}
        return {"released": True}


if __name__ == "__main__":
    protocol.run(Adapter())
