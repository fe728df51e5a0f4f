import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The portal's build (`npm run build`): Preact with the automatic JSX runtime, served by the app under
 * /api/portal/ (functions/portal.ts) from dist/portal. The manifest marks a finished build for the server.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/api/portal/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/portal', import.meta.url)),
    emptyOutDir: true,
    manifest: true,
    // No inline scripts or data URLs: the page's Content-Security-Policy allows files of its own origin only.
    assetsInlineLimit: 0,
  },
  logLevel: 'warn',
});
