// test/harness-boundaries.test.ts
// test/ and bench/ share code only through testkit/: neither imports the other (nor spawns the
// other's compiled files), and testkit/ depends on neither, so each can change without the other.

import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from '../testkit/gateway';

type Area = 'test' | 'bench' | 'testkit';

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** The top-level folder a relative import of `file` lands in, or undefined for a package. */
function areaOf(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  return path.relative(REPO_ROOT, path.resolve(path.dirname(file), specifier)).split(path.sep)[0];
}

/** `file: specifier` for every import, re-export or require of `from`'s files that lands in one of `forbidden`. */
function crossings(from: Area, forbidden: readonly Area[]): string[] {
  const found: string[] = [];
  for (const file of sourceFiles(path.join(REPO_ROOT, from))) {
    const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      const area = areaOf(file, fileName);
      if (area !== undefined && (forbidden as readonly string[]).includes(area)) found.push(`${path.relative(REPO_ROOT, file)}: ${fileName}`);
    }
  }
  return found;
}

/**
 * `file: line` for every line of `from`'s files that names a path into `folder` (`top/sub`), as
 * path.join segments or as a path string: a script it spawns, a fixture it preloads.
 */
function pathsInto(from: Area, folder: string): string[] {
  const [top, sub] = folder.split('/');
  const pattern = new RegExp(`['"]${top}['"]\\s*,\\s*['"]${sub}['"]|['"\`/]${top}/${sub}/`);
  return sourceFiles(path.join(REPO_ROOT, from)).flatMap((file) => fs.readFileSync(file, 'utf8').split('\n')
    .filter((line) => !line.trimStart().startsWith('//') && pattern.test(line))
    .map((line) => `${path.relative(REPO_ROOT, file)}: ${line.trim()}`));
}

describe('harness boundaries: test/ and bench/ share code only through testkit/', function () {
  it('finds the three folders it checks', function () {
    for (const area of ['test', 'bench', 'testkit']) expect(sourceFiles(path.join(REPO_ROOT, area)), area).not.to.be.empty;
  });

  it('has no file under test/ import from bench/', function () {
    expect(crossings('test', ['bench'])).to.deep.equal([]);
  });

  it('has no file under bench/ import from test/', function () {
    expect(crossings('bench', ['test'])).to.deep.equal([]);
  });

  it('has testkit/ import from neither test/ nor bench/', function () {
    expect(crossings('testkit', ['test', 'bench'])).to.deep.equal([]);
  });

  it("names no path into the other side's code (a script to spawn, a fixture to preload)", function () {
    expect([...pathsInto('test', 'bench/lib'), ...pathsInto('bench', 'test/helpers'), ...pathsInto('bench', 'test/fixtures')]).to.deep.equal([]);
  });
});
