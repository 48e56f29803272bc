"""fencepost adapter for pottery's Redlock (PyPI `pottery`), over all the hello's nodes.

The lock is the key Redlock.key on every node (`redlock:<name>`: pottery's Primitive prefixes the
key it is given), holding a random value new on every acquire: str(uuid4()) in Redlock._uuid, or
random bytes in Redlock._value in the first 1.x releases. acquire sends SET key value NX PX to all
nodes in parallel threads and answers True as soon as a majority said OK within the validity
(auto_release_time - drift - elapsed); otherwise it deletes its value again everywhere and answers
False. extend is a compare-and-PEXPIRE to auto_release_time, at most num_extensions (default 3)
times per acquire; release a compare-and-DEL. held is locked(): the min remaining PTTL over a
majority of nodes holding our value, less drift and elapsed (0 when not held), reported as
validity_ms. acquire reports no validity: pottery computes one but does not return it.

raise_on_redis_errors=True, where the loaded pottery has it: when more than half the nodes fail
(timeout, lost connection) pottery raises QuorumIsImpossible instead of answering False, so a
partition is `info`, not a denial. A pottery without it (the first 1.x releases) counts a failed
node as a "no", and so the adapter answers what it answers.

API generations, told apart from the loaded package, not its version number:
- the unit of auto_release_time and of locked(): milliseconds (1.x, 2.x: the constructor's default
  is 10 * 1000) or seconds (3.x: the default is 10);
- whether Redlock takes raise_on_redis_errors (from its signature);
- where the value lives (_uuid or _value) and the errors' fields (redis_errors or _redis_errors).
"""

import inspect
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import protocol  # noqa: E402

# The library's default lease, in the constructor's unit: what tells the two units apart.
DEFAULT_LEASE_S = 10


class QuorumError(Exception):
    """pottery's error, told briefly: its own text is the repr of every client (an `info`)."""


def attr(obj, name, default=None):
    """A field pottery exposes publicly in later releases and privately (`_name`) in earlier ones."""
    return getattr(obj, name, getattr(obj, "_" + name, default))


class Adapter(protocol.LockAdapter):
    def setup(self, hello):
        try:
            from pottery import Redlock
            from pottery import exceptions
        except Exception as e:
            raise protocol.Refuse(f"pottery does not import here: {protocol.error_text(e)}")
        self.Redlock = Redlock
        self.unlocked = tuple(getattr(exceptions, n) for n in
                              ("ExtendUnlockedLock", "ReleaseUnlockedLock", "TooManyExtensions"))
        self.PrimitiveError = exceptions.PrimitiveError
        params = inspect.signature(Redlock.__init__).parameters
        missing = [p for p in ("key", "masters", "auto_release_time") if p not in params]
        if missing or not all(hasattr(Redlock, m) for m in ("acquire", "extend", "locked", "release")):
            raise protocol.Refuse(
                "this pottery's Redlock is not the API the adapter drives (Redlock(key=, masters=, "
                "auto_release_time=) with acquire, extend, locked and release): "
                f"missing {missing or 'a method'}")
        default = params["auto_release_time"].default
        if default == DEFAULT_LEASE_S * 1000:
            self.per_second = 1000  # milliseconds
        elif default == DEFAULT_LEASE_S:
            self.per_second = 1  # seconds
        else:
            raise protocol.Refuse(
                f"cannot tell the unit of this pottery's auto_release_time (default {default!r}, "
                f"neither {DEFAULT_LEASE_S} s nor {DEFAULT_LEASE_S * 1000} ms)")
        self.options = {}
        if "raise_on_redis_errors" in params:
            self.options["raise_on_redis_errors"] = True
        self.hello = hello
        self.name = hello["lock"]["name"]
        # A denied or partitioned acquire makes two rounds of calls (SET everywhere, then the
        # cleanup DEL everywhere): half of timeout_ms per command keeps the whole call inside it.
        per_command_ms = hello["timeout_ms"] / 2
        self.masters = [protocol.redis_client(node, per_command_ms) for node in hello["nodes"]]
        self.connect_resource(hello)
        key = self._redlock(int(hello["lock"]["ttl_ms"])).key  # the key pottery itself writes
        return {
            "library": "pottery", "package": "pottery", "lock_keys": [key],
            "supports": {"acquire": True, "release": True, "extend": True, "held": True,
                         "auto_renewal": False, "fencing_token": False, "validity": False},
        }

    def _lease(self, ttl_ms):
        """A lease in the loaded pottery's unit: whole milliseconds (it passes them to SET PX,
        which takes an int), or seconds."""
        return int(ttl_ms) if self.per_second == 1000 else ttl_ms / 1000

    def _redlock(self, ttl_ms):
        return self.Redlock(key=self.name, masters=self.masters,
                            auto_release_time=self._lease(ttl_ms), **self.options)

    def _call(self, stamp, fn):
        try:
            return stamp.call(fn)
        except self.unlocked:
            raise
        except self.PrimitiveError as e:  # QuorumIsImpossible: more than half the nodes failed
            errors = list(attr(e, "redis_errors", ()))
            text = "; ".join(protocol.error_text(x) for x in errors)
            raise QuorumError(f"{type(e).__name__} on {attr(e, 'key')}: {len(errors)} of "
                              f"{len(list(attr(e, 'masters', ())))} nodes failed: {text}") from None

    @staticmethod
    def _token(lock):
        value = getattr(lock, "_uuid", None) or getattr(lock, "_value", None)
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return value

    def acquire(self, op, stamp):
        self.lock = lock = self._redlock(protocol.ttl_ms(op, self.hello))
        granted = self._call(stamp, lambda: lock.acquire(blocking=False))  # one round, no retry
        return {"granted": bool(granted), "validity_ms": None,
                "token": self._token(lock) if granted else None, "fence": None}

    def extend(self, op, stamp):
        lock = self.held_lock()
        lock.auto_release_time = self._lease(protocol.ttl_ms(op, self.hello))  # extend sets it
        try:
            self._call(stamp, lock.extend)
        except self.unlocked:  # not held on a majority / over the limit
            return {"extended": False, "validity_ms": None}
        return {"extended": True, "validity_ms": None}

    def held(self, op, stamp):
        lock = self.held_lock()
        remaining = self._call(stamp, lock.locked)
        return {"held": remaining > 0, "validity_ms": int(remaining * 1000 / self.per_second)}

    def release(self, op, stamp):
        lock = self.held_lock()
        try:
            self._call(stamp, lock.release)
        except self.unlocked:  # ReleaseUnlockedLock: not released on a majority
            return {"released": False}
        return {"released": True}


if __name__ == "__main__":
    protocol.run(Adapter())
