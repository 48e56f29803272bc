'use strict';
// fencepost adapter for npm `redlock` (node-redlock) 4 and 5: Redlock over the hello's N nodes,
// one ioredis client per node. `--client redlock@VERSION` may load either API generation; which
// one is read from the loaded package's exports (generation() below), never from its version
// string, and a package of another shape is refused in the hello.
//
// What redlock 4.x does (4.0.0, 4.1.0, 4.2.0: redlock.js), as this adapter relies on it:
// - `module.exports` is the Redlock constructor, with `Redlock.LockError` and `Redlock.Lock`;
//   `new Redlock(servers, {retryCount})`; lock(resource, ttl), lock.extend(ttl) and
//   lock.unlock() return (bluebird) promises.
// - lock(resource, ttl) runs the lock script (SET key value PX ttl, if no key exists) on every
//   node in parallel and waits for *all* of them to answer or fail; the resource name is the
//   key itself (KEYS = [resource]); the value is 16 random bytes in hex. 4.2 sends EVALSHA
//   (EVAL on NOSCRIPT) through server.evalsha(hash, args, cb); 4.0 and 4.1 send EVAL through
//   server.eval([script, ...args], cb).
// - A node counts as a vote only when it answers 1; an error (timeout, lost connection) is
//   emitted as 'clientError' and simply not counted, exactly like a node that said "held". So a
//   LockError does not tell "denied" from "unreachable".
// - Success needs floor(N/2)+1 votes and `start + ttl - drift > Date.now()` where start is
//   Date.now() before the attempt and drift = round(0.01 * ttl) + 2; the lock's `expiration` is
//   that `start + ttl - drift` (wall clock). On failure it runs unlock on every node (waiting for
//   all again) and, with retryCount 0, rejects with LockError after that one attempt.
// - lock.extend(ttl) first rejects with LockError if lock.expiration < Date.now(), else runs the
//   extend script (re-SET PX ttl if the value matches) as one more attempt; on failure it also
//   runs unlock with the *same value*, deleting this lock's keys where they still match. On
//   success it updates the same Lock object's expiration.
// - lock.unlock() sets lock.expiration = 0 at once, runs the unlock script on every node and
//   resolves when floor(N/2)+1 nodes deleted the key, else rejects with LockError.
//
// What redlock 5.x does (5.0.0-beta.1, 5.0.0-beta.2, 5.0.0-beta2: dist/cjs/index.js):
// - The CommonJS build exports `default` (the Redlock class), `Lock`, `ExecutionError` and
//   `ResourceLockedError`; `new Redlock(clients, {retryCount})`; acquire([resources], ttl),
//   lock.extend(ttl) and lock.release() are native promises. A client is anything with
//   evalsha(hash, numKeys, args) and eval(script, numKeys, args) returning promises.
// - Each operation sends its script (EVALSHA, EVAL on NOSCRIPT) to every node and resolves as
//   soon as floor(N/2)+1 nodes voted for (answered 1 for the one key) or against (any other
//   answer, or an error), *without waiting* for the others: their answers still arrive later.
//   A "no" and an error are both votes against, so ExecutionError does not tell them apart.
// - acquire: the lock's expiration is `start + ttl - drift` as in 4.x; on failure it runs the
//   release script with the same value (quorum again, errors ignored) and rethrows.
// - lock.extend(ttl) rejects with ExecutionError if lock.expiration < Date.now(); otherwise on
//   success it sets the *old* Lock's expiration to 0 and resolves with a new Lock (same value,
//   new expiration); on failure the old Lock is left as it was (no unlock, unlike 4.x).
// - lock.release() sets expiration = 0 at once and rejects with ExecutionError unless a quorum
//   deleted the key.
//
// The adapter passes redlock one small wrapper per node that forwards the script calls to the
// ioredis client and notes each node's answer for the library call in progress, so that a
// failure can be told apart (see verdict()): `info` when nodes with an unknown answer (an error
// after sending, or no answer yet) could have made the difference, `fail` when only errors that
// prove nothing was done stood in the way, otherwise what the library said (granted, extended
// or released false) as a certain `ok`.

const path = require('path');
const crypto = require('crypto');
const protocol = require(path.join(__dirname, '..', 'node', 'protocol.js'));

// redlock's acquire and extend make up to two rounds one after the other (the attempt, then the
// release when it failed), each waiting for a quorum (4.x: for every node); each command gets
// half of timeout_ms so that the whole library call ends within timeout_ms.
const ROUNDS_PER_CALL = 2;

