import type { AppConfig } from '../config.js';
import { MailboxNotFoundError, type MailboxClient } from '../graph/index.js';
import { isMailboxId } from '../mailbox/index.js';
import { RestoreRequestError } from '../restore/request.js';
import { archiveMailboxOf } from '../vault/archiveLinks.js';
import { listSnapshots } from '../vault/snapshotCatalog.js';
import type { VaultStore } from '../vault/vaultStore.js';
import type { Caller } from './principal.js';
import { AccessRefusal } from './refusal.js';
import { outOfBackupScope } from './scope.js';

/**
 * The restore policy, shared by every route that backs up, browses or restores. Each refusal is an
 * AccessRefusal naming its rule (the API answers 403 with it):
 * - on-demand backups only of mailboxes in the backup scope (`backupScope`);
 * - restore sources and targets in the backup scope (`restoreSourceScope`, `restoreTargetScope`);
 * - into a mailbox other than the source only with MAILBOX_VAULT_RESTORE_TARGETS allowing it, when set
 *   (`restoreTargetAllowList`);
 * - a self-service caller (no role, MAILBOX_VAULT_SELF_SERVICE on) only their own mailbox (`selfServiceOwnMailbox`),
 *   into their own mailbox (`restoreIntoOtherMailbox`), and only their own restores (`selfServiceOwnRestore`);
 * - a raw mailbox id is looked up in the vault and confirmed with the directory, never taken on trust
 *   (`mailboxIdLookup`).
 */
export interface PolicyContext {
  graph: MailboxClient;
  vault: VaultStore;
  config: AppConfig;
}

/** The caller, and whether only self-service lets them call this route (they hold no role for it). */
export interface Authorization {
  caller: Caller;
  selfService: boolean;
}

/** A mailbox named in a request, with the user it belongs to as the directory confirms. */
export interface LookedUpMailbox {
  /** What the request said. */
  value: string;
  /** The owner's UPN: the value itself, or the vault's record of a mailbox id, confirmed by Graph. */
  upn: string;
  /** The owner's primary mailbox id. */
  ownerMailboxId: string;
  /** The value was a mailbox id other than the owner's primary (an in-place archive in the vault). */
  archive: boolean;
}

export async function lookUpMailbox(ctx: PolicyContext, value: string, field: string): Promise<LookedUpMailbox> {
  if (!isMailboxId(value)) {
    // Not a refusal: the request names a user without a mailbox, a 400 as any invalid input.
    const ids = await mailboxIdsOr(ctx.graph, value, () => {
      throw new RestoreRequestError('InvalidRequest', 'The request is not valid', [
        `${field}: '${value}' has no Exchange Online mailbox`,
      ]);
    });
    return { value, upn: value, ownerMailboxId: ids.primaryMailboxId, archive: false };
  }
  const unknown = () => {
    throw new AccessRefusal('mailboxIdLookup', 'The mailbox id could not be confirmed', [
      `${field}: '${value}' is not a mailbox the vault holds for a user the directory confirms; name it by user principal name`,
    ]);
  };
  const [record] = await listSnapshots(ctx.vault, value);
  if (!record) return unknown();
  const ids = await mailboxIdsOr(ctx.graph, record.upn, unknown);
  const owner = ids.primaryMailboxId;
  if (owner !== value && owner !== record.archiveOf) return unknown();
  return { value, upn: record.upn, ownerMailboxId: owner, archive: owner !== value };
}

/**
 * `lookUpMailbox`, but a self-service caller naming something that is no mailbox the vault and the directory
 * confirm is refused as for another's mailbox (`refuse`): a 400 or another rule would tell them which names exist.
 */
export async function lookUpOrRefuse(
  ctx: PolicyContext,
  auth: Authorization,
  value: string,
  field: string,
  refuse: () => never,
): Promise<LookedUpMailbox> {
  try {
    return await lookUpMailbox(ctx, value, field);
  } catch (error) {
    const unresolved =
      error instanceof RestoreRequestError || (error instanceof AccessRefusal && error.rule === 'mailboxIdLookup');
    if (auth.selfService && unresolved) refuse();
    throw error;
  }
}

async function mailboxIdsOr(graph: MailboxClient, user: string, orElse: () => never) {
  try {
    return await graph.getMailboxIds(user);
  } catch (error) {
    if (error instanceof MailboxNotFoundError) orElse();
    throw error;
  }
}

