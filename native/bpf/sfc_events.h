/*
 * Event records shared by the BPF programs (bpf/sfc.bpf.c) and the loader (src/src_bpf.c).
 *
 * Every record starts with struct sfc_hdr and may be followed by "items": a 4-byte item header
 * {u16 tag, u16 len} and len bytes. Strings read with *_str helpers include their NUL. Dentry walks
 * are sent as one item per path component, leaf first (the kernel cannot reverse cheaply).
 */
#ifndef SFC_EVENTS_H
#define SFC_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SFC_SCRATCH_SIZE 32768   /* per-CPU event buffer (bytes): the per-CPU value maximum */
#define SFC_OFF_MASK 0x3fff      /* item offsets are masked to < 16 KiB ... */
#define SFC_ITEM_MAX 8192        /* ... and an item is at most 8 KiB: 16383 + 4 + 8192 < 32768 */
#define SFC_STR_MAX 4096         /* user path strings */
#define SFC_NAME_MAX 256         /* one dentry name */
#define SFC_WALK_MAX 40          /* path components per dentry walk (mount crossings included) */
#define SFC_ARGV_MAX 4096
#define SFC_ENV_MAX 8192
#define SFC_WAKEUP_BYTES (256 << 10) /* ring-buffer backlog that wakes the reader early */

enum sfc_ev_type {
	SFC_EV_FORK = 1,
	SFC_EV_EXEC = 2,
	SFC_EV_EXIT = 3,
	SFC_EV_SETUID = 4,
	SFC_EV_FD = 5,
	SFC_EV_FILEOP = 6,
	SFC_EV_CLONE_ERR = 7,
};

/* fd-level operations (SFC_EV_FD) */
enum sfc_fd_op {
	SFC_OP_OPEN = 1,
	SFC_OP_IO = 2,       /* first read/write/send/recv of (tgid,tid,fd,file) seen by the kernel */
	SFC_OP_MMAP = 3,
	SFC_OP_CONNECT = 4,
	SFC_OP_ACCEPT = 5,
	SFC_OP_SHUTDOWN = 6,
	SFC_OP_CLOSE = 7,
	SFC_OP_STALE = 8,    /* only the counters of an entry whose fd now names another file */
};

/* file-system events (SFC_EV_FILEOP) */
enum sfc_file_op {
	SFC_FOP_MKDIR = 1,
	SFC_FOP_RMDIR = 2,
	SFC_FOP_UNLINK = 3,
	SFC_FOP_LINK = 4,
	SFC_FOP_SYMLINK = 5,
	SFC_FOP_RENAME = 6,
};

enum sfc_kind {
	SFC_K_NONE = 0,  /* not tracked (pipe, tty, unix socket, directory, ...) */
	SFC_K_REG = 1,
	SFC_K_INET = 2,
	SFC_K_INET6 = 3,
};

enum sfc_item_tag {
	SFC_T_PATH = 1,   /* user path argument (1st) */
	SFC_T_BASE = 2,   /* component of the directory the 1st path is relative to */
	SFC_T_PATH2 = 3,  /* user path argument (2nd) */
	SFC_T_BASE2 = 4,  /* component of the directory the 2nd path is relative to */
	SFC_T_FPATH = 5,  /* component of an open file's own path */
	SFC_T_EXE = 6,    /* bprm->filename */
	SFC_T_ARGV = 7,   /* NUL-separated argv blob */
	SFC_T_ENV = 8,    /* NUL-separated environment blob */
	SFC_T_CWD = 9,    /* component of the cwd */
	SFC_T_WALK_CUT = 10, /* the walk of the preceding tag stopped early (too deep) */
};

/* per-CPU statistics (PERCPU_ARRAY "stats") */
enum sfc_stat {
	SFC_ST_EVENTS = 0,     /* records committed to the ring buffer */
	SFC_ST_DROPS = 1,      /* ring-buffer reservations that failed: records lost */
	SFC_ST_MAPFULL = 2,    /* fd-counter or traced-tgid inserts that failed */
	SFC_ST_NSTATS = 3,
};

struct sfc_item {
	__u16 tag;
	__u16 len;
};

struct sfc_hdr {
	__u16 type;
	__u16 pad;
	__u32 size;     /* record size, items included */
	__u64 ts;       /* bpf_ktime_get_boot_ns() */
	__u32 tgid;
	__u32 tid;
	__u64 pstart;   /* start_boottime (ns) of the thread-group leader: the process OID source */
};

struct sfc_fork {
	struct sfc_hdr h;
	__u32 child_tgid;
	__u32 child_tid;
	__u64 child_start;   /* leader start_boottime of the child's process */
	__u32 ppid;          /* child's real parent tgid */
	__u32 is_thread;
	__u64 pp_start;      /* real parent's leader start_boottime */
};

struct sfc_exec {
	struct sfc_hdr h;
	__u32 old_pid;
	__u32 uid;
	__u32 gid;
	__u32 tty;
	__u32 ppid;
	__u32 pad;
	__u64 pp_start;
	__u32 argv_len;      /* full lengths, before truncation */
	__u32 env_len;
};

struct sfc_exit {
	struct sfc_hdr h;
	__u32 group_dead;
	__s32 exit_code;     /* wait-status style: exit(3) -> 0x300 */
};

struct sfc_setuid {
	struct sfc_hdr h;
	__s32 ret;
	__u32 arg_uid;
	__u32 new_uid;
	__u32 new_gid;
};

struct sfc_clone_err {
	struct sfc_hdr h;
	__s64 ret;
};

struct sfc_counters {
	__u64 rops;
	__u64 wops;
	__u64 rbytes;
	__u64 wbytes;
};

struct sfc_fd {
	struct sfc_hdr h;
	__u16 op;
	__u16 kind;
	__s32 fd;
	__s64 ret;
	__u64 file;          /* struct file address: identifies the open file description */
	__u32 flags;         /* open flags (Linux O_*) for OPEN, f_flags otherwise */
	__u32 fmode;         /* f_mode */
	__u8 has_cnt;        /* cnt holds the entry's totals (entry matched this file) */
	__u8 has_stale;      /* stale_cnt holds the totals of an entry for another file */
	__u16 family;
	__u16 proto;
	__u16 sk_type;
	__u16 lport;
	__u16 rport;
	__u8 laddr[16];
	__u8 raddr[16];
	__u32 pad;
	__u64 stale_file;
	struct sfc_counters cnt;
	struct sfc_counters stale_cnt;
};

struct sfc_fileop {
	struct sfc_hdr h;
	__u16 op;
	__u16 pad;
	__s32 ret;
	__u32 flags;
	__u32 pad2;
};

/* key and value of the in-kernel per-(tgid, tid, fd) counter map */
struct sfc_fd_key {
	__u32 tgid;
	__u32 tid;
	__s32 fd;
	__u32 pad;
};

struct sfc_fd_val {
	__u64 file;
	__u32 kind;
	__u32 pad;
	struct sfc_counters cnt;
};

#endif
