import { payloadBodyBytes, type PayloadSpec } from './payload.js';

/**
 * What `GET /users/{id}/messages/{id}/$value` answers for a simulated item: a MIME message rendered from the
 * item's spec alone, so the same item reads back the same bytes wherever it lives (the original mailbox, or a
 * staging mailbox it was imported into). Headers carry the spec's sender, subject, date and search key (the
 * spec has no recipients, so there is no To); the text part names the item and has lines starting with "From " (so mbox writers must escape them); the
 * spec's body bytes come back as a base64 attachment, so the rendering is as large as the item.
 */

/** Message classes Graph serves as messages (`/messages` and `$value`); others are events, contacts, tasks... */
export function isMessageClass(messageClass: string): boolean {
  const lower = messageClass.toLowerCase();
  return (
    lower === 'ipm' ||
    lower === 'ipm.note' ||
    lower.startsWith('ipm.note.') ||
    lower.startsWith('ipm.schedule.meeting.') ||
    lower.startsWith('report.ipm.note.')
  );
}

/** RFC 2047 encoded-word for a header value that is not plain ASCII. */
function headerText(text: string): string {
  return /^[\x20-\x7e]*$/.test(text) ? text : `=?utf-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;
}

/** RFC 5322 date, in UTC. */
export function rfc5322Date(iso: string): string {
  return new Date(iso).toUTCString().replace(/GMT$/, '+0000');
}

/** The text part's lines: derived from the spec, with a line that begins "From " and one that begins ">From ". */
export function mimeBodyText(spec: PayloadSpec): string {
  return [
    `Subject of this message: ${spec.subject}`,
    `From ${spec.senderEmail}, received ${new Date(spec.receivedDateTime).toISOString()}.`,
    `>From a quoted reply, kept as it was.`,
    `Seed ${spec.seed.toString(16)}; the attachment holds ${spec.bodyLength} bytes.`,
  ].join('\r\n');
}

export function mimeAttachmentName(spec: PayloadSpec): string {
  return `attachment-${spec.seed.toString(16)}.bin`;
}

/** The rendering in chunks, memory flat for any item size. */
export function* renderMime(spec: PayloadSpec): Generator<Buffer> {
  const boundary = `sim-boundary-${spec.seed.toString(16)}`;
  const head = [
    `From: ${spec.senderEmail}`,
    `Subject: ${headerText(spec.subject)}`,
    `Date: ${rfc5322Date(spec.receivedDateTime)}`,
    `Message-ID: <${spec.searchKey.toString('hex')}@simulator.contoso.example>`,
    `X-Simulator-Message-Class: ${spec.messageClass}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    mimeBodyText(spec),
    `--${boundary}`,
    `Content-Type: application/octet-stream; name="${mimeAttachmentName(spec)}"`,
    `Content-Disposition: attachment; filename="${mimeAttachmentName(spec)}"`,
    'Content-Transfer-Encoding: base64',
    '',
    '',
  ].join('\r\n');
  yield Buffer.from(head, 'utf8');
  // 57 bytes make one 76-character base64 line; carry the remainder over chunk boundaries.
  let carry = Buffer.alloc(0);
  for (const chunk of payloadBodyBytes(spec)) {
    const bytes = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    const whole = bytes.length - (bytes.length % 57);
    carry = Buffer.from(bytes.subarray(whole));
    yield base64Lines(bytes.subarray(0, whole));
  }
  if (carry.length) yield base64Lines(carry);
  yield Buffer.from(`--${boundary}--\r\n`, 'utf8');
}

function base64Lines(bytes: Buffer): Buffer {
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += 57) lines.push(bytes.subarray(at, at + 57).toString('base64'));
  return Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'utf8');
}
