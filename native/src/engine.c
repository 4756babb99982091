#define _GNU_SOURCE
#include "engine.h"

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "sha1.h"

#define NS 1000000000LL
#define MAX_ANCESTRY 128
#define FILE_CACHE_MAX 65536

/* ---- entities ---------------------------------------------------------------------------------------- */

struct flow;

struct proc {
	uint32_t tgid;
	int64_t create;
	struct proc *parent;     /* holds a reference on the parent (parent->nrefs) */
	char *exe, *args, *cwd;
	char **env;
	int nenv;
	uint32_t uid, gid;
	int tty;
	int64_t ts;              /* time of the event that created or last changed it */
	int state;               /* state of its next emission */
	int written;             /* emitted since the last header */
	int exited;
	int64_t exit_ts;
	int indexed;             /* the current incarnation of its pid in e->procs */
	int nrefs;               /* children + flows */
	struct flow *flows;
	struct proc *all_next, *all_prev;
	/* ProcessFlow: thread clones/exits */
	int32_t pf_opflags;
	int64_t pf_ts, pf_export;
	int64_t pf_clones, pf_exits, pf_errs;
};

struct sfile {
	uint8_t foid[20];
	char *path;
	int restype;
	int64_t ts;
	int state;
	int written;
	int nrefs;               /* flows */
};

enum { ROLE_UNKNOWN = 0, ROLE_CLIENT, ROLE_SERVER };

struct flow_key {
	uint32_t tgid, tid;
	int32_t fd;
};

struct flow {
	struct flow_key key;
	uint64_t file;
	int kind;                /* NK_FILE, NK_INET (IPv6 too: see v6) */
	struct proc *proc;
	struct sfile *f;
	int64_t ts, export_ts, update_ts;
	int32_t opflags;
	uint32_t openflags;
	int kentry;              /* a kernel counter entry exists for it */
	struct kcounts kcnt;     /* latest known kernel totals */
	struct kcounts snap;     /* totals at the last export */
	int v6;                  /* native IPv6: not representable in v5 NetworkFlow */
	int role;
	uint32_t sip, dip;
	uint16_t sport, dport;
	int proto;
	struct flow *pnext, *pprev;
};

struct name_cache {
	uint32_t id;
	char *name;
};

struct engine {
	struct engine_cfg cfg;
	struct output *out;
	struct counter_src cs;
	struct buf buf;
	struct htab procs;   /* tgid -> current struct proc */
	struct proc *all;    /* every live struct proc (indexed or not) */
	struct htab files;   /* foid -> struct sfile */
	struct htab flows;   /* flow_key -> struct flow */
	struct htab users, groups;
	int64_t last_tick;
	struct engine_stats st;
};

/* ---- names ------------------------------------------------------------------------------------------- */

static const char *id_name(struct htab *h, uint32_t id, int group)
{
	struct name_cache *c = htab_get(h, &id);
	if (c)
		return c->name;
	char tmp[4096];
	const char *name = "";
	if (group) {
		struct group g, *res = NULL;
		if (getgrgid_r(id, &g, tmp, sizeof(tmp), &res) == 0 && res)
			name = res->gr_name;
	} else {
		struct passwd pw, *res = NULL;
		if (getpwuid_r(id, &pw, tmp, sizeof(tmp), &res) == 0 && res)
			name = res->pw_name;
	}
	c = xmalloc(sizeof(*c));
	c->id = id;
	c->name = xstrdup(name);
	htab_put(h, &id, c);
	return c->name;
}

/* ---- output ------------------------------------------------------------------------------------------ */

static void emit(struct engine *e, enum sf_type t)
{
	output_write(e->out, e->buf.p, e->buf.len);
	e->st.by_type[t]++;
}

static struct sf_oid oid_of(const struct proc *p)
{
	struct sf_oid o = {.create_ts = p->create, .hpid = p->tgid};
	return o;
}

static void proc_emit(struct engine *e, struct proc *p, int state)
{
	struct sf_proc_rec r = {0};
	r.state = state;
	r.oid = oid_of(p);
	if (p->parent) {
		r.has_poid = 1;
		r.poid = oid_of(p->parent);
	}
	r.ts = p->ts;
	r.exe = p->exe;
	r.exe_args = p->args;
	r.uid = (int32_t)p->uid;
	r.user = id_name(&e->users, p->uid, 0);
	r.gid = (int32_t)p->gid;
	r.group = id_name(&e->groups, p->gid, 1);
	r.tty = p->tty;
	r.container_id = NULL;
	r.entry = 0;
	r.cwd = p->cwd;
	r.env = p->env;
	r.nenv = p->nenv;
	sf_enc_proc(&e->buf, &r);
	emit(e, SF_PROC);
	p->written = 1;
	p->state = SF_REUP;
}

