/*
 * sfcollector kernel side: BTF tracepoints only (tp_btf sched_process_{fork,exec,exit} and
 * sys_enter/sys_exit). fentry/fexit, LSM and kprobes are unavailable on our kernels.
 *
 * - Tree filter: the "traced" hash holds the tgids to follow (seeded by the loader, grown on fork,
 *   shrunk on exit) unless system_wide is set; the collector's own tgid is never traced.
 * - sys_exit dispatches through a prog array indexed by syscall number, so each handler is a small,
 *   separately verified program and untraced syscalls cost one array lookup. The handlers are
 *   tp_btf programs too (a prog array needs one program type), all declared on sys_exit but
 *   attached only through the array. sys_enter only handles close, whose file is gone at exit.
 * - read/write/send/recv are aggregated in the kernel per (tgid, tid, fd) in "fdmap"; only the first
 *   operation on an fd (or an fd whose open file changed) produces a record. Opens, connects, accepts,
 *   mmaps, shutdowns and closes produce records carrying the entry's totals, so user space never
 *   needs one record per read or write.
 * - Records do not wake the reader (it polls every 100 ms) unless a backlog builds up: a wakeup per
 *   record is an IPI, which in our VMs cost more than everything else together.
 * - Every failed ring-buffer write is counted in stats[SFC_ST_DROPS]; user space reports it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "sfc_events.h"

/* The GPL-only tracing helpers need a GPL-compatible license string. */
char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AT_FDCWD -100
#define S_IFMT 0170000
#define S_IFREG 0100000
#define S_IFSOCK 0140000
#define AF_INET 2
#define AF_INET6 10
#define MAP_ANONYMOUS 0x20
#define EINPROGRESS 115
#define TS_COMPAT 0x0002
#define AT_REMOVEDIR 0x200
#define O_WRONLY 01
#define O_CREAT 0100
#define O_TRUNC 01000

/* x86_64 syscall numbers */
#define NR_read 0
#define NR_write 1
#define NR_open 2
#define NR_close 3
#define NR_mmap 9
#define NR_pread64 17
#define NR_pwrite64 18
#define NR_readv 19
#define NR_writev 20
#define NR_connect 42
#define NR_accept 43
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47
#define NR_shutdown 48
#define NR_clone 56
#define NR_fork 57
#define NR_vfork 58
#define NR_rename 82
#define NR_mkdir 83
#define NR_rmdir 84
#define NR_creat 85
#define NR_link 86
#define NR_unlink 87
#define NR_symlink 88
#define NR_setuid 105
#define NR_setresuid 117
#define NR_openat 257
#define NR_mkdirat 258
#define NR_unlinkat 263
#define NR_renameat 264
#define NR_linkat 265
#define NR_symlinkat 266
#define NR_accept4 288
#define NR_preadv 295
#define NR_pwritev 296
#define NR_recvmmsg 299
#define NR_sendmmsg 307
#define NR_renameat2 316
#define NR_preadv2 327
#define NR_pwritev2 328
#define NR_clone3 435
#define NR_openat2 437

const volatile __u32 self_tgid = 0;
const volatile __u32 system_wide = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* the loader may resize it */
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} traced SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, struct sfc_fd_key);
	__type(value, struct sfc_fd_val);
} fdmap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SFC_ST_NSTATS);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct scratch_buf {
	__u8 b[SFC_SCRATCH_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch_buf);
} scratch SEC(".maps");

/* ------------------------------------------------------------------------------------------------ */

static __always_inline void stat_inc(__u32 i)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &i);
	if (v)
		(*v)++;
}

static __always_inline int traced_tgid(__u32 tgid)
{
	if (tgid == self_tgid)
		return 0;
	if (system_wide)
		return 1;
	return bpf_map_lookup_elem(&traced, &tgid) != NULL;
}

static __always_inline __u8 *get_scratch(void)
{
	__u32 z = 0;
	return bpf_map_lookup_elem(&scratch, &z);
}

