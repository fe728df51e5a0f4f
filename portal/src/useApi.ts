import { useCallback, useEffect, useState } from 'preact/hooks';
import { api } from './api.js';

/** Loads `path` (again whenever it changes); null path loads nothing. */
export function useApi<T>(path: string | null): { data?: T; error?: unknown; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: !!path });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    if (!path) return setState({ loading: false });
    let current = true;
    setState((s) => ({ ...s, loading: true, error: undefined }));
    api<T>(path).then(
      (data) => current && setState({ data, loading: false }),
      (error: unknown) => current && setState({ error, loading: false }),
    );
    return () => {
      current = false;
    };
  }, [path, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { ...state, reload };
}
