#define _GNU_SOURCE
#include "src_bpf.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sfc.skel.h"
#include "sfc_events.h"
#include "util.h"

#define FMODE_CREATED 0x100000 /* 1 << 20 in include/linux/fs.h */

struct bpfsrc {
	struct sfc *skel;
	struct ring_buffer *rb;
	struct engine *eng;
	const struct timebase *tb;
	int fdmap_fd, stats_fd, traced_fd;
	uint64_t received;
	struct bpf_link *links[8];
	int nlinks;
};

/* ---- libbpf messages: kept quiet, the last warning explains a load failure ----------------------------- */

static char last_warn[512];

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && sfc_verbose < 2)
		return 0;
	if (level <= LIBBPF_WARN) {
		va_list aq;
		va_copy(aq, ap);
		vsnprintf(last_warn, sizeof(last_warn), fmt, aq);
		va_end(aq);
		size_t n = strlen(last_warn);
		while (n && (last_warn[n - 1] == '\n' || last_warn[n - 1] == ' '))
			last_warn[--n] = 0;
	}
	if (sfc_verbose)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

/* ---- record decoding ---------------------------------------------------------------------------------- */

#define MAX_COMPS (SFC_WALK_MAX + 2)

struct walk {
	const char *c[MAX_COMPS];
	size_t len[MAX_COMPS];
	int n;
	int cut;
};

struct items {
	const char *path, *path2, *exe;
	size_t path_len, path2_len, exe_len;
	const char *argv, *env;
	size_t argv_len, env_len;
	struct walk base, base2, fpath, cwd;
};

static void walk_add(struct walk *w, const char *d, size_t len)
{
	if (w->n < MAX_COMPS) {
		w->c[w->n] = d;
		w->len[w->n] = strnlen(d, len);
		w->n++;
	}
}

static void parse_items(const uint8_t *rec, size_t size, size_t off, struct items *it)
{
	memset(it, 0, sizeof(*it));
	uint16_t last_walk = 0;
	while (off + sizeof(struct sfc_item) <= size) {
		struct sfc_item h;
		memcpy(&h, rec + off, sizeof(h));
		off += sizeof(h);
		if (off + h.len > size)
			break;
		const char *d = (const char *)rec + off;
		switch (h.tag) {
		case SFC_T_PATH: it->path = d; it->path_len = strnlen(d, h.len); break;
		case SFC_T_PATH2: it->path2 = d; it->path2_len = strnlen(d, h.len); break;
		case SFC_T_EXE: it->exe = d; it->exe_len = strnlen(d, h.len); break;
		case SFC_T_ARGV: it->argv = d; it->argv_len = h.len; break;
		case SFC_T_ENV: it->env = d; it->env_len = h.len; break;
		case SFC_T_BASE: walk_add(&it->base, d, h.len); break;
		case SFC_T_BASE2: walk_add(&it->base2, d, h.len); break;
		case SFC_T_FPATH: walk_add(&it->fpath, d, h.len); break;
		case SFC_T_CWD: walk_add(&it->cwd, d, h.len); break;
		case SFC_T_WALK_CUT:
			if (last_walk == SFC_T_BASE) it->base.cut = 1;
			else if (last_walk == SFC_T_BASE2) it->base2.cut = 1;
			else if (last_walk == SFC_T_FPATH) it->fpath.cut = 1;
			else if (last_walk == SFC_T_CWD) it->cwd.cut = 1;
			break;
		default: break;
		}
		if (h.tag == SFC_T_BASE || h.tag == SFC_T_BASE2 || h.tag == SFC_T_FPATH || h.tag == SFC_T_CWD)
			last_walk = h.tag;
		off += h.len;
	}
}

/* Components arrive leaf first; a walk that hit its depth limit gets a "/..." prefix. */
static char *walk_path(const struct walk *w)
{
	struct buf b = {0};
	if (w->cut)
		buf_put(&b, "/...", 4);
	for (int i = w->n - 1; i >= 0; i--) {
		buf_put(&b, "/", 1);
		buf_put(&b, w->c[i], w->len[i]);
	}
	if (!b.len)
		buf_put(&b, "/", 1);
	buf_put(&b, "", 1);
	return (char *)b.p;
}