static __always_inline void fill_hdr(struct sfc_hdr *h, __u16 type, struct task_struct *t)
{
	__u64 id = bpf_get_current_pid_tgid();
	h->type = type;
	h->pad = 0;
	h->ts = bpf_ktime_get_boot_ns();
	h->tgid = id >> 32;
	h->tid = (__u32)id;
	h->pstart = BPF_CORE_READ(t, group_leader, start_boottime);
}

static __always_inline int submit(__u8 *buf, __u64 size)
{
	/* records never exceed 16383 + 4 + 8192 bytes; the mask is what the verifier needs */
	size &= SFC_SCRATCH_SIZE - 1;
	barrier_var(size);
	size &= SFC_SCRATCH_SIZE - 1;
	((struct sfc_hdr *)buf)->size = size;
	/*
	 * Waking the reader for every record costs an IPI (a VM exit on our machines) per record;
	 * instead the reader polls every 100 ms and is woken only when a backlog builds up.
	 */
	__u64 flags = bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA) >= SFC_WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&rb, buf, size, flags)) {
		stat_inc(SFC_ST_DROPS);
		return -1;
	}
	stat_inc(SFC_ST_EVENTS);
	return 0;
}

static __always_inline int is_compat(struct task_struct *t)
{
	return t->thread_info.status & TS_COMPAT;
}

/* ---- items ---------------------------------------------------------------------------------------- */

/*
 * Offsets are u64 and re-masked behind a compiler barrier before every variable-offset access: clang
 * otherwise reuses the unmasked register after a range check, which the verifier cannot follow.
 */
#ifndef barrier_var
#define barrier_var(v) asm volatile("" : "+r"(v))
#endif

static __always_inline __u64 item_off(__u64 off)
{
	__u64 o = off & SFC_OFF_MASK;
	barrier_var(o);
	return o;
}

static __always_inline __u64 item_put(__u8 *buf, __u64 o, __u16 tag, long n)
{
	struct sfc_item *it = (void *)(buf + o);
	it->tag = tag;
	it->len = n;
	return o + sizeof(*it) + n;
}

static __always_inline __u64 item_kname(__u8 *buf, __u64 off, __u16 tag, const void *src)
{
	if (off > SFC_OFF_MASK)
		return off;
	__u64 o = item_off(off);
	long n = bpf_probe_read_kernel_str(buf + o + sizeof(struct sfc_item), SFC_NAME_MAX, src);
	if (n <= 0)
		return off;
	return item_put(buf, o, tag, n);
}

static __always_inline __u64 item_kstr(__u8 *buf, __u64 off, __u16 tag, const void *src)
{
	if (off > SFC_OFF_MASK)
		return off;
	__u64 o = item_off(off);
	long n = bpf_probe_read_kernel_str(buf + o + sizeof(struct sfc_item), SFC_STR_MAX, src);
	if (n <= 0)
		return off;
	return item_put(buf, o, tag, n);
}

static __always_inline __u64 item_empty(__u8 *buf, __u64 off, __u16 tag)
{
	if (off > SFC_OFF_MASK)
		return off;
	return item_put(buf, item_off(off), tag, 0);
}

/* A user blob of up to max-1 bytes (max is a power of two <= SFC_ITEM_MAX). */
static __always_inline __u64 item_ublob(__u8 *buf, __u64 off, __u16 tag, const void *src, __u64 len, __u32 max)
{
	if (off > SFC_OFF_MASK || len == 0)
		return off;
	__u64 o = item_off(off);
	if (len > max - 1)
		len = max - 1;
	len &= max - 1;
	if (bpf_probe_read_user(buf + o + sizeof(struct sfc_item), len, src))
		return off;
	return item_put(buf, o, tag, len);
}

/*
 * Path of (dentry, vfsmount) as one item per component, leaf first, crossing mount points up to the
 * root of the mount namespace. bpf_d_path is not available to tracepoints. The walk runs under
 * bpf_loop so the verifier checks one step instead of every unrolled path through the loop.
 */
struct walk_ctx {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	__u64 off;
	__u32 tag;
	__u32 done;
};

