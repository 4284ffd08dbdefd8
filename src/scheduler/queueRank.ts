/**
 * Order of queued jobs within one priority of one token: least laxity first.
 *
 * Give every job the same target turnaround T from when it was queued. To meet it, a job must start
 * by queuedAt + T − expected run time — its latest start. Serving the smallest latest start first
 * (T cancels out, so the rank is queuedAt − expected) means that among jobs queued at about the same
 * time the longer ones start first. That is what shortens a batch: a long job started last is what
 * makes the tail (first-in-first-out over the provider's run times is 1.1–1.25× the ideal makespan, and
 * longest-expected-first about 1.05×). It cannot starve anyone: a job is overtaken only by jobs
 * queued less than the difference of the two expected run times after it (at most a few minutes).
 */
export function queueRank(queuedAt: number, expectedMs: number): number {
  return Math.round(queuedAt - Math.max(0, expectedMs));
}
