// Key Vault in RBAC mode: the Graph app registration's client secret or certificate when the app signs in to
// another tenant, and the vault account's encryption key when customer-managed keys are on.

param name string
param location string
param tags object = {}
@description('Private: only the virtual network (private endpoint), trusted Azure services and allowedIpRanges.')
param privateNetwork bool = false
@description('Addresses (CIDR) an admin works from, to store the Graph credential when the vault is private.')
param allowedIpRanges array = []
@description('Purge protection: required for a customer-managed key; once on it cannot be turned off.')
param purgeProtection bool = false

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // Omitted rather than false: a vault that has it keeps it (it can never be turned off).
    enablePurgeProtection: purgeProtection ? true : null
    // Enabled-with-deny rather than Disabled when private: Azure Storage reads a customer-managed key as a
    // trusted service, and an admin's address can be let in to store the Graph credential.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: privateNetwork ? 'Deny' : 'Allow'
      bypass: 'AzureServices'
      ipRules: [for range in allowedIpRanges: { value: range }]
    }
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
