/** A folder as backup and restore both see it: enough to rebuild its path and to find it again. */
export interface FolderNode {
  id: string;
  parentId: string | null;
  displayName: string;
  wellKnownName: string | null;
}

/** Path of every folder from the root down; a folder whose parent is unknown is a top (or the root itself). */
export function folderPaths(folders: Map<string, FolderNode>): Map<string, string[]> {
  const paths = new Map<string, string[]>();
  const pathOf = (id: string, depth = 0): string[] => {
    const known = paths.get(id);
    if (known) return known;
    const folder = folders.get(id)!;
    const isRoot =
      folder.wellKnownName === 'msgfolderroot' || (folder.displayName === '' && !folders.has(folder.parentId ?? ''));
    const parent =
      folder.parentId && folders.has(folder.parentId) && depth < 256 ? pathOf(folder.parentId, depth + 1) : [];
    const path = isRoot ? [] : [...parent, folder.displayName];
    paths.set(id, path);
    return path;
  };
  for (const id of folders.keys()) pathOf(id);
  return paths;
}

/** ['Inbox', 'a/b'] → 'Inbox/a\/b': the text form reports and requests use; parseFolderPath reads it back. */
export function folderPathText(path: string[]): string {
  return path.map((p) => p.replace(/\\/g, '\\\\').replace(/\//g, '\\/')).join('/');
}

/** 'Inbox/Projects' → ['Inbox', 'Projects']; a '/' inside a name is written '\/'. */
export function parseFolderPath(text: string): string[] {
  const names: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) current += text[++i];
    else if (c === '/') {
      if (current) names.push(current);
      current = '';
    } else current += c;
  }
  if (current) names.push(current);
  return names;
}

/** Folder paths compare as Exchange compares folder names: without regard to case. */
export function samePath(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((name, i) => name.toLowerCase() === b[i]!.toLowerCase());
}
