'use strict';
// The fencepost client protocol (version 1) for Node.js adapters: Node's standard library only.
//
// An adapter calls run() with an object holding
//
//     async setup(hello) -> fields   connect the library to hello.nodes; return the hello reply's
//                                    library, package, version, lock_keys, supports (runtime is
//                                    filled in here unless given). Throw new Refuse("...") when
//                                    the library cannot run as asked.
//
// and one async method per op it supports, each called as handler(op, stamp) and returning the
// reply's op-specific fields (granted, token, released, result, ...):
//
//     acquire  release  extend  held  access
//
// Inside a handler, call the library through the stamp, which records invoke_ns and complete_ns
// with process.hrtime.bigint() immediately around that call and nothing else:
//
//     const lock = await stamp.call(() => redlock.lock(name, ttl));
//
// An adapter may also have
//
//     forget()                       drop the lock object: called when fencepost abandons an
//                                    acquire, extend or release (abandon_after_ms, below)
//
// and then its handlers must not keep a lock object from a call that finishes after it was
// abandoned (stamp.abandoned is true then).
//
// Outcomes: a handler that returns is `ok` (or the `outcome` it returns, when it sets one). A
// handler that catches the library's own "not held" answer returns {released: false}: still `ok`,
// that is what the library said. `throw new Fail(msg)` answers `fail` (only when nothing can have
// taken effect). Every other exception is `info` with the error's text: timeouts, lost
// connections, anything unknown.
//
// Ops run strictly one at a time, in order: lines are queued as they arrive and a single worker
// answers them. Ops the adapter has no method for are answered `fail` "unsupported op". A
// malformed input line is reported on stderr and the process exits 2. End of stdin or
// {"type":"bye"} exits 0 as soon as the ops before it are answered, and within 1 s in any case
// (process.exit: Redis clients and renewal timers keep the event loop alive otherwise).
//
// Two ops are answered here, for every adapter (docs/client-protocol.md):
// - `starve` {ms}: a busy loop on the event loop for ms milliseconds, yielding to nothing (a
//   renewal timer due meanwhile fires late), then `ok`. The hello says supports.starve.
// - `abandon_after_ms` on acquire, extend and release: when the handler has not answered after
//   that long, stop awaiting it (Promise.race with a timer), as a user's client-side timeout
//   would, and answer `info` "abandoned after N ms", stamped from the library call's start to the
//   moment of giving up. Nothing is undone: the call goes on. The lock object is forgotten
//   (adapter.forget()), so a later held, extend or release is `fail` "no lock object" until an
//   acquire grants a new one. The hello says supports.abandon when the adapter has forget().
//
// stdout carries protocol lines only, written with a synchronous write(2) to fd 1 so that a reply
// is on the pipe before the next op starts (a SIGKILL cannot lose it, lines never interleave).
// process.stdout and console.log/info/debug are pointed at stderr, so a stray print in a library
// lands in the stderr log instead of corrupting the stream.

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const readline = require('readline');

const PROTOCOL = 1;
const OPS = ['acquire', 'release', 'extend', 'held', 'access'];
// The ops that may carry abandon_after_ms, and those that need the lock object.
const ABANDONABLE = ['acquire', 'extend', 'release'];
const NEED_LOCK_OBJECT = ['held', 'extend', 'release'];
// End of input or bye: exit this long after it at the latest, even with an op still running.
const EXIT_DEADLINE_MS = 900;

class Refuse extends Error {
  // Thrown by setup(): the adapter cannot run as asked (answered as a hello error, exit 2).
}

class Fail extends Error {
  // Thrown by a handler: the op certainly did not take effect (answered `fail`).
}

// --- output -----------------------------------------------------------------------------------

function claimStdout() {
  // Everything but protocol lines goes to stderr.
  Object.defineProperty(process, 'stdout', {
    configurable: true,
    enumerable: true,
    get() {
      return process.stderr;
    },
  });
  for (const name of ['log', 'info', 'debug', 'dir', 'table']) {
    console[name] = (...args) => console.error(...args);
  }
}

function writeAll(fd, text) {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if (e.code === 'EAGAIN') continue; // a non-blocking pipe that is full: try again
      if (e.code === 'EPIPE' && fd === 1) process.exit(0); // fencepost is gone
      throw e;
    }
  }
}

function write(obj) {
  writeAll(1, JSON.stringify(obj) + '\n');
}

