import type { MailboxList } from '../types.js';
import { useApi } from '../useApi.js';
import { ErrorBox } from './ErrorBox.js';

/** A labelled choice among the mailboxes in the vault (primary mailboxes; archives are reached from them). */
export function MailboxPicker(props: { id: string; label: string; value: string; onChange: (upn: string) => void }) {
  const { data, error } = useApi<MailboxList>('mailboxes');
  const mailboxes = (data?.mailboxes ?? []).filter((m) => !m.archiveOf && m.mailboxId);
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select id={props.id} value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
        <option value="">Choose a mailbox…</option>
        {mailboxes.map((m) => (
          <option key={m.upn} value={m.upn}>
            {m.upn}
          </option>
        ))}
      </select>
      <ErrorBox error={error} />
    </div>
  );
}
