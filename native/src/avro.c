#include "avro.h"

#include <string.h>

void av_long(struct buf *b, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); /* zig-zag */
	uint8_t tmp[10];
	size_t n = 0;
	do {
		uint8_t c = z & 0x7f;
		z >>= 7;
		if (z)
			c |= 0x80;
		tmp[n++] = c;
	} while (z);
	buf_put(b, tmp, n);
}

void av_int(struct buf *b, int32_t v)
{
	av_long(b, v);
}

void av_bool(struct buf *b, int v)
{
	uint8_t c = v ? 1 : 0;
	buf_put(b, &c, 1);
}

void av_bytes(struct buf *b, const void *p, size_t n)
{
	av_long(b, (int64_t)n);
	buf_put(b, p, n);
}

void av_string(struct buf *b, const char *s)
{
	if (!s)
		s = "";
	av_bytes(b, s, strlen(s));
}

void av_fixed(struct buf *b, const void *p, size_t n)
{
	buf_put(b, p, n);
}

static void av_oid(struct buf *b, const struct sf_oid *o)
{
	av_long(b, o->create_ts);
	av_long(b, o->hpid);
}

static void av_nullable_string(struct buf *b, const char *s)
{
	if (!s) {
		av_long(b, 0);
	} else {
		av_long(b, 1);
		av_string(b, s);
	}
}

static void av_string_array(struct buf *b, char *const *a, int n)
{
	if (n > 0) {
		av_long(b, n);
		for (int i = 0; i < n; i++)
			av_string(b, a[i]);
	}
	av_long(b, 0);
}

static void start(struct buf *b, enum sf_type t)
{
	b->len = 0;
	av_long(b, t);
}

void sf_enc_header(struct buf *b, const struct sf_header_rec *r)
{
	start(b, SF_HEADER);
	av_long(b, r->version);
	av_string(b, r->exporter);
	av_string(b, r->ip);
	av_string(b, r->filename);
}

/* Longest prefix of s of at most max bytes that does not end inside a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

static void enc_proc(struct buf *b, const struct sf_proc_rec *r, int nenv, size_t args_max, size_t path_max)
{
	start(b, SF_PROC);
	av_int(b, r->state);
	av_oid(b, &r->oid);
	if (r->has_poid) {
		av_long(b, 1);
		av_oid(b, &r->poid);
	} else {
		av_long(b, 0);
	}
	av_long(b, r->ts);
	const char *exe = r->exe ? r->exe : "";
	av_bytes(b, exe, utf8_cut(exe, path_max));
	const char *args = r->exe_args ? r->exe_args : "";
	av_bytes(b, args, utf8_cut(args, args_max));
	av_int(b, r->uid);
	av_string(b, r->user);
	av_int(b, r->gid);
	av_string(b, r->group);
	av_bool(b, r->tty);
	av_nullable_string(b, r->container_id);
	av_bool(b, r->entry);
	const char *cwd = r->cwd ? r->cwd : "";
	av_bytes(b, cwd, utf8_cut(cwd, path_max));
	av_string_array(b, r->env, nenv);
}

void sf_enc_proc(struct buf *b, const struct sf_proc_rec *r)
{
	int nenv = r->nenv;
	size_t args_max = (size_t)-1, path_max = (size_t)-1;
	enc_proc(b, r, nenv, args_max, path_max);
	/* Keep each datum under the consumer's 16 KiB message buffer: drop env entries from the end,
	 * then cut the argument string, then the paths. */
	while (b->len > SF_MAX_DATUM && nenv > 0) {
		nenv = nenv > 8 ? nenv - nenv / 4 : nenv - 1;
		enc_proc(b, r, nenv, args_max, path_max);
	}
	if (b->len > SF_MAX_DATUM) {
		args_max = 4096;
		enc_proc(b, r, nenv, args_max, path_max);
	}
	if (b->len > SF_MAX_DATUM) {
		path_max = 2048;
		enc_proc(b, r, nenv, args_max, path_max);
	}
}

void sf_enc_file(struct buf *b, const struct sf_file_rec *r)
{
	start(b, SF_FILE);
	av_int(b, r->state);
	av_fixed(b, r->oid, 20);
	av_long(b, r->ts);
	av_int(b, r->restype);
	const char *p = r->path ? r->path : "";
	av_bytes(b, p, utf8_cut(p, 8192));
	av_nullable_string(b, r->container_id);
}

static void flow_head(struct buf *b, const struct sf_oid *proc, int64_t ts, int64_t tid, int32_t opflags)
{
	av_oid(b, proc);
	av_long(b, ts);
	av_long(b, tid);
	av_int(b, opflags);
}

void sf_enc_pe(struct buf *b, const struct sf_pe_rec *r)
{
	start(b, SF_PROC_EVT);
	flow_head(b, &r->proc, r->ts, r->tid, r->opflags);
	av_string_array(b, r->args, r->nargs);
	av_int(b, r->ret);
}

static void counts(struct buf *b, const struct sf_counts *c)
{
	av_long(b, c->rops);
	av_long(b, c->wops);
	av_long(b, c->rbytes);
	av_long(b, c->wbytes);
}

void sf_enc_nf(struct buf *b, const struct sf_nf_rec *r)
{
	start(b, SF_NET_FLOW);
	flow_head(b, &r->proc, r->ts, r->tid, r->opflags);
	av_long(b, r->end_ts);
	av_int(b, r->sip);
	av_int(b, r->sport);
	av_int(b, r->dip);
	av_int(b, r->dport);
	av_int(b, r->proto);
	av_int(b, r->fd);
	counts(b, &r->c);
}

void sf_enc_ff(struct buf *b, const struct sf_ff_rec *r)
{
	start(b, SF_FILE_FLOW);
	flow_head(b, &r->proc, r->ts, r->tid, r->opflags);
	av_int(b, r->open_flags);
	av_long(b, r->end_ts);
	av_fixed(b, r->foid, 20);
	av_int(b, r->fd);
	counts(b, &r->c);
}

void sf_enc_fe(struct buf *b, const struct sf_fe_rec *r)
{
	start(b, SF_FILE_EVT);
	flow_head(b, &r->proc, r->ts, r->tid, r->opflags);
	av_fixed(b, r->foid, 20);
	av_int(b, r->ret);
	if (r->has_new) {
		av_long(b, 1);
		av_fixed(b, r->new_foid, 20);
	} else {
		av_long(b, 0);
	}
}

void sf_enc_pf(struct buf *b, const struct sf_pf_rec *r)
{
	start(b, SF_PROC_FLOW);
	av_oid(b, &r->proc);
	av_long(b, r->ts);
	av_long(b, r->nthreads);
	av_int(b, r->opflags);
	av_long(b, r->end_ts);
	av_long(b, r->nexits);
	av_long(b, r->nerrors);
}
