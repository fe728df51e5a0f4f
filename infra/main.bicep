targetScope = 'subscription'

// mailbox-vault: a Flex Consumption Functions app (Node 22) with a user-assigned identity, identity-based host
// storage (blob, queue and table: Durable Functions needs all three), a separate vault storage account hardened
// for backups, Key Vault in RBAC mode, Application Insights on Log Analytics with local auth off, and the
// Microsoft Graph application permissions the app needs, granted to its identity.

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; with the subscription and location it seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region for every resource (Flex Consumption must be available there).')
@metadata({ azd: { type: 'location' } })
param location string

@description('Object id of the user or service principal running the deployment; it gets data access for troubleshooting. Empty: none.')
param principalId string = ''

@allowed(['User', 'ServicePrincipal'])
@description('Kind of principalId: ServicePrincipal when a pipeline deploys.')
param principalType string = 'User'

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

@description('Grant the Graph permissions from this deployment (needs a deployer allowed to assign app roles). False: grant them as the README shows.')
param grantGraphPermissions bool = true

@description('Mailboxes in scope: UPNs separated by commas.')
param scopeUsers string = ''

@description('Object id of an Entra group whose members are in scope.')
param scopeGroupId string = ''

@description('NCRONTAB schedule of the backup (UTC).')
param backupSchedule string = '0 0 2 * * *'

@description('NCRONTAB schedule of vault maintenance: pruning by the retention policy, then a sampled verification (UTC).')
param maintenanceSchedule string = '0 30 5 * * *'

@description('Retention: every snapshot for keepAllDays, then one a day for dailyDays, one a week for weeklyWeeks, one a month for monthlyMonths.')
param retention { keepAllDays: int, dailyDays: int, weeklyWeeks: int, monthlyMonths: int } = {
  keepAllDays: 7
  dailyDays: 30
  weeklyWeeks: 12
  monthlyMonths: 12
}

@minValue(0)
@maxValue(3650)
@description('Version-level immutability (WORM) of the vault, in days; 0 leaves it off. Once on, stored versions cannot be deleted or overwritten by anyone for that long, a stolen credential included.')
param immutabilityDays int = 0

@minValue(1)
@maxValue(365)
@description('Soft delete retention for vault blobs and containers, in days.')
param softDeleteDays int = 14

@description('Put storage and Key Vault behind private endpoints in a virtual network the app is integrated with.')
param vnetEnabled bool = false

@description('Node.js version of the Functions runtime.')
@allowed(['20', '22'])
param nodeVersion string = '22'

param resourceGroupName string = ''
param functionAppName string = ''
param identityName string = ''
param hostStorageAccountName string = ''
param vaultStorageAccountName string = ''
param keyVaultName string = ''
param logAnalyticsName string = ''
param applicationInsightsName string = ''
param appServicePlanName string = ''
param vnetName string = ''

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var appName = !empty(functionAppName) ? functionAppName : '${abbrs.webSitesFunctions}mailbox-vault-${resourceToken}'
var deploymentContainerName = 'app-package-${take(resourceToken, 7)}'
var vaultContainerName = 'mailbox-vault'
var taskHubName = 'mailboxvault'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

// The app's own identity: Graph, the vault, host storage, Key Vault and App Insights all trust it.
module identity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
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

module logAnalytics 'br/public:avm/res/operational-insights/workspace:0.11.1' = {
  name: 'logAnalytics'
  scope: rg
  params: {
    name: !empty(logAnalyticsName) ? logAnalyticsName : '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    location: location
    tags: tags
    dataRetention: 30
  }
}

module monitoring 'br/public:avm/res/insights/component:0.6.0' = {
  name: 'monitoring'
  scope: rg
  params: {
    name: !empty(applicationInsightsName) ? applicationInsightsName : '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
    workspaceResourceId: logAnalytics.outputs.resourceId
    disableLocalAuth: true
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

// The vault: backups only. Versioning, soft delete and optional version-level WORM so that backups survive a
// stolen credential; no shared keys, no public access.
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
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
  }
}

module keyVault 'app/key-vault.bicep' = {
  name: 'keyVault'
  scope: rg
  params: {
    name: !empty(keyVaultName) ? keyVaultName : '${abbrs.keyVaultVaults}${take(resourceToken, 20)}'
    location: location
    tags: tags
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
  }
}

module privateEndpoints 'app/private-endpoints.bicep' = if (vnetEnabled) {
  name: 'privateEndpoints'
  scope: rg
  params: {
    location: location
    tags: tags
    vnetName: vnetEnabled ? network.outputs.name : ''
    subnetName: vnetEnabled ? network.outputs.privateEndpointSubnetName : ''
    hostStorageAccountName: hostStorage.outputs.name
    vaultStorageAccountName: vault.outputs.name
    keyVaultName: keyVault.outputs.name
  }
}

module plan 'br/public:avm/res/web/serverfarm:0.1.1' = {
  name: 'plan'
  scope: rg
  params: {
    name: !empty(appServicePlanName) ? appServicePlanName : '${abbrs.webServerFarms}${resourceToken}'
    sku: {
      name: 'FC1'
      tier: 'FlexConsumption'
    }
    reserved: true
    location: location
    tags: tags
  }
}

module app 'app/function-app.bicep' = {
  name: 'functionApp'
  scope: rg
  params: {
    name: appName
    location: location
    tags: tags
    planId: plan.outputs.resourceId
    nodeVersion: nodeVersion
    identityId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    hostStorageAccountName: hostStorage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.name
    subnetId: vnetEnabled ? network.outputs.appSubnetId : ''
    settings: {
      taskHub: taskHubName
      vaultBlobEndpoint: vault.outputs.blobEndpoint
      vaultContainerName: vaultContainerName
      keyVaultUri: keyVault.outputs.uri
      graphCredential: graphCredential
      graphTenantId: graphTenantId
      graphClientId: graphClientId
      graphSecretName: graphSecretName
      scopeUsers: scopeUsers
      scopeGroupId: scopeGroupId
      backupSchedule: backupSchedule
      maintenanceSchedule: maintenanceSchedule
      retention: retention
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
    applicationInsightsName: monitoring.outputs.name
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
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.connectionString
