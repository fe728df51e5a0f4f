import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../scripts/bicep/build.js';
import { SETTINGS } from '../../shared/config.js';
import { allResources, deployMain, of, one, template, type DeployedResource, type Deployment } from '../support/arm.js';
import { isUnknown, type Value } from '../support/armExpressions.js';

/**
 * What `azd up` deploys, read from the templates the Bicep CLI compiled and evaluated as ARM would (with the
 * azd environment's defaults, and with the options that change the vault): hardening, roles, settings, network.
 */

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ROLE = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1',
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
  keyVaultCertificatesOfficer: 'a4417e6f-fecd-4de8-b567-7b0420556985',
  keyVaultCryptoServiceEncryptionUser: 'e147488a-f6f5-4113-8e2d-b22465e65bf6',
} as const;

/** Blob data actions of the storage roles, as Azure's built-in role definitions list them. */
const BLOB_DATA_ACTIONS: Record<string, string[]> = {
  [ROLE.storageBlobDataOwner]: ['Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*'],
  [ROLE.storageBlobDataContributor]: [
    'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete',
    'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read',
    'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action',
    'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action',
    'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write',
  ],
  [ROLE.storageBlobDataReader]: ['Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'],
};
const DELETE_VERSION = 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/deleteBlobVersion/action';
const grants = (pattern: string, action: string) =>
  new RegExp(`^${pattern.replace(/[.]/g, '\\.').replace(/\*/g, '.*')}$`).test(action);

const APP_IDENTITY = /userAssignedIdentities\/id-mailbox-vault-/;
const ENCRYPTION_IDENTITY = /userAssignedIdentities\/id-vault-encryption-/;

const STORAGE = 'Microsoft.Storage/storageAccounts';
const roleOf = (a: DeployedResource) => String(a.properties.roleDefinitionId).split('/').pop()!;

let byDefault: Deployment;
let noNetwork: Deployment;
let hardened: Deployment;
let pipeline: Deployment;
let azdParameters: Record<string, { value: string }>;

beforeAll(async () => {
  byDefault = await deployMain();
  noNetwork = await deployMain({ vnetEnabled: false });
  hardened = await deployMain({
    immutabilityDays: 35,
    immutabilityLocked: true,
    customerManagedKey: true,
    alertEmail: 'ops@contoso.example',
  });
  pipeline = await deployMain({ principalType: 'ServicePrincipal' });
  azdParameters = (JSON.parse(readFileSync(join(ROOT, 'infra', 'main.parameters.json'), 'utf8')) as Json).parameters;
}, 240_000);

