import { createHash, X509Certificate } from 'node:crypto';
import { DEFAULT_APP_ROLES } from './permissions.js';

/** An app registration in the simulated Entra ID tenant: how it authenticates and what it was granted. */
export interface SimAppRegistration {
  clientId: string;
  /** A client secret the token endpoint accepts (none: the app cannot use a secret). */
  clientSecret?: string;
  /** PEM certificates uploaded to the app: client assertions signed by their keys are accepted. */
  certificates?: string[];
  /** Graph application permissions with admin consent; DEFAULT_APP_ROLES when absent. */
  roles?: string[];
  /**
   * Exchange RBAC for Applications: the mailboxes (ids or UPNs) the app may touch; every mailbox when absent.
   * Others answer 403 ErrorAccessDenied whatever the token's roles.
   */
  mailboxScope?: string[];
  /** App roles of the mailbox-vault API assigned to the app (MailboxVault.Reader, …); none when absent. */
  apiRoles?: string[];
}

/** A registration as the simulator keeps it: roles filled in, certificates by thumbprint. */
export interface RegisteredApp extends SimAppRegistration {
  readonly roles: string[];
  readonly apiRoles: string[];
  /** Certificates by their SHA-1 and SHA-256 thumbprints (hex, upper case), as `x5t` and `x5t#S256` name them. */
  readonly certificatesByThumbprint: Map<string, X509Certificate>;
}

export function registerApp(app: SimAppRegistration): RegisteredApp {
  const certificatesByThumbprint = new Map<string, X509Certificate>();
  for (const pem of app.certificates ?? []) {
    const certificate = new X509Certificate(pem);
    for (const algorithm of ['sha1', 'sha256'])
      certificatesByThumbprint.set(
        createHash(algorithm).update(certificate.raw).digest('hex').toUpperCase(),
        certificate,
      );
  }
  return {
    ...app,
    roles: [...(app.roles ?? DEFAULT_APP_ROLES)],
    apiRoles: [...(app.apiRoles ?? [])],
    certificatesByThumbprint,
  };
}