function log(...parts) {
  const text = parts.map((p) => (typeof p === 'string' ? p : safeInspect(p))).join(' ');
  try {
    writeAll(2, `${new Date().toISOString()} fencepost adapter: ${text}\n`);
  } catch (_) {
    // stderr gone: nothing to do
  }
}

function safeInspect(v) {
  try {
    return require('util').inspect(v, { depth: 4, breakLength: Infinity });
  } catch (_) {
    return String(v);
  }
}

function errorText(err) {
  if (err === null || err === undefined) return String(err);
  if (!(err instanceof Error)) return typeof err === 'string' ? err : safeInspect(err);
  const name = err.name || (err.constructor && err.constructor.name) || 'Error';
  let text = err.message ? `${name}: ${err.message}` : name;
  if (err.cause && err.cause !== err) text += ` (caused by ${errorText(err.cause)})`;
  return text;
}

// --- stamps -----------------------------------------------------------------------------------

// Records CLOCK_MONOTONIC nanoseconds right before and right after the library call.
class Stamp {
  constructor() {
    this.invoke = null;
    this.complete = null;
    // Set when fencepost's abandon_after_ms ran out before the handler answered: the reply is
    // sent; whatever the call returns later must not be kept as the adapter's lock object.
    this.abandoned = false;
  }

  // Calls fn() (sync or returning a promise/thenable) and awaits it; invoke_ns is taken right
  // before fn is called, complete_ns right after it settles (returned or threw). If a handler
  // calls it more than once, the first invoke and the last completion count.
  async call(fn) {
    const t0 = process.hrtime.bigint();
    if (this.invoke === null) this.invoke = t0;
    try {
      return await fn();
    } finally {
      this.complete = process.hrtime.bigint();
    }
  }
}

function reply(msg, stamp, outcome, fields, error) {
  const now = process.hrtime.bigint();
  const invoke = stamp.invoke !== null ? stamp.invoke : now;
  let complete = stamp.complete !== null ? stamp.complete : now;
  if (complete < invoke) complete = invoke;
  const out = {
    type: 'reply',
    id: msg.id,
    op: msg.op,
    outcome,
    invoke_ns: String(invoke),
    complete_ns: String(complete),
  };
  if (fields) {
    for (const [k, v] of Object.entries(fields)) {
      if (k !== 'outcome' && k !== 'error') out[k] = v;
    }
  }
  out.error = error === undefined ? null : error;
  return out;
}

// --- input ------------------------------------------------------------------------------------

let lineNo = 0;

function malformed(message) {
  log(`malformed input line ${lineNo}: ${message}`);
  process.exit(2);
}

function parse(line) {
  lineNo += 1;
  let msg;
  try {
    msg = JSON.parse(line);
  } catch (e) {
    malformed(`not JSON (${e.message}): ${line.slice(0, 200)}`);
  }
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg) || typeof msg.type !== 'string') {
    malformed(`not a JSON object with a "type": ${line.slice(0, 200)}`);
  }
  return msg;
}

function checkOp(msg) {
  if (msg.type === 'bye') return;
  if (msg.type !== 'op') malformed(`unexpected message type ${JSON.stringify(msg.type)} (expected "op" or "bye")`);
  if (!Number.isSafeInteger(msg.id)) malformed(`op without an integer "id": ${JSON.stringify(msg)}`);
  if (typeof msg.op !== 'string') malformed(`op without a string "op": ${JSON.stringify(msg)}`);
}

function refuse(message) {
  log(`refusing the hello: ${message}`);
  write({ type: 'hello', protocol: PROTOCOL, error: message });
  process.exit(2);
}

// --- the loop ---------------------------------------------------------------------------------

