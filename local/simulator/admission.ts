import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { BATCH_REQUEST_HEADER } from './batch.js';
import { DroppedConnection, SimHttpError } from './http.js';
import type { SimulatorState } from './state.js';
import type { SimMailbox } from './tenant.js';
import type { FaultKind, ScriptedFault } from './throttle.js';

/** Scripted faults taken on a request's arrival; `itemError` is taken by the export itself. */
const ARRIVAL_FAULTS: FaultKind[] = [
  'http429',
  'http503',
  'http504',
  'http401',
  'drop',
  'truncate',
  'loseImportResponse',
  'commitImportLate',
  'expireSession',
];

/** A mailbox by the id in a path or session, or Graph's 404 for a mailbox that does not exist. */
export function resolveMailbox(state: SimulatorState, id: string): SimMailbox {
  const mailbox = state.tenant.mailboxes.get(id);
  if (!mailbox) throw new SimHttpError(404, 'ErrorInvalidMailbox', `The mailbox '${id}' could not be found.`);
  return mailbox;
}

/** The configured latency, with its random jitter. */
export function waitLatency(state: SimulatorState): Promise<unknown> {
  const { ms, jitterMs } = state.latency;
  return ms || jitterMs ? sleep(ms + state.tenant.random.next() * jitterMs) : Promise.resolve();
}

/**
 * Admission, faults and latency for a request on one mailbox. The throttle slot is released when the answer
 * ends. Returns the scripted fault the operation carries out itself, if any.
 */
export async function enterMailbox(
  state: SimulatorState,
  req: IncomingMessage,
  res: ServerResponse,
  mailbox: SimMailbox,
  operation: string,
): Promise<ScriptedFault | undefined> {
  const { throttle } = state;
  const admission = throttle.admit(mailbox.id, operation);
  if (!admission.ok) throw new SimHttpError(429, admission.code, admission.message, admission.retryAfterSeconds);
  // Exchange frees a concurrency slot a moment after the answer, not as it ends: a client that sends its next
  // request the instant an answer arrives can find the slot still taken. A request whose connection is lost
  // before its answer ended (dropped, cut off, or given up by the client) goes on in Exchange, and is counted
  // until it has finished there: longer.
  const { concurrencySlotHoldMs, lostConnectionSlotHoldMs } = state.settings;
  let freed = false;
  const freeAfter = (hold: number) => () => {
    if (freed) return;
    freed = true;
    admission.release(hold);
  };
  res.once('finish', freeAfter(concurrencySlotHoldMs));
  res.once('close', freeAfter(Math.max(concurrencySlotHoldMs, lostConnectionSlotHoldMs)));
  // Export and import spans start at a call's arrival, its latency included, so rates measured over them
  // (the benchmark's) are not flattered by the first call's wait.
  const counters = throttle.countersFor(mailbox.id);
  if (operation === 'exportItems') counters.firstExportAt ||= Date.now();
  if (operation === 'importItem') counters.firstImportAt ||= Date.now();
  const scripted = throttle.takeScripted(operation, mailbox.id, mailbox.upn, ARRIVAL_FAULTS);
  await waitLatency(state);
  if (scripted) return applyScriptedFault(state, req, mailbox, scripted);
  applyRandomFaults(state, req);
  return undefined;
}

/** Answers for a scripted fault that is an HTTP error or a drop; hands back the others. */
function applyScriptedFault(
  state: SimulatorState,
  req: IncomingMessage,
  mailbox: SimMailbox,
  scripted: ScriptedFault,
): ScriptedFault {
  switch (scripted.fault) {
    case 'http429':
      state.throttle.countersFor(mailbox.id).throttled++;
      throw new SimHttpError(
        429,
        'ApplicationThrottled',
        'Application is over its MailboxConcurrency limit.',
        scripted.retryAfterSeconds ?? 1,
      );
    case 'http503':
      throw serviceUnavailable(scripted.retryAfterSeconds);
    case 'http504':
      throw gatewayTimeout();
    case 'http401':
      throw new SimHttpError(401, 'InvalidAuthenticationToken', 'Access token has expired or is not yet valid.');
    case 'drop':
      return dropConnection(req);
    default:
      return scripted;
  }
}

function applyRandomFaults({ throttle }: SimulatorState, req: IncomingMessage): void {
  const rates = throttle.faults;
  const drop = throttle.chance(rates.drop); // drawn for every request, so a seed replays the same faults
  if (drop && req.headers[BATCH_REQUEST_HEADER] === undefined) dropConnection(req);
  if (throttle.chance(rates.http503)) throw serviceUnavailable(rates.retryAfter503Seconds);
  if (throttle.chance(rates.http504)) throw gatewayTimeout();
}

export function dropConnection(req: IncomingMessage): never {
  req.socket.destroy();
  throw new DroppedConnection();
}

function serviceUnavailable(retryAfterSeconds: number | undefined): SimHttpError {
  return new SimHttpError(503, 'ServiceUnavailable', 'The service is temporarily unavailable.', retryAfterSeconds);
}

export function gatewayTimeout(): SimHttpError {
  return new SimHttpError(504, 'GatewayTimeout', 'The gateway did not receive a timely response.');
}
