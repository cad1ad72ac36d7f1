/**
 * The `grove` command line: a table of commands, each a small module. Commands receive their
 * streams and environment rather than reading globals, so they are testable in-process.
 *
 * @module
 */
import { GroveError, messageOf } from '../errors/index.ts';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

export type Command = (args: string[], io: CliIo) => Promise<number>;

// Each command is loaded when it runs: `grove mover` in a backup Job starts without loading the
// Kubernetes client, and `grove validate` without the operator.
const COMMANDS: Record<string, { summary: string; run: Command }> = {
  operator: { summary: 'Run the controllers against a cluster (webhooks, health and metrics on --listen)', run: async (a, io) => (await import('./operator.ts')).operatorCommand(a, io) },
  validate: { summary: 'Check a platform.yaml and print every error with its position', run: async (a, io) => (await import('./validate.ts')).validateCommand(a, io) },
  plan: { summary: 'Render offline what a push of a branch would create (--branch B)', run: async (a, io) => (await import('./plan.ts')).planCommand(a, io) },
  env: { summary: 'Environments: ls | get | create | wait | renew | sleep | wake | delete', run: async (a, io) => (await import('./env.ts')).envCommand(a, io) },
  audit: { summary: 'Read who did what from the audit trail in the BackupStore (--project P)', run: async (a, io) => (await import('./audit.ts')).auditCommand(a, io) },
  backup: { summary: 'List Backups, or back up an Environment now: ls | create', run: async (a, io) => (await import('./backup.ts')).backupCommand(a, io) },
  restore: { summary: 'Restore a Backup into a new Environment (--wait to follow it)', run: async (a, io) => (await import('./restore.ts')).restoreCommand(a, io) },
  rehearse: { summary: "Rehearse a branch's migration on a copy of production's current data (--wait for the schema diff)", run: async (a, io) => (await import('./rehearse.ts')).rehearseCommand(a, io) },
  lockdown: { summary: 'The kill switch: cut the egress of every Environment but production, and freeze them (on | off)', run: async (a, io) => (await import('./lockdown.ts')).lockdownCommand(a, io) },
  mover: { summary: 'Back up or restore one volume or database with restic (what backup Jobs run)', run: async (a, io) => (await import('./mover.ts')).moverCommand(a, io) },
};

export const USAGE = `Usage: grove <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join('\n')}

Run 'grove <command> --help' for a command's options.
`;

/** Runs one command line; returns the exit code. Errors are printed, never thrown. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr.write(`grove: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    io.stderr.write(`grove ${name}: ${messageOf(err)}\n`);
    return err instanceof GroveError && err.code === 'InvalidInput' ? 2 : 1;
  }
}
