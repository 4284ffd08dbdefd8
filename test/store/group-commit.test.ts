/** Group commit (SQLite): units of one event-loop turn share a transaction, each in its own savepoint. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { immediate, openDatabase } from '../../src/store/sqlite/database.ts';
import { GroupCommit } from '../../src/store/sqlite/groupCommit.ts';

test('a failing unit rolls back only its own writes; the others commit together', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pixgate-group-'));
  const db = openDatabase(join(dir, 'g.db'));
  try {
    db.exec('CREATE TABLE t (v INTEGER NOT NULL)');
    const group = new GroupCommit(db);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const shared: boolean[] = [];
    const unit = (v: number) =>
      immediate(db, () => {
        // Inside the batch's transaction before this unit's own (savepoint) writes.
        shared.push(db.inTransaction);
        insert.run(v);
        if (v === 2) throw new Error('unit 2 fails after writing');
        return v;
      });
    const results = await Promise.allSettled([1, 2, 3].map((v) => group.run(unit(v))));
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
      [1, 'unit 2 fails after writing', 3],
    );
    assert.deepEqual(shared, [true, true, true], 'all three ran in one transaction');
    assert.deepEqual(db.prepare('SELECT v FROM t ORDER BY v').pluck().all(), [1, 3]);
    assert.equal(db.inTransaction, false);

    // A lone unit runs on its own, as before.
    assert.equal(await group.run(unit(4)), 4);
    assert.deepEqual(db.prepare('SELECT v FROM t ORDER BY v').pluck().all(), [1, 3, 4]);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