/* The walk state lives in a map, not on the stack: values read back from a map are unknown to the
 * verifier, so the bpf_loop callback converges after one step instead of being explored per offset. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct walk_ctx);
} walkctx SEC(".maps");

static long walk_step(__u32 i, void *data)
{
	__u32 z = 0;
	struct walk_ctx *w = bpf_map_lookup_elem(&walkctx, &z);
	__u8 *buf = get_scratch();
	if (!w || !buf)
		return 1;
	struct dentry *dentry = w->dentry;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
	struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	if (dentry == mnt_root || dentry == parent) {
		struct mount *mnt = (void *)((char *)vfsmnt - bpf_core_field_offset(struct mount, mnt));
		struct mount *mp = BPF_CORE_READ(mnt, mnt_parent);
		if (dentry != mnt_root || mp == mnt) {
			w->done = 1;
			return 1;
		}
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->vfsmnt = (void *)((char *)mp + bpf_core_field_offset(struct mount, mnt));
		return 0;
	}
	w->off = item_kname(buf, w->off, w->tag, BPF_CORE_READ(dentry, d_name.name));
	w->dentry = parent;
	return 0;
}

static __always_inline __u64 walk_path(__u8 *buf, __u64 off, __u16 tag, struct dentry *dentry, struct vfsmount *vfsmnt)
{
	__u32 z = 0;
	struct walk_ctx *w = bpf_map_lookup_elem(&walkctx, &z);
	if (!w)
		return off;
	w->dentry = dentry;
	w->vfsmnt = vfsmnt;
	w->off = off;
	w->tag = tag;
	w->done = 0;
	bpf_loop(SFC_WALK_MAX, walk_step, NULL, 0);
	off = w->off;
	if (!w->done)
		off = item_empty(buf, off, SFC_T_WALK_CUT);
	return off;
}

/*
 * The open file of fd in task t. t is a BTF pointer (bpf_get_current_task_btf or a tp_btf argument),
 * so the pointer chase compiles to direct loads; only the fd array slot needs a probe read.
 */
static __always_inline struct file *fd_file(struct task_struct *t, int fd)
{
	if (fd < 0)
		return NULL;
	struct fdtable *fdt = t->files->fdt;
	if ((unsigned int)fd >= fdt->max_fds)
		return NULL;
	struct file **arr = fdt->fd;
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &arr[fd]);
	return f;
}

static __always_inline __u64 walk_dirfd(__u8 *buf, __u64 off, __u16 tag, struct task_struct *t, int dirfd)
{
	if (dirfd == AT_FDCWD) {
		struct fs_struct *fs = BPF_CORE_READ(t, fs);
		return walk_path(buf, off, tag, BPF_CORE_READ(fs, pwd.dentry), BPF_CORE_READ(fs, pwd.mnt));
	}
	struct file *f = fd_file(t, dirfd);
	if (!f)
		return off;
	return walk_path(buf, off, tag, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt));
}

/* A user path argument, plus the directory it is relative to when it does not start with '/'. */
static __always_inline __u64 path_items(__u8 *buf, __u64 off, __u16 ptag, __u16 btag, struct task_struct *t,
					const void *upath, int dirfd, int want_base)
{
	if (off > SFC_OFF_MASK || !upath)
		return off;
	__u64 o = item_off(off);
	long n = bpf_probe_read_user_str(buf + o + sizeof(struct sfc_item), SFC_STR_MAX, upath);
	if (n <= 0)
		return off;
	__u8 first = buf[o + sizeof(struct sfc_item)];
	off = item_put(buf, o, ptag, n);
	if (want_base && first != '/')
		off = walk_dirfd(buf, off, btag, t, dirfd);
	return off;
}

/* ---- fd classification ---------------------------------------------------------------------------- */

static __always_inline struct sock *file_sock(struct file *f)
{
	struct socket *sock = (struct socket *)BPF_CORE_READ(f, private_data);
	return BPF_CORE_READ(sock, sk);
}

static __always_inline __u32 classify(struct file *f)
{
	__u16 mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) == S_IFREG)
		return SFC_K_REG;
	if ((mode & S_IFMT) == S_IFSOCK) {
		__u16 fam = BPF_CORE_READ(file_sock(f), __sk_common.skc_family);
		if (fam == AF_INET)
			return SFC_K_INET;
		if (fam == AF_INET6)
			return SFC_K_INET6;
	}
	return SFC_K_NONE;
}

