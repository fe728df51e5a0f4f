import { SimHttpError, sendJson } from './http.js';
import { listBody, pageOf } from './paging.js';
import type { GraphRequest } from './request.js';

/** GET /users/{user}/settings/exchange: a user's mailbox id, and on beta its archive's. */
export function getExchangeSettings({ state, res, version, params }: GraphRequest): void {
  const user = params.user!;
  const mailboxId = state.tenant.users.get(user.toLowerCase());
  if (mailboxId === undefined) throw resourceNotFound(user);
  if (mailboxId === null)
    throw new SimHttpError(
      404,
      'MailboxNotEnabledForRESTAPI',
      'The mailbox is either inactive, soft-deleted, or is hosted on-premise.',
    );
  const body: Record<string, unknown> = {
    '@odata.context': `${state.baseUrl}/${version}/$metadata#users('${encodeURIComponent(user)}')/settings/exchange/$entity`,
    primaryMailboxId: mailboxId,
  };
  const archive = state.tenant.mailboxes.get(mailboxId)?.archiveMailboxId;
  if (version === 'beta' && archive) body.inPlaceArchiveMailboxId = archive;
  sendJson(res, 200, body);
}

/** GET /groups/{group}/transitiveMembers/microsoft.graph.user: the group's users, a page at a time. */
export function listGroupUsers(request: GraphRequest): void {
  const { state, res, version, params } = request;
  const members = state.tenant.groups.get(params.group!);
  if (!members) throw resourceNotFound(params.group!);
  const all = members.map((upn) => ({
    '@odata.type': '#microsoft.graph.user',
    id: state.tenant.guid(),
    userPrincipalName: upn,
  }));
  const path = `/groups/${encodeURIComponent(params.group!)}/transitiveMembers/microsoft.graph.user`;
  const page = pageOf(request, all, path, 100);
  sendJson(res, 200, listBody(`${state.baseUrl}/${version}/$metadata#users(id,userPrincipalName)`, page));
}

function resourceNotFound(id: string): SimHttpError {
  return new SimHttpError(
    404,
    'Request_ResourceNotFound',
    `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
  );
}
