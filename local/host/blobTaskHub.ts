import type { ContainerClient } from '@azure/storage-blob';
import pLimit from 'p-limit';
import type { ExecutionBegun, HubRecord, StoredExecution, TaskHub } from './taskHub.js';

/** Azure's (and Azurite's) largest append block. */
const MAX_APPEND_BYTES = 4 * 1024 * 1024;
const PREFIX = 'instances/';

/**
 * The local host's task hub in Blob Storage (Azurite under `npm start`): one append blob per execution,
 * `instances/<instance id>/<generation>.log`, holding one JSON record per line. Each record is one append
 * block, so a record is either wholly there or not at all, whenever the process dies.
 */
export class BlobTaskHub implements TaskHub {
  private ready?: Promise<unknown>;
  /** Each log's length as this process wrote or read it: every append is conditional on it. */
  private readonly lengths = new Map<string, number>();

  constructor(private readonly container: ContainerClient) {}

  async load(): Promise<StoredExecution[]> {
    await this.ensureContainer();
    const newest = new Map<string, { generation: number; blob: string }>();
    for await (const blob of this.container.listBlobsFlat({ prefix: PREFIX })) {
      const parsed = parseBlobName(blob.name);
      if (parsed && (newest.get(parsed.instanceId)?.generation ?? 0) < parsed.generation)
        newest.set(parsed.instanceId, { generation: parsed.generation, blob: blob.name });
    }
    const limit = pLimit(16);
    const loaded = await Promise.all(
      [...newest].map(([instanceId, { generation, blob }]) =>
        limit(async () => ({ instanceId, generation, records: await this.readLog(blob) })),
      ),
    );
    // A log whose first record never landed (the process died right after creating it) is no execution yet.
    return loaded.filter((execution) => execution.records[0]?.kind === 'begun');
  }

  async begin(instanceId: string, begun: ExecutionBegun): Promise<void> {
    await this.ensureContainer();
    const name = blobName(instanceId, begun.generation);
    // A log left empty by an earlier attempt is reused; one already holding records fails the append below.
    await this.container.getAppendBlobClient(name).createIfNotExists();
    this.lengths.set(name, 0);
    await this.appendTo(name, begun);
  }

  async append(instanceId: string, generation: number, record: HubRecord): Promise<void> {
    await this.appendTo(blobName(instanceId, generation), record);
  }

  async forget(instanceId: string, generation: number): Promise<void> {
    for (let g = generation - 1; g >= 1; g--) {
      const deleted = await this.container.getBlobClient(blobName(instanceId, g)).deleteIfExists();
      if (!deleted.succeeded) return;
    }
  }

  /**
   * Appends at the position this process expects, so a retried append whose first attempt landed (its answer
   * lost) is recognised instead of writing the record twice.
   */
  private async appendTo(name: string, record: HubRecord): Promise<void> {
    const line = Buffer.from(`${JSON.stringify(record)}\n`, 'utf8');
    if (line.length > MAX_APPEND_BYTES)
      throw new Error(`A ${record.kind} record of ${line.length} bytes exceeds one append block (${name})`);
    const log = this.container.getAppendBlobClient(name);
    const position = this.lengths.get(name) ?? (await log.getProperties()).contentLength ?? 0;
    try {
      await log.appendBlock(line, line.length, { conditions: { appendPosition: position } });
    } catch (error) {
      const landed = isPositionConflict(error) && (await log.getProperties()).contentLength === position + line.length;
      if (!landed) throw error;
    }
    this.lengths.set(name, position + line.length);
  }

  private async readLog(name: string): Promise<HubRecord[]> {
    const bytes = await this.container.getBlobClient(name).downloadToBuffer();
    this.lengths.set(name, bytes.length);
    const text = bytes.toString('utf8');
    return text
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as HubRecord);
  }

  private ensureContainer(): Promise<unknown> {
    this.ready ??= this.container.createIfNotExists();
    return this.ready;
  }
}

/** The local task hub's container beside the vault's: `<vault container>-taskhub` (at most 63 characters). */
export function taskHubContainerName(vaultContainer: string): string {
  return `${vaultContainer.slice(0, 63 - '-taskhub'.length).replace(/-+$/, '')}-taskhub`;
}

function isPositionConflict(error: unknown): boolean {
  const { statusCode, code } = error as { statusCode?: number; code?: string };
  return statusCode === 412 && code === 'AppendPositionConditionNotMet';
}

function blobName(instanceId: string, generation: number): string {
  return `${PREFIX}${encodeURIComponent(instanceId)}/${String(generation).padStart(8, '0')}.log`;
}

function parseBlobName(name: string): { instanceId: string; generation: number } | undefined {
  const match = /^instances\/([^/]+)\/(\d+)\.log$/.exec(name);
  return match ? { instanceId: decodeURIComponent(match[1]!), generation: Number(match[2]) } : undefined;
}