static char *user_path(const char *p, size_t len, const struct walk *base)
{
	char *rel = xstrndup(p, len);
	char *r;
	if (rel[0] == '/' || (!base->n && !base->cut)) {
		r = path_normalize(rel);
	} else {
		char *b = walk_path(base);
		r = path_join(b, rel);
		free(b);
	}
	free(rel);
	return r;
}

static void fill_common(struct bpfsrc *s, const struct sfc_hdr *h, struct nev *ev, int type)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->ts = tb_epoch(s->tb, h->ts);
	ev->tgid = h->tgid;
	ev->tid = h->tid;
	ev->pcreate = tb_create_from_boot_ns(s->tb, h->pstart);
}

static void on_fork(struct bpfsrc *s, const struct sfc_fork *r)
{
	struct nev ev;
	fill_common(s, &r->h, &ev, NEV_FORK);
	ev.u.fork.ctgid = r->child_tgid;
	ev.u.fork.ctid = r->child_tid;
	ev.u.fork.ccreate = tb_create_from_boot_ns(s->tb, r->child_start);
	ev.u.fork.ppid = r->ppid;
	ev.u.fork.ppcreate = tb_create_from_boot_ns(s->tb, r->pp_start);
	ev.u.fork.thread = r->is_thread;
	engine_event(s->eng, &ev);
}

static void on_exec(struct bpfsrc *s, const struct sfc_exec *r, size_t size)
{
	struct items it;
	parse_items((const uint8_t *)r, size, sizeof(*r), &it);
	struct nev ev;
	fill_common(s, &r->h, &ev, NEV_EXEC);
	char *cwd = walk_path(&it.cwd);
	char *argv0 = NULL, *args = NULL;
	split_args(it.argv ? it.argv : "", it.argv_len, &argv0, &args);
	char *exe;
	if (it.exe && it.exe_len)
		exe = user_path(it.exe, it.exe_len, &it.cwd); /* bprm->filename, made absolute */
	else
		exe = xstrdup(argv0);
	int nenv = 0;
	char **env = split_env(it.env ? it.env : "", it.env_len, &nenv);
	ev.u.exec.info.exe = exe;
	ev.u.exec.info.args = args;
	ev.u.exec.info.cwd = cwd;
	ev.u.exec.info.env = env;
	ev.u.exec.info.nenv = nenv;
	ev.u.exec.info.uid = r->uid;
	ev.u.exec.info.gid = r->gid;
	ev.u.exec.info.tty = r->tty != 0;
	ev.u.exec.ppid = r->ppid;
	ev.u.exec.ppcreate = tb_create_from_boot_ns(s->tb, r->pp_start);
	engine_event(s->eng, &ev);
	for (int i = 0; i < nenv; i++)
		free(env[i]);
	free(env);
	free(exe);
	free(argv0);
	free(args);
	free(cwd);
}

static void on_exit_ev(struct bpfsrc *s, const struct sfc_exit *r)
{
	struct nev ev;
	fill_common(s, &r->h, &ev, NEV_EXIT);
	ev.u.exit.group_dead = r->group_dead;
	ev.u.exit.code = r->exit_code;
	engine_event(s->eng, &ev);
}

static void on_setuid(struct bpfsrc *s, const struct sfc_setuid *r)
{
	struct nev ev;
	fill_common(s, &r->h, &ev, NEV_SETUID);
	ev.u.setuid.ret = r->ret;
	ev.u.setuid.arg_uid = r->arg_uid;
	ev.u.setuid.new_uid = r->new_uid;
	ev.u.setuid.new_gid = r->new_gid;
	engine_event(s->eng, &ev);
}

static void on_clone_err(struct bpfsrc *s, const struct sfc_clone_err *r)
{
	struct nev ev;
	fill_common(s, &r->h, &ev, NEV_CLONE_ERR);
	ev.u.clone_err.ret = r->ret;
	engine_event(s->eng, &ev);
}

static void counts(struct kcounts *d, const struct sfc_counters *c)
{
	d->rops = c->rops;
	d->wops = c->wops;
	d->rbytes = c->rbytes;
	d->wbytes = c->wbytes;
}

