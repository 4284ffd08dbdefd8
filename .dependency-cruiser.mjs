/**
 * Dependency rules: the layers of the design, checked on every CI run (`npm run depcheck`).
 * docs/dependency-rules.md explains each rule and how to fix a violation.
 *
 * Paths are matched against resolved module paths relative to the repository root, so `src/http/`
 * means the HTTP layer and `node_modules/pg/` means the pg driver. Type-only imports count: a type
 * pulled from a layer ties the importer to that layer's shape just as a value does.
 */

/** The engine: the part that must know nothing of Fastify, SQL dialects outside the store, or any provider. */
const ENGINE = '^src/(domain|store|scheduler|callbacks)/';

/**
 * Provider code. `src/upstream/pixverse/` and `src/simulator/` are PixVerse's code in the old layout; they
 * are listed so the rule holds while the move into `src/providers/pixverse/` is under way.
 */
const PROVIDERS = ['^src/providers/', '^src/upstream/pixverse/', '^src/simulator/'];

/** Route code: the HTTP layer and every provider's compat routes. */
const ROUTES = ['^src/http/', '^src/providers/[^/]+/compat/'];

/** The SQL drivers (and their type packages). */
const SQL_DRIVERS = '(^|/)node_modules/(@types/)?(better-sqlite3|pg)/';

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'Modules in src import each other in a cycle. A cycle means neither side can be understood, tested ' +
        'or moved alone; break it by moving the shared piece down a layer (often into domain/) or by passing ' +
        'a function in instead of importing it.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'domain-is-pure',
      severity: 'error',
      comment:
        'src/domain holds pure types and rules and imports nothing from the other layers (docs/dependency-rules.md). ' +
        'Move the needed piece into domain/, or move the importing code up into the layer it belongs to.',
      from: { path: '^src/domain/' },
      to: { path: '^src/', pathNot: '^src/domain/' },
    },
    {
      name: 'domain-no-io',
      severity: 'error',
      comment:
        'src/domain does no I/O: no files, sockets, processes, databases or HTTP, and no package but the ' +
        'schema library. I/O belongs in store/, callbacks/, a provider or the HTTP layer.',
      from: { path: '^src/domain/' },
      to: {
        dependencyTypes: ['core', 'npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown'],
        path: [
          '^(node:)?(fs|fs/promises|net|http|https|http2|dgram|dns|dns/promises|tls|child_process|cluster|worker_threads)$',
          '(^|/)node_modules/',
        ],
        // TypeBox schemas are plain data: the domain's types may come from them.
        pathNot: '(^|/)node_modules/@sinclair/typebox/',
      },
    },
    {
      name: 'engine-not-to-provider',
      severity: 'error',
      comment:
        'The engine (domain, store, scheduler, callbacks) names no provider: a second provider must be a new ' +
        'folder under src/providers/, not edits in the engine. Put what the engine needs behind the provider ' +
        'interface, and let the provider plug its implementation in at start-up.',
      from: { path: ENGINE },
      to: { path: PROVIDERS },
    },
    {
      name: 'engine-not-to-outer-layers',
      severity: 'error',
      comment:
        'Dependencies point one way: http/cli/web -> application services (src/app) -> scheduler -> store, ' +
        'callbacks -> domain. The engine must not import the HTTP layer, the dashboard, the CLI or the ' +
        'application services; pass what it needs in as a parameter or an event instead.',
      from: { path: ENGINE },
      to: { path: '^src/(http|web|cli|app)/' },
    },
    {
      name: 'engine-not-to-fastify',
      severity: 'error',
      comment:
        'The engine knows nothing of Fastify (docs/dependency-rules.md): request and reply handling lives in src/http ' +
        "and in the providers' compat routes.",
      from: { path: ENGINE },
      to: { path: '(^|/)node_modules/(fastify|@fastify/[^/]+)/' },
    },
    {
      name: 'routes-not-to-store',
      severity: 'error',
      comment:
        "Routes (src/http and providers' compat routes) do not use the store: they go through the application " +
        'services in src/app, which keep the scheduler and its caches in step with every write. Add or use a ' +
        'service method instead.',
      from: { path: ROUTES },
      to: { path: '^src/store/' },
    },
    {
      name: 'app-not-to-outer-layers',
      severity: 'error',
      comment:
        'Application services sit below http, web and cli: they must not import them. Return an outcome and ' +
        'let the route map it to an HTTP answer.',
      from: { path: '^src/app/' },
      to: { path: '^src/(http|web|cli)/' },
    },
    {
      name: 'callbacks-not-to-scheduler',
      severity: 'error',
      comment:
        'The webhook outbox (src/callbacks) does not depend on the scheduler: both sit on the store and the ' +
        'domain. Shared loop machinery (sleeper, claim loop) lives in src/workers.',
      from: { path: '^src/callbacks/' },
      to: { path: '^src/scheduler/' },
    },
    {
      name: 'workers-only-domain',
      severity: 'error',
      comment:
        'src/workers (the shared claim loop and sleeper) imports only src/domain, so the tracker, dispatcher, ' +
        'deliverer and sweeper can all use it without pulling each other in. Pass the work in as functions.',
      from: { path: '^src/workers/' },
      to: { path: '^src/', pathNot: '^src/(workers|domain)/' },
    },
    {
      name: 'sql-drivers-only-in-store',
      severity: 'error',
      comment:
        'better-sqlite3 and pg are used only inside src/store: every other layer talks to the Store interface, ' +
        'so a dialect never leaks and both stores stay interchangeable.',
      from: { path: '^src/', pathNot: '^src/store/' },
      to: { path: SQL_DRIVERS },
    },
    {
      name: 'client-no-server-at-run-time',
      severity: 'error',
      comment:
        'The typed client (src/client, published as pixgate/client) runs in other programs: at run time it ' +
        'may use only src/domain. Its types may come from the route schemas (import type), which vanish ' +
        'from the build.',
      from: { path: '^src/client/' },
      to: { path: '^src/', pathNot: '^src/(client|domain)/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'This import does not resolve to a file or an installed package.',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
    {
      name: 'not-to-dev-dep',
      severity: 'error',
      comment:
        'Production code imports a devDependency: the published package installs without devDependencies, ' +
        'so this import fails at run time. Move the package to dependencies or stop importing it from src.',
      from: { path: '^src/' },
      to: {
        dependencyTypes: ['npm-dev'],
        // Type-only imports vanish at build time; @types/* packages are devDependencies by design.
        dependencyTypesNot: ['type-only'],
        pathNot: '(^|/)node_modules/@types/',
      },
    },
    {
      name: 'no-non-package-json',
      severity: 'error',
      comment:
        'Production code imports a package that is not in package.json (it resolves only because another ' +
        'package pulls it in). Add it to dependencies.',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
  ],
  options: {
    doNotFollow: { path: '(^|/)node_modules/' },
    exclude: { path: '(^|/)dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.json', '.d.ts'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
