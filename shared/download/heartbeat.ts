import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';

/** How often a converting download says it is alive: well within the staging sweep's patience (sweep.ts). */
export const HEARTBEAT_EVERY_MS = 60_000;

/**
 * A download's sign of life for the staging sweep, which deletes a staging folder older than a few minutes whose
 * download shows none: written when the folder is made and while items are converted, at most once a minute.
 */
export class DownloadHeartbeat {
  private lastAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly vault: VaultStore,
    private readonly downloadId: string,
  ) {}

  async beat(): Promise<void> {
    const now = Date.now();
    if (now - this.lastAt < HEARTBEAT_EVERY_MS) return;
    await this.vault.writeJson(layout.downloadHeartbeat(this.downloadId), { at: new Date(now).toISOString() });
    this.lastAt = now;
  }
}