static void on_fd(struct bpfsrc *s, const struct sfc_fd *r, size_t size)
{
	struct items it;
	parse_items((const uint8_t *)r, size, sizeof(*r), &it);
	struct nev ev;
	fill_common(s, &r->h, &ev, NEV_FD);
	static const int ops[] = {[SFC_OP_OPEN] = NFD_OPEN,       [SFC_OP_IO] = NFD_IO,
				  [SFC_OP_MMAP] = NFD_MMAP,       [SFC_OP_CONNECT] = NFD_CONNECT,
				  [SFC_OP_ACCEPT] = NFD_ACCEPT,   [SFC_OP_SHUTDOWN] = NFD_SHUTDOWN,
				  [SFC_OP_CLOSE] = NFD_CLOSE,     [SFC_OP_STALE] = NFD_STALE};
	if (r->op < 1 || r->op > SFC_OP_STALE)
		return;
	ev.u.fd.op = ops[r->op];
	ev.u.fd.kind = r->kind == SFC_K_REG ? NK_FILE : r->kind == SFC_K_INET ? NK_INET : r->kind == SFC_K_INET6 ? NK_INET6 : NK_NONE;
	ev.u.fd.fd = r->fd;
	ev.u.fd.ret = r->ret;
	ev.u.fd.file = r->file;
	ev.u.fd.flags = r->flags;
	ev.u.fd.created = (r->fmode & FMODE_CREATED) != 0;
	ev.u.fd.has_cnt = r->has_cnt;
	counts(&ev.u.fd.cnt, &r->cnt);
	ev.u.fd.has_stale = r->has_stale;
	ev.u.fd.stale_file = r->stale_file;
	counts(&ev.u.fd.stale_cnt, &r->stale_cnt);
	char *path = NULL;
	if (r->kind == SFC_K_REG) {
		if (it.path)
			path = user_path(it.path, it.path_len, &it.base);
		else if (it.fpath.n)
			path = walk_path(&it.fpath);
	} else if (r->kind == SFC_K_INET || r->kind == SFC_K_INET6) {
		ev.u.fd.family = r->family == 10 ? 6 : 4;
		ev.u.fd.proto = r->proto;
		ev.u.fd.sk_type = r->sk_type;
		memcpy(ev.u.fd.laddr, r->laddr, 16);
		memcpy(ev.u.fd.raddr, r->raddr, 16);
		ev.u.fd.lport = r->lport;
		ev.u.fd.rport = r->rport;
	}
	ev.u.fd.path = path;
	engine_event(s->eng, &ev);
	free(path);
}

static char *dirname_of(const char *p)
{
	const char *slash = strrchr(p, '/');
	if (!slash || slash == p)
		return xstrdup("/");
	return xstrndup(p, (size_t)(slash - p));
}

static void on_fileop(struct bpfsrc *s, const struct sfc_fileop *r, size_t size)
{
	struct items it;
	parse_items((const uint8_t *)r, size, sizeof(*r), &it);
	struct nev ev;
	fill_common(s, &r->h, &ev, NEV_FILEOP);
	static const int ops[] = {[SFC_FOP_MKDIR] = NFOP_MKDIR, [SFC_FOP_RMDIR] = NFOP_RMDIR, [SFC_FOP_UNLINK] = NFOP_UNLINK,
				  [SFC_FOP_LINK] = NFOP_LINK,   [SFC_FOP_SYMLINK] = NFOP_SYMLINK, [SFC_FOP_RENAME] = NFOP_RENAME};
	if (r->op < 1 || r->op > SFC_FOP_RENAME)
		return;
	ev.u.fileop.op = ops[r->op];
	ev.u.fileop.ret = r->ret;
	char *p1 = NULL, *p2 = NULL;
	if (it.path2)
		p2 = user_path(it.path2, it.path2_len, &it.base2);
	if (it.path) {
		if (r->op == SFC_FOP_SYMLINK && it.path[0] != '/' && p2) {
			/* a relative symlink target is relative to the link's directory */
			char *dir = dirname_of(p2);
			char *rel = xstrndup(it.path, it.path_len);
			p1 = path_join(dir, rel);
			free(dir);
			free(rel);
		} else {
			p1 = user_path(it.path, it.path_len, &it.base);
		}
	}
	ev.u.fileop.path1 = p1;
	ev.u.fileop.path2 = p2;
	engine_event(s->eng, &ev);
	free(p1);
	free(p2);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct bpfsrc *s = ctx;
	const struct sfc_hdr *h = data;
	if (size < sizeof(*h))
		return 0;
	s->received++;
	switch (h->type) {
	case SFC_EV_FORK:
		if (size >= sizeof(struct sfc_fork))
			on_fork(s, data);
		break;
	case SFC_EV_EXEC:
		if (size >= sizeof(struct sfc_exec))
			on_exec(s, data, size);
		break;
	case SFC_EV_EXIT:
		if (size >= sizeof(struct sfc_exit))
			on_exit_ev(s, data);
		break;
	case SFC_EV_SETUID:
		if (size >= sizeof(struct sfc_setuid))
			on_setuid(s, data);
		break;
	case SFC_EV_FD:
		if (size >= sizeof(struct sfc_fd))
			on_fd(s, data, size);
		break;
	case SFC_EV_FILEOP:
		if (size >= sizeof(struct sfc_fileop))
			on_fileop(s, data, size);
		break;
	case SFC_EV_CLONE_ERR:
		if (size >= sizeof(struct sfc_clone_err))
			on_clone_err(s, data);
		break;
	default:
		break;
	}
	return 0;
}