describe('storage accounts', () => {
  it('every one, whatever the options: shared keys off, no public blob access, TLS 1.2, HTTPS only, OAuth by default', () => {
    for (const d of [byDefault, noNetwork, hardened]) {
      const accounts = of(d, STORAGE);
      expect(accounts.map((a) => a.module.split('/').pop()).sort()).toEqual(['audit', 'hostStorage', 'vault']);
      for (const a of accounts)
        expect(a.properties, a.name).toMatchObject({
          allowSharedKeyAccess: false,
          allowBlobPublicAccess: false,
          minimumTlsVersion: 'TLS1_2',
          supportsHttpsTrafficOnly: true,
          defaultToOAuthAuthentication: true,
        });
    }
  });

  it('the vault: ZRS, versioning, soft delete, a lifecycle rule for old versions, no cross-tenant replication', () => {
    const vault = one(byDefault, STORAGE, 'vault');
    expect(vault.sku).toEqual({ name: 'Standard_ZRS' });
    expect(vault.properties.allowCrossTenantReplication).toBe(false);
    const blobs = one(byDefault, `${STORAGE}/blobServices`, 'vault').properties;
    expect(blobs).toMatchObject({
      isVersioningEnabled: true,
      deleteRetentionPolicy: { enabled: true, days: 14 },
      containerDeleteRetentionPolicy: { enabled: true, days: 14 },
    });
    const rule = (one(byDefault, `${STORAGE}/managementPolicies`, 'vault').properties as Json).policy.rules[0];
    expect(rule.definition.actions.version.delete).toEqual({ daysAfterCreationGreaterThan: 14 });
    expect(one(byDefault, `${STORAGE}/blobServices/containers`, 'vault').properties).toEqual({ publicAccess: 'None' });
  });

  it('immutability is off unless chosen; chosen, it is version-level and created unlocked, locked on request', async () => {
    expect(one(byDefault, STORAGE, 'vault').properties.immutableStorageWithVersioning).toBeNull();
    const unlocked = one(await deployMain({ immutabilityDays: 35 }), STORAGE, 'vault');
    expect(unlocked.properties.immutableStorageWithVersioning).toEqual({
      enabled: true,
      immutabilityPolicy: {
        immutabilityPeriodSinceCreationInDays: 35,
        state: 'Unlocked',
        allowProtectedAppendWrites: false,
      },
    });
    expect(
      (one(hardened, STORAGE, 'vault').properties as Json).immutableStorageWithVersioning.immutabilityPolicy.state,
    ).toBe('Locked');
  });

  it('a customer-managed key: in Key Vault, with infrastructure encryption, its own identity, no pinned key version', () => {
    expect(one(byDefault, STORAGE, 'vault').properties.encryption).toMatchObject({
      keySource: 'Microsoft.Storage',
      requireInfrastructureEncryption: false,
    });
    const vault = one(hardened, STORAGE, 'vault');
    const encryption = vault.properties.encryption as Json;
    expect(encryption).toMatchObject({ keySource: 'Microsoft.Keyvault', requireInfrastructureEncryption: true });
    expect(encryption.keyvaultproperties.keyname).toBe('vault-encryption');
    expect(encryption.keyvaultproperties).not.toHaveProperty('keyversion');
    expect(encryption.identity.userAssignedIdentity).toMatch(/id-vault-encryption-/);
    expect(Object.keys((vault.identity as Json).userAssignedIdentities)).toEqual([
      encryption.identity.userAssignedIdentity,
    ]);
    const key = one(hardened, 'Microsoft.KeyVault/vaults/keys', 'vaultEncryption').properties as Json;
    expect(key).toMatchObject({ kty: 'RSA', keySize: 3072 });
    expect(key.rotationPolicy.lifetimeActions).toContainEqual({
      trigger: { timeAfterCreate: 'P1Y' },
      action: { type: 'rotate' },
    });
    // Key Vault refuses a storage key without purge protection; without the option the vault is left as it was.
    expect(one(hardened, 'Microsoft.KeyVault/vaults', 'keyVault').properties.enablePurgeProtection).toBe(true);
    expect(one(byDefault, 'Microsoft.KeyVault/vaults', 'keyVault').properties.enablePurgeProtection).toBeNull();
  });
});

