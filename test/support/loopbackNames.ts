/**
 * Preloaded (`node --import`) into the app's process in end-to-end tests: `*.localhost` names resolve to the
 * loopback address, as RFC 6761 asks resolvers to (systemd-resolved and browsers do; glibc's files+dns does not).
 * The simulator's Key Vault is `*.vault.localhost`, a name below its resource (https://vault.localhost) as a real
 * vault is below vault.azure.net, which is what @azure/keyvault-secrets checks before it asks for a token. This is
 * the machine's resolver, not the app: the app's code and settings stay exactly as in Azure.
 */
import dns, { type LookupAddress, type LookupOptions } from 'node:dns';

type Callback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

const systemLookup = dns.lookup;

function loopbackLookup(hostname: string, options: LookupOptions | number | Callback, callback?: Callback): void {
  const done = (typeof options === 'function' ? options : callback)!;
  if (!/\.localhost\.?$/i.test(hostname))
    return (systemLookup as (...args: unknown[]) => void)(hostname, options, callback);
  const all = typeof options === 'object' && options.all === true;
  process.nextTick(() => (all ? done(null, [{ address: '127.0.0.1', family: 4 }]) : done(null, '127.0.0.1', 4)));
}

dns.lookup = loopbackLookup as typeof dns.lookup;
