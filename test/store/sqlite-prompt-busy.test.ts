/**
 * The serving store on SQLite while another connection holds the write lock: a write neither
 * freezes the event loop nor waits 5 s; it is retried briefly without blocking, succeeds if the
 * lock goes away in time, and otherwise fails with SQLITE_BUSY (which the API answers as 503).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openStore, type Store } from '../../src/store/index.ts';
import { isStoreUnavailable } from '../../src/store/unavailable.ts';

describe('SQLite store under another process lock', () => {
  let dir: string;
  let store: Store;
  let holder: Database.Database;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pixgate-busy-'));
    store = await openStore(undefined, dir);
    holder = new Database(join(dir, 'pixgate.db'));
  });
  after(async () => {
    holder.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails a write promptly with a store-unavailable error, keeping the event loop free', async () => {
    const user = await store.createUser('before', 1, 'whsec_a');
    holder.exec('BEGIN EXCLUSIVE');
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    const started = Date.now();
    try {
      const err = await store.createUser('during', 2, 'whsec_b').then(
        () => null,
        (e: unknown) => e,
      );
      const tookMs = Date.now() - started;
      assert.ok(err !== null, 'the write did not go through while the lock was held');
      assert.ok(isStoreUnavailable(err), `a store-unavailable error: ${String(err)}`);
      assert.ok(tookMs < 2000, `answered within 2 s (took ${tookMs} ms)`);
      assert.ok(ticks >= 20, `the event loop kept running while waiting (${ticks} ticks)`);
      // Reads are not blocked by a writer in WAL mode.
      assert.equal((await store.getUser(user.id))?.name, 'before');
    } finally {
      clearInterval(ticker);
      holder.exec('COMMIT');
    }
  });

  it('retries a write whose lock is released shortly after', async () => {
    holder.exec('BEGIN EXCLUSIVE');
    setTimeout(() => holder.exec('COMMIT'), 200);
    const user = await store.createUser('after', 3, 'whsec_c');
    assert.equal((await store.getUser(user.id))?.name, 'after');
  });
});
