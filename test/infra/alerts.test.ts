import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../scripts/bicep/build.js';
import type { RunReport } from '../../shared/backup/types.js';
import type { MaintenanceReport } from '../../shared/maintenance/report.js';
import { backupRunEvents, maintenanceRunEvent, TELEMETRY_EVENTS, TELEMETRY_PREFIX } from '../../shared/telemetry.js';
import { deployMain, of, one, type DeployedResource, type Deployment } from '../support/arm.js';

/**
 * The alert rules and their action group, as compiled: which telemetry each rule reads, how it fires, whom it
 * emails. Each query is checked against the events the app really emits (shared/telemetry.ts), field by field.
 */

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const RULES = {
  'backup-run-failed': { severity: 1, operator: 'GreaterThan', threshold: 0, dimensions: ['runId'] },
  'backup-run-errors': { severity: 2, operator: 'GreaterThan', threshold: 0, dimensions: ['runId'] },
  'mailbox-without-snapshot': { severity: 1, operator: 'GreaterThan', threshold: 0, dimensions: ['upn'] },
  'backup-run-missed': { severity: 1, operator: 'LessThan', threshold: 1, dimensions: [] },
  'mass-deletion': { severity: 1, operator: 'GreaterThan', threshold: 0, dimensions: ['upn'] },
  'verification-problems': { severity: 1, operator: 'GreaterThan', threshold: 0, dimensions: ['maintenanceId'] },
};

let quiet: Deployment;
let emailing: Deployment;
const rules = (d: Deployment) => of(d, 'Microsoft.Insights/scheduledQueryRules');
const rule = (d: Deployment, name: string) => rules(d).find((r) => r.name === `mailbox-vault-${name}`)!;
const criterion = (r: DeployedResource) => (r.properties.criteria as Json).allOf[0] as Json;

/** Events of every kind, as the app emits them for a run with a failure and a mass deletion, and for maintenance. */
function sampleEvents() {
  const mailbox = {
    upn: 'adele@contoso.example',
    mailboxId: 'MBX:1@contoso',
    status: 'Completed' as const,
    snapshotId: '20261123T020000Z-1a2b3c4d',
    startedAt: '',
    finishedAt: '',
    durationInMs: 0,
    items: { inSnapshot: 10, exported: 1, alreadyStored: 9, failed: 0, removed: 400, changed: 0 },
    bytesExported: 0,
    throttling: { responses: 0, waitInMs: 0 },
    failedFolders: [],
    failures: [],
  };
  const report: RunReport = {
    runId: 'backup-20261123T020000Z',
    kind: 'backup',
    trigger: 'timer',
    startedAt: '',
    finishedAt: '',
    status: 'CompletedWithErrors',
    mailboxes: [
      mailbox,
      { ...mailbox, mailboxId: 'MBX:2@contoso', status: 'Failed', snapshotId: null, error: 'denied' },
    ],
    warnings: [],
    totals: {
      mailboxes: 2,
      failedMailboxes: 1,
      itemsExported: 1,
      itemsFailed: 0,
      bytesExported: 0,
      throttledResponses: 0,
      throttleWaitInMs: 0,
    },
  };
  const maintenance: MaintenanceReport = {
    id: 'maintenance-20261123T053000Z',
    trigger: 'timer',
    startedAt: '',
    finishedAt: '',
    status: 'CompletedWithErrors',
    prune: null,
    verify: {
      mode: 'sample',
      mailboxes: [],
      totals: { snapshotsChecked: 1, entriesChecked: 1, versionsHashed: 1, problems: 1 },
    },
    errors: [],
  };
  const deletions = new Map([['MBX:1@contoso', { removed: 400, usualRemoved: 3, massDeletion: true }]]);
  return [...backupRunEvents(report, deletions), maintenanceRunEvent(maintenance)];
}

beforeAll(async () => {
  quiet = await deployMain();
  emailing = await deployMain({ alertEmail: 'ops@contoso.example', alertMissedRunHours: 30 });
}, 120_000);

