/** What the CLI draws: the progress line of a waited-for job and the watch screen. */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import type { JobStatus } from '../../src/client/jobStatus.ts';
import type { Available } from '../../src/client/types.ts';
import { Progress } from '../../src/cli/commands/progress.ts';
import { screen } from '../../src/cli/commands/watch.ts';

function capture() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

const status = (state: string, queuePosition: number | null = null): JobStatus => ({
  id: 'user:1-pixverse:queue-video:q1',
  type: 'video',
  state,
  statusName: state.toUpperCase(),
  final: state === 'completed' || state === 'failed',
  email: state === 'queued' ? null : 'a@example.com',
  url: null,
  error: state === 'failed' ? 'PixVerse reported the generation failed' : null,
  createdAt: null,
  startedAt: null,
  queuePosition,
  queueEta: null,
});

describe('progress', () => {
  it('piped: one line per change of state or queue position, none for repeats', () => {
    const out = capture();
    const progress = new Progress(out.stream, false);
    for (const s of [
      status('queued', 3),
      status('queued', 3),
      status('queued', 1),
      status('running'),
      status('running'),
      status('failed'),
    ])
      progress.update(s);
    progress.stop();
    const lines = out
      .text()
      .trim()
      .split('\n')
      .map((line) => line.replace(/^\[\d\d:\d\d\] /, ''));
    assert.deepEqual(lines, [
      'queued position 3',
      'queued position 1',
      'running on a@example.com',
      'failed on a@example.com - PixVerse reported the generation failed',
    ]);
  });

  it('on a terminal: one line redrawn in place, cleared at the end', () => {
    const out = capture();
    const progress = new Progress(out.stream, true);
    progress.update(status('queued', 2));
    progress.update(status('running'));
    progress.stop();
    const text = out.text();
    assert.ok(!text.includes('\n'), 'never scrolls');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the test reads the terminal's escape sequence
    assert.match(text, /\r\x1b\[2K\S \d\d:\d\d {2}queued position 2/);
    assert.match(text, /running on a@example\.com/);
    assert.ok(text.endsWith('\r\x1b[2K'));
  });
});

describe('watch screen', () => {
  const view: Available = {
    executing: [
      {
        id: 'user:1-pixverse:a@example.com-video:7',
        type: 'video',
        started: new Date(Date.now() - 65_000).toISOString(),
        elapsed: '01:05',
      },
    ],
    available: [
      { email: 'a@example.com', maxJobs: 2, executing: 1, available: 1, state: 'ok' },
      {
        email: 'b@example.com',
        maxJobs: 4,
        executing: 0,
        available: 0,
        state: 'cooldown',
        reason: 'rate limited',
        cooldownUntil: '2026-01-01T00:00:00.000Z',
      },
    ],
    queuedCount: 30,
    queued: Array.from({ length: 30 }, (_, i) => ({
      id: `user:1-pixverse:queue-video:q${i + 10}`,
      type: 'video' as const,
      position: i + 1,
      estimatedStart: null,
      queued: new Date().toISOString(),
      priority: 0,
    })),
  };

  it('shows capacity bars, running jobs with elapsed time, and as much of the queue as fits', () => {
    const text = screen('http://gw', view, 30);
    assert.match(text, /a@example\.com\s+\[#####\.{5}\] 1\/2\s+1\s+ok/);
    assert.match(
      text,
      /b@example\.com\s+\[\.{10}\] 0\/4\s+0\s+cooldown\s+rate limited until 2026-01-01T00:00:00\.000Z/,
    );
    assert.match(text, /1 of 6 slots free · 1 running · 30 queued/);
    assert.match(text, /video:7\s+video\s+01:0[56]/);
    assert.ok(text.split('\n').length <= 30, 'fits the terminal');
    const more = /… (\d+) more/.exec(text);
    assert.ok(more, 'says how many are not shown');
    const shown = (text.match(/queue-video:q\d+/g) ?? []).length;
    assert.equal(shown + Number(more[1]), 30);
    assert.doesNotMatch(screen('http://gw', view, 200), /more/, 'a tall terminal shows the whole queue');
  });
});
