'use strict';
// fencepost adapter for npm `redlock` 4 (node-redlock): Redlock over the hello's N nodes, one
// ioredis client per node.
//
// What redlock 4.2.0 does, as this adapter relies on it (redlock.js of the package):
// - lock(resource, ttl) runs the lock script (SET key value PX ttl, if no key exists) on every
//   node in parallel and waits for *all* of them to answer or fail; the resource name is the
//   key itself (KEYS = [resource]); the value is 16 random bytes in hex (_random).
// - A node counts as a vote only when it answers 1; an error (timeout, lost connection) is
//   emitted as 'clientError' and simply not counted, exactly like a node that said "held"
//   (the `loop` in _lock and unlock). So a LockError does not tell "denied" from "unreachable".
// - Success needs floor(N/2)+1 votes and `start + ttl - drift > Date.now()` where start is
//   Date.now() before the attempt and drift = round(0.01 * ttl) + 2; the lock's `expiration` is
//   that `start + ttl - drift` (wall clock). On failure it runs unlock on every node (waiting for
//   all again) and, with retryCount 0, rejects with LockError after that one attempt.
// - extend(lock, ttl) first rejects with LockError if lock.expiration < Date.now(), else runs the
//   extend script (re-SET PX ttl if the value matches) as one more _lock attempt; on failure it
//   also runs unlock with the *same value*, deleting this lock's keys where they still match.
//   The lock object's expiration is left as it was.
// - unlock(lock) sets lock.expiration = 0 at once, runs the unlock script on every node and
//   resolves when floor(N/2)+1 nodes deleted the key, else rejects with LockError.
//
// The adapter passes redlock one small wrapper per node that forwards evalsha/eval to the ioredis
// client and notes each node's answer, so that a LockError can be told apart (see verdict()):
// `info` when nodes with an unknown answer could have made the difference, `fail` when only errors
// that prove nothing was done stood in the way, otherwise what the library said (granted,
// extended or released false) as a certain `ok`.

const path = require('path');
const crypto = require('crypto');
const protocol = require(path.join(__dirname, '..', 'node', 'protocol.js'));

// Loaded in setup(), so that a missing package is answered as a hello error.
let Redlock;
let Redis;

// redlock's lock() and extend() make up to two rounds one after the other (the attempt, then the
// unlock when it failed), each waiting for the slowest node; each command gets half of
// timeout_ms so that the whole library call ends within timeout_ms.
const ROUNDS_PER_CALL = 2;

let hello;
let redlock;
let nodes; // [{ name, client }]
let quorum;
let lock = null; // the library's Lock of the last granted acquire (a second release goes through it again)
let answers = null; // per op: Map script hash -> Array(N) of { err, res } (filled by the wrappers)
let resource;

function sha1(text) {
  return crypto.createHash('sha1').update(text).digest('hex');
}

// A "server" for redlock: only evalsha, eval and quit are used by redlock 4.2.0.
function observed(client, index) {
  function note(hash, err, res) {
    if (answers === null) return;
    if (!answers.has(hash)) answers.set(hash, new Array(nodes.length).fill(null));
    answers.get(hash)[index] = { err, res };
  }
  return {
    evalsha(hash, args, cb) {
      return client.evalsha(hash, args, (err, res) => {
        // NOSCRIPT: redlock goes on with eval, whose answer is the one that counts.
        if (!(err && String(err.message).startsWith('NOSCRIPT'))) note(hash, err || null, res);
        cb(err, res);
      });
    },
    eval(args, cb) {
      const hash = sha1(String(args[0]));
      return client.eval(args, (err, res) => {
        note(hash, err || null, res);
        cb(err, res);
      });
    },
    quit() {
      return client.quit();
    },
  };
}