/* Emit p's unwritten ancestors (REUP) root first, then p itself with its own state. */
static void ensure_proc(struct engine *e, struct proc *p)
{
	if (!p || p->written)
		return;
	struct proc *chain[MAX_ANCESTRY];
	int n = 0;
	for (struct proc *q = p; q && !q->written && n < MAX_ANCESTRY; q = q->parent)
		chain[n++] = q;
	for (int i = n - 1; i >= 0; i--)
		proc_emit(e, chain[i], i == 0 ? chain[i]->state : SF_REUP);
}

/* Emit p with an explicit state (CREATED at clone/exec, MODIFIED at exec/setuid), ancestors first. */
static void proc_write_state(struct engine *e, struct proc *p, int state)
{
	ensure_proc(e, p->parent);
	proc_emit(e, p, state);
}

static void file_emit(struct engine *e, struct sfile *f)
{
	struct sf_file_rec r = {0};
	r.state = f->state;
	memcpy(r.oid, f->foid, 20);
	r.ts = f->ts;
	r.restype = f->restype;
	r.path = f->path;
	r.container_id = NULL;
	sf_enc_file(&e->buf, &r);
	emit(e, SF_FILE);
	f->written = 1;
	f->state = SF_REUP;
}

static void ensure_file(struct engine *e, struct sfile *f)
{
	if (f && !f->written)
		file_emit(e, f);
}

static void write_pe(struct engine *e, struct proc *p, int64_t ts, uint32_t tid, int32_t op, int32_t ret, char *const *args,
		     int nargs)
{
	ensure_proc(e, p);
	struct sf_pe_rec r = {.proc = oid_of(p), .ts = ts, .tid = tid, .opflags = op, .args = args, .nargs = nargs, .ret = ret};
	sf_enc_pe(&e->buf, &r);
	emit(e, SF_PROC_EVT);
}

/* ---- processes --------------------------------------------------------------------------------------- */

static void free_env(char **env, int n)
{
	for (int i = 0; i < n; i++)
		free(env[i]);
	free(env);
}

static char **dup_env(char *const *env, int n)
{
	char **d = xcalloc((size_t)(n > 0 ? n : 1), sizeof(char *));
	for (int i = 0; i < n; i++)
		d[i] = xstrdup(env[i] ? env[i] : "");
	return d;
}

static void proc_set_info(struct proc *p, const struct proc_info *in)
{
	free(p->exe);
	free(p->args);
	free(p->cwd);
	free_env(p->env, p->nenv);
	p->exe = xstrdup(in->exe ? in->exe : "");
	p->args = xstrdup(in->args ? in->args : "");
	p->cwd = xstrdup(in->cwd ? in->cwd : "");
	p->env = dup_env(in->env, in->nenv);
	p->nenv = in->nenv;
	p->uid = in->uid;
	p->gid = in->gid;
	p->tty = in->tty;
}

static void proc_index(struct engine *e, struct proc *p)
{
	struct proc *old = htab_get(&e->procs, &p->tgid);
	if (old && old != p) {
		/* the pid was reused: the old incarnation must be gone */
		old->indexed = 0;
		if (!old->exited) {
			old->exited = 1;
			old->exit_ts = p->ts;
		}
	}
	htab_put(&e->procs, &p->tgid, p);
	p->indexed = 1;
}

static struct proc *proc_new(struct engine *e, uint32_t tgid, int64_t create, int64_t ts, struct proc *parent)
{
	struct proc *p = xcalloc(1, sizeof(*p));
	p->tgid = tgid;
	p->create = create;
	p->ts = ts;
	p->state = SF_REUP;
	p->exe = xstrdup("");
	p->args = xstrdup("");
	p->cwd = xstrdup("");
	p->env = xcalloc(1, sizeof(char *));
	p->uid = p->gid = (uint32_t)-1;
	p->parent = parent;
	if (parent)
		parent->nrefs++;
	p->all_next = e->all;
	if (e->all)
		e->all->all_prev = p;
	e->all = p;
	proc_index(e, p);
	return p;
}

static void proc_free(struct engine *e, struct proc *p)
{
	if (p->indexed)
		htab_del(&e->procs, &p->tgid);
	if (p->all_prev)
		p->all_prev->all_next = p->all_next;
	else
		e->all = p->all_next;
	if (p->all_next)
		p->all_next->all_prev = p->all_prev;
	if (p->parent)
		p->parent->nrefs--;
	free(p->exe);
	free(p->args);
	free(p->cwd);
	free_env(p->env, p->nenv);
	free(p);
}

static struct proc *proc_from_procfs(struct engine *e, uint32_t pid, int64_t expect_create, int depth);

