/**
 * Issue #16's table of heap per item (and a restore into a full target), every row measured the same way (synthetic 152-character ids in 20 folders,
 * the heap sampled while the work runs, above the heap after a forced GC before it, divided by the items), at
 * each size, for this checkout and optionally another's build (the "before" code):
 *
 *   npm run bench:item-heap -- [--sizes=20000,100000] [--before=<root of another checkout>]
 *
 * The other checkout must be built with `npx tsc -p tsconfig.bench.json` (its dist/ is loaded).
 *
 * Each bench runs in a process of its own, one at a time (planHeap.ts, commitHeap.ts, snapshotReadHeap.ts);
 * their JSON lines go to stderr, the table to stdout. The peak includes garbage, as the issue's table did; with
 * LIVE_HEAP=1 (passed on to each bench) it is what is held: a forced GC before each sample.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { LIVE_HEAP } from './heapMeasure.js';

const option = (name: string) => process.argv.find((arg) => arg.startsWith(`--${name}=`))?.split('=')[1];
const SIZES = (option('sizes') ?? '20000,100000').split(',').map(Number);
const BEFORE = option('before');
// Compiled to dist/test/bench: the checkout's root is three levels up.
const THIS_CHECKOUT = resolve(import.meta.dirname, '..', '..', '..');

type Figures = { heapPerItemBytes: number; peakHeapMiB: number };

/** One bench's JSON line: the last line it printed. */
function runBench(script: string, items: number, codeRoot: string): Record<string, unknown> {
  const output = execFileSync(
    process.execPath,
    ['--expose-gc', resolve(import.meta.dirname, script), String(items), codeRoot],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 },
  );
  const line = output.trim().split('\n').at(-1)!;
  console.error(line);
  return JSON.parse(line) as Record<string, unknown>;
}

/** The five rows of issue #16's table, and a restore plan into a full target, for one checkout at one size. */
function measure(items: number, codeRoot: string): Figures[] {
  const plan = runBench('planHeap.js', items, codeRoot) as { first: Figures; night: Figures };
  const commit = runBench('commitHeap.js', items, codeRoot) as {
    commitHeapPerItemBytes: number;
    commitPeakHeapMiB: number;
  };
  const read = runBench('snapshotReadHeap.js', items, codeRoot) as {
    restorePlan: Figures;
    restorePlanIntoFull?: Figures;
    sampledVerify: Figures;
  };
  return [
    plan.night,
    plan.first,
    { heapPerItemBytes: commit.commitHeapPerItemBytes, peakHeapMiB: commit.commitPeakHeapMiB },
    read.restorePlan,
    read.sampledVerify,
    // Before this measure existed, the code was measured against an empty target only.
    read.restorePlanIntoFull ?? read.restorePlan,
  ];
}

const ROWS = [
  'previous-manifest map while planning a backup (a night, 0.1 % changed)',
  'plan text and arrays (a first backup)',
  'commit (first backup, every item new)',
  'restore plan (a whole snapshot)',
  'nightly sampled verify (50 of the newest snapshot)',
  'restore plan (a whole snapshot) into a target holding as many items, collisions skip',
];

const cell = (f: Figures) => `${(f.heapPerItemBytes / 1000).toFixed(2)} KB (${f.peakHeapMiB} MiB)`;

const columns: Array<{ title: string; figures: Figures[] }> = [];
for (const items of SIZES) {
  if (BEFORE) columns.push({ title: `before, ${items.toLocaleString('en')}`, figures: measure(items, BEFORE) });
  columns.push({ title: `after, ${items.toLocaleString('en')}`, figures: measure(items, THIS_CHECKOUT) });
}
const measured = LIVE_HEAP ? 'held (LIVE_HEAP=1)' : 'garbage included';
console.log(`| Heap per item (peak above the start, ${measured}) | ${columns.map((c) => c.title).join(' | ')} |`);
console.log(`|---|${columns.map(() => '---').join('|')}|`);
ROWS.forEach((row, r) => console.log(`| ${row} | ${columns.map((c) => cell(c.figures[r]!)).join(' | ')} |`));
