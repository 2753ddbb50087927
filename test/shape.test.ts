// test/shape.test.ts
// The shape a newcomer relies on, checked with the TypeScript compiler over plugin/: a small
// root, short files and functions, every export used by another file, and every require of EG's
// internals in plugin/eg/, the one folder that knows EG's and Node's private shapes.

import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from '../testkit/gateway';

const PLUGIN = path.join(REPO_ROOT, 'plugin');
const MAX_ROOT_FILES = 8;
const MAX_FILE_LINES = 200;
const MAX_FUNCTION_LINES = 60;

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

const program = ts.createProgram([...sourceFiles(PLUGIN), ...sourceFiles(path.join(REPO_ROOT, 'test')), ...sourceFiles(path.join(REPO_ROOT, 'bench'))], {
  target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, esModuleInterop: true, resolveJsonModule: true, skipLibCheck: true, noEmit: true,
});
const checker = program.getTypeChecker();
const ours = (file: ts.SourceFile): boolean => !file.isDeclarationFile && file.fileName.startsWith(REPO_ROOT) && !file.fileName.includes('node_modules');
const pluginFiles = program.getSourceFiles().filter((f) => ours(f) && f.fileName.startsWith(PLUGIN) && !f.fileName.endsWith('.d.ts'));
const relative = (file: string): string => path.relative(REPO_ROOT, file);

/** Every (declaration of an) exported symbol some other file imports or re-exports. */
function usedElsewhere(): Set<ts.Symbol> {
  const used = new Set<ts.Symbol>();
  for (const file of program.getSourceFiles().filter(ours)) {
    const visit = (node: ts.Node): void => {
      if ((ts.isImportSpecifier(node) || ts.isExportSpecifier(node)) && node.parent.parent.parent !== undefined) {
        const symbol = checker.getSymbolAtLocation(node.name);
        const target = symbol !== undefined && symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
        if (target !== undefined) used.add(target);
      }
      if (ts.isNamespaceImport(node) || ts.isImportClause(node)) {
        // `import x from`, `import * as x from`: everything of that module counts as used.
        const declaration = ts.isNamespaceImport(node) ? node.parent.parent : node.parent;
        const moduleSymbol = checker.getSymbolAtLocation(declaration.moduleSpecifier);
        if (moduleSymbol !== undefined && (ts.isNamespaceImport(node) || node.name !== undefined)) {
          for (const exported of checker.getExportsOfModule(moduleSymbol)) used.add(exported);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  return used;
}

describe('the shape of plugin/', function () {
  this.timeout(60_000);

  it(`keeps at most ${MAX_ROOT_FILES} files in the plugin root`, function () {
    const root = fs.readdirSync(PLUGIN, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
    expect(root, root.join(', ')).to.have.length.of.at.most(MAX_ROOT_FILES);
  });

  it(`has no file over ${MAX_FILE_LINES} lines and no function over ${MAX_FUNCTION_LINES}`, function () {
    const problems: string[] = [];
    for (const file of pluginFiles) {
      const lines = file.getLineAndCharacterOfPosition(file.getEnd()).line + 1;
      if (lines > MAX_FILE_LINES) problems.push(`${relative(file.fileName)}: ${lines} lines`);
      const visit = (node: ts.Node): void => {
        if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
          const start = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
          const end = file.getLineAndCharacterOfPosition(node.getEnd()).line;
          if (end - start + 1 > MAX_FUNCTION_LINES) problems.push(`${relative(file.fileName)}:${start + 1}: a function of ${end - start + 1} lines`);
        }
        ts.forEachChild(node, visit);
      };
      visit(file);
    }
    expect(problems, problems.join('\n')).to.deep.equal([]);
  });

  it('exports nothing that no other file uses', function () {
    const used = usedElsewhere();
    const unused: string[] = [];
    for (const file of pluginFiles) {
      const moduleSymbol = checker.getSymbolAtLocation(file);
      if (moduleSymbol === undefined) continue;
      for (const exported of checker.getExportsOfModule(moduleSymbol)) {
        const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
        // `export =` (the manifest EG requires) is used by EG, not by our files.
        if (exported.escapedName === 'export=' || used.has(exported) || used.has(target)) continue;
        unused.push(`${relative(file.fileName)}: ${exported.name}`);
      }
    }
    expect(unused, unused.join('\n')).to.deep.equal([]);
  });

  it('requires EG\'s internals (express-gateway/lib) only from plugin/eg/', function () {
    const outside = pluginFiles
      .filter((file) => !file.fileName.startsWith(path.join(PLUGIN, 'eg') + path.sep))
      .filter((file) => file.text.includes('express-gateway/lib'))
      .map((file) => relative(file.fileName));
    expect(outside).to.deep.equal([]);
  });
});
