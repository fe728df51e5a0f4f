<#
.SYNOPSIS
  Grants the app Mail.ReadWrite on the staging mailbox alone, through Exchange Online's RBAC for Applications.

.DESCRIPTION
  Downloads (README, Downloads) import an item into the staging mailbox, read it back as MIME through the mail
  API ($value), and delete it for good (permanentDelete): Mail.ReadWrite, on that one mailbox. A Graph app role
  would grant it on every mailbox of the tenant, so it is granted here instead, scoped by a management scope.
  Run in Exchange Online PowerShell (Connect-ExchangeOnline) as an Exchange administrator.
#>
param(
  [Parameter(Mandatory)] [string] $AppId,
  [Parameter(Mandatory)] [string] $ObjectId,
  [Parameter(Mandatory)] [string] $StagingMailbox,
  [string] $ScopeName = 'Mailbox Vault staging'
)
$ErrorActionPreference = 'Stop'

if (-not (Get-ServicePrincipal -Identity $AppId -ErrorAction SilentlyContinue)) {
  New-ServicePrincipal -AppId $AppId -ObjectId $ObjectId -DisplayName 'Mailbox Vault' | Out-Null
}
if (-not (Get-ManagementScope -Identity $ScopeName -ErrorAction SilentlyContinue)) {
  New-ManagementScope -Name $ScopeName -RecipientRestrictionFilter "PrimarySmtpAddress -eq '$StagingMailbox'" | Out-Null
}
$existing = Get-ManagementRoleAssignment -RoleAssignee $AppId -Role 'Application Mail.ReadWrite' -ErrorAction SilentlyContinue
if (-not $existing) {
  New-ManagementRoleAssignment -App $AppId -Role 'Application Mail.ReadWrite' -CustomResourceScope $ScopeName | Out-Null
}
Test-ServicePrincipalAuthorization -Identity $AppId -Resource $StagingMailbox |
  Where-Object RoleName -eq 'Application Mail.ReadWrite' |
  Format-Table RoleName, InScope
