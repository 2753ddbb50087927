// plugin/policies/key-auth/keys-file.ts
// The keysFile as a live source of key records. EG runs the policy factory again on every
// gateway.config.yml reload, so there is one source (and one watcher) per file path for the whole
// process; each new policy instance reads the source's current records, and old instances hold
// nothing that needs closing. A version that cannot be read or is invalid never replaces the
// last good one: a half-written file must not lock everyone out.

import fs from 'node:fs';
import path from 'node:path';
import { registerSecrets } from '../../http/secrets';
import { logger } from '../../logger';
import type { KeyRecord, KeyTable } from './key-table';
import { parseKeysFile } from './keys-file-text';

/**
 * How often `fs.watchFile` stats the file. Polling sees in-place writes and rename-replace (a
 * ConfigMap's symlink swap) alike, where inotify-based watching misses the latter.
 */
const KEYS_FILE_POLL_MS = 500;

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));
const codeOf = (error: unknown): string => {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : messageOf(error);
};

export class KeysFileSource {
  /** Bumped on every accepted change, so a policy instance knows to rebuild its table. */
  generation = 0;
  /** Why the last read failed, if it did: a factory refuses the config while no version was valid. */
  lastError: string | undefined;
  records: readonly KeyRecord[] = [];
  table: KeyTable = new Map();
  private lastText: string | undefined;
  private loaded = false;

  constructor(readonly file: string) {
    this.read(true);
    fs.watchFile(file, { interval: KEYS_FILE_POLL_MS, persistent: false }, () => this.read(false));
  }

  /** True once some version of the file was valid: a gateway then never runs without its keys. */
  get hasRecords(): boolean { return this.loaded; }

  /** Reads the file again; a factory calls it to build on the freshest version. */
  read(initial: boolean): void {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (error: unknown) {
      const failure = `cannot read ${this.file}: ${codeOf(error)}`;
      if (failure !== this.lastError || initial) logger.error({ file: this.file, err: messageOf(error) }, 'key-auth: cannot read the keysFile; keeping the keys loaded before');
      this.lastError = failure;
      this.lastText = undefined;
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
      logger.error({ file: this.file, err: messageOf(error) }, 'key-auth: the keysFile is invalid; keeping the keys loaded before');
      this.lastError = messageOf(error);
    }
  }
}

const sources = new Map<string, KeysFileSource>();

/**
 * The process-wide source of `keysFile`, created on first use. A relative path is relative to
 * the config directory, like the config files themselves.
 */
export function keysFileSource(keysFile: string): KeysFileSource {
  const file = path.resolve(process.env['EG_CONFIG_DIR'] ?? process.cwd(), keysFile);
  let source = sources.get(file);
  if (source === undefined) {
    source = new KeysFileSource(file);
    sources.set(file, source);
  } else {
    source.read(false);
  }
  return source;
}