static struct proc *resolve_parent(struct engine *e, uint32_t ppid, int64_t pcreate, int depth)
{
	if (ppid == 0)
		return NULL;
	struct proc *p = htab_get(&e->procs, &ppid);
	if (p && (pcreate == 0 || p->create == pcreate))
		return p;
	if (depth >= MAX_ANCESTRY - 1)
		return NULL;
	return proc_from_procfs(e, ppid, pcreate, depth + 1);
}

static struct proc *proc_from_procfs(struct engine *e, uint32_t pid, int64_t expect_create, int depth)
{
	if (!e->cs.procfs)
		return NULL;
	struct proc_info in;
	uint32_t ppid = 0;
	int64_t create = 0, pcreate = 0;
	void (*release)(struct proc_info *) = NULL;
	if (e->cs.procfs(e->cs.ctx, pid, &in, &ppid, &create, &pcreate, &release))
		return NULL;
	struct proc *p = NULL;
	if (expect_create == 0 || create == expect_create) {
		struct proc *parent = resolve_parent(e, ppid, pcreate, depth);
		p = proc_new(e, pid, create, create, parent);
		proc_set_info(p, &in);
	}
	if (release)
		release(&in);
	return p;
}

/* The process an event belongs to; created from /proc (or as a bare entity) if unknown. */
static struct proc *get_proc(struct engine *e, uint32_t tgid, int64_t create, int64_t ts)
{
	struct proc *p = htab_get(&e->procs, &tgid);
	if (p && (create == 0 || p->create == create))
		return p;
	struct proc *q = proc_from_procfs(e, tgid, create, 0);
	if (q)
		return q;
	e->st.proc_unknown++;
	return proc_new(e, tgid, create, ts, NULL);
}

static void pf_touch(struct proc *p, int64_t ts)
{
	if (!p->pf_opflags && !p->pf_clones && !p->pf_exits && !p->pf_errs) {
		p->pf_ts = ts;
		if (!p->pf_export)
			p->pf_export = ts;
	}
}

static void pf_write(struct engine *e, struct proc *p, int64_t end_ts, int32_t extra)
{
	int32_t flags = p->pf_opflags | extra;
	if (flags != 0 && flags != OP_TRUNCATE) {
		ensure_proc(e, p);
		struct sf_pf_rec r = {.proc = oid_of(p), .ts = p->pf_ts, .nthreads = p->pf_clones, .opflags = flags,
				      .end_ts = end_ts, .nexits = p->pf_exits, .nerrors = p->pf_errs};
		sf_enc_pf(&e->buf, &r);
		emit(e, SF_PROC_FLOW);
	}
	p->pf_opflags = 0;
	p->pf_clones = p->pf_exits = p->pf_errs = 0;
	p->pf_ts = end_ts;
	p->pf_export = end_ts;
}

/* ---- files ------------------------------------------------------------------------------------------- */

static void foid_of(const char *path, uint8_t out[20])
{
	/* sha1(containerId + path); the container id is "" on the host (no container support yet) */
	sha1_buf(path, strlen(path), out);
}

static void file_cache_trim(struct engine *e, int all_unreferenced)
{
	struct htab *h = &e->files;
	for (size_t i = 0; i < h->cap; i++) {
		if (h->state[i] != 1)
			continue;
		struct sfile *f = h->vals[i];
		if (f->nrefs == 0) {
			htab_del(h, f->foid);
			free(f->path);
			free(f);
		} else if (all_unreferenced) {
			f->written = 0;
			f->state = SF_REUP;
		}
	}
}

static struct sfile *file_get(struct engine *e, const char *path, int restype, int state, int64_t ts)
{
	uint8_t foid[20];
	foid_of(path, foid);
	struct sfile *f = htab_get(&e->files, foid);
	if (f)
		return f;
	if (htab_count(&e->files) >= FILE_CACHE_MAX)
		file_cache_trim(e, 0);
	f = xcalloc(1, sizeof(*f));
	memcpy(f->foid, foid, 20);
	f->path = xstrdup(path);
	f->restype = restype;
	f->state = state;
	f->ts = ts;
	htab_put(&e->files, f->foid, f);
	return f;
}

/* ---- flows ------------------------------------------------------------------------------------------- */

static int suppressed_read_only(const struct engine *e, const struct flow *fl, int32_t flags)
{
	if (e->cfg.file_read_mode == 0)
		return 0;
	int ro = (fl->openflags & 1) ||
		 ((flags & OP_READ_RECV) && !(flags & (OP_WRITE_SEND | OP_MMAP)));
	if (!ro)
		return 0;
	if (e->cfg.file_read_mode == 1)
		return 1;
	static const char *const pre[] = {"/proc/", "/dev/", "/sys/", "//sys/", "/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/"};
	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
		if (strncmp(fl->f->path, pre[i], strlen(pre[i])) == 0)
			return 1;
	return 0;
}

