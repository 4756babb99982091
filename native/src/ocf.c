#define _GNU_SOURCE
#include "ocf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "avro.h"
#include "schema_v5.h"

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int ocf_write(struct ocf *o, const uint8_t *p, size_t n)
{
	int r = write_all(o->fd, p, n);
	if (r && !o->failed) {
		o->failed = 1;
		logmsg("write %s: %s (records are being lost)", o->path, strerror(-r));
	}
	return r;
}

int ocf_open(struct ocf *o, const char *path, const uint8_t *sync, int codec_null)
{
	memset(o, 0, sizeof(*o));
	o->codec_null = codec_null;
	o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (o->fd < 0)
		return -errno;
	o->path = xstrdup(path);
	if (sync) {
		memcpy(o->sync, sync, 16);
	} else if (getrandom(o->sync, 16, 0) != 16) {
		/* no entropy source: still unique enough per file for a sync marker */
		int64_t t = now_realtime_ns() ^ ((int64_t)getpid() << 32);
		for (int i = 0; i < 16; i++)
			o->sync[i] = (uint8_t)(t >> ((i % 8) * 8)) ^ (uint8_t)(i * 0x9d);
	}
	if (!codec_null) {
		if (deflateInit2(&o->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
			close(o->fd);
			free(o->path);
			return -ENOMEM;
		}
		o->z_ready = 1;
	}
	struct buf h = {0};
	buf_put(&h, "Obj\x01", 4);
	av_long(&h, 2); /* one metadata block of two entries */
	av_string(&h, "avro.codec");
	av_string(&h, codec_null ? "null" : "deflate");
	av_string(&h, "avro.schema");
	av_bytes(&h, SF_SCHEMA_JSON, sizeof(SF_SCHEMA_JSON) - 1);
	av_long(&h, 0);
	buf_put(&h, o->sync, 16);
	int r = ocf_write(o, h.p, h.len);
	buf_free(&h);
	return r;
}

int ocf_flush(struct ocf *o)
{
	if (o->count == 0)
		return 0;
	const uint8_t *data = o->block.p;
	size_t size = o->block.len;
	if (!o->codec_null) {
		deflateReset(&o->z);
		size_t bound = deflateBound(&o->z, o->block.len);
		o->out.len = 0;
		buf_reserve(&o->out, bound);
		o->z.next_in = o->block.p;
		o->z.avail_in = (uInt)o->block.len;
		o->z.next_out = o->out.p;
		o->z.avail_out = (uInt)bound;
		if (deflate(&o->z, Z_FINISH) != Z_STREAM_END) {
			logmsg("deflate failed on %s", o->path);
			o->block.len = 0;
			o->count = 0;
			return -EIO;
		}
		data = o->out.p;
		size = bound - o->z.avail_out;
	}
	struct buf h = {0};
	av_long(&h, o->count);
	av_long(&h, (int64_t)size);
	int r = ocf_write(o, h.p, h.len);
	if (!r)
		r = ocf_write(o, data, size);
	if (!r)
		r = ocf_write(o, o->sync, 16);
	buf_free(&h);
	o->block.len = 0;
	o->count = 0;
	return r;
}

int ocf_append(struct ocf *o, const uint8_t *datum, size_t n)
{
	int r = 0;
	if (o->block.len >= OCF_BLOCK_BYTES)
		r = ocf_flush(o);
	buf_put(&o->block, datum, n);
	o->count++;
	o->records++;
	return r;
}

int ocf_close(struct ocf *o)
{
	if (o->fd < 0)
		return 0;
	int r = ocf_flush(o);
	if (close(o->fd) && !r)
		r = -errno;
	o->fd = -1;
	if (o->z_ready)
		deflateEnd(&o->z);
	o->z_ready = 0;
	buf_free(&o->block);
	buf_free(&o->out);
	free(o->path);
	o->path = NULL;
	return r;
}
