import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { AppendBlobClient, type ContainerClient } from '@azure/storage-blob';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ROOT } from '../../scripts/bicep/build.js';
import type { AuditRecord } from '../../shared/audit/record.js';
import { AuditTrail } from '../../shared/audit/trail.js';
import { allResources, deployMain, of, one, type DeployedResource, type Deployment } from '../support/arm.js';
import { isUnknown } from '../support/armExpressions.js';
import { auditContainerThrough, readAuditTrail } from '../support/auditTrail.js';
import { azuriteConnectionString } from '../support/vault.js';

/**
 * Nothing can delete or overwrite an audit record: read from the deployment (the container's retention policy,
 * the app's roles on the audit account: read and add/action, no write, no delete) and from the code (the only
 * code given the audit container creates blobs if absent and appends; it never uploads over, deletes or changes
 * a blob), and run on Azurite under no more rights than that role's.
 */

const APP_IDENTITY = /userAssignedIdentities\/id-mailbox-vault-/;
const BLOB_ACTION = 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/';
const grants = (pattern: string, action: string) =>
  new RegExp(`^${pattern.replace(/[.]/g, '\\.').replace(/\*/g, '.*')}$`).test(action);

let deployment: Deployment;
beforeAll(async () => {
  deployment = await deployMain();
}, 240_000);

describe('the audit trail in Azure', () => {
  it('is a container of its own account, under a time-based retention policy that allows appends only', () => {
    const container = one(deployment, 'Microsoft.Storage/storageAccounts/blobServices/containers', 'audit');
    expect(container.name).toMatch(/mailbox-vault-audit$/);
    const policy = one(
      deployment,
      'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies',
      'audit',
    ).properties;
    expect(policy).toMatchObject({ immutabilityPeriodSinceCreationInDays: 365, allowProtectedAppendWrites: true });
    // Not allowProtectedAppendWritesAll: block blobs could then be added to as well; only append blobs may.
    expect(policy).not.toHaveProperty('allowProtectedAppendWritesAll');
  });

  it('leaves the policy to the postprovision hook once it is to be locked: ARM updates only an unlocked policy', async () => {
    const locking = await deployMain({ auditRetentionLocked: true });
    expect(of(locking, 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies')).toEqual([]);
    expect(one(locking, 'Microsoft.Storage/storageAccounts/blobServices/containers', 'audit').name).toMatch(
      /mailbox-vault-audit$/,
    );
    // What the hooks go by is the policy as Azure has it, read back, not the parameters echoed.
    for (const output of ['AUDIT_RETENTION_STATE', 'AUDIT_RETENTION_DAYS'])
      expect(isUnknown(deployment.outputs[output]!), output).toBe(true);
    expect(deployment.outputs.AUDIT_ACCOUNT_NAME).toMatch(/^staudit/);
    expect(deployment.outputs.AUDIT_CONTAINER_NAME).toBe('mailbox-vault-audit');
  });

  it('gives the app a role on it that can read, create and append, but not write over, delete or anything else', () => {
    const onAudit = of(deployment, 'Microsoft.Authorization/roleAssignments').filter((a) =>
      /storageAccounts\/staudit/.test(a.scope ?? ''),
    );
    expect(onAudit).toHaveLength(1);
    expect(String(onAudit[0]!.properties.principalId)).toMatch(APP_IDENTITY);
    const definition = one(deployment, 'Microsoft.Authorization/roleDefinitions', 'audit').properties as {
      permissions: { actions: string[]; dataActions: string[] }[];
    };
    expect(String(onAudit[0]!.properties.roleDefinitionId)).toContain(
      one(deployment, 'Microsoft.Authorization/roleDefinitions', 'audit').name,
    );
    const dataActions = definition.permissions.flatMap((p) => p.dataActions);
    expect(definition.permissions.flatMap((p) => p.actions)).toEqual([]);
    // blobs/write is what writing to a blob that exists takes (Put Blob over it, metadata, properties): once a
    // record's retention ran out, it would let the app overwrite it. add/action creates and appends only.
    for (const forbidden of [
      'write',
      'delete',
      'deleteBlobVersion/action',
      'permanentDelete/action',
      'immutableStorage/runAsSuperUser/action',
      'runAsSuperUser/action',
      'move/action',
      'tags/write',
      'modifyPermissions/action',
      'manageOwnership/action',
    ])
      expect(
        dataActions.some((p) => grants(p, `${BLOB_ACTION}${forbidden}`)),
        forbidden,
      ).toBe(false);
    expect(dataActions.sort()).toEqual([`${BLOB_ACTION}add/action`, `${BLOB_ACTION}read`]);
    expect(definition.permissions.flatMap((p) => (p as { notDataActions?: string[] }).notDataActions ?? [])).toEqual(
      [],
    );
  });

  it('no other role of any identity reaches the audit account', () => {
    const assignments = of(deployment, 'Microsoft.Authorization/roleAssignments');
    const elsewhere = assignments.filter((a: DeployedResource) => !/staudit/.test(a.scope ?? ''));
    // Every other assignment names another resource: none is at resource group or subscription scope.
    for (const a of elsewhere)
      expect(a.scope ?? '', a.name).toMatch(/providers\/Microsoft\.(Storage|KeyVault|Insights)\//);
    expect(allResources(deployment).length).toBeGreaterThan(0);
  });
});

/** Every .ts file of the app (what is deployed: functions/ and shared/). */
function appSources(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith('.ts')) files.push(path);
    }
  };
  walk(join(ROOT, 'functions'));
  walk(join(ROOT, 'shared'));
  return files;
}

