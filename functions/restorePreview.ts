import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { authorizeRestore } from '../shared/access/policy.js';
import { previewRestore } from '../shared/restore/preview.js';
import { RestoreBody, RestoreRequestError } from '../shared/restore/request.js';
import { getServices } from '../shared/services.js';
import { authorizationOf, problem, readJsonBody, registerApiRoute } from './http.js';
import { RESTORE_REFUSAL_STATUS } from './restoreTriggers.js';

/**
 * `POST /api/restores/preview`: the body of `POST /api/restores`, checked the same way (the restore policy
 * included, so a preview refuses what the restore would: a self-service caller previews restores of their own
 * mailbox into it only), answered with how many items and bytes it would restore, from which snapshot, to where.
 * Nothing is started or written.
 */
export async function previewRestoreHandler(request: HttpRequest): Promise<HttpResponseInit> {
  const body = await readJsonBody(request, RestoreBody);
  if ('response' in body) return body.response;
  const services = await getServices();
  try {
    await authorizeRestore(services, authorizationOf(request), body.value);
    return { status: 200, jsonBody: await previewRestore(services.graph, services.vault, body.value) };
  } catch (error) {
    if (error instanceof RestoreRequestError)
      return problem(RESTORE_REFUSAL_STATUS[error.code], error.message, error.errors);
    throw error;
  }
}

registerApiRoute(
  'previewRestore',
  'POST',
  'restores/preview',
  { role: 'reader', selfService: true },
  previewRestoreHandler,
);
