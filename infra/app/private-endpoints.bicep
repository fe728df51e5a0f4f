// Private endpoints and their DNS zones for host storage (blob, queue, table), the vault (blob), the audit trail
// (blob) and Key Vault.

param location string
param tags object = {}
param vnetName string
param subnetName string
param hostStorageAccountName string
param vaultStorageAccountName string
param auditStorageAccountName string
param keyVaultName string

resource vnet 'Microsoft.Network/virtualNetworks@2024-01-01' existing = {
  name: vnetName
}

resource subnet 'Microsoft.Network/virtualNetworks/subnets@2024-01-01' existing = {
  parent: vnet
  name: subnetName
}

var endpoints = [
  { name: 'host-blob', target: resourceId('Microsoft.Storage/storageAccounts', hostStorageAccountName), group: 'blob', zone: 'privatelink.blob.${environment().suffixes.storage}' }
  { name: 'host-queue', target: resourceId('Microsoft.Storage/storageAccounts', hostStorageAccountName), group: 'queue', zone: 'privatelink.queue.${environment().suffixes.storage}' }
  { name: 'host-table', target: resourceId('Microsoft.Storage/storageAccounts', hostStorageAccountName), group: 'table', zone: 'privatelink.table.${environment().suffixes.storage}' }
  { name: 'vault-blob', target: resourceId('Microsoft.Storage/storageAccounts', vaultStorageAccountName), group: 'blob', zone: 'privatelink.blob.${environment().suffixes.storage}' }
  { name: 'audit-blob', target: resourceId('Microsoft.Storage/storageAccounts', auditStorageAccountName), group: 'blob', zone: 'privatelink.blob.${environment().suffixes.storage}' }
  { name: 'key-vault', target: resourceId('Microsoft.KeyVault/vaults', keyVaultName), group: 'vault', zone: 'privatelink.vaultcore.azure.net' }
]
var zones = union(map(endpoints, e => e.zone), [])

resource dnsZones 'Microsoft.Network/privateDnsZones@2020-06-01' = [
  for zone in zones: {
    name: zone
    location: 'global'
    tags: tags
  }
]

resource dnsLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [
  for (zone, i) in zones: {
    parent: dnsZones[i]
    name: '${vnetName}-link'
    location: 'global'
    properties: {
      virtualNetwork: { id: vnet.id }
      registrationEnabled: false
    }
  }
]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2024-01-01' = [
  for e in endpoints: {
    name: 'pe-${e.name}'
    location: location
    tags: tags
    properties: {
      subnet: { id: subnet.id }
      privateLinkServiceConnections: [
        {
          name: e.name
          properties: {
            privateLinkServiceId: e.target
            groupIds: [e.group]
          }
        }
      ]
    }
  }
]

resource zoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-01-01' = [
  for (e, i) in endpoints: {
    parent: privateEndpoints[i]
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: replace(e.zone, '.', '-')
          properties: { privateDnsZoneId: resourceId('Microsoft.Network/privateDnsZones', e.zone) }
        }
      ]
    }
    dependsOn: [dnsZones]
  }
]
