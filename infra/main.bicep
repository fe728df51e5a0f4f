targetScope = 'subscription'

// mailbox-vault: a Flex Consumption Functions app (Node 22) with a user-assigned identity, identity-based host
// storage (blob, queue and table: Durable Functions needs all three), a separate vault storage account hardened
// for backups, Key Vault in RBAC mode, Application Insights on Log Analytics with local auth off, alert rules that
// email an admin, and the Microsoft Graph application permissions the app needs, granted to its identity.
// Every parameter azd fills is mapped in main.parameters.json, so nothing set by hand is wiped by a provision.

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; with the subscription and location it seeds every resource name.')
param environmentName string

// Regions that offer Flex Consumption (the list of Azure-Samples/functions-quickstart-typescript-azd, without the
// canary region): azd offers only these, and a deployment elsewhere stops before creating anything.
@minLength(1)
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@description('Region for every resource (one that offers Flex Consumption).')
@metadata({ azd: { type: 'location' } })
param location string

@description('Object id of the user or service principal running the deployment; it gets data access for troubleshooting. Empty: none.')
param principalId string = ''

@allowed(['User', 'ServicePrincipal'])
@description('Kind of principalId: ServicePrincipal when a pipeline deploys.')
param principalType string = 'User'

// --- Microsoft Graph

@allowed(['managedIdentity', 'clientSecret', 'clientCertificate'])
@description('How the app signs in to Microsoft Graph: its managed identity (same tenant), or an app registration whose secret or certificate is kept in Key Vault (another tenant).')
param graphCredential string = 'managedIdentity'

@description('Tenant of the app registration (clientSecret / clientCertificate).')
param graphTenantId string = ''

@description('Client id of the app registration (clientSecret / clientCertificate).')
param graphClientId string = ''

@description('Key Vault secret that holds the client secret, or the PEM certificate with its key.')
param graphSecretName string = 'graph-client-credential'

@allowed(['backupOnly', 'backupAndRestore'])
@description('Graph application permissions for the managed identity: read and export only, or also import (restore).')
param graphPermissions string = 'backupAndRestore'

@description('Grant the Graph permissions from this deployment (needs a deployer allowed to assign app roles). False: grant them with infra/scripts/grant-graph-permissions.sh.')
param grantGraphPermissions bool = true

@description('Graph\'s origin (another cloud\'s Graph, for example).')
param graphBaseUrl string = 'https://graph.microsoft.com'

@allowed(['v1.0', 'beta'])
param graphApiVersion string = 'v1.0'

// --- What is backed up, when, and how hard the app pushes Graph (README, Settings)

@description('Mailboxes in scope: UPNs separated by commas.')
param scopeUsers string = ''

@description('Object id of an Entra group whose members are in scope.')
param scopeGroupId string = ''

@description('NCRONTAB schedule of the backup (UTC).')
param backupSchedule string = '0 0 2 * * *'

@description('NCRONTAB schedule of vault maintenance: pruning by the retention policy, then a sampled verification (UTC).')
param maintenanceSchedule string = '0 30 5 * * *'

param retentionKeepAllDays string = '7'
param retentionDailyDays string = '30'
param retentionWeeklyWeeks string = '12'
param retentionMonthlyMonths string = '12'
param verifySample string = '50'
param graphMaxConcurrency string = '4'
param graphTimeoutMs string = '100000'
param graphMaxRetries string = '10'
param graphRetryBaseMs string = '1000'
param graphUploadMbPer5Min string = '150'
@allowed(['warnings', 'quiet'])
param graphLog string = 'warnings'
@allowed(['true', 'false'])
@description('Back up in-place archives as mailboxes of their own (needs graphApiVersion beta).')
param backupArchives string = 'true'
@allowed(['true', 'false'])
@description('Back up each mailbox\'s Recoverable Items deletions.')
param backupRecoverableItems string = 'false'
param mailboxWaveSize string = '10'
param exportConcurrency string = '3'
param exportBatchMb string = '24'
param importConcurrency string = '4'
@description('Seconds an import whose outcome is unknown is given to land before the target is searched and it is posted again.')
param importSettleSeconds string = '30'

