import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportRedirect } from './archives.js';
import { DroppedConnection, drainOrClose, readSmallBody, SimHttpError } from './http.js';
import { generatePayload, payloadLength } from './payload.js';
import type { MailboxRequest } from './request.js';
import type { SimulatorSettings } from './state.js';
import type { SimItem, SimMailbox } from './tenant.js';
import type { ThrottleState } from './throttle.js';

const MAX_EXPORT_IDS = 20;
/** Base64 characters of item data written before a truncated export breaks off. */
const TRUNCATE_AFTER_CHARS = 4096;
/** What an Exchange item id looks like: base64 (standard or URL-safe), padding included. */
const ITEM_ID = /^[A-Za-z0-9+/_=-]{1,512}$/;

/** One entry of the answer, decided before a byte of it is sent: an item's data, or its error as JSON text. */
type ExportEntry = { item: SimItem } | { item?: undefined; json: string };

/**
 * POST /exportItems: the items' full content, streamed as base64 without holding an item in memory.
 * Per-item errors (missing, scripted, random) are entries of the 200 answer, as Graph reports them. Like
 * Graph's gateway, which passes the answer on once the mailbox server has produced it, every entry is decided
 * and the body's length known before the status line leaves; a multi-item answer larger than
 * `maxExportResponseBytes` is a 504 instead (a single item is never refused for its size: nothing smaller can
 * be asked for).
 */
export async function exportItems(request: MailboxRequest): Promise<void> {
  const { state, req, res, version, mailbox, scripted } = request;
  const { throttle, settings } = state;
  const ids = await readExportIds(req);
  const counters = throttle.countersFor(mailbox.id);
  counters.exportCalls++;
  res.once('finish', () => (counters.lastExportDoneAt = Date.now()));
  const entries = exportEntries(request, ids);
  const head = `{"@odata.context":"${state.baseUrl}/${version}/$metadata#Collection(microsoft.graph.exportItemResponse)","value":[`;
  const length = bodyLength(head, entries);
  if (ids.length > 1 && length > settings.maxExportResponseBytes)
    throw new SimHttpError(504, 'GatewayTimeout', 'The gateway did not receive a timely response.');
  const truncate = scripted?.fault === 'truncate' || throttle.chance(throttle.faults.truncateExport);
  res.writeHead(200, { 'Content-Type': 'application/json; odata.metadata=minimal', 'Content-Length': length });
  const stream = new ExportStream(res, truncate);
  await stream.write(head);
  for (const entry of entries) {
    if (!entry.item) {
      await stream.writeEntry(entry.json);
      continue;
    }
    counters.exportedBytes += await stream.writeItem(entry.item, state.tenant.integrityKey);
    counters.exportedItems++;
  }
  if (truncate) stream.breakOff();
  res.end(BODY_END);
}

const BODY_END = ']}';

/** The answer's entries in the (shuffled) order they are sent; items left out by the omission fault are absent. */
function exportEntries(request: MailboxRequest, ids: string[]): ExportEntry[] {
  const { state, mailbox } = request;
  const { throttle, settings } = state;
  const failIds = scriptedItemErrors(throttle, mailbox);
  const entries: ExportEntry[] = [];
  let errors = 0;
  const error = (id: string, code: string, message: string): ExportEntry => {
    const key = errorKeyOf(settings, errors++);
    return {
      json: `{"itemId":${JSON.stringify(id)},"${key}":{"code":"${code}","message":${JSON.stringify(message)}}}`,
    };
  };
  for (const id of shuffled(ids, state.tenant.random)) {
    if (throttle.chance(throttle.faults.exportItemOmitted)) continue;
    const item = mailbox.items.get(id);
    if (!item) {
      // An archive's item held by an auxiliary archive is named there; any other unknown id is not found.
      const moved = exportRedirect(request, mailbox, id);
      if (moved) entries.push(error(id, moved.code, moved.message));
      else entries.push(error(id, 'ErrorItemNotFound', 'The specified object was not found in the store.'));
      continue;
    }
    const errorCode = failIds.has(id)
      ? 'ErrorExportFailed'
      : (item.exportErrorCode ??
        (throttle.chance(throttle.faults.exportItemError) ? 'ErrorInternalServerTransientError' : undefined));
    entries.push(errorCode ? error(id, errorCode, 'The item could not be exported.') : { item });
  }
  return entries;
}

/** Graph's archive example spells the per-item error key `Error`; by default every second error entry does. */
function errorKeyOf(settings: SimulatorSettings, index: number): 'error' | 'Error' {
  if (settings.exportErrorKey === 'alternate') return index % 2 === 1 ? 'Error' : 'error';
  return settings.exportErrorKey;
}

