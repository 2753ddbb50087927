// plugin/policies/key-auth/keys-file.ts
// The keysFile: read, checked and turned into key records, then watched for changes. EG runs the
// policy factory again on every gateway.config.yml reload, so there is one source (and one
// watcher) per file path for the whole process; each new policy instance simply reads the
// source's current records, and old instances hold nothing that needs closing.

import fs from 'node:fs';
import path from 'node:path';
import Ajv, { type ErrorObject } from 'ajv';
import YAML from 'yaml';
import { logger } from '../../logger';
import { registerSecrets } from '../../secrets';
import type { KeyEntryInput } from './options';
import { keyEntrySchema } from './schema';
import { buildTable, prepareEntries, type KeyRecord, type KeyTable } from './key-table';

/** How often the file is looked at. Polling `stat` sees in-place writes and rename-replace alike. */
export const KEYS_FILE_POLL_MS = 500;

const ajv = new Ajv({ allErrors: false, strict: false });
// The keysFile's YAML parser (YAML 1.2 core schema) leaves dates as strings, and this Ajv has no
// `instanceof` keyword: its copy of the entry schema wants a string.
const fileEntrySchema = { ...keyEntrySchema, properties: { ...keyEntrySchema.properties, expiresAt: { type: 'string', minLength: 1 } } };
const validateEntries = ajv.compile<KeyEntryInput[]>({ type: 'array', items: fileEntrySchema });

/**
 * Parses and checks a keysFile's text: a list of entries, or `{ keys: [...] }`. Throws naming the
 * entry. `plainKeys` are the entries given as `key` (not `sha256`), for the secrets registry only.
 */
export function parseKeysFile(text: string, file: string): { records: KeyRecord[]; table: KeyTable; plainKeys: string[] } {
  let data: unknown = parseText(text, file);
  if (data !== null && typeof data === 'object' && !Array.isArray(data) && 'keys' in data) data = (data as { keys: unknown }).keys;
  if (data === null || data === undefined) data = [];
  if (!validateEntries(data)) {
    throw new Error(`key-auth: ${describeError(validateEntries.errors ?? [])}`);
  }
  const records = prepareEntries(data, 'keysFile');
  // Also rejects duplicates inside the file itself. A policy without inline `keys` uses this
  // table as it is, so neither a request nor a gateway.config.yml reload rebuilds it.
  return { records, table: buildTable(records), plainKeys: data.flatMap((entry) => (entry.key === undefined ? [] : [String(entry.key)])) };
}

/** One readable line naming the entry; values are never quoted, only field names. */
function describeError(errors: readonly ErrorObject[]): string {
  // A `oneOf` failure also reports its branches' inner failures first; the summary is clearer.
  const error = errors.find((e) => e.keyword === 'oneOf') ?? errors[0];
  if (error === undefined) return 'the keysFile is invalid';
  const where = error.instancePath.replace(/^\/(\d+)/, 'keysFile[$1]').replace(/\//g, '.') || 'the keysFile';
  if (error.keyword === 'oneOf') return `${where} needs exactly one of key and sha256`;
  if (error.keyword === 'additionalProperties') return `${where} has an unknown field "${String(error.params['additionalProperty'])}"`;
  return `${where} ${error.message ?? 'is invalid'}`;
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

interface Signature { mtimeMs: number; size: number; ino: number }

export class KeysFileSource {
  /** Bumped on every accepted change, so a policy instance knows to rebuild its table. */
  generation = 0;
  /** Why the last read failed, if it did: a factory refuses the config while no version was valid. */
  lastError: string | undefined;
  records: readonly KeyRecord[] = [];
  table: KeyTable = new Map();
  private signature: Signature | undefined;
  private lastText: string | undefined;
  private loaded = false;
  private readonly timer: NodeJS.Timeout;

  constructor(readonly file: string) {
    this.check(true);
    this.timer = setInterval(() => this.check(false), KEYS_FILE_POLL_MS);
    this.timer.unref();
  }

  /** True once some version of the file was valid: a gateway then never runs without its keys. */
  get hasRecords(): boolean { return this.loaded; }

  private check(initial: boolean): void {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(this.file);
    } catch (error: unknown) {
      this.lastError = `cannot read ${this.file}: ${codeOf(error)}`;
      if (this.signature !== undefined || initial) {
        logger.error({ file: this.file, err: messageOf(error) }, 'key-auth: cannot read the keysFile; keeping the keys loaded before');
      }
      this.signature = undefined;
      return;
    }
    const signature = { mtimeMs: stat.mtimeMs, size: stat.size, ino: stat.ino };
    const previous = this.signature;
    if (previous && previous.mtimeMs === signature.mtimeMs && previous.size === signature.size && previous.ino === signature.ino) return;
    this.signature = signature;
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (error: unknown) {
      this.lastError = `cannot read ${this.file}: ${codeOf(error)}`;
      logger.error({ file: this.file, err: messageOf(error) }, 'key-auth: cannot read the keysFile; keeping the keys loaded before');
      return;
    }
    if (text === this.lastText) return;
    this.lastText = text;
    try {
      const parsed = parseKeysFile(text, this.file);
      ({ records: this.records, table: this.table } = parsed);
      registerSecrets(this, parsed.plainKeys);
      this.loaded = true;
      this.lastError = undefined;
      this.generation += 1;
      logger.info({ file: this.file, keys: this.records.length }, 'key-auth: keysFile loaded');
    } catch (error: unknown) {
      // A half-written or mistaken file must not lock everyone out: the previous keys stay.
      logger.error({ file: this.file, err: messageOf(error) }, 'key-auth: the keysFile is invalid; keeping the keys loaded before');
      this.lastError = messageOf(error);
    }
  }

  /** Looks again now instead of at the next tick: a policy factory wants the freshest file. */
  refresh(): void { this.check(false); }

  close(): void { clearInterval(this.timer); }
}

const sources = new Map<string, KeysFileSource>();

/** The process-wide source of `file` (absolute), created on first use. */
export function keysFileSource(file: string): KeysFileSource {
  let source = sources.get(file);
  if (source === undefined) {
    source = new KeysFileSource(file);
    sources.set(file, source);
  } else {
    source.refresh();
  }
  return source;
}

/** A relative keysFile is relative to the config directory, like the config files themselves. */
export function resolveKeysFile(keysFile: string): string {
  return path.resolve(process.env['EG_CONFIG_DIR'] ?? process.cwd(), keysFile);
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : messageOf(error);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