/* ---- counters ----------------------------------------------------------------------------------------- */

static int read_counters(void *ctx, uint32_t tgid, uint32_t tid, int32_t fd, uint64_t file, struct kcounts *out, int remove)
{
	struct bpfsrc *s = ctx;
	struct sfc_fd_key k = {.tgid = tgid, .tid = tid, .fd = fd, .pad = 0};
	struct sfc_fd_val v;
	if (bpf_map_lookup_elem(s->fdmap_fd, &k, &v) || v.file != file)
		return -1;
	counts(out, &v.cnt);
	if (remove)
		bpf_map_delete_elem(s->fdmap_fd, &k);
	return 0;
}

static int proc_read(void *ctx, uint32_t pid, struct proc_info *out, uint32_t *ppid, int64_t *create, int64_t *pcreate,
		     void (**release)(struct proc_info *))
{
	struct bpfsrc *s = ctx;
	return procfs_read((void *)s->tb, pid, out, ppid, create, pcreate, release);
}

struct counter_src bpfsrc_counters(struct bpfsrc *s)
{
	struct counter_src cs = {.read = read_counters, .procfs = proc_read, .ctx = NULL};
	cs.ctx = s;
	return cs;
}

/* ---- lifecycle ---------------------------------------------------------------------------------------- */

static int attach(struct bpfsrc *s, struct bpf_program *p, char *err, size_t errlen)
{
	struct bpf_link *l = bpf_program__attach(p);
	if (!l) {
		int e = errno;
		snprintf(err, errlen, "attach %s: %s%s%s", bpf_program__name(p), strerror(e), last_warn[0] ? " — " : "", last_warn);
		return -1;
	}
	s->links[s->nlinks++] = l;
	return 0;
}

struct bpfsrc *bpfsrc_open(int system_wide, uint32_t self_tgid, size_t ringbuf_bytes, const struct timebase *tb, char *err,
			   size_t errlen)
{
	libbpf_set_print(libbpf_print);
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		snprintf(err, errlen, "kernel BTF (/sys/kernel/btf/vmlinux) not available: %s", strerror(errno));
		return NULL;
	}
	struct bpfsrc *s = xcalloc(1, sizeof(*s));
	s->tb = tb;
	s->skel = sfc__open();
	if (!s->skel) {
		snprintf(err, errlen, "open BPF object: %s", strerror(errno));
		free(s);
		return NULL;
	}
	s->skel->rodata->self_tgid = self_tgid;
	s->skel->rodata->system_wide = system_wide ? 1 : 0;
	/* ring buffer size: a power of two multiple of the page size */
	size_t rbsz = 1 << 20;
	while (rbsz < ringbuf_bytes && rbsz < ((size_t)1 << 30))
		rbsz <<= 1;
	bpf_map__set_max_entries(s->skel->maps.rb, (uint32_t)rbsz);
	int r = sfc__load(s->skel);
	if (r) {
		int e = -r;
		snprintf(err, errlen, "load BPF programs: %s%s%s%s", strerror(e),
			 e == EPERM ? " (needs root, or CAP_BPF + CAP_PERFMON)" : "", last_warn[0] ? " — " : "", last_warn);
		sfc__destroy(s->skel);
		free(s);
		return NULL;
	}
	s->fdmap_fd = bpf_map__fd(s->skel->maps.fdmap);
	s->stats_fd = bpf_map__fd(s->skel->maps.stats);
	s->traced_fd = bpf_map__fd(s->skel->maps.traced);
	/* only the hooks; the tail-called syscall handlers are reached through the prog array */
	if (attach(s, s->skel->progs.on_fork, err, errlen) || attach(s, s->skel->progs.on_exec, err, errlen) ||
	    attach(s, s->skel->progs.on_exit, err, errlen) || attach(s, s->skel->progs.sys_enter, err, errlen) ||
	    attach(s, s->skel->progs.sys_exit, err, errlen)) {
		bpfsrc_close(s);
		return NULL;
	}
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.rb), on_record, s, NULL);
	if (!s->rb) {
		snprintf(err, errlen, "ring buffer: %s", strerror(errno));
		bpfsrc_close(s);
		return NULL;
	}
	return s;
}