/** The body's length in bytes, as ExportStream writes it: base64 of each item, commas between entries. */
function bodyLength(head: string, entries: ExportEntry[]): number {
  let length = Buffer.byteLength(head) + BODY_END.length + Math.max(0, entries.length - 1);
  for (const entry of entries) {
    if (!entry.item) length += Buffer.byteLength(entry.json);
    else length += Buffer.byteLength(itemEntryHead(entry.item)) + base64Length(entry.item) + ITEM_ENTRY_END.length;
  }
  return length;
}

function base64Length(item: SimItem): number {
  return 4 * Math.ceil(payloadLength(item.spec) / 3);
}

function itemEntryHead({ id, changeKey }: SimItem): string {
  return `{"itemId":${JSON.stringify(id)},"changeKey":${JSON.stringify(changeKey)},"data":"`;
}

const ITEM_ENTRY_END = '"}';

/**
 * The ids asked for. The metadata says ItemIds, the docs say itemIds: working code sends both, so both are
 * read. Like Exchange, a malformed id or an id asked for twice fails the whole call.
 */
async function readExportIds(req: IncomingMessage): Promise<string[]> {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(await readSmallBody(req)) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof SimHttpError) throw error;
    throw new SimHttpError(400, 'BadRequest', 'The request body is not valid JSON.');
  }
  const ids = parsed.itemIds ?? parsed.ItemIds;
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => typeof id === 'string'))
    throw new SimHttpError(400, 'ErrorInvalidRequest', 'itemIds must be a non-empty array of item ids.');
  if (ids.length > MAX_EXPORT_IDS)
    throw new SimHttpError(
      400,
      'ErrorInvalidRequest',
      `The number of item ids exceeds the maximum of ${MAX_EXPORT_IDS}.`,
    );
  if (!ids.every((id: string) => ITEM_ID.test(id)))
    throw new SimHttpError(400, 'ErrorInvalidIdMalformed', 'Id is malformed.');
  if (new Set(ids).size !== ids.length)
    throw new SimHttpError(400, 'ErrorInvalidIdMalformed', 'The request contains the same item id more than once.');
  return ids as string[];
}

/** Every scripted itemError for this mailbox is taken at once: the ids they fail. */
function scriptedItemErrors(throttle: ThrottleState, mailbox: SimMailbox): Set<string> {
  const failIds = new Set<string>();
  for (;;) {
    const fault = throttle.takeScripted('exportItems', mailbox.id, mailbox.upn, ['itemError']);
    if (!fault) return failIds;
    for (const id of fault.itemIds ?? []) failIds.add(id);
  }
}

/** Graph does not keep the asked order, so clients must match answers by itemId: shuffle to make sure they do. */
function shuffled(ids: string[], random: { next(): number }): string[] {
  const order = [...ids];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** The body of an export answer, written entry by entry as the client takes it. */
class ExportStream {
  private first = true;
  /** Base64 characters of item data written so far, for the truncation fault. */
  private written = 0;

  constructor(
    private readonly res: ServerResponse,
    private readonly truncate: boolean,
  ) {}

  async write(text: string | Buffer): Promise<void> {
    if (!this.res.write(text)) await drainOrClose(this.res);
    if (this.res.destroyed) throw new DroppedConnection();
  }

  async writeEntry(json: string): Promise<void> {
    await this.write(`${this.separator()}${json}`);
  }

  /** Writes the item's entry, its content encoded as it is generated; returns the content's length in bytes. */
  async writeItem(item: SimItem, integrityKey: Buffer): Promise<number> {
    await this.write(`${this.separator()}${itemEntryHead(item)}`);
    // Base64 works on 3-byte groups: a chunk's last 1-2 bytes wait for the next chunk.
    let carry = Buffer.alloc(0);
    let length = 0;
    for (const chunk of generatePayload(item.spec, integrityKey)) {
      const joined = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      const whole = joined.length - (joined.length % 3);
      carry = Buffer.from(joined.subarray(whole));
      length += chunk.length;
      const text = joined.subarray(0, whole).toString('base64');
      this.written += text.length;
      await this.write(text);
      if (this.truncate && this.written > TRUNCATE_AFTER_CHARS) await this.breakOffMidItem();
    }
    await this.write(`${carry.toString('base64')}${ITEM_ENTRY_END}`);
    return length;
  }

  /** Closes the connection without ending the body, as a truncated answer does. */
  breakOff(): never {
    this.res.destroy();
    throw new DroppedConnection();
  }

  private async breakOffMidItem(): Promise<never> {
    // Let what was written reach the client first, so the body (not the connection) is what breaks.
    await new Promise((resolve) => this.res.write('', resolve));
    await sleep(20);
    return this.breakOff();
  }

  private separator(): string {
    const separator = this.first ? '' : ',';
    this.first = false;
    return separator;
  }
}