static uint64_t sub0(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

enum { EXPORT_PERIODIC = 0, EXPORT_FINAL = 1 };

/* Write the flow's activity since its last export (if any), then reset it. */
static void flow_export(struct engine *e, struct flow *fl, int64_t end_ts, int32_t extra, int mode)
{
	if (fl->kentry && e->cs.read) {
		struct kcounts k;
		if (e->cs.read(e->cs.ctx, fl->key.tgid, fl->key.tid, fl->key.fd, fl->file, &k, mode == EXPORT_FINAL) == 0)
			fl->kcnt = k;
		if (mode == EXPORT_FINAL)
			fl->kentry = 0;
	}
	struct sf_counts c = {
		.rops = (int64_t)sub0(fl->kcnt.rops, fl->snap.rops),
		.wops = (int64_t)sub0(fl->kcnt.wops, fl->snap.wops),
		.rbytes = (int64_t)sub0(fl->kcnt.rbytes, fl->snap.rbytes),
		.wbytes = (int64_t)sub0(fl->kcnt.wbytes, fl->snap.wbytes),
	};
	int32_t flags = fl->opflags | extra;
	if (c.rops)
		flags |= OP_READ_RECV;
	if (c.wops)
		flags |= OP_WRITE_SEND;
	if (fl->kind == NK_FILE && e->cfg.mode == ENGINE_MODE_CONSUME) {
		/* consume mode: file flows without read/write tracking */
		flags &= ~(OP_READ_RECV | OP_WRITE_SEND);
		memset(&c, 0, sizeof(c));
	}
	if (flags != 0 && flags != OP_TRUNCATE) {
		if (fl->kind == NK_FILE) {
			if (e->cfg.mode == ENGINE_MODE_NOFILES) {
				/* -m nofiles: no file flows */
			} else if (suppressed_read_only(e, fl, flags)) {
				e->st.suppressed_ro++;
			} else {
				ensure_proc(e, fl->proc);
				ensure_file(e, fl->f);
				struct sf_ff_rec r = {.proc = oid_of(fl->proc), .ts = fl->ts, .tid = fl->key.tid, .opflags = flags,
						      .open_flags = (int32_t)fl->openflags, .end_ts = end_ts, .fd = fl->key.fd, .c = c};
				memcpy(r.foid, fl->f->foid, 20);
				sf_enc_ff(&e->buf, &r);
				emit(e, SF_FILE_FLOW);
			}
		} else if (fl->v6) {
			e->st.net6_not_exported++;
		} else {
			ensure_proc(e, fl->proc);
			struct sf_nf_rec r = {.proc = oid_of(fl->proc), .ts = fl->ts, .tid = fl->key.tid, .opflags = flags,
					      .end_ts = end_ts, .sip = (int32_t)fl->sip, .sport = fl->sport, .dip = (int32_t)fl->dip,
					      .dport = fl->dport, .proto = fl->proto, .fd = fl->key.fd, .c = c};
			sf_enc_nf(&e->buf, &r);
			emit(e, SF_NET_FLOW);
		}
	}
	fl->snap = fl->kcnt;
	fl->opflags = 0;
	fl->ts = end_ts;
	fl->export_ts = end_ts;
}

static void flow_free(struct engine *e, struct flow *fl)
{
	htab_del(&e->flows, &fl->key);
	if (fl->pprev)
		fl->pprev->pnext = fl->pnext;
	else
		fl->proc->flows = fl->pnext;
	if (fl->pnext)
		fl->pnext->pprev = fl->pprev;
	fl->proc->nrefs--;
	if (fl->f)
		fl->f->nrefs--;
	free(fl);
}

static void flow_finish(struct engine *e, struct flow *fl, int64_t end_ts, int32_t extra)
{
	flow_export(e, fl, end_ts, extra, EXPORT_FINAL);
	flow_free(e, fl);
}

static int ip6_is_v4(const uint8_t a[16])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t zero[16] = {0};
	return memcmp(a, mapped, 12) == 0 || memcmp(a, zero, 16) == 0;
}

static uint32_t u32_at(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4); /* network-order bytes as a host (little-endian) u32: sysdig's representation */
	return v;
}

