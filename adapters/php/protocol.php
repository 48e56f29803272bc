<?php
/**
 * The fencepost client protocol (version 1) for PHP adapters: PHP's standard library and the
 * phpredis extension only.
 *
 * An adapter is an object with
 *
 *     setup(array $hello): array   // connect the library to $hello['nodes']; return the hello
 *                                  // reply's fields: library, package, version, lock_keys,
 *                                  // supports. Throw new Refuse("...") when it cannot run as asked.
 *
 * and one method per op it supports (acquire, release, extend, held, access), each called as
 * handler(array $op, Stamp $stamp) and returning the reply's op-specific fields. Inside a handler,
 * call the library exactly once through the stamp, which records invoke_ns and complete_ns with
 * hrtime() (CLOCK_MONOTONIC, the clock fencepost reads) right around that call:
 *
 *     $granted = $stamp->call(fn () => $lock->acquire(false));
 *
 * Outcomes: a handler that returns is `ok`; `throw new Fail(msg)` answers `fail` (only when
 * nothing can have reached Redis); any other Throwable answers `info` with its text (timeouts, lost
 * connections, anything unknown). An op with no method is answered `fail` "unsupported op". A
 * malformed input line is reported on stderr and the process exits 2. End of stdin or `bye` exits
 * 0 at once.
 *
 * `starve` is answered here for every adapter: a busy loop on the one thread PHP has, for the op's
 * `ms`. `abandon_after_ms` is not offered (supports.abandon false): PHP runs one thread, and a
 * blocked phpredis call cannot be left running while the loop answers — a user who gives up on
 * it loses the whole request.
 *
 * stdout carries protocol lines only: the protocol writes to php://stdout through its own
 * handle, and output buffering catches anything a library echoes, which goes to stderr.
 */

declare(strict_types=1);

namespace Fencepost;

const PROTOCOL = 1;
const OPS = ['acquire', 'release', 'extend', 'held', 'access'];

/** Thrown by setup(): the adapter cannot run as asked (a hello error, exit 2). */
class Refuse extends \Exception {}

/** Thrown by a handler: the op certainly did not take effect (`fail`). */
class Fail extends \Exception {}

/** Records CLOCK_MONOTONIC nanoseconds right before and right after the one library call. */
final class Stamp
{
    public ?int $invoke_ns = null;
    public ?int $complete_ns = null;

    public function call(callable $fn)
    {
        $this->invoke_ns = hrtime(true);
        try {
            return $fn();
        } finally {
            $this->complete_ns = hrtime(true);
        }
    }
}

final class Loop
{
    /** @var resource */
    private $out;
    private int $line = 0;

    public function __construct()
    {
        $this->out = fopen('php://stdout', 'wb');
        // Anything a library prints goes to stderr, not into the protocol stream.
        ob_start(static function (string $buffer): string {
            if ($buffer !== '') {
                fwrite(STDERR, $buffer);
            }
            return '';
        }, 1);
    }

    public function write(array $msg): void
    {
        fwrite($this->out, json_encode($msg, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE) . "\n");
        fflush($this->out);
    }

    public function bye(int $code): never
    {
        fflush($this->out);
        exit($code);
    }

    private function malformed(string $why): never
    {
        fwrite(STDERR, "fencepost adapter: malformed input line {$this->line}: {$why}\n");
        $this->bye(2);
    }

    /** The next message; null at end of input. Empty lines are skipped. */
    public function read(): ?array
    {
        while (true) {
            $raw = fgets(STDIN);
            if ($raw === false) {
                return null;
            }
            $this->line++;
            if (trim($raw) === '') {
                continue;
            }
            $msg = json_decode($raw, true);
            if (!is_array($msg) || !is_string($msg['type'] ?? null)) {
                $this->malformed('not a JSON object with a "type": ' . substr(trim($raw), 0, 200));
            }
            return $msg;
        }
    }

