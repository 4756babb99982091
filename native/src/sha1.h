/* SHA-1 (FIPS 180-4), self-contained: FOIDs are sha1(containerId + path). */
#ifndef SFC_SHA1_H
#define SFC_SHA1_H

#include <stddef.h>
#include <stdint.h>

struct sha1 {
	uint32_t h[5];
	uint64_t len;
	uint8_t blk[64];
	size_t n;
};

void sha1_init(struct sha1 *s);
void sha1_update(struct sha1 *s, const void *data, size_t len);
void sha1_final(struct sha1 *s, uint8_t out[20]);
void sha1_buf(const void *data, size_t len, uint8_t out[20]);

#endif
