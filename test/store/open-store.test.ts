import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { openStore, sqlitePath } from '../../src/store/index.ts';

describe('openStore', () => {
  it('defaults to <dataDir>/pixgate.db, creating the directory, migrated', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pixgate-open-'));
    try {
      const dataDir = join(root, 'nested', 'data');
      const store = await openStore(undefined, dataDir);
      assert.equal(store.dialect, 'sqlite');
      assert.ok(existsSync(join(dataDir, 'pixgate.db')));
      const user = await store.createUser('u', 1, 'whsec_test');
      await store.close();
      const again = await openStore('', dataDir);
      assert.equal((await again.getUser(user.id))!.name, 'u');
      await again.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('accepts sqlite: and file: urls', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pixgate-open-'));
    try {
      for (const url of [
        `sqlite:${join(root, 'a', 'one.db')}`,
        pathToFileURL(join(root, 'b', 'two.db')).href,
      ]) {
        const store = await openStore(url, join(root, 'unused'));
        await store.createUser(null, 1, 'whsec_test');
        await store.close();
      }
      assert.ok(existsSync(join(root, 'a', 'one.db')));
      assert.ok(existsSync(join(root, 'b', 'two.db')));
      assert.ok(!existsSync(join(root, 'unused')));
      const mem = await openStore('sqlite::memory:', join(root, 'unused'));
      assert.equal((await mem.createUser(null, 1, 'whsec_test')).id, 1);
      await mem.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('maps urls to paths and rejects unknown schemes', async () => {
    assert.equal(sqlitePath('sqlite:/var/lib/pixgate.db'), '/var/lib/pixgate.db');
    assert.equal(sqlitePath('sqlite:///var/lib/pixgate.db'), '/var/lib/pixgate.db');
    assert.equal(sqlitePath('sqlite:data/p.db'), 'data/p.db');
    assert.equal(sqlitePath('file:data/p.db'), 'data/p.db');
    assert.equal(sqlitePath('file:///var/lib/p%20q.db'), '/var/lib/p q.db');
    assert.equal(sqlitePath('sqlite::memory:'), ':memory:');
    assert.throws(() => sqlitePath('mysql://localhost/db'), /unsupported store url/);
    assert.throws(() => sqlitePath('sqlite:'), /no path/);
    await assert.rejects(openStore('redis://x', '/tmp'), /unsupported store url/);
  });
});