@description('UPN of the shared mailbox downloads convert items in (README, Downloads); empty turns downloads off.')
param stagingMailbox string = ''
@description('How long an export (MBOX or ZIP) stays downloadable.')
param downloadLinkHours string = '24'
param windowsPerEpisode string = '20'
@description('Item records one planning activity reads before it checkpoints (README, Large mailboxes).')
param planSliceItems string = '50000'
@description('Records one commit activity sorts or merges before it checkpoints (README, Large mailboxes).')
param commitSliceRecords string = '200000'
@description('Items one restore-planning activity works through before it checkpoints (README, Large mailboxes).')
param restorePlanSliceItems string = '200000'

// --- Access: sign-in, roles, the restore policy, the audit trail (README, Access)

@description('Client id of an existing API app registration callers sign in to; empty: the deployment creates one.')
param apiClientId string = ''

@description('Application id URI of that registration; empty: api://{apiClientId}.')
param apiIdentifierUri string = ''

@allowed(['true', 'false'])
@description('Every signed-in user may browse and restore their own mailbox, into their own mailbox only.')
param selfService string = 'false'

@description('Allow-list of restore targets (UPNs, comma-separated) for restores into another mailbox; empty: any in scope.')
param restoreTargets string = ''

@minValue(1)
@maxValue(146000)
@description('Days each audit record is kept unchangeable (the audit container\'s time-based retention).')
param auditRetentionDays int = 365

@description('Lock the audit container\'s retention policy (irreversible; the postprovision hook locks it with the Azure CLI): then no one, an admin included, can shorten or remove it. Only after the audit container exists.')
param auditRetentionLocked bool = false

// --- The vault: decided when it is created (infra/hooks/preprovision.mjs refuses a change afterwards)

@minValue(0)
@maxValue(3650)
@description('Version-level immutability (WORM) of the vault, in days; 0 leaves it off. Only when the vault is created.')
param immutabilityDays int = 0

@description('Lock the immutability policy (irreversible): then no one, an admin included, can shorten or remove it. Only after the vault exists.')
param immutabilityLocked bool = false

@description('Encrypt the vault with a key in Key Vault (customer-managed) and infrastructure (double) encryption. Only when the vault is created.')
param customerManagedKey bool = false

@minValue(1)
@maxValue(365)
@description('Soft delete retention for vault blobs and containers, in days.')
param softDeleteDays int = 14

// --- Network, alerts, runtime

@description('Storage and Key Vault behind private endpoints in a virtual network the app is integrated with.')
param vnetEnabled bool = true

@description('Addresses (CIDR, comma-separated) an admin works from, let through to Key Vault and the vault when they are private.')
param allowedIpRanges string = ''

@description('Email address the alerts are sent to. Empty: the alert rules exist but notify no one.')
param alertEmail string = ''

@minValue(2)
@maxValue(47)
@description('Hours without a finished backup run before the missed-run alert fires.')
param alertMissedRunHours int = 26

@description('Bumped after azd down (infra/hooks/postdown.mjs): a soft-deleted Key Vault keeps its name for 90 days.')
param keyVaultGeneration int = 0

@description('Node.js version of the Functions runtime.')
@allowed(['20', '22'])
param nodeVersion string = '22'

param resourceGroupName string = ''
param functionAppName string = ''
param identityName string = ''
param hostStorageAccountName string = ''
param vaultStorageAccountName string = ''
param auditStorageAccountName string = ''
param keyVaultName string = ''
param logAnalyticsName string = ''
param applicationInsightsName string = ''
param appServicePlanName string = ''
param vnetName string = ''

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
// Generation 0 keeps the name earlier deployments got; each later one is a fresh name.
var keyVaultToken = keyVaultGeneration == 0
  ? resourceToken
  : toLower(uniqueString(subscription().id, environmentName, location, string(keyVaultGeneration)))
var tags = { 'azd-env-name': environmentName }
var appName = !empty(functionAppName) ? functionAppName : '${abbrs.webSitesFunctions}mailbox-vault-${resourceToken}'
var deploymentContainerName = 'app-package-${take(resourceToken, 7)}'
var vaultContainerName = 'mailbox-vault'
var auditContainerName = 'mailbox-vault-audit'
var taskHubName = 'mailboxvault'
var adminRanges = filter(map(split(allowedIpRanges, ','), r => trim(r)), r => !empty(r))

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: !empty(identityName) ? identityName : '${abbrs.managedIdentityUserAssignedIdentities}mailbox-vault-${resourceToken}'
    location: location
    tags: tags
  }
}

