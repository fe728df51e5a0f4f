// The vault account: backups and nothing else. Shared keys off (identity only), no public access, TLS 1.2,
// blob versioning, soft delete for blobs and containers, and optional version-level immutability (WORM): with
// it, no one can delete or overwrite a stored version before its period ends, a stolen credential included.
// Turning immutability on cannot be undone for versions already written; the period can only be extended.

param name string
param location string
param tags object = {}
param containerName string
@minValue(1)
param softDeleteDays int = 14
@minValue(0)
param immutabilityDays int = 0
@allowed(['Enabled', 'Disabled'])
param publicNetworkAccess string = 'Enabled'

var worm = immutabilityDays > 0

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: union(tags, { purpose: 'mailbox-vault backups' })
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
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      defaultAction: publicNetworkAccess == 'Enabled' ? 'Allow' : 'Deny'
      bypass: 'AzureServices'
    }
    immutableStorageWithVersioning: worm ? {
      enabled: true
      immutabilityPolicy: {
        immutabilityPeriodSinceCreationInDays: immutabilityDays
        state: 'Unlocked'
        allowProtectedAppendWrites: false
      }
    } : null
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
        immutableStorageWithVersioning: worm ? { enabled: true } : null
      }
    }
  }
}

// Pruning deletes expired blobs; versioning keeps each as a previous version. This rule removes those after the
// soft delete period, so pruning frees the space (versions under a WORM period are left until it ends).
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
output immutabilityDays int = immutabilityDays
