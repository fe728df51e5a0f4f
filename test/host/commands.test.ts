import { describe, expect, it } from 'vitest';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yauzl from 'yauzl';
import { azuriteConnectionString } from '../support/vault.js';
import type { Simulator } from '../../local/simulator/index.js';
import { renderMime } from '../../local/simulator/mime.js';

/**
 * The README's commands, run as a user runs them. They share one file so the two builds they start do not
 * write dist/ at the same time.
 */

function run(
  args: string[],
  env: Record<string, string>,
): {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  waitFor: (pattern: RegExp, ms: number) => Promise<string>;
} {
  const child = spawn('npm', args, {
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return {
    child,
    output: () => output,
    waitFor: (pattern, ms) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern} in:\n${output}`)), ms);
        const check = () => {
          if (pattern.test(output)) {
            clearTimeout(timer);
            child.stdout.off('data', check);
            resolve(output);
          }
        };
        child.stdout.on('data', check);
        child.once('exit', (code) => {
          if (!pattern.test(output)) reject(new Error(`exited ${code} before ${pattern}:\n${output}`));
        });
        check();
      }),
  };
}

/** The entries of a ZIP file, as latin1 text (byte for byte). */
function zipEntries(file: Buffer): Promise<string[]> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(file, { lazyEntries: true }, (error, zip) => {
      if (error) return reject(error);
      const entries: string[] = [];
      zip.on('entry', (entry: yauzl.Entry) =>
        zip.openReadStream(entry, async (openError, stream) => {
          if (openError) return reject(openError);
          const chunks: Buffer[] = [];
          for await (const chunk of stream) chunks.push(chunk as Buffer);
          entries.push(Buffer.concat(chunks).toString('latin1'));
          zip.readEntry();
        }),
      );
      zip.on('end', () => resolve(entries));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

function stop(child: ChildProcessWithoutNullStreams): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    process.kill(-child.pid!, 'SIGTERM');
  });
}

describe('README commands', () => {
  it('`npm run simulator` starts the simulator and prints its base URL and demo token', async () => {
    const sim = run(['run', '--silent', 'simulator'], { SIM_PORT: '0' });
    try {
      const ready = await sim.waitFor(/support@contoso\.example/, 90_000);
      const baseUrl = /listening on (http:\/\/\S+)/.exec(ready)![1]!;
      const token = /Demo token\s+:\s+(\S+)/.exec(ready)![1]!;
      const settings = await fetch(`${baseUrl}/v1.0/users/support@contoso.example/settings/exchange`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      expect(settings.status).toBe(200);
    } finally {
      await stop(sim.child);
    }
  }, 120_000);

  it('`npm start` backs up the demo tenant at once, reports it, and keeps serving', async () => {
    const app = run(['start', '--silent'], {
      PORT: '0',
      SIM_PORT: '0',
      MAILBOX_VAULT_STORAGE_CONNECTION_STRING: azuriteConnectionString(),
      MAILBOX_VAULT_CONTAINER: `start-${randomBytes(5).toString('hex')}`,
    });
    try {
      const output = await app.waitFor(/Next scheduled backup/, 240_000);
      expect(output).toMatch(/No tenant configured: the simulated demo tenant/);
      // No Entra tenant either: the local host signs in the local operator, and says so.
      expect(output).toMatch(
        /Signed in as Local operator local-operator@mailbox-vault\.localhost \(MailboxVault\.Reader/,
      );
      expect(output).toMatch(
        /Tokens for api:\/\/mailbox-vault from https:\/\/127\.0\.0\.1:\d+\/[0-9a-f-]+ are accepted/,
      );
      expect(output).toMatch(/Backup backup-\d{8}T\d{6}Z-[0-9a-f]{8}: Completed/);
      expect(output).toMatch(/Completed\s+adele\.vance@contoso\.example\s+301 items in snapshot/);
      expect(output).toMatch(/warning: room-booking-bot@contoso\.example has no Exchange Online mailbox/);
      const baseUrl = /serving on (http:\/\/\S+)/.exec(output)![1]!;
      const id = /Backup (backup-\S+): Completed/.exec(output)![1]!;
      const status = (await (await fetch(`${baseUrl}/api/backups/${id}`)).json()) as { status: string };
      expect(status.status).toBe('Completed');
    } finally {
      await stop(app.child);
    }
  }, 300_000);
});

describe('the operator CLI', () => {
  let sim: Simulator;
  let env: Record<string, string>;
  const SOURCE = 'quinn@contoso.example';
  const TARGET = 'quinn-copy@contoso.example';
  /** Downloads go through it; out of the backup's scope. */
  const STAGING = 'vault-staging@contoso.example';
  /** A small folder for the export: a few items, and an awkward name. */
  const EXPORT_FOLDER = 'Inbox/100% done & dusted';

  function cli(
    args: string[],
    extraEnv: Record<string, string> = {},
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['dist/local/cli/main.js', ...args], {
        env: { ...process.env, ...env, ...extraEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.once('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  }

  it('runs every command end to end, in-process and against a served app', async () => {
    const { startSeededSimulator } = await import('../support/graph.js');
    sim = await startSeededSimulator({
      mailboxes: [
        { upn: SOURCE, items: 30 },
        { upn: TARGET, items: 0 },
        { upn: STAGING, kind: 'shared', items: 0 },
      ],
    });
    env = {
      MAILBOX_VAULT_GRAPH_BASE_URL: sim.baseUrl,
      MAILBOX_VAULT_GRAPH_CREDENTIAL: 'staticToken',
      MAILBOX_VAULT_GRAPH_STATIC_TOKEN: sim.demoToken,
      MAILBOX_VAULT_STORAGE_CONNECTION_STRING: azuriteConnectionString(),
      MAILBOX_VAULT_CONTAINER: `cli-${randomBytes(5).toString('hex')}`,
      MAILBOX_VAULT_SCOPE_USERS: `${SOURCE},${TARGET}`,
      MAILBOX_VAULT_STAGING_MAILBOX: STAGING,
      MAILBOX_VAULT_GRAPH_RETRY_BASE_MS: '5',
    };
    const files = await mkdtemp(join(tmpdir(), 'mailbox-vault-cli-'));
    try {
      const help = await cli(['--help']);
      expect(help.code).toBe(0);
      for (const command of [
        'backup',
        'restore',
        'snapshots',
        'items',
        'verify',
        'prune',
        'status',
        '--dry-run',
        '--json',
      ])
        expect(help.stdout).toContain(command);

      const backup = await cli(['backup']);
      expect(backup.code, backup.stderr).toBe(0);
      expect(backup.stdout).toMatch(/backup backup-\S+: Completed/);
      expect(backup.stdout).toMatch(/Completed\s+quinn@contoso\.example\s+30 items in snapshot/);

      // A later process knows the run from its report in the vault.
      const backupId = /backup (backup-\S+): Completed/.exec(backup.stdout)![1]!;
      const status = await cli(['status', backupId]);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toMatch(new RegExp(`backup ${backupId}: Completed`));
      expect((await cli(['status', 'backup-20200101T000000Z'])).code).toBe(2);

      const snapshots = await cli(['snapshots', '--mailbox', SOURCE, '--json']);
      expect(snapshots.code).toBe(0);
      const listed = JSON.parse(snapshots.stdout) as { snapshots: Array<{ id: string; items: number }> };
      expect(listed.snapshots).toHaveLength(1);
      expect(listed.snapshots[0]!.items).toBe(30);

      const items = await cli(['items', '--mailbox', SOURCE, '--folder', 'Inbox', '--top', '3']);
      expect(items.code).toBe(0);
      expect(items.stdout).toMatch(/^\/Inbox {2}\(\d+ items\)/);
      expect(items.stdout).toContain('[Отчёты]');

      // A download: one message as EML, byte for byte as the mailbox holds it.
      const quinn = sim.tenant.mailbox(SOURCE);
      const message = [...quinn.items.values()].find(
        (i) => i.type === 'IPM.Note' && quinn.folderPath(i.folderId) === 'Inbox',
      )!;
      const eml = join(files, 'message.eml');
      const item = await cli(['download', '--source', SOURCE, '--item', message.id, '--out', eml]);
      expect(item.code, item.stderr).toBe(0);
      expect(item.stdout).toMatch(/^Saved .*message\.eml \(\d+ bytes\)$/m);
      expect((await readFile(eml)).equals(Buffer.concat([...renderMime(message.spec)]))).toBe(true);

      // A folder as a ZIP of EML files: the export job runs, is reported, and its file saved.
      const inFolder = [...quinn.items.values()].filter((i) => quinn.folderPath(i.folderId) === EXPORT_FOLDER);
      expect(inFolder.length).toBeGreaterThan(0);
      const zip = join(files, 'folder.zip');
      const exported = await cli([
        'download',
        '--source',
        SOURCE,
        '--folder',
        EXPORT_FOLDER,
        '--format',
        'zip',
        '--out',
        zip,
      ]);
      expect(exported.code, exported.stderr).toBe(0);
      expect(exported.stdout).toMatch(/^download download-\d{8}T\d{6}Z-[0-9a-f]{8}: Completed$/m);
      expect(exported.stdout).toContain(
        `${inFolder.length} selected, ${inFolder.length} converted to ZIP, 0 not downloadable, 0 failed`,
      );
      expect(exported.stdout).toMatch(/^Saved .*folder\.zip \(\d+ bytes\)$/m);
      const entries = await zipEntries(await readFile(zip));
      expect(entries.sort()).toEqual(
        inFolder.map((i) => Buffer.concat([...renderMime(i.spec)]).toString('latin1')).sort(),
      );
      expect(sim.tenant.mailbox(STAGING).items.size).toBe(0);

      // `status` follows the export by its id, from a later process, as it follows a restore.
      const downloadId = /download (download-\S+): Completed/.exec(exported.stdout)![1]!;
      const downloadStatus = await cli(['status', downloadId]);
      expect(downloadStatus.code, downloadStatus.stderr).toBe(0);
      expect(downloadStatus.stdout).toMatch(new RegExp(`^download ${downloadId}: Completed$`, 'm'));
      expect(downloadStatus.stdout).toContain(`${inFolder.length} converted to ZIP`);
      expect(downloadStatus.stdout).toMatch(
        new RegExp(`file: \\d+ bytes, until \\S+ \\(GET /api/downloads/${downloadId}/file\\)`),
      );
      const asJson = await cli(['status', downloadId, '--json']);
      expect(JSON.parse(asJson.stdout)).toMatchObject({
        id: downloadId,
        status: 'Completed',
        report: { format: 'zip' },
      });
      expect((await cli(['status', 'download-20200101T000000Z-0a0b0c0d'])).code).toBe(2);

      const restore = await cli(['restore', '--source', SOURCE, '--target', TARGET, '--json']);
      expect(restore.code, restore.stderr).toBe(0);
      const restored = JSON.parse(restore.stdout) as { status: string; report: { counts: { imported: number } } };
      expect(restored.status).toBe('Completed');
      expect(restored.report.counts.imported).toBe(30);
      expect(sim.tenant.mailbox(TARGET).items.size).toBe(30);

      const verify = await cli(['verify', '--full']);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
      expect(verify.stdout).toMatch(
        /verify \(full\): 2 snapshots, 30 entries checked, 30 versions re-hashed, 0 problems/,
      );

      const prune = await cli(['prune', '--dry-run', '--json']);
      expect(prune.code).toBe(0);
      expect((JSON.parse(prune.stdout) as { report: { prune: { dryRun: boolean } } }).report.prune.dryRun).toBe(true);

      // Against an app served over HTTP, as for a deployed one.
      const { startLocalApp } = await import('../../local/host/localApp.js');
      Object.assign(process.env, env);
      const { resetServices } = await import('../../shared/services.js');
      resetServices();
      const served = await startLocalApp({ port: 0 });
      try {
        const remote = await cli(['snapshots', '--mailbox', SOURCE, '--url', served.baseUrl]);
        expect(remote.code).toBe(0);
        expect(remote.stdout).toMatch(/\d{8}T\d{6}Z-[0-9a-f]{8}\s+taken .* 30 items/);
      } finally {
        await served.close();
      }

      // Damage: verification fails, names it, and exits 1.
      const { BlobServiceClient } = await import('@azure/storage-blob');
      const container = BlobServiceClient.fromConnectionString(azuriteConnectionString()).getContainerClient(
        env.MAILBOX_VAULT_CONTAINER!,
      );
      for await (const blob of container.listBlobsFlat({ prefix: 'mailboxes/' })) {
        if (!blob.name.includes('/items/')) continue;
        await container.getBlobClient(blob.name).delete();
        break;
      }
      const damaged = await cli(['verify', '--full']);
      expect(damaged.code).toBe(1);
      expect(damaged.stdout).toMatch(/problem: quinn@contoso\.example snapshot \S+ missingBlob/);
    } finally {
      await sim.close();
      await rm(files, { recursive: true, force: true });
    }
  }, 300_000);

  it('refuses bad arguments with a clear message and exit code 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['frobnicate'], /Unknown command 'frobnicate'/],
      [['restore'], /restore needs --source/],
      [['backup', '--bogus'], /Unknown option '--bogus'/],
      [['backup', '--dry-run'], /--dry-run does not apply to 'backup'/],
      [['snapshots'], /snapshots needs one --mailbox/],
      [['status'], /status needs one run id/],
      [['status', 'nope'], /'nope' is not a backup, restore, download or maintenance id/],
      [['status', 'item-20261204T100000Z-0a0b0c0d'], /an item's download, served at once/],
      [[], /Usage: mailbox-vault/],
    ];
    for (const [args, message] of cases) {
      const result = await cli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stdout + result.stderr).toMatch(message);
    }
    // A request the app refuses is a bad argument too, named by the app.
    const refused = await cli(['restore', '--source', 'not a mailbox'], {
      MAILBOX_VAULT_STORAGE_CONNECTION_STRING: azuriteConnectionString(),
      MAILBOX_VAULT_GRAPH_BASE_URL: 'http://127.0.0.1:9',
      MAILBOX_VAULT_GRAPH_CREDENTIAL: 'staticToken',
      MAILBOX_VAULT_GRAPH_STATIC_TOKEN: 'x',
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/sourceMailbox: must be a user principal name/);
  }, 120_000);
});