module network 'app/network.bicep' = if (vnetEnabled) {
  name: 'network'
  scope: rg
  params: {
    name: !empty(vnetName) ? vnetName : '${abbrs.networkVirtualNetworks}${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: !empty(logAnalyticsName) ? logAnalyticsName : '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: !empty(applicationInsightsName) ? applicationInsightsName : '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module alerts 'app/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    alertEmail: alertEmail
    actionGroupName: '${abbrs.insightsActionGroups}mailbox-vault-${resourceToken}'
    missedRunHours: alertMissedRunHours
  }
}

// Host storage: the Functions runtime, Durable's queues and tables, and the deployment package. It churns, so it
// is kept apart from the vault, whose retention and immutability would get in the host's way.
module hostStorage 'app/host-storage.bicep' = {
  name: 'hostStorage'
  scope: rg
  params: {
    name: !empty(hostStorageAccountName) ? hostStorageAccountName : '${abbrs.storageStorageAccounts}host${take(resourceToken, 13)}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
  }
}

module keyVault 'app/key-vault.bicep' = {
  name: 'keyVault'
  scope: rg
  params: {
    name: !empty(keyVaultName) ? keyVaultName : '${abbrs.keyVaultVaults}${take(keyVaultToken, 20)}'
    location: location
    tags: tags
    privateNetwork: vnetEnabled
    allowedIpRanges: adminRanges
    purgeProtection: customerManagedKey
  }
}

// The vault's customer-managed key and the identity that alone may use it (created before the vault needs them).
module encryptionIdentity 'app/identity.bicep' = if (customerManagedKey) {
  name: 'encryptionIdentity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}vault-encryption-${resourceToken}'
    location: location
    tags: tags
  }
}

module encryption 'app/vault-encryption.bicep' = if (customerManagedKey) {
  name: 'vaultEncryption'
  scope: rg
  params: {
    keyVaultName: keyVault.outputs.name
    encryptionPrincipalId: encryptionIdentity!.outputs.principalId
  }
}

// The vault: backups only. Versioning, soft delete, optional WORM and customer-managed key, so that backups
// survive a stolen credential; no shared keys, no public access.
module vault 'app/vault-storage.bicep' = {
  name: 'vault'
  scope: rg
  params: {
    name: !empty(vaultStorageAccountName) ? vaultStorageAccountName : '${abbrs.storageStorageAccounts}vault${take(resourceToken, 12)}'
    location: location
    tags: tags
    containerName: vaultContainerName
    softDeleteDays: softDeleteDays
    immutabilityDays: immutabilityDays
    immutabilityLocked: immutabilityLocked
    customerManagedKey: customerManagedKey
      ? {
          identityId: encryptionIdentity!.outputs.resourceId
          keyVaultUri: encryption!.outputs.keyVaultUri
          keyName: encryption!.outputs.keyName
        }
      : null
    privateNetwork: vnetEnabled
    allowedIpRanges: adminRanges
  }
}

module privateEndpoints 'app/private-endpoints.bicep' = if (vnetEnabled) {
  name: 'privateEndpoints'
  scope: rg
  params: {
    location: location
    tags: tags
    vnetName: network!.outputs.name
    subnetName: network!.outputs.privateEndpointSubnetName
    hostStorageAccountName: hostStorage.outputs.name
    vaultStorageAccountName: vault.outputs.name
    auditStorageAccountName: audit.outputs.name
    keyVaultName: keyVault.outputs.name
  }
}

// The app's default host name (no auto-generated domain label is asked for), known before the app exists: the
// registration's redirect URI for browser sign-in needs it. App Service's domain differs in the sovereign clouds.
var appServiceDomain = {
  AzureUSGovernment: 'azurewebsites.us'
  AzureChinaCloud: 'chinacloudsites.cn'
}
var appHostName = '${appName}.${appServiceDomain[?environment().name] ?? 'azurewebsites.net'}'