static void flow_set_tuple(struct flow *fl, const struct nev *ev, int role)
{
	uint32_t l, r;
	if (ev->u.fd.family == 6) {
		if (!ip6_is_v4(ev->u.fd.laddr) || !ip6_is_v4(ev->u.fd.raddr)) {
			fl->v6 = 1;
			l = r = 0;
		} else {
			fl->v6 = 0;
			l = u32_at(ev->u.fd.laddr + 12);
			r = u32_at(ev->u.fd.raddr + 12);
		}
	} else {
		fl->v6 = 0;
		l = u32_at(ev->u.fd.laddr);
		r = u32_at(ev->u.fd.raddr);
	}
	if (role != ROLE_UNKNOWN)
		fl->role = role;
	else if (fl->role == ROLE_UNKNOWN)
		/* first seen without connect/accept: no peer (a listening or unconnected socket), or the
		 * lower port, is taken as the server side */
		fl->role = ev->u.fd.rport == 0 || ev->u.fd.lport < ev->u.fd.rport ? ROLE_SERVER : ROLE_CLIENT;
	/* sip/sport is always the client side, dip/dport the server side */
	if (fl->role == ROLE_SERVER) {
		fl->sip = r;
		fl->sport = ev->u.fd.rport;
		fl->dip = l;
		fl->dport = ev->u.fd.lport;
	} else {
		fl->sip = l;
		fl->sport = ev->u.fd.lport;
		fl->dip = r;
		fl->dport = ev->u.fd.rport;
	}
	fl->proto = ev->u.fd.sk_type == 3 /* SOCK_RAW */ ? 254 : ev->u.fd.proto;
}

static struct flow *flow_new(struct engine *e, struct proc *p, const struct nev *ev)
{
	struct flow *fl = xcalloc(1, sizeof(*fl));
	fl->key.tgid = ev->tgid;
	fl->key.tid = ev->tid;
	fl->key.fd = ev->u.fd.fd;
	fl->file = ev->u.fd.file;
	fl->kind = ev->u.fd.kind == NK_FILE ? NK_FILE : NK_INET;
	fl->proc = p;
	p->nrefs++;
	fl->ts = fl->export_ts = fl->update_ts = ev->ts;
	fl->kentry = ev->u.fd.op != NFD_CLOSE;
	if (ev->u.fd.has_cnt)
		fl->kcnt = ev->u.fd.cnt;
	if (fl->kind == NK_FILE) {
		/* another flow on the same open file (another thread, a dup): reuse its path, the open's
		 * lexical one, rather than the kernel's dentry walk */
		const char *path = ev->u.fd.op == NFD_OPEN ? ev->u.fd.path : NULL;
		for (struct flow *s = p->flows; s && !path; s = s->pnext)
			if (s->kind == NK_FILE && s->file == fl->file)
				path = s->f->path;
		if (!path)
			path = ev->u.fd.path;
		fl->f = file_get(e, path ? path : "<unknown>", 'f', SF_REUP, ev->ts);
		fl->f->nrefs++;
	} else {
		flow_set_tuple(fl, ev, ROLE_UNKNOWN);
	}
	fl->pnext = p->flows;
	if (p->flows)
		p->flows->pprev = fl;
	p->flows = fl;
	htab_put(&e->flows, &fl->key, fl);
	return fl;
}

static void handle_fd(struct engine *e, const struct nev *ev)
{
	struct proc *p = get_proc(e, ev->tgid, ev->pcreate, ev->ts);
	struct flow_key key = {.tgid = ev->tgid, .tid = ev->tid, .fd = ev->u.fd.fd};
	struct flow *fl = htab_get(&e->flows, &key);
	int op = ev->u.fd.op;
	if (ev->u.fd.has_stale && fl && fl->file == ev->u.fd.stale_file) {
		/* the fd was closed implicitly (dup2, exec, another thread): its flow ends, truncated */
		fl->kcnt = ev->u.fd.stale_cnt;
		fl->kentry = 0;
		flow_finish(e, fl, ev->ts, OP_TRUNCATE);
		fl = NULL;
	}
	if (op == NFD_STALE || ev->u.fd.kind == NK_NONE)
		return;
	if (fl && fl->file != ev->u.fd.file) {
		fl->kentry = 0; /* any kernel entry for it was reported as stale */
		flow_finish(e, fl, ev->ts, OP_TRUNCATE);
		fl = NULL;
	}
	if (!fl) {
		/* a close without a flow of this thread (fd opened before capture, an expired flow, or a
		 * flow of another thread, which ends first, truncated) is one CLOSE-only record */
		if (op == NFD_CLOSE)
			e->st.unknown_close++;
		fl = flow_new(e, p, ev);
	} else if (ev->u.fd.has_cnt) {
		fl->kcnt = ev->u.fd.cnt;
	}
	fl->update_ts = ev->ts;
	switch (op) {
	case NFD_OPEN:
		fl->opflags |= OP_OPEN;
		fl->openflags = ppm_open_flags(ev->u.fd.flags, ev->u.fd.created);
		break;
	case NFD_MMAP:
		fl->opflags |= OP_MMAP;
		break;
	case NFD_CONNECT:
	case NFD_ACCEPT: {
		int role = op == NFD_CONNECT ? ROLE_CLIENT : ROLE_SERVER;
		struct flow probe = *fl;
		flow_set_tuple(&probe, ev, role);
		if ((fl->opflags || fl->kcnt.rops != fl->snap.rops || fl->kcnt.wops != fl->snap.wops) &&
		    (probe.sip != fl->sip || probe.dip != fl->dip || probe.sport != fl->sport || probe.dport != fl->dport)) {
			/* the socket's tuple changed (e.g. a UDP socket connected after use): new flow key */
			flow_export(e, fl, ev->ts, 0, EXPORT_PERIODIC);
		}
		flow_set_tuple(fl, ev, role);
		fl->opflags |= op == NFD_CONNECT ? OP_CONNECT : OP_ACCEPT;
		break;
	}
	case NFD_SHUTDOWN:
		fl->opflags |= OP_SHUTDOWN;
		break;
	case NFD_CLOSE: {
		fl->opflags |= OP_CLOSE;
		fl->kentry = 0;
		/* flows of other threads on the same open file end first, truncated */
		for (struct flow *s = p->flows, *n; s; s = n) {
			n = s->pnext;
			if (s != fl && s->key.fd == fl->key.fd && s->file == fl->file)
				flow_finish(e, s, ev->ts, OP_TRUNCATE);
		}
		flow_finish(e, fl, ev->ts, 0);
		break;
	}
	default:
		break;
	}
}