// What the nodes answered in one round of the current op: yes (1), no (0: the key is someone
// else's, or gone), certain errors (an error reply, or never sent because the connection was
// down: nothing done there) and unknown errors (a timeout or a connection lost after sending).
function tally(scriptName) {
  // redlock 4.2 keeps {value, hash} per script in redlock.scripts; 4.0 and 4.1 keep the text.
  const kept = redlock.scripts && redlock.scripts[scriptName];
  const hash = kept ? kept.hash : sha1(String(redlock[scriptName]));
  const round = (answers && answers.get(hash)) || [];
  const out = { yes: 0, no: 0, certain: 0, unknown: 0, errors: [] };
  round.forEach((a, i) => {
    if (a === null) return;
    if (a.err) {
      const kind = protocol.classifyRedisError(a.err);
      out.errors.push(`${nodes[i].name}: ${protocol.errorText(a.err)}${kind === 'unsent' ? ' (not sent)' : ''}`);
      if (kind === 'unknown') out.unknown += 1;
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

// How to report the library's LockError for one round (redlock itself does not tell a node that
// said no from one that failed):
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

// The reply fields for a LockError, or null for a plain "no" (the caller fills those in).
function lockErrorReply(op, e, scriptName) {
  const t = tally(scriptName);
  const v = verdict(t);
  if (v === 'info') return { outcome: 'info', error: describe(e, t) };
  if (v === 'fail') throw new protocol.Fail(describe(e, t));
  protocol.log(`${op.op} ${op.id}: ${describe(e, t)}`);
  return null;
}

function isLockError(e) {
  return e instanceof Redlock.LockError || (e && e.name === 'LockError');
}

async function setup(h) {
  hello = h;
  protocol.checkHello(h, { minNodes: 1 });
  Redlock = require('redlock');
  Redis = protocol.ioredisClass(require('ioredis'));
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
  redlock = new Redlock(
    nodes.map((n, i) => observed(n.client, i)),
    { retryCount: 0 }, // one attempt; driftFactor, retryDelay, retryJitter: the library's defaults
  );
  redlock.on('clientError', () => {}); // counted through the wrappers
  resource = protocol.makeResourceAccess(Redis, h, h.timeout_ms);
  await protocol.waitReady([...nodes.map((n) => n.client), resource.client], Math.max(2000, h.timeout_ms));
  return {
    library: 'redlock',
    package: 'redlock',
    version: protocol.packageVersion('redlock'),
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
  answers = new Map();
  try {
    lock = await stamp.call(() => redlock.lock(hello.lock.name, ttl));
    const validity = lock.expiration - Date.now();
    return { granted: true, validity_ms: validity, token: lock.value, fence: null };
  } catch (e) {
    if (!isLockError(e)) throw e;
    return lockErrorReply(op, e, 'lockScript') || { granted: false, validity_ms: null, token: null, fence: null };
  } finally {
    answers = null;
  }
}

async function extend(op, stamp) {
  if (lock === null) throw new protocol.Fail('no lock to extend: nothing was acquired');
  const ttl = protocol.ttlMs(op, hello);
  answers = new Map();
  try {
    await stamp.call(() => lock.extend(ttl));
    return { extended: true, validity_ms: lock.expiration - Date.now() };
  } catch (e) {
    if (!isLockError(e)) throw e;
    return lockErrorReply(op, e, 'extendScript') || { extended: false, validity_ms: lock.expiration - Date.now() };
  } finally {
    answers = null;
  }
}

async function held(op, stamp) {
  if (lock === null) {
    await stamp.call(() => null);
    return { held: false, validity_ms: null };
  }
  // The library's own view: a lock is valid while its expiration (wall clock) is ahead; unlock()
  // sets expiration to 0 (no validity to report then).
  const [isHeld, validity] = await stamp.call(() => {
    const now = Date.now();
    return [lock.expiration > now, lock.expiration === 0 ? null : lock.expiration - now];
  });
  return { held: isHeld, validity_ms: validity };
}

async function release(op, stamp) {
  if (lock === null) throw new protocol.Fail('no lock to release: nothing was acquired');
  answers = new Map();
  try {
    await stamp.call(() => lock.unlock());
    return { released: true };
  } catch (e) {
    if (!isLockError(e)) throw e;
    return lockErrorReply(op, e, 'unlockScript') || { released: false };
  } finally {
    answers = null;
  }
}

protocol.run({
  setup,
  acquire,
  extend,
  held,
  release,
  access: (op, stamp) => resource.access(op, stamp),
});
