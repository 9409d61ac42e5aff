import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

/** Module specifiers of the import and export-from statements of a TypeScript file. */
function importsOf(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  return [...source.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'/gm)].map(
    (match) => match[1] ?? '',
  );
}

describe('layout', () => {
  it('lib/ never imports from bin/: the app depends on the library, not the other way round', () => {
    const files = sourceFiles(path.join(REPO_ROOT, 'lib'));
    const intoBin = files.flatMap((file) =>
      importsOf(file)
        .filter((specifier) => specifier.startsWith('.'))
        .filter((specifier) => {
          const target = path.relative(REPO_ROOT, path.resolve(path.dirname(file), specifier));
          return target === 'bin' || target.startsWith(`bin${path.sep}`);
        })
        .map((specifier) => `${path.relative(REPO_ROOT, file)} -> ${specifier}`),
    );

    expect(files.length).toBeGreaterThan(5);
    expect(intoBin).toEqual([]);
  });
});