    public function refuse(string $message): never
    {
        fwrite(STDERR, "fencepost adapter: refusing the hello: {$message}\n");
        $this->write(['type' => 'hello', 'protocol' => PROTOCOL, 'error' => $message]);
        $this->bye(2);
    }

    public function checkOp(array $msg): void
    {
        if ($msg['type'] === 'bye') {
            return;
        }
        if ($msg['type'] !== 'op') {
            $this->malformed("unexpected message type \"{$msg['type']}\" (expected \"op\" or \"bye\")");
        }
        if (!is_int($msg['id'] ?? null)) {
            $this->malformed('op without an integer "id"');
        }
        if (!is_string($msg['op'] ?? null)) {
            $this->malformed('op without a string "op"');
        }
    }
}

function reply(array $msg, Stamp $stamp, string $outcome, array $fields = [], ?string $error = null): array
{
    $now = hrtime(true);
    $invoke = $stamp->invoke_ns ?? $now;
    $complete = $stamp->complete_ns ?? max($invoke, $now);
    return ['type' => 'reply', 'id' => $msg['id'], 'op' => $msg['op'], 'outcome' => $outcome,
        'invoke_ns' => $invoke, 'complete_ns' => $complete] + $fields + ['error' => $error];
}

/** An exception's text with its causes: "LockAcquiringException: … (caused by RedisException: …)". */
function error_text(\Throwable $e): string
{
    $one = static function (\Throwable $x): string {
        $name = (new \ReflectionClass($x))->getShortName();
        return $x->getMessage() === '' ? $name : "{$name}: {$x->getMessage()}";
    };
    $text = $one($e);
    for ($c = $e->getPrevious(); $c !== null; $c = $c->getPrevious()) {
        $text .= ' (caused by ' . $one($c) . ')';
    }
    return $text;
}

function starve(array $msg): array
{
    $stamp = new Stamp();
    $ms = $msg['ms'] ?? null;
    if (!is_int($ms) && !is_float($ms) || $ms < 0) {
        return reply($msg, $stamp, 'fail', [], 'starve needs a number of milliseconds "ms"');
    }
    $stamp->invoke_ns = hrtime(true);
    $end = $stamp->invoke_ns + (int) ($ms * 1_000_000);
    while (hrtime(true) < $end) {
    }
    $stamp->complete_ns = hrtime(true);
    return reply($msg, $stamp, 'ok');
}

/** The op's ttl_ms, else the hello's. */
function ttl_ms(array $op, array $hello): int
{
    return (int) ($op['ttl_ms'] ?? $hello['lock']['ttl_ms']);
}

/** The version Debian installed of `$package` (the package the adapter loaded its library from). */
function debian_version(string $package): string
{
    $v = trim((string) shell_exec('dpkg-query -W -f=\'${Version}\' ' . escapeshellarg($package) . ' 2>/dev/null'));
    if ($v === '') {
        throw new Refuse("the Debian package {$package} is not installed: apt-get install {$package}");
    }
    return $v;
}

/**
 * A phpredis client for a hello node: connect and every read bounded by timeout_ms, no retries
 * within an op, logged in as the node's user.
 *
 * Setting up is not an op: a busy machine starting twenty PHP clients can take longer than a
 * 10 ms read timeout (a CombinedStore's share of a 50 ms op timeout) to answer AUTH, so a
 * connection that fails while being set up is dropped and a new one made, for up to 10 s. A new
 * object each time, never the failed one: phpredis keeps a connection whose read timed out, and
 * its next command reads the late reply meant for the one before (docs/libraries.md, "A late
 * reply answers the next command").
 */