let api; // the loaded API generation (V4 or V5 below), bound to the loaded package
let hello;
let redlock;
let nodes; // [{ name, client }]
let quorum;
let lock = null; // the library's Lock of the last granted acquire (a second release goes through it again)
let round = null; // the library call in progress: Map script hash -> Array(N) of { err, res } or PENDING
let resource;

const PENDING = Object.freeze({ pending: true }); // sent to that node, no answer yet

function sha1(text) {
  return crypto.createHash('sha1').update(text).digest('hex');
}

// Records, in the round the command was sent in (a late answer never lands in a later call's
// round), that node `index` was sent the script `hash`, and then what it answered.
function sent(index, hash) {
  const r = round;
  if (r === null) return () => {};
  if (!r.has(hash)) r.set(hash, new Array(nodes.length).fill(null));
  r.get(hash)[index] = PENDING;
  return (err, res) => {
    r.get(hash)[index] = { err: err || null, res };
  };
}

const isNoScript = (err) => Boolean(err) && String(err.message).startsWith('NOSCRIPT');

// --- the API generations ----------------------------------------------------------------------

// 4.x: the module is the Redlock constructor; servers take callbacks.
const V4 = {
  matches(mod) {
    return (
      typeof mod === 'function' &&
      typeof mod.LockError === 'function' &&
      typeof mod.Lock === 'function' &&
      ['lock', 'unlock', 'extend'].every((m) => typeof mod.prototype[m] === 'function') &&
      ['unlock', 'extend'].every((m) => typeof mod.Lock.prototype[m] === 'function')
    );
  },
  bind(mod) {
    const Redlock = mod;
    return {
      generation: 'redlock 4 API: new Redlock(servers), lock(resource, ttl), lock.extend(ttl), lock.unlock()',
      // The "server" redlock 4 calls: evalsha(hash, args, cb) (4.2), eval(args, cb), quit().
      server(client, index) {
        return {
          evalsha(hash, args, cb) {
            const answered = sent(index, hash);
            return client.evalsha(hash, args, (err, res) => {
              // NOSCRIPT: redlock goes on with eval, whose answer is the one that counts.
              if (!isNoScript(err)) answered(err, res);
              cb(err, res);
            });
          },
          eval(args, cb) {
            const answered = sent(index, sha1(String(args[0])));
            return client.eval(args, (err, res) => {
              answered(err, res);
              cb(err, res);
            });
          },
          quit() {
            return client.quit();
          },
        };
      },
      create(servers) {
        const r = new Redlock(servers, { retryCount: 0 }); // one attempt; drift, delay, jitter: the library's defaults
        r.on('clientError', () => {}); // counted through the wrappers
        return r;
      },
      // redlock 4.2 keeps {value, hash} per script in redlock.scripts; 4.0 and 4.1 keep the text.
      scriptHash(kind) {
        const name = { acquire: 'lockScript', extend: 'extendScript', release: 'unlockScript' }[kind];
        const kept = redlock.scripts && redlock.scripts[name];
        return kept ? kept.hash : sha1(String(redlock[name]));
      },
      isQuorumError: (e) => e instanceof Redlock.LockError || (e && e.name === 'LockError'),
      acquire: (ttl) => redlock.lock(hello.lock.name, ttl),
      extend: async (l, ttl) => {
        await l.extend(ttl); // the same Lock, its expiration moved
        return l;
      },
      release: (l) => l.unlock(),
    };
  },
};

// 5.x: the CommonJS build exports the class as `default`; clients return promises.
const V5 = {
  matches(mod) {
    const Redlock = mod && mod.default;
    return (
      typeof Redlock === 'function' &&
      typeof mod.ExecutionError === 'function' &&
      typeof mod.Lock === 'function' &&
      ['acquire', 'release', 'extend'].every((m) => typeof Redlock.prototype[m] === 'function') &&
      ['release', 'extend'].every((m) => typeof mod.Lock.prototype[m] === 'function')
    );
  },
  bind(mod) {
    const Redlock = mod.default;
    return {
      generation: 'redlock 5 API: new Redlock(clients), acquire([resource], ttl), lock.extend(ttl), lock.release()',
      // The "client" redlock 5 calls: evalsha(hash, numKeys, args) and eval(script, numKeys, args).
      server(client, index) {
        return {
          async evalsha(hash, numKeys, args) {
            const answered = sent(index, hash);
            try {
              const res = await client.evalsha(hash, numKeys, ...args);
              answered(null, res);
              return res;
            } catch (err) {
              // NOSCRIPT: redlock goes on with eval, whose answer is the one that counts.
              if (!isNoScript(err)) answered(err, undefined);
              throw err;
            }
          },
          async eval(script, numKeys, args) {
            const answered = sent(index, sha1(String(script)));
            try {
              const res = await client.eval(script, numKeys, ...args);
              answered(null, res);
              return res;
            } catch (err) {
              answered(err, undefined);
              throw err;
            }
          },
          quit() {
            return client.quit();
          },
        };
      },
      create(servers) {
        // One attempt; drift, delay, jitter: the library's defaults. Redlock 5 listens to its own
        // 'error' events; the wrappers count them.
        return new Redlock(servers, { retryCount: 0 });
      },
      scriptHash(kind) {
        return redlock.scripts[`${kind}Script`].hash;
      },
      isQuorumError: (e) => e instanceof mod.ExecutionError || (e && e.name === 'ExecutionError'),
      acquire: (ttl) => redlock.acquire([hello.lock.name], ttl),
      extend: (l, ttl) => l.extend(ttl), // a new Lock; the old one's expiration is set to 0
      release: (l) => l.release(),
    };
  },
};