function run(adapter) {
  claimStdout();
  process.on('unhandledRejection', (reason) => {
    // A library's background promise (a renewal timer, say) rejected with nobody listening. A
    // user's process would log it; the library's own state stays as the library left it.
    log(`unhandled rejection in the library (ignored): ${errorText(reason)}`);
  });
  process.on('uncaughtException', (err) => {
    log(`uncaught exception, exiting: ${err && err.stack ? err.stack : errorText(err)}`);
    process.exit(1);
  });

  const queue = [];
  let forgotten = false; // an abandoned call gave up the lock object; no acquire granted since
  let hello = null; // the hello message, once read
  let ready = false; // hello answered
  let working = false;
  let ending = false; // end of input or bye seen

  function endSoon() {
    if (ending) return;
    ending = true;
    // The ops before it are answered first (the hello too, if setup is still running), within
    // the deadline.
    if (ready && !working && queue.length === 0) process.exit(0);
    setTimeout(() => process.exit(0), EXIT_DEADLINE_MS);
  }

  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
  rl.on('line', (line) => {
    if (ending) return;
    if (line.trim() === '') return;
    const msg = parse(line);
    if (hello === null) {
      if (msg.type === 'bye') process.exit(0);
      if (msg.type !== 'hello') malformed(`the first message must be the hello, got type ${JSON.stringify(msg.type)}`);
      hello = msg;
      if (msg.protocol !== PROTOCOL) {
        refuse(`this adapter speaks fencepost protocol ${PROTOCOL}, not ${JSON.stringify(msg.protocol)}`);
      }
      startSetup();
      return;
    }
    checkOp(msg);
    if (msg.type === 'bye') {
      endSoon();
      return;
    }
    queue.push(msg);
    pump();
  });
  rl.on('close', () => {
    if (hello === null) process.exit(0);
    endSoon();
  });

  async function startSetup() {
    let fields;
    try {
      fields = await adapter.setup(hello);
    } catch (e) {
      if (e instanceof Refuse) refuse(e.message);
      log(`setup failed: ${e && e.stack ? e.stack : errorText(e)}`);
      refuse(`adapter setup failed: ${errorText(e)}`);
    }
    const out = { type: 'hello', protocol: PROTOCOL, ...fields };
    if (out.runtime === undefined) out.runtime = `node ${process.versions.node}`;
    // Answered here for every adapter, unless the adapter says otherwise.
    out.supports = {
      abandon: typeof adapter.forget === 'function',
      starve: true,
      ...(out.supports || {}),
    };
    write(out);
    ready = true;
    if (ending && queue.length === 0) process.exit(0);
    pump();
  }

  async function pump() {
    if (working || !ready) return;
    working = true;
    while (queue.length > 0) {
      const msg = queue.shift();
      write(await answer(msg));
    }
    working = false;
    if (ending) process.exit(0);
  }

  async function answer(msg) {
    if (msg.op === 'starve') return starve(msg);
    const stamp = new Stamp();
    const handler = OPS.includes(msg.op) && typeof adapter[msg.op] === 'function' ? adapter[msg.op] : null;
    if (handler === null) return reply(msg, stamp, 'fail', null, 'unsupported op');
    if (forgotten && NEED_LOCK_OBJECT.includes(msg.op)) return reply(msg, stamp, 'fail', null, 'no lock object');
    const abandonMs = ABANDONABLE.includes(msg.op) ? abandonAfterMs(msg) : null;
    const work = settle(msg, stamp, handler);
    if (abandonMs === null) return noteGrant(msg, await work);
    let timer;
    const gaveUp = new Promise((resolve) => {
      timer = setTimeout(() => resolve(null), abandonMs);
    });
    const first = await Promise.race([work, gaveUp]);
    clearTimeout(timer);
    if (first !== null) return noteGrant(msg, first);
    // Given up: stamped from the call's start to now; the call goes on unawaited.
    const now = process.hrtime.bigint();
    const frozen = { invoke: stamp.invoke !== null ? stamp.invoke : now, complete: now };
    stamp.abandoned = true;
    forgotten = true;
    if (typeof adapter.forget === 'function') adapter.forget();
    work.then((late) => {
      const said = ['granted', 'extended', 'released'].filter((k) => k in late).map((k) => ` ${k} ${late[k]}`).join('');
      log(`op ${msg.op} ${msg.id}, abandoned after ${abandonMs} ms, finished later: ${late.outcome}${said}${late.error ? ` (${late.error})` : ''}`);
    });
    return reply(msg, frozen, 'info', null, `abandoned after ${abandonMs} ms`);
  }

  // A granted acquire hands the adapter a new lock object.
  function noteGrant(msg, out) {
    if (msg.op === 'acquire' && out.outcome === 'ok' && out.granted === true) forgotten = false;
    return out;
  }

  // The reply for a handler's call, however it ends (never rejects).
  async function settle(msg, stamp, handler) {
    try {
      const fields = (await handler.call(adapter, msg, stamp)) || {};
      const outcome = fields.outcome || 'ok';
      return reply(msg, stamp, outcome, fields, outcome === 'ok' ? null : fields.error || null);
    } catch (e) {
      if (e instanceof Fail) return reply(msg, stamp, 'fail', null, e.message);
      if (stamp.invoke === null) {
        log(`op ${msg.op} ${msg.id} threw before calling the library: ${e && e.stack ? e.stack : errorText(e)}`);
      } else {
        log(`op ${msg.op} ${msg.id}: ${errorText(e)}`);
      }
      return reply(msg, stamp, 'info', null, errorText(e));
    }
  }
}

