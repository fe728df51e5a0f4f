/**
 * CPU samples of the machine, of Azurite and of the measured process, every 100 ms, taken by a process of its
 * own. A timer in the measured process would be charged to it: on this machine each wake of an idle process
 * costs about 0.3 ms, and a 200 ms sampler in-process added about 4 ms of CPU a second to "ours", which over
 * a latency-bound export is a tenth of a millisecond per item. The child keeps its samples until asked for
 * them, so no pipe wakes the measured process either. Linux only (it reads /proc); elsewhere every figure is 0.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';

export interface CpuSample {
  t: number;
  /** Machine: busy and total jiffies over all cores (/proc/stat). */
  busy: number;
  total: number;
  /** Azurite's and the measured process's CPU in ms (utime + stime). */
  azurite: number;
  ours: number;
}

export interface CpuSpan {
  /** Share of the machine's cores busy, 0–1. */
  machine: number;
  /** Azurite's CPU as a share of one core. */
  azurite: number;
  oursMs: number;
  seconds: number;
}

export interface CpuSampler {
  /** Takes a last sample and ends the sampling process. */
  stop(): Promise<void>;
  /** Figures between two instants (ms since the epoch), read after `stop`. */
  over(from: number, to: number): CpuSpan;
}

const INTERVAL_MS = 100;

/** The sampling process's program: samples to memory, all of them to stdout when stdin ends. */
const SAMPLER_SOURCE = `
const { readFileSync } = require('node:fs');
const [azuritePid, oursPid] = process.argv.slice(1).map(Number);
const processMs = (pid) => {
  try {
    const fields = readFileSync('/proc/' + pid + '/stat', 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch { return 0; }
};
const machine = () => {
  try {
    const jiffies = readFileSync('/proc/stat', 'utf8').split('\\n')[0].trim().split(/\\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq (steal is the hypervisor's, not this machine's work)
    const busy = jiffies[0] + jiffies[1] + jiffies[2] + jiffies[5] + jiffies[6];
    return { busy, total: busy + jiffies[3] + jiffies[4] };
  } catch { return { busy: 0, total: 0 }; }
};
const samples = [];
const take = () => samples.push({ t: Date.now(), ...machine(), azurite: processMs(azuritePid), ours: processMs(oursPid) });
take();
const timer = setInterval(take, ${INTERVAL_MS});
process.stdin.resume();
process.stdin.on('end', () => { clearInterval(timer); take(); process.stdout.write(JSON.stringify(samples)); });
process.stdout.write('ready\\n');
`;

export async function startCpuSampler(azuritePid: number | undefined): Promise<CpuSampler> {
  const child = spawn(process.execPath, ['-e', SAMPLER_SOURCE, String(azuritePid ?? 0), String(process.pid)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    const onData = (text: string) => {
      output += text;
      if (output.startsWith('ready\n')) {
        output = output.slice('ready\n'.length);
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the CPU sampler exited ${code} before it started`)));
  });
  // Nothing is read from the child until it is stopped: its output waits in the pipe.
  child.stdout!.pause();
  let samples: CpuSample[] = [];
  return {
    async stop() {
      const exited = once(child, 'exit');
      child.stdout!.on('data', (text: string) => (output += text));
      child.stdout!.resume();
      child.stdin!.end();
      await exited;
      samples = JSON.parse(output) as CpuSample[];
    },
    over(from, to) {
      // The samples just inside the span when it holds two or more (a short span read with the samples around
      // it would be diluted by up to two intervals of whatever came before and after); else those around it.
      const within = samples.filter((x) => x.t >= from && x.t <= to);
      const inside =
        within.length >= 2 ? within : samples.filter((x) => x.t >= from - INTERVAL_MS && x.t <= to + INTERVAL_MS);
      const a = inside[0];
      const b = inside[inside.length - 1];
      if (!a || !b || b.t === a.t) return { machine: 0, azurite: 0, oursMs: 0, seconds: 0 };
      return {
        machine: (b.busy - a.busy) / Math.max(1, b.total - a.total),
        azurite: (b.azurite - a.azurite) / (b.t - a.t),
        oursMs: b.ours - a.ours,
        seconds: (b.t - a.t) / 1000,
      };
    },
  };
}
