import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Language, Parser, type Node } from 'web-tree-sitter';

export const INFRA = join(import.meta.dirname, '..', '..', 'infra');

/** Every .bicep file under infra/. */
export function bicepFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (entry.name.endsWith('.bicep')) out.push(join(dir, entry.name));
    }
  };
  walk(INFRA);
  return out.sort();
}

let parser: Parser | undefined;

/** tree-sitter-bicep (its wasm build, through web-tree-sitter): no native build, same grammar. */
export async function bicepParser(): Promise<Parser> {
  if (parser) return parser;
  await Parser.init();
  const require = createRequire(import.meta.url);
  const language = await Language.load(require.resolve('tree-sitter-bicep/tree-sitter-bicep.wasm'));
  parser = new Parser();
  parser.setLanguage(language);
  return parser;
}

/**
 * tree-sitter-bicep 1.1.0 predates the `extension` statement (needed for the Microsoft Graph extension). The
 * statement is checked on its own (see the test) and blanked out, keeping line numbers, before parsing.
 */
export const EXTENSION_STATEMENT = /^extension\s+[A-Za-z][A-Za-z0-9]*\s*$/m;

export interface ParsedBicep {
  file: string;
  source: string;
  root: Node;
  errors: string[];
}

export async function parseBicep(file: string): Promise<ParsedBicep> {
  const source = readFileSync(file, 'utf8');
  const parsable = source.replace(EXTENSION_STATEMENT, (line) => ' '.repeat(line.length));
  const tree = (await bicepParser()).parse(parsable)!;
  const errors: string[] = [];
  const walk = (node: Node) => {
    if (node.isError || node.isMissing)
      errors.push(
        `${file}:${node.startPosition.row + 1}:${node.startPosition.column + 1} ${node.isMissing ? 'missing' : 'unexpected'} ${node.type}: ${parsable.slice(node.startIndex, node.startIndex + 60).replace(/\s+/g, ' ')}`,
      );
    for (const child of node.children) if (child) walk(child);
  };
  walk(tree.rootNode);
  return { file, source, root: tree.rootNode, errors };
}

/** Every `key: value` property in a file, as text (the value trimmed), wherever it stands. */
export function properties(parsed: ParsedBicep): Array<{ key: string; value: string; line: number }> {
  const out: Array<{ key: string; value: string; line: number }> = [];
  const walk = (node: Node) => {
    if (node.type === 'object_property') {
      const [keyNode, , valueNode] = node.children;
      if (keyNode && valueNode)
        out.push({
          key: keyNode.text.replace(/^'|'$/g, ''),
          value: valueNode.text.trim(),
          line: node.startPosition.row + 1,
        });
    }
    for (const child of node.children) if (child) walk(child);
  };
  walk(parsed.root);
  return out;
}

/** Resource declarations: symbolic name and type@version. */
export function resources(parsed: ParsedBicep): Array<{ name: string; type: string; text: string }> {
  const out: Array<{ name: string; type: string; text: string }> = [];
  const walk = (node: Node) => {
    if (node.type === 'resource_declaration') {
      const name = node.children.find((c) => c?.type === 'identifier')?.text ?? '';
      const type = node.children.find((c) => c?.type === 'string')?.text.replace(/^'|'$/g, '') ?? '';
      out.push({ name, type, text: node.text });
    }
    for (const child of node.children) if (child) walk(child);
  };
  walk(parsed.root);
  return out;
}
