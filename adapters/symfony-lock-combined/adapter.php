<?php
/**
 * fencepost adapter for Symfony Lock's CombinedStore over one RedisStore per lock node with the
 * ConsensusStrategy (a majority): Symfony's Redlock-style lock. See ../php/symfony_lock.php.
 */

declare(strict_types=1);

require __DIR__ . '/../php/symfony_lock.php';

Fencepost\run(new SymfonyLockAdapter(true));