describe('roles', () => {
  const assignments = (d: Deployment) => of(d, 'Microsoft.Authorization/roleAssignments');
  const target = (a: DeployedResource) => /providers\/(.+)$/.exec(a.scope ?? '')![1]!;

  it('the app identity gets exactly what the code uses, each named guid(scope, principal, role)', () => {
    // The audit trail's custom role is checked on its own (test/infra/auditTrail.test.ts).
    const app = assignments(byDefault).filter(
      (a) => APP_IDENTITY.test(String(a.properties.principalId)) && !/stauditt?/.test(a.scope ?? ''),
    );
    const got = app.map((a) => `${roleOf(a)} on ${target(a)}`).sort();
    const expected = [
      `${ROLE.storageBlobDataOwner} on Microsoft.Storage/storageAccounts/sthost`,
      `${ROLE.storageQueueDataContributor} on Microsoft.Storage/storageAccounts/sthost`,
      `${ROLE.storageTableDataContributor} on Microsoft.Storage/storageAccounts/sthost`,
      `${ROLE.storageBlobDataContributor} on Microsoft.Storage/storageAccounts/stvault`,
      `${ROLE.keyVaultSecretsUser} on Microsoft.KeyVault/vaults/kv-`,
      `${ROLE.monitoringMetricsPublisher} on Microsoft.Insights/components/appi-`,
    ];
    expect(got.map((g) => g.replace(/(sthost|stvault|kv-|appi-)[a-z0-9]+$/, '$1'))).toEqual(expected.sort());
    for (const a of app) expect(a.properties.principalType).toBe('ServicePrincipal');
    // Deterministic names: the same deployment twice gives the same assignment names.
    expect(assignments(byDefault).map((a) => a.name)).toEqual(assignments(noNetwork).map((a) => a.name));
  });

  it('no identity the app holds can delete vault blob versions (pruning leaves that to the lifecycle rule)', () => {
    for (const d of [byDefault, hardened]) {
      const onVault = assignments(d).filter(
        (a) => /storageAccounts\/stvault/.test(a.scope ?? '') && !/deployer/.test(String(a.properties.principalId)),
      );
      expect(onVault.length).toBeGreaterThan(0);
      for (const a of onVault) {
        const actions = BLOB_DATA_ACTIONS[roleOf(a)];
        expect(actions, `unknown role ${roleOf(a)} on the vault`).toBeDefined();
        expect(
          actions!.some((p) => grants(p, DELETE_VERSION)),
          `${roleOf(a)} can delete versions`,
        ).toBe(false);
      }
    }
  });

  it('the deployer can read backups and put a secret or a certificate into Key Vault', () => {
    const deployer = assignments(byDefault).filter((a) => a.properties.principalId === 'deployer-object-id');
    expect(deployer.map(roleOf).sort()).toEqual(
      [ROLE.storageBlobDataReader, ROLE.keyVaultSecretsOfficer, ROLE.keyVaultCertificatesOfficer].sort(),
    );
    for (const a of deployer) expect(a.properties.principalType).toBe('User');
    const asPipeline = assignments(pipeline).filter((a) => a.properties.principalId === 'deployer-object-id');
    expect(asPipeline).toHaveLength(3);
    for (const a of asPipeline) expect(a.properties.principalType).toBe('ServicePrincipal');
  });

  it('only the encryption identity may use the vault key, and only to wrap and unwrap it', () => {
    const onKey = assignments(hardened).filter((a) =>
      /vaults\/kv-[a-z0-9]+\/keys\/vault-encryption$/.test(a.scope ?? ''),
    );
    expect(onKey.map(roleOf)).toEqual([ROLE.keyVaultCryptoServiceEncryptionUser]);
    expect(String(onKey[0]!.properties.principalId)).toMatch(ENCRYPTION_IDENTITY);
    expect(assignments(hardened).filter((a) => roleOf(a) === ROLE.keyVaultCryptoServiceEncryptionUser)).toHaveLength(1);
  });
});

/** A value other than the default, of the kind the setting takes. */
function customValue(name: string, fallback: string): string {
  const special: Record<string, string> = {
    MAILBOX_VAULT_GRAPH_LOG: 'quiet',
    MAILBOX_VAULT_GRAPH_CREDENTIAL: 'clientSecret',
    MAILBOX_VAULT_GRAPH_API_VERSION: 'beta',
    MAILBOX_VAULT_GRAPH_BASE_URL: 'https://graph.microsoft.us',
  };
  if (special[name]) return special[name];
  if (name.endsWith('SCHEDULE')) return '0 15 3 * * *';
  if (fallback === 'true' || fallback === 'false') return fallback === 'true' ? 'false' : 'true';
  return '7';
}

