/*
 * Hand-written Avro binary encoder for the SysFlow v5 union (schema_v5.h). One call encodes one
 * `sysflow.SysFlow` datum: the union branch index, then the record's fields in schema order.
 */
#ifndef SFC_AVRO_H
#define SFC_AVRO_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* union branches */
enum sf_type {
	SF_HEADER = 0,
	SF_CONT = 1,
	SF_PROC = 2,
	SF_FILE = 3,
	SF_PROC_EVT = 4,
	SF_NET_FLOW = 5,
	SF_FILE_FLOW = 6,
	SF_FILE_EVT = 7,
	SF_NET_EVT = 8,
	SF_PROC_FLOW = 9,
	SF_NTYPES = 12,
};

enum sf_state { SF_CREATED = 0, SF_MODIFIED = 1, SF_REUP = 2 };

enum sf_op {
	OP_CLONE = 1 << 0,
	OP_EXEC = 1 << 1,
	OP_EXIT = 1 << 2,
	OP_SETUID = 1 << 3,
	OP_SETNS = 1 << 4,
	OP_ACCEPT = 1 << 5,
	OP_CONNECT = 1 << 6,
	OP_OPEN = 1 << 7,
	OP_READ_RECV = 1 << 8,
	OP_WRITE_SEND = 1 << 9,
	OP_CLOSE = 1 << 10,
	OP_TRUNCATE = 1 << 11,
	OP_SHUTDOWN = 1 << 12,
	OP_MMAP = 1 << 13,
	OP_DIGEST = 1 << 14,
	OP_MKDIR = 1 << 15,
	OP_RMDIR = 1 << 16,
	OP_LINK = 1 << 17,
	OP_UNLINK = 1 << 18,
	OP_SYMLINK = 1 << 19,
	OP_RENAME = 1 << 20,
};

/* sf-processor reads at most 16384 bytes per socket message; stay below with margin. */
#define SF_MAX_DATUM 16000

struct sf_oid {
	int64_t create_ts;
	int64_t hpid;
};

struct sf_header_rec {
	int64_t version;
	const char *exporter;
	const char *ip;
	const char *filename;
};

struct sf_proc_rec {
	int state;
	struct sf_oid oid;
	int has_poid;
	struct sf_oid poid;
	int64_t ts;
	const char *exe;
	const char *exe_args;
	int32_t uid;
	const char *user;
	int32_t gid;
	const char *group;
	int tty;
	const char *container_id; /* NULL: null */
	int entry;
	const char *cwd;
	char *const *env;
	int nenv;
};

struct sf_file_rec {
	int state;
	uint8_t oid[20];
	int64_t ts;
	int32_t restype;
	const char *path;
	const char *container_id;
};

struct sf_pe_rec {
	struct sf_oid proc;
	int64_t ts;
	int64_t tid;
	int32_t opflags;
	char *const *args;
	int nargs;
	int32_t ret;
};

struct sf_counts {
	int64_t rops, wops, rbytes, wbytes;
};

struct sf_nf_rec {
	struct sf_oid proc;
	int64_t ts;
	int64_t tid;
	int32_t opflags;
	int64_t end_ts;
	int32_t sip, sport, dip, dport, proto, fd;
	struct sf_counts c;
};

struct sf_ff_rec {
	struct sf_oid proc;
	int64_t ts;
	int64_t tid;
	int32_t opflags;
	int32_t open_flags;
	int64_t end_ts;
	uint8_t foid[20];
	int32_t fd;
	struct sf_counts c;
};

struct sf_fe_rec {
	struct sf_oid proc;
	int64_t ts;
	int64_t tid;
	int32_t opflags;
	uint8_t foid[20];
	int32_t ret;
	int has_new;
	uint8_t new_foid[20];
};

struct sf_pf_rec {
	struct sf_oid proc;
	int64_t ts;
	int64_t nthreads;
	int32_t opflags;
	int64_t end_ts;
	int64_t nexits;
	int64_t nerrors;
};

/* primitives */
void av_long(struct buf *b, int64_t v);
void av_int(struct buf *b, int32_t v);
void av_bool(struct buf *b, int v);
void av_bytes(struct buf *b, const void *p, size_t n);
void av_string(struct buf *b, const char *s);
void av_fixed(struct buf *b, const void *p, size_t n);

/* whole datums (the buffer is reset first) */
void sf_enc_header(struct buf *b, const struct sf_header_rec *r);
/* A Process datum below SF_MAX_DATUM: env entries, then args, then cwd/exe are cut if needed. */
void sf_enc_proc(struct buf *b, const struct sf_proc_rec *r);
void sf_enc_file(struct buf *b, const struct sf_file_rec *r);
void sf_enc_pe(struct buf *b, const struct sf_pe_rec *r);
void sf_enc_nf(struct buf *b, const struct sf_nf_rec *r);
void sf_enc_ff(struct buf *b, const struct sf_ff_rec *r);
void sf_enc_fe(struct buf *b, const struct sf_fe_rec *r);
void sf_enc_pf(struct buf *b, const struct sf_pf_rec *r);

#endif
