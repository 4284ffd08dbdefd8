/**
 * Master-key derivation and sealing of tenant callback secrets.
 * A passphrase used to be stretched with one unsalted SHA-256; it now goes through scrypt with a
 * salt carried by each value (v2), while values sealed the old way (v1) still open.
 */
import assert from 'node:assert/strict';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { sealClearSecrets, userWithSecret, rotateSecret } from '../../src/callbacks/secrets.ts';
import { parseMasterKey, SecretBox, secretBoxFor } from '../../src/security/secretBox.ts';
import { openPostgresStore } from '../../src/store/postgres/index.ts';
import type { Store } from '../../src/store/store.ts';
import { openFixture } from '../callbacks/fixture.ts';

const DATABASE_URL = process.env.PIXGATE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A v1 value exactly as the previous release wrote it for a passphrase: key = SHA-256(passphrase). */
function legacySeal(passphrase: string, plain: string, aad: string): string {
  const key = createHash('sha256').update(passphrase, 'utf8').digest();
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return [
    'v1',
    iv.toString('base64url'),
    body.toString('base64url'),
    cipher.getAuthTag().toString('base64url'),
  ].join(':');
}

describe('SecretBox key derivation', () => {
  it('seals with scrypt and a salt for a passphrase (v2); other processes (other salts) open it', () => {
    const one = secretBoxFor('correct horse battery staple');
    const two = secretBoxFor('correct horse battery staple');
    const sealed = one.encrypt('sk-123', 'aad');
    assert.match(sealed, /^v2:[A-Za-z0-9_-]{22}:/);
    assert.notEqual(
      sealed.split(':')[1],
      two.encrypt('sk-123', 'aad').split(':')[1],
      'each process has its own salt',
    );
    assert.equal(two.decrypt(sealed, 'aad'), 'sk-123');
    assert.throws(() => secretBoxFor('wrong horse battery staple').decrypt(sealed, 'aad'));
    assert.throws(() => two.decrypt(sealed, 'other aad'));
    // The v2 key is not the old SHA-256 one: a value cannot be opened with the legacy derivation.
    assert.throws(() => new SecretBox(parseMasterKey('correct horse battery staple')).decrypt(sealed, 'aad'));
  });

  it('still opens values sealed with the old unsalted SHA-256 derivation', () => {
    const old = legacySeal('correct horse battery staple', 'sk-legacy', 'aad');
    assert.equal(secretBoxFor('correct horse battery staple').decrypt(old, 'aad'), 'sk-legacy');
  });

  it('a raw 32-byte key needs no stretching and keeps v1', () => {
    const hex = randomBytes(32).toString('hex');
    const sealed = secretBoxFor(hex).encrypt('x', 'aad');
    assert.match(sealed, /^v1:/);
    assert.equal(new SecretBox(Buffer.from(hex, 'hex')).decrypt(sealed, 'aad'), 'x');
  });

  it('tells sealed values from clear text', () => {
    assert.ok(SecretBox.isSealed(secretBoxFor('pass phrase').encrypt('x', 'a')));
    assert.ok(!SecretBox.isSealed('whsec_abc+/=='));
    assert.ok(!SecretBox.isSealed(''));
  });
});

async function sealsClearRows(store: Store): Promise<void> {
  const box = secretBoxFor('tenant secrets passphrase');
  const clear = `whsec_${randomBytes(24).toString('base64')}`;
  const prev = `whsec_${randomBytes(24).toString('base64')}`;
  const old = await store.createUser('old', Date.now(), prev);
  await store.rotateWebhookSecret(old.id, clear, Date.now() + 60_000); // clear current + clear previous
  const fresh = await store.createUser('new', Date.now(), '');

  assert.equal(await sealClearSecrets(store, box), 1, 'one row held clear text');
  const stored = (await store.getUser(old.id))!;
  assert.match(stored.webhookSecret, /^v2:/);
  assert.match(stored.webhookSecretPrev!, /^v2:/);
  assert.ok(
    !JSON.stringify(stored).includes(clear.slice(6)) && !JSON.stringify(stored).includes(prev.slice(6)),
  );
  const opened = (await userWithSecret(store, old.id, Date.now(), box))!;
  assert.equal(opened.webhookSecret, clear);
  assert.equal(opened.webhookSecretPrev, prev);
  assert.equal(await sealClearSecrets(store, box), 0, 'idempotent');

  // A new tenant's first secret is sealed when it is made; a rotation keeps both sealed.
  const made = (await userWithSecret(store, fresh.id, Date.now(), box))!;
  assert.match(made.webhookSecret, /^whsec_/);
  assert.match((await store.getUser(fresh.id))!.webhookSecret, /^v2:/);
  const rotated = (await rotateSecret(store, fresh.id, Date.now(), box))!;
  assert.equal(rotated.webhookSecretPrev, made.webhookSecret);
  const row = (await store.getUser(fresh.id))!;
  assert.match(row.webhookSecret, /^v2:/);
  assert.match(row.webhookSecretPrev!, /^v2:/);
}

describe('tenant callback secrets sealed at rest', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  it('SQLite: the start-up migration seals clear-text rows; new secrets are sealed', async () => {
    const fx = await openFixture();
    cleanups.push(() => fx.close());
    await sealsClearRows(fx.store);
  });

  it('PostgreSQL: the same', async () => {
    const schema = `pixgate_seal_${randomBytes(6).toString('hex')}`;
    const store = await openPostgresStore(DATABASE_URL, { schema });
    await store.migrate();
    cleanups.push(async () => {
      await store.close();
      const client = new pg.Client({ connectionString: DATABASE_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
      await client.end();
    });
    await sealsClearRows(store);
  });
});
