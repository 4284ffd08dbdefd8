/**
 * The dependency rules (.dependency-cruiser.mjs) against a small tree laid out like src/: every allowed
 * direction passes, and every rule catches the one import planted to break it. Without this a rule
 * whose path pattern matched nothing would pass forever.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CONFIG = join(ROOT, '.dependency-cruiser.mjs');
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

/** Imports that follow the layers: none of them may be reported. */
const ALLOWED: Record<string, string> = {
  'src/domain/job.ts':
    "import { randomUUID } from 'node:crypto';\nimport { Type } from '@sinclair/typebox';\n" +
    'export const JobSchema = Type.Object({ id: Type.String() });\n' +
    'export const newId = (): string => randomUUID();\n',
  'src/store/store.ts':
    "import Database from 'better-sqlite3';\nimport pg from 'pg';\nimport { newId } from '../domain/job.ts';\n" +
    'export const open = () => [Database, pg, newId];\n',
  'src/scheduler/scheduler.ts':
    "import { open } from '../store/store.ts';\nexport const schedule = () => open();\n",
  'src/workers/loop.ts': "import { newId } from '../domain/job.ts';\nexport const loop = () => newId();\n",
  'src/callbacks/outbox.ts':
    "import { open } from '../store/store.ts';\nimport { loop } from '../workers/loop.ts';\n" +
    'export const deliver = () => [open, loop];\n',
  'src/app/accounts.ts':
    "import { open } from '../store/store.ts';\nimport { schedule } from '../scheduler/scheduler.ts';\n" +
    'export const upsert = () => [open, schedule];\n',
  'src/http/routes.ts':
    "import fastify from 'fastify';\nimport { upsert } from '../app/accounts.ts';\nexport const app = () => [fastify, upsert];\n",
  'src/providers/pixverse/client.ts':
    "import { newId } from '../../domain/job.ts';\nexport const submit = () => newId();\n",
  'src/providers/pixverse/compat/create.ts':
    "import { upsert } from '../../../app/accounts.ts';\nimport { app } from '../../../http/routes.ts';\n" +
    'export const route = () => [upsert, app];\n',
  'src/upstream/pixverse/client.ts': 'export const legacySubmit = () => 1;\n',
  'src/client/client.ts':
    "import { newId } from '../domain/job.ts';\nimport type { app } from '../http/routes.ts';\n" +
    'export type App = typeof app;\nexport const id = () => newId();\n',
  'src/cli/main.ts':
    "import { app } from '../http/routes.ts';\nimport { open } from '../store/store.ts';\nexport const main = () => [app, open];\n",
};

/** One planted violation per case: the file, its source, and what the check must say about it. */
const VIOLATIONS: Array<{ file: string; source: string; expect: string[] }> = [
  {
    file: 'src/domain/usesStore.ts',
    source: "import { open } from '../store/store.ts';\nexport const x = open;\n",
    expect: ['domain-is-pure src/domain/usesStore.ts -> src/store/store.ts'],
  },
  {
    file: 'src/domain/readsFiles.ts',
    source: "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n",
    expect: ['domain-no-io src/domain/readsFiles.ts -> fs'],
  },
  {
    file: 'src/domain/logs.ts',
    source: "import pino from 'pino';\nexport const x = pino;\n",
    expect: ['domain-no-io src/domain/logs.ts -> pino'],
  },
  {
    file: 'src/scheduler/usesProvider.ts',
    source: "import { submit } from '../providers/pixverse/client.ts';\nexport const x = submit;\n",
    expect: ['engine-not-to-provider src/scheduler/usesProvider.ts -> src/providers/pixverse/client.ts'],
  },
  {
    file: 'src/store/usesLegacyProvider.ts',
    source:
      "import { legacySubmit } from '../upstream/pixverse/client.ts';\nexport const x = legacySubmit;\n",
    expect: ['engine-not-to-provider src/store/usesLegacyProvider.ts -> src/upstream/pixverse/client.ts'],
  },
  {
    file: 'src/callbacks/usesHttp.ts',
    source: "import { app } from '../http/routes.ts';\nexport const x = app;\n",
    expect: ['engine-not-to-outer-layers src/callbacks/usesHttp.ts -> src/http/routes.ts'],
  },
  {
    file: 'src/scheduler/usesFastify.ts',
    source: "import fastify from 'fastify';\nexport const x = fastify;\n",
    expect: ['engine-not-to-fastify src/scheduler/usesFastify.ts -> fastify'],
  },
  {
    // Type-only imports count: the route is tied to the store's shape all the same.
    file: 'src/http/typeFromStore.ts',
    source: "import type { open } from '../store/store.ts';\nexport type X = typeof open;\n",
    expect: ['routes-not-to-store src/http/typeFromStore.ts -> src/store/store.ts'],
  },
  {
    file: 'src/providers/pixverse/compat/usesStore.ts',
    source: "import { open } from '../../../store/store.ts';\nexport const x = open;\n",
    expect: ['routes-not-to-store src/providers/pixverse/compat/usesStore.ts -> src/store/store.ts'],
  },
  {
    file: 'src/app/usesHttp.ts',
    source: "import { app } from '../http/routes.ts';\nexport const x = app;\n",
    expect: ['app-not-to-outer-layers src/app/usesHttp.ts -> src/http/routes.ts'],
  },
  {
    file: 'src/callbacks/usesScheduler.ts',
    source: "import { schedule } from '../scheduler/scheduler.ts';\nexport const x = schedule;\n",
    expect: ['callbacks-not-to-scheduler src/callbacks/usesScheduler.ts -> src/scheduler/scheduler.ts'],
  },
  {
    file: 'src/workers/usesStore.ts',
    source: "import { open } from '../store/store.ts';\nexport const x = open;\n",
    expect: ['workers-only-domain src/workers/usesStore.ts -> src/store/store.ts'],
  },
  {
    file: 'src/http/usesPg.ts',
    source: "import pg from 'pg';\nexport const x = pg;\n",
    expect: ['sql-drivers-only-in-store src/http/usesPg.ts -> pg'],
  },
  {
    file: 'src/metrics/usesSqlite.ts',
    source: "import Database from 'better-sqlite3';\nexport const x = Database;\n",
    expect: ['sql-drivers-only-in-store src/metrics/usesSqlite.ts -> better-sqlite3'],
  },
  {
    file: 'src/client/usesHttp.ts',
    source: "import { app } from '../http/routes.ts';\nexport const x = app;\n",
    expect: ['client-no-server-at-run-time src/client/usesHttp.ts -> src/http/routes.ts'],
  },
  {
    file: 'src/cycle/a.ts',
    source: "import { b } from './b.ts';\nexport const a = () => b;\n",
    // A cycle is reported once, from the module where the cruise first meets it.
    expect: ['no-circular src/cycle/a.ts -> src/cycle/b.ts'],
  },
  {
    file: 'src/cycle/b.ts',
    source: "import { a } from './a.ts';\nexport const b = () => a;\n",
    expect: [],
  },
  {
    file: 'src/http/missing.ts',
    source: "import { gone } from './nowhere.ts';\nexport const x = gone;\n",
    expect: ['not-to-unresolvable src/http/missing.ts -> ./nowhere.ts'],
  },
  {
    file: 'src/http/usesDevDependency.ts',
    source: "import fc from 'fast-check';\nexport const x = fc;\n",
    expect: ['not-to-dev-dep src/http/usesDevDependency.ts -> fast-check'],
  },
  {
    // Installed (fastify depends on it) but not declared by this package.
    file: 'src/http/usesUndeclared.ts',
    source: "import inject from 'light-my-request';\nexport const x = inject;\n",
    expect: ['no-non-package-json src/http/usesUndeclared.ts -> light-my-request'],
  },
];

