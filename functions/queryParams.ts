import type { HttpRequest } from '@azure/functions';

/** An optional ISO 8601 date or time from the query string; an error text naming the parameter when malformed. */
export function instantParam(request: HttpRequest, name: string, errors: string[]): string | undefined {
  const value = request.query.get(name);
  if (!value) return undefined;
  if (/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(value) && !Number.isNaN(Date.parse(value)))
    return new Date(value).toISOString();
  errors.push(`${name}: must be an ISO 8601 date or time such as 2026-11-20 or 2026-11-20T08:00:00Z`);
  return undefined;
}

/** A whole number from the query string within bounds (the default when absent). */
export function countParam(
  request: HttpRequest,
  name: string,
  bounds: { min: number; max: number; default: number },
  errors: string[],
): number {
  const text = request.query.get(name);
  const value = text === null || text === '' ? bounds.default : Number(text);
  if (Number.isInteger(value) && value >= bounds.min && value <= bounds.max) return value;
  errors.push(`${name}: must be a whole number from ${bounds.min} to ${bounds.max}`);
  return bounds.default;
}

/** `snapshot=` for the routes that read snapshots: `latest` (the default), `all`, or a snapshot id. */
export function snapshotParam(request: HttpRequest, errors: string[], allowAll: boolean): string {
  const value = request.query.get('snapshot') || 'latest';
  if (value === 'latest' || (allowAll && value === 'all') || /^\d{8}T\d{6}Z-[0-9a-f]{8}$/.test(value)) return value;
  errors.push(
    `snapshot: must be 'latest'${allowAll ? ", 'all'" : ''} or a snapshot id such as 20261123T020000Z-1a2b3c4d`,
  );
  return 'latest';
}