// The API's app registration (sign-in and roles), unless one is named by MAILBOX_VAULT_API_CLIENT_ID.
module apiRegistration 'app/api-registration.bicep' = if (empty(apiClientId)) {
  name: 'apiRegistration'
  scope: rg
  params: {
    uniqueName: 'mailbox-vault-${resourceToken}'
    displayName: 'mailbox-vault (${environmentName})'
    selfService: selfService == 'true'
    appHostName: appHostName
  }
}

// The audit trail: an append-only container in an account of its own.
module audit 'app/audit-storage.bicep' = {
  name: 'audit'
  scope: rg
  params: {
    name: !empty(auditStorageAccountName) ? auditStorageAccountName : '${abbrs.storageStorageAccounts}audit${resourceToken}'
    location: location
    tags: tags
    containerName: auditContainerName
    retentionDays: auditRetentionDays
    retentionLocked: auditRetentionLocked
    appPrincipalId: identity.outputs.principalId
    privateNetwork: vnetEnabled
  }
}

module app 'app/function-app.bicep' = {
  name: 'functionApp'
  scope: rg
  params: {
    name: appName
    planName: !empty(appServicePlanName) ? appServicePlanName : '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    nodeVersion: nodeVersion
    identityId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    hostStorageAccountName: hostStorage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    subnetId: vnetEnabled ? network!.outputs.appSubnetId : ''
    apiClientId: empty(apiClientId) ? apiRegistration!.outputs.clientId : apiClientId
    apiIdentifierUri: empty(apiClientId) ? apiRegistration!.outputs.identifierUri : (empty(apiIdentifierUri) ? 'api://${apiClientId}' : apiIdentifierUri)
    // Every setting shared/config.ts reads, except the two for local runs only (a static token, a connection string).
    appSettings: {
      MAILBOX_VAULT_TASK_HUB: taskHubName
      MAILBOX_VAULT_MANAGED_IDENTITY_CLIENT_ID: identity.outputs.clientId
      MAILBOX_VAULT_STORAGE_ACCOUNT_URL: vault.outputs.blobEndpoint
      MAILBOX_VAULT_CONTAINER: vaultContainerName
      MAILBOX_VAULT_KEY_VAULT_URL: keyVault.outputs.uri
      MAILBOX_VAULT_GRAPH_BASE_URL: graphBaseUrl
      MAILBOX_VAULT_GRAPH_API_VERSION: graphApiVersion
      MAILBOX_VAULT_GRAPH_CREDENTIAL: graphCredential
      MAILBOX_VAULT_TENANT_ID: graphTenantId
      MAILBOX_VAULT_CLIENT_ID: graphClientId
      // The cloud deployed to: its Entra ID, for an app registration's secret or certificate.
      MAILBOX_VAULT_AUTHORITY_HOST: environment().authentication.loginEndpoint
      MAILBOX_VAULT_GRAPH_SECRET_NAME: graphSecretName
      MAILBOX_VAULT_GRAPH_MAX_CONCURRENCY: graphMaxConcurrency
      MAILBOX_VAULT_GRAPH_TIMEOUT_MS: graphTimeoutMs
      MAILBOX_VAULT_GRAPH_MAX_RETRIES: graphMaxRetries
      MAILBOX_VAULT_GRAPH_RETRY_BASE_MS: graphRetryBaseMs
      MAILBOX_VAULT_GRAPH_UPLOAD_MB_PER_5_MIN: graphUploadMbPer5Min
      MAILBOX_VAULT_GRAPH_LOG: graphLog
      MAILBOX_VAULT_SCOPE_USERS: scopeUsers
      MAILBOX_VAULT_SCOPE_GROUP_ID: scopeGroupId
      MAILBOX_VAULT_BACKUP_SCHEDULE: backupSchedule
      MAILBOX_VAULT_BACKUP_ARCHIVES: backupArchives
      MAILBOX_VAULT_BACKUP_RECOVERABLE_ITEMS: backupRecoverableItems
      MAILBOX_VAULT_MAILBOX_WAVE_SIZE: mailboxWaveSize
      MAILBOX_VAULT_EXPORT_CONCURRENCY: exportConcurrency
      MAILBOX_VAULT_EXPORT_BATCH_MB: exportBatchMb
      MAILBOX_VAULT_IMPORT_CONCURRENCY: importConcurrency
      MAILBOX_VAULT_IMPORT_SETTLE_SECONDS: importSettleSeconds
      MAILBOX_VAULT_STAGING_MAILBOX: stagingMailbox
      MAILBOX_VAULT_DOWNLOAD_LINK_HOURS: downloadLinkHours
      MAILBOX_VAULT_WINDOWS_PER_EPISODE: windowsPerEpisode
      MAILBOX_VAULT_PLAN_SLICE_ITEMS: planSliceItems
      MAILBOX_VAULT_COMMIT_SLICE_RECORDS: commitSliceRecords
      MAILBOX_VAULT_RESTORE_PLAN_SLICE_ITEMS: restorePlanSliceItems
      MAILBOX_VAULT_MAINTENANCE_SCHEDULE: maintenanceSchedule
      MAILBOX_VAULT_RETENTION_KEEP_ALL_DAYS: retentionKeepAllDays
      MAILBOX_VAULT_RETENTION_DAILY_DAYS: retentionDailyDays
      MAILBOX_VAULT_RETENTION_WEEKLY_WEEKS: retentionWeeklyWeeks
      MAILBOX_VAULT_RETENTION_MONTHLY_MONTHS: retentionMonthlyMonths
      MAILBOX_VAULT_VERIFY_SAMPLE: verifySample
      MAILBOX_VAULT_AUDIT_ACCOUNT_URL: audit.outputs.blobEndpoint
      MAILBOX_VAULT_AUDIT_CONTAINER: audit.outputs.containerName
      MAILBOX_VAULT_SELF_SERVICE: selfService
      MAILBOX_VAULT_RESTORE_TARGETS: restoreTargets
    }
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    appPrincipalId: identity.outputs.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
    hostStorageAccountName: hostStorage.outputs.name
    vaultStorageAccountName: vault.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

// Tenant-level: Graph app roles for the identity. Kept in its own module because it needs the Microsoft Graph
// Bicep extension and a deployer allowed to assign app roles.
module graph 'app/graph-permissions.bicep' = if (grantGraphPermissions && graphCredential == 'managedIdentity') {
  name: 'graphPermissions'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    permissions: graphPermissions
    scopeByGroup: !empty(scopeGroupId)
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = app.outputs.name
output SERVICE_API_NAME string = app.outputs.name
output SERVICE_API_URI string = app.outputs.uri
output MAILBOX_VAULT_STORAGE_ACCOUNT_URL string = vault.outputs.blobEndpoint
output MAILBOX_VAULT_CONTAINER string = vaultContainerName
output MAILBOX_VAULT_KEY_VAULT_URL string = keyVault.outputs.uri
output MAILBOX_VAULT_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output MAILBOX_VAULT_MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output MAILBOX_VAULT_API_CLIENT_ID string = empty(apiClientId) ? apiRegistration!.outputs.clientId : apiClientId
output MAILBOX_VAULT_API_SCOPE string = '${empty(apiClientId) ? apiRegistration!.outputs.identifierUri : (empty(apiIdentifierUri) ? 'api://${apiClientId}' : apiIdentifierUri)}/.default'
output MAILBOX_VAULT_AUDIT_ACCOUNT_URL string = audit.outputs.blobEndpoint
// The audit container's retention policy as Azure has it: the hooks lock it and guard the lock (README, Sign-in and roles).
output AUDIT_ACCOUNT_NAME string = audit.outputs.name
output AUDIT_CONTAINER_NAME string = audit.outputs.containerName
output AUDIT_RETENTION_STATE string = audit.outputs.retentionState
output AUDIT_RETENTION_DAYS int = audit.outputs.retentionDays
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.connectionString
// What the vault was created with, read back from the account: infra/hooks/preprovision.mjs compares the next
// provision's settings with these, since Azure accepts them only at creation.
output VAULT_ACCOUNT_NAME string = vault.outputs.name
output VAULT_IMMUTABLE bool = vault.outputs.immutable
output VAULT_IMMUTABILITY_STATE string = vault.outputs.immutabilityState
output VAULT_IMMUTABILITY_DAYS int = vault.outputs.immutabilityDays
output VAULT_CUSTOMER_MANAGED_KEY bool = vault.outputs.customerManagedKey
output ALERT_ACTION_GROUP_ID string = alerts.outputs.actionGroupId
