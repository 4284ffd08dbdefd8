/** The `pixgate` client commands as child processes against a real gateway and simulator: submit, available, jobs, watch. */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { addAccount, call, createTenant, startHarness, type Harness } from '../helpers/harness.ts';
import { runCli } from './run.ts';

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** An image effect template (template_type 2) in the simulator's catalogue. */
const IMAGE_TEMPLATE = '302325299692635';
const idFrom = (stderr: string) => /submitted (\S+)/.exec(stderr)?.[1];

describe('pixgate CLI against a running gateway', () => {
  let h: Harness;
  let token: string;
  let env: Record<string, string>;
  let dir: string;

  before(async () => {
    h = await startHarness();
    ({ token } = await createTenant(h, 'cli'));
    await addAccount(h, token, 'one@example.com', 'sim-key-cli-one', 2);
    await addAccount(h, token, 'two@example.com', 'sim-key-cli-two', 3);
    env = { PIXGATE_URL: h.gw.url, PIXGATE_TOKEN: token };
    dir = mkdtempSync(join(tmpdir(), 'pixgate-cli-'));
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('submit video --wait prints the final result URL on stdout and exits 0', async () => {
    const res = await runCli(
      ['submit', 'video', '--prompt', 'a lighthouse in a storm', '--wait', '--interval', '100ms'],
      env,
    );
    assert.equal(res.code, 0, res.stderr);
    const id = idFrom(res.stderr);
    assert.ok(id, res.stderr);
    const job = await call(h.gw.url, 'GET', `/v2/pixverse/videos/${encodeURIComponent(id)}`, token);
    assert.equal(job.body.state, 'completed');
    assert.equal(res.stdout, `${job.body.url}\n`, 'stdout is exactly the URL the gateway reports');
    assert.match(res.stderr, /completed/, 'progress reaches the final state');
  });

  it('submit without --wait prints the job id; --json prints it as JSON', async () => {
    const plain = await runCli(['submit', 'video', '--prompt', 'plain'], env);
    assert.equal(plain.code, 0, plain.stderr);
    const id = plain.stdout.trim();
    assert.equal(
      (await call(h.gw.url, 'GET', `/v2/pixverse/videos/${encodeURIComponent(id)}`, token)).status,
      200,
    );
    const file = join(dir, 'cat.png');
    writeFileSync(file, Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(64, 3)]));
    const json = await runCli(
      ['submit', 'image', '--template', IMAGE_TEMPLATE, '--first-frame', file, '--json'],
      { ...env, PIXGATE_URL: `${h.gw.url}/` },
    );
    assert.equal(json.code, 0, json.stderr);
    assert.match(JSON.parse(json.stdout).id, /-image:/);
    // PixVerse's Platform API has no text-to-image: an image needs a template and a frame.
    const bare = await runCli(['submit', 'image', '--template', IMAGE_TEMPLATE, '--prompt', 'a cat'], env);
    assert.equal(bare.code, 1);
    assert.match(bare.stderr, /--first-frame/);
  });

  it('submit image --template --first-frame uploads the file and the job runs on the account holding it', async () => {
    const file = join(dir, 'frame.png');
    writeFileSync(file, Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(64, 7)]));
    const res = await runCli(
      [
        'submit',
        'image',
        '--template',
        IMAGE_TEMPLATE,
        '--first-frame',
        file,
        '--email',
        'two@example.com',
        '--wait',
        '--json',
        '--interval',
        '100ms',
      ],
      env,
    );
    assert.equal(res.code, 0, res.stderr);
    const doc = JSON.parse(res.stdout);
    assert.equal(doc.state, 'completed');
    assert.equal(doc.email, 'two@example.com');
    assert.match(doc.image_url, /^https?:\/\//);
    const unknown = await runCli(
      ['submit', 'video', '--prompt', 'x', '--first-frame', join(dir, 'frame.bmp')],
      env,
    );
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /--first-frame must be/);
  });

  it('a job that fails exits 4 with the reason; a job that is moderated too', async () => {
    const failed = await runCli(
      ['submit', 'video', '--prompt', 'boom #sim:fail', '--wait', '--interval', '100ms'],
      env,
    );
    assert.equal(failed.code, 4, failed.stderr);
    assert.match(failed.stderr, /ended failed/);
    assert.equal(failed.stdout, '');
    const rejected = await runCli(['submit', 'video', '--prompt', 'nope #sim:reject-moderation'], env);
    assert.equal(rejected.code, 4, rejected.stderr);
    assert.match(rejected.stderr, /HTTP 422/);
  });

  it('--download saves the result into the directory', async () => {
    const target = join(dir, 'downloads');
    const res = await runCli(
      ['submit', 'video', '--prompt', 'to disk', '--download', target, '--interval', '100ms'],
      env,
    );
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /saved /);
    const files = readdirSync(target);
    assert.equal(files.length, 1, files.join(', '));
    // The simulator serves a real MP4: its first box is 'ftyp'.
    assert.equal(readFileSync(join(target, files[0]!)).subarray(4, 8).toString('latin1'), 'ftyp');
  });

  it('available --json parses and shows a running job on its account; the table shows it too', async () => {
    const stuck = await call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, {
      prompt: 'hold #sim:stuck',
      email: 'one@example.com',
    });
    assert.equal(stuck.status, 200);
    try {
      const res = await runCli(['available', '--json'], env);
      assert.equal(res.code, 0, res.stderr);
      const view = JSON.parse(res.stdout);
      const byEmail = Object.fromEntries(view.available.map((row: { email: string }) => [row.email, row]));
      assert.deepEqual(Object.keys(byEmail).sort(), ['one@example.com', 'two@example.com']);
      assert.equal(byEmail['one@example.com'].executing, 1);
      assert.equal(byEmail['one@example.com'].available, 1);
      assert.equal(byEmail['two@example.com'].available, 3);
      assert.ok(view.executing.some((job: { id: string }) => job.id === stuck.body.video_id));

      const [table, list, show] = await Promise.all([
        runCli(['available'], env),
        runCli(['jobs', 'list', '--json'], env),
        runCli(['jobs', 'show', stuck.body.video_id, '--json'], env),
      ]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /one@example\.com\s+\[#+\.+\] 1\/2\s+1\s+ok/);
      assert.match(table.stdout, /4 of 5 slots free · 1 running · 0 queued/);
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(
        JSON.parse(list.stdout).map((job: { id: string }) => job.id),
        [stuck.body.video_id],
      );
      assert.equal(JSON.parse(show.stdout).state, 'running');
    } finally {
      await call(
        h.gw.url,
        'DELETE',
        `/v2/pixverse/scheduler/${encodeURIComponent(stuck.body.video_id)}`,
        token,
      );
    }
  });

  it('jobs cancel frees the slot (the job is untracked, still readable); cancelling again exits 3 (not found)', async () => {
    const stuck = await call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, {
      prompt: 'hold #sim:stuck',
    });
    const id: string = stuck.body.video_id;
    const executing = async () =>
      (await call(h.gw.url, 'GET', '/v2/pixverse/scheduler/available', token)).body.executing.map(
        (job: { id: string }) => job.id,
      );
    assert.ok((await executing()).includes(id));
    const cancel = await runCli(['jobs', 'cancel', id], env);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.equal(cancel.stdout, `released ${id}\n`);
    assert.equal((await executing()).includes(id), false, 'the slot is free at once');
    const [again, show] = await Promise.all([
      runCli(['jobs', 'cancel', id], env),
      runCli(['jobs', 'show', id], env),
    ]);
    assert.equal(again.code, 3, again.stderr);
    assert.equal(show.code, 0, show.stderr);
    // PixVerse has no cancel: the generation goes on and stays readable.
    assert.match(show.stdout, /^state:\s+running/m);
  });

  it('a wrong token exits 2 with the gateway’s message; no token or a bad option exits 1; an unreachable gateway exits 6', async () => {
    const port = await closedPort();
    const [wrong, none, down, badId, badInterval] = await Promise.all([
      runCli(['available', '--token', 'user:1-not-a-real-token'], env),
      runCli(['jobs', 'list'], { PIXGATE_URL: h.gw.url }),
      runCli(['available'], { ...env, PIXGATE_URL: `http://127.0.0.1:${port}` }),
      runCli(['jobs', 'show', 'not-an-id'], env),
      runCli(['watch', '--interval', 'soon'], env),
    ]);
    assert.equal(badInterval.code, 1);
    assert.match(badInterval.stderr, /--interval must be a duration/);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /^pixgate: Unauthorized \(HTTP 401\)$/m);
    assert.equal(wrong.stdout, '');
    assert.equal(none.code, 1);
    assert.match(none.stderr, /a token is needed/);
    assert.equal(down.code, 6);
    assert.match(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    assert.equal(badId.code, 1);
    assert.match(badId.stderr, /is not a job id/);
  });

  it('a busy gateway (429) exits 5', async () => {
    const holds = [];
    for (let i = 0; i < 5; i++)
      holds.push(
        await call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, { prompt: `hold ${i} #sim:stuck` }),
      );
    try {
      assert.ok(holds.every((res) => res.status === 200));
      const res = await runCli(['submit', 'video', '--prompt', 'one too many'], env);
      assert.equal(res.code, 5, res.stderr);
      assert.match(res.stderr, /busy .*\(HTTP 429\)/);
    } finally {
      for (const res of holds)
        await call(
          h.gw.url,
          'DELETE',
          `/v2/pixverse/scheduler/${encodeURIComponent(res.body.video_id)}`,
          token,
        );
    }
  });

  it('watch --json prints one parseable snapshot per refresh; piped, plain blocks', async () => {
    const [json, plain] = await Promise.all([
      runCli(['watch', '--json', '--count', '2', '--interval', '100ms'], env),
      runCli(['watch', '--count', '1'], env),
    ]);
    assert.equal(json.code, 0, json.stderr);
    const lines = json.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.equal(lines.length, 2);
    for (const snapshot of lines)
      assert.deepEqual(snapshot.available.map((row: { email: string }) => row.email).sort(), [
        'one@example.com',
        'two@example.com',
      ]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /^pixgate watch · /);
    assert.match(plain.stdout, /two@example\.com\s+\[\.+\] 0\/3/);
  });
});
