import { inject } from 'vitest';
import { randomBytes } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { VaultStore } from '../../shared/vault/vaultStore.js';

export function azuriteConnectionString(): string {
  return inject('azuriteConnectionString');
}

/** A vault in a container of its own on the shared Azurite. */
export async function freshVault(prefix = 'test'): Promise<{ vault: VaultStore; containerName: string }> {
  const containerName = `${prefix}-${randomBytes(6).toString('hex')}`;
  const vault = new VaultStore(BlobServiceClient.fromConnectionString(azuriteConnectionString()), containerName, {
    blockSizeInBytes: 1024 * 1024,
  });
  await vault.ensureContainer();
  return { vault, containerName };
}