/* ---- process events ---------------------------------------------------------------------------------- */

static void handle_fork(struct engine *e, const struct nev *ev)
{
	struct proc *p = get_proc(e, ev->tgid, ev->pcreate, ev->ts);
	if (ev->u.fork.thread) {
		pf_touch(p, ev->ts);
		p->pf_clones++;
		p->pf_opflags |= OP_CLONE;
		return;
	}
	write_pe(e, p, ev->ts, ev->tid, OP_CLONE, (int32_t)ev->u.fork.ctid, NULL, 0);
	struct proc *c = htab_get(&e->procs, &ev->u.fork.ctgid);
	if (!c || c->create != ev->u.fork.ccreate) {
		struct proc *parent = p;
		if (ev->u.fork.ppid != p->tgid) /* CLONE_PARENT: the child's parent is our parent */
			parent = resolve_parent(e, ev->u.fork.ppid, ev->u.fork.ppcreate, 0);
		c = proc_new(e, ev->u.fork.ctgid, ev->u.fork.ccreate, ev->ts, parent);
		struct proc_info in = {.exe = p->exe, .args = p->args, .cwd = p->cwd, .env = p->env, .nenv = p->nenv,
				       .uid = p->uid, .gid = p->gid, .tty = p->tty};
		proc_set_info(c, &in);
	}
	c->ts = ev->ts;
	proc_write_state(e, c, SF_CREATED);
	write_pe(e, c, ev->ts, ev->u.fork.ctid, OP_CLONE, 0, NULL, 0);
}

static void handle_exec(struct engine *e, const struct nev *ev)
{
	struct proc *p = htab_get(&e->procs, &ev->tgid);
	int state = SF_MODIFIED;
	if (!p || (ev->pcreate && p->create != ev->pcreate)) {
		struct proc *parent = resolve_parent(e, ev->u.exec.ppid, ev->u.exec.ppcreate, 0);
		p = proc_new(e, ev->tgid, ev->pcreate, ev->ts, parent);
		state = SF_CREATED;
	}
	proc_set_info(p, &ev->u.exec.info);
	p->ts = ev->ts;
	proc_write_state(e, p, state);
	write_pe(e, p, ev->ts, ev->tid, OP_EXEC, 0, NULL, 0);
}

static void handle_exit(struct engine *e, const struct nev *ev)
{
	struct proc *p = get_proc(e, ev->tgid, ev->pcreate, ev->ts);
	if (!ev->u.exit.group_dead) {
		pf_touch(p, ev->ts);
		p->pf_exits++;
		p->pf_opflags |= OP_EXIT;
		return;
	}
	if (p->exited)
		return;
	pf_write(e, p, ev->ts, 0);
	while (p->flows)
		flow_finish(e, p->flows, ev->ts, OP_TRUNCATE);
	write_pe(e, p, ev->ts, ev->tid, OP_EXIT, ev->u.exit.code, NULL, 0);
	p->exited = 1;
	p->exit_ts = ev->ts;
}