// The generation of the loaded package, read from its exports; a Refuse naming what was found
// when it is neither.
function generation(mod, version) {
  for (const g of [V5, V4]) {
    if (g.matches(mod)) return g.bind(mod);
  }
  const shape = typeof mod === 'function' ? `a function with ${Object.keys(mod).join(', ') || 'no properties'}` : `an object with ${Object.keys(mod || {}).join(', ') || 'nothing'}`;
  throw new protocol.Refuse(
    `redlock ${version} has an API this adapter cannot drive: its module is ${shape}; the adapter ` +
      'drives the redlock 4 API (module.exports = Redlock with LockError, lock/extend/unlock) and the ' +
      'redlock 5 API (exports.default = Redlock with ExecutionError, acquire/extend/release): pick a ' +
      '4.x or 5.x version (npm view redlock versions)',
  );
}

// --- the library's failures -------------------------------------------------------------------

// What the nodes answered in the current call's round of one script: yes (1), no (0: the key is
// someone else's, or gone), certain errors (an error reply, or never sent because the
// connection was down: nothing done there) and unknown ones (a timeout, a connection lost after
// sending, or no answer yet: redlock 5 stops waiting at a quorum).
function tally(r, kind) {
  const answers = (r && r.get(api.scriptHash(kind))) || [];
  const out = { yes: 0, no: 0, certain: 0, unknown: 0, errors: [] };
  answers.forEach((a, i) => {
    if (a === null) return;
    if (a === PENDING) {
      out.unknown += 1;
      out.errors.push(`${nodes[i].name}: no answer yet`);
    } else if (a.err) {
      const k = protocol.classifyRedisError(a.err);
      out.errors.push(`${nodes[i].name}: ${protocol.errorText(a.err)}${k === 'unsent' ? ' (not sent)' : ''}`);
      if (k === 'unknown') out.unknown += 1;
      else out.certain += 1;
    } else if (a.res === 1 || a.res === '1') {
      out.yes += 1;
    } else {
      out.no += 1;
    }
  });
  return out;
}

function describe(err, t) {
  let text = protocol.errorText(err);
  text += ` [of ${nodes.length} nodes: ${t.yes} yes, ${t.no} no, ${t.certain} error before any effect, ` +
    `${t.unknown} unknown; need ${quorum}]`;
  if (t.errors.length) text += `; ${t.errors.join('; ')}`;
  return text;
}

// How to report the library's quorum failure for one round (redlock itself does not tell a node
// that said no from one that failed):
// - 'info' when the nodes with an unknown answer could have made the difference: the votes alone
//   are short of a majority, the votes plus the unknown ones are not;
// - 'no' (ok, granted/extended/released false) when that cannot be, and a node did say no, or the
//   votes were there and the library still said no (validity used up), or the round never ran
//   (extend of a lock the library already considers expired);
// - 'fail' when the only thing between the votes and a majority is errors that prove nothing was
//   done on those nodes (error replies, commands never sent on a connection that was down).
function verdict(t) {
  if (t.unknown > 0 && t.yes < quorum && t.yes + t.unknown >= quorum) return 'info';
  if (t.no > 0 || t.yes >= quorum || t.yes + t.no + t.certain + t.unknown === 0) return 'no';
  return 'fail';
}

