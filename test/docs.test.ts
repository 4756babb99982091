/** Generated documentation stays in sync with the code it describes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fieldsMarkdown } from '../core/policy/fields-doc.js';
import { ROOT } from './helpers/corpus.js';

test('docs/fields.md equals `sfprocessor -listfields` (regenerate with: node dist/core/cli/sfprocessor.js -listfields > docs/fields.md)', () => {
  assert.equal(readFileSync(join(ROOT, 'docs/fields.md'), 'utf8'), fieldsMarkdown());
});

test('every YAML policy example in README.md and docs/*.md loads with all rules supported', async () => {
  const { readdirSync, mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { loadPolicySet } = await import('../core/policy/policyset.js');
  const { initHashing } = await import('../core/util/xxh.js');
  await initHashing();
  const docs = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const dir = mkdtempSync(join(tmpdir(), 'sfp-docs-'));
  let examples = 0;
  try {
    for (const doc of docs) {
      const text = readFileSync(join(ROOT, doc), 'utf8');
      for (const m of text.matchAll(/```yaml\n([\s\S]*?)```/g)) {
        const file = join(dir, `example-${examples++}.yaml`);
        writeFileSync(file, m[1]!);
        const set = loadPolicySet(file);
        assert.ok(set.report.length > 0, `${doc}: example has rules`);
        for (const r of set.report) assert.ok(r.status === 'supported' || r.status === 'approximated', `${doc}: rule '${r.name}' is ${r.status}: ${r.notes.join('; ')}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(examples >= 1, 'found the examples');
});
