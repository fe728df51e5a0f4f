import { isTokenCredential, type TokenCredential } from '@azure/core-auth';
import {
  RestError,
  bearerTokenAuthenticationPolicy,
  createEmptyPipeline,
  createHttpHeaders,
  createPipelineRequest,
  type HttpClient,
  type HttpHeaders,
  type Pipeline,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import { StorageSharedKeyCredential, type ContainerClient } from '@azure/storage-blob';
import { storageRetryPolicy, storageSharedKeyCredentialPolicy } from '@azure/storage-common';
import { createKeepAliveHttpClient } from './keepAliveHttpClient.js';

export interface PutBlobOptions {
  metadata: Record<string, string>;
  contentType: string;
  /** `If-None-Match: *`: fail with 409/412 when the blob already exists. */
  onlyIfAbsent: boolean;
}

/** Writes one block blob in one request. Throws `RestError` (with `statusCode` and the service's error code). */
export type PutBlob = (blobName: string, body: Buffer, options: PutBlobOptions) => Promise<void>;

/** Reads a blob whole, or `count` bytes from `offset`; undefined when there is no such blob. */
export type GetBlob = (blobName: string, range?: { offset: number; count: number }) => Promise<Buffer | undefined>;

/** The Blob service version these requests are written against (neither has changed since long before it). */
const BLOB_SERVICE_VERSION = '2025-01-05';

function authPolicy(credential: unknown) {
  if (isTokenCredential(credential))
    return bearerTokenAuthenticationPolicy({
      credential: credential as TokenCredential,
      scopes: 'https://storage.azure.com/.default',
    });
  if (credential instanceof StorageSharedKeyCredential) {
    // The SDK's own pipeline builder (getCoreClientOptions) hands this policy the credential's key the same way.
    const { accountName, accountKey } = credential as unknown as { accountName: string; accountKey: Buffer };
    return storageSharedKeyCredentialPolicy({ accountName, accountKey });
  }
  return undefined; // anonymous: a SAS in the container URL authorises the request
}

/** One socket pool for every vault's small requests in the process. */
let sharedHttpClient: HttpClient | undefined;

/** The Storage SDK's authentication and retry policies, without its generated client. */
function storagePipeline(credential: unknown): Pipeline {
  const pipeline = createEmptyPipeline();
  pipeline.addPolicy(storageRetryPolicy());
  const auth = authPolicy(credential);
  if (auth) pipeline.addPolicy(auth);
  return pipeline;
}

/** Where a container's blobs are: each blob's URL, and whether plain http is allowed (Azurite on loopback). */
function containerAddress(containerUrl: string): { urlOf: (blobName: string) => string; insecure: boolean } {
  const url = new URL(containerUrl);
  const base = `${url.origin}${url.pathname.replace(/\/$/, '')}/`;
  const query = url.search; // a SAS, when the container URL carries one
  return {
    // The SDK's escaping of blob names: each path segment percent-encoded, the slashes kept.
    urlOf: (blobName) => `${base}${blobName.split('/').map(encodeURIComponent).join('/')}${query}`,
    insecure: url.protocol === 'http:', // the SDK allows it the same way
  };
}

function putHeaders(body: Buffer, options: PutBlobOptions): HttpHeaders {
  const headers = createHttpHeaders({
    'x-ms-version': BLOB_SERVICE_VERSION,
    'x-ms-blob-type': 'BlockBlob',
    'Content-Type': options.contentType,
    'Content-Length': String(body.length),
  });
  for (const [name, value] of Object.entries(options.metadata)) headers.set(`x-ms-meta-${name}`, value);
  if (options.onlyIfAbsent) headers.set('If-None-Match', '*');
  return headers;
}

function getHeaders(range: { offset: number; count: number } | undefined): HttpHeaders {
  const headers = createHttpHeaders({ 'x-ms-version': BLOB_SERVICE_VERSION });
  if (range) headers.set('x-ms-range', `bytes=${range.offset}-${range.offset + range.count - 1}`);
  return headers;
}

/** The service's answer as the `RestError` the SDK would throw: its status and error code. */
function failure(operation: string, blobName: string, response: PipelineResponse): RestError {
  const code = response.headers.get('x-ms-error-code') ?? undefined;
  return new RestError(`${operation} ${blobName}: ${response.status}${code ? ` ${code}` : ''}`, {
    statusCode: response.status,
    code,
  });
}

/**
 * Put Blob and Get Blob for the vault's small, frequent requests (item versions, batch records), sent through
 * core-rest-pipeline with the same authentication and retry policies the Storage SDK uses, but without its
 * generated client. Exporting makes one write per item, and through `BlockBlobClient.upload` that write cost
 * more CPU than everything else an exported item costs together (a client object per blob name, operation-spec
 * serialization, tracing); here most of its cost is Node's own HTTP. Small reads avoid `downloadToBuffer` for the
 * same reason. Streams, block uploads, listings and properties go through the SDK (docs/performance.md has the
 * measurements).
 */
export function createBlobRequests(
  container: ContainerClient,
  httpClient: HttpClient = (sharedHttpClient ??= createKeepAliveHttpClient()),
): { put: PutBlob; get: GetBlob } {
  const pipeline = storagePipeline(container.credential);
  const { urlOf, insecure } = containerAddress(container.url);

  const put: PutBlob = async (blobName, body, options) => {
    const request = createPipelineRequest({
      url: urlOf(blobName),
      method: 'PUT',
      headers: putHeaders(body, options),
      body,
      allowInsecureConnection: insecure,
    });
    const response = await pipeline.sendRequest(httpClient, request);
    if (response.status !== 201) throw failure('Put Blob', blobName, response);
  };

  const get: GetBlob = async (blobName, range) => {
    const request = createPipelineRequest({
      url: urlOf(blobName),
      method: 'GET',
      headers: getHeaders(range),
      allowInsecureConnection: insecure,
      streamResponseStatusCodes: new Set([200, 206]),
    });
    const response = await pipeline.sendRequest(httpClient, request);
    if (response.status === 404) return undefined;
    if (response.status !== 200 && response.status !== 206) throw failure('Get Blob', blobName, response);
    const chunks: Buffer[] = [];
    for await (const chunk of response.readableStreamBody!) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };

  return { put, get };
}