describe('app settings', () => {
  /** Local runs and tests only: a static token, a key-bearing connection string, Exchange's upload window scaled down. */
  const LOCAL_ONLY = [
    'MAILBOX_VAULT_GRAPH_STATIC_TOKEN',
    'MAILBOX_VAULT_STORAGE_CONNECTION_STRING',
    'MAILBOX_VAULT_GRAPH_UPLOAD_WINDOW_MS',
  ];
  /** Settings the deployment derives from what it creates; every other one comes from the azd environment. */
  const FROM_RESOURCES = [
    'MAILBOX_VAULT_TASK_HUB',
    'MAILBOX_VAULT_MANAGED_IDENTITY_CLIENT_ID',
    'MAILBOX_VAULT_STORAGE_ACCOUNT_URL',
    'MAILBOX_VAULT_CONTAINER',
    'MAILBOX_VAULT_KEY_VAULT_URL',
    'MAILBOX_VAULT_AUTHORITY_HOST',
    'MAILBOX_VAULT_AUDIT_ACCOUNT_URL',
    'MAILBOX_VAULT_AUDIT_CONTAINER',
  ];
  const appSettings = (d: Deployment) =>
    of(d, 'Microsoft.Web/sites/config').find((c) => c.module.endsWith('functionApp') && c.name.endsWith('appsettings'))!
      .properties as Record<string, Value>;

  it('set every setting the code reads, and none of the local-only ones', () => {
    const set = appSettings(byDefault);
    for (const name of Object.keys(SETTINGS)) {
      if (LOCAL_ONLY.includes(name)) expect(set, name).not.toHaveProperty(name);
      else expect(set, `${name} is read by shared/config.ts but not set`).toHaveProperty(name);
    }
    for (const name of Object.keys(set).filter((n) => n.startsWith('MAILBOX_VAULT_')))
      expect(Object.keys(SETTINGS), `${name} is set but not read`).toContain(name);
    expect(set).toMatchObject({
      MAILBOX_VAULT_TASK_HUB: 'mailboxvault',
      // The Entra ID of the cloud deployed to (national clouds included).
      MAILBOX_VAULT_AUTHORITY_HOST: 'https://login.microsoftonline.com/',
      MAILBOX_VAULT_CONTAINER: 'mailbox-vault',
      AzureWebJobsStorage__credential: 'managedidentity',
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: expect.stringMatching(/;Authorization=AAD$/),
      // glibc's malloc as the bench measures the app (test/bench/deployedAllocator.ts reads the same file).
      MALLOC_ARENA_MAX: '2',
      MALLOC_MMAP_THRESHOLD_: '131072',
      MALLOC_TRIM_THRESHOLD_: '131072',
    });
    for (const service of ['blob', 'queue', 'table'])
      expect(set[`AzureWebJobsStorage__${service}ServiceUri`]).toMatch(new RegExp(`primaryEndpoints\\.${service}$`));
  });

  it("map every other setting from the azd environment variable of the same name, with the code's default", async () => {
    const mapped = Object.entries(azdParameters).map(([param, { value }]) => ({
      param,
      ...(/^\$\{(\w+)(?:=(.*))?\}$/.exec(value)
        ? { env: /^\$\{(\w+)/.exec(value)![1]!, fallback: /=(.*)\}$/.exec(value)?.[1] ?? null }
        : {}),
    }));
    for (const [name, setting] of Object.entries(SETTINGS)) {
      if (LOCAL_ONLY.includes(name) || FROM_RESOURCES.includes(name)) continue;
      const entry = mapped.find((m) => m.env === name);
      expect(
        entry,
        `${name} is not mapped in main.parameters.json, so a value set by hand is wiped by the next provision`,
      ).toBeDefined();
      expect(entry!.fallback, name).toBe(setting.default);
      // And the value given in the environment is the one the app gets.
      const custom = customValue(name, setting.default);
      const deployed = await deployMain({ [entry!.param]: custom });
      expect(appSettings(deployed)[name], name).toBe(custom);
    }
  }, 120_000);
});

