<#
.SYNOPSIS
  Exchange Online RBAC for Applications: limits the app's mailbox permissions to the mailboxes in scope.

.DESCRIPTION
  Graph application permissions are tenant-wide: granted in Entra ID, they reach every mailbox. Exchange Online's
  RBAC for Applications grants the same permissions through Exchange instead, limited by a management scope. This
  script, run by an Exchange administrator (Organization Management) in Exchange Online PowerShell:

   1. registers the app's service principal in Exchange (New-ServicePrincipal), once;
   2. creates (or updates) a management scope: the members of the scope group (MAILBOX_VAULT_SCOPE_GROUP_ID), or
      the mailboxes listed (MAILBOX_VAULT_SCOPE_USERS), by a recipient filter;
   3. for each Graph permission the app uses, assigns Exchange's application role "Application <permission>"
      limited to that scope — where Exchange offers one. Where it does not, the permission can only be granted
      tenant-wide in Entra ID, and the script says so.

  It changes nothing in Entra ID. A permission is scoped only once its tenant-wide grant in Entra ID is removed
  (Exchange's grant and Entra's add up); the script lists which grants may be removed, and which must stay.
  README ("Least privilege on the Exchange side") says which permissions this covers.

.EXAMPLE
  Connect-ExchangeOnline
  ./infra/scripts/exchange-rbac.ps1 -AppId <client id of the managed identity> -ServicePrincipalObjectId <its object id> `
    -ScopeGroupDistinguishedName (Get-Group mailbox-vault-scope).DistinguishedName
#>
[CmdletBinding(SupportsShouldProcess)]
param(
  [Parameter(Mandatory)] [string] $AppId,
  [Parameter(Mandatory)] [string] $ServicePrincipalObjectId,
  [string] $ScopeGroupDistinguishedName,
  [string[]] $ScopeUsers = @(),
  [ValidateSet('backupOnly', 'backupAndRestore')] [string] $Permissions = 'backupAndRestore',
  [string] $ScopeName = 'mailbox-vault scope'
)
$ErrorActionPreference = 'Stop'

# The mailbox permissions the app uses (infra/app/graph-permissions.bicep). User.Read.All and GroupMember.Read.All
# are directory permissions: Exchange does not hold them, so they stay tenant-wide grants in Entra ID.
$mailboxPermissions = @('MailboxFolder.Read.All', 'MailboxItem.Read.All', 'MailboxItem.Export.All')
if ($Permissions -eq 'backupAndRestore') { $mailboxPermissions += @('MailboxItem.ImportExport.All', 'MailboxFolder.ReadWrite.All') }

if (-not $ScopeGroupDistinguishedName -and $ScopeUsers.Count -eq 0) {
  throw 'Name the scope: -ScopeGroupDistinguishedName (a mail-enabled group) or -ScopeUsers.'
}

# 1. The service principal, as Exchange knows it.
$sp = Get-ServicePrincipal -Identity $ServicePrincipalObjectId -ErrorAction SilentlyContinue
if (-not $sp -and $PSCmdlet.ShouldProcess($AppId, 'New-ServicePrincipal')) {
  $sp = New-ServicePrincipal -AppId $AppId -ObjectId $ServicePrincipalObjectId -DisplayName 'mailbox-vault'
}

# 2. The management scope: the scope group's members, or the listed mailboxes.
$filter = if ($ScopeGroupDistinguishedName) {
  "MemberOfGroup -eq '$ScopeGroupDistinguishedName'"
} else {
  ($ScopeUsers | ForEach-Object { "UserPrincipalName -eq '$_'" }) -join ' -or '
}
$scope = Get-ManagementScope -Identity $ScopeName -ErrorAction SilentlyContinue
if ($PSCmdlet.ShouldProcess($ScopeName, "management scope $filter")) {
  if ($scope) { Set-ManagementScope -Identity $ScopeName -RecipientRestrictionFilter $filter }
  else { $scope = New-ManagementScope -Name $ScopeName -RecipientRestrictionFilter $filter }
}

# 3. Each permission through Exchange's application role, where there is one.
$scoped = @(); $tenantWide = @()
foreach ($permission in $mailboxPermissions) {
  $role = Get-ManagementRole -Identity "Application $permission" -ErrorAction SilentlyContinue
  if (-not $role) { $tenantWide += $permission; continue }
  $name = "mailbox-vault $permission"
  if (-not (Get-ManagementRoleAssignment -Identity $name -ErrorAction SilentlyContinue) -and
      $PSCmdlet.ShouldProcess($name, 'New-ManagementRoleAssignment')) {
    New-ManagementRoleAssignment -Name $name -App $sp.AppId -Role $role.Name -CustomResourceScope $ScopeName | Out-Null
  }
  $scoped += $permission
}

Write-Host "Scoped to '$ScopeName' through Exchange: $(if ($scoped) { $scoped -join ', ' } else { 'none' })"
Write-Host "Remove these tenant-wide grants from the app in Entra ID to make the scope effective: $($scoped -join ', ')"
Write-Host "Exchange offers no application role for: $(if ($tenantWide) { $tenantWide -join ', ' } else { 'none' }) - they stay tenant-wide."
Write-Host 'Always tenant-wide (directory, not Exchange): User.Read.All, and GroupMember.Read.All with a scope group.'
Write-Host "Check: Test-ServicePrincipalAuthorization -Identity $($sp.AppId) -Resource <a mailbox in and one out of scope>"
