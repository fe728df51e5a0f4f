// The audit trail's account: one container of append blobs under a time-based retention policy that allows
// protected appends, and a role for the app that reads, creates and appends but can neither write over nor delete
// a blob. Within the retention period no one, the app included, can change or delete a record; the app cannot
// even after it.
// An account of its own: the vault's account may use version-level immutability, which excludes a container-level
// policy, and the app's Storage Blob Data Contributor on the vault (it prunes) must not reach the trail.

param name string
param location string
param tags object = {}
param containerName string
@description('Days each audit record is kept unchangeable (1 to 146000).')
@minValue(1)
@maxValue(146000)
param retentionDays int = 365
@description('The retention policy is locked, or to be locked (infra/hooks/postprovision.mjs locks it): the deployment leaves it alone, since ARM updates only an unlocked policy.')
param retentionLocked bool = false
@description('Object id of the app identity that appends records.')
param appPrincipalId string
@description('Private: reached only through private endpoints.')
param privateNetwork bool = false

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: union(tags, { purpose: 'mailbox-vault audit trail' })
  kind: 'StorageV2'
  sku: { name: 'Standard_ZRS' }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    defaultToOAuthAuthentication: true
    publicNetworkAccess: privateNetwork ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: privateNetwork ? 'Deny' : 'Allow'
      bypass: privateNetwork ? 'None' : 'AzureServices'
    }
  }

  resource blobs 'blobServices' = {
    name: 'default'

    resource container 'containers' = {
      name: containerName
      properties: {
        publicAccess: 'None'
      }

      // Time-based retention: no blob can be overwritten or deleted until it is retentionDays old; append blobs
      // may still be appended to (allowProtectedAppendWrites), which is how records are added. ARM creates it
      // unlocked, and updates it only while unlocked: an admin with rights on the account can still shorten or
      // delete it. Locking is an action of its own (POST .../lock, with the policy's etag), which
      // infra/hooks/postprovision.mjs takes when MAILBOX_VAULT_AUDIT_RETENTION_LOCKED is true (README, Sign-in and roles);
      // from then on this deployment declares the policy no more, and no one can shorten or remove it.
      resource retention 'immutabilityPolicies' = if (!retentionLocked) {
        name: 'default'
        properties: {
          immutabilityPeriodSinceCreationInDays: retentionDays
          allowProtectedAppendWrites: true
        }
      }
    }
  }
}

// The policy as Azure has it, read back after the deployment: infra/hooks/preprovision.mjs and postprovision.mjs
// compare the next provision's settings with it.
resource retentionNow 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' existing = {
  parent: account::blobs::container
  name: 'default'
}

// Read, and add/action: "create a blob or snapshot, or append data" (Azure's actions for Blob Storage role
// conditions); writing to a blob that exists (Put Blob over it, metadata, properties, tier, lease) needs
// blobs/write, which the role does not hold, nor blobs/delete. So the app creates a blob only where none is
// (shared/audit/trail.ts) and appends, and cannot overwrite or delete a record even once its retention has run
// out. Not the container or its policy either: those are management actions the app holds no role for.
var appenderActions = [
  'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'
  'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action'
]

resource appenderRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(account.id, 'mailbox-vault audit appender')
  properties: {
    roleName: 'Mailbox Vault Audit Appender (${name})'
    description: 'Reads, creates and appends audit records; cannot overwrite or delete them.'
    type: 'CustomRole'
    assignableScopes: [resourceGroup().id]
    permissions: [
      {
        actions: []
        notActions: []
        dataActions: appenderActions
        notDataActions: []
      }
    ]
  }
}

resource appAppends 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account::blobs::container.id, appPrincipalId, appenderRole.id)
  scope: account::blobs::container
  properties: {
    roleDefinitionId: appenderRole.id
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output containerName string = containerName
output retentionState string = retentionNow.properties.?state ?? 'None'
output retentionDays int = retentionNow.properties.?immutabilityPeriodSinceCreationInDays ?? 0
output appenderDataActions array = appenderActions