static void handle_setuid(struct engine *e, const struct nev *ev)
{
	struct proc *p = get_proc(e, ev->tgid, ev->pcreate, ev->ts);
	if (ev->u.setuid.ret == 0) {
		p->uid = ev->u.setuid.new_uid;
		p->gid = ev->u.setuid.new_gid;
	}
	p->ts = ev->ts;
	proc_write_state(e, p, SF_MODIFIED);
	/* args: the requested uid, as the user name when it resolves (as libsinsp renders it) */
	char num[16];
	const char *name = id_name(&e->users, ev->u.setuid.arg_uid, 0);
	if (!name[0]) {
		snprintf(num, sizeof(num), "%u", ev->u.setuid.arg_uid);
		name = num;
	}
	char *args[1] = {(char *)name};
	write_pe(e, p, ev->ts, ev->tid, OP_SETUID, ev->u.setuid.ret, args, 1);
}

static void handle_fileop(struct engine *e, const struct nev *ev)
{
	const char *p1 = ev->u.fileop.path1, *p2 = ev->u.fileop.path2;
	if (!p1 || e->cfg.mode == ENGINE_MODE_NOFILES)
		return;
	struct proc *p = get_proc(e, ev->tgid, ev->pcreate, ev->ts);
	struct sfile *f1 = NULL, *f2 = NULL;
	int32_t op = 0;
	switch (ev->u.fileop.op) {
	case NFOP_MKDIR:
		op = OP_MKDIR;
		f1 = file_get(e, p1, 'd', SF_CREATED, ev->ts);
		break;
	case NFOP_RMDIR:
		op = OP_RMDIR;
		f1 = file_get(e, p1, 'd', SF_CREATED, ev->ts);
		break;
	case NFOP_UNLINK:
		op = OP_UNLINK;
		f1 = file_get(e, p1, '?', SF_CREATED, ev->ts);
		break;
	case NFOP_LINK:
	case NFOP_RENAME:
	case NFOP_SYMLINK:
		if (!p2)
			return;
		op = ev->u.fileop.op == NFOP_LINK ? OP_LINK : ev->u.fileop.op == NFOP_RENAME ? OP_RENAME : OP_SYMLINK;
		f1 = file_get(e, p1, '?', SF_REUP, ev->ts);
		f2 = file_get(e, p2, ev->u.fileop.op == NFOP_SYMLINK ? '?' : f1->restype, SF_CREATED, ev->ts);
		break;
	default:
		return;
	}
	ensure_proc(e, p);
	ensure_file(e, f1);
	ensure_file(e, f2);
	struct sf_fe_rec r = {.proc = oid_of(p), .ts = ev->ts, .tid = ev->tid, .opflags = op, .ret = ev->u.fileop.ret};
	memcpy(r.foid, f1->foid, 20);
	if (f2) {
		r.has_new = 1;
		memcpy(r.new_foid, f2->foid, 20);
	}
	sf_enc_fe(&e->buf, &r);
	emit(e, SF_FILE_EVT);
}

/* ---- public ------------------------------------------------------------------------------------------ */

struct engine *engine_new(const struct engine_cfg *cfg, struct output *out, const struct counter_src *cs)
{
	struct engine *e = xcalloc(1, sizeof(*e));
	e->cfg = *cfg;
	if (!e->cfg.flow_export_ns)
		e->cfg.flow_export_ns = 30 * NS;
	if (!e->cfg.flow_expire_ns)
		e->cfg.flow_expire_ns = 2 * e->cfg.flow_export_ns;
	e->out = out;
	if (cs)
		e->cs = *cs;
	htab_init(&e->procs, sizeof(uint32_t));
	htab_init(&e->files, 20);
	htab_init(&e->flows, sizeof(struct flow_key));
	htab_init(&e->users, sizeof(uint32_t));
	htab_init(&e->groups, sizeof(uint32_t));
	return e;
}

static void free_names(struct htab *h)
{
	for (size_t i = 0; i < h->cap; i++)
		if (h->state[i] == 1) {
			struct name_cache *c = h->vals[i];
			free(c->name);
			free(c);
		}
	htab_free(h);
}

void engine_free(struct engine *e)
{
	for (size_t i = 0; i < e->flows.cap; i++)
		if (e->flows.state[i] == 1)
			flow_free(e, e->flows.vals[i]);
	while (e->all) {
		struct proc *p = e->all;
		/* children first is not needed: proc_free only touches the parent's counter */
		p->parent = NULL;
		proc_free(e, p);
	}
	for (size_t i = 0; i < e->files.cap; i++)
		if (e->files.state[i] == 1) {
			struct sfile *f = e->files.vals[i];
			free(f->path);
			free(f);
		}
	htab_free(&e->files);
	htab_free(&e->procs);
	htab_free(&e->flows);
	free_names(&e->users);
	free_names(&e->groups);
	buf_free(&e->buf);
	free(e);
}

