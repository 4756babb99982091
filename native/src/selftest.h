/*
 * Checks that need no privileges: Avro encodings, SHA-1 vectors, paths, open flags, the OCF writer
 * (read back and inflated), and an engine scenario written to an OCF file that the TypeScript tests
 * decode with our reader and with avsc (test/collector.test.ts).
 */
#ifndef SFC_SELFTEST_H
#define SFC_SELFTEST_H

/* 0 when every check passes (failures are printed). */
int selftest_run(void);
/* Drive the engine through a fixed event scenario, writing an OCF file with sync 00..0f. 0 on success. */
int selftest_scenario(const char *path);

#endif
