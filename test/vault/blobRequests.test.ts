import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { createHttpHeaders, type HttpClient, type PipelineRequest } from '@azure/core-rest-pipeline';
import { BlobServiceClient, RestError } from '@azure/storage-blob';
import { createBlobRequests } from '../../shared/vault/blobRequests.js';
import { azuriteConnectionString } from '../support/vault.js';

describe('Put Blob and Get Blob without the generated client', () => {
  it('writes bytes, content type and metadata that the SDK reads back, under the SDK’s escaping of names (shared key, Azurite)', async () => {
    const container = BlobServiceClient.fromConnectionString(azuriteConnectionString()).getContainerClient(
      `put-${randomBytes(5).toString('hex')}`,
    );
    await container.create();
    const { put } = createBlobRequests(container);
    const name = 'mailboxes/a b/items/ü+%/v=1';
    const body = randomBytes(4321);
    await put(name, body, {
      metadata: { sha256: 'abc', length: '4321' },
      contentType: 'application/octet-stream',
      onlyIfAbsent: true,
    });

    const blob = container.getBlockBlobClient(name);
    const props = await blob.getProperties();
    expect(props.metadata).toEqual({ sha256: 'abc', length: '4321' });
    expect(props.contentType).toBe('application/octet-stream');
    expect((await blob.downloadToBuffer()).equals(body)).toBe(true);
    const listed: string[] = [];
    for await (const item of container.listBlobsFlat()) listed.push(item.name);
    expect(listed).toEqual([name]);
  });

  it('refuses to overwrite when asked for write-once, with the status and the service’s error code', async () => {
    const container = BlobServiceClient.fromConnectionString(azuriteConnectionString()).getContainerClient(
      `put-${randomBytes(5).toString('hex')}`,
    );
    await container.create();
    const { put } = createBlobRequests(container);
    await put('once', Buffer.from('first'), { metadata: {}, contentType: 'text/plain', onlyIfAbsent: true });
    const error = await put('once', Buffer.from('second'), {
      metadata: {},
      contentType: 'text/plain',
      onlyIfAbsent: true,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RestError);
    expect((error as RestError).statusCode).toBe(409);
    expect((error as RestError).code).toBe('BlobAlreadyExists');
    expect((await container.getBlockBlobClient('once').downloadToBuffer()).toString()).toBe('first');
    await put('once', Buffer.from('second'), { metadata: {}, contentType: 'text/plain', onlyIfAbsent: false });
    expect((await container.getBlockBlobClient('once').downloadToBuffer()).toString()).toBe('second');
  });

  it('reads a blob whole or a byte range of it, and an absent blob as undefined (shared key, Azurite)', async () => {
    const container = BlobServiceClient.fromConnectionString(azuriteConnectionString()).getContainerClient(
      `get-${randomBytes(5).toString('hex')}`,
    );
    await container.create();
    const { get } = createBlobRequests(container);
    const bytes = randomBytes(200_000);
    await container.getBlockBlobClient('runs/r 1/plan').uploadData(bytes);
    expect((await get('runs/r 1/plan'))!.equals(bytes)).toBe(true);
    expect(
      (await get('runs/r 1/plan', { offset: 150_000, count: 1234 }))!.equals(bytes.subarray(150_000, 151_234)),
    ).toBe(true);
    expect(await get('runs/r 1/absent')).toBeUndefined();
  });

  it('authorises with a bearer token for storage when the vault uses a token credential, and retries a 503', async () => {
    // Bearer tokens only go over TLS, so the wire is a recording HTTP client rather than a loopback server.
    const seen: PipelineRequest[] = [];
    const httpClient: HttpClient = {
      sendRequest: async (request) => {
        seen.push(request);
        return { request, status: seen.length === 1 ? 503 : 201, headers: createHttpHeaders() };
      },
    };
    const scopes: string[] = [];
    const credential: TokenCredential = {
      getToken: async (scope): Promise<AccessToken> => {
        scopes.push(...[scope].flat());
        return { token: 'storage-token', expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    };
    const container = new BlobServiceClient('https://account.blob.core.windows.net', credential).getContainerClient(
      'vault',
    );
    await createBlobRequests(container, httpClient).put('mailboxes/m/items/i/v', Buffer.from('bytes'), {
      metadata: { sha256: 'h' },
      contentType: 'application/octet-stream',
      onlyIfAbsent: true,
    });

    expect(seen).toHaveLength(2);
    expect(scopes).toContain('https://storage.azure.com/.default');
    const last = seen[1]!;
    expect(last.method).toBe('PUT');
    expect(last.url).toBe('https://account.blob.core.windows.net/vault/mailboxes/m/items/i/v');
    expect(Buffer.from(last.body as Buffer).toString()).toBe('bytes');
    expect(last.headers.toJSON()).toMatchObject({
      authorization: 'Bearer storage-token',
      'x-ms-blob-type': 'BlockBlob',
      'if-none-match': '*',
      'x-ms-meta-sha256': 'h',
      'content-type': 'application/octet-stream',
    });
  }, 30_000);
});
