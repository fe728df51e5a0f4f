import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { MailboxClient, type MailboxClientOptions } from '../../shared/graph/index.js';
import {
  startSimulator,
  SimTenant,
  seedTenant,
  type Simulator,
  type SimulatorOptions,
  type TenantSeed,
} from '../../local/simulator/index.js';

/**
 * For tests that speak raw HTTP to the simulator, one request the instant the last was answered. They test the
 * API's answers, not a client's pacing: with Exchange's slot hold a fast machine sends a fifth request while four
 * answered ones still hold their slots, and meets a 429 the test is not about.
 */
export const RAW_HTTP: SimulatorOptions = { concurrencySlotHoldMs: 0 };

/** Retries fast enough for tests, same logic as production. */
export const FAST_RETRY = { baseDelayInMs: 5, maxDelayInMs: 50, defaultRetryAfterInMs: 50, maxRetries: 8 };

export async function startSeededSimulator(seed: TenantSeed, options: SimulatorOptions = {}): Promise<Simulator> {
  const tenant = new SimTenant({ seed: options.seed ?? 7 });
  seedTenant(tenant, seed);
  return startSimulator({ ...options, tenant });
}

/**
 * A credential that asks the simulator for a new token every time (so a 401 refresh gets a new one), with every
 * role, or only the roles given, as an app registration granted only those would get.
 */
export class SimulatorIssuedCredential implements TokenCredential {
  calls = 0;
  constructor(
    private readonly sim: Simulator,
    private readonly roles?: readonly string[],
  ) {}
  async getToken(): Promise<AccessToken> {
    this.calls++;
    return this.sim.issueToken(this.roles ? { roles: this.roles } : {});
  }
}

export function clientFor(
  sim: Simulator,
  options: MailboxClientOptions = {},
  roles?: readonly string[],
): { client: MailboxClient; credential: SimulatorIssuedCredential } {
  const credential = new SimulatorIssuedCredential(sim, roles);
  const client = new MailboxClient(credential, { baseUrl: sim.baseUrl, retry: FAST_RETRY, ...options });
  return { client, credential };
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

export async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk);
  return Buffer.concat(parts);
}
