/**
 * Status polls per completed job: Pixgate's adaptive poll schedule (optimal look times for the learned
 * run-time distribution, src/domain/policy/pollSchedule.ts) against a fixed 5-second poll, on the same workload in the same
 * run, both time-scaled by the same factor. Polls are counted where they land — at the simulator
 * (servers/simulator.ts --trace records every GET …/result/{id} per key) — so nothing the gateway
 * reports about itself is trusted.
 *
 * Both sides are the same gateway build with one difference, its poll policy:
 *   adaptive  the default policy, min/max interval × the time scale (--time-scale)
 *   fixed     every poll 5 s × the time scale after the previous one (--poll-fixed), the way a
 *             client polling useapi every 5 s would load PixVerse
 * Each gateway's estimator is primed by the same warm-up batch (lib/jobrun.ts). Both run at the
 * same time on separate keys of one simulator, so machine noise hits both alike.
 * Targets: ≤ 2.5 polls per job on average, and ≥ 3× fewer than the fixed poll.
 *
 *   node --import tsx bench/polls.ts [--short] [--time-scale 0.02] [--jobs N] [--accounts N]
 */
import { pathToFileURL } from 'node:url';
import { startServer, stopAll, type ServerChild } from './lib/children.ts';
import { runWorkload, type RunResult, type SimInfo } from './lib/jobrun.ts';
import { parseBenchArgs, withDeadline, type BenchOptions } from './lib/options.ts';
import { describeLoopDelay } from './lib/gatewayStats.ts';
import { log, type SummaryRow } from './lib/report.ts';
import { describeGaps, mean } from './lib/trace.ts';
import {
  describeWorkload,
  greedyMakespanMs,
  idealMakespanMs,
  makeWorkload,
  pollModel,
  scaledPollPolicy,
  type Workload,
} from './lib/workload.ts';
import { warmupWorkload } from './queue.ts';

export const POLLS_PER_JOB_TARGET = 2.5;
export const POLL_REDUCTION_TARGET = 3;
const FIXED_REAL_MS = 5_000;

export function pollsSettings(options: BenchOptions) {
  return {
    // Slower than the queue bench: the fixed baseline polls every slot every 5 s × scale, and at
    // 0.01 that is ~800 polls/s for 39 slots — more than the gateway's tracker can keep up with on a
    // busy 2-core machine, which would flatter the adaptive side.
    timeScale: options.timeScale ?? 0.05,
    jobs: options.jobs ?? (options.short ? 100 : 400),
    accounts: options.accounts ?? 10,
  };
}

interface PollFigures {
  name: string;
  pollsPerJob: number;
  discovery: number[];
  makespanMs: number;
  run: RunResult;
}

function figures(run: RunResult): PollFigures {
  const jobs = run.summary.jobs;
  return {
    name: run.name,
    pollsPerJob: run.summary.polls / run.summary.creates,
    discovery: jobs.filter((j) => j.finalAt !== null).map((j) => j.finalAt! - j.end),
    makespanMs: Math.max(...jobs.map((j) => j.end)) - run.t0,
    run,
  };
}

export interface PollsResult {
  workload: Workload;
  adaptive: PollFigures;
  fixed: PollFigures;
  rows: SummaryRow[];
}

