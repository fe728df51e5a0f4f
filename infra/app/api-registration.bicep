extension microsoftGraphV1

// The API's app registration: what callers sign in to (App Service Authentication validates their tokens for it),
// with the app roles the code checks (shared/access/roles.ts). Needs the Microsoft Graph Bicep extension and a
// deployer who may create applications (Application Administrator, or Application.ReadWrite.All for a pipeline).
// Without that, create the registration by hand and name it with MAILBOX_VAULT_API_CLIENT_ID.

@description('Unique name of the registration in the tenant (an alternate key: redeploying updates it).')
param uniqueName string
param displayName string
@description('Every signed-in user may call the API (self-service); otherwise only those assigned a role.')
param selfService bool = false
@description('Host name of the function app: browsers sign in to the portal through App Service Authentication there.')
param appHostName string

// Fixed ids, so a redeployment keeps each role (and its assignments) rather than replacing it.
var roles = [
  {
    value: 'MailboxVault.Reader'
    displayName: 'Mailbox vault reader'
    description: 'See runs, reports, snapshots and the audit trail; browse backed-up mailboxes.'
    id: guid('mailbox-vault', 'MailboxVault.Reader')
  }
  {
    value: 'MailboxVault.Operator'
    displayName: 'Mailbox vault operator'
    description: 'Everything a reader may, and start backups and maintenance (prune, verify).'
    id: guid('mailbox-vault', 'MailboxVault.Operator')
  }
  {
    value: 'MailboxVault.Restorer'
    displayName: 'Mailbox vault restorer'
    description: 'Everything a reader may, and start and cancel restores into any mailbox in scope.'
    id: guid('mailbox-vault', 'MailboxVault.Restorer')
  }
]

// Azure CLI may ask for tokens for the API on a user's behalf (az account get-access-token --scope …).
var azureCliAppId = '04b07795-8ddb-461a-bbee-02f9e1bf7b46'
var userImpersonationId = guid('mailbox-vault', 'user_impersonation')
var identifierUri = 'api://${tenant().tenantId}/${uniqueName}'

resource api 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  signInAudience: 'AzureADMyOrg'
  identifierUris: [identifierUri]
  // The portal's browser sign-in (App Service Authentication, /.auth/login/aad): Entra ID posts the ID token back to
  // Easy Auth's callback. Without a client secret Easy Auth uses OpenID Connect's implicit flow, which needs ID token
  // issuance; access tokens are never issued on that channel (the session cookie stands in for them).
  web: {
    redirectUris: ['https://${appHostName}/.auth/login/aad/callback']
    implicitGrantSettings: {
      enableIdTokenIssuance: true
      enableAccessTokenIssuance: false
    }
  }
  appRoles: [
    for role in roles: {
      id: role.id
      value: role.value
      displayName: role.displayName
      description: role.description
      allowedMemberTypes: ['User', 'Application']
      isEnabled: true
    }
  ]
  api: {
    requestedAccessTokenVersion: 2
    oauth2PermissionScopes: [
      {
        id: userImpersonationId
        value: 'user_impersonation'
        type: 'User'
        isEnabled: true
        adminConsentDisplayName: 'Use mailbox-vault as the signed-in user'
        adminConsentDescription: 'Call the mailbox-vault API with the roles the signed-in user holds.'
        userConsentDisplayName: 'Use mailbox-vault as you'
        userConsentDescription: 'Call the mailbox-vault API with the roles you hold.'
      }
    ]
    preAuthorizedApplications: [
      {
        appId: azureCliAppId
        delegatedPermissionIds: [userImpersonationId]
      }
    ]
  }
}

resource apiPrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: api.appId
  // Without self-service only users, groups and apps assigned a role get a token at all.
  appRoleAssignmentRequired: !selfService
}

output clientId string = api.appId
output identifierUri string = identifierUri
