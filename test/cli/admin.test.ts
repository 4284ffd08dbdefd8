/** The `pixgate` admin and account commands as child processes against a real gateway. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, startHarness, type Harness } from '../helpers/harness.ts';
import { runCli } from './run.ts';

describe('pixgate admin and account commands', () => {
  let h: Harness;
  let admin: Record<string, string>;

  before(async () => {
    h = await startHarness();
    admin = { PIXGATE_URL: h.gw.url, PIXGATE_ADMIN_TOKEN: h.gw.adminToken };
  });
  after(() => h.close());

  it('tenants create prints a working token; tenants list shows every tenant', async () => {
    const created = await runCli(['tenants', 'create', 'studio', '--json'], admin);
    assert.equal(created.code, 0, created.stderr);
    const tenant = JSON.parse(created.stdout);
    assert.equal(tenant.name, 'studio');
    const other = await runCli(['tenants', 'create'], admin);
    assert.equal(other.code, 0, other.stderr);
    assert.match(other.stdout, /^tenant \d+\ntoken \(shown once\): user:\d+-\S+\n$/);

    const [list, table, asTenant] = await Promise.all([
      runCli(['tenants', 'list', '--json'], admin),
      runCli(['tenants', 'list'], admin),
      runCli(['available'], { PIXGATE_URL: h.gw.url, PIXGATE_TOKEN: tenant.token }),
    ]);
    const tenants = JSON.parse(list.stdout);
    assert.deepEqual(
      tenants.map((t: { name: string | null }) => t.name),
      ['studio', null],
    );
    assert.equal(tenants[0].userId, tenant.userId);
    assert.match(table.stdout, new RegExp(`^${tenant.userId}\\s+studio\\s+no\\s+100000\\s+3600s$`, 'm'));
    assert.equal(asTenant.code, 0, asTenant.stderr);
    assert.match(asTenant.stdout, /^no accounts configured/);

    // A tenant token is not an admin token, and the --token flag wins over the environment.
    const denied = await runCli(['tenants', 'list', '--token', tenant.token], admin);
    assert.equal(denied.code, 2);
    assert.match(denied.stderr, /Unauthorized/);
  });

  it('tokens create, list and revoke; a revoked token is refused', async () => {
    const tenant = JSON.parse((await runCli(['tenants', 'create', 'tok', '--json'], admin)).stdout);
    const created = await runCli(
      ['tokens', 'create', String(tenant.userId), '--label', 'ci', '--json'],
      admin,
    );
    assert.equal(created.code, 0, created.stderr);
    const token = JSON.parse(created.stdout);
    const user = { PIXGATE_URL: h.gw.url, PIXGATE_TOKEN: token.token };
    assert.equal((await runCli(['jobs', 'list', '--json'], user)).code, 0);

    const list = JSON.parse(
      (await runCli(['tokens', 'list', String(tenant.userId), '--json'], admin)).stdout,
    );
    assert.deepEqual(
      list.map((t: { label: string; revokedAt: string | null }) => [t.label, t.revokedAt]),
      [
        ['initial', null],
        ['ci', null],
      ],
    );

    const revoked = await runCli(['tokens', 'revoke', String(tenant.userId), String(token.id)], admin);
    assert.equal(revoked.code, 0, revoked.stderr);
    const [after, table, again, unknown, badId] = await Promise.all([
      runCli(['jobs', 'list'], user),
      runCli(['tokens', 'list', String(tenant.userId)], admin),
      runCli(['tokens', 'revoke', String(tenant.userId), String(token.id)], admin),
      runCli(['tokens', 'list', '999999'], admin),
      runCli(['tokens', 'list', 'abc'], admin),
    ]);
    assert.equal(after.code, 2);
    assert.match(after.stderr, /Unauthorized/);
    assert.match(table.stdout, new RegExp(`^${token.id}\\s+ci\\s+1\\s+\\S+\\s+revoked `, 'm'));
    assert.equal(again.code, 3);
    assert.equal(unknown.code, 3);
    assert.match(unknown.stderr, /User 999999 not found/);
    assert.equal(badId.code, 1);
    assert.match(badId.stderr, /<tenant> must be an integer/);
  });

  it('accounts add, list and rm', async () => {
    const tenant = JSON.parse((await runCli(['tenants', 'create', 'acc', '--json'], admin)).stdout);
    const user = { PIXGATE_URL: h.gw.url, PIXGATE_TOKEN: tenant.token };
    const empty = await runCli(['accounts', 'list', '--json'], user);
    assert.equal(empty.code, 0, empty.stderr);
    assert.deepEqual(JSON.parse(empty.stdout), []);

    const [added, addedFromEnv, noKey] = await Promise.all([
      runCli(
        ['accounts', 'add', 'First@Example.com', '--api-key', 'sim-key-acc-first', '--max-jobs', '2'],
        user,
      ),
      runCli(['accounts', 'add', 'second@example.com', '--max-jobs', '4', '--json'], {
        ...user,
        PIXVERSE_API_KEY: 'sim-key-acc-second',
      }),
      runCli(['accounts', 'add', 'third@example.com', '--max-jobs', '1'], user),
    ]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /^first@example\.com: maxJobs 2, key \S+, ok$/m);
    assert.doesNotMatch(added.stdout, /sim-key-acc-first/, 'the key is shown masked');
    assert.equal(addedFromEnv.code, 0, addedFromEnv.stderr);
    assert.equal(JSON.parse(addedFromEnv.stdout).maxJobs, 4);
    assert.equal(noKey.code, 1);
    assert.match(noKey.stderr, /an API key is needed/);

    const invalid = await runCli(
      ['accounts', 'add', 'bad@example.com', '--api-key', 'short', '--max-jobs', '2'],
      user,
    );
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /apiKey/, 'the gateway’s 400 names the field');

    const list = JSON.parse((await runCli(['accounts', 'list', '--json'], user)).stdout);
    assert.deepEqual(list.map((a: { email: string; maxJobs: number }) => [a.email, a.maxJobs]).sort(), [
      ['first@example.com', 2],
      ['second@example.com', 4],
    ]);

    const removed = await runCli(['accounts', 'rm', 'first@example.com'], user);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /deleted first@example\.com \(0 running jobs cancelled, 1 account left\)/);
    const gone = await call(h.gw.url, 'GET', '/v2/pixverse/accounts/first@example.com', tenant.token);
    assert.equal(gone.status, 404);
    const again = await runCli(['accounts', 'rm', 'first@example.com'], user);
    assert.equal(again.code, 3);
  });
});