/** On-demand backups: every mailbox named must be in the backup scope. */
export async function authorizeBackup(ctx: PolicyContext, mailboxes: string[] | undefined): Promise<void> {
  if (!mailboxes?.length) return;
  const outside = await outOfBackupScope(ctx.graph, ctx.config.backup.scope, mailboxes);
  if (outside.length)
    throw new AccessRefusal(
      'backupScope',
      'Only mailboxes in the backup scope can be backed up',
      outside.map((u) => `mailboxes: '${u}' is not in MAILBOX_VAULT_SCOPE_USERS or MAILBOX_VAULT_SCOPE_GROUP_ID`),
    );
}

/** The restore's source and target, looked up, and refused by the first rule they break. */
export async function authorizeRestore(
  ctx: PolicyContext,
  auth: Authorization,
  body: { sourceMailbox: string; targetMailbox?: string | undefined },
): Promise<{ source: LookedUpMailbox; target: LookedUpMailbox }> {
  const notOwnSource = (): never => {
    throw new AccessRefusal('selfServiceOwnMailbox', 'Self-service restores only from your own mailbox', [
      `sourceMailbox: '${body.sourceMailbox}' is not the mailbox of ${auth.caller.name}`,
    ]);
  };
  const otherTarget = (): never => {
    throw new AccessRefusal('restoreIntoOtherMailbox', 'Restoring into another mailbox needs the restorer role', [
      `targetMailbox: '${body.targetMailbox}' is not the source mailbox`,
    ]);
  };
  const source = await lookUpOrRefuse(ctx, auth, body.sourceMailbox, 'sourceMailbox', notOwnSource);
  const target = body.targetMailbox
    ? await lookUpOrRefuse(ctx, auth, body.targetMailbox, 'targetMailbox', otherTarget)
    : source;
  const sameOwner = source.ownerMailboxId === target.ownerMailboxId;
  if (auth.selfService) {
    if (source.ownerMailboxId !== (await ownMailboxId(ctx, auth.caller))) notOwnSource();
    if (!sameOwner) otherTarget();
  }
  const scope = ctx.config.backup.scope;
  if ((await outOfBackupScope(ctx.graph, scope, [source.upn])).length)
    throw new AccessRefusal('restoreSourceScope', 'The source mailbox is not in the backup scope', [
      `sourceMailbox: '${body.sourceMailbox}' is not in the backup scope`,
    ]);
  if (!sameOwner && (await outOfBackupScope(ctx.graph, scope, [target.upn])).length)
    throw new AccessRefusal('restoreTargetScope', 'The target mailbox is not in the backup scope', [
      `targetMailbox: '${body.targetMailbox}' is not in the backup scope`,
    ]);
  const allowed = ctx.config.access.restoreTargets;
  if (!sameOwner && allowed && !allowed.includes(target.upn.toLowerCase()))
    throw new AccessRefusal('restoreTargetAllowList', 'The target mailbox is not on the restore allow-list', [
      `targetMailbox: '${body.targetMailbox}' is not in MAILBOX_VAULT_RESTORE_TARGETS`,
    ]);
  return { source, target };
}

/** Browsing: a self-service caller sees their own mailbox and its in-place archive only. */
export async function authorizeMailboxRead(ctx: PolicyContext, auth: Authorization, mailboxId: string): Promise<void> {
  if (!auth.selfService) return;
  const own = await ownMailboxId(ctx, auth.caller);
  if (own && (mailboxId === own || mailboxId === (await archiveMailboxOf(ctx.vault, own)))) return;
  refuseOthersMailbox(auth);
}

/** The self-service refusal of any mailbox but the caller's own, also of a name that has no mailbox at all. */
export function refuseOthersMailbox(auth: Authorization): never {
  throw new AccessRefusal('selfServiceOwnMailbox', 'Self-service shows your own mailbox only', [
    `mailbox: not the mailbox of ${auth.caller.name}`,
  ]);
}

/** Following a restore: a self-service caller follows only the restores they asked for. */
export function authorizeRestoreRead(auth: Authorization, requesterOid: string | null | undefined): void {
  if (!auth.selfService || requesterOid === auth.caller.oid) return;
  throw new AccessRefusal('selfServiceOwnRestore', 'Self-service shows your own restores only');
}

/** The caller's own mailbox: the directory's answer for their UPN (or object id), as Easy Auth verified it. */
async function ownMailboxId(ctx: PolicyContext, caller: Caller): Promise<string | undefined> {
  try {
    return (await ctx.graph.getMailboxIds(caller.upn ?? caller.oid)).primaryMailboxId;
  } catch (error) {
    if (error instanceof MailboxNotFoundError) return undefined;
    throw error;
  }
}
