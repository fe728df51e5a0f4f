import { afterAll, inject } from 'vitest';
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
  containersOfThisFile.push(containerName);
  return { vault, containerName };
}

/**
 * The suite shares one in-memory Azurite, which slows as it fills: every container a test file made goes when the
 * file is done (registered at import, so it runs after the file's own afterAll hooks).
 */
const containersOfThisFile: string[] = [];
afterAll(async () => {
  const service = BlobServiceClient.fromConnectionString(azuriteConnectionString());
  const names = containersOfThisFile.splice(0);
  await Promise.all(
    names.map((name) =>
      service
        .getContainerClient(name)
        .deleteIfExists()
        .catch(() => undefined),
    ),
  );
});
