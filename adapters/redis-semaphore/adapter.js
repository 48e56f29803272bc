'use strict';
// fencepost adapter for npm `redis-semaphore` 5: its `Mutex` on the hello's single node, over one
// ioredis client.
//
// What redis-semaphore 5.8.0 does, as this adapter relies on it (lib/ of the package):
// - new Mutex(client, name, options) locks the key `mutex:<name>` (RedisMutex.js) with an
//   identifier that is crypto.randomUUID() (Lock.js getIdentifier), exposed as `identifier`.
// - tryAcquire() runs acquireMutex: SET key identifier PX lockTimeout NX, at most
//   acquireAttemptsLimit times (default: unlimited for acquireTimeout = 10 s); a refused SET is
//   followed by a retryInterval (10 ms) sleep even on the last attempt. It answers true/false; a
//   Redis error propagates. On success it starts the refresh timer when refreshInterval > 0
//   (default round(0.8 * lockTimeout)): PEXPIRE key lockTimeout if the value is still ours.
// - A refresh that finds another value (or none) sets isAcquired false, stops the timer and calls
//   onLockLost(LostLockError) (the default callback throws, i.e. an unhandled rejection). A
//   refresh that *fails* (timeout, lost connection) rejects inside the timer, unhandled: the lock
//   stays isAcquired and the timer goes on.
// - release() stops the timer and, only if isAcquired, runs DEL-if-value-matches; the script's
//   answer (1 or 0) is discarded, so the library never says whether it still held the lock.
//   `released` here is therefore the library's own belief: true when it held the lock (isAcquired)
//   and release() returned, false when it did not hold it (nothing is sent then).
// - There is no public extend/refresh method in 5.x (_refresh is protected), so extend is
//   unsupported; the library renews by itself when auto_renewal is on.

const path = require('path');
const protocol = require(path.join(__dirname, '..', 'node', 'protocol.js'));

// Loaded in setup(), so that a missing package is answered as a hello error.
let Mutex;
let Redis;

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

async function setup(h) {
  hello = h;
  protocol.checkHello(h, { minNodes: 1, maxNodes: 1 });
  Mutex = require('redis-semaphore').Mutex;
  Redis = protocol.ioredisClass(require('ioredis'));
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
    version: protocol.packageVersion('redis-semaphore'),
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
  const m = new Mutex(client, hello.lock.name, {
    lockTimeout: ttl,
    acquireAttemptsLimit: 1, // one attempt: fencepost retries itself
    // The library's default refresh (every round(0.8 * lockTimeout) ms) when auto_renewal is on.
    refreshInterval: hello.lock.auto_renewal ? undefined : 0,
    onLockLost(err) {
      // The library has already set isAcquired false and stopped its timer (Lock.js).
      protocol.log(`lock lost (onLockLost): ${protocol.errorText(err)}; identifier ${m.identifier}`);
    },
  });
  let granted;
  try {
    granted = await stamp.call(() => m.tryAcquire());
  } catch (e) {
    throw onRedisError(e);
  }
  if (granted) mutex = m;
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
      wasHeld = m.isAcquired; // release() only talks to Redis when this is true
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
});
