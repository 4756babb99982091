/*
 * Avro object container file writer: "Obj\x01", metadata {avro.codec=deflate, avro.schema=v5 JSON},
 * a 16-byte sync marker, then blocks {count, size, raw RFC 1951 deflate data, sync}. A block is
 * flushed when >= 80,000 bytes of uncompressed datums are buffered (as sf-collector does) and on close.
 */
#ifndef SFC_OCF_H
#define SFC_OCF_H

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "util.h"

#define OCF_BLOCK_BYTES 80000

struct ocf {
	int fd;
	char *path;
	uint8_t sync[16];
	struct buf block;
	struct buf out;
	int64_t count;
	uint64_t records;
	int failed;      /* a write failed: the error was reported once */
	int codec_null;  /* test aid: write the null codec instead of deflate */
	z_stream z;
	int z_ready;
};

/* sync: a fixed marker (tests), or NULL for a random one. Returns 0, or -errno. */
int ocf_open(struct ocf *o, const char *path, const uint8_t *sync, int codec_null);
int ocf_append(struct ocf *o, const uint8_t *datum, size_t n);
int ocf_flush(struct ocf *o);
int ocf_close(struct ocf *o);

#endif
