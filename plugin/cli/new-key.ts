// plugin/cli/new-key.ts
// `npm run key -- <id>`: prints a new random key (256 bits, base64url) and the `{ id, sha256 }`
// entry to paste under key-auth's `keys:` or into the keysFile. The key is shown once, here only.

import { createHash, randomBytes } from 'node:crypto';

const KEY_BYTES = 32;

function main(argv: readonly string[]): number {
  const id = argv[0];
  if (id === undefined || id.trim() === '' || argv.length > 1) {
    process.stderr.write('usage: npm run key -- <id>\n  prints a new API key and the key-auth entry { id, sha256 } for it\n');
    return 2;
  }
  const key = randomBytes(KEY_BYTES).toString('base64url');
  const sha256 = createHash('sha256').update(key, 'utf8').digest('hex');
  process.stdout.write([
    `key: ${key}`,
    '',
    '# Give the key above to its holder; paste this entry under key-auth `keys:` (or into the keysFile):',
    `- id: ${JSON.stringify(id)}`,
    `  sha256: ${sha256}`,
    '',
  ].join('\n'));
  return 0;
}

process.exitCode = main(process.argv.slice(2));
