'use strict';
// fencepost adapter for npm `redis-semaphore` 4 and 5: its `Mutex` on the hello's single node,
// over one ioredis client. `--client redis-semaphore@VERSION` may load any 4.x or 5.x; how to
// make one attempt is read from the loaded package's exports (generation() below), never from
// its version string, and a package of another shape is refused in the hello.
//
// What redis-semaphore does, as this adapter relies on it (lib/ of the packages):
// - Every 4.x and 5.x exports `Mutex` (RedisMutex.js): new Mutex(client, name, options) locks
//   the key `mutex:<name>` with an identifier (a UUID v4: uuid's v4() up to 5.2, then
//   crypto.randomUUID()), exposed as `identifier`; `isAcquired` says whether the library believes
//   it holds the lock. Up to 5.5 the client must be an `instanceof` the ioredis it loads itself:
//   one ioredis in the environment, which the install ensures.
// - Options: lockTimeout (the PX of the key), acquireTimeout (give up acquiring after that long,
//   default 10 s), retryInterval (sleep after a refused SET, default 10 ms), refreshInterval
//   (default round(0.8 * lockTimeout); 0: no refresh) and onLockLost; from 5.2 also
//   acquireAttemptsLimit (default unlimited), shown in the exported `defaultTimeoutOptions`.
// - Acquiring runs acquireMutex: `SET key identifier PX lockTimeout NX` while
//   `Date.now() < start + acquireTimeout` (and, from 5.2, while attempts <= acquireAttemptsLimit);
//   a refused SET is followed by a retryInterval sleep even when no attempt follows. A Redis
//   error propagates. On success it starts the refresh timer when refreshInterval > 0: PEXPIRE
//   key lockTimeout if the value is still ours (up to 5.3.0 the refresh also re-SETs the key
//   when it is gone).
// - tryAcquire() (5.1 on) answers true/false; acquire() (every version) throws TimeoutError
//   instead of false (a class named TimeoutError, exported from 5.1).
// - A refresh that finds another value sets isAcquired false, stops the timer and calls
//   onLockLost(LostLockError) (the default callback throws, i.e. an unhandled rejection). A
//   refresh that *fails* (timeout, lost connection) rejects inside the timer, unhandled: the lock
//   stays isAcquired and the timer goes on.
// - release() stops the timer and runs DEL-if-value-matches (from 5.1 only if isAcquired, up to
//   5.0 always); the script's answer is discarded, so the library never says whether it still
//   held the lock. `released` here is therefore the library's own belief: isAcquired when
//   release() was called.
// - There is no public extend/refresh method, so extend is unsupported; the library renews by
//   itself when auto_renewal is on.
//
// One attempt per acquire (fencepost retries itself): acquireAttemptsLimit 1 where the package
// has it; otherwise acquireTimeout ONE_ATTEMPT_WINDOW_MS with a retryInterval twice as long, so
// that the loop's time check lets the first SET through and stops before a second one (a wall
// clock moved back by more than the window between the two checks would allow another attempt:
// that is the library's own loop under a clock fault).

const path = require('path');
const protocol = require(path.join(__dirname, '..', 'node', 'protocol.js'));

const ONE_ATTEMPT_WINDOW_MS = 10;

let api; // the loaded package's Mutex and how to make one attempt with it
let hello;
let client;
let resource;
let mutex = null; // the library's Mutex of the last granted acquire, kept until the next one

function onRedisError(e) {
  const kind = protocol.classifyRedisError(e);
  if (kind === 'unsent') return new protocol.Fail(`${protocol.errorText(e)} (not sent)`);
  if (kind === 'refused') return new protocol.Fail(protocol.errorText(e));
  return e;
}

