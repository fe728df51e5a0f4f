import { z } from 'zod';

/** A user principal name as an admin types it: adele@contoso.com. */
export const UPN_PATTERN = /^[^\s@,;]+@[^\s@,;]+\.[^\s@,;]+$/;

/** Exchange's mailbox id as Graph's settings/exchange returns it: MBX:{guid}@{tenant guid}. */
export const MAILBOX_ID_PATTERN = /^MBX:[0-9a-fA-F-]+@[0-9a-fA-F-]+$/;

export function isUpn(value: string): boolean {
  return UPN_PATTERN.test(value);
}

export function isMailboxId(value: string): boolean {
  return MAILBOX_ID_PATTERN.test(value);
}

/** A UPN in a request body, with the message every API answers with. */
export const upnSchema = z.string().regex(UPN_PATTERN, 'must be a user principal name such as adele@contoso.com');

/** A UPN or a mailbox id in a request body. */
export const mailboxSchema = z
  .string()
  .refine(
    (value) => isUpn(value) || isMailboxId(value),
    'must be a user principal name (adele@contoso.com) or a mailbox id (MBX:…@…)',
  );
