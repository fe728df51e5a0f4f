import { accessDenied, type ExchangeSettingsAnswer } from './auth.js';
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
  const context = `${state.baseUrl}/${version}/$metadata#users('${encodeURIComponent(user)}')/settings/exchange`;
  const entity: Record<string, unknown> = { primaryMailboxId: mailboxId };
  const archive = state.tenant.mailboxes.get(mailboxId)?.archiveMailboxId;
  if (version === 'beta' && archive) entity.inPlaceArchiveMailboxId = archive;
  sendJson(res, 200, scriptedSettings(state.access.exchangeSettings.get(user.toLowerCase()), context, entity));
}

/** The answer a test scripted for this user (see ExchangeSettingsAnswer), else the documented single entity. */
function scriptedSettings(
  answer: ExchangeSettingsAnswer | undefined,
  context: string,
  entity: Record<string, unknown>,
): Record<string, unknown> {
  switch (answer) {
    case 'badRequest':
      throw new SimHttpError(400, 'BadRequest', 'The request is not supported for this user.');
    case 'accessDenied':
      throw accessDenied();
    case 'valueWrapper':
      return { '@odata.context': context, value: [entity] };
    case 'withoutId':
      return { '@odata.context': `${context}/$entity` };
    default:
      return { '@odata.context': `${context}/$entity`, ...entity };
  }
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
