extension microsoftGraphV1

// Microsoft Graph application permissions (app roles) for the app's managed identity. This needs the Microsoft
// Graph Bicep extension (infra/bicepconfig.json) and a deployer who may grant app roles: a Privileged Role
// Administrator, or a pipeline whose service principal has AppRoleAssignment.ReadWrite.All and, to read Graph's
// own service principal and its app roles, Application.Read.All. Without that, set
// MAILBOX_VAULT_GRANT_GRAPH_PERMISSIONS=false and grant them with infra/scripts/grant-graph-permissions.sh.

@description('Object id of the managed identity that receives the roles.')
param principalId string

@allowed(['backupOnly', 'backupAndRestore'])
param permissions string = 'backupAndRestore'

@description('The scope is an Entra group, so its members must be readable.')
param scopeByGroup bool = false

// Read and export only: what a backup needs.
var backupRoles = [
  'User.Read.All'
  'MailboxFolder.Read.All'
  'MailboxItem.Read.All'
  'MailboxItem.Export.All'
]
// Restore adds import sessions and the import POST, and creating the folders it restores into.
var restoreRoles = [
  'MailboxItem.ImportExport.All'
  'MailboxFolder.ReadWrite.All'
]
// Downloads (README, Downloads) also need Mail.ReadWrite, but on the staging mailbox alone: it is granted in
// Exchange Online through RBAC for Applications (infra/scripts/grant-staging-access.ps1), never here, where an
// app role would reach every mailbox of the tenant.
var groupRoles = scopeByGroup ? ['GroupMember.Read.All'] : []
var roles = concat(backupRoles, permissions == 'backupAndRestore' ? restoreRoles : [], groupRoles)

resource graph 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: '00000003-0000-0000-c000-000000000000'
}

resource grants 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [
  for role in roles: {
    appRoleId: filter(graph.appRoles, r => r.value == role)[0].id
    principalId: principalId
    resourceId: graph.id
  }
]

output grantedRoles array = roles
