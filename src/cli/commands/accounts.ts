/** `pixgate accounts add|list|rm`: the tenant's PixVerse accounts. */
import type { Command } from 'commander';
import type { AccountInput } from '../../client/types.ts';
import { clientFor, integer, withConnection, type ConnectionFlags } from './connection.ts';
import { run, UsageError } from './exit.ts';
import { printJson, table } from './output.ts';

interface Flags extends ConnectionFlags {
  json?: boolean;
}

interface AddFlags extends Flags {
  apiKey?: string;
  maxJobs: number;
  webhookId?: string;
  webhookSecret?: string;
}

export function registerAccounts(program: Command): void {
  const accounts = program.command('accounts').description('PixVerse accounts of the tenant: add, list, rm');

  withConnection(
    accounts
      .command('add')
      .argument('<email>', 'account email')
      .description('add or update an account (Platform API key)'),
  )
    .option(
      '--api-key <key>',
      'PixVerse Platform API key (env PIXVERSE_API_KEY; keeps it out of the process list)',
    )
    .requiredOption('--max-jobs <n>', 'generations the account may run at once', integer('--max-jobs', 1))
    .option('--webhook-id <id>', 'id of the PixVerse webhook created for this account')
    .option('--webhook-secret <secret>', 'that webhook’s Secret Key')
    .option('--json', 'print the stored account as JSON')
    .action(
      run(async (email: string, flags: AddFlags) => {
        const apiKey = flags.apiKey ?? process.env['PIXVERSE_API_KEY'];
        if (!apiKey) throw new UsageError('an API key is needed: --api-key or PIXVERSE_API_KEY');
        const input: AccountInput = { apiKey, maxJobs: flags.maxJobs };
        if (flags.webhookId !== undefined) input.webhookId = flags.webhookId;
        if (flags.webhookSecret !== undefined) input.webhookSecret = flags.webhookSecret;
        const account = await clientFor(flags).putAccount(email, input);
        if (flags.json) return printJson(account);
        process.stdout.write(
          `${account.email}: maxJobs ${account.maxJobs}, key ${account.apiKey}, ${account.state}\n`,
        );
      }),
    );

  withConnection(accounts.command('list').description('every account with its health'))
    .option('--json', 'print JSON (an array)')
    .action(
      run(async (flags: Flags) => {
        const list = await clientFor(flags).listAccounts();
        if (flags.json) return printJson(list);
        if (list.length === 0) return void process.stdout.write('no accounts configured\n');
        const rows = list.map((a) => [
          a.email,
          String(a.maxJobs),
          a.state,
          a.apiKey,
          a.webhookId ?? '',
          a.error ?? (a.cooldownUntil ? `cool-down until ${a.cooldownUntil}` : ''),
        ]);
        process.stdout.write(table(['EMAIL', 'MAX', 'STATE', 'KEY', 'WEBHOOK', 'NOTE'], rows));
      }),
    );

  withConnection(
    accounts
      .command('rm')
      .argument('<email>', 'account email')
      .description('delete an account; its running jobs are cancelled'),
  )
    .option('--json', 'print JSON')
    .action(
      run(async (email: string, flags: Flags) => {
        const removed = await clientFor(flags).deleteAccount(email);
        if (flags.json) return printJson(removed);
        process.stdout.write(
          `deleted ${removed.account} (${removed.cancelled} running job${removed.cancelled === 1 ? '' : 's'} cancelled, ${removed.remaining} account${removed.remaining === 1 ? '' : 's'} left)\n`,
        );
      }),
    );
}
