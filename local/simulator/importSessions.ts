import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Base64Decoder } from '../../shared/graph/base64Stream.js';
import { JsonTokenizer, type JsonEvent } from '../../shared/graph/jsonTokenizer.js';
import { dropConnection, enterMailbox, gatewayTimeout, resolveMailbox } from './admission.js';
import { importRedirect } from './archives.js';
import { DroppedConnection, SimHttpError, sendJson } from './http.js';
import { PayloadRejectedError, PayloadVerifier } from './payload.js';
import type { MailboxRequest, SimRequest } from './request.js';
import type { SimulatorState } from './state.js';
import type { SimMailbox } from './tenant.js';
import type { MailboxCounters, ScriptedFault } from './throttle.js';

/** POST /createImportSession: a pre-authenticated import URL on the Outlook endpoint, valid for a while. */
export function createImportSession({ state, res, version, mailbox }: MailboxRequest): void {
  const token = randomBytes(24).toString('base64url');
  const expiresAt = Date.now() + state.settings.importSessionLifetimeMs;
  state.importSessions.set(token, { mailboxId: mailbox.id, expiresAt, version });
  const importUrl = `${state.baseUrl}/outlook/api/g${version}/Mailboxes('${mailbox.id}')/importItem?authtoken=${token}`;
  sendJson(res, 200, {
    '@odata.context': `${state.baseUrl}/${version}/$metadata#microsoft.graph.mailboxItemImportSession`,
    importUrl,
    expirationDateTime: isoWith7Digits(expiresAt),
  });
}

