#!/usr/bin/env bash
# Grants mailbox-vault's Microsoft Graph application permissions (app roles) to its managed identity, for when the
# deployment does not (MAILBOX_VAULT_GRANT_GRAPH_PERMISSIONS=false). The same roles as infra/app/graph-permissions.bicep.
#
#   infra/scripts/grant-graph-permissions.sh <identity principal id> [backupOnly|backupAndRestore] [--group]
#
# The principal id is MAILBOX_VAULT_MANAGED_IDENTITY_PRINCIPAL_ID (azd env get-value). --group adds
# GroupMember.Read.All, needed when the scope is an Entra group. Run it signed in to the Azure CLI (az login) as a
# Privileged Role Administrator, or as a service principal with the Graph permissions AppRoleAssignment.ReadWrite.All
# and Application.Read.All. Roles already granted are left as they are, so it can be run again.
set -euo pipefail

principal="${1:?usage: $0 <identity principal id> [backupOnly|backupAndRestore] [--group]}"
permissions="${2:-backupAndRestore}"
group="${3:-}"

roles=(User.Read.All MailboxFolder.Read.All MailboxItem.Read.All MailboxItem.Export.All)
case "$permissions" in
  backupOnly) ;;
  backupAndRestore) roles+=(MailboxItem.ImportExport.All MailboxFolder.ReadWrite.All) ;;
  *) echo "permissions must be backupOnly or backupAndRestore, not '$permissions'" >&2; exit 2 ;;
esac
case "$group" in
  --group) roles+=(GroupMember.Read.All) ;;
  '') ;;
  *) echo "unknown option '$group'" >&2; exit 2 ;;
esac

graph_app_id=00000003-0000-0000-c000-000000000000
graph=$(az ad sp show --id "$graph_app_id" --query id -o tsv)
granted=$(az rest --method GET \
  --uri "https://graph.microsoft.com/v1.0/servicePrincipals/$principal/appRoleAssignments" \
  --query "value[?resourceId=='$graph'].appRoleId" -o tsv)

for role in "${roles[@]}"; do
  id=$(az ad sp show --id "$graph_app_id" --query "appRoles[?value=='$role'].id" -o tsv)
  if [ -z "$id" ]; then
    echo "Microsoft Graph has no application permission $role" >&2
    exit 1
  fi
  if grep -qx "$id" <<<"$granted"; then
    echo "$role: already granted"
    continue
  fi
  az rest --method POST \
    --uri "https://graph.microsoft.com/v1.0/servicePrincipals/$graph/appRoleAssignedTo" \
    --headers 'Content-Type=application/json' \
    --body "{\"principalId\":\"$principal\",\"resourceId\":\"$graph\",\"appRoleId\":\"$id\"}" >/dev/null
  echo "$role: granted"
done