static __always_inline void fill_tuple(struct sfc_fd *ev, struct file *f)
{
	struct sock *sk = file_sock(f);
	ev->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	ev->proto = BPF_CORE_READ(sk, sk_protocol);
	ev->sk_type = BPF_CORE_READ(sk, sk_type);
	ev->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	ev->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (ev->family == AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)ev->laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)ev->raddr, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO((struct in6_addr *)ev->laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)ev->raddr, sk, __sk_common.skc_v6_daddr);
	}
}

/*
 * One fd-level record. Looks up the fd's counter entry: same open file -> has_cnt with its totals;
 * another file -> has_stale with the old totals (the entry is replaced). Path or socket tuple are
 * sent whenever user space may not know the fd yet. init: counters of the operation that creates a
 * new entry (first read/write).
 */
static __always_inline int fd_event(struct task_struct *t, __u32 tgid, __u32 tid, int fd, struct file *f, __u16 op,
				    long ret, __u32 flags, const void *upath, int dirfd, struct sfc_counters *init)
{
	struct sfc_fd_key k = {.tgid = tgid, .tid = tid, .fd = fd, .pad = 0};
	struct sfc_fd_val *e = bpf_map_lookup_elem(&fdmap, &k);
	__u8 *buf = get_scratch();
	if (!buf)
		return 0;
	struct sfc_fd *ev = (void *)buf;
	__builtin_memset(ev, 0, sizeof(*ev));
	__u32 kind;
	int matched = 0, stale = 0;
	if (e && e->file == (__u64)f) {
		matched = 1;
		ev->cnt = e->cnt;
		kind = e->kind;
	} else {
		kind = classify(f);
		if (e) {
			stale = 1;
			ev->stale_file = e->file;
			ev->stale_cnt = e->cnt;
		}
	}
	if ((op == SFC_OP_OPEN || op == SFC_OP_MMAP) && kind != SFC_K_REG)
		kind = SFC_K_NONE;
	if ((op == SFC_OP_CONNECT || op == SFC_OP_ACCEPT || op == SFC_OP_SHUTDOWN) && kind != SFC_K_INET &&
	    kind != SFC_K_INET6)
		kind = SFC_K_NONE;
	if (kind == SFC_K_NONE) {
		if (!stale)
			return 0;
		op = SFC_OP_STALE;
	}
	ev->has_cnt = matched;
	ev->has_stale = stale;
	fill_hdr(&ev->h, SFC_EV_FD, t);
	ev->op = op;
	ev->kind = kind;
	ev->fd = fd;
	ev->ret = ret;
	ev->file = (__u64)f;
	ev->flags = op == SFC_OP_OPEN ? flags : BPF_CORE_READ(f, f_flags);
	ev->fmode = BPF_CORE_READ(f, f_mode);
	__u64 off = sizeof(*ev);
	if (kind == SFC_K_INET || kind == SFC_K_INET6) {
		if (op == SFC_OP_CONNECT || op == SFC_OP_ACCEPT || !matched)
			fill_tuple(ev, f);
	} else if (kind == SFC_K_REG) {
		if (op == SFC_OP_OPEN)
			off = path_items(buf, off, SFC_T_PATH, SFC_T_BASE, t, upath, dirfd, 1);
		else if (!matched)
			off = walk_path(buf, off, SFC_T_FPATH, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt));
	}
	int ok = submit(buf, off) == 0;
	if (op == SFC_OP_CLOSE || op == SFC_OP_STALE) {
		if (e)
			bpf_map_delete_elem(&fdmap, &k);
	} else if (!matched) {
		if (ok) {
			struct sfc_fd_val v = {.file = (__u64)f, .kind = kind, .pad = 0};
			if (init)
				v.cnt = *init;
			if (bpf_map_update_elem(&fdmap, &k, &v, BPF_ANY))
				stat_inc(SFC_ST_MAPFULL);
		} else if (e) {
			bpf_map_delete_elem(&fdmap, &k);
		}
	}
	return 0;
}