// The reply fields for a quorum failure, or null for a plain "no" (the caller fills those in).
function quorumErrorReply(op, e, r, kind) {
  const t = tally(r, kind);
  const v = verdict(t);
  if (v === 'info') return { outcome: 'info', error: describe(e, t) };
  if (v === 'fail') throw new protocol.Fail(describe(e, t));
  protocol.log(`${op.op} ${op.id}: ${describe(e, t)}`);
  return null;
}

// Runs one library call with a fresh round of answers; the round is the call's own, so an
// abandoned call that finishes later reads (and fills) only its own.
async function inRound(fn) {
  const r = new Map();
  round = r;
  try {
    return await fn(r);
  } finally {
    if (round === r) round = null;
  }
}

// --- the protocol -----------------------------------------------------------------------------

async function setup(h) {
  hello = h;
  protocol.checkHello(h, { minNodes: 1 });
  const version = protocol.packageVersion('redlock');
  api = generation(require('redlock'), version);
  const Redis = protocol.ioredisClass(require('ioredis'));
  const commandTimeoutMs = Math.max(1, Math.floor(h.timeout_ms / ROUNDS_PER_CALL));
  nodes = h.nodes.map((n, i) => {
    const name = n.name || `n${i + 1}`;
    const client = new Redis(
      protocol.ioredisOptions(n, {
        connectTimeoutMs: h.timeout_ms,
        commandTimeoutMs,
      }),
    );
    protocol.logClientErrors(client, `node ${name}`);
    return { name, client };
  });
  quorum = Math.floor(nodes.length / 2) + 1;
  redlock = api.create(nodes.map((n, i) => api.server(n.client, i)));
  protocol.log(`redlock ${version}: ${api.generation}`);
  resource = protocol.makeResourceAccess(Redis, h, h.timeout_ms);
  await protocol.waitReady([...nodes.map((n) => n.client), resource.client], Math.max(2000, h.timeout_ms));
  return {
    library: 'redlock',
    package: 'redlock',
    version,
    runtime: `node ${process.versions.node}, ioredis ${protocol.packageVersion('ioredis')}`,
    lock_keys: [h.lock.name],
    supports: {
      acquire: true,
      release: true,
      extend: true,
      held: true,
      auto_renewal: false,
      fencing_token: false,
      validity: true,
    },
  };
}

async function acquire(op, stamp) {
  const ttl = protocol.ttlMs(op, hello);
  return inRound(async (r) => {
    try {
      const l = await stamp.call(() => api.acquire(ttl));
      if (!stamp.abandoned) lock = l;
      return { granted: true, validity_ms: l.expiration - Date.now(), token: l.value, fence: null };
    } catch (e) {
      if (!api.isQuorumError(e)) throw e;
      return quorumErrorReply(op, e, r, 'acquire') || { granted: false, validity_ms: null, token: null, fence: null };
    }
  });
}

async function extend(op, stamp) {
  if (lock === null) throw new protocol.Fail('no lock to extend: nothing was acquired');
  const ttl = protocol.ttlMs(op, hello);
  const l = lock;
  return inRound(async (r) => {
    try {
      const extended = await stamp.call(() => api.extend(l, ttl));
      if (!stamp.abandoned) lock = extended;
      return { extended: true, validity_ms: extended.expiration - Date.now() };
    } catch (e) {
      if (!api.isQuorumError(e)) throw e;
      return quorumErrorReply(op, e, r, 'extend') || { extended: false, validity_ms: l.expiration - Date.now() };
    }
  });
}

async function held(op, stamp) {
  if (lock === null) {
    await stamp.call(() => null);
    return { held: false, validity_ms: null };
  }
  // The library's own view: a lock is valid while its expiration (wall clock) is ahead; release
  // sets expiration to 0 (no validity to report then), as does a 5.x extend on the old Lock.
  const l = lock;
  const [isHeld, validity] = await stamp.call(() => {
    const now = Date.now();
    return [l.expiration > now, l.expiration === 0 ? null : l.expiration - now];
  });
  return { held: isHeld, validity_ms: validity };
}

async function release(op, stamp) {
  if (lock === null) throw new protocol.Fail('no lock to release: nothing was acquired');
  const l = lock;
  return inRound(async (r) => {
    try {
      await stamp.call(() => api.release(l));
      return { released: true };
    } catch (e) {
      if (!api.isQuorumError(e)) throw e;
      return quorumErrorReply(op, e, r, 'release') || { released: false };
    }
  });
}

protocol.run({
  setup,
  acquire,
  extend,
  held,
  release,
  access: (op, stamp) => resource.access(op, stamp),
  // An abandoned call: the user gave up on the lock object (the call itself goes on).
  forget() {
    lock = null;
  },
});
