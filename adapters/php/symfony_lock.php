<?php
/**
 * The adapter for Symfony Lock over Redis (Debian's php-symfony-lock, phpredis), as a Symfony
 * app uses it: `new LockFactory($store)`, `createLock($name, $ttl, autoRelease: false)`, the
 * store left at its defaults. Two shapes, one class: `RedisStore` on one node
 * (adapters/symfony-lock) and `CombinedStore` of one RedisStore per node with the
 * `ConsensusStrategy` (a majority), Symfony's Redlock-style lock (adapters/symfony-lock-combined).
 *
 * What the library does, as the adapter relies on it (Symfony 5.4, Store/RedisStore.php):
 * - The lock is a **sorted set** at key lock.name, not a string: each holder's random token is a
 *   member scored with its expiry (the node's `TIME` in ms plus the ttl), with a `__write__` member
 *   for an exclusive lock (a mode marker, not a holder: the hello names it in `lock_markers`, and
 *   the record leaves it out); the key's own expiry is moved to the largest score (`PEXPIREAT`).
 *   The token (base64 of 32 random bytes) is kept in the Key's state under the store's class
 *   name, the same on every node of a CombinedStore: it is reported, and the nodes' record reads
 *   each member as a holding ending at its score.
 * - `acquire(false)` is two steps: `save` with the store's initial ttl (300 s by default: a fault
 *   between the steps leaves a 300 s lease), then `refresh($ttl)`. The client keeps its own view
 *   of the lease on its **wall clock** (`microtime`: a client clock fault moves it): if the lease
 *   looks over when the call returns, acquire releases and throws (answered `info`).
 * - `getRemainingLifetime()` is that client-side view: reported as the validity.
 * - `refresh($ttl)` extends (a conflict: `extended: false`); `isAcquired()` asks the node(s).
 * - `release()` returns nothing (the delete script's answer is dropped): `released: null`.
 *   It throws when the key still holds its token afterwards (`info`).
 * - CombinedStore saves on the stores one after the other, stops once the majority cannot be met,
 *   and deletes everywhere when it is not met.
 *
 * Timeouts: every phpredis command is bounded (connect and read) by the op timeout divided by the
 * rounds a call makes one after the other (2 for one node: save, refresh; 2 per node combined).
 */

declare(strict_types=1);

require_once __DIR__ . '/protocol.php';

use Fencepost\{Refuse, Stamp};
use Symfony\Component\Lock\Exception\LockConflictedException;

final class SymfonyLockAdapter extends Fencepost\LockAdapter
{
    private $factory;
    private string $name = '';

    public function __construct(private bool $combined)
    {
    }

    public function setup(array $hello): array
    {
        $n = count($hello['nodes']);
        if (!$this->combined && $n !== 1) {
            throw new Refuse("Symfony's RedisStore is single-instance: it takes 1 node, not {$n}");
        }
        if ($this->combined && $n < 3) {
            throw new Refuse("a CombinedStore with the consensus strategy needs at least 3 nodes for a majority to mean anything, not {$n}");
        }
        $autoload = '/usr/share/php/Symfony/Component/Lock/autoload.php';
        if (!is_file($autoload)) {
            throw new Refuse("Symfony Lock is not installed ({$autoload}): apt-get install php-symfony-lock");
        }
        require_once $autoload;
        $this->hello = $hello;
        $this->name = $hello['lock']['name'];
        $rounds = $this->combined ? 2 * $n : 2;
        $per_ms = max(10, intdiv((int) $hello['timeout_ms'], $rounds));
        $stores = array_map(
            static fn (array $node) => new Symfony\Component\Lock\Store\RedisStore(Fencepost\phpredis($node, $per_ms)),
            $hello['nodes'],
        );
        $store = $this->combined
            ? new Symfony\Component\Lock\Store\CombinedStore($stores, new Symfony\Component\Lock\Strategy\ConsensusStrategy())
            : $stores[0];
        $this->factory = new Symfony\Component\Lock\LockFactory($store);
        $this->connectResource($hello);
        return [
            'library' => $this->combined ? 'symfony-lock-combined' : 'symfony-lock',
            'package' => 'php-symfony-lock',
            'version' => Fencepost\debian_version('php-symfony-lock'),
            'lock_keys' => [$this->name],
            // The write-mode marker beside the token, scored like it: not a holder.
            'lock_markers' => ['__write__'],
            'supports' => ['acquire' => true, 'release' => true, 'extend' => true, 'held' => true,
                'auto_renewal' => false, 'fencing_token' => false, 'validity' => true],
        ];
    }

    private function validity($lock): ?int
    {
        $left = $lock->getRemainingLifetime();
        return $left === null ? null : max(0, (int) round($left * 1000));
    }

    public function acquire(array $op, Stamp $stamp): array
    {
        $ttl_s = Fencepost\ttl_ms($op, $this->hello) / 1000;
        // createLock() with a Key of our own, to read the token the store keeps in it.
        $key = new Symfony\Component\Lock\Key($this->name);
        $this->lock = $lock = $this->factory->createLockFromKey($key, $ttl_s, false);
        $granted = (bool) $stamp->call(fn () => $lock->acquire(false));
        $store = Symfony\Component\Lock\Store\RedisStore::class;
        $token = $granted && $key->hasState($store) ? (string) $key->getState($store) : null;
        return ['granted' => $granted, 'validity_ms' => $granted ? $this->validity($lock) : null,
            'token' => $token, 'fence' => null];
    }

    public function extend(array $op, Stamp $stamp): array
    {
        $lock = $this->heldLock();
        $ttl_s = Fencepost\ttl_ms($op, $this->hello) / 1000;
        try {
            $stamp->call(fn () => $lock->refresh($ttl_s));
        } catch (LockConflictedException $e) {
            return ['extended' => false, 'validity_ms' => null];
        }
        return ['extended' => true, 'validity_ms' => $this->validity($lock)];
    }

    public function held(array $op, Stamp $stamp): array
    {
        $lock = $this->heldLock();
        $held = (bool) $stamp->call(fn () => $lock->isAcquired());
        return ['held' => $held, 'validity_ms' => $this->validity($lock)];
    }

    public function release(array $op, Stamp $stamp): array
    {
        $lock = $this->heldLock();
        $stamp->call(fn () => $lock->release());
        return ['released' => null];
    }
}
