/** Admin commands (admin token): `pixgate tenants create|list`, `pixgate tokens create|list|revoke`. */
import type { Command } from 'commander';
import { clientFor, integer, withConnection, type ConnectionFlags } from './connection.ts';
import { run } from './exit.ts';
import { printJson, table } from './output.ts';

interface Flags extends ConnectionFlags {
  json?: boolean;
}

export function registerAdmin(program: Command): void {
  const tenants = program.command('tenants').description('tenants (admin): create, list');

  withConnection(
    tenants
      .command('create')
      .argument('[name]', 'tenant name')
      .description('create a tenant; prints its first token (shown once)'),
    true,
  )
    .option('--json', 'print JSON')
    .action(
      run(async (name: string | undefined, flags: Flags) => {
        const tenant = await clientFor(flags, true).createTenant(name);
        if (flags.json) return printJson(tenant);
        process.stdout.write(
          `tenant ${tenant.userId}${tenant.name ? ` (${tenant.name})` : ''}\ntoken (shown once): ${tenant.token}\n`,
        );
      }),
    );

  withConnection(tenants.command('list').description('every tenant with its queue settings'), true)
    .option('--json', 'print JSON')
    .action(
      run(async (flags: Flags) => {
        const list = await clientFor(flags, true).listTenants();
        if (flags.json) return printJson(list);
        if (list.length === 0) return void process.stdout.write('no tenants\n');
        const rows = list.map((t) => [
          String(t.userId),
          t.name ?? '',
          t.queueByDefault ? 'yes' : 'no',
          String(t.maxQueueLength),
          `${t.maxQueueWaitSeconds}s`,
        ]);
        process.stdout.write(table(['ID', 'NAME', 'QUEUE BY DEFAULT', 'MAX QUEUE', 'MAX WAIT'], rows));
      }),
    );

  const tokens = program
    .command('tokens')
    .description('API tokens of a tenant (admin): create, list, revoke');
  const tenantId = integer('<tenant>', 1);

  withConnection(
    tokens
      .command('create')
      .argument('<tenant>', 'tenant id', tenantId)
      .description('issue a token; prints it (shown once)'),
    true,
  )
    .option('--label <label>', 'what the token is for')
    .option('--json', 'print JSON')
    .action(
      run(async (userId: number, flags: Flags & { label?: string }) => {
        const token = await clientFor(flags, true).createToken(userId, flags.label);
        if (flags.json) return printJson(token);
        process.stdout.write(`token ${token.id} (shown once): ${token.token}\n`);
      }),
    );

  withConnection(
    tokens
      .command('list')
      .argument('<tenant>', 'tenant id', tenantId)
      .description('a tenant’s tokens (secrets are never shown again)'),
    true,
  )
    .option('--json', 'print JSON')
    .action(
      run(async (userId: number, flags: Flags) => {
        const list = await clientFor(flags, true).listTokens(userId);
        if (flags.json) return printJson(list);
        if (list.length === 0) return void process.stdout.write('no tokens\n');
        const rows = list.map((t) => [
          String(t.id),
          t.label ?? '',
          String(t.weight),
          t.createdAt,
          t.revokedAt ? `revoked ${t.revokedAt}` : 'active',
        ]);
        process.stdout.write(table(['ID', 'LABEL', 'WEIGHT', 'CREATED', 'STATE'], rows));
      }),
    );

  withConnection(
    tokens
      .command('revoke')
      .argument('<tenant>', 'tenant id', tenantId)
      .argument('<token>', 'token id', integer('<token>', 1))
      .description('revoke a token'),
    true,
  ).action(
    run(async (userId: number, tokenId: number, flags: Flags) => {
      await clientFor(flags, true).revokeToken(userId, tokenId);
      process.stdout.write(`revoked token ${tokenId} of tenant ${userId}\n`);
    }),
  );
}
