import type { TokenCredential } from '@azure/core-auth';
import type { Readable } from 'node:stream';
import {
  DeltaLinkRejectedError,
  DeltaQuotaExceededError,
  isAccessDenial,
  MailboxAccessDeniedError,
  GraphRequestError,
  ImportOutcomeUnknownError,
  ImportSessionExpiredError,
  MailboxIdMissingError,
  MailboxNotFoundError,
} from './errors.js';
import {
  errorBodyOf,
  GraphHttp,
  NetworkFailure,
  readBody,
  silentLogger,
  type GraphCall,
  type GraphLogger,
  type OpenResponse,
} from './graphHttp.js';
import { getByBatch, type BatchedItems } from './itemBatch.js';
import { ImportBody } from './importBody.js';
import { ImportSession } from './importSession.js';
import { readExportResponse } from './exportReader.js';
import { exportRedirectMailbox, importRedirectMailbox, ImportRedirectedError } from './redirects.js';
import {
  MAX_REQUESTS_PER_MAILBOX,
  MailboxLimiter,
  type MailboxThrottleStats,
  type ThrottleTally,
  type SharedMailboxLimits,
} from './mailboxLimiter.js';
import { defaultRetryOptions, type GraphRetryOptions } from './retry.js';
import type {
  DeltaPage,
  ExportedItem,
  ImportedItem,
  ImportMode,
  ListingPage,
  MailboxFolder,
  MailboxIds,
  MailboxItem,
  RemovedEntry,
} from './types.js';

/** Graph accepts at most 20 item ids per exportItems call. */
export const MAX_EXPORT_BATCH = 20;

export interface MailboxClientOptions {
  /** Graph's origin; the simulator's for local runs. Default https://graph.microsoft.com. */
  baseUrl?: string;
  apiVersion?: 'v1.0' | 'beta';
  scope?: string;
  /** Requests in flight per mailbox in this process: 1 to 4 (Exchange's own ceiling), default 4. */
  maxConcurrentRequestsPerMailbox?: number;
  retry?: Partial<GraphRetryOptions>;
  /** Time allowed until response headers arrive, for ordinary calls. */
  requestTimeoutInMs?: number;
  /** Time allowed for an import POST (body upload included) to be answered. */
  importTimeoutInMs?: number;
  /** An export response that sends nothing for this long is abandoned. */
  exportIdleTimeoutInMs?: number;
  /** `Prefer: odata.maxpagesize` for listings and delta rounds. */
  pageSize?: number;
  logger?: GraphLogger;
  /** Share one limiter between clients of a process so the per-mailbox ceiling holds process-wide. */
  limiter?: MailboxLimiter;
  /** Exchange's upload budget per mailbox, which imports are paced under; default 150 MB per 5 minutes, null: no pacing. */
  uploadBudget?: { bytes: number; windowMs: number } | null;
  /** Limits held across instances for the mailboxes named with `shareLimitsAcrossInstances` (restore targets). */
  sharedLimits?: SharedMailboxLimits;
}

export interface ListOptions {
  signal?: AbortSignal;
  /** Extended properties to expand (ids such as 'String 0x0037'); see `ExtendedProperty`. */
  extendedProperties?: readonly string[];
}

export interface ListItemsOptions extends ListOptions {
  /** An OData $filter, e.g. "createdDateTime ge 2024-01-01T00:00:00Z". */
  filter?: string;
}

export interface DeltaOptions extends ListOptions {
  /** The deltaLink stored after the previous round; absent for a full enumeration. */
  deltaLink?: string;
}

export interface ImportItemRequest {
  folderId: string;
  mode?: ImportMode;
  /** Opens the exact exported bytes; called again if the POST must be re-sent. */
  openData: () => Readable;
  /** Their length in bytes: it sets the POST's Content-Length, and paces the upload under the mailbox's budget. */
  length: number;
  /** Where this import's throttling is counted. */
  tally?: ThrottleTally;
  /** `update` mode only. */
  itemId?: string;
  changeKey?: string;
  signal?: AbortSignal;
}

export interface CreateFolderRequest {
  displayName: string;
  /** Folder class, e.g. IPF.Note. */
  type: string;
  /** Absent: directly under the mailbox's top of information store. */
  parentFolderId?: string;
  signal?: AbortSignal;
}