function phpredis(array $node, int $timeout_ms): \Redis
{
    if (!extension_loaded('redis')) {
        throw new Refuse('the phpredis extension is not loaded: apt-get install php-redis');
    }
    $s = $timeout_ms / 1000;
    $deadline = microtime(true) + 10.0;
    while (true) {
        $r = new \Redis();
        try {
            $r->connect($node['host'], (int) $node['port'], $s, null, 0, $s);
            $r->auth([$node['username'], $node['password']]);
            return $r;
        } catch (\RedisException $e) {
            // The node's own refusal (a wrong password) is no busy machine: say it at once.
            if (microtime(true) >= $deadline || preg_match('/^(WRONGPASS|NOAUTH|ERR)\b/', $e->getMessage())) {
                throw $e;
            }
            usleep(20_000);
        }
    }
}

/** The base of the shipped PHP adapters: the resource connection and the `access` op. */
abstract class LockAdapter
{
    protected array $hello = [];
    protected ?\Redis $resource = null;
    /** The last acquire's lock object, until an acquire replaces it. */
    protected $lock = null;

    protected function connectResource(array $hello): void
    {
        $this->resource = phpredis($hello['resource'], (int) $hello['timeout_ms']);
    }

    public function access(array $op, Stamp $stamp): array
    {
        $script = $this->hello['resource']['script'];
        $keys = $op['keys'];
        $args = array_map('strval', $op['args']);
        $r = $this->resource;
        $result = $stamp->call(static function () use ($r, $script, $keys, $args) {
            $r->clearLastError();
            $out = $r->eval($script, array_merge($keys, $args), count($keys));
            $err = $r->getLastError();
            if ($out === false && $err !== null) {
                throw new \RuntimeException("resource script: {$err}");
            }
            return $out;
        });
        return ['result' => $result];
    }

    /** The lock object of the last acquire, or `fail` "no lock object". */
    protected function heldLock()
    {
        if ($this->lock === null) {
            throw new Fail('no lock object: no acquire has granted the lock');
        }
        return $this->lock;
    }
}

/** The protocol loop. Never returns. */
function run(object $adapter): never
{
    $loop = new Loop();
    $hello = $loop->read();
    if ($hello === null || $hello['type'] === 'bye') {
        $loop->bye(0);
    }
    if ($hello['type'] !== 'hello') {
        fwrite(STDERR, "fencepost adapter: malformed input line 1: the first message must be the hello\n");
        $loop->bye(2);
    }
    if (($hello['protocol'] ?? null) !== PROTOCOL) {
        $loop->refuse('this adapter speaks fencepost protocol ' . PROTOCOL . ', not ' . json_encode($hello['protocol'] ?? null));
    }
    try {
        $fields = $adapter->setup($hello);
    } catch (Refuse $e) {
        $loop->refuse($e->getMessage());
    } catch (\Throwable $e) {
        fwrite(STDERR, (string) $e . "\n");
        $loop->refuse('adapter setup failed: ' . error_text($e));
    }
    $fields['supports'] = ($fields['supports'] ?? []) + ['abandon' => false, 'starve' => true];
    $fields['runtime'] ??= 'php ' . PHP_VERSION;
    $loop->write(['type' => 'hello', 'protocol' => PROTOCOL] + $fields);
    while (true) {
        $msg = $loop->read();
        if ($msg === null) {
            $loop->bye(0);
        }
        $loop->checkOp($msg);
        if ($msg['type'] === 'bye') {
            $loop->bye(0);
        }
        if ($msg['op'] === 'starve') {
            $loop->write(starve($msg));
            continue;
        }
        if (!in_array($msg['op'], OPS, true) || !method_exists($adapter, $msg['op'])) {
            $loop->write(reply($msg, new Stamp(), 'fail', [], 'unsupported op'));
            continue;
        }
        $stamp = new Stamp();
        try {
            $loop->write(reply($msg, $stamp, 'ok', $adapter->{$msg['op']}($msg, $stamp)));
        } catch (Fail $e) {
            $loop->write(reply($msg, $stamp, 'fail', [], $e->getMessage()));
        } catch (\Throwable $e) {
            fwrite(STDERR, "op {$msg['op']} {$msg['id']}: " . error_text($e) . "\n");
            $loop->write(reply($msg, $stamp, 'info', [], error_text($e)));
        }
    }
}
