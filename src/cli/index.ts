/**
 * The `grove` command line: a table of commands, each a small module. Commands receive their
 * streams and environment rather than reading globals, so they are testable in-process.
 *
 * @module
 */
import { GroveError, messageOf } from '../errors/index.ts';
import { localCommand } from './local.ts';
import { moverCommand } from './mover.ts';
import { operatorCommand } from './operator.ts';
import { planCommand } from './plan.ts';
import { validateCommand } from './validate.ts';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

export type Command = (args: string[], io: CliIo) => Promise<number>;

const COMMANDS: Record<string, { summary: string; run: Command }> = {
  operator: { summary: 'Run the controllers against a cluster (webhooks, health and metrics on --listen)', run: operatorCommand },
  validate: { summary: 'Check a platform.yaml and print every error with its position', run: validateCommand },
  plan: { summary: 'Render offline what a push of a branch would create (--branch B)', run: planCommand },
  local: { summary: 'Run the local cluster: up | down | status | demo | build', run: localCommand },
  mover: { summary: 'Back up or restore one volume or database with restic (what backup Jobs run)', run: moverCommand },
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
