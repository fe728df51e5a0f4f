import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Me } from './types.js';

/** The signed-in caller, as GET /api/me described them; every page reads it to offer only what they may do. */
export const MeContext = createContext<Me | undefined>(undefined);

export function useMe(): Me {
  const me = useContext(MeContext);
  if (!me) throw new Error('useMe outside a signed-in portal');
  return me;
}

/**
 * The mailbox a self-service user is kept to, when self-service is all they have (no role of the app): the portal
 * then shows that mailbox only. The API refuses anything else on its own (403 `selfServiceOwnMailbox`).
 */
export function selfServiceMailbox(me: Me): string | undefined {
  return me.roles.length === 0 && me.selfService ? (me.ownMailbox ?? undefined) : undefined;
}

/** Whether the caller may restore into a mailbox other than the source: the restorer role only. */
export function mayRestoreElsewhere(me: Me): boolean {
  return me.roles.includes('restorer');
}