// The op's abandon_after_ms, or null when it carries none (a malformed one is a malformed line).
function abandonAfterMs(msg) {
  const ms = msg.abandon_after_ms;
  if (ms === undefined || ms === null) return null;
  if (!Number.isSafeInteger(ms) || ms < 0) {
    malformed(`abandon_after_ms must be a non-negative integer: ${JSON.stringify(msg)}`);
  }
  return ms;
}

// `starve`: keep the event loop busy for ms without yielding (no timer, callback or I/O runs
// meanwhile), then ok.
function starve(msg) {
  const ms = msg.ms;
  if (!Number.isSafeInteger(ms) || ms < 0) malformed(`starve needs "ms", a non-negative integer: ${JSON.stringify(msg)}`);
  const stamp = new Stamp();
  stamp.invoke = process.hrtime.bigint();
  const end = stamp.invoke + BigInt(ms) * 1000000n;
  while (process.hrtime.bigint() < end) {
    // busy: the point is that nothing else runs
  }
  stamp.complete = process.hrtime.bigint();
  return reply(msg, stamp, 'ok', null);
}

// --- helpers the adapters share ---------------------------------------------------------------

// The op's ttl_ms, or the hello's lock.ttl_ms when the op carries none.
function ttlMs(op, hello) {
  const ttl = op.ttl_ms !== undefined && op.ttl_ms !== null ? op.ttl_ms : hello.lock.ttl_ms;
  return Number(ttl);
}

// The version of an installed package, read from its package.json at run time (through
// require.resolve's search paths, so that an "exports" map that hides package.json is no
// obstacle), as npm reads it (cleanVersion).
function packageVersion(name) {
  return cleanVersion(rawPackageVersion(name));
}

// A version as npm reads it: redlock 5's package.json says "v5.0.0-beta.2", npm and its registry
// "5.0.0-beta.2" (a leading "v" or "=" and surrounding blanks are not part of a semver).
function cleanVersion(v) {
  return String(v).trim().replace(/^[=v]+/, '');
}