describe('alert rules', () => {
  it("one log search rule per condition, on the app's Application Insights, each stateful and enabled", () => {
    expect(
      rules(quiet)
        .map((r) => r.name)
        .sort(),
    ).toEqual(
      Object.keys(RULES)
        .map((n) => `mailbox-vault-${n}`)
        .sort(),
    );
    const insights = one(quiet, 'Microsoft.Insights/components', 'monitoring').name;
    for (const [name, expected] of Object.entries(RULES)) {
      const r = rule(quiet, name);
      expect(r.kind).toBe('LogAlert');
      expect(r.properties).toMatchObject({
        enabled: true,
        autoMitigate: true,
        severity: expected.severity,
        evaluationFrequency: 'PT1H',
      });
      expect(r.properties.scopes).toEqual([
        expect.stringMatching(new RegExp(`/providers/Microsoft\\.Insights/components/${insights}$`)),
      ]);
      expect(criterion(r)).toMatchObject({
        timeAggregation: 'Count',
        operator: expected.operator,
        threshold: expected.threshold,
      });
      expect(criterion(r).dimensions.map((d: Json) => d.name)).toEqual(expected.dimensions);
      // Each dimension is a column the query returns.
      for (const dimension of expected.dimensions) expect(criterion(r).query).toMatch(new RegExp(`\\b${dimension} =`));
    }
  });

  it('each query is its file in infra/alerts/, the missed-run window from MAILBOX_VAULT_ALERT_MISSED_RUN_HOURS', () => {
    for (const name of Object.keys(RULES)) {
      const file = readFileSync(join(ROOT, 'infra', 'alerts', `${name}.kql`), 'utf8');
      expect(criterion(rule(quiet, name)).query).toBe(file.replaceAll('{missedRunHours}', '26'));
    }
    expect(criterion(rule(emailing, 'backup-run-missed')).query).toContain('ago(30h)');
    // A window longer than the gap it looks for, so one late run is enough to resolve it.
    expect(rule(quiet, 'backup-run-missed').properties.windowSize).toBe('P2D');
    expect(rule(quiet, 'mailbox-without-snapshot').properties.windowSize).toBe('P1D');
  });

  it('read only events and fields the app emits', () => {
    const events = sampleEvents();
    for (const name of Object.keys(RULES)) {
      const query = criterion(rule(quiet, name)).query as string;
      expect(query).toContain(`message startswith "${TELEMETRY_PREFIX}"`);
      expect(query).toContain(`substring(message, ${TELEMETRY_PREFIX.length})`);
      const named = [...query.matchAll(/tostring\(event\.name\) == "(\w+)"/g)].map((m) => m[1]!);
      expect(named.length, name).toBe(1);
      expect(Object.values(TELEMETRY_EVENTS)).toContain(named[0]);
      const event = events.find((e) => e.name === named[0])!;
      for (const [, field] of query.matchAll(/event\.(\w+)/g))
        expect(Object.keys(event), `${name} reads ${field}`).toContain(field);
    }
  });

  it('filter what each name says: a failed run, errors, no snapshot, a mass deletion, verification damage', () => {
    const q = (name: string) => criterion(rule(quiet, name)).query as string;
    expect(q('backup-run-failed')).toContain('tostring(event.status) == "Failed"');
    expect(q('backup-run-errors')).toContain('tostring(event.status) == "CompletedWithErrors"');
    expect(q('mailbox-without-snapshot')).toMatch(
      /countif\(isnotempty\(tostring\(event\.snapshotId\)\)\)[\s\S]*where snapshots == 0/,
    );
    expect(q('backup-run-missed')).toMatch(/where timestamp > ago\(26h\)[\s\S]*"BackupRunFinished"/);
    expect(q('mass-deletion')).toContain('tobool(event.massDeletion)');
    expect(q('verification-problems')).toContain('toint(event.verifyProblems) > 0');
  });
});

describe('the action group', () => {
  it('emails the address given at deploy time, and every rule notifies it', () => {
    const groups = of(emailing, 'Microsoft.Insights/actionGroups');
    expect(groups).toHaveLength(1);
    expect(groups[0]!.location).toBe('global');
    expect(groups[0]!.properties).toMatchObject({
      enabled: true,
      groupShortName: expect.stringMatching(/^.{1,12}$/),
      emailReceivers: [{ name: 'admin', emailAddress: 'ops@contoso.example', useCommonAlertSchema: true }],
    });
    for (const r of rules(emailing))
      expect((r.properties.actions as Json).actionGroups, r.name).toEqual([
        expect.stringMatching(new RegExp(`/providers/Microsoft\\.Insights/actionGroups/${groups[0]!.name}$`)),
      ]);
  });

  it('without an address: no action group, and the rules notify no one (the post-provision hook says so)', () => {
    expect(of(quiet, 'Microsoft.Insights/actionGroups')).toEqual([]);
    for (const r of rules(quiet)) expect((r.properties.actions as Json).actionGroups).toEqual([]);
  });
});
