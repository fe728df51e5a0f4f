/**
 * What a download offers for each kind of item. Graph renders MIME (`$value`) for messages only: calendar items,
 * contacts, tasks and notes have no file form in Graph's v1.0 mail, calendar or contacts APIs (no `.ics` or `.vcf`
 * rendering of a stored item; EWS's MimeContent did this, and EWS is being retired). Those are restored instead.
 */

/** Message classes that download as EML: mail, meeting messages, posts, reports (NDRs, receipts). */
export function isDownloadableClass(messageClass: string): boolean {
  const lower = messageClass.toLowerCase();
  return (
    lower === 'ipm' ||
    lower === 'ipm.note' ||
    lower.startsWith('ipm.note.') ||
    lower.startsWith('ipm.schedule.meeting.') ||
    lower.startsWith('report.ipm.note.')
  );
}

/** What to tell a caller who asks for an item that is not a message. */
export function notDownloadableReason(messageClass: string): string {
  const lower = messageClass.toLowerCase();
  const kind = lower.startsWith('ipm.appointment')
    ? 'a calendar item'
    : lower.startsWith('ipm.contact') || lower.startsWith('ipm.distlist')
      ? 'a contact'
      : lower.startsWith('ipm.task')
        ? 'a task'
        : `an item of class ${messageClass}`;
  return `This is ${kind}: Microsoft Graph renders only messages as files (no .ics or .vcf), so restore it instead (POST /api/restores with its itemIds)`;
}
