/** The API's answers, as the portal reads them (README, HTTP API). */
export interface Snapshot {
  id: string;
  takenAt: string;
  status: string;
  items: number;
  folders: number;
  bytes: number;
  failedItems: number;
}

export interface Item {
  id: string;
  type: string;
  subject: string | null;
  sender: string | null;
  receivedDateTime: string | null;
  createdDateTime: string | null;
  size: number;
  folderPath?: string;
  snapshotId?: string;
  takenAt?: string;
  fromFolderPath?: string;
}

export interface FolderPage {
  snapshot: { id: string; takenAt: string; status: string };
  folder: { id: string; path: string[]; type: string; items: number };
  folders: Array<{ id: string; name: string; path: string[]; type: string; items: number }>;
  items: Item[];
  nextLink?: string;
}

export interface MailboxFreshness {
  mailboxId: string | null;
  upn: string;
  archiveOf: string | null;
  snapshots: number;
  last: { snapshotId: string; takenAt: string; status: string; items: number; bytes: number } | null;
  ageHours: number | null;
  stale: boolean;
  note?: string;
}

export interface MailboxList {
  schedule: string;
  maxAgeHours: number;
  mailboxes: MailboxFreshness[];
}

export interface RunSummary {
  kind: 'backup' | 'restore' | 'maintenance';
  id: string;
  startedAt: string;
  finishedAt: string | null;
  status: string;
  counts: Record<string, number>;
  failures: string[];
}

export interface Dashboard {
  generatedAt: string;
  schedule: string;
  maxAgeHours: number;
  runs: RunSummary[];
  mailboxes: MailboxFreshness[];
  nights: Array<{ date: string; runs: number; itemsExported: number; bytesExported: number; itemsFailed: number }>;
  unusualNights: Array<{
    runId: string;
    startedAt: string;
    upn: string;
    removed: number;
    changed: number;
    usualRemoved: number | null;
    usualChanged: number | null;
    massDeletion: boolean;
    massChange: boolean;
  }>;
  verification: {
    maintenanceId: string | null;
    finishedAt: string | null;
    mode: string | null;
    snapshotsChecked: number;
    problems: Array<{
      snapshotId: string;
      kind: string;
      upn: string | null;
      folderPath?: string;
      subject?: string;
      blob: string;
    }>;
  };
}

export interface RestoreStatus {
  id: string;
  runtimeStatus: string;
  status: string;
  progress: { phase?: string; batchesDone?: number; batchCount?: number; toImport?: number } | null;
  report: {
    status: string;
    source: { upn: string | null; snapshotId: string };
    target: { upn: string | null };
    destination: { mode: string; root: string };
    counts: { selected: number; imported: number; skippedAlreadyPresent: number; failed: number };
    bytesImported: number;
    failures: Array<{ sourceItemId: string; folderPath: string; subject?: string; code: string; message: string }>;
    warnings: Array<{ sourceItemId?: string; code: string; message: string }>;
    error?: string;
  } | null;
}

/** `GET /api/me`: who is signed in, their roles, and whether self-service covers them. */
export interface Me {
  kind: 'user' | 'application';
  oid: string;
  upn: string | null;
  name: string;
  roles: Array<'reader' | 'operator' | 'restorer'>;
  appRoles: string[];
  selfService: boolean;
  ownMailbox: string | null;
}