/** Graph's timestamps carry seven fractional digits. */
function isoWith7Digits(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

/**
 * POST /outlook/api/g{version}/Mailboxes('{id}')/importItem?authtoken=…: one item into the session's mailbox.
 * The URL is the credential, so the request must not carry its own.
 */
export async function postImportItem(request: SimRequest): Promise<void> {
  const { state, req, res, url, params } = request;
  const declaredLength = requireDeclaredLength(state, req);
  if (req.headers.authorization)
    throw new SimHttpError(
      400,
      'ErrorInvalidRequest',
      'The import URL is pre-authenticated; do not send an Authorization header.',
    );
  const token = url.searchParams.get('authtoken') ?? '';
  const session = state.importSessions.get(token);
  const idMatch = /^Mailboxes\('(.+)'\)$/.exec(params.mailboxRef!);
  if (!session || !idMatch || idMatch[1] !== session.mailboxId) throw sessionGone(state, 'is not valid');
  if (session.expiresAt < Date.now()) throw expireSession(state, token);
  const mailbox = resolveMailbox(state, session.mailboxId);
  const scripted = await enterMailbox(state, req, res, mailbox, 'importItem');
  if (scripted?.fault === 'expireSession') throw expireSession(state, token);
  await importItem(request, mailbox, scripted, declaredLength);
}

/** Default limit on an import POST's body: an item of ~150 MB (Exchange's largest message) as base64. */
export const DEFAULT_IMPORT_BODY_LIMIT_BYTES = 200 * 1024 * 1024;

/**
 * The body's declared length. The import endpoint takes no chunked body (411), nor one over the limit (413),
 * both refused before a byte of it is read.
 */
function requireDeclaredLength(state: SimulatorState, req: IncomingMessage): number {
  const header = req.headers['content-length'];
  if (header === undefined || req.headers['transfer-encoding'] !== undefined)
    throw new SimHttpError(411, 'LengthRequired', 'The import request must carry a Content-Length.');
  const declared = Number(header);
  const limit = state.settings.importBodyLimitBytes ?? DEFAULT_IMPORT_BODY_LIMIT_BYTES;
  if (declared > limit)
    throw new SimHttpError(413, 'RequestEntityTooLarge', `The import request body is larger than ${limit} bytes.`);
  return declared;
}

function expireSession(state: SimulatorState, token: string): SimHttpError {
  state.importSessions.delete(token);
  return sessionGone(state, 'has expired');
}

/** How a session that is gone is answered: 401 by default, 404 when the simulator is told so. */
function sessionGone(state: SimulatorState, why: string): SimHttpError {
  if (state.settings.expiredImportSessionStatus === 404)
    return new SimHttpError(404, 'NotFound', `The import session ${why}.`);
  return new SimHttpError(401, 'InvalidAuthenticationToken', `The import session ${why}.`);
}

/** Reads, checks and stores the item; its content is verified as it streams in, never held whole. */
async function importItem(
  { state, req, res }: SimRequest,
  mailbox: SimMailbox,
  scripted: ScriptedFault | undefined,
  declaredLength: number,
): Promise<void> {
  const { throttle, tenant } = state;
  const counters = throttle.countersFor(mailbox.id);
  counters.importPosts++;
  res.once('finish', () => (counters.lastImportDoneAt = Date.now()));
  const upload = new ImportUpload(tenant.integrityKey);
  await upload.read(req, state, mailbox.id, counters, declaredLength);
  const { fields } = upload;
  const mode = fields.Mode;
  if (!fields.FolderId) throw new SimHttpError(400, 'ErrorInvalidRequest', 'FolderId is required.');
  if (mode !== 'create' && mode !== 'update')
    throw new SimHttpError(400, 'ErrorInvalidRequest', "Mode must be 'create' or 'update'.");
  if (!upload.sawData) throw new SimHttpError(400, 'ErrorInvalidRequest', 'Data is required.');
  if (mode === 'create' && (fields.ItemId || fields.ChangeKey))
    throw new SimHttpError(400, 'ErrorInvalidRequest', 'ItemId and ChangeKey are not allowed in create mode.');
  const folder = mailbox.folderByIdOrName(fields.FolderId);
  if (!folder)
    throw new SimHttpError(404, 'ErrorFolderNotFound', 'The specified folder could not be found in the store.');
  if (importRedirect(res, mailbox, folder.id)) return;
  const verified = upload.verified(counters);
  if (scripted?.fault === 'commitImportLate' && mode === 'create') {
    // The gateway gave up; Exchange goes on and creates the item a moment later.
    setTimeout(() => {
      tenant.createImportedItem(mailbox, folder.id, verified.spec, verified.digest, verified.length);
      counters.importedItems++;
    }, scripted.delayInMs ?? 1_000).unref();
    throw gatewayTimeout();
  }
  const item =
    mode === 'update'
      ? tenant.replaceImportedItem(mailbox, existingItem(mailbox, folder.id, fields), verified.spec, verified.digest)
      : tenant.createImportedItem(mailbox, folder.id, verified.spec, verified.digest, verified.length);
  counters.importedItems++;
  if (scripted?.fault === 'loseImportResponse' || throttle.chance(throttle.faults.loseImportResponse))
    dropConnection(req);
  sendJson(res, 200, {
    '@odata.context': `${state.baseUrl}/outlook/api/gv1.0/$metadata#microsoft.graph.importMailboxItemResponse`,
    itemId: item.id,
    changeKey: item.changeKey,
  });
}

/** The item an update replaces: in the folder, at the change key the client last saw. */
function existingItem(mailbox: SimMailbox, folderId: string, fields: Record<string, string>) {
  const existing = fields.ItemId ? mailbox.items.get(fields.ItemId) : undefined;
  if (!existing || existing.folderId !== folderId)
    throw new SimHttpError(404, 'ErrorItemNotFound', 'The item to update was not found in the folder.');
  if (existing.changeKey !== fields.ChangeKey)
    throw new SimHttpError(
      409,
      'ErrorIrresolvableConflict',
      'The change key does not match the current version of the item.',
    );
  return existing;
}

/** An import request body as it streams in: its top-level string fields, and `Data` decoded into a verifier. */
class ImportUpload {
  readonly fields: Record<string, string> = {};
  sawData = false;
  private currentKey = '';
  private depth = 0;
  private readonly decoder = new Base64Decoder();
  private readonly verifier: PayloadVerifier;
  private readonly tokenizer = new JsonTokenizer((event, value) => this.onToken(event, value));

  constructor(integrityKey: Buffer) {
    this.verifier = new PayloadVerifier(integrityKey);
  }

  /**
   * Reads the whole body, counting its bytes against the mailbox's upload budget as they arrive. A body whose
   * bytes differ from its Content-Length is refused, never imported.
   */
  async read(
    req: IncomingMessage,
    state: SimulatorState,
    mailboxId: string,
    counters: MailboxCounters,
    declaredLength: number,
  ) {
    let received = 0;
    try {
      for await (const chunk of req) {
        received += (chunk as Buffer).length;
        state.throttle.addUpload(mailboxId, (chunk as Buffer).length);
        counters.importedBytes += (chunk as Buffer).length;
        this.tokenizer.write(chunk as Buffer);
      }
      if (received !== declaredLength) throw new Error(`${received} bytes arrived of ${declaredLength} declared`);
      this.tokenizer.end();
      this.decoder.end();
    } catch (error) {
      if (req.socket.destroyed) throw new DroppedConnection(); // no one left to answer
      counters.importRejected++;
      throw new SimHttpError(400, 'ErrorInvalidRequest', `The request body is not valid: ${(error as Error).message}`);
    }
  }

  /** The content's spec, digest and length, once its integrity is confirmed. */
  verified(counters: MailboxCounters): ReturnType<PayloadVerifier['finish']> {
    try {
      return this.verifier.finish();
    } catch (error) {
      counters.importRejected++;
      if (error instanceof PayloadRejectedError) throw new SimHttpError(400, 'ErrorCorruptData', error.message);
      throw error;
    }
  }

  private onToken(event: JsonEvent, value: unknown): void {
    if (event === 'startObject' || event === 'startArray') this.depth++;
    else if (event === 'endObject' || event === 'endArray') this.depth--;
    else if (event === 'key' && this.depth === 1) {
      this.currentKey = String(value);
      if (this.currentKey === 'Data') this.sawData = true;
    } else if (event === 'stringChunk' && this.depth === 1) {
      if (this.currentKey === 'Data') this.verifier.update(this.decoder.push(String(value)));
      else this.fields[this.currentKey] = (this.fields[this.currentKey] ?? '') + String(value);
    }
  }
}
