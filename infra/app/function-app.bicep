// The Functions app on Flex Consumption: Node, a user-assigned identity for everything (no keys, no connection
// strings with secrets), identity-based host storage, and every setting the code reads.

param name string
param location string
param tags object = {}
param planId string
@allowed(['20', '22'])
param nodeVersion string = '22'
param identityId string
param identityClientId string
param hostStorageAccountName string
param deploymentContainerName string
param applicationInsightsName string
param subnetId string = ''
param maximumInstanceCount int = 100
param instanceMemoryMB int = 2048

@description('Values for the app settings the code reads (shared/config.ts).')
param settings {
  taskHub: string
  vaultBlobEndpoint: string
  vaultContainerName: string
  keyVaultUri: string
  graphCredential: string
  graphTenantId: string
  graphClientId: string
  graphSecretName: string
  scopeUsers: string
  scopeGroupId: string
  backupSchedule: string
  maintenanceSchedule: string
  retention: { keepAllDays: int, dailyDays: int, weeklyWeeks: int, monthlyMonths: int }
}

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: planId
    httpsOnly: true
    virtualNetworkSubnetId: empty(subnetId) ? null : subnetId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostStorage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: nodeVersion
      }
    }
  }

  resource appSettings 'config' = {
    name: 'appsettings'
    properties: {
      // Host storage through the identity: Durable Functions on Azure Storage needs blob, queue and table.
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__clientId: identityClientId
      AzureWebJobsStorage__blobServiceUri: hostStorage.properties.primaryEndpoints.blob
      AzureWebJobsStorage__queueServiceUri: hostStorage.properties.primaryEndpoints.queue
      AzureWebJobsStorage__tableServiceUri: hostStorage.properties.primaryEndpoints.table
      APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
      // App Insights with local auth off: telemetry is sent with the identity.
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'

      MAILBOX_VAULT_TASK_HUB: settings.taskHub
      MAILBOX_VAULT_MANAGED_IDENTITY_CLIENT_ID: identityClientId
      MAILBOX_VAULT_STORAGE_ACCOUNT_URL: settings.vaultBlobEndpoint
      MAILBOX_VAULT_CONTAINER: settings.vaultContainerName
      MAILBOX_VAULT_GRAPH_BASE_URL: 'https://graph.microsoft.com'
      MAILBOX_VAULT_GRAPH_API_VERSION: 'v1.0'
      MAILBOX_VAULT_GRAPH_CREDENTIAL: settings.graphCredential
      MAILBOX_VAULT_TENANT_ID: settings.graphTenantId
      MAILBOX_VAULT_CLIENT_ID: settings.graphClientId
      // The cloud deployed to: its Entra ID, for an app registration's secret or certificate.
      MAILBOX_VAULT_AUTHORITY_HOST: environment().authentication.loginEndpoint
      MAILBOX_VAULT_KEY_VAULT_URL: settings.keyVaultUri
      MAILBOX_VAULT_GRAPH_SECRET_NAME: settings.graphSecretName
      MAILBOX_VAULT_GRAPH_MAX_CONCURRENCY: '4'
      MAILBOX_VAULT_GRAPH_TIMEOUT_MS: '100000'
      MAILBOX_VAULT_GRAPH_MAX_RETRIES: '10'
      MAILBOX_VAULT_GRAPH_RETRY_BASE_MS: '1000'
      MAILBOX_VAULT_GRAPH_UPLOAD_MB_PER_5_MIN: '150'
      MAILBOX_VAULT_GRAPH_LOG: 'warnings'
      MAILBOX_VAULT_SCOPE_USERS: settings.scopeUsers
      MAILBOX_VAULT_SCOPE_GROUP_ID: settings.scopeGroupId
      MAILBOX_VAULT_BACKUP_SCHEDULE: settings.backupSchedule
      MAILBOX_VAULT_BACKUP_ARCHIVES: 'true'
      MAILBOX_VAULT_BACKUP_RECOVERABLE_ITEMS: 'false'
      MAILBOX_VAULT_MAILBOX_WAVE_SIZE: '10'
      MAILBOX_VAULT_EXPORT_CONCURRENCY: '3'
      MAILBOX_VAULT_EXPORT_BATCH_MB: '24'
      MAILBOX_VAULT_IMPORT_CONCURRENCY: '4'
      MAILBOX_VAULT_WINDOWS_PER_EPISODE: '20'
      MAILBOX_VAULT_MAINTENANCE_SCHEDULE: settings.maintenanceSchedule
      MAILBOX_VAULT_RETENTION_KEEP_ALL_DAYS: string(settings.retention.keepAllDays)
      MAILBOX_VAULT_RETENTION_DAILY_DAYS: string(settings.retention.dailyDays)
      MAILBOX_VAULT_RETENTION_WEEKLY_WEEKS: string(settings.retention.weeklyWeeks)
      MAILBOX_VAULT_RETENTION_MONTHLY_MONTHS: string(settings.retention.monthlyMonths)
      MAILBOX_VAULT_VERIFY_SAMPLE: '50'
    }
  }
}

output name string = app.name
output uri string = 'https://${app.properties.defaultHostName}'
