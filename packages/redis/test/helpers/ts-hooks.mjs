// Node module hooks that let a plain `node` child process run this repository's TypeScript
// sources (tests spawn real OS processes that use @dlock/redis without building it first).
// Types are stripped with the TypeScript compiler's transpileModule; nothing is type-checked.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = new URL('../../../../', import.meta.url);
const aliases = {
  '@dlock/core': 'packages/core/src/index.ts',
  '@dlock/redis': 'packages/redis/src/index.ts',
};

export async function resolve(specifier, context, next) {
  const alias = aliases[specifier];
  if (alias !== undefined) return { url: new URL(alias, root).href, shortCircuit: true };
  // Sources import './x.js' (NodeNext style) for a file that exists as './x.ts'.
  if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
    const url = new URL(`${specifier.slice(0, -3)}.ts`, context.parentURL);
    if (existsSync(fileURLToPath(url))) return { url: url.href, shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  // `import text from './x.lua?raw'`: the file's text, as Vite and our tsup config give it.
  if (url.endsWith('?raw')) {
    const text = await readFile(fileURLToPath(url.slice(0, -'?raw'.length)), 'utf8');
    return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
  }
  if (!url.endsWith('.ts')) return next(url, context);
  const path = fileURLToPath(url);
  const output = ts.transpileModule(await readFile(path, 'utf8'), {
    fileName: path,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      inlineSourceMap: true,
      useDefineForClassFields: true,
    },
  });
  return { format: 'module', source: output.outputText, shortCircuit: true };
}
