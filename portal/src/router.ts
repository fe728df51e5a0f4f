import { useEffect, useState } from 'preact/hooks';

/** The page the address names: `#/search?mailbox=…` → path `/search`, params. Hash routes need no server help. */
export interface Route {
  path: string;
  params: URLSearchParams;
}

function currentRoute(): Route {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path = '/', search = ''] = hash.split('?');
  return { path, params: new URLSearchParams(search) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const changed = () => setRoute(currentRoute());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

export function href(path: string, params: Record<string, string | undefined> = {}): string {
  const search = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => !!e[1])).toString();
  return `#${path}${search ? `?${search}` : ''}`;
}

export function navigate(path: string, params: Record<string, string | undefined> = {}): void {
  location.hash = href(path, params);
}