interface Collection<T> {
  value?: T[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

function expandClause(extendedProperties: readonly string[] | undefined): string | undefined {
  if (!extendedProperties?.length) return undefined;
  const filter = extendedProperties.map((id) => `id eq '${id}'`).join(' or ');
  return `singleValueExtendedProperties($filter=${filter})`;
}

function splitDeltaEntries<T extends { id: string }>(
  value: Array<T & { '@removed'?: { reason?: string } }>,
): {
  changed: T[];
  removed: RemovedEntry[];
} {
  const changed: T[] = [];
  const removed: RemovedEntry[] = [];
  for (const entry of value) {
    if (entry['@removed']) removed.push({ id: entry.id, removed: true, reason: entry['@removed'].reason ?? 'deleted' });
    else changed.push(entry);
  }
  return { changed, removed };
}

interface GraphErrorBody {
  code?: string;
  message?: string;
  innerError?: { 'request-id'?: string };
}

/**
 * A delta round's 403: over the sync quota (typed, the caller lists instead), or the mailbox refused to the app,
 * which is final and said plainly, as graphHttp says it for every other mailbox call.
 */
function deltaForbidden(operation: string, mailboxId: string, error: GraphErrorBody | undefined): Error {
  if (error?.code === 'ErrorQuotaExceeded') return new DeltaQuotaExceededError(operation, 403);
  const details = {
    status: 403,
    code: error?.code ?? '403',
    message: error?.message ?? 'Forbidden',
    operation,
    ...(error?.innerError?.['request-id'] ? { requestId: error.innerError['request-id'] } : {}),
  };
  return isAccessDenial(403, error?.code)
    ? new MailboxAccessDeniedError(mailboxId, details)
    : new GraphRequestError(details);
}

/** 404 codes of an import POST that name what the item refers to, not the session. */
const STORE_NOT_FOUND_CODES = new Set(['ErrorFolderNotFound', 'ErrorItemNotFound']);

/**
 * The new item's id and change key from an import POST's answer; an answer that says the session is gone, or
 * leaves open whether the item was created, becomes the typed error for it.
 */
async function readImportAnswer({ response, body, release }: OpenResponse): Promise<ImportedItem> {
  try {
    if (response.status === 401 || response.status === 403) {
      await readBody(body, { partialOk: true });
      throw new ImportSessionExpiredError(response.status);
    }
    if (response.status === 404) {
      // A session gone from Exchange may be answered 404 too; a folder or item not found is the item's own error.
      const error = errorBodyOf(response, await readBody(body, { partialOk: true }));
      if (STORE_NOT_FOUND_CODES.has(error.code))
        throw new GraphRequestError({ status: 404, ...error, operation: 'importItem' });
      throw new ImportSessionExpiredError(404);
    }
    if (response.status === 409) {
      // An archive folder whose content lives in an auxiliary mailbox: its import session is that mailbox's.
      const error = errorBodyOf(response, await readBody(body, { partialOk: true }));
      const mailboxId = importRedirectMailbox(error.message);
      if (mailboxId) throw new ImportRedirectedError(mailboxId);
      throw new GraphRequestError({ status: 409, ...error, operation: 'importItem' });
    }
    if (response.status === 504) {
      await readBody(body, { partialOk: true });
      throw new ImportOutcomeUnknownError('the gateway timed out waiting for Exchange');
    }
    let parsed: { itemId?: string; changeKey?: string };
    try {
      parsed = JSON.parse(await readBody(body)) as typeof parsed;
    } catch (error) {
      throw new ImportOutcomeUnknownError(`the answer broke off (${(error as Error).message})`);
    }
    if (!parsed.itemId) throw new ImportOutcomeUnknownError('the answer carried no itemId');
    return { itemId: parsed.itemId, changeKey: parsed.changeKey ?? '' };
  } finally {
    release();
  }
}

/**
 * The Graph mailbox import/export client: listings and delta rounds as async iterators, exportItems as a
 * stream of items, import sessions and streamed import POSTs, folder creation. Retries, throttling and the
 * per-mailbox ceiling are handled below every method; errors come out typed (see errors.ts).
 */
export class MailboxClient {
  readonly baseUrl: string;
  readonly apiVersion: 'v1.0' | 'beta';
  private readonly http: GraphHttp;
  private readonly limiter: MailboxLimiter;
  private readonly pageSize: number;
  private readonly exportIdleTimeoutInMs: number;
  private readonly importTimeoutInMs: number;
  private deltaExpandUnsupported = false;

  constructor(credential: TokenCredential, options: MailboxClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? 'https://graph.microsoft.com').replace(/\/+$/, '');
    this.apiVersion = options.apiVersion ?? 'v1.0';
    const perMailbox = options.maxConcurrentRequestsPerMailbox ?? MAX_REQUESTS_PER_MAILBOX;
    if (!Number.isInteger(perMailbox) || perMailbox < 1 || perMailbox > MAX_REQUESTS_PER_MAILBOX) {
      throw new RangeError(
        `maxConcurrentRequestsPerMailbox must be 1 to ${MAX_REQUESTS_PER_MAILBOX}, got ${perMailbox}`,
      );
    }
    this.limiter =
      options.limiter ??
      new MailboxLimiter(perMailbox, {
        uploadBudget: options.uploadBudget,
        ...(options.sharedLimits ? { shared: options.sharedLimits } : {}),
      });
    this.pageSize = options.pageSize ?? 250;
    this.exportIdleTimeoutInMs = options.exportIdleTimeoutInMs ?? 120_000;
    this.importTimeoutInMs = options.importTimeoutInMs ?? 15 * 60_000;
    this.http = new GraphHttp(credential, {
      scope: options.scope ?? 'https://graph.microsoft.com/.default',
      limiter: this.limiter,
      retry: { ...defaultRetryOptions, ...options.retry },
      requestTimeoutInMs: options.requestTimeoutInMs ?? 100_000,
      logger: options.logger ?? silentLogger,
      trustedOrigins: [new URL(this.baseUrl).origin],
    });
  }

  private url(path: string, query?: Record<string, string | undefined>): string {
    const url = new URL(`${this.baseUrl}/${this.apiVersion}${path}`);
    for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) url.searchParams.set(key, value);
    return url.toString();
  }

