/**
 * Printed by `npm test` before the tests run, so the first line of the output says whether the
 * whole corpus is checked or only the bundled fixtures.
 */
import { CORPUS_NOTE, HAVE_SHARED, listOracle, listTraces } from './corpus.js';

console.log(`corpus: ${CORPUS_NOTE} (${listTraces().length} traces, ${listOracle('json').length} oracle outputs${HAVE_SHARED ? '' : ' bundled'})`);
