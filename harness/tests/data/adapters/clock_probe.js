// A client that only reads its wall clock: on every op it logs `Date.now() - monotonic` (ms) to
// stderr and answers "not granted". fencepost's tests run it under a client clock fault to see
// that the jump reaches a Node client process's own Date.now().
//
//     node clock_probe.js
'use strict';
const readline = require('readline');
const rl = readline.createInterface({ input: process.stdin });
let hello = null;
rl.on('line', (line) => {
  const msg = JSON.parse(line);
  if (hello === null) {
    hello = msg;
    process.stdout.write(JSON.stringify({
      type: 'hello', protocol: 1, library: 'clock-probe', package: 'none', version: '0',
      runtime: 'node', lock_keys: [hello.lock.name], supports: { acquire: true, release: true },
    }) + '\n');
    return;
  }
  if (msg.type === 'bye') process.exit(0);
  const now = process.hrtime.bigint();
  const skew = Date.now() - Number(now / 1000000n);
  process.stderr.write(`wall-minus-monotonic-ms ${skew}\n`);
  process.stdout.write(JSON.stringify({
    type: 'reply', id: msg.id, op: msg.op, outcome: 'ok', granted: false,
    invoke_ns: String(now), complete_ns: String(process.hrtime.bigint()),
  }) + '\n');
});
