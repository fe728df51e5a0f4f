import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../scripts/bicep/build.js';
import { allResources, deployMain, of, one, type DeployedResource, type Deployment } from '../support/arm.js';

/**
 * Nothing can delete or overwrite an audit record: read from the deployment (the container's retention policy,
 * the app's roles on the audit account) and from the code (the only code given the audit container creates
 * blobs if absent and appends; it never uploads over, deletes or changes a blob).
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

  it('gives the app a role on it that can read, create and append, but not delete or anything else', () => {
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
    for (const forbidden of [
      'delete',
      'deleteBlobVersion/action',
      'immutableStorage/runAsSuperUser/action',
      'move/action',
    ])
      expect(
        dataActions.some((p) => grants(p, `${BLOB_ACTION}${forbidden}`)),
        forbidden,
      ).toBe(false);
    expect(dataActions.sort()).toEqual([`${BLOB_ACTION}add/action`, `${BLOB_ACTION}read`, `${BLOB_ACTION}write`]);
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
