#define _GNU_SOURCE
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define USER_HZ_NS 10000000LL /* /proc reports start times in USER_HZ=100 ticks */

void timebase_init(struct timebase *tb)
{
	/* bracket the boottime read with two realtime reads to bound the error */
	int64_t r1 = now_realtime_ns(), b = now_boottime_ns(), r2 = now_realtime_ns();
	tb->boot_epoch_ns = (r1 + r2) / 2 - b;
}

int64_t tb_epoch(const struct timebase *tb, uint64_t boot_ns)
{
	return tb->boot_epoch_ns + (int64_t)boot_ns;
}

int64_t tb_create_from_ticks(const struct timebase *tb, uint64_t ticks)
{
	return tb->boot_epoch_ns + (int64_t)ticks * USER_HZ_NS;
}

int64_t tb_create_from_boot_ns(const struct timebase *tb, uint64_t start_boottime_ns)
{
	return tb_create_from_ticks(tb, start_boottime_ns / USER_HZ_NS);
}

static char *read_small(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	char *b = xmalloc(max + 1);
	size_t n = 0;
	while (n < max) {
		ssize_t r = read(fd, b + n, max - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	b[n] = 0;
	if (len)
		*len = n;
	return b;
}

static char *read_link(const char *path)
{
	char tmp[4096];
	ssize_t n = readlink(path, tmp, sizeof(tmp) - 1);
	if (n < 0)
		return NULL;
	return xstrndup(tmp, (size_t)n);
}

int procfs_stat(uint32_t pid, uint64_t *start_ticks, uint32_t *ppid, int *tty, char *comm, size_t commlen)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	char *s = read_small(path, 4096, NULL);
	if (!s)
		return -1;
	char *lp = strchr(s, '('), *rp = strrchr(s, ')');
	if (!lp || !rp || rp < lp) {
		free(s);
		return -1;
	}
	if (comm && commlen) {
		size_t n = (size_t)(rp - lp - 1);
		if (n >= commlen)
			n = commlen - 1;
		memcpy(comm, lp + 1, n);
		comm[n] = 0;
	}
	/* fields after the comm: 3 state, 4 ppid, ..., 7 tty_nr, ..., 22 starttime */
	char *f = rp + 2;
	unsigned long long v[22] = {0};
	int i = 3;
	char *save = NULL;
	for (char *tok = strtok_r(f, " ", &save); tok && i <= 22; tok = strtok_r(NULL, " ", &save), i++)
		if (i > 3)
			v[i - 1] = strtoull(tok, NULL, 10);
	free(s);
	if (i <= 22)
		return -1;
	if (ppid)
		*ppid = (uint32_t)v[3];
	if (tty)
		*tty = v[6] != 0;
	if (start_ticks)
		*start_ticks = v[21];
	return 0;
}

void split_args(const char *blob, size_t len, char **argv0, char **joined)
{
	size_t i = 0;
	while (i < len && blob[i])
		i++;
	if (argv0)
		*argv0 = xstrndup(blob, i);
	struct buf b = {0};
	size_t j = i + 1;
	while (j < len) {
		size_t k = j;
		while (k < len && blob[k])
			k++;
		if (b.len)
			buf_put(&b, " ", 1);
		buf_put(&b, blob + j, k - j);
		j = k + 1;
	}
	buf_put(&b, "", 1);
	*joined = (char *)b.p;
}

char **split_env(const char *blob, size_t len, int *n)
{
	int cap = 16, cnt = 0;
	char **a = xmalloc(sizeof(char *) * (size_t)cap);
	size_t j = 0;
	while (j < len) {
		size_t k = j;
		while (k < len && blob[k])
			k++;
		if (k > j) {
			if (cnt == cap) {
				cap *= 2;
				a = xrealloc(a, sizeof(char *) * (size_t)cap);
			}
			a[cnt++] = xstrndup(blob + j, k - j);
		}
		j = k + 1;
	}
	*n = cnt;
	return a;
}

static void release_info(struct proc_info *in)
{
	free((char *)in->exe);
	free((char *)in->args);
	free((char *)in->cwd);
	for (int i = 0; i < in->nenv; i++)
		free(in->env[i]);
	free(in->env);
}

static uint32_t status_id(const char *status, const char *key)
{
	const char *p = strstr(status, key);
	if (!p)
		return (uint32_t)-1;
	unsigned long real, eff;
	if (sscanf(p + strlen(key), "%lu %lu", &real, &eff) != 2)
		return (uint32_t)-1;
	return (uint32_t)eff; /* effective ids, as the eBPF source reports them */
}

int procfs_read(void *ctx, uint32_t pid, struct proc_info *out, uint32_t *ppid, int64_t *create, int64_t *pcreate,
		void (**release)(struct proc_info *))
{
	const struct timebase *tb = ctx;
	uint64_t ticks;
	char comm[64];
	int tty = 0;
	if (procfs_stat(pid, &ticks, ppid, &tty, comm, sizeof(comm)))
		return -1;
	memset(out, 0, sizeof(*out));
	char path[64];
	snprintf(path, sizeof(path), "/proc/%u/cmdline", pid);
	size_t len = 0;
	char *cmd = read_small(path, 16384, &len);
	char *argv0 = NULL, *args = NULL;
	split_args(cmd ? cmd : "", cmd ? len : 0, &argv0, &args);
	free(cmd);
	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	char *exe = read_link(path);
	if (!exe || !exe[0]) {
		free(exe);
		/* kernel threads and unreadable exe links: argv[0], else the comm */
		exe = xstrdup(argv0 && argv0[0] ? argv0 : comm);
	}
	free(argv0);
	snprintf(path, sizeof(path), "/proc/%u/cwd", pid);
	char *cwd = read_link(path);
	snprintf(path, sizeof(path), "/proc/%u/environ", pid);
	char *env = read_small(path, 65536, &len);
	out->env = split_env(env ? env : "", env ? len : 0, &out->nenv);
	free(env);
	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	char *st = read_small(path, 8192, NULL);
	out->uid = st ? status_id(st, "Uid:") : (uint32_t)-1;
	out->gid = st ? status_id(st, "Gid:") : (uint32_t)-1;
	free(st);
	out->exe = exe;
	out->args = args;
	out->cwd = cwd ? cwd : xstrdup("");
	out->tty = tty;
	*create = tb_create_from_ticks(tb, ticks);
	*pcreate = 0;
	if (*ppid) {
		uint64_t pt;
		if (procfs_stat(*ppid, &pt, NULL, NULL, NULL, 0) == 0)
			*pcreate = tb_create_from_ticks(tb, pt);
	}
	*release = release_info;
	return 0;
}