export async function benchPolls(options: BenchOptions): Promise<PollsResult> {
  const set = pollsSettings(options);
  const w = makeWorkload({
    jobs: set.jobs,
    accounts: set.accounts,
    timeScale: set.timeScale,
    seed: options.seed + 101,
  });
  const warm = warmupWorkload(w);
  const fixedMs = Math.max(1, Math.round(FIXED_REAL_MS * set.timeScale));
  const adaptivePolicy = scaledPollPolicy(set.timeScale);
  const fixedPolicy = {
    ...adaptivePolicy,
    minIntervalMs: fixedMs,
    maxIntervalMs: fixedMs,
    maxFirstPollMs: fixedMs,
  };
  log(`\n== polls: ${describeWorkload(w)}`);
  log(
    `  adaptive: default poll policy × ${set.timeScale}; fixed: every ${fixedMs} ms (5 s × ${set.timeScale}); both gateways at once, all jobs queued at once; polls counted at the simulator`,
  );
  const children: ServerChild<unknown>[] = [];
  try {
    const sim = await startServer<SimInfo>('simulator', [
      '--trace',
      '--max-concurrent',
      '1',
      '--time-scale',
      String(set.timeScale),
      '--seed',
      String(options.seed),
    ]);
    children.push(sim);
    const deadlineMs = 4 * greedyMakespanMs(w) + 60_000;
    // Both at once, on separate keys of one simulator: same machine noise for both, half the wall time.
    const runOne = (which: 'adaptive' | 'fixed') =>
      runWorkload({
        name: `polls-${which}`,
        sim,
        workload: w,
        warmup: warm,
        keyPrefix: which === 'adaptive' ? 'bench-pa-key-' : 'bench-pf-key-',
        gatewayArgs:
          which === 'adaptive'
            ? ['--time-scale', String(set.timeScale)]
            : ['--time-scale', String(set.timeScale), '--poll-fixed', `${fixedMs}ms`],
        client: 'queue',
        // This bench measures the poll policy itself; with webhooks a job's end is reported instead.
        webhooks: false,
        options,
        deadlineMs,
        sharedTrace: true,
      });
    const [adaptiveRun, fixedRun] = await Promise.all([runOne('adaptive'), runOne('fixed')]);
    const runs = { adaptive: figures(adaptiveRun), fixed: figures(fixedRun) };
    for (const which of ['adaptive', 'fixed'] as const) {
      const f = runs[which];
      const run = f.run;
      const model = pollModel(w, which === 'adaptive' ? adaptivePolicy : fixedPolicy);
      log(
        `  ${which.padEnd(8)} ${f.pollsPerJob.toFixed(2)} polls/job (${run.summary.polls.toLocaleString('en-US')} polls, ${run.summary.creates.toLocaleString('en-US')} jobs; model ${model.pollsPerJob.toFixed(2)})` +
          `  makespan ${(f.makespanMs / 1000).toFixed(2)} s (×${(f.makespanMs / idealMakespanMs(w)).toFixed(3)} ideal)`,
      );
      log(
        `           job end → gateway sees it final: mean ${mean(f.discovery).toFixed(0)} ms (model ${model.meanDiscoveryMs.toFixed(0)} ms), ${describeGaps(f.discovery)}`,
      );
      log(
        `           ${describeLoopDelay(run.loopDelay)} (bench process: p99 ${run.benchLoopDelay.p99.toFixed(1)} ms); machine load ${run.load[0].toFixed(1)} → ${run.load[1].toFixed(1)}${run.cpuPressure === null ? '' : `, CPU pressure ${run.cpuPressure.toFixed(0)}%`}; stray polls ${run.summary.strayPolls}`,
      );
    }
    const a = runs.adaptive;
    const b = runs.fixed;
    const reduction = b.pollsPerJob / a.pollsPerJob;
    const modelA = pollModel(w, adaptivePolicy).pollsPerJob;
    const modelB = pollModel(w, fixedPolicy).pollsPerJob;
    // A tracker that cannot keep up (busy machine) polls later, hence less often than its schedule.
    const behind = b.pollsPerJob < 0.85 * modelB;
    log(
      `  polls/job adaptive ${a.pollsPerJob.toFixed(2)} (target ≤ ${POLLS_PER_JOB_TARGET}), fixed ${b.pollsPerJob.toFixed(2)}: ${reduction.toFixed(1)}× fewer (target ≥ ${POLL_REDUCTION_TARGET}×); ` +
        `by the model ${modelA.toFixed(2)} vs ${modelB.toFixed(2)}: ${(modelB / modelA).toFixed(1)}×`,
    );
    if (behind) {
      log(
        `  NOTE: the fixed-poll gateway made only ${((100 * b.pollsPerJob) / modelB).toFixed(0)}% of its scheduled polls (machine too busy: see CPU pressure); the measured ratio understates the reduction`,
      );
    }
    return {
      workload: w,
      adaptive: a,
      fixed: b,
      rows: [
        {
          bench: `polls (${w.jobs.length.toLocaleString('en-US')} jobs, ×${set.timeScale})`,
          metric: 'polls/job (fixed÷adaptive)',
          gateway: a.pollsPerJob,
          baseline: b.pollsPerJob,
          baselineName: `fixed ${fixedMs} ms`,
          ratio: reduction,
          target: `≤ ${POLLS_PER_JOB_TARGET}, ≥ ${POLL_REDUCTION_TARGET}× fewer${behind ? ' (baseline behind)' : ''}`,
          met: a.pollsPerJob <= POLLS_PER_JOB_TARGET && reduction >= POLL_REDUCTION_TARGET,
          gatewayCpuUs: null,
          baselineCpuUs: null,
          digits: 2,
        },
        {
          bench: '  … job end → seen final',
          metric: 'mean ms',
          gateway: mean(a.discovery),
          baseline: mean(b.discovery),
          baselineName: `fixed ${fixedMs} ms`,
          ratio: mean(a.discovery) / mean(b.discovery),
          target: 'info',
          met: true,
          gatewayCpuUs: null,
          baselineCpuUs: null,
          digits: 0,
        },
      ],
    };
  } finally {
    await stopAll(children);
  }
}

export function pollsDeadlineMs(options: BenchOptions): number {
  const set = pollsSettings(options);
  const w = makeWorkload({
    jobs: set.jobs,
    accounts: set.accounts,
    timeScale: set.timeScale,
    seed: options.seed + 101,
  });
  return 4 * greedyMakespanMs(w) + 180_000;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const options = parseBenchArgs();
  withDeadline('polls bench', pollsDeadlineMs(options), benchPolls(options)).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(
        `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