const PACKAGE_JSON = {
  name: 'layers-fixture',
  type: 'module',
  dependencies: { '@sinclair/typebox': '*', 'better-sqlite3': '*', fastify: '*', pg: '*', pino: '*' },
  devDependencies: { 'fast-check': '*' },
};

const TSCONFIG = {
  compilerOptions: {
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    allowImportingTsExtensions: true,
    noEmit: true,
    strict: true,
  },
  include: ['src'],
};

interface Violation {
  from: string;
  to: string;
  rule: { name: string; severity: string };
}

/** A package name for anything under node_modules (and `fs` for `node:fs`), else the path as reported. */
function target(to: string): string {
  const pkg = /node_modules\/((?:@types\/)?(?:@[^/]+\/)?[^/]+)/.exec(to);
  if (pkg) return pkg[1].replace(/^@types\//, '');
  return to.replace(/^node:/, '');
}

function layTree(files: Record<string, string>): string {
  // Inside the repository (under the ignored .tmp/) so packages resolve from its node_modules.
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, '.tmp', 'layers-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify(PACKAGE_JSON));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG));
  for (const [path, source] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), source);
  }
  return dir;
}

function depcruise(
  dir: string,
  outputType: string,
): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [DEPCRUISE, 'src', '--config', CONFIG, '--output-type', outputType], {
    cwd: dir,
    encoding: 'utf8',
  });
}

/** The violations found in a tree, as `rule from -> target` lines. */
function violations(dir: string): string[] {
  const run = depcruise(dir, 'json');
  const report = JSON.parse(run.stdout) as { summary: { violations: Violation[] } };
  return report.summary.violations.map((v) => `${v.rule.name} ${v.from} -> ${target(v.to)}`).sort();
}

const dirs: string[] = [];
let allowedDir: string;
let plantedDir: string;

before(() => {
  allowedDir = layTree(ALLOWED);
  plantedDir = layTree({ ...ALLOWED, ...Object.fromEntries(VIOLATIONS.map((v) => [v.file, v.source])) });
  dirs.push(allowedDir, plantedDir);
});

after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

test('imports that follow the layers pass', () => {
  assert.deepEqual(violations(allowedDir), []);
  // The output CI runs (npm run depcheck) exits 0 on a clean tree.
  const run = depcruise(allowedDir, 'err-long');
  assert.equal(run.status, 0, run.stdout + run.stderr);
});

test('every rule reports the import planted to break it, and nothing else', () => {
  const expected = VIOLATIONS.flatMap((v) => v.expect).sort();
  assert.deepEqual(violations(plantedDir), expected);
  // The output CI runs fails the build and gives each violation with its rule's reason.
  const run = depcruise(plantedDir, 'err-long');
  assert.equal(run.status, expected.length, run.stderr);
  assert.match(run.stdout, /error callbacks-not-to-scheduler: src\/callbacks\/usesScheduler\.ts/);
  assert.match(run.stdout, /The webhook outbox \(src\/callbacks\) does not depend on the scheduler/);
});

test('every rule of the configuration is exercised by a planted violation', async () => {
  const config = (await import(CONFIG)) as { default: { forbidden: Array<{ name: string }> } };
  const exercised = new Set(VIOLATIONS.flatMap((v) => v.expect.map((e) => e.split(' ')[0])));
  const unexercised = config.default.forbidden.map((r) => r.name).filter((name) => !exercised.has(name));
  assert.deepEqual(unexercised, []);
});