/*
 * Common prologue of the syscall handlers (tp_btf/sys_exit: regs is a BTF pointer, so its fields are
 * direct loads): traced process, native (not ia32) syscall.
 */
#define SYSCALL_PROLOGUE()                                                                                 \
	__u64 id = bpf_get_current_pid_tgid();                                                             \
	__u32 tgid = id >> 32, tid = (__u32)id;                                                            \
	if (!traced_tgid(tgid))                                                                            \
		return 0;                                                                                  \
	struct task_struct *t = bpf_get_current_task_btf();                                               \
	if (is_compat(t))                                                                                  \
		return 0;                                                                                  \
	(void)tid

#define SYSCALL_NR() ((long)regs->orig_ax)

/* ---- syscall handlers (tail-called from sys_exit) -------------------------------------------------- */

static __always_inline __u64 mmsg_bytes(const void *vec, long n)
{
	/* struct mmsghdr: 56-byte msghdr, then unsigned int msg_len (x86_64 ABI) */
	__u64 sum = 0;
	for (int i = 0; i < 16; i++) {
		if (i >= n)
			break;
		__u32 len = 0;
		bpf_probe_read_user(&len, sizeof(len), (const char *)vec + i * 64 + 56);
		sum += len;
	}
	return sum;
}

/* read/write family: the hot path is one hash lookup and an in-place counter update */
static __always_inline int rw(struct pt_regs *regs, long ret, int wr, int mmsg)
{
	SYSCALL_PROLOGUE();
	int fd = regs->di;
	struct file *f = fd_file(t, fd);
	if (!f)
		return 0;
	__u64 bytes = ret > 0 ? ret : 0;
	if (mmsg && ret > 0)
		bytes = mmsg_bytes((const void *)regs->si, ret);
	struct sfc_fd_key k = {.tgid = tgid, .tid = tid, .fd = fd, .pad = 0};
	struct sfc_fd_val *e = bpf_map_lookup_elem(&fdmap, &k);
	if (e && e->file == (__u64)f) {
		/* only this thread updates its own entry: plain adds are enough */
		if (wr) {
			e->cnt.wops++;
			e->cnt.wbytes += bytes;
		} else {
			e->cnt.rops++;
			e->cnt.rbytes += bytes;
		}
		return 0;
	}
	struct sfc_counters init = {};
	if (wr) {
		init.wops = 1;
		init.wbytes = bytes;
	} else {
		init.rops = 1;
		init.rbytes = bytes;
	}
	return fd_event(t, tgid, tid, fd, f, SFC_OP_IO, ret, 0, NULL, 0, &init);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(h_read, struct pt_regs *regs, long ret)
{
	return rw(regs, ret, 0, 0);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(h_write, struct pt_regs *regs, long ret)
{
	return rw(regs, ret, 1, 0);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(h_recvmmsg, struct pt_regs *regs, long ret)
{
	return rw(regs, ret, 0, 1);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(h_sendmmsg, struct pt_regs *regs, long ret)
{
	return rw(regs, ret, 1, 1);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(h_open, struct pt_regs *regs, long ret)
{
	SYSCALL_PROLOGUE();
	long nr = SYSCALL_NR();
	if (ret < 0)
		return 0;
	const void *path;
	int dirfd = AT_FDCWD;
	__u32 flags;
	if (nr == NR_open) {
		path = (const void *)regs->di;
		flags = regs->si;
	} else if (nr == NR_creat) {
		path = (const void *)regs->di;
		flags = O_CREAT | O_WRONLY | O_TRUNC;
	} else {
		dirfd = regs->di;
		path = (const void *)regs->si;
		if (nr == NR_openat2) {
			__u64 f64 = 0;
			bpf_probe_read_user(&f64, sizeof(f64), (const void *)regs->dx);
			flags = f64;
		} else {
			flags = regs->dx;
		}
	}
	struct file *f = fd_file(t, ret);
	if (!f)
		return 0;
	return fd_event(t, tgid, tid, ret, f, SFC_OP_OPEN, ret, flags, path, dirfd, NULL);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(h_mmap, struct pt_regs *regs, long ret)
{
	SYSCALL_PROLOGUE();
	if (ret < 0 && ret > -4096)
		return 0;
	if (regs->r10 & MAP_ANONYMOUS)
		return 0;
	int fd = regs->r8;
	struct file *f = fd_file(t, fd);
	if (!f)
		return 0;
	return fd_event(t, tgid, tid, fd, f, SFC_OP_MMAP, 0, 0, NULL, 0, NULL);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(h_sock, struct pt_regs *regs, long ret)
{
	SYSCALL_PROLOGUE();
	long nr = SYSCALL_NR();
	int fd;
	__u16 op;
	if (nr == NR_connect) {
		if (ret != 0 && ret != -EINPROGRESS)
			return 0;
		fd = regs->di;
		op = SFC_OP_CONNECT;
	} else if (nr == NR_accept || nr == NR_accept4) {
		if (ret < 0)
			return 0;
		fd = ret;
		op = SFC_OP_ACCEPT;
	} else {
		fd = regs->di;
		op = SFC_OP_SHUTDOWN;
	}
	struct file *f = fd_file(t, fd);
	if (!f)
		return 0;
	return fd_event(t, tgid, tid, fd, f, op, ret, 0, NULL, 0, NULL);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(h_fileop, struct pt_regs *regs, long ret)
{
	SYSCALL_PROLOGUE();
	long nr = SYSCALL_NR();
	const void *p1 = NULL, *p2 = NULL;
	int d1 = AT_FDCWD, d2 = AT_FDCWD;
	__u32 flags = 0;
	__u16 op;
	switch (nr) {
	case NR_mkdir:
		op = SFC_FOP_MKDIR;
		p1 = (const void *)regs->di;
		break;
	case NR_mkdirat:
		op = SFC_FOP_MKDIR;
		d1 = regs->di;
		p1 = (const void *)regs->si;
		break;
	case NR_rmdir:
		op = SFC_FOP_RMDIR;
		p1 = (const void *)regs->di;
		break;
	case NR_unlink:
		op = SFC_FOP_UNLINK;
		p1 = (const void *)regs->di;
		break;
	case NR_unlinkat:
		d1 = regs->di;
		p1 = (const void *)regs->si;
		flags = regs->dx;
		op = (flags & AT_REMOVEDIR) ? SFC_FOP_RMDIR : SFC_FOP_UNLINK;
		break;
	case NR_link:
		op = SFC_FOP_LINK;
		p1 = (const void *)regs->di;
		p2 = (const void *)regs->si;
		break;
	case NR_linkat:
		op = SFC_FOP_LINK;
		d1 = regs->di;
		p1 = (const void *)regs->si;
		d2 = regs->dx;
		p2 = (const void *)regs->r10;
		flags = regs->r8;
		break;
	case NR_symlink:
		op = SFC_FOP_SYMLINK;
		p1 = (const void *)regs->di;
		p2 = (const void *)regs->si;
		break;
	case NR_symlinkat:
		op = SFC_FOP_SYMLINK;
		p1 = (const void *)regs->di;
		d2 = regs->si;
		p2 = (const void *)regs->dx;
		break;
	case NR_rename:
		op = SFC_FOP_RENAME;
		p1 = (const void *)regs->di;
		p2 = (const void *)regs->si;
		break;
	default: /* renameat, renameat2 */
		op = SFC_FOP_RENAME;
		d1 = regs->di;
		p1 = (const void *)regs->si;
		d2 = regs->dx;
		p2 = (const void *)regs->r10;
		if (nr == NR_renameat2)
			flags = regs->r8;
		break;
	}
	__u8 *buf = get_scratch();
	if (!buf)
		return 0;
	struct sfc_fileop *ev = (void *)buf;
	fill_hdr(&ev->h, SFC_EV_FILEOP, t);
	ev->op = op;
	ev->pad = 0;
	ev->ret = ret;
	ev->flags = flags;
	ev->pad2 = 0;
	__u64 off = sizeof(*ev);
	/* a symlink's target is stored as given; it is resolved against the link's directory later */
	off = path_items(buf, off, SFC_T_PATH, SFC_T_BASE, t, p1, d1, op != SFC_FOP_SYMLINK);
	off = path_items(buf, off, SFC_T_PATH2, SFC_T_BASE2, t, p2, d2, 1);
	submit(buf, off);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(h_setuid, struct pt_regs *regs, long ret)
{
	SYSCALL_PROLOGUE();
	long nr = SYSCALL_NR();
	__u8 *buf = get_scratch();
	if (!buf)
		return 0;
	struct sfc_setuid *ev = (void *)buf;
	fill_hdr(&ev->h, SFC_EV_SETUID, t);
	ev->ret = ret;
	__u32 arg = regs->di;
	if (nr == NR_setresuid) {
		__u32 euid = regs->si;
		if (euid != (__u32)-1)
			arg = euid;
	}
	ev->arg_uid = arg;
	ev->new_uid = BPF_CORE_READ(t, cred, euid.val);
	ev->new_gid = BPF_CORE_READ(t, cred, egid.val);
	submit(buf, sizeof(*ev));
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(h_clone, struct pt_regs *regs, long ret)
{
	SYSCALL_PROLOGUE();
	if (ret >= 0)
		return 0;
	__u8 *buf = get_scratch();
	if (!buf)
		return 0;
	struct sfc_clone_err *ev = (void *)buf;
	fill_hdr(&ev->h, SFC_EV_CLONE_ERR, t);
	ev->ret = ret;
	submit(buf, sizeof(*ev));
	return 0;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 512);
	__type(key, __u32);
	__array(values, int(void *));
} exit_progs SEC(".maps") = {
	.values =
		{
			[NR_read] = (void *)&h_read,      [NR_pread64] = (void *)&h_read,   [NR_readv] = (void *)&h_read,
			[NR_preadv] = (void *)&h_read,    [NR_preadv2] = (void *)&h_read,   [NR_recvfrom] = (void *)&h_read,
			[NR_recvmsg] = (void *)&h_read,   [NR_recvmmsg] = (void *)&h_recvmmsg,
			[NR_write] = (void *)&h_write,    [NR_pwrite64] = (void *)&h_write, [NR_writev] = (void *)&h_write,
			[NR_pwritev] = (void *)&h_write,  [NR_pwritev2] = (void *)&h_write, [NR_sendto] = (void *)&h_write,
			[NR_sendmsg] = (void *)&h_write,  [NR_sendmmsg] = (void *)&h_sendmmsg,
			[NR_open] = (void *)&h_open,      [NR_openat] = (void *)&h_open,    [NR_openat2] = (void *)&h_open,
			[NR_creat] = (void *)&h_open,     [NR_mmap] = (void *)&h_mmap,
			[NR_connect] = (void *)&h_sock,   [NR_accept] = (void *)&h_sock,    [NR_accept4] = (void *)&h_sock,
			[NR_shutdown] = (void *)&h_sock,
			[NR_mkdir] = (void *)&h_fileop,   [NR_mkdirat] = (void *)&h_fileop, [NR_rmdir] = (void *)&h_fileop,
			[NR_unlink] = (void *)&h_fileop,  [NR_unlinkat] = (void *)&h_fileop, [NR_link] = (void *)&h_fileop,
			[NR_linkat] = (void *)&h_fileop,  [NR_symlink] = (void *)&h_fileop, [NR_symlinkat] = (void *)&h_fileop,
			[NR_rename] = (void *)&h_fileop,  [NR_renameat] = (void *)&h_fileop, [NR_renameat2] = (void *)&h_fileop,
			[NR_setuid] = (void *)&h_setuid,  [NR_setresuid] = (void *)&h_setuid,
			[NR_clone] = (void *)&h_clone,    [NR_fork] = (void *)&h_clone,     [NR_vfork] = (void *)&h_clone,
			[NR_clone3] = (void *)&h_clone,
		},
};

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;
	if ((unsigned long)nr >= 512)
		return 0;
	bpf_tail_call(ctx, &exit_progs, (__u32)nr);
	return 0;
}

/* close: the file is gone at exit, so the record is built at entry. */
SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long nr)
{
	if (nr != NR_close)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	if (!traced_tgid(tgid))
		return 0;
	struct task_struct *t = bpf_get_current_task_btf();
	if (is_compat(t))
		return 0;
	int fd = regs->di;
	struct file *f = fd_file(t, fd);
	if (!f)
		return 0;
	return fd_event(t, tgid, tid, fd, f, SFC_OP_CLOSE, 0, 0, NULL, 0, NULL);
}

/* ---- process lifecycle ------------------------------------------------------------------------------ */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	if (!traced_tgid(ptgid))
		return 0;
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	int thread = ctgid == ptgid;
	if (!thread && !system_wide) {
		__u8 one = 1;
		if (bpf_map_update_elem(&traced, &ctgid, &one, BPF_ANY))
			stat_inc(SFC_ST_MAPFULL);
	}
	__u8 *buf = get_scratch();
	if (!buf)
		return 0;
	struct sfc_fork *ev = (void *)buf;
	fill_hdr(&ev->h, SFC_EV_FORK, parent);
	ev->child_tgid = ctgid;
	ev->child_tid = BPF_CORE_READ(child, pid);
	ev->child_start = BPF_CORE_READ(child, group_leader, start_boottime);
	ev->is_thread = thread;
	struct task_struct *rp = BPF_CORE_READ(child, real_parent);
	ev->ppid = BPF_CORE_READ(rp, tgid);
	ev->pp_start = BPF_CORE_READ(rp, group_leader, start_boottime);
	submit(buf, sizeof(*ev));
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	if (!traced_tgid(tgid))
		return 0;
	__u8 *buf = get_scratch();
	if (!buf)
		return 0;
	struct sfc_exec *ev = (void *)buf;
	fill_hdr(&ev->h, SFC_EV_EXEC, p);
	ev->old_pid = old_pid;
	ev->uid = BPF_CORE_READ(p, cred, euid.val);
	ev->gid = BPF_CORE_READ(p, cred, egid.val);
	ev->tty = BPF_CORE_READ(p, signal, tty) != NULL;
	struct task_struct *rp = BPF_CORE_READ(p, real_parent);
	ev->ppid = BPF_CORE_READ(rp, tgid);
	ev->pad = 0;
	ev->pp_start = BPF_CORE_READ(rp, group_leader, start_boottime);
	struct mm_struct *mm = BPF_CORE_READ(p, mm);
	__u64 as = BPF_CORE_READ(mm, arg_start), ae = BPF_CORE_READ(mm, arg_end);
	__u64 es = BPF_CORE_READ(mm, env_start), ee = BPF_CORE_READ(mm, env_end);
	ev->argv_len = ae > as ? ae - as : 0;
	ev->env_len = ee > es ? ee - es : 0;
	__u64 off = sizeof(*ev);
	off = item_kstr(buf, off, SFC_T_EXE, BPF_CORE_READ(bprm, filename));
	struct fs_struct *fs = BPF_CORE_READ(p, fs);
	off = walk_path(buf, off, SFC_T_CWD, BPF_CORE_READ(fs, pwd.dentry), BPF_CORE_READ(fs, pwd.mnt));
	off = item_ublob(buf, off, SFC_T_ARGV, (const void *)as, ev->argv_len, SFC_ARGV_MAX);
	off = item_ublob(buf, off, SFC_T_ENV, (const void *)es, ev->env_len, SFC_ENV_MAX);
	submit(buf, off);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p, bool group_dead)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	if (!traced_tgid(tgid))
		return 0;
	__u8 *buf = get_scratch();
	if (buf) {
		struct sfc_exit *ev = (void *)buf;
		fill_hdr(&ev->h, SFC_EV_EXIT, p);
		ev->group_dead = group_dead;
		ev->exit_code = BPF_CORE_READ(p, exit_code);
		submit(buf, sizeof(*ev));
	}
	if (group_dead && !system_wide)
		bpf_map_delete_elem(&traced, &tgid);
	return 0;
}
