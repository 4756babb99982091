/* Small helpers shared by the collector sources: allocation, time, logging, a byte buffer, a hash table. */
#ifndef SFC_UTIL_H
#define SFC_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SFC_VERSION "0.1.0"

extern int sfc_verbose;

void die_oom(void);
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void dbg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int64_t now_realtime_ns(void);
int64_t now_boottime_ns(void);
int64_t now_mono_ns(void);

/* growable byte buffer */
struct buf {
	uint8_t *p;
	size_t len, cap;
};
void buf_reserve(struct buf *b, size_t extra);
void buf_put(struct buf *b, const void *d, size_t n);
void buf_free(struct buf *b);

/*
 * Hash table with fixed-size keys (compared with memcmp) and pointer values. Open addressing,
 * linear probing, tombstones; grows at 50% load.
 */
struct htab {
	size_t keysz;
	size_t cap, used, tomb;
	uint8_t *keys;
	void **vals;
	uint8_t *state; /* 0 empty, 1 used, 2 deleted */
};
void htab_init(struct htab *h, size_t keysz);
void htab_free(struct htab *h);
void *htab_get(const struct htab *h, const void *key);
void htab_put(struct htab *h, const void *key, void *val);
void *htab_del(struct htab *h, const void *key);
size_t htab_count(const struct htab *h);

/* path helpers */
/* Lexically normalise an absolute path: collapse '//', drop '.', resolve '..' (root stays root). */
char *path_normalize(const char *p);
/* Absolute, normalised path of `rel` relative to directory `base` (itself absolute); `rel` absolute wins. */
char *path_join(const char *base, const char *rel);

/* Linux O_* open flags -> sysdig PPM open flags as SysFlow FileFlow.openFlags carries them. */
uint32_t ppm_open_flags(uint32_t linux_flags, int created);

#endif
