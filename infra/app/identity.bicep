// A user-assigned managed identity. The app's own identity is trusted by Graph, the vault, host storage, Key Vault
// and App Insights; the vault's encryption identity (customer-managed key) is trusted by the key alone.

param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output name string = identity.name
output resourceId string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
