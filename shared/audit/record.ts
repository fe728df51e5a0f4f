import type { Caller } from '../access/principal.js';
import type { TelemetryEvent } from '../telemetry.js';

/** The mutating calls of the API: each leaves exactly one audit record. */
export type AuditAction = 'backup' | 'restore' | 'cancelRestore' | 'maintenance' | 'download' | 'fetchDownload';

/** What a handler says about the call it is about to carry out. */
export interface AuditDetails {
  action: AuditAction;
  /** The run, restore or maintenance id the call started or touched. */
  subject?: string;
  /** Where data comes from and goes to (mailbox UPNs or ids, snapshot ids). */
  source?: Record<string, string | null>;
  target?: Record<string, string | null>;
  /** What was asked, in short (filters, counts, options); never tokens or item contents. */
  what?: Record<string, unknown>;
}

/** One line of the audit trail. */
export interface AuditRecord extends AuditDetails {
  id: string;
  at: string;
  /** accepted: the call was carried out; refused: a role or the policy said no; failed: it broke on the way. */
  outcome: 'accepted' | 'refused' | 'failed';
  status: number;
  route: string;
  who: Pick<Caller, 'kind' | 'oid' | 'upn' | 'name' | 'roles'>;
  clientAddress: string | null;
  userAgent: string | null;
  /** Why it was refused or failed: the title, and the policy rule when one refused it. */
  reason?: string;
  rule?: string;
}

export const AUDIT_EVENT = 'AuditRecord';

/** The record as an Application Insights event: flat, as the alert queries read events. */
export function auditEvent(record: AuditRecord): TelemetryEvent {
  const text = (value: unknown) => (value === undefined ? null : JSON.stringify(value));
  return {
    name: AUDIT_EVENT,
    auditId: record.id,
    at: record.at,
    action: record.action,
    outcome: record.outcome,
    status: record.status,
    route: record.route,
    subject: record.subject ?? null,
    oid: record.who.oid,
    upn: record.who.upn,
    principal: record.who.name,
    principalKind: record.who.kind,
    roles: record.who.roles.join(','),
    clientAddress: record.clientAddress,
    source: text(record.source),
    target: text(record.target),
    rule: record.rule ?? null,
    reason: record.reason ?? null,
  };
}
