"""fencepost adapter for pottery's Redlock (PyPI `pottery`), over all the hello's nodes.

The lock is the key `redlock:<name>` on every node (pottery/base.py Primitive.key, with
Redlock._KEY_PREFIX = 'redlock'), holding str(uuid4()) (Redlock._uuid, new on every acquire).
acquire sends SET key uuid NX PX to all nodes in parallel threads and answers True as soon as a
majority said OK within the validity (auto_release_time - drift - elapsed); otherwise it deletes
its uuid again everywhere and answers False. extend is a compare-and-PEXPIRE to auto_release_time,
at most num_extensions (default 3) times per acquire; release a compare-and-DEL. held is
locked(): min remaining PTTL over a majority of nodes holding our uuid, less drift and elapsed, in
seconds (0 when not held), reported as validity_ms. acquire reports no validity: pottery computes
one but does not return it.

raise_on_redis_errors=True: when more than half the nodes fail (timeout, lost connection) pottery
raises QuorumIsImpossible instead of answering False, so a partition is `info`, not a denial.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import protocol  # noqa: E402
from pottery import Redlock  # noqa: E402
from pottery.exceptions import (  # noqa: E402
    ExtendUnlockedLock, PrimitiveError, ReleaseUnlockedLock, TooManyExtensions)




class QuorumError(Exception):
    """pottery's error, told briefly: its own text is the repr of every client (an `info`)."""


def call(stamp, fn, *args, **kwargs):
    try:
        return stamp.call(fn, *args, **kwargs)
    except (ExtendUnlockedLock, ReleaseUnlockedLock, TooManyExtensions):
        raise
    except PrimitiveError as e:  # QuorumIsImpossible: more than half the nodes failed
        errors = "; ".join(protocol.error_text(x) for x in e.redis_errors)
        raise QuorumError(f"{type(e).__name__} on {e.key}: {len(list(e.redis_errors))} of "
                          f"{len(e.masters)} nodes failed: {errors}") from None


class Adapter(protocol.LockAdapter):
    def setup(self, hello):
        self.hello = hello
        self.name = hello["lock"]["name"]
        # A denied or partitioned acquire makes two rounds of calls (SET everywhere, then the
        # cleanup DEL everywhere): half of timeout_ms per command keeps the whole call inside it.
        per_command_ms = hello["timeout_ms"] / 2
        self.masters = [protocol.redis_client(node, per_command_ms) for node in hello["nodes"]]
        self.connect_resource(hello)
        return {
            "library": "pottery", "package": "pottery", "lock_keys": ["redlock:" + self.name],
            "supports": {"acquire": True, "release": True, "extend": True, "held": True,
                         "auto_renewal": False, "fencing_token": False, "validity": False},
        }

    def acquire(self, op, stamp):
        ttl = protocol.ttl_ms(op, self.hello)
        self.lock = Redlock(key=self.name, masters=self.masters, raise_on_redis_errors=True,
                            auto_release_time=ttl / 1000)
        granted = call(stamp, self.lock.acquire, blocking=False)  # one round, no retry loop
        return {"granted": bool(granted), "validity_ms": None,
                "token": self.lock._uuid if granted else None, "fence": None}

    def extend(self, op, stamp):
        lock = self.held_lock()
        lock.auto_release_time = protocol.ttl_ms(op, self.hello) / 1000  # extend sets this lease
        try:
            call(stamp, lock.extend)
        except (ExtendUnlockedLock, TooManyExtensions):  # not held on a majority / over the limit
            return {"extended": False, "validity_ms": None}
        return {"extended": True, "validity_ms": None}

    def held(self, op, stamp):
        lock = self.held_lock()
        remaining_s = call(stamp, lock.locked)
        return {"held": remaining_s > 0, "validity_ms": int(remaining_s * 1000)}

    def release(self, op, stamp):
        lock = self.held_lock()
        try:
            call(stamp, lock.release)
        except ReleaseUnlockedLock:  # not released on a majority
            return {"released": False}
        return {"released": True}


if __name__ == "__main__":
    protocol.run(Adapter())
