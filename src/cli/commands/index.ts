/** The client commands of `pixgate`, all speaking to a running gateway through the typed client. */
import type { Command } from 'commander';
import { registerAccounts } from './accounts.ts';
import { registerAdmin } from './admin.ts';
import { registerAvailable } from './available.ts';
import { registerJobs } from './jobs.ts';
import { registerSubmit } from './submit.ts';
import { registerWatch } from './watch.ts';

export { EXIT } from './exit.ts';

export function registerClientCommands(program: Command): void {
  registerSubmit(program);
  registerAvailable(program);
  registerWatch(program);
  registerJobs(program);
  registerAccounts(program);
  registerAdmin(program);
}
