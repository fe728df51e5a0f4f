import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SETTINGS } from '../../shared/config.js';
import {
  bicepFiles,
  EXTENSION_STATEMENT,
  INFRA,
  parseBicep,
  properties,
  resources,
  type ParsedBicep,
} from '../support/bicep.js';

/**
 * The infrastructure read together with the code: it must parse, provide every setting the code reads, assign
 * every role the code needs, harden the vault, and never rely on shared keys.
 */

const parsed = new Map<string, ParsedBicep>();
const file = (relative: string) => parsed.get(join(INFRA, relative))!;
const prop = (relative: string, key: string) =>
  properties(file(relative))
    .filter((p) => p.key === key)
    .map((p) => p.value);

beforeAll(async () => {
  for (const path of bicepFiles()) parsed.set(path, await parseBicep(path));
});

describe('Bicep syntax', () => {
  it('finds the templates', () => {
    expect([...parsed.keys()].map((p) => p.slice(INFRA.length + 1))).toEqual(
      expect.arrayContaining([
        'main.bicep',
        'app/function-app.bicep',
        'app/vault-storage.bicep',
        'app/rbac.bicep',
        'app/graph-permissions.bicep',
        'app/key-vault.bicep',
      ]),
    );
  });

  it.each(bicepFiles().map((p) => [p.slice(INFRA.length + 1), p]))(
    '%s parses without errors (tree-sitter-bicep)',
    (_name, path) => {
      expect(parsed.get(path)!.errors).toEqual([]);
    },
  );

  it('uses the Graph extension only in its own module, declared in bicepconfig.json', () => {
    const withExtension = [...parsed.values()].filter((p) => /^\s*extension\b/m.test(p.source));
    expect(withExtension.map((p) => p.file.slice(INFRA.length + 1))).toEqual(['app/graph-permissions.bicep']);
    // The grammar cannot parse this one statement, so it is checked here: a declared alias, nothing else on the line.
    expect(withExtension[0]!.source).toMatch(EXTENSION_STATEMENT);
    const config = JSON.parse(readFileSync(join(INFRA, 'bicepconfig.json'), 'utf8')) as {
      extensions: Record<string, string>;
    };
    expect(config.extensions.microsoftGraphV1).toMatch(
      /^br:mcr\.microsoft\.com\/bicep\/extensions\/microsoftgraph\/v1\.0:\d+\.\d+\.\d+$/,
    );
    const a = resources(file('app/graph-permissions.bicep'));
    expect(a.map((r) => r.type)).toEqual([
      'Microsoft.Graph/servicePrincipals@v1.0',
      'Microsoft.Graph/appRoleAssignedTo@v1.0',
    ]);
  });

  it('pins registry modules to exact versions', () => {
    const refs = [...parsed.values()].flatMap((p) => [...p.source.matchAll(/'(br\/public:[^']+)'/g)].map((m) => m[1]!));
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(ref).toMatch(/^br\/public:avm\/res\/[a-z-]+\/[a-z-]+:\d+\.\d+\.\d+$/);
  });
});

describe('azd wiring', () => {
  it('has one TypeScript function service whose name matches the app tag', () => {
    const yaml = readFileSync(join(INFRA, '..', 'azure.yaml'), 'utf8');
    expect(yaml).toMatch(/services:\s*\n\s+api:\s*\n\s+project: \.\s*\n\s+language: ts\s*\n\s+host: function/);
    expect(file('app/function-app.bicep').source).toContain("'azd-service-name': 'api'");
  });

  it('ships what the remote build needs, and nothing it does not', () => {
    const yaml = readFileSync(join(INFRA, '..', 'azure.yaml'), 'utf8');
    expect(yaml).toMatch(/remoteBuild: true/);
    const ignored = readFileSync(join(INFRA, '..', '.funcignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const needed of [
      '*.ts',
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'functions',
      'shared',
      'host.json',
    ])
      expect(ignored).not.toContain(needed);
    for (const excluded of ['test', 'infra', 'node_modules', 'local.settings.json', '.local-data'])
      expect(ignored).toContain(excluded);
  });

  it('maps azd variables into the parameters and names outputs in UPPER_SNAKE', () => {
    const params = JSON.parse(readFileSync(join(INFRA, 'main.parameters.json'), 'utf8')) as {
      parameters: Record<string, { value: string }>;
    };
    expect(params.parameters.environmentName!.value).toBe('${AZURE_ENV_NAME}');
    expect(params.parameters.location!.value).toBe('${AZURE_LOCATION}');
    expect(params.parameters.principalId!.value).toBe('${AZURE_PRINCIPAL_ID=}');
    const main = file('main.bicep');
    for (const name of Object.keys(params.parameters))
      expect(main.source, `param ${name}`).toMatch(new RegExp(`^param ${name} `, 'm'));
    const outputs = [...main.source.matchAll(/^output (\w+) /gm)].map((m) => m[1]!);
    expect(outputs).toEqual(
      expect.arrayContaining([
        'AZURE_FUNCTION_APP_NAME',
        'MAILBOX_VAULT_STORAGE_ACCOUNT_URL',
        'MAILBOX_VAULT_KEY_VAULT_URL',
        'SERVICE_API_URI',
      ]),
    );
    for (const output of outputs) expect(output).toMatch(/^[A-Z][A-Z0-9_]+$/);
  });
});

describe('app settings', () => {
  /** Settings that must never be set in Azure: the simulator token, and connection strings (keys). */
  const LOCAL_ONLY = ['MAILBOX_VAULT_GRAPH_STATIC_TOKEN', 'MAILBOX_VAULT_STORAGE_CONNECTION_STRING'];

  it('provide every setting the code reads (and none of the local-only ones)', () => {
    const set = properties(file('app/function-app.bicep')).map((p) => p.key);
    for (const name of Object.keys(SETTINGS)) {
      if (LOCAL_ONLY.includes(name)) expect(set, name).not.toContain(name);
      else
        expect(set, `${name} is read by shared/config.ts but not set by infra/app/function-app.bicep`).toContain(name);
    }
    for (const name of set.filter((n) => n.startsWith('MAILBOX_VAULT_')))
      expect(Object.keys(SETTINGS), `${name} is set but not read`).toContain(name);
  });

  it('give the Functions host identity-based storage with blob, queue and table, and the task hub host.json names', () => {
    const values = Object.fromEntries(properties(file('app/function-app.bicep')).map((p) => [p.key, p.value]));
    expect(values.AzureWebJobsStorage__credential).toBe("'managedidentity'");
    for (const service of ['blob', 'queue', 'table'])
      expect(values[`AzureWebJobsStorage__${service}ServiceUri`]).toMatch(new RegExp(`primaryEndpoints\\.${service}$`));
    const host = JSON.parse(readFileSync(join(INFRA, '..', 'host.json'), 'utf8')) as {
      extensions: { durableTask: { hubName: string } };
      extensionBundle: { version: string };
    };
    expect(host.extensions.durableTask.hubName).toBe('%MAILBOX_VAULT_TASK_HUB%');
    expect(host.extensionBundle.version).toBe('[4.*, 5.0.0)');
    expect(values.APPLICATIONINSIGHTS_AUTHENTICATION_STRING).toMatch(/Authorization=AAD/);
  });

  it('run on Flex Consumption with Node 20 or 22 and a user-assigned identity', () => {
    const app = file('app/function-app.bicep').source;
    expect(app).toMatch(/kind: 'functionapp,linux'/);
    expect(app).toMatch(/type: 'UserAssigned'/);
    expect(app).toMatch(/name: 'node'/);
    expect(file('main.bicep').source).toMatch(/name: 'FC1'\s*\n\s*tier: 'FlexConsumption'/);
    expect(file('main.bicep').source).toMatch(/@allowed\(\['20', '22'\]\)\s*\nparam nodeVersion string = '22'/);
  });
});

describe('roles', () => {
  const ROLE = {
    storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
    storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
    storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
    storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
    monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
    keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
  };

  it('gives the app identity every role the code needs, on the right scope, with deterministic names', () => {
    const rbac = file('app/rbac.bicep');
    for (const [role, id] of Object.entries(ROLE)) expect(rbac.source, role).toContain(`${role}: '${id}'`);
    const assignments = resources(rbac).filter((r) => r.type.startsWith('Microsoft.Authorization/roleAssignments'));
    const appAssignments = assignments.filter((r) => /principalId: appPrincipalId/.test(r.text));
    const expected: Array<[string, string]> = [
      ['storageBlobDataOwner', 'hostStorage'],
      ['storageQueueDataContributor', 'hostStorage'],
      ['storageTableDataContributor', 'hostStorage'],
      ['storageBlobDataContributor', 'vaultStorage'],
      ['keyVaultSecretsUser', 'keyVault'],
      ['monitoringMetricsPublisher', 'applicationInsights'],
    ];
    for (const [role, scope] of expected) {
      expect(
        appAssignments.some((a) => a.text.includes(`roles.${role})`) && a.text.includes(`scope: ${scope}`)),
        `${role} on ${scope}`,
      ).toBe(true);
    }
    for (const a of assignments) expect(a.text).toMatch(/name: guid\(\w+\.id, \w+, roles\.\w+\)/);
    expect(rbac.source).toMatch(/principalType: deployerPrincipalType/);
  });

  it('grants Graph app roles matching the README: read and export for backup, import and folder write for restore', () => {
    const graph = file('app/graph-permissions.bicep').source;
    const list = (name: string) =>
      [
        ...graph
          .slice(graph.indexOf(`var ${name} = [`))
          .split(']')[0]!
          .matchAll(/'([\w.]+)'/g),
      ].map((m) => m[1]!);
    const backup = list('backupRoles');
    const restore = list('restoreRoles');
    expect(backup).toEqual([
      'User.Read.All',
      'MailboxFolder.Read.All',
      'MailboxItem.Read.All',
      'MailboxItem.Export.All',
    ]);
    expect(restore).toEqual(['MailboxItem.ImportExport.All', 'MailboxFolder.ReadWrite.All']);
    const readme = readFileSync(join(INFRA, '..', 'README.md'), 'utf8');
    const backupRow = readme.split('\n').find((l) => l.startsWith('| Backup (read and export only)'))!;
    const restoreRow = readme.split('\n').find((l) => l.startsWith('| Restore (in addition)'))!;
    for (const role of backup) expect(backupRow).toContain(`\`${role}\``);
    for (const role of restore) expect(restoreRow).toContain(`\`${role}\``);
    expect(file('main.bicep').source).toMatch(/@allowed\(\['backupOnly', 'backupAndRestore'\]\)/);
  });
});

describe('the vault account', () => {
  it('has no shared keys or public access, TLS 1.2, versioning, soft delete and an immutability knob', () => {
    const vault = 'app/vault-storage.bicep';
    expect(prop(vault, 'allowSharedKeyAccess')).toEqual(['false']);
    expect(prop(vault, 'allowBlobPublicAccess')).toEqual(['false']);
    expect(prop(vault, 'minimumTlsVersion')).toEqual(["'TLS1_2'"]);
    expect(prop(vault, 'isVersioningEnabled')).toEqual(['true']);
    const retention = properties(file(vault)).filter(
      (p) => p.key === 'deleteRetentionPolicy' || p.key === 'containerDeleteRetentionPolicy',
    );
    expect(retention.map((r) => r.key).sort()).toEqual(['containerDeleteRetentionPolicy', 'deleteRetentionPolicy']);
    for (const r of retention) expect(r.value).toMatch(/enabled: true[\s\S]*days: softDeleteDays/);
    expect(prop(vault, 'immutabilityPeriodSinceCreationInDays')).toEqual(['immutabilityDays']);
    expect(file('main.bicep').source).toMatch(/param immutabilityDays int = 0/);
    expect(prop(vault, 'publicAccess')).toEqual(["'None'"]);
  });

  it('and nothing in the infrastructure uses storage keys or key-bearing connection strings', () => {
    for (const p of parsed.values()) {
      expect(p.source, p.file).not.toMatch(
        /listKeys\(|AccountKey=|SharedAccessSignature|listAccountSas|connectionString:\s*'DefaultEndpoints/i,
      );
    }
    expect(prop('app/host-storage.bicep', 'allowSharedKeyAccess')).toEqual(['false']);
    expect(prop('app/key-vault.bicep', 'enableRbacAuthorization')).toEqual(['true']);
    expect(prop('app/function-app.bicep', 'httpsOnly')).toEqual(['true']);
  });
});
