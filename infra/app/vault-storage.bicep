// The vault account: backups and nothing else. Shared keys off (identity only), no public blob access, TLS 1.2,
// blob versioning, soft delete for blobs and containers, and two choices Azure accepts only when the account is
// created (infra/hooks/preprovision.mjs refuses a change afterwards):
// - version-level immutability (WORM): no stored version can be deleted or overwritten before its period ends,
//   by anyone once the policy is locked (until then an admin can shorten or remove it);
// - a customer-managed key in Key Vault with infrastructure (double) encryption.

param name string
param location string
param tags object = {}
param containerName string
@minValue(1)
param softDeleteDays int = 14
@minValue(0)
param immutabilityDays int = 0
@description('Lock the immutability policy: irreversible; the period can then only be extended.')
param immutabilityLocked bool = false
@description('Customer-managed key: the identity that may use it, and where it is. Empty: Microsoft-managed keys.')
param customerManagedKey { identityId: string, keyVaultUri: string, keyName: string }?
@description('Private: reached only through private endpoints and from allowedIpRanges.')
param privateNetwork bool = false
@description('Addresses (CIDR) an admin reads backups from when the account is private.')
param allowedIpRanges array = []

var worm = immutabilityDays > 0
var cmk = customerManagedKey != null

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: union(tags, { purpose: 'mailbox-vault backups' })
  kind: 'StorageV2'
  sku: { name: 'Standard_ZRS' }
  identity: cmk ? { type: 'UserAssigned', userAssignedIdentities: { '${customerManagedKey!.identityId}': {} } } : null
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    defaultToOAuthAuthentication: true
    // Private with no admin address: no public endpoint at all. With one: public, but denied to all others.
    publicNetworkAccess: privateNetwork && empty(allowedIpRanges) ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: privateNetwork ? 'Deny' : 'Allow'
      bypass: privateNetwork ? 'None' : 'AzureServices'
      ipRules: [for range in allowedIpRanges: { value: range, action: 'Allow' }]
    }
    encryption: {
      keySource: cmk ? 'Microsoft.Keyvault' : 'Microsoft.Storage'
      requireInfrastructureEncryption: cmk
      identity: cmk ? { userAssignedIdentity: customerManagedKey!.identityId } : null
      // No key version: storage follows Key Vault's rotation to the newest version by itself.
      keyvaultproperties: cmk ? { keyname: customerManagedKey!.keyName, keyvaulturi: customerManagedKey!.keyVaultUri } : null
      services: {
        blob: { enabled: true, keyType: 'Account' }
        file: { enabled: true, keyType: 'Account' }
      }
    }
    immutableStorageWithVersioning: worm
      ? {
          enabled: true
          immutabilityPolicy: {
            immutabilityPeriodSinceCreationInDays: max(immutabilityDays, 1)
            state: immutabilityLocked ? 'Locked' : 'Unlocked'
            allowProtectedAppendWrites: false
          }
        }
      : null
  }

  resource blobs 'blobServices' = {
    name: 'default'
    properties: {
      isVersioningEnabled: true
      deleteRetentionPolicy: {
        enabled: true
        days: softDeleteDays
      }
      containerDeleteRetentionPolicy: {
        enabled: true
        days: softDeleteDays
      }
    }

    resource container 'containers' = {
      name: containerName
      properties: {
        publicAccess: 'None'
      }
    }
  }
}

// Pruning deletes expired blobs; versioning keeps each as a previous version. This rule removes those after the
// soft delete period, so pruning frees the space (versions under a WORM period are left until it ends). The app's
// identity cannot delete versions itself (Storage Blob Data Contributor has no deleteBlobVersion).
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          enabled: true
          name: 'expire-previous-versions'
          type: 'Lifecycle'
          definition: {
            actions: {
              version: {
                delete: { daysAfterCreationGreaterThan: softDeleteDays }
              }
            }
            filters: { blobTypes: ['blockBlob'] }
          }
        }
      ]
    }
  }
}

output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
// From the account as deployed, so the azd environment records what the vault really has (preprovision.mjs).
output immutable bool = account.properties.?immutableStorageWithVersioning.?enabled ?? false
output immutabilityState string = account.properties.?immutableStorageWithVersioning.?immutabilityPolicy.?state ?? 'None'
output immutabilityDays int = account.properties.?immutableStorageWithVersioning.?immutabilityPolicy.?immutabilityPeriodSinceCreationInDays ?? 0
output customerManagedKey bool = account.properties.encryption.keySource == 'Microsoft.Keyvault'