int bpfsrc_trace(struct bpfsrc *s, uint32_t tgid)
{
	uint8_t one = 1;
	return bpf_map_update_elem(s->traced_fd, &tgid, &one, BPF_ANY);
}

void bpfsrc_set_engine(struct bpfsrc *s, struct engine *e)
{
	s->eng = e;
}

int bpfsrc_poll(struct bpfsrc *s, int timeout_ms)
{
	/* records are committed without waking us (see submit() in the BPF side): a timeout is the
	 * normal case, and whatever is there is consumed either way */
	int n = ring_buffer__poll(s->rb, timeout_ms);
	if (n < 0 && n != -EINTR)
		return n;
	int m = ring_buffer__consume(s->rb);
	if (m < 0)
		return m;
	return (n > 0 ? n : 0) + m;
}

int bpfsrc_drain(struct bpfsrc *s)
{
	return ring_buffer__consume(s->rb);
}

void bpfsrc_sweep(struct bpfsrc *s)
{
	struct sfc_fd_key k, next, *prev = NULL;
	struct sfc_fd_key dead[256];
	int ndead = 0;
	while (bpf_map_get_next_key(s->fdmap_fd, prev, &next) == 0 && ndead < 256) {
		k = next;
		prev = &k;
		struct sfc_fd_val v;
		if (bpf_map_lookup_elem(s->fdmap_fd, &k, &v))
			continue;
		if (engine_knows_fd(s->eng, k.tgid, k.tid, k.fd, v.file) || engine_knows_proc(s->eng, k.tgid))
			continue;
		if (kill((pid_t)k.tgid, 0) == 0 || errno != ESRCH)
			continue;
		dead[ndead++] = k;
	}
	for (int i = 0; i < ndead; i++)
		bpf_map_delete_elem(s->fdmap_fd, &dead[i]);
	if (ndead)
		dbg("swept %d kernel fd entries of exited processes", ndead);
}

void bpfsrc_get_stats(struct bpfsrc *s, struct bpfsrc_stats *out)
{
	memset(out, 0, sizeof(*out));
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu < 1)
		ncpu = 1;
	uint64_t *vals = xcalloc((size_t)ncpu, sizeof(uint64_t));
	uint64_t sums[SFC_ST_NSTATS] = {0};
	for (uint32_t i = 0; i < SFC_ST_NSTATS; i++) {
		if (bpf_map_lookup_elem(s->stats_fd, &i, vals))
			continue;
		for (int c = 0; c < ncpu; c++)
			sums[i] += vals[c];
	}
	free(vals);
	out->events = sums[SFC_ST_EVENTS];
	out->drops = sums[SFC_ST_DROPS];
	out->mapfull = sums[SFC_ST_MAPFULL];
	out->received = s->received;
}

void bpfsrc_close(struct bpfsrc *s)
{
	if (!s)
		return;
	if (s->rb)
		ring_buffer__free(s->rb);
	for (int i = 0; i < s->nlinks; i++)
		bpf_link__destroy(s->links[i]);
	sfc__destroy(s->skel);
	free(s);
}