describe('the audit trail in the code', () => {
  const trail = readFileSync(join(ROOT, 'shared', 'audit', 'trail.ts'), 'utf8');

  it('only creates a blob when it is absent, and appends', () => {
    const calls = [...trail.matchAll(/\b(?:blob|this\.container|container)\s*\.\s*(\w+)\(/g)].map((m) => m[1]);
    // getAppendBlobClient(...) chains: its calls count as the blob's.
    calls.push(...[...trail.matchAll(/getAppendBlobClient\([^)]*\)\s*\.\s*(\w+)\(/g)].map((m) => m[1]));
    expect(new Set(calls)).toEqual(
      new Set(['getAppendBlobClient', 'createIfNotExists', 'appendBlock', 'downloadToBuffer', 'listBlobsFlat']),
    );
    for (const word of [
      'delete',
      'upload',
      'setMetadata',
      'setHTTPHeaders',
      'setTags',
      'seal',
      'commitBlockList',
      'create(',
    ])
      expect(trail, word).not.toContain(`.${word}`);
  });

  it('is the only code that reaches the audit container', () => {
    const reaching = appSources()
      .filter((file) => /config\.access\.audit|AUDIT_CONTAINER|new AuditTrail\(/.test(readFileSync(file, 'utf8')))
      .map((file) => relative(ROOT, file))
      .sort();
    expect(reaching).toEqual(['shared/config.ts', 'shared/services.ts']);
    const services = readFileSync(join(ROOT, 'shared', 'services.ts'), 'utf8');
    // services.ts hands the container to the AuditTrail and to nothing else.
    expect(services.match(/getContainerClient\(containerName\)/g)).toHaveLength(1);
    expect(services).toMatch(/new AuditTrail\(service\.getContainerClient\(containerName\)\)/);
  });
});

describe("the audit trail under the rights of the app's role (read, create, append; no write, no delete)", () => {
  const record = (at: string, id: string): AuditRecord => ({
    id,
    at,
    action: 'backup',
    outcome: 'accepted',
    status: 202,
    route: 'POST /api/backups',
    who: { kind: 'application', oid: '00000000-0000-4000-8000-000000000001', upn: null, name: 'app', roles: [] },
    clientAddress: null,
    userAgent: null,
  });
  let owner: ContainerClient;
  afterEach(async () => {
    vi.restoreAllMocks();
    await owner?.deleteIfExists();
  });

  it("appends to the hour's blob, creating it where none is, and a record can be neither written over nor deleted", async () => {
    const containers = await auditContainerThrough(azuriteConnectionString(), 'rcal');
    owner = containers.owner;
    const trail = new AuditTrail(containers.limited);
    await trail.append(record('2026-12-01T10:00:01.000Z', 'a'));
    await trail.append(record('2026-12-01T10:59:59.000Z', 'b'));
    await trail.append(record('2026-12-01T11:00:00.000Z', 'c'));
    expect((await readAuditTrail(owner)).map((r) => r.id)).toEqual(['a', 'b', 'c']);
    const names: string[] = [];
    for await (const blob of owner.listBlobsFlat()) names.push(blob.name);
    expect(names).toEqual(['records/2026/12/01/10.ndjson', 'records/2026/12/01/11.ndjson']);
    const { records } = await trail.read(new Date('2026-12-01T00:00:00Z'), new Date('2026-12-02T00:00:00Z'), 10);
    expect(records.map((r) => r.id)).toEqual(['a', 'b', 'c']);

    // These rights are the role's: the blob that exists can be added to, and nothing else.
    const existing = names[0]!;
    for (const [what, attempt] of [
      ['upload over it', () => containers.limited.getBlockBlobClient(existing).upload('x', 1)],
      ['create it again', () => containers.limited.getAppendBlobClient(existing).create()],
      ['set its metadata', () => containers.limited.getBlobClient(existing).setMetadata({ changed: 'yes' })],
      ['delete it', () => containers.limited.getBlobClient(existing).delete()],
    ] as const)
      await expect(attempt(), what).rejects.toMatchObject({ statusCode: 403 });
    expect((await readAuditTrail(owner)).map((r) => r.id)).toEqual(['a', 'b', 'c']);
  });

  it("another process creating the hour's blob first (the create then refused as a write) costs no record", async () => {
    const containers = await auditContainerThrough(azuriteConnectionString(), 'rcal');
    owner = containers.owner;
    const other = new AuditTrail(containers.limited);
    const create = AppendBlobClient.prototype.createIfNotExists;
    // Between this process's append finding no blob and its create, the other process creates it and appends.
    vi.spyOn(AppendBlobClient.prototype, 'createIfNotExists').mockImplementationOnce(async function (
      this: AppendBlobClient,
      options,
    ) {
      await other.append(record('2026-12-01T12:00:02.000Z', 'other'));
      return create.call(this, options);
    });
    await new AuditTrail(containers.limited).append(record('2026-12-01T12:00:01.000Z', 'this'));
    const stored = (await owner.getBlobClient('records/2026/12/01/12.ndjson').downloadToBuffer()).toString('utf8');
    expect(
      stored
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as AuditRecord).id),
    ).toEqual(['other', 'this']);
  });

  it('a create refused as a conflict with the blob (a 409 Azure may answer under retention) costs no record either', async () => {
    const containers = await auditContainerThrough(azuriteConnectionString(), 'rcal');
    owner = containers.owner;
    const other = new AuditTrail(containers.limited);
    vi.spyOn(AppendBlobClient.prototype, 'createIfNotExists').mockImplementationOnce(async () => {
      await other.append(record('2026-12-01T14:00:02.000Z', 'other'));
      throw Object.assign(new Error('This operation is not permitted as the blob is immutable'), {
        statusCode: 409,
        code: 'BlobImmutableDueToPolicy',
      });
    });
    await new AuditTrail(containers.limited).append(record('2026-12-01T14:00:01.000Z', 'this'));
    const stored = (await owner.getBlobClient('records/2026/12/01/14.ndjson').downloadToBuffer()).toString('utf8');
    expect(stored.split('\n').filter(Boolean).length).toBe(2);
  });

  it("without the right to create, the hour's first record fails with that refusal (403), not with a missing blob", async () => {
    const containers = await auditContainerThrough(azuriteConnectionString(), 'ral');
    owner = containers.owner;
    await expect(
      new AuditTrail(containers.limited).append(record('2026-12-01T13:00:00.000Z', 'lost')),
    ).rejects.toMatchObject({ statusCode: 403 });
  });
});
