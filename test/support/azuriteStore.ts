import { execFileSync } from 'node:child_process';
import { azuriteSources } from '../../local/azurite.js';

/** The pinned Azurite's compiled sources: tests load its stores from here, as its own process does. */
export const AZURITE_SRC = azuriteSources();

/**
 * The start of a script for `runInOwnProcess`: `azurite` (the sources), `Loki` (LokiJS as Azurite loads it) and
 * `sorts`, how often LokiJS has sorted an index again since the script last set it to 0.
 */
export const LOKI_WITH_SORTS_COUNTED = `
  const azurite = ${JSON.stringify(AZURITE_SRC)};
  const Loki = require(require('node:module').createRequire(azurite + '/x.js').resolve('lokijs'));
  let sorts = 0;
  const ensureIndex = Loki.Collection.prototype.ensureIndex;
  Loki.Collection.prototype.ensureIndex = function (property, force) {
    if (force || !this.binaryIndices[property] || this.binaryIndices[property].dirty) sorts++;
    return ensureIndex.call(this, property, force);
  };
`;

/** Runs `script` in a Node process of its own after `preload` (Azurite's patches, or none); parses its last line. */
export function runInOwnProcess<T>(preload: string[], script: string): T {
  const output = execFileSync(process.execPath, [...preload, '-e', script], { encoding: 'utf8' });
  return JSON.parse(output.trim().split('\n').pop()!) as T;
}
