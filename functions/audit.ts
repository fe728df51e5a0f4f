import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { getServices } from '../shared/services.js';
import { problem, registerApiRoute } from './http.js';

const DAY_MS = 24 * 60 * 60_000;
const MAX_RANGE_DAYS = 92;

/** `since` / `until` (ISO dates or times; the last 24 hours by default) and `limit` (1 to 10,000, default 1,000). */
function rangeParams(
  request: HttpRequest,
): { since: Date; until: Date; limit: number } | { response: HttpResponseInit } {
  const errors: string[] = [];
  const instant = (name: string, fallback: Date) => {
    const text = request.query.get(name);
    if (text === null) return fallback;
    const at = new Date(text);
    if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(at.getTime()))
      errors.push(`${name}: must be an ISO 8601 date or time, such as 2026-12-01T00:00:00Z`);
    return at;
  };
  const until = instant('until', new Date());
  const since = instant('since', new Date(until.getTime() - DAY_MS));
  const limit = Number(request.query.get('limit') ?? 1000);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
    errors.push('limit: must be a whole number from 1 to 10000');
  if (!errors.length && since > until) errors.push('since: must not be after until');
  if (!errors.length && until.getTime() - since.getTime() > MAX_RANGE_DAYS * DAY_MS)
    errors.push(`since: at most ${MAX_RANGE_DAYS} days before until`);
  return errors.length ? { response: problem(400, 'The request is not valid', errors) } : { since, until, limit };
}

/** `GET /api/audit?since=…&until=…&limit=…`: the audit trail's records in that range, oldest first. */
export async function readAudit(request: HttpRequest): Promise<HttpResponseInit> {
  const range = rangeParams(request);
  if ('response' in range) return range.response;
  const { audit } = await getServices();
  const { records, truncated } = await audit.read(range.since, range.until, range.limit);
  return {
    status: 200,
    jsonBody: { since: range.since.toISOString(), until: range.until.toISOString(), truncated, records },
  };
}

registerApiRoute('readAudit', 'GET', 'audit', { role: 'reader' }, readAudit);
