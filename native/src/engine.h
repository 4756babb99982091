/*
 * SysFlow state engine: turns normalized events (from the eBPF source, or a test scenario) into
 * SysFlow records with sf-collector's semantics:
 *  - entity caches (processes, files) with a `written` flag; an entity is emitted (REUP for
 *    re-emissions and ancestors, root first) before any record that references it;
 *  - after every header (start, rotation, socket reconnect) nothing counts as written: entities are
 *    re-emitted lazily, so each file or stream is self-contained;
 *  - file and network flows per (process, thread, fd), aggregated: OPEN/ACCEPT/CONNECT/MMAP/SHUTDOWN
 *    flags and read/write counters; exported on close, with TRUNCATE on process exit and shutdown, and
 *    every 30 s for long-lived flows (reset after each export; dropped after 60 s without activity);
 *  - FILE_READ_MODE=2: read-only flows below /proc, /dev, /sys, /lib... are not written;
 *  - ProcessFlow for thread clone/exit counts; FOID = sha1(containerId + path).
 */
#ifndef SFC_ENGINE_H
#define SFC_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "avro.h"
#include "output.h"
#include "util.h"

struct kcounts {
	uint64_t rops, wops, rbytes, wbytes;
};

enum nev_type {
	NEV_FORK = 1,
	NEV_EXEC,
	NEV_EXIT,
	NEV_SETUID,
	NEV_FD,
	NEV_FILEOP,
	NEV_CLONE_ERR,
};

enum nev_fd_op { NFD_OPEN = 1, NFD_IO, NFD_MMAP, NFD_CONNECT, NFD_ACCEPT, NFD_SHUTDOWN, NFD_CLOSE, NFD_STALE };
enum nev_kind { NK_NONE = 0, NK_FILE, NK_INET, NK_INET6 };
enum nev_file_op { NFOP_MKDIR = 1, NFOP_RMDIR, NFOP_UNLINK, NFOP_LINK, NFOP_SYMLINK, NFOP_RENAME };

/* Process facts as the source knows them (exec, /proc). Strings are borrowed for the call. */
struct proc_info {
	const char *exe;
	const char *args;  /* arguments after argv[0], joined by spaces */
	const char *cwd;
	char **env;
	int nenv;
	uint32_t uid, gid;
	int tty;
};

/* A normalized event. Times are epoch ns; a process is identified by (tgid, pcreate). */
struct nev {
	int type;
	int64_t ts;
	uint32_t tgid, tid;
	int64_t pcreate;
	union {
		struct {
			uint32_t ctgid, ctid;
			int64_t ccreate;
			uint32_t ppid;      /* real parent of the child */
			int64_t ppcreate;
			int thread;
		} fork;
		struct {
			struct proc_info info;
			uint32_t ppid;
			int64_t ppcreate;
		} exec;
		struct {
			int group_dead;
			int32_t code;
		} exit;
		struct {
			int32_t ret;
			uint32_t arg_uid, new_uid, new_gid;
		} setuid;
		struct {
			int op, kind;
			int32_t fd;
			int64_t ret;
			uint64_t file;         /* identifies the open file description */
			uint32_t flags;        /* Linux open flags (OPEN) */
			int created;           /* the open created the file */
			int has_cnt;           /* cnt: kernel totals of this (tgid,tid,fd,file) entry */
			struct kcounts cnt;
			int has_stale;         /* stale_*: totals of an entry for a previous file on this fd */
			uint64_t stale_file;
			struct kcounts stale_cnt;
			const char *path;      /* FILE: absolute path when known */
			/* INET/INET6: local/remote address (16 bytes; IPv4 in the first 4) and ports */
			int family;            /* 4 or 6 */
			int proto, sk_type;
			uint8_t laddr[16], raddr[16];
			uint16_t lport, rport;
		} fd;
		struct {
			int op;
			int32_t ret;
			const char *path1, *path2;  /* absolute, normalised */
		} fileop;
		struct {
			int64_t ret;
		} clone_err;
	} u;
};

/* Access to the source's per-(tgid,tid,fd) counters (kernel map); may be absent. */
struct counter_src {
	/* 0 and *out filled if an entry for exactly this file exists; remove: delete it too */
	int (*read)(void *ctx, uint32_t tgid, uint32_t tid, int32_t fd, uint64_t file, struct kcounts *out, int remove);
	/* /proc lookup for processes the source did not report (pre-existing ones); may be NULL */
	int (*procfs)(void *ctx, uint32_t pid, struct proc_info *out, uint32_t *ppid, int64_t *create, int64_t *pcreate,
		      void (**release)(struct proc_info *));
	void *ctx;
};

struct engine_cfg {
	const char *exporter;
	const char *node_ip;
	int64_t flow_export_ns;  /* 30 s */
	int64_t flow_expire_ns;  /* 60 s */
	int file_read_mode;      /* 2 (default), 1, 0 */
	int mode;                /* ENGINE_MODE_* (-m) */
};

enum { ENGINE_MODE_FLOW = 0, ENGINE_MODE_CONSUME = 1, ENGINE_MODE_NOFILES = 2 };

struct engine_stats {
	uint64_t by_type[SF_NTYPES];
	uint64_t headers;
	uint64_t net6_not_exported;   /* IPv6 flows: v5 NetworkFlow has int (IPv4) addresses */
	uint64_t unknown_close;       /* close of an fd without flow: written as CLOSE-only flow */
	uint64_t proc_unknown;        /* events for processes neither reported nor in /proc */
	uint64_t suppressed_ro;       /* FILE_READ_MODE read-only flows not written */
};

struct engine;

struct engine *engine_new(const struct engine_cfg *cfg, struct output *out, const struct counter_src *cs);
void engine_free(struct engine *e);
/* Writes a header; called once at start, and on every output reset. */
void engine_header(struct engine *e);
void engine_event(struct engine *e, const struct nev *ev);
/* Periodic work (long-flow export, expiry, process cleanup); call at least once a second. */
void engine_tick(struct engine *e, int64_t now);
/* Flush everything with TRUNCATE (shutdown). */
void engine_finish(struct engine *e, int64_t now);
/* Processes whose exit was never reported (lost records) but that are gone: their flows end
 * (TRUNCATE) and they are forgotten. alive(pid, createTS) says whether that process still exists. */
void engine_reap(struct engine *e, int64_t now, int (*alive)(void *ctx, uint32_t pid, int64_t create), void *ctx);
/* Make a process known from /proc without emitting it (pre-existing processes, the launched child). */
void engine_seed_proc(struct engine *e, uint32_t pid);
/* Is a (tgid,tid,fd,file) counter entry known to the engine? (stale kernel entry cleanup) */
int engine_knows_fd(struct engine *e, uint32_t tgid, uint32_t tid, int32_t fd, uint64_t file);
int engine_knows_proc(struct engine *e, uint32_t tgid);
const struct engine_stats *engine_stats(const struct engine *e);

#endif
