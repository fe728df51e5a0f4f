/**
 * What another page chose for the restore wizard (selected items, a folder, what a compare found missing),
 * handed over within the tab; the wizard starts from it.
 */
export interface RestoreDraft {
  sourceMailbox: string;
  snapshot: string;
  itemIds?: string[];
  folders?: string[];
  /** Says what was chosen, for the person (for example "3 items selected in search"). */
  description?: string;
}

let draft: RestoreDraft | undefined;

export function setRestoreDraft(value: RestoreDraft): void {
  draft = value;
}

export function takeRestoreDraft(): RestoreDraft | undefined {
  const value = draft;
  draft = undefined;
  return value;
}
