/**
 * /metrics over real HTTP: the exposition parses, every series is pixgate_-prefixed, and the
 * counters, histograms and cluster gauges follow real traffic through the simulator, a PixVerse
 * webhook delivery and a callback receiver. The metrics token, when set, is required.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Receiver } from '../callbacks/receiver.ts';
import { addAccount, call, createTenant, startHarness, waitFor, type Harness } from '../helpers/harness.ts';
import { parsePrometheus, type Exposition } from '../helpers/prometheus.ts';

const scrape = async (h: Harness, token: string | null = null): Promise<Exposition> => {
  const res = await fetch(
    `${h.gw.url}/metrics`,
    token ? { headers: { authorization: `Bearer ${token}` } } : {},
  );
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
};

describe('metrics', () => {
  let h: Harness;
  let hook: Receiver;
  let token: string;
  let userId: number;

  before(async () => {
    hook = await Receiver.start();
    h = await startHarness();
    ({ token, userId } = await createTenant(h, 'metrics'));
    await addAccount(h, token, 'm@example.com', 'sim-key-metrics', 2);
  });
  after(async () => {
    await h.close();
    await hook.close();
  });

  const finalOf = (id: string) =>
    waitFor(async () => {
      const res = await call(h.gw.url, 'GET', `/v2/pixverse/videos/${id}`, token);
      return res.body.video_status_final ? res.body : null;
    });

  it('parses as Prometheus text and names every series pixgate_', async () => {
    const m = await scrape(h);
    assert.ok(m.samples.length > 50);
    for (const name of m.types.keys()) assert.match(name, /^pixgate_/);
    for (const family of [
      'pixgate_jobs_finished_total',
      'pixgate_http_request_duration_seconds',
      'pixgate_cluster_account_slots_total',
      'pixgate_store_operation_duration_seconds',
    ]) {
      assert.ok(m.types.has(family.replace(/_total$/, '')) || m.types.has(family), `${family} is declared`);
    }
  });

  it('moves with traffic: jobs, upstream calls, polls, callbacks, HTTP, store and cluster gauges', async () => {
    const quick = await call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, {
      prompt: 'quick',
      replyUrl: hook.url,
      replyRef: 'm1',
    });
    assert.equal(quick.status, 200, JSON.stringify(quick.body));
    assert.equal((await finalOf(quick.body.video_id)).video_status_name, 'COMPLETED');
    await waitFor(async () => hook.received.length >= 1);
    const slow = await call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, {
      prompt: 'slow #sim:duration=60000',
    });
    assert.equal(slow.status, 200);
    await waitFor(
      async () =>
        (await call(h.gw.url, 'GET', `/v2/pixverse/videos/${slow.body.video_id}`, token)).body
          .video_status_name === 'GENERATING',
    );

    const m = await waitFor(async () => {
      const scraped = await scrape(h);
      // The callback attempt is recorded just after the receiver answers; cluster gauges are read
      // from the store at most every 5 s, so the first test's scrape may still be served.
      const delivered = scraped.sum('pixgate_callback_attempts_total', { outcome: 'delivered' }) >= 1;
      return delivered &&
        scraped.sum('pixgate_cluster_account_slots_used', { account: 'm@example.com' }) === 1
        ? scraped
        : null;
    });
    const account = { account: 'm@example.com' };
    assert.equal(m.sum('pixgate_jobs_finished_total', { ...account, type: 'video', state: 'completed' }), 1);
    assert.equal(m.sum('pixgate_jobs_started_total', { ...account, type: 'video' }), 2);
    assert.equal(m.sum('pixgate_job_run_seconds_count', { type: 'video', state: 'completed' }), 1);
    assert.ok(m.sum('pixgate_job_run_seconds_sum', { type: 'video', state: 'completed' }) > 0);
    assert.equal(m.sum('pixgate_upstream_requests_total', { operation: 'submit' }), 2);
    assert.ok(m.sum('pixgate_polls_total', { type: 'video', result: 'completed' }) >= 1);
    assert.equal(m.sum('pixgate_callback_age_seconds_count', { outcome: 'delivered' }), 1);
    assert.equal(
      m.sum('pixgate_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/v2/pixverse/videos/create',
        status_code: '200',
      }),
      2,
      'labelled by route pattern',
    );
    assert.ok(
      m.sum('pixgate_http_request_duration_seconds_count', { route: '/v2/pixverse/videos/:id' }) >= 2,
      'ids do not become labels',
    );
    assert.ok(m.sum('pixgate_store_operation_duration_seconds_count', { operation: 'reserve' }) >= 2);
    assert.ok(m.sum('pixgate_store_operation_duration_seconds_count', { operation: 'finish' }) >= 1);

    const tenant = { tenant: String(userId), account: 'm@example.com' };
    assert.equal(m.sum('pixgate_cluster_account_slots_total', tenant), 2);
    assert.equal(m.sum('pixgate_cluster_account_slots_used', tenant), 1, 'the slow job holds one slot');
    assert.equal(m.sum('pixgate_cluster_jobs', { ...tenant, state: 'running', type: 'video' }), 1);
    assert.equal(m.sum('pixgate_cluster_account_state', { ...tenant, state: 'ok' }), 1);
    assert.equal(m.sum('pixgate_cluster_store_up'), 1);
    assert.equal(
      m.sum('pixgate_instance_info', { instance_id: h.gw.scheduler.ctx.instanceId, store: 'sqlite' }),
      1,
    );

    // Per-instance counters are never cached: a refused PixVerse webhook shows at the next scrape.
    const before = m.sum('pixgate_webhooks_received_total', { outcome: 'bad_request' });
    // Signed-looking headers get it past the pre-body check; the intake then refuses the body.
    const signed = {
      'content-type': 'application/json',
      'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
      'webhook-nonce': 'n-1',
      'webhook-signature': 'v1,AAAA',
    };
    const refused = await call(
      h.gw.url,
      'POST',
      '/upstream/pixverse/webhook',
      null,
      '{"not":"a delivery"}',
      signed,
    );
    assert.equal(refused.status, 400);
    assert.equal(
      (await scrape(h)).sum('pixgate_webhooks_received_total', { outcome: 'bad_request' }),
      before + 1,
    );

    // Untracking frees the slot but is no final state: PixVerse still finishes the job.
    assert.equal(
      (await call(h.gw.url, 'DELETE', `/v2/pixverse/scheduler/${slow.body.video_id}`, token)).status,
      204,
    );
    const after = await scrape(h);
    assert.equal(after.sum('pixgate_jobs_finished_total', { ...account, state: 'cancelled' }), 0);
    assert.equal(
      after.sum('pixgate_http_request_duration_seconds_count', {
        route: '/v2/pixverse/scheduler/:id',
        status_code: '204',
      }),
      1,
    );
  });

  it('requires the metrics token when one is configured', async () => {
    const guarded = await startHarness({ config: { metricsToken: 'scrape-secret' } });
    try {
      const anonymous = await call(guarded.gw.url, 'GET', '/metrics', null);
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.body.code, 401);
      assert.equal((await call(guarded.gw.url, 'GET', '/metrics', 'not-it')).status, 401);
      const m = await scrape(guarded, 'scrape-secret');
      assert.ok(
        m.sum('pixgate_http_request_duration_seconds_count', { route: '/metrics', status_code: '401' }) >= 2,
      );
    } finally {
      await guarded.close();
    }
  });
});
