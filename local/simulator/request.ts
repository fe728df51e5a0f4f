import type { IncomingMessage, ServerResponse } from 'node:http';
import type { parseFilter } from './odata.js';
import type { Params } from './router.js';
import type { SimulatorState } from './state.js';
import type { SimMailbox } from './tenant.js';
import type { ScriptedFault } from './throttle.js';

/** What every handler gets: the simulator's state and the request with the path segments its route captured. */
export interface SimRequest {
  readonly state: SimulatorState;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly params: Params;
}

/** A request under /v1.0 or /beta, its bearer token already checked. */
export interface GraphRequest extends SimRequest {
  readonly version: string;
}

/** A request on one mailbox, admitted by its throttle and past the injected faults that answer for it. */
export interface MailboxRequest extends GraphRequest {
  readonly mailbox: SimMailbox;
  /** `/admin/exchange/mailboxes/{id}`, for links to more pages. */
  readonly mailboxPath: string;
  /** A scripted fault the operation itself carries out (truncate, loseImportResponse…). */
  readonly scripted: ScriptedFault | undefined;
  readonly query: MailboxQuery;
}

export interface MailboxQuery {
  readonly filter: ReturnType<typeof parseFilter>;
  readonly select: string | null;
  /** Extended property ids asked for with $expand. */
  readonly expand: string[];
}