void engine_header(struct engine *e)
{
	/* consumers reset their caches on every header: nothing counts as written any more */
	for (struct proc *p = e->all; p; p = p->all_next) {
		p->written = 0;
		p->state = SF_REUP;
	}
	file_cache_trim(e, 1);
	struct sf_header_rec h = {.version = 5, .exporter = e->cfg.exporter, .ip = e->cfg.node_ip ? e->cfg.node_ip : "",
				  .filename = output_filename(e->out)};
	sf_enc_header(&e->buf, &h);
	emit(e, SF_HEADER);
	e->st.headers++;
}

void engine_event(struct engine *e, const struct nev *ev)
{
	switch (ev->type) {
	case NEV_FORK:
		handle_fork(e, ev);
		break;
	case NEV_EXEC:
		handle_exec(e, ev);
		break;
	case NEV_EXIT:
		handle_exit(e, ev);
		break;
	case NEV_SETUID:
		handle_setuid(e, ev);
		break;
	case NEV_FD:
		handle_fd(e, ev);
		break;
	case NEV_FILEOP:
		handle_fileop(e, ev);
		break;
	case NEV_CLONE_ERR: {
		struct proc *p = get_proc(e, ev->tgid, ev->pcreate, ev->ts);
		pf_touch(p, ev->ts);
		p->pf_errs++;
		p->pf_opflags |= OP_CLONE;
		break;
	}
	default:
		break;
	}
}

void engine_tick(struct engine *e, int64_t now)
{
	if (now - e->last_tick < NS)
		return;
	e->last_tick = now;
	/* long-lived flows: export every flow_export_ns, drop after flow_expire_ns without activity */
	struct htab *h = &e->flows;
	for (size_t i = 0; i < h->cap; i++) {
		if (h->state[i] != 1)
			continue;
		struct flow *fl = h->vals[i];
		if (now - fl->export_ts < e->cfg.flow_export_ns)
			continue;
		if (fl->kentry && e->cs.read) {
			struct kcounts k;
			if (e->cs.read(e->cs.ctx, fl->key.tgid, fl->key.tid, fl->key.fd, fl->file, &k, 0) == 0) {
				if (memcmp(&k, &fl->kcnt, sizeof(k)) != 0)
					fl->update_ts = now;
				fl->kcnt = k;
			}
		}
		int idle = fl->opflags == 0 && memcmp(&fl->kcnt, &fl->snap, sizeof(fl->kcnt)) == 0;
		if (idle && now - fl->update_ts >= e->cfg.flow_expire_ns) {
			if (fl->kentry && e->cs.read) {
				struct kcounts k;
				e->cs.read(e->cs.ctx, fl->key.tgid, fl->key.tid, fl->key.fd, fl->file, &k, 1);
			}
			flow_free(e, fl);
			continue;
		}
		flow_export(e, fl, now, 0, EXPORT_PERIODIC);
	}
	for (struct proc *p = e->all, *n; p; p = n) {
		n = p->all_next;
		if (p->pf_opflags && now - p->pf_export >= e->cfg.flow_export_ns)
			pf_write(e, p, now, 0);
		/* exited processes stay while children or flows refer to them, and at least 1 s */
		if (p->exited && p->nrefs == 0 && now - p->exit_ts >= NS)
			proc_free(e, p); /* only touches the parent's counter: n stays valid */
	}
}

void engine_finish(struct engine *e, int64_t now)
{
	struct htab *h = &e->flows;
	for (size_t i = 0; i < h->cap; i++)
		if (h->state[i] == 1)
			flow_finish(e, h->vals[i], now, OP_TRUNCATE);
	for (struct proc *p = e->all; p; p = p->all_next)
		if (p->pf_opflags)
			pf_write(e, p, now, OP_TRUNCATE);
}

void engine_reap(struct engine *e, int64_t now, int (*alive)(void *ctx, uint32_t pid, int64_t create), void *ctx)
{
	for (struct proc *p = e->all; p; p = p->all_next) {
		if (p->exited || alive(ctx, p->tgid, p->create))
			continue;
		while (p->flows)
			flow_finish(e, p->flows, now, OP_TRUNCATE);
		p->exited = 1;
		p->exit_ts = now;
	}
}

void engine_seed_proc(struct engine *e, uint32_t pid)
{
	struct proc *p = htab_get(&e->procs, &pid);
	if (!p)
		proc_from_procfs(e, pid, 0, 0);
}

int engine_knows_fd(struct engine *e, uint32_t tgid, uint32_t tid, int32_t fd, uint64_t file)
{
	struct flow_key key = {.tgid = tgid, .tid = tid, .fd = fd};
	struct flow *fl = htab_get(&e->flows, &key);
	return fl && fl->file == file;
}

int engine_knows_proc(struct engine *e, uint32_t tgid)
{
	struct proc *p = htab_get(&e->procs, &tgid);
	return p && !p->exited;
}

const struct engine_stats *engine_stats(const struct engine *e)
{
	return &e->st;
}
