/**
 * A timeline of job states read straight from the gateway's store (SQLite file read-only, or the
 * PostgreSQL schema), sampled every two seconds with the simulator's totals and the suite's notes
 * (kills, restarts). A proof that fails on "not final in time" prints it: which state the jobs sat
 * in, whether their leases were live, how overdue their polls were, and when it started.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { TEST_DATABASE_URL } from '../../helpers/processes.ts';

/** Per state: count, leased (live lease), overdue polls (due more than 1 s ago), oldest start age. */
const STATES_SQL = (now: number) => `
  SELECT state, COUNT(*) AS n,
         SUM(CASE WHEN lease_expires_at > ${now} THEN 1 ELSE 0 END) AS leased,
         SUM(CASE WHEN state = 'running' AND next_poll_at < ${now - 1000} THEN 1 ELSE 0 END) AS overdue,
         MAX(${now} - COALESCE(started_at, ${now})) AS oldest_ms
    FROM jobs GROUP BY state ORDER BY state`;

interface StateRow {
  state: string;
  n: number;
  leased: number;
  overdue: number;
  oldest_ms: number;
}

export class Timeline {
  private readonly lines: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly t0 = Date.now();

  constructor(
    private readonly label: string,
    private readonly source: { sqlite: string } | { schema: string },
  ) {}

  start(totals: () => { created: number; completed: number; active: number }): void {
    let busy = false;
    this.timer = setInterval(() => {
      if (busy) return;
      busy = true;
      void this.sample()
        .then((rows) => {
          const t = totals();
          this.push(`sim created=${t.created} completed=${t.completed} active=${t.active} | ${rows}`);
        })
        .finally(() => (busy = false));
    }, 2000);
    this.timer.unref();
  }

  note(what: string): void {
    this.push(what);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async report(): Promise<string> {
    return [
      `timeline (${this.label}), last ${Math.min(this.lines.length, 80)} of ${this.lines.length}:`,
      ...this.lines.slice(-80),
      `now: ${await this.sample()}`,
    ].join('\n');
  }

  private push(line: string): void {
    this.lines.push(`${((Date.now() - this.t0) / 1000).toFixed(1).padStart(6)}s ${line}`);
  }

  private async sample(): Promise<string> {
    try {
      const rows = await this.read(Date.now());
      return rows
        .map(
          (r) =>
            `${r.state}=${r.n}${Number(r.leased) ? ` leased=${r.leased}` : ''}${Number(r.overdue) ? ` overdue=${r.overdue}` : ''}${r.state === 'completed' ? '' : ` oldest=${(Number(r.oldest_ms) / 1000).toFixed(1)}s`}`,
        )
        .join(' ');
    } catch (err) {
      return `(store not readable: ${(err as Error).message})`;
    }
  }

  private async read(now: number): Promise<StateRow[]> {
    if ('sqlite' in this.source) {
      const db = new Database(this.source.sqlite, { readonly: true, fileMustExist: true });
      try {
        return db.prepare(STATES_SQL(now)).all() as StateRow[];
      } finally {
        db.close();
      }
    }
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    try {
      await client.query(`SET search_path TO ${pg.escapeIdentifier(this.source.schema)}`);
      return (await client.query<StateRow>(STATES_SQL(now))).rows;
    } finally {
      await client.end();
    }
  }
}
