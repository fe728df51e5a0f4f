import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Simulator } from './server.js';
import type { NewItem } from './tenant.js';

/**
 * The simulator's control API (`/_sim/...`): what a test or the demo needs to change the tenant between runs,
 * inspect mailboxes by content digest, read counters and inject faults. Loopback only, like the simulator.
 */
export async function handleControl(
  sim: Simulator,
  req: IncomingMessage,
  res: ServerResponse,
  segments: string[],
  url: URL,
): Promise<void> {
  const method = req.method ?? 'GET';
  const body = method === 'GET' || method === 'DELETE' ? {} : await readJson(req);
  const send = (status: number, value?: unknown) => {
    const text = value === undefined ? '' : JSON.stringify(value);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
  };
  const { tenant } = sim;
  try {
    const [a, b, c, d, e] = segments;
    if (a === 'mailboxes' && !b && method === 'GET') {
      return send(
        200,
        [...tenant.mailboxes.values()].map((m) => ({
          id: m.id,
          upn: m.upn,
          kind: m.kind,
          folders: m.folders.size,
          items: m.items.size,
        })),
      );
    }
    if (a === 'mailboxes' && !b && method === 'POST') {
      const mailbox = tenant.addMailbox(String(body.upn), { kind: body.kind === 'shared' ? 'shared' : 'user' });
      return send(201, { id: mailbox.id, upn: mailbox.upn });
    }
    if (a === 'mailboxes' && b) {
      const mailbox = tenant.mailbox(b);
      if (!c && method === 'GET')
        return send(200, tenant.inspect(mailbox, { digests: url.searchParams.get('digests') !== 'false' }));
      if (c === 'invalidate-delta' && method === 'POST') {
        sim.invalidateDeltaTokens(mailbox.id);
        return send(204);
      }
      if (c === 'folders' && method === 'POST') {
        const folder = tenant.ensureFolderPath(
          mailbox,
          String(body.path),
          typeof body.type === 'string' ? body.type : undefined,
        );
        return send(201, { id: folder.id, path: mailbox.folderPath(folder.id) });
      }
      if (c === 'items' && !d && method === 'POST') {
        const folderRef = String(body.folder ?? 'inbox');
        const folder = mailbox.folderByIdOrName(folderRef) ?? tenant.ensureFolderPath(mailbox, folderRef);
        const count = Number(body.count ?? 1);
        const created = Array.from({ length: count }, () => tenant.addItem(mailbox, folder.id, body as NewItem));
        return send(
          201,
          created.map((i) => ({ id: i.id, changeKey: i.changeKey })),
        );
      }
      if (c === 'items' && d && !e && method === 'PATCH') {
        const item = tenant.changeItem(mailbox, d, {
          subject: typeof body.subject === 'string' ? body.subject : undefined,
        });
        return send(200, { id: item.id, changeKey: item.changeKey });
      }
      if (c === 'items' && d && e === 'move' && method === 'POST') {
        const item = tenant.moveItem(mailbox, d, String(body.folder));
        return send(200, { id: item.id, changeKey: item.changeKey });
      }
      if (c === 'items' && d && e === 'export-error' && method === 'POST') {
        const item = tenant.requireItem(mailbox, d);
        if (body.code) item.exportErrorCode = String(body.code);
        else delete item.exportErrorCode;
        return send(204);
      }
      if (c === 'items' && d && !e && method === 'DELETE') {
        tenant.deleteItem(mailbox, d);
        return send(204);
      }
    }
    if (a === 'stats' && !b && method === 'GET') return send(200, Object.fromEntries(sim.throttle.counters));
    if (a === 'stats' && b === 'reset' && method === 'POST') {
      sim.throttle.resetCounters();
      return send(204);
    }
    if (a === 'faults' && method === 'PUT') {
      if (body.rates) sim.setFaults(body.rates as Record<string, number>);
      if (Array.isArray(body.script)) sim.script(...(body.script as Parameters<Simulator['script']>));
      return send(204);
    }
    if (a === 'faults' && method === 'DELETE') {
      sim.throttle.scripted = [];
      sim.setFaults({
        http503: 0,
        http504: 0,
        drop: 0,
        truncateExport: 0,
        exportItemError: 0,
        exportItemOmitted: 0,
        loseImportResponse: 0,
      });
      return send(204);
    }
    if (a === 'latency' && method === 'PUT') {
      sim.setLatency(Number(body.ms ?? 0), Number(body.jitterMs ?? 0));
      return send(204);
    }
    if (a === 'limits' && method === 'PUT') {
      Object.assign(sim.throttle.limits, body);
      return send(204);
    }
    if (a === 'tokens' && !b && method === 'POST') {
      const { token, expiresOnTimestamp } = sim.issueToken();
      return send(200, { access_token: token, expires_on: expiresOnTimestamp });
    }
    if (a === 'tokens' && b === 'revoke' && method === 'POST') {
      sim.revokeTokens(body.includeStatic === true);
      return send(204);
    }
    if (a === 'import-sessions' && b === 'expire' && method === 'POST') {
      sim.expireImportSessions();
      return send(204);
    }
    send(404, { error: { code: 'NotFound', message: `No control endpoint ${method} /_sim/${segments.join('/')}` } });
  } catch (error) {
    send(400, { error: { code: 'BadRequest', message: (error as Error).message } });
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const parts: Buffer[] = [];
  for await (const chunk of req) parts.push(chunk as Buffer);
  const text = Buffer.concat(parts).toString('utf8');
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}
