#define _GNU_SOURCE
#include "util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int sfc_verbose;

void die_oom(void)
{
	fputs("sfcollector: out of memory\n", stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die_oom();
	return p;
}

void *xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (!p)
		die_oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die_oom();
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *d = xmalloc(n + 1);
	memcpy(d, s, n);
	d[n] = 0;
	return d;
}

void logmsg(const char *fmt, ...)
{
	va_list ap;
	fputs("sfcollector: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void dbg(const char *fmt, ...)
{
	if (!sfc_verbose)
		return;
	va_list ap;
	fputs("sfcollector[debug]: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int64_t clock_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t now_realtime_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

int64_t now_boottime_ns(void)
{
	return clock_ns(CLOCK_BOOTTIME);
}

int64_t now_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* ---- buffer ---------------------------------------------------------------------------------------- */

void buf_reserve(struct buf *b, size_t extra)
{
	if (b->len + extra <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra)
		cap *= 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

void buf_put(struct buf *b, const void *d, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ---- hash table ------------------------------------------------------------------------------------ */

static uint64_t hash_bytes(const uint8_t *k, size_t n)
{
	/* FNV-1a, then a murmur-style finaliser so linear probing sees well-mixed low bits */
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= k[i];
		h *= 1099511628211ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

void htab_init(struct htab *h, size_t keysz)
{
	memset(h, 0, sizeof(*h));
	h->keysz = keysz;
}

void htab_free(struct htab *h)
{
	free(h->keys);
	free(h->vals);
	free(h->state);
	h->keys = NULL;
	h->vals = NULL;
	h->state = NULL;
	h->cap = h->used = h->tomb = 0;
}

static size_t htab_find(const struct htab *h, const void *key, int *found)
{
	size_t mask = h->cap - 1, i = hash_bytes(key, h->keysz) & mask, first_tomb = (size_t)-1;
	for (;;) {
		if (h->state[i] == 0) {
			*found = 0;
			return first_tomb != (size_t)-1 ? first_tomb : i;
		}
		if (h->state[i] == 1 && memcmp(h->keys + i * h->keysz, key, h->keysz) == 0) {
			*found = 1;
			return i;
		}
		if (h->state[i] == 2 && first_tomb == (size_t)-1)
			first_tomb = i;
		i = (i + 1) & mask;
	}
}

static void htab_grow(struct htab *h)
{
	struct htab n;
	htab_init(&n, h->keysz);
	n.cap = h->cap ? h->cap * 2 : 64;
	if (h->used * 4 < h->cap) /* mostly tombstones: rehash at the same size */
		n.cap = h->cap;
	n.keys = xcalloc(n.cap, h->keysz);
	n.vals = xcalloc(n.cap, sizeof(void *));
	n.state = xcalloc(n.cap, 1);
	for (size_t i = 0; i < h->cap; i++)
		if (h->state[i] == 1)
			htab_put(&n, h->keys + i * h->keysz, h->vals[i]);
	htab_free(h);
	*h = n;
}

void *htab_get(const struct htab *h, const void *key)
{
	if (!h->cap)
		return NULL;
	int found;
	size_t i = htab_find(h, key, &found);
	return found ? h->vals[i] : NULL;
}

void htab_put(struct htab *h, const void *key, void *val)
{
	if ((h->used + h->tomb + 1) * 2 > h->cap)
		htab_grow(h);
	int found;
	size_t i = htab_find(h, key, &found);
	if (!found) {
		if (h->state[i] == 2)
			h->tomb--;
		h->state[i] = 1;
		memcpy(h->keys + i * h->keysz, key, h->keysz);
		h->used++;
	}
	h->vals[i] = val;
}

void *htab_del(struct htab *h, const void *key)
{
	if (!h->cap)
		return NULL;
	int found;
	size_t i = htab_find(h, key, &found);
	if (!found)
		return NULL;
	void *v = h->vals[i];
	h->state[i] = 2;
	h->vals[i] = NULL;
	h->used--;
	h->tomb++;
	return v;
}

size_t htab_count(const struct htab *h)
{
	return h->used;
}

/* ---- paths ----------------------------------------------------------------------------------------- */

char *path_normalize(const char *p)
{
	size_t n = strlen(p);
	char *out = xmalloc(n + 2);
	size_t o = 0;
	out[o++] = '/';
	const char *s = p;
	while (*s) {
		while (*s == '/')
			s++;
		if (!*s)
			break;
		const char *e = s;
		while (*e && *e != '/')
			e++;
		size_t len = (size_t)(e - s);
		if (len == 1 && s[0] == '.') {
			/* skip */
		} else if (len == 2 && s[0] == '.' && s[1] == '.') {
			if (o > 1) {
				o--; /* drop the trailing '/' */
				while (o > 1 && out[o - 1] != '/')
					o--;
			}
		} else {
			if (o > 1 && out[o - 1] != '/')
				out[o++] = '/';
			memcpy(out + o, s, len);
			o += len;
		}
		s = e;
	}
	if (o > 1 && out[o - 1] == '/')
		o--;
	out[o] = 0;
	return out;
}

char *path_join(const char *base, const char *rel)
{
	if (rel[0] == '/' || !base || !base[0])
		return path_normalize(rel);
	size_t bl = strlen(base), rl = strlen(rel);
	char *tmp = xmalloc(bl + rl + 2);
	memcpy(tmp, base, bl);
	tmp[bl] = '/';
	memcpy(tmp + bl + 1, rel, rl + 1);
	char *r = path_normalize(tmp);
	free(tmp);
	return r;
}

/* ---- open flags ------------------------------------------------------------------------------------ */

uint32_t ppm_open_flags(uint32_t f, int created)
{
	/* Linux x86_64 values; the PPM bits are sysdig's and what SysFlow consumers decode. */
	uint32_t r = 0;
	switch (f & 03) {
	case 0: r |= 1; break;      /* RDONLY */
	case 1: r |= 2; break;      /* WRONLY */
	default: r |= 3; break;     /* RDWR */
	}
	if (f & 0100) r |= 4;         /* O_CREAT */
	if (f & 02000) r |= 8;        /* O_APPEND */
	if (f & 010000) r |= 16;      /* O_DSYNC */
	if (f & 0200) r |= 32;        /* O_EXCL */
	if (f & 04000) r |= 64;       /* O_NONBLOCK */
	if (f & 04000000) r |= 128;   /* __O_SYNC */
	if (f & 01000) r |= 256;      /* O_TRUNC */
	if (f & 040000) r |= 512;     /* O_DIRECT */
	if ((f & 020200000) == 020200000)
		r |= 8192;            /* O_TMPFILE (includes O_DIRECTORY) */
	else if (f & 0200000)
		r |= 1024;            /* O_DIRECTORY */
	if (f & 0100000) r |= 2048;   /* O_LARGEFILE */
	if (f & 02000000) r |= 4096;  /* O_CLOEXEC */
	if (created) r |= 16384;      /* F_CREATED */
	return r;
}
