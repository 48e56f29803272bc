<?php
/**
 * fencepost adapter for Laravel's cache lock over Redis (Debian's php-illuminate-cache, with
 * php-illuminate-redis and the phpredis extension: Laravel's default Redis client).
 *
 * What it runs is what a Laravel app gets from `Cache::store('redis')->lock($name, $seconds)`:
 * Illuminate\Cache\RedisStore::lock() on a phpredis connection returns a PhpRedisLock. The lock
 * is one key, `$name` (the store's prefix is left empty here, so the key is lock.name), on a
 * single node: acquire is `SET name owner EX seconds NX` (RedisLock::acquire), release a Lua
 * compare-and-delete (LuaScripts::releaseLock) that answers whether it deleted. The owner is
 * Str::random() (16 characters), kept on the lock object: it is the token.
 *
 * Laravel's lock takes whole seconds (`$seconds`, an int): a ttl that is not a whole number of
 * seconds is refused. It has no extension (Laravel 8 has no refresh), no public "do I still hold
 * it" (isOwnedByCurrentProcess is protected) and no validity: supports.extend, held and validity
 * are false, and a critical section longer than the lease simply outlives it.
 */

declare(strict_types=1);

require __DIR__ . '/../php/protocol.php';

use Fencepost\{Refuse, Stamp};

final class LaravelLockAdapter extends Fencepost\LockAdapter
{
    private $store;
    private string $name = '';

    public function setup(array $hello): array
    {
        if (count($hello['nodes']) !== 1) {
            throw new Refuse("Laravel's Redis lock is single-instance: it takes 1 node, not " . count($hello['nodes']));
        }
        $ttl = (int) $hello['lock']['ttl_ms'];
        if ($ttl % 1000 !== 0 || $ttl < 1000) {
            throw new Refuse("Laravel's lock takes whole seconds: ttl {$ttl} ms cannot be expressed");
        }
        foreach (['Cache', 'Redis', 'Support', 'Collections', 'Contracts', 'Macroable'] as $part) {
            $autoload = "/usr/share/php/Illuminate/{$part}/autoload.php";
            if (!is_file($autoload)) {
                throw new Refuse("Laravel's Illuminate\\{$part} is not installed ({$autoload}): apt-get install php-illuminate-cache php-illuminate-redis");
            }
            require_once $autoload;
        }
        $this->hello = $hello;
        $this->name = $hello['lock']['name'];
        $node = $hello['nodes'][0];
        $s = $hello['timeout_ms'] / 1000;
        // A node's password logs in as `default`, which is the hello's user.
        $manager = new Illuminate\Redis\RedisManager(null, 'phpredis', ['default' => [
            'host' => $node['host'], 'port' => $node['port'], 'password' => $node['password'],
            'timeout' => $s, 'read_timeout' => $s,
        ]]);
        $this->store = new Illuminate\Cache\RedisStore($manager, '', 'default');
        $this->connectResource($hello);
        return [
            'library' => 'laravel-lock', 'package' => 'php-illuminate-cache',
            'version' => Fencepost\debian_version('php-illuminate-cache'),
            'lock_keys' => [$this->name],
            'supports' => ['acquire' => true, 'release' => true, 'extend' => false, 'held' => false,
                'auto_renewal' => false, 'fencing_token' => false, 'validity' => false],
        ];
    }

    public function acquire(array $op, Stamp $stamp): array
    {
        $seconds = intdiv(Fencepost\ttl_ms($op, $this->hello), 1000);
        $this->lock = $lock = $this->store->lock($this->name, $seconds);
        $granted = (bool) $stamp->call(fn () => $lock->acquire());
        return ['granted' => $granted, 'validity_ms' => null,
            'token' => $granted ? $lock->owner() : null, 'fence' => null];
    }

    public function release(array $op, Stamp $stamp): array
    {
        $lock = $this->heldLock();
        return ['released' => (bool) $stamp->call(fn () => $lock->release())];
    }
}

Fencepost\run(new LaravelLockAdapter());