function rawPackageVersion(name) {
  try {
    return require(`${name}/package.json`).version;
  } catch (_) {
    // fall through
  }
  for (const dir of require.resolve.paths(name) || []) {
    const file = path.join(dir, name, 'package.json');
    try {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (pkg.name === name) return pkg.version;
    } catch (_) {
      // not here
    }
  }
  let dir = path.dirname(require.resolve(name));
  for (;;) {
    const file = path.join(dir, 'package.json');
    try {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (pkg.name === name) return pkg.version;
    } catch (_) {
      // keep going up
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the package.json of ${name}`);
    dir = up;
  }
}

// Checks the hello's settings every adapter relies on; throws Refuse.
function checkHello(hello, { minNodes = 1, maxNodes = Infinity } = {}) {
  const lock = hello.lock || {};
  if (typeof lock.name !== 'string' || lock.name === '') throw new Refuse('hello.lock.name must be a non-empty string');
  if (!Number.isSafeInteger(lock.ttl_ms) || lock.ttl_ms <= 0) {
    throw new Refuse(`hello.lock.ttl_ms must be a positive integer number of ms, not ${JSON.stringify(lock.ttl_ms)}`);
  }
  if (!Number.isSafeInteger(hello.timeout_ms) || hello.timeout_ms <= 0) {
    throw new Refuse(`hello.timeout_ms must be a positive integer, not ${JSON.stringify(hello.timeout_ms)}`);
  }
  const nodes = hello.nodes;
  if (!Array.isArray(nodes)) throw new Refuse('hello.nodes must be a list');
  if (nodes.length < minNodes || nodes.length > maxNodes) {
    const want = maxNodes === minNodes ? `exactly ${minNodes}` : `at least ${minNodes}`;
    throw new Refuse(`this adapter needs ${want} lock node(s), got ${nodes.length}`);
  }
  for (const n of [...nodes, hello.resource]) {
    if (!n || typeof n.host !== 'string' || !Number.isSafeInteger(n.port)) {
      throw new Refuse(`every node and the resource need a host and a port: ${JSON.stringify(n)}`);
    }
  }
  if (typeof (hello.resource || {}).script !== 'string') throw new Refuse('hello.resource.script must be a string');
}

// --- helpers for ioredis-based adapters (the adapter passes its own ioredis in) -------------------

// The client class of an ioredis module (4.x exports it as the module; 5.x and 6.x also as .Redis).
function ioredisClass(mod) {
  return mod.Redis || mod.default || mod;
}

// ioredis options for one node of the hello: connect and command timeouts bounded so a call into
// a partition ends in time; no offline queue and no retries of a command, so a command sent while
// the connection is down fails at once instead of waiting for the partition to heal; no resending
// of commands that were in flight when a connection broke (the caller has already given up on
// them); reconnecting forever, quickly, so the run goes on after a partition heals. No ready check
// (INFO), connection name (CLIENT SETNAME) or client info (CLIENT SETINFO): the lock user's ACL
// need only allow AUTH/HELLO and the library's own commands; with INFO denied, ioredis 4 would
// never become ready.
function ioredisOptions(node, { connectTimeoutMs, commandTimeoutMs }) {
  return {
    host: node.host,
    port: node.port,
    username: node.username || undefined,
    password: node.password || undefined,
    connectTimeout: connectTimeoutMs,
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (times) => Math.min(times * 50, 500),
    enableReadyCheck: false,
    disableClientInfo: true,
  };
}

// Logs a client's connection errors on stderr (a distinct message at most every 5 s).
function logClientErrors(client, label) {
  const seen = new Map();
  client.on('error', (err) => {
    const text = errorText(err);
    const now = Date.now();
    if ((seen.get(text) || 0) + 5000 > now) return;
    seen.set(text, now);
    log(`${label}: ${text}`);
  });
}

// Resolves when every client is ready, or after ms (the clients go on reconnecting by themselves).
function waitReady(clients, ms) {
  return new Promise((resolve) => {
    let left = clients.filter((c) => c.status !== 'ready').length;
    if (left === 0) return resolve();
    const timer = setTimeout(resolve, ms);
    for (const c of clients) {
      if (c.status === 'ready') continue;
      c.once('ready', () => {
        left -= 1;
        if (left === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
    }
  });
}

const UNSENT = "Stream isn't writeable and enableOfflineQueue options is false";

// What an ioredis error says about whether the command took effect:
//   'unsent'  - rejected before it was written (connection down, no offline queue): no effect;
//   'refused' - the server answered with an error reply: no effect;
//   'unknown' - a timeout, a connection lost after sending, anything else.
function classifyRedisError(err) {
  if (!err) return null;
  if (err.message === UNSENT) return 'unsent';
  if (err.name === 'ReplyError') return 'refused';
  return 'unknown';
}

// The `access` op on the resource node: EVALSHA (EVAL on NOSCRIPT) of the hello's script with the
// op's keys and args unchanged; the script's answer is passed back as is.
function makeResourceAccess(Redis, hello, timeoutMs) {
  const res = hello.resource;
  const script = res.script;
  const sha = crypto.createHash('sha1').update(script, 'utf8').digest('hex');
  const client = new Redis(
    ioredisOptions(res, { connectTimeoutMs: timeoutMs, commandTimeoutMs: timeoutMs }),
  );
  logClientErrors(client, 'resource');
  async function run(keys, args) {
    try {
      return await client.evalsha(sha, keys.length, ...keys, ...args);
    } catch (e) {
      if (e && e.name === 'ReplyError' && String(e.message).startsWith('NOSCRIPT')) {
        return await client.eval(script, keys.length, ...keys, ...args);
      }
      throw e;
    }
  }
  async function access(op, stamp) {
    const keys = (op.keys || []).map(String);
    const args = (op.args || []).map(String);
    try {
      return { result: await stamp.call(() => run(keys, args)) };
    } catch (e) {
      const kind = classifyRedisError(e);
      // A refusal before the script ran (NOPERM, NOAUTH, ...) changed nothing; an error raised
      // inside the script may come after some of its writes.
      if (kind === 'unsent') throw new Fail(`${errorText(e)} (not sent)`);
      if (kind === 'refused' && !/script|user_function|@user/i.test(String(e.message))) throw new Fail(errorText(e));
      throw e;
    }
  }
  return { client, access };
}

module.exports = {
  PROTOCOL,
  Refuse,
  Fail,
  Stamp,
  run,
  log,
  errorText,
  ttlMs,
  packageVersion,
  checkHello,
  ioredisClass,
  ioredisOptions,
  logClientErrors,
  waitReady,
  classifyRedisError,
  makeResourceAccess,
};
