import type { AccessToken, TokenCredential } from '@azure/core-auth';

/**
 * Client-credentials against the simulator's token endpoint (`/{tenant}/oauth2/v2.0/token`), the way an
 * app registration gets a Graph token. Each call asks for a fresh token, so a refresh after a 401 really
 * brings a new one.
 */
export class SimulatorTokenCredential implements TokenCredential {
  constructor(
    private readonly baseUrl: string,
    private readonly tenantId: string,
    private readonly clientId: string,
    private readonly clientSecret: string,
  ) {}

  async getToken(scopes: string | string[]): Promise<AccessToken> {
    const response = await fetch(`${this.baseUrl}/${this.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: this.clientId,
        client_secret: this.clientSecret,
        scope: Array.isArray(scopes) ? scopes.join(' ') : scopes,
      }),
    });
    const body = (await response.json()) as {
      access_token?: string;
      expires_in?: number;
      error?: string;
      error_description?: string;
    };
    if (!response.ok || !body.access_token)
      throw new Error(`Token request failed: ${body.error ?? response.status} ${body.error_description ?? ''}`.trim());
    return { token: body.access_token, expiresOnTimestamp: Date.now() + (body.expires_in ?? 3600) * 1000 };
  }
}
