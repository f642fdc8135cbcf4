// docs/writing-a-backend.md quotes this example and core's driver interface. Each of its TypeScript
// blocks follows a `<!-- snippet: path -->` line and must appear in that file: its lines in order
// and contiguous, except where a `// ...` line marks a gap.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../../', import.meta.url);
const guide = readFileSync(new URL('docs/writing-a-backend.md', root), 'utf8');
const blocks = [...guide.matchAll(/(?:<!-- snippet: (\S+) -->\n)?```ts\n([\s\S]*?)```/g)];

/** Whether `snippet`'s runs of lines (split at `// ...`) occur in `file`, in order. */
function quotes(file: string, snippet: string): boolean {
  const lines = file.split('\n').map((l) => l.trim());
  let from = 0;
  for (const run of snippet.trimEnd().split(/^\s*\/\/ \.\.\.\n/m)) {
    const want = run.split('\n').map((l) => l.trim()).filter((l, i, all) => l !== '' || i < all.length - 1);
    if (want.length === 0) continue;
    const at = lines.findIndex((_, i) => i >= from && want.every((w, j) => lines[i + j] === w));
    if (at < 0) return false;
    from = at + want.length;
  }
  return true;
}

describe('docs/writing-a-backend.md', () => {
  it('has snippets', () => expect(blocks.length).toBeGreaterThan(10));
  for (const [, path, snippet] of blocks) {
    it(`quotes ${path ?? '(no snippet line)'}: ${snippet!.split('\n').find((l) => l.trim() !== '' && !l.includes('// ...'))!.trim()}`, () => {
      expect(path, 'every ts block names the file it quotes').toBeDefined();
      expect(quotes(readFileSync(new URL(path!, root), 'utf8'), snippet!)).toBe(true);
    });
  }
});
