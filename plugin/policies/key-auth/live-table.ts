// plugin/policies/key-auth/live-table.ts
// The key table a policy instance answers from: its inline `keys`, merged with the keysFile's
// current version. A changed keysFile is merged in at the next request; a merge that fails (a key
// or id in both) keeps the table built before.

import { logger } from '../../logger';
import { buildTable, type KeyRecord, type KeyTable } from './key-table';
import type { KeysFileSource } from './keys-file';

export class LiveKeyTable {
  private table: KeyTable;
  private generation: number;

  constructor(private readonly inline: readonly KeyRecord[], private readonly source: KeysFileSource | undefined) {
    this.table = this.merge();
    this.generation = source?.generation ?? 0;
  }

  private merge(): KeyTable {
    if (this.source === undefined) return buildTable(this.inline);
    return this.inline.length === 0 ? this.source.table : buildTable(this.inline, this.source.records);
  }

  current(): KeyTable {
    if (this.source !== undefined && this.source.generation !== this.generation) {
      this.generation = this.source.generation;
      try {
        this.table = this.merge();
      } catch (error: unknown) {
        logger.error({ err: error instanceof Error ? error.message : String(error) }, 'key-auth: the keysFile conflicts with keys; keeping the keys loaded before');
      }
    }
    return this.table;
  }
}