  private mailboxPath(mailboxId: string): string {
    return `/admin/exchange/mailboxes/${encodeURIComponent(mailboxId)}`;
  }

  /** This process's requests on the mailbox count against its limits held across instances from now on. */
  shareLimitsAcrossInstances(mailboxId: string): void {
    this.limiter.shareAcrossInstances(mailboxId);
  }

  throttleStats(mailboxId: string): MailboxThrottleStats {
    return this.limiter.stats(mailboxId);
  }

  /**
   * `GET /users/{id}/settings/exchange`. Throws MailboxNotFoundError when the user has no mailbox (404), and
   * MailboxIdMissingError for a 200 without an id. The entity may come wrapped in a one-entry `value` array.
   */
  async getMailboxIds(user: string, options: { signal?: AbortSignal } = {}): Promise<MailboxIds> {
    type Settings = Partial<MailboxIds> & { error?: { code?: string } };
    const { status, body } = await this.http.json<Settings & { value?: Settings[] }>({
      operation: 'getMailboxSettings',
      method: 'GET',
      url: this.url(`/users/${encodeURIComponent(user)}/settings/exchange`),
      authenticate: true,
      passStatuses: [404],
      signal: options.signal,
    });
    if (status === 404) throw new MailboxNotFoundError(user, status, body?.error?.code ?? 'MailboxNotFound');
    const settings = Array.isArray(body?.value) ? body.value[0] : body;
    if (!settings?.primaryMailboxId) throw new MailboxIdMissingError(user);
    const ids: MailboxIds = { primaryMailboxId: settings.primaryMailboxId };
    if (settings.inPlaceArchiveMailboxId) ids.inPlaceArchiveMailboxId = settings.inPlaceArchiveMailboxId;
    return ids;
  }

