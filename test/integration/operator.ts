// Runs `grove operator` as a child process, as it runs in production: killable, restartable,
// and one of several replicas.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { outboundAllowArgs } from '../../local/network.ts';
import { cluster } from './helpers.ts';

const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export interface OperatorProcess {
  url: string;
  child: ChildProcess;
  /** Every JSON log line so far. */
  logs: Array<Record<string, unknown>>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts an operator for one namespace, with the cluster's admin credentials unless `kubeconfig` names others. */
export async function startOperator(namespace: string, extra: string[] = [], kubeconfig = cluster().kubeconfig): Promise<OperatorProcess> {
  const child = spawn(process.execPath, [main, 'operator', '--kubeconfig', kubeconfig, '--namespace', namespace, '--listen', '127.0.0.1:0', '--log-level', 'debug', ...outboundAllowArgs(cluster()), ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  let partial = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          throw new Error(`the operator printed a line that is not JSON: ${line.slice(0, 300)}`);
        }
        logs.push(entry);
        if (entry.msg === 'Started the operator') resolve(`http://${String(entry.address)}`);
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    void exited.then((code) => reject(new Error(`the operator exited with ${code} before starting: ${stderr}`)));
  });
  return {
    url,
    child,
    logs,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

/** Sends a webhook the way GitHub does. */
export { sendPushWebhook as sendWebhook } from '../../local/git-server.ts';
