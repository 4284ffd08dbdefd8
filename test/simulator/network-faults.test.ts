/**
 * Faults a real network or PixVerse produces on a create: the connection reset after the job was
 * created (#sim:reset), the answer's JSON cut short (#sim:malformed), and a spurious 500044
 * although the key has room (#sim:busy).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { createVideo, sim, stats, textVideo } from './helpers.ts';

function rawCreate(url: string, body: unknown, trace: string): Promise<Response> {
  return fetch(`${url}/openapi/v2/video/text/generate`, {
    method: 'POST',
    headers: { 'API-KEY': 'key-a', 'Ai-trace-id': trace, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

test('#sim:reset: the job is created, the connection reset; a trace-id replay returns the job', async (t) => {
  const s = await sim(t, { durationMs: { min: 200, max: 200 } });
  const trace = randomUUID();
  await assert.rejects(rawCreate(s.url, textVideo({ prompt: 'cut #sim:reset' }), trace), /fetch failed/);
  assert.equal((await stats(s)).keys['key-a'].created, 1);
  const replay = await createVideo(s, { prompt: 'cut #sim:reset' }, { trace });
  assert.equal(replay.code, 0, replay.text);
  assert.equal((await stats(s)).keys['key-a'].created, 1, 'not created twice');
});

test('#sim:malformed: the job is created, the answer is cut-off JSON; a replay answers in full', async (t) => {
  const s = await sim(t, { durationMs: { min: 200, max: 200 } });
  const trace = randomUUID();
  const res = await rawCreate(s.url, textVideo({ prompt: 'half #sim:malformed' }), trace);
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.throws(() => JSON.parse(text));
  const replay = await createVideo(s, { prompt: 'half #sim:malformed' }, { trace });
  assert.equal(replay.code, 0, replay.text);
  assert.ok(replay.resp.video_id);
  assert.equal((await stats(s)).keys['key-a'].created, 1);
});

test('#sim:busy: 500044 with the key idle, nothing created; the retry of that trace id goes through', async (t) => {
  const s = await sim(t);
  const trace = randomUUID();
  const answer = await createVideo(s, { prompt: 'phantom #sim:busy' }, { trace });
  assert.equal(answer.code, 500044, answer.text);
  const st = await stats(s);
  assert.equal(st.keys['key-a']?.created ?? 0, 0);
  const retry = await createVideo(s, { prompt: 'phantom #sim:busy' }, { trace });
  assert.equal(retry.code, 0, retry.text);
  assert.equal((await stats(s)).keys['key-a'].created, 1);
});
