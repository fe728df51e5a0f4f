import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { DroppedConnection, drainOrClose, readSmallBody, SimHttpError } from './http.js';
import { generatePayload } from './payload.js';
import type { MailboxRequest } from './request.js';
import type { SimItem, SimMailbox } from './tenant.js';
import type { ThrottleState } from './throttle.js';

const MAX_EXPORT_IDS = 20;
/** Base64 characters of item data written before a truncated export breaks off. */
const TRUNCATE_AFTER_CHARS = 4096;

/**
 * POST /exportItems: the items' full content, streamed as base64 without holding an item in memory.
 * Per-item errors (missing, scripted, random) are entries of the 200 answer, as Graph reports them.
 */
export async function exportItems(request: MailboxRequest): Promise<void> {
  const { state, req, res, version, mailbox, scripted } = request;
  const { throttle } = state;
  const ids = await readExportIds(req);
  const counters = throttle.countersFor(mailbox.id);
  counters.exportCalls++;
  res.once('finish', () => (counters.lastExportDoneAt = Date.now()));
  const failIds = scriptedItemErrors(throttle, mailbox);
  const order = shuffled(ids, state.tenant.random);
  const truncate = scripted?.fault === 'truncate' || throttle.chance(throttle.faults.truncateExport);
  res.writeHead(200, { 'Content-Type': 'application/json; odata.metadata=minimal' });
  const stream = new ExportStream(res, truncate);
  await stream.write(
    `{"@odata.context":"${state.baseUrl}/${version}/$metadata#Collection(microsoft.graph.exportItemResponse)","value":[`,
  );
  for (const id of order) {
    if (throttle.chance(throttle.faults.exportItemOmitted)) continue;
    const item = mailbox.items.get(id);
    if (!item) {
      await stream.writeError(id, 'ErrorItemNotFound', 'The specified object was not found in the store.');
      continue;
    }
    const errorCode = failIds.has(id)
      ? 'ErrorExportFailed'
      : (item.exportErrorCode ??
        (throttle.chance(throttle.faults.exportItemError) ? 'ErrorInternalServerTransientError' : undefined));
    if (errorCode) {
      await stream.writeError(id, errorCode, 'The item could not be exported.');
      continue;
    }
    const length = await stream.writeItem(item, state.tenant.integrityKey);
    counters.exportedItems++;
    counters.exportedBytes += length;
  }
  if (truncate) stream.breakOff();
  res.end(']}');
}

/** The ids asked for. The metadata says ItemIds, the docs say itemIds: working code sends both, so either is read. */
async function readExportIds(req: IncomingMessage): Promise<string[]> {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(await readSmallBody(req)) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof SimHttpError) throw error;
    throw new SimHttpError(400, 'BadRequest', 'The request body is not valid JSON.');
  }
  const key = Object.keys(parsed).find((k) => k.toLowerCase() === 'itemids');
  const ids = key ? parsed[key] : undefined;
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => typeof id === 'string'))
    throw new SimHttpError(400, 'ErrorInvalidRequest', 'itemIds must be a non-empty array of item ids.');
  if (ids.length > MAX_EXPORT_IDS)
    throw new SimHttpError(
      400,
      'ErrorInvalidRequest',
      `The number of item ids exceeds the maximum of ${MAX_EXPORT_IDS}.`,
    );
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

  async writeError(id: string, code: string, message: string): Promise<void> {
    await this.write(
      `${this.separator()}{"itemId":${JSON.stringify(id)},"error":{"code":"${code}","message":"${message}"}}`,
    );
  }

  /** Writes the item's entry, its content encoded as it is generated; returns the content's length in bytes. */
  async writeItem(item: SimItem, integrityKey: Buffer): Promise<number> {
    const { id, changeKey } = item;
    await this.write(
      `${this.separator()}{"itemId":${JSON.stringify(id)},"changeKey":${JSON.stringify(changeKey)},"data":"`,
    );
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
    await this.write(`${carry.toString('base64')}"}`);
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
