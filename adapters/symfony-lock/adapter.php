<?php
/** fencepost adapter for Symfony Lock's RedisStore on one node: see ../php/symfony_lock.php. */

declare(strict_types=1);

require __DIR__ . '/../php/symfony_lock.php';

Fencepost\run(new SymfonyLockAdapter(false));
