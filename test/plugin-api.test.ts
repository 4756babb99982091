/** The host-side check of a descriptor's `api` range, and its place in the descriptor check. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiMismatch, checkShape } from '../core/plugins/descriptor.js';
import { PLUGIN_API_VERSION } from '../core/api.js';

test('api ranges: the same major, at least the given minor and patch', () => {
  assert.equal(apiMismatch('^1', '1.0.0'), null);
  assert.equal(apiMismatch('1', '1.4.2'), null);
  assert.equal(apiMismatch('^1.4', '1.4.2'), null);
  assert.equal(apiMismatch('^1.4.2', '1.4.2'), null);
  assert.equal(apiMismatch('^1.4.3', '1.4.2'), 'needs plugin API ^1.4.3, and this sfprocessor has 1.4.2');
  assert.equal(apiMismatch('^1.5', '1.4.2'), 'needs plugin API ^1.5, and this sfprocessor has 1.4.2');
  assert.equal(apiMismatch('^2', '1.4.2'), 'needs plugin API ^2, and this sfprocessor has 1.4.2');
  assert.equal(apiMismatch('^0', '1.0.0'), 'needs plugin API ^0, and this sfprocessor has 1.0.0');
  assert.match(apiMismatch('>=1', '1.0.0')!, /field 'api' must be a plugin API range such as \^1/);
  assert.match(apiMismatch(1, '1.0.0')!, /got number 1/);
});

test('a descriptor needing another API is refused in one line naming file and plugin', () => {
  const d = { kind: 'channel', name: 'textchan', version: '1.0.0', api: '^2' };
  assert.throws(() => checkShape(d, '/p/x.js', null), { message: `/p/x.js: channel 'textchan': needs plugin API ^2, and this sfprocessor has ${PLUGIN_API_VERSION}` });
  assert.equal(checkShape({ ...d, api: '^1' }, '/p/x.js', null).name, 'textchan');
});