  /** Users in an Entra group, nested groups included (`transitiveMembers/microsoft.graph.user`). */
  async *listGroupUsers(
    groupId: string,
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<{ id: string; userPrincipalName: string }> {
    for await (const page of this.pages<{ id: string; userPrincipalName: string }>({
      operation: 'listGroupMembers',
      method: 'GET',
      url: this.url(`/groups/${encodeURIComponent(groupId)}/transitiveMembers/microsoft.graph.user`, {
        $select: 'id,userPrincipalName',
        $top: '999',
      }),
      authenticate: true,
      signal: options.signal,
    })) {
      yield* page.value ?? [];
    }
  }

  private async *pages<T>(first: GraphCall): AsyncGenerator<Collection<T>> {
    let call: GraphCall | undefined = first;
    while (call) {
      const page: Collection<T> = (await this.http.json<Collection<T>>(call)).body;
      yield page;
      const next: string | undefined = page['@odata.nextLink'];
      call = next ? { ...first, url: next, headers: first.headers } : undefined;
    }
  }

  /** Folders directly under the mailbox root, or under `parentFolderId` (childFolders), across pages. */
  async *listFolders(
    mailboxId: string,
    options: ListOptions & { parentFolderId?: string } = {},
  ): AsyncGenerator<MailboxFolder> {
    const path = options.parentFolderId
      ? `${this.mailboxPath(mailboxId)}/folders/${encodeURIComponent(options.parentFolderId)}/childFolders`
      : `${this.mailboxPath(mailboxId)}/folders`;
    for await (const page of this.pages<MailboxFolder>({
      operation: 'listFolders',
      mailboxId,
      method: 'GET',
      url: this.url(path, { $top: String(this.pageSize), $expand: expandClause(options.extendedProperties) }),
      authenticate: true,
      signal: options.signal,
    })) {
      yield* page.value ?? [];
    }
  }

  async getFolder(mailboxId: string, folderId: string, options: { signal?: AbortSignal } = {}): Promise<MailboxFolder> {
    const { body } = await this.http.json<MailboxFolder>({
      operation: 'getFolder',
      mailboxId,
      method: 'GET',
      url: this.url(`${this.mailboxPath(mailboxId)}/folders/${encodeURIComponent(folderId)}`),
      authenticate: true,
      signal: options.signal,
    });
    return body;
  }

  /** Every item of a folder, across pages. */
  async *listItems(mailboxId: string, folderId: string, options: ListItemsOptions = {}): AsyncGenerator<MailboxItem> {
    for await (const page of this.listItemPages(mailboxId, folderId, options)) yield* page.items;
  }

  /**
   * A folder's items page by page, from its first page or from a page's `nextLink` (a listing read over several
   * activities resumes there; the link carries the listing's options).
   */
  async *listItemPages(
    mailboxId: string,
    folderId: string,
    options: ListItemsOptions & { from?: string } = {},
  ): AsyncGenerator<ListingPage<MailboxItem>> {
    const first =
      options.from ??
      this.url(`${this.mailboxPath(mailboxId)}/folders/${encodeURIComponent(folderId)}/items`, {
        $top: String(this.pageSize),
        $filter: options.filter,
        $expand: expandClause(options.extendedProperties),
      });
    for await (const page of this.pages<MailboxItem>({
      operation: 'listItems',
      mailboxId,
      method: 'GET',
      url: first,
      authenticate: true,
      signal: options.signal,
    })) {
      const next = page['@odata.nextLink'];
      yield next ? { items: page.value ?? [], nextLink: next } : { items: page.value ?? [] };
    }
  }

  async getItem(mailboxId: string, folderId: string, itemId: string, options: ListOptions = {}): Promise<MailboxItem> {
    const { body } = await this.http.json<MailboxItem>({
      operation: 'getItem',
      mailboxId,
      method: 'GET',
      url: this.url(
        `${this.mailboxPath(mailboxId)}/folders/${encodeURIComponent(folderId)}/items/${encodeURIComponent(itemId)}`,
        {
          $expand: expandClause(options.extendedProperties),
        },
      ),
      authenticate: true,
      signal: options.signal,
    });
    return body;
  }

  /**
   * Items with the extended properties asked for, by `$batch` (20 GETs a call): how a backup gets search keys
   * and subjects for the items a delta round listed without them. Items deleted since are named in `missing`.
   */
  getItems(
    mailboxId: string,
    refs: ReadonlyArray<{ id: string; folderId: string }>,
    options: ListOptions = {},
  ): Promise<BatchedItems> {
    const versionBase = `${this.baseUrl}/${this.apiVersion}`;
    const requests = refs.map(({ id, folderId }) => ({
      id,
      url: this.url(
        `${this.mailboxPath(mailboxId)}/folders/${encodeURIComponent(folderId)}/items/${encodeURIComponent(id)}`,
        {
          $expand: expandClause(options.extendedProperties),
        },
      ).slice(versionBase.length),
    }));
    return getByBatch(this.http, {
      mailboxId,
      batchUrl: `${versionBase}/$batch`,
      requests,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /**
   * Folders by well-known name (`inbox`, `sentitems`…), 20 to a `$batch` call: how a folder Graph lists without its
   * `wellKnownName` is recognised. Names the mailbox does not have are left out.
   */
  async getWellKnownFolders(
    mailboxId: string,
    names: readonly string[],
    options: { signal?: AbortSignal } = {},
  ): Promise<Map<string, MailboxFolder>> {
    const versionBase = `${this.baseUrl}/${this.apiVersion}`;
    const requests = names.map((name) => ({
      id: name,
      url: this.url(`${this.mailboxPath(mailboxId)}/folders/${encodeURIComponent(name)}`).slice(versionBase.length),
    }));
    const { items } = await getByBatch<MailboxFolder>(this.http, {
      mailboxId,
      batchUrl: `${versionBase}/$batch`,
      requests,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return items;
  }

  /** One delta round over the whole folder hierarchy; the last page carries the deltaLink to store. */
  listFolderChanges(mailboxId: string, options: DeltaOptions = {}): AsyncGenerator<DeltaPage<MailboxFolder>> {
    return this.deltaRound<MailboxFolder>(
      mailboxId,
      'folderDelta',
      `${this.mailboxPath(mailboxId)}/folders/delta`,
      options,
    );
  }

  /** One delta round over a folder's items; the last page carries the deltaLink to store. */
  listItemChanges(
    mailboxId: string,
    folderId: string,
    options: DeltaOptions = {},
  ): AsyncGenerator<DeltaPage<MailboxItem>> {
    return this.deltaRound<MailboxItem>(
      mailboxId,
      'itemDelta',
      `${this.mailboxPath(mailboxId)}/folders/${encodeURIComponent(folderId)}/items/delta`,
      options,
    );
  }

  private async *deltaRound<T extends { id: string }>(
    mailboxId: string,
    operation: string,
    path: string,
    options: DeltaOptions,
  ): AsyncGenerator<DeltaPage<T>> {
    const expand = this.deltaExpandUnsupported ? undefined : expandClause(options.extendedProperties);
    let url = options.deltaLink ?? this.url(path, { $expand: expand });
    // Only links from a stored round can be rejected as expired; a fresh round's 400 is a real error.
    let following = options.deltaLink !== undefined;
    let firstCall = options.deltaLink === undefined;
    for (;;) {
      const { status, body } = await this.http.json<Collection<T & { '@removed'?: { reason?: string } }>>({
        operation,
        mailboxId,
        method: 'GET',
        url,
        headers: { Prefer: `odata.maxpagesize=${this.pageSize}` },
        authenticate: true,
        passStatuses: following || (firstCall && expand) ? [400, 403, 404, 410] : [403],
        signal: options.signal,
      });
      if (status >= 400) {
        const error = (body as unknown as { error?: GraphErrorBody } | undefined)?.error;
        const code = error?.code ?? String(status);
        if (status === 403) throw deltaForbidden(operation, mailboxId, error);
        if (firstCall && expand && status === 400) {
          // The delta docs promise few query options: fall back to a plain round, once per client. The caller
          // finds the items without their properties and reads them where Graph documents $expand.
          this.deltaExpandUnsupported = true;
          this.http.options.logger.warn(
            `${operation}: Graph refused $expand on delta (${status} ${code}); item properties are read by item GETs instead`,
          );
          url = this.url(path);
          firstCall = false;
          continue;
        }
        throw new DeltaLinkRejectedError(status, code);
      }
      firstCall = false;
      const { changed, removed } = splitDeltaEntries<T>(body.value ?? []);
      const next = body['@odata.nextLink'];
      const deltaLink = body['@odata.deltaLink'];
      yield deltaLink
        ? { changed, removed, deltaLink }
        : next
          ? { changed, removed, nextLink: next }
          : { changed, removed };
      if (deltaLink || !next) return;
      url = next;
      following = true;
    }
  }

  /**
   * exportItems for up to 20 ids of one mailbox. Yields each item as its bytes begin to arrive (read `data`
   * to the end before the next), per-item errors as errors, and ids Graph left out as `NotReturned`.
   * Throws ExportStreamError when the response breaks off: items already yielded whole are good.
   */
  async *exportItems(
    mailboxId: string,
    itemIds: readonly string[],
    options: { signal?: AbortSignal; tally?: ThrottleTally } = {},
  ): AsyncGenerator<ExportedItem> {
    if (itemIds.length === 0) return;
    if (itemIds.length > MAX_EXPORT_BATCH) {
      throw new RangeError(`exportItems takes at most ${MAX_EXPORT_BATCH} item ids, got ${itemIds.length}`);
    }
    const body = JSON.stringify({ itemIds });
    // Ends the request once reading stops, however it stops: a stalled or abandoned response must not keep its
    // connection, or its mailbox permit, for ever.
    const done = new AbortController();
    const { body: answer, release } = await this.http.open({
      operation: 'exportItems',
      mailboxId,
      method: 'POST',
      url: this.url(`${this.mailboxPath(mailboxId)}/exportItems`),
      headers: { 'Content-Type': 'application/json' },
      body: () => body,
      authenticate: true,
      signal: options.signal ? AbortSignal.any([options.signal, done.signal]) : done.signal,
      ...(options.tally ? { tally: options.tally } : {}),
      // Several items that time out together are the caller's to split; one item alone is retried as usual.
      retryPolicy: itemIds.length > 1 ? 'splitOnTimeout' : 'idempotent',
    });
    try {
      if (!answer) throw new NetworkFailure('exportItems: empty response');
      yield* readExportResponse(answer, itemIds, {
        idleTimeoutInMs: this.exportIdleTimeoutInMs,
        signal: options.signal,
      });
    } finally {
      done.abort();
      release();
    }
  }

  /**
   * The mailbox an exported item's `ErrorArchiveFolderMovedPermanently` names (its message is that mailbox's
   * exportItems URL), checked like a 308's Location; RedirectRefusedError when it is not one to follow.
   */
  exportRedirectMailbox(message: string): string {
    return exportRedirectMailbox(message, this.http.options.trustedOrigins);
  }

  /** `createImportSession`: the session keeps its importUrl to itself (see ImportSession). */
  async createImportSession(mailboxId: string, options: { signal?: AbortSignal } = {}): Promise<ImportSession> {
    const { body } = await this.http.json<{ importUrl?: string; expirationDateTime?: string }>({
      operation: 'createImportSession',
      mailboxId,
      method: 'POST',
      url: this.url(`${this.mailboxPath(mailboxId)}/createImportSession`),
      authenticate: true,
      signal: options.signal,
    });
    if (!body?.importUrl || !body.expirationDateTime) {
      throw new GraphRequestError({
        status: 200,
        code: 'InvalidResponse',
        message: 'No importUrl in the session',
        operation: 'createImportSession',
      });
    }
    return new ImportSession(mailboxId, body.importUrl, new Date(body.expirationDateTime));
  }

  /**
   * Imports one item through the session: the body streams `{"FolderId","Mode","Data":"<base64>"}` as the
   * bytes are read, so an item of any size passes with a fixed memory ceiling, under a Content-Length computed
   * from `length` beforehand. A session Exchange turns down (401, 403, or 404) is ImportSessionExpiredError; a 409
   * naming another mailbox of an archive is ImportRedirectedError. If `openData()`'s stream fails
   * (say a checksum mismatch), the request is aborted before the body is complete and nothing is imported.
   */
  async importItem(session: ImportSession, request: ImportItemRequest): Promise<ImportedItem> {
    const body = new ImportBody(request);
    const timeout = AbortSignal.timeout(this.importTimeoutInMs);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    let opened: OpenResponse;
    try {
      opened = await this.http.open({
        operation: 'importItem',
        mailboxId: session.mailboxId,
        method: 'POST',
        url: ImportSession.urlOf(session),
        // A declared length, not a chunked body: Exchange's front end may refuse chunked uploads (411).
        headers: { 'Content-Type': 'application/json', 'Content-Length': String(body.contentLength) },
        body: () => body.open(),
        authenticate: false,
        uploadBytes: body.contentLength,
        ...(request.tally ? { tally: request.tally } : {}),
        retryPolicy: 'notProcessedOnly',
        passStatuses: [401, 403, 404, 409, 504],
        signal,
      });
    } catch (error) {
      // The body's own source failed (say its checksum): the POST was aborted before the body was complete.
      if (body.sourceError) throw body.sourceError;
      if (error instanceof NetworkFailure) throw new ImportOutcomeUnknownError(error.message);
      if (timeout.aborted && !request.signal?.aborted)
        throw new ImportOutcomeUnknownError('no answer within the import timeout');
      throw error;
    }
    return readImportAnswer(opened);
  }

  /** `/users/{user}/...` of the mail API, on the mailbox whose concurrency and budget the call counts against. */
  private userPath(user: string, path: string): string {
    return this.url(`/users/${encodeURIComponent(user)}${path}`);
  }

  /**
   * `GET /users/{user}/messages/{id}/$value`: the message as MIME, its body streamed (release it once read).
   * `refused` when Graph does not take the id (400 malformed, 404 not found): the caller looks for the message
   * another way.
   */
  async openMessageMime(
    mailboxId: string,
    user: string,
    messageId: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ body: Readable; release: () => void } | { refused: string }> {
    const { response, body, release } = await this.http.open({
      operation: 'getMessageContent',
      mailboxId,
      method: 'GET',
      url: this.userPath(user, `/messages/${encodeURIComponent(messageId)}/$value`),
      authenticate: true,
      passStatuses: [400, 404],
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (response.status === 400 || response.status === 404) {
      try {
        return { refused: errorBodyOf(response, await readBody(body, { partialOk: true })).code };
      } finally {
        release();
      }
    }
    if (!body) {
      release();
      throw new NetworkFailure('getMessageContent: empty response');
    }
    return { body, release };
  }

  /** `GET /users/{user}/mailFolders/{id}/messages`: the folder's messages by the mail API's ids, across pages. */
  async *listFolderMessages(
    mailboxId: string,
    user: string,
    folderId: string,
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<{ id: string; subject?: string; internetMessageId?: string }> {
    for await (const page of this.pages<{ id: string; subject?: string; internetMessageId?: string }>({
      operation: 'listMessages',
      mailboxId,
      method: 'GET',
      url:
        this.userPath(user, `/mailFolders/${encodeURIComponent(folderId)}/messages`) +
        '?$select=id,subject,internetMessageId',
      authenticate: true,
      signal: options.signal,
    })) {
      yield* page.value ?? [];
    }
  }

  /**
   * `POST /users/{user}/messages/{id}/permanentDelete` or `.../mailFolders/{id}/permanentDelete`: gone for good
   * (Purges, out of every client's reach). false when it was already gone (404).
   */
  async permanentDelete(
    mailboxId: string,
    user: string,
    what: { messageId: string } | { folderId: string },
    options: { signal?: AbortSignal } = {},
  ): Promise<boolean> {
    const path =
      'messageId' in what
        ? `/messages/${encodeURIComponent(what.messageId)}/permanentDelete`
        : `/mailFolders/${encodeURIComponent(what.folderId)}/permanentDelete`;
    const { status } = await this.http.json<unknown>({
      operation: 'messageId' in what ? 'permanentDeleteMessage' : 'permanentDeleteFolder',
      mailboxId,
      method: 'POST',
      url: this.userPath(user, path),
      authenticate: true,
      passStatuses: [404],
      signal: options.signal,
    });
    return status !== 404;
  }

  /**
   * Creates a folder. The v1.0 metadata does not list this operation while the v1.0 docs do: on 400/405
   * from v1.0 the call is made once more on beta, where it is declared.
   */
  async createFolder(mailboxId: string, request: CreateFolderRequest): Promise<MailboxFolder> {
    const path = request.parentFolderId
      ? `${this.mailboxPath(mailboxId)}/folders/${encodeURIComponent(request.parentFolderId)}/childFolders`
      : `${this.mailboxPath(mailboxId)}/folders`;
    const body = JSON.stringify({ displayName: request.displayName, type: request.type });
    const call = (url: string, passStatuses: number[]) =>
      this.http.json<MailboxFolder>({
        operation: 'createFolder',
        mailboxId,
        method: 'POST',
        url,
        headers: { 'Content-Type': 'application/json' },
        body: () => body,
        authenticate: true,
        retryPolicy: 'notProcessedOnly',
        passStatuses,
        signal: request.signal,
      });
    const first = await call(this.url(path), this.apiVersion === 'v1.0' ? [400, 405] : []);
    if (first.status < 300) return first.body;
    const beta = await call(`${this.baseUrl}/beta${path}`, []);
    return beta.body;
  }
}