// How this package makes one attempt, read from its exports; a Refuse naming what was found
// when it has no Mutex this adapter can drive.
function generation(mod, version) {
  const Mutex = mod && mod.Mutex;
  const proto = Mutex && Mutex.prototype;
  const usable =
    typeof Mutex === 'function' &&
    typeof proto.release === 'function' &&
    (typeof proto.tryAcquire === 'function' || typeof proto.acquire === 'function') &&
    'isAcquired' in proto &&
    'identifier' in proto;
  if (!usable) {
    const found = Object.keys(mod || {}).join(', ') || 'nothing';
    throw new protocol.Refuse(
      `redis-semaphore ${version} has an API this adapter cannot drive: it exports ${found}; the ` +
        'adapter needs a Mutex class with acquire() or tryAcquire(), release(), isAcquired and ' +
        'identifier (redis-semaphore 4 and 5): pick a 4.x or 5.x version (npm view redis-semaphore versions)',
    );
  }
  const defaults = mod.defaultTimeoutOptions || {};
  const limit = 'acquireAttemptsLimit' in defaults;
  const tryAcquire = typeof proto.tryAcquire === 'function';
  const TimeoutError = mod.TimeoutError;
  return {
    Mutex,
    generation:
      `Mutex, ${tryAcquire ? 'tryAcquire()' : 'acquire() (TimeoutError: not granted)'}, one attempt by ` +
      (limit ? 'acquireAttemptsLimit 1' : `acquireTimeout ${ONE_ATTEMPT_WINDOW_MS} ms, retryInterval ${2 * ONE_ATTEMPT_WINDOW_MS} ms`),
    oneAttempt: limit
      ? { acquireAttemptsLimit: 1 }
      : { acquireTimeout: ONE_ATTEMPT_WINDOW_MS, retryInterval: 2 * ONE_ATTEMPT_WINDOW_MS },
    // true or false, as the library answers; a Redis error propagates.
    async attempt(m) {
      if (tryAcquire) return m.tryAcquire();
      try {
        await m.acquire();
        return true;
      } catch (e) {
        const timedOut = typeof TimeoutError === 'function' ? e instanceof TimeoutError : e && e.constructor && e.constructor.name === 'TimeoutError';
        if (timedOut) return false;
        throw e;
      }
    },
  };
}

async function setup(h) {
  hello = h;
  protocol.checkHello(h, { minNodes: 1, maxNodes: 1 });
  const version = protocol.packageVersion('redis-semaphore');
  api = generation(require('redis-semaphore'), version);
  protocol.log(`redis-semaphore ${version}: ${api.generation}`);
  const Redis = protocol.ioredisClass(require('ioredis'));
  const node = h.nodes[0];
  client = new Redis(
    protocol.ioredisOptions(node, {
      connectTimeoutMs: h.timeout_ms,
      commandTimeoutMs: h.timeout_ms,
    }),
  );
  protocol.logClientErrors(client, `node ${node.name || 'n1'}`);
  resource = protocol.makeResourceAccess(Redis, h, h.timeout_ms);
  await protocol.waitReady([client, resource.client], Math.max(2000, h.timeout_ms));
  return {
    library: 'redis-semaphore',
    package: 'redis-semaphore',
    version,
    runtime: `node ${process.versions.node}, ioredis ${protocol.packageVersion('ioredis')}`,
    lock_keys: [`mutex:${h.lock.name}`],
    supports: {
      acquire: true,
      release: true,
      extend: false,
      held: true,
      auto_renewal: true,
      fencing_token: false,
      validity: false,
    },
  };
}

async function acquire(op, stamp) {
  const ttl = protocol.ttlMs(op, hello);
  const m = new api.Mutex(client, hello.lock.name, {
    lockTimeout: ttl,
    ...api.oneAttempt, // fencepost retries itself
    // The library's default refresh (every round(0.8 * lockTimeout) ms) when auto_renewal is on.
    refreshInterval: hello.lock.auto_renewal ? undefined : 0,
    onLockLost(err) {
      // The library has already set isAcquired false and stopped its timer (Lock.js).
      protocol.log(`lock lost (onLockLost): ${protocol.errorText(err)}; identifier ${m.identifier}`);
    },
  });
  let granted;
  try {
    granted = await stamp.call(() => api.attempt(m));
  } catch (e) {
    throw onRedisError(e);
  }
  if (granted && !stamp.abandoned) mutex = m;
  return { granted, validity_ms: null, token: granted ? m.identifier : null, fence: null };
}

async function held(op, stamp) {
  const isHeld = await stamp.call(() => (mutex === null ? false : mutex.isAcquired));
  return { held: isHeld, validity_ms: null };
}

async function release(op, stamp) {
  if (mutex === null) throw new protocol.Fail('no lock to release: nothing was acquired');
  const m = mutex;
  let wasHeld;
  try {
    await stamp.call(() => {
      wasHeld = m.isAcquired; // the library's belief (5.1 on, release() talks to Redis only then)
      return m.release();
    });
  } catch (e) {
    throw onRedisError(e);
  }
  return { released: wasHeld };
}

protocol.run({
  setup,
  acquire,
  held,
  release,
  access: (op, stamp) => resource.access(op, stamp),
  // An abandoned call: the user gave up on the Mutex (the call, and a refresh timer it may
  // start, go on).
  forget() {
    mutex = null;
  },
});