describe('the azd environment', () => {
  it('passes only parameters main.bicep declares, with the same defaults, and maps every one that is not a name override', async () => {
    const main = await template('main.json');
    const declared = main.parameters as Record<string, Json>;
    for (const name of Object.keys(azdParameters))
      expect(Object.keys(declared), `main.parameters.json passes ${name}`).toContain(name);
    const nameOverrides = Object.keys(declared).filter((n) => /Name$/.test(n) && n !== 'environmentName');
    for (const name of Object.keys(declared).filter((n) => !nameOverrides.includes(n)))
      expect(Object.keys(azdParameters), `${name} is not mapped: a value set by hand would be wiped`).toContain(name);
    for (const [name, { value }] of Object.entries(azdParameters)) {
      const fallback = /=(.*)\}$/.exec(value)?.[1];
      const p = declared[name]!;
      if (fallback === undefined || !('defaultValue' in p) || String(p.defaultValue).startsWith('[')) continue;
      expect(fallback, `${name}: main.parameters.json and main.bicep disagree on the default`).toBe(
        String(p.defaultValue),
      );
    }
  });

  it('names every output in UPPER_SNAKE, including what the hooks and the CLI read', () => {
    expect(Object.keys(byDefault.outputs)).toEqual(
      expect.arrayContaining([
        'AZURE_FUNCTION_APP_NAME',
        'AZURE_RESOURCE_GROUP',
        'SERVICE_API_URI',
        'MAILBOX_VAULT_STORAGE_ACCOUNT_URL',
        'MAILBOX_VAULT_KEY_VAULT_URL',
        'MAILBOX_VAULT_MANAGED_IDENTITY_PRINCIPAL_ID',
        'VAULT_ACCOUNT_NAME',
        'VAULT_IMMUTABLE',
        'VAULT_IMMUTABILITY_STATE',
        'VAULT_IMMUTABILITY_DAYS',
        'VAULT_CUSTOMER_MANAGED_KEY',
        'AUDIT_ACCOUNT_NAME',
        'AUDIT_CONTAINER_NAME',
        'AUDIT_RETENTION_STATE',
        'AUDIT_RETENTION_DAYS',
      ]),
    );
    for (const name of Object.keys(byDefault.outputs)) expect(name).toMatch(/^[A-Z][A-Z0-9_]+$/);
    // What the vault really has is read back from the account, not echoed from the parameters.
    expect(isUnknown(byDefault.outputs.VAULT_IMMUTABLE!)).toBe(true);
  });

  it('offers only regions with Flex Consumption, and refuses others before creating anything', async () => {
    const main = await template('main.json');
    const regions = (main.parameters as Json).location.allowedValues as string[];
    expect(regions).toEqual(expect.arrayContaining(['eastus', 'westeurope', 'swedencentral', 'australiaeast']));
    expect(regions.filter((r) => /euap|stage/.test(r))).toEqual([]);
    expect((main.parameters as Json).location.metadata).toMatchObject({ azd: { type: 'location' } });
    await expect(deployMain({ location: 'eastus2euap' })).rejects.toThrow(/not among its allowed values/);
  });

  it('gives Key Vault a fresh name after azd down, and keeps the name earlier deployments got until then', async () => {
    const name = (d: Deployment) => one(d, 'Microsoft.KeyVault/vaults', 'keyVault').name;
    const token = one(byDefault, 'Microsoft.Web/serverfarms', 'functionApp').name.replace(/^plan-/, '');
    expect(name(byDefault)).toBe(`kv-${token}`);
    const next = name(await deployMain({ keyVaultGeneration: 1 }));
    const after = name(await deployMain({ keyVaultGeneration: 2 }));
    expect(new Set([name(byDefault), next, after]).size).toBe(3);
    for (const n of [next, after]) expect(n).toMatch(/^kv-[a-z0-9]{13}$/);
  });
});

