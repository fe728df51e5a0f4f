import { selfServiceMailbox, useMe } from '../me.js';
import type { MailboxList } from '../types.js';
import { useApi } from '../useApi.js';
import { ErrorBox } from './ErrorBox.js';

/**
 * A labelled choice among the mailboxes in the vault (primary mailboxes; archives are reached from them). A
 * self-service user is offered their own mailbox and no other (the mailbox list is not theirs to read).
 */
export function MailboxPicker(props: { id: string; label: string; value: string; onChange: (upn: string) => void }) {
  const own = selfServiceMailbox(useMe());
  const { data, error } = useApi<MailboxList>(own ? null : 'mailboxes');
  const mailboxes = own ? [own] : (data?.mailboxes ?? []).filter((m) => !m.archiveOf && m.mailboxId).map((m) => m.upn);
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select id={props.id} value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
        {!own && <option value="">Choose a mailbox…</option>}
        {mailboxes.map((upn) => (
          <option key={upn} value={upn}>
            {upn}
          </option>
        ))}
      </select>
      <ErrorBox error={error} />
    </div>
  );
}
