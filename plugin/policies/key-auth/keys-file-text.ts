// plugin/policies/key-auth/keys-file-text.ts
// A keysFile's text into checked key records: YAML (or JSON for `.json` files), a list of
// entries or `{ keys: [...] }`, each checked with the very schema of key-auth's `keys:` by EG's
// own Ajv, so a file entry and an inline one obey the same rules.

import YAML from 'yaml';
import { registerSchema } from '../../eg/policy-registry';
import type { KeyEntryInput } from './options';
import { keyEntrySchema } from './schema';
import { buildTable, prepareEntries, type KeyRecord, type KeyTable } from './key-table';

const FILE_SCHEMA = { $id: 'http://express-gateway.io/schemas/plugins/llm-gateway-keys-file.json', type: 'array', items: keyEntrySchema } as const;

let validateFile: ((data: unknown) => string | undefined) | undefined;

/** One readable line naming the entry; EG's Ajv quotes field names, never values. */
function describe(error: string): string {
  const where = (/^data(\[\d+\])?/.exec(error)?.[1] ?? '');
  // A `oneOf` failure also lists its branches' inner failures; the summary is clearer.
  if (error.includes('should match exactly one schema in oneOf')) return `keysFile${where} needs exactly one of key and sha256`;
  return (error.split(', ')[0] ?? error).replace(/^data/, 'keysFile');
}

// Parser messages quote the offending line, which may hold a key: only the position is kept.
function parseText(text: string, file: string): unknown {
  if (file.endsWith('.json')) {
    try {
      return JSON.parse(text);
    } catch {
      throw new Error('key-auth: the keysFile is not valid JSON');
    }
  }
  try {
    return YAML.parse(text);
  } catch (error: unknown) {
    const line = (error as { linePos?: Array<{ line: number }> }).linePos?.[0]?.line;
    throw new Error(`key-auth: the keysFile is not valid YAML${line === undefined ? '' : ` (line ${line})`}`);
  }
}

interface KeysFileContent {
  readonly records: KeyRecord[];
  readonly table: KeyTable;
  /** The entries given as `key` (not `sha256`), for the secrets registry only. */
  readonly plainKeys: string[];
}

/** Parses and checks a keysFile's text. Throws naming the entry. */
export function parseKeysFile(text: string, file: string): KeysFileContent {
  let data: unknown = parseText(text, file);
  if (data !== null && typeof data === 'object' && !Array.isArray(data) && 'keys' in data) data = (data as { keys: unknown }).keys;
  if (data === null || data === undefined) data = [];
  validateFile ??= registerSchema('keys-file', FILE_SCHEMA);
  const error = validateFile(data);
  if (error !== undefined) throw new Error(`key-auth: ${describe(error)}`);
  const entries = data as KeyEntryInput[];
  const records = prepareEntries(entries, 'keysFile');
  // Also rejects duplicates inside the file itself. A policy without inline `keys` uses this
  // table as it is, so neither a request nor a gateway.config.yml reload rebuilds it.
  return { records, table: buildTable(records), plainKeys: entries.flatMap((entry) => (entry.key === undefined ? [] : [String(entry.key)])) };
}