describe('the app', () => {
  it('runs on Flex Consumption (FC1) with Node 22 and the user-assigned identity, HTTPS only', () => {
    expect(one(byDefault, 'Microsoft.Web/serverfarms', 'functionApp').sku).toEqual({
      name: 'FC1',
      tier: 'FlexConsumption',
    });
    const site = one(byDefault, 'Microsoft.Web/sites', 'functionApp');
    expect(site.kind).toBe('functionapp,linux');
    expect(site.properties).toMatchObject({
      httpsOnly: true,
      functionAppConfig: { runtime: { name: 'node', version: '22' } },
      siteConfig: { minTlsVersion: '1.2', ftpsState: 'Disabled' },
    });
    expect(Object.keys((site.identity as Json).userAssignedIdentities)).toEqual([expect.stringMatching(APP_IDENTITY)]);
    const deploymentStorage = (site.properties as Json).functionAppConfig.deployment.storage;
    expect(deploymentStorage.authentication.type).toBe('UserAssignedIdentity');
  });

  it('never reads an account key or builds a key-bearing connection string', async () => {
    for (const file of ['main.json']) {
      const text = JSON.stringify(await template(file));
      expect(text).not.toMatch(/listKeys\(|listAccountSas\(|AccountKey=|SharedAccessSignature/i);
    }
  });
});

describe('network', () => {
  const access = (d: Deployment) =>
    Object.fromEntries(
      allResources(d)
        .filter((r) => 'publicNetworkAccess' in r.properties)
        .map((r) => [`${r.type} ${r.module.split('/').pop()}`, r.properties.publicNetworkAccess]),
    );

  it('states publicNetworkAccess on every resource that has one', () => {
    const types = new Set(allResources(byDefault).map((r) => r.type));
    const withSetting = ['Microsoft.Storage/storageAccounts', 'Microsoft.KeyVault/vaults', 'Microsoft.Web/sites'];
    for (const type of withSetting) {
      expect(types.has(type)).toBe(true);
      for (const r of of(byDefault, type))
        expect(r.properties, `${type} ${r.name}`).toHaveProperty('publicNetworkAccess');
    }
    for (const r of of(byDefault, 'Microsoft.Insights/components').concat(
      of(byDefault, 'Microsoft.OperationalInsights/workspaces'),
    ))
      expect(r.properties).toMatchObject({
        publicNetworkAccessForIngestion: 'Enabled',
        publicNetworkAccessForQuery: 'Enabled',
      });
  });

  it("by default: storage private (endpoints in the app's virtual network), Key Vault denies all but the network and Azure services", () => {
    expect(access(byDefault)).toEqual({
      'Microsoft.Storage/storageAccounts hostStorage': 'Disabled',
      'Microsoft.Storage/storageAccounts vault': 'Disabled',
      'Microsoft.Storage/storageAccounts audit': 'Disabled',
      'Microsoft.KeyVault/vaults keyVault': 'Enabled',
      'Microsoft.Web/sites functionApp': 'Enabled',
    });
    expect(one(byDefault, 'Microsoft.KeyVault/vaults', 'keyVault').properties.networkAcls).toEqual({
      defaultAction: 'Deny',
      bypass: 'AzureServices',
      ipRules: [],
    });
    for (const module of ['hostStorage', 'vault'])
      expect((one(byDefault, STORAGE, module).properties.networkAcls as Json).defaultAction).toBe('Deny');
    const endpoints = of(byDefault, 'Microsoft.Network/privateEndpoints')
      .map((e) => e.name)
      .sort();
    expect(endpoints).toEqual([
      'pe-audit-blob',
      'pe-host-blob',
      'pe-host-queue',
      'pe-host-table',
      'pe-key-vault',
      'pe-vault-blob',
    ]);
    const site = one(byDefault, 'Microsoft.Web/sites', 'functionApp').properties;
    expect(String(site.virtualNetworkSubnetId)).toMatch(/subnets/);
    const subnet = (one(byDefault, 'Microsoft.Network/virtualNetworks', 'network').properties as Json).subnets[0];
    expect(subnet.properties.delegations[0].properties.serviceName).toBe('Microsoft.App/environments');
  });

  it('an admin address lets the admin into Key Vault and the vault, and nothing else', async () => {
    const d = await deployMain({ allowedIpRanges: '203.0.113.7/32, 198.51.100.0/24' });
    expect(one(d, 'Microsoft.KeyVault/vaults', 'keyVault').properties.networkAcls).toMatchObject({
      defaultAction: 'Deny',
      ipRules: [{ value: '203.0.113.7/32' }, { value: '198.51.100.0/24' }],
    });
    const vault = one(d, STORAGE, 'vault').properties as Json;
    expect(vault.publicNetworkAccess).toBe('Enabled');
    expect(vault.networkAcls).toMatchObject({
      defaultAction: 'Deny',
      bypass: 'None',
      ipRules: [
        { value: '203.0.113.7/32', action: 'Allow' },
        { value: '198.51.100.0/24', action: 'Allow' },
      ],
    });
    expect(one(d, STORAGE, 'hostStorage').properties.publicNetworkAccess).toBe('Disabled');
  });

  it('without the virtual network (VNET_ENABLED=false) everything is public, behind Entra ID', () => {
    expect(Object.values(access(noNetwork))).toEqual(['Enabled', 'Enabled', 'Enabled', 'Enabled', 'Enabled']);
    expect(of(noNetwork, 'Microsoft.Network/privateEndpoints')).toEqual([]);
    expect(one(noNetwork, 'Microsoft.Web/sites', 'functionApp').properties.virtualNetworkSubnetId).toBeNull();
  });
});
