// The vault account's customer-managed key: an RSA key in Key Vault that Key Vault rotates itself (storage follows
// the newest version), and a dedicated identity that may only wrap and unwrap with it, so the app's own identity
// gets no rights on the key.

param keyVaultName string
param keyName string = 'vault-encryption'
@description('Principal id of the identity the vault account encrypts with.')
param encryptionPrincipalId string

var cryptoServiceEncryptionUser = 'e147488a-f6f5-4113-8e2d-b22465e65bf6'

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource key 'Microsoft.KeyVault/vaults/keys@2023-07-01' = {
  parent: keyVault
  name: keyName
  properties: {
    kty: 'RSA'
    keySize: 3072
    keyOps: ['wrapKey', 'unwrapKey']
    attributes: { enabled: true }
    rotationPolicy: {
      attributes: { expiryTime: 'P2Y' }
      lifetimeActions: [
        { trigger: { timeAfterCreate: 'P1Y' }, action: { type: 'rotate' } }
        { trigger: { timeBeforeExpiry: 'P30D' }, action: { type: 'notify' } }
      ]
    }
  }
}

// Key Vault Crypto Service Encryption User, on the key alone: read it, wrap and unwrap the account key.
resource encryptionUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(key.id, encryptionPrincipalId, cryptoServiceEncryptionUser)
  scope: key
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', cryptoServiceEncryptionUser)
    principalId: encryptionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output keyName string = key.name
output keyVaultUri string = keyVault.properties.vaultUri
