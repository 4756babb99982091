#define _GNU_SOURCE
#include "selftest.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "avro.h"
#include "engine.h"
#include "ocf.h"
#include "output.h"
#include "procfs.h"
#include "schema_v5.h"
#include "sha1.h"
#include "util.h"

static int checks, failures;

#define CHECK(cond, ...)                                                                                       \
	do {                                                                                                   \
		checks++;                                                                                      \
		if (!(cond)) {                                                                                 \
			failures++;                                                                            \
			fprintf(stderr, "selftest FAILED %s:%d: ", __FILE__, __LINE__);                      \
			fprintf(stderr, __VA_ARGS__);                                                          \
			fputc('\n', stderr);                                                                   \
		}                                                                                              \
	} while (0)

static void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

static void t_varint(void)
{
	static const struct {
		int64_t v;
		const char *hex;
	} cases[] = {
		{0, "00"}, {-1, "01"}, {1, "02"}, {-64, "7f"}, {64, "8001"}, {-65, "8101"},
		{1700000000000000000LL, "8080d0e2c6bfce972f"},
		{INT64_MAX, "feffffffffffffffff01"}, {INT64_MIN, "ffffffffffffffffff01"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = {0};
		av_long(&b, cases[i].v);
		char h[64];
		hex(b.p, b.len, h);
		CHECK(strcmp(h, cases[i].hex) == 0, "long %lld encodes as %s, expected %s", (long long)cases[i].v, h, cases[i].hex);
		buf_free(&b);
	}
	struct buf b = {0};
	av_string(&b, "h\xc3\xa9");
	CHECK(b.len == 4 && b.p[0] == 6 && memcmp(b.p + 1, "h\xc3\xa9", 3) == 0, "string: length prefix then UTF-8 bytes");
	buf_free(&b);
}

static void t_sha1(void)
{
	static const struct {
		const char *in;
		const char *hex;
	} v[] = {
		{"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		{"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
		/* the FOID of /etc/ld.so.cache in sf-collector's test traces */
		{"/etc/ld.so.cache", "8d57b8c634ff3c042c2d003a93f46a7bc6cc86da"},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t d[20];
		char h[41];
		sha1_buf(v[i].in, strlen(v[i].in), d);
		hex(d, 20, h);
		CHECK(strcmp(h, v[i].hex) == 0, "sha1(\"%s\") = %s, expected %s", v[i].in, h, v[i].hex);
	}
	/* a million 'a', fed in uneven pieces */
	struct sha1 s;
	sha1_init(&s);
	char chunk[997];
	memset(chunk, 'a', sizeof(chunk));
	size_t left = 1000000;
	while (left) {
		size_t n = left < sizeof(chunk) ? left : sizeof(chunk);
		sha1_update(&s, chunk, n);
		left -= n;
	}
	uint8_t d[20];
	char h[41];
	sha1_final(&s, d);
	hex(d, 20, h);
	CHECK(strcmp(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f") == 0, "sha1(a x 1e6) = %s", h);
}

static void t_paths(void)
{
	static const struct {
		const char *base, *rel, *want;
	} v[] = {
		{NULL, "/a/./b/../c", "/a/c"}, {NULL, "//x//y/", "/x/y"}, {NULL, "/..", "/"}, {NULL, "/", "/"},
		{"/home/u", "../v/./w", "/home/v/w"}, {"/a", "/b", "/b"}, {"/", "x", "/x"}, {"/a/b", "../../..", "/"},
		{"/a", ".", "/a"}, {"/a", "...", "/a/..."},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *r = v[i].base ? path_join(v[i].base, v[i].rel) : path_normalize(v[i].rel);
		CHECK(strcmp(r, v[i].want) == 0, "path(%s, %s) = %s, expected %s", v[i].base ? v[i].base : "-", v[i].rel, r,
		      v[i].want);
		free(r);
	}
}

static void t_flags(void)
{
	CHECK(ppm_open_flags(01101, 0) == (2 | 4 | 256), "O_WRONLY|O_CREAT|O_TRUNC");
	CHECK(ppm_open_flags(02000000, 0) == 4097, "O_RDONLY|O_CLOEXEC = 4097 as in sf-collector traces");
	CHECK(ppm_open_flags(02, 1) == (3 | 16384), "O_RDWR + created");
	CHECK(ppm_open_flags(0200000 | 04000, 0) == (1 | 1024 | 64), "O_DIRECTORY|O_NONBLOCK");
	CHECK(ppm_open_flags(020200002, 0) == (3 | 8192), "O_TMPFILE");
}

static void t_records(void)
{
	struct buf b = {0};
	struct sf_header_rec h = {.version = 5, .exporter = "h", .ip = "", .filename = "f"};
	sf_enc_header(&b, &h);
	static const uint8_t want[] = {0x00, 0x0a, 0x02, 'h', 0x00, 0x02, 'f'};
	CHECK(b.len == sizeof(want) && memcmp(b.p, want, sizeof(want)) == 0, "SFHeader datum bytes");

	/* a process with a huge environment stays below the 16 KiB socket message limit */
	int n = 2000;
	char **env = xcalloc((size_t)n, sizeof(char *));
	for (int i = 0; i < n; i++) {
		env[i] = xmalloc(101);
		memset(env[i], 'e', 100);
		env[i][100] = 0;
	}
	char *args = xmalloc(30001);
	memset(args, 'a', 30000);
	args[30000] = 0;
	struct sf_proc_rec p = {.state = SF_CREATED, .oid = {1, 2}, .ts = 3, .exe = "/bin/x", .exe_args = args, .user = "u",
				.group = "g", .cwd = "/", .env = env, .nenv = n};
	sf_enc_proc(&b, &p);
	CHECK(b.len <= SF_MAX_DATUM, "Process datum capped at %d bytes (got %zu)", SF_MAX_DATUM, b.len);
	CHECK(b.len > 4096, "capping keeps what fits (got %zu)", b.len);
	for (int i = 0; i < n; i++)
		free(env[i]);
	free(env);
	free(args);

	struct sf_fe_rec fe = {.proc = {1700000000000000000LL, 42}, .ts = 5, .tid = 42, .opflags = OP_RENAME, .ret = -2,
			       .has_new = 1};
	memset(fe.foid, 0xaa, 20);
	memset(fe.new_foid, 0xbb, 20);
	sf_enc_fe(&b, &fe);
	CHECK(b.len == 1 + 10 + 1 + 1 + 4 + 20 + 1 + 1 + 20 && b.p[0] == 14 && b.p[b.len - 21] == 2,
	      "FileEvent layout: branch 7, nullable newFileOID branch 1 (len %zu)", b.len);
	buf_free(&b);
}

static void t_htab(void)
{
	struct htab h;
	htab_init(&h, sizeof(uint64_t));
	for (uint64_t i = 0; i < 20000; i++)
		htab_put(&h, &i, (void *)(uintptr_t)(i + 1));
	for (uint64_t i = 0; i < 20000; i += 2)
		htab_del(&h, &i);
	int ok = htab_count(&h) == 10000;
	for (uint64_t i = 0; i < 20000; i++) {
		void *v = htab_get(&h, &i);
		ok &= (i % 2) ? v == (void *)(uintptr_t)(i + 1) : v == NULL;
	}
	CHECK(ok, "hash table insert/delete/lookup");
	htab_free(&h);
}

static void t_split(void)
{
	static const char blob[] = "/bin/ls\0-la\0/etc\0";
	char *a0, *rest;
	split_args(blob, sizeof(blob) - 1, &a0, &rest);
	CHECK(!strcmp(a0, "/bin/ls") && !strcmp(rest, "-la /etc"), "argv split: '%s' '%s'", a0, rest);
	free(a0);
	free(rest);
	int n;
	char **e = split_env("A=1\0\0B=2\0", 9, &n);
	CHECK(n == 2 && !strcmp(e[0], "A=1") && !strcmp(e[1], "B=2"), "env split");
	for (int i = 0; i < n; i++)
		free(e[i]);
	free(e);
}

/* Minimal OCF reader for the round trip: header, then inflate each block. */
static void t_ocf(void)
{
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	snprintf(path, sizeof(path), "%s/sfc-selftest-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0) {
		CHECK(0, "mkstemp");
		return;
	}
	close(fd);
	struct ocf o;
	uint8_t sync[16];
	for (int i = 0; i < 16; i++)
		sync[i] = (uint8_t)i;
	CHECK(ocf_open(&o, path, sync, 0) == 0, "ocf_open");
	struct buf d = {0}, all = {0};
	int nrec = 5000; /* several 80 KB blocks */
	for (int i = 0; i < nrec; i++) {
		struct sf_pe_rec r = {.proc = {1700000000000000000LL + i, i}, .ts = i, .tid = i, .opflags = OP_EXEC, .ret = i};
		sf_enc_pe(&d, &r);
		buf_put(&all, d.p, d.len);
		ocf_append(&o, d.p, d.len);
	}
	CHECK(ocf_close(&o) == 0, "ocf_close");
	size_t len = 0;
	FILE *f = fopen(path, "rb");
	uint8_t *file = NULL;
	if (f) {
		fseek(f, 0, SEEK_END);
		len = (size_t)ftell(f);
		fseek(f, 0, SEEK_SET);
		file = xmalloc(len);
		if (fread(file, 1, len, f) != len)
			len = 0;
		fclose(f);
	}
	unlink(path);
	CHECK(len > 4 && memcmp(file, "Obj\x01", 4) == 0, "OCF magic");
	/* header: find the schema JSON and the sync marker right after the metadata map */
	const char *schema = memmem(file, len, SF_SCHEMA_JSON, sizeof(SF_SCHEMA_JSON) - 1);
	CHECK(schema != NULL, "schema embedded");
	CHECK(memmem(file, len, "deflate", 7) != NULL, "codec deflate");
	size_t pos = schema ? (size_t)((const uint8_t *)schema - file) + sizeof(SF_SCHEMA_JSON) - 1 : len;
	CHECK(pos + 17 <= len && file[pos] == 0 && memcmp(file + pos + 1, sync, 16) == 0, "metadata end + sync marker");
	pos += 17;
	struct buf got = {0};
	int blocks = 0;
	long total = 0;
	while (pos < len) {
		/* zig-zag varints */
		int64_t v[2];
		for (int k = 0; k < 2; k++) {
			uint64_t z = 0;
			int sh = 0;
			while (pos < len) {
				uint8_t c = file[pos++];
				z |= (uint64_t)(c & 0x7f) << sh;
				sh += 7;
				if (!(c & 0x80))
					break;
			}
			v[k] = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
		}
		if (v[1] < 0 || pos + (size_t)v[1] + 16 > len)
			break;
		z_stream z = {0};
		inflateInit2(&z, -15);
		buf_reserve(&got, 200000);
		z.next_in = file + pos;
		z.avail_in = (uInt)v[1];
		z.next_out = got.p + got.len;
		z.avail_out = (uInt)(got.cap - got.len);
		int zr = inflate(&z, Z_FINISH);
		got.len += (got.cap - got.len) - z.avail_out;
		inflateEnd(&z);
		CHECK(zr == Z_STREAM_END, "block %d inflates", blocks);
		pos += (size_t)v[1];
		CHECK(memcmp(file + pos, sync, 16) == 0, "block %d sync", blocks);
		pos += 16;
		total += v[0];
		blocks++;
	}
	CHECK(total == nrec, "record count %ld", total);
	CHECK(blocks > 1, "blocks flushed at 80,000 bytes (%d blocks)", blocks);
	CHECK(got.len == all.len && memcmp(got.p, all.p, all.len) == 0, "datums round-trip byte for byte");
	buf_free(&got);
	buf_free(&all);
	buf_free(&d);
	free(file);
}

int selftest_run(void)
{
	checks = failures = 0;
	t_varint();
	t_sha1();
	t_paths();
	t_flags();
	t_records();
	t_htab();
	t_split();
	t_ocf();
	if (failures) {
		fprintf(stderr, "selftest: %d of %d checks failed\n", failures, checks);
		return 1;
	}
	printf("selftest: %d checks passed\n", checks);
	return 0;
}

/* ---- engine scenario ------------------------------------------------------------------------------------- */

#define T0 1700000000000000000LL
#define MS 1000000LL
#define S 1000000000LL
#define C1 (T0 - 1000 * S)
#define C50 (T0 - 100 * S)
#define C100 (T0 - 5 * S)

/* fake /proc: pid 1 (/sbin/init) and 50 (/bin/bash, child of 1) pre-exist */
static int fake_procfs(void *ctx, uint32_t pid, struct proc_info *out, uint32_t *ppid, int64_t *create, int64_t *pcreate,
		       void (**release)(struct proc_info *))
{
	(void)ctx;
	static char *env50[] = {"HOME=/root", "TERM=xterm"};
	memset(out, 0, sizeof(*out));
	*release = NULL;
	if (pid == 1) {
		out->exe = "/sbin/init";
		out->args = "";
		out->cwd = "/";
		out->uid = out->gid = 0;
		*ppid = 0;
		*create = C1;
		*pcreate = 0;
		return 0;
	}
	if (pid == 50) {
		out->exe = "/bin/bash";
		out->args = "-l";
		out->cwd = "/root";
		out->env = env50;
		out->nenv = 2;
		out->uid = out->gid = 0;
		out->tty = 1;
		*ppid = 1;
		*create = C50;
		*pcreate = C1;
		return 0;
	}
	return -1;
}

static struct nev ev0(int type, int64_t ts, uint32_t tgid, uint32_t tid, int64_t create)
{
	struct nev e;
	memset(&e, 0, sizeof(e));
	e.type = type;
	e.ts = ts;
	e.tgid = tgid;
	e.tid = tid;
	e.pcreate = create;
	return e;
}

static struct nev fdev(int op, int64_t ts, int32_t fd, uint64_t file, int kind, const char *path)
{
	struct nev e = ev0(NEV_FD, ts, 100, 100, C100);
	e.u.fd.op = op;
	e.u.fd.kind = kind;
	e.u.fd.fd = fd;
	e.u.fd.file = file;
	e.u.fd.path = path;
	return e;
}

static void set_cnt(struct nev *e, uint64_t rops, uint64_t rbytes, uint64_t wops, uint64_t wbytes)
{
	e->u.fd.has_cnt = 1;
	e->u.fd.cnt.rops = rops;
	e->u.fd.cnt.rbytes = rbytes;
	e->u.fd.cnt.wops = wops;
	e->u.fd.cnt.wbytes = wbytes;
}

static void set_v4(struct nev *e, const char *l, uint16_t lport, const char *r, uint16_t rport)
{
	unsigned a, b, c, d;
	e->u.fd.family = 4;
	e->u.fd.proto = 6;
	e->u.fd.sk_type = 1;
	sscanf(l, "%u.%u.%u.%u", &a, &b, &c, &d);
	e->u.fd.laddr[0] = (uint8_t)a, e->u.fd.laddr[1] = (uint8_t)b, e->u.fd.laddr[2] = (uint8_t)c, e->u.fd.laddr[3] = (uint8_t)d;
	sscanf(r, "%u.%u.%u.%u", &a, &b, &c, &d);
	e->u.fd.raddr[0] = (uint8_t)a, e->u.fd.raddr[1] = (uint8_t)b, e->u.fd.raddr[2] = (uint8_t)c, e->u.fd.raddr[3] = (uint8_t)d;
	e->u.fd.lport = lport;
	e->u.fd.rport = rport;
}

int selftest_scenario(const char *path)
{
	uint8_t sync[16];
	for (int i = 0; i < 16; i++)
		sync[i] = (uint8_t)i;
	struct output_cfg oc = {.file = path, .sync = sync};
	struct output out;
	char err[256];
	if (output_open(&out, &oc, T0, err, sizeof(err))) {
		fprintf(stderr, "scenario: %s\n", err);
		return 1;
	}
	struct counter_src cs = {.read = NULL, .procfs = fake_procfs, .ctx = NULL};
	struct engine_cfg cfg = {.exporter = "selftest", .node_ip = "", .file_read_mode = 2};
	struct engine *e = engine_new(&cfg, &out, &cs);
	engine_header(e);
	struct nev v;

	/* 1. exec of an unknown process: ancestors 1 and 50 REUP root first, then CREATED */
	char *env100[] = {"A=1"};
	v = ev0(NEV_EXEC, T0 + 1 * MS, 100, 100, C100);
	v.u.exec.info = (struct proc_info){.exe = "/usr/bin/app", .args = "-x 1", .cwd = "/work", .env = env100, .nenv = 1,
					   .uid = 1000, .gid = 1000, .tty = 0};
	v.u.exec.ppid = 50;
	v.u.exec.ppcreate = C50;
	engine_event(e, &v);
	/* 2. fork 100 -> 101; 3. 101 execs /bin/true; 4. 101 exits with status 0 */
	v = ev0(NEV_FORK, T0 + 2 * MS, 100, 100, C100);
	v.u.fork.ctgid = 101;
	v.u.fork.ctid = 101;
	v.u.fork.ccreate = T0;
	v.u.fork.ppid = 100;
	v.u.fork.ppcreate = C100;
	engine_event(e, &v);
	v = ev0(NEV_EXEC, T0 + 3 * MS, 101, 101, T0);
	v.u.exec.info = (struct proc_info){.exe = "/bin/true", .args = "", .cwd = "/work", .uid = 1000, .gid = 1000};
	v.u.exec.ppid = 100;
	v.u.exec.ppcreate = C100;
	engine_event(e, &v);
	v = ev0(NEV_EXIT, T0 + 4 * MS, 101, 101, T0);
	v.u.exit.group_dead = 1;
	v.u.exit.code = 0;
	engine_event(e, &v);
	/* 5-6. write 12 bytes to /work/x */
	v = fdev(NFD_OPEN, T0 + 5 * MS, 3, 0xa, NK_FILE, "/work/x");
	v.u.fd.flags = 01101;
	v.u.fd.created = 1;
	engine_event(e, &v);
	v = fdev(NFD_CLOSE, T0 + 6 * MS, 3, 0xa, NK_FILE, NULL);
	set_cnt(&v, 0, 0, 1, 12);
	engine_event(e, &v);
	/* 7-9. rename, unlink, mkdir */
	v = ev0(NEV_FILEOP, T0 + 7 * MS, 100, 100, C100);
	v.u.fileop.op = NFOP_RENAME;
	v.u.fileop.path1 = "/work/x";
	v.u.fileop.path2 = "/work/y";
	engine_event(e, &v);
	v.ts = T0 + 8 * MS;
	v.u.fileop.op = NFOP_UNLINK;
	v.u.fileop.path1 = "/work/y";
	v.u.fileop.path2 = NULL;
	engine_event(e, &v);
	v.ts = T0 + 9 * MS;
	v.u.fileop.op = NFOP_MKDIR;
	v.u.fileop.path1 = "/work/d";
	v.u.fileop.ret = -17;
	engine_event(e, &v);
	/* 10-13. loopback TCP: client fd 4 connects 40000 -> 8080, server fd 5 accepts */
	v = fdev(NFD_CONNECT, T0 + 10 * MS, 4, 0xb, NK_INET, NULL);
	set_v4(&v, "127.0.0.1", 40000, "127.0.0.1", 8080);
	v.u.fd.ret = -115;
	engine_event(e, &v);
	v = fdev(NFD_ACCEPT, T0 + 11 * MS, 5, 0xc, NK_INET, NULL);
	set_v4(&v, "127.0.0.1", 8080, "127.0.0.1", 40000);
	engine_event(e, &v);
	v = fdev(NFD_CLOSE, T0 + 12 * MS, 4, 0xb, NK_INET, NULL);
	set_cnt(&v, 1, 9, 1, 5);
	engine_event(e, &v);
	v = fdev(NFD_CLOSE, T0 + 13 * MS, 5, 0xc, NK_INET, NULL);
	set_cnt(&v, 1, 5, 1, 9);
	engine_event(e, &v);
	/* 14. a library load: read-only under /usr/lib, not written (FILE_READ_MODE=2) */
	v = fdev(NFD_OPEN, T0 + 14 * MS, 6, 0xd, NK_FILE, "/usr/lib/libz.so");
	v.u.fd.flags = 02000000;
	engine_event(e, &v);
	v = fdev(NFD_MMAP, T0 + 14 * MS, 6, 0xd, NK_FILE, NULL);
	engine_event(e, &v);
	v = fdev(NFD_CLOSE, T0 + 14 * MS, 6, 0xd, NK_FILE, NULL);
	engine_event(e, &v);
	/* 15. native IPv6 (::1): not representable, counted; 16. IPv4-mapped IPv6: written as IPv4 */
	v = fdev(NFD_CONNECT, T0 + 15 * MS, 7, 0xe, NK_INET6, NULL);
	v.u.fd.family = 6;
	v.u.fd.proto = 6;
	v.u.fd.sk_type = 1;
	v.u.fd.laddr[15] = 1;
	v.u.fd.raddr[15] = 1;
	v.u.fd.lport = 40001;
	v.u.fd.rport = 8081;
	engine_event(e, &v);
	v.u.fd.op = NFD_CLOSE;
	engine_event(e, &v);
	v = fdev(NFD_ACCEPT, T0 + 16 * MS, 8, 0xf, NK_INET6, NULL);
	v.u.fd.family = 6;
	v.u.fd.proto = 6;
	v.u.fd.sk_type = 1;
	static const uint8_t m[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1};
	static const uint8_t m2[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 2};
	memcpy(v.u.fd.laddr, m, 16);
	memcpy(v.u.fd.raddr, m2, 16);
	v.u.fd.lport = 443;
	v.u.fd.rport = 50000;
	engine_event(e, &v);
	v.u.fd.op = NFD_CLOSE;
	engine_event(e, &v);
	/* 17. a failed setuid(0) */
	v = ev0(NEV_SETUID, T0 + 17 * MS, 100, 100, C100);
	v.u.setuid.ret = -1;
	v.u.setuid.arg_uid = 0;
	v.u.setuid.new_uid = 1000;
	v.u.setuid.new_gid = 1000;
	engine_event(e, &v);
	/* 18. a thread is created and exits */
	v = ev0(NEV_FORK, T0 + 18 * MS, 100, 100, C100);
	v.u.fork.thread = 1;
	v.u.fork.ctgid = 100;
	v.u.fork.ctid = 102;
	engine_event(e, &v);
	v = ev0(NEV_EXIT, T0 + 19 * MS, 100, 102, C100);
	engine_event(e, &v);
	/* a file opened by thread 103 and closed by the main thread: the opener's flow ends truncated,
	 * the closer's is CLOSE-only, both on the opened path */
	v = fdev(NFD_OPEN, T0 + 20 * MS, 11, 0x12, NK_FILE, "/work/mt");
	v.tid = 103;
	v.u.fd.flags = 01;
	engine_event(e, &v);
	v = fdev(NFD_CLOSE, T0 + 21 * MS, 11, 0x12, NK_FILE, "/work/mt-walk");
	engine_event(e, &v);
	/* 19-20. a long-lived flow: exported after 30 s, then reset */
	v = fdev(NFD_OPEN, T0 + 10 * S, 9, 0x10, NK_FILE, "/work/long");
	v.u.fd.flags = 02;
	engine_event(e, &v);
	engine_tick(e, T0 + 41 * S);
	/* 21. a new header (rotation): entities are re-emitted before their next use */
	engine_header(e);
	/* 22. the long flow closes after 2 reads of 100 bytes */
	v = fdev(NFD_CLOSE, T0 + 50 * S, 9, 0x10, NK_FILE, NULL);
	set_cnt(&v, 2, 100, 0, 0);
	engine_event(e, &v);
	/* 23. an open file when the process exits with status 3 */
	v = fdev(NFD_OPEN, T0 + 51 * S, 10, 0x11, NK_FILE, "/work/z");
	v.u.fd.flags = 01;
	engine_event(e, &v);
	v = ev0(NEV_EXIT, T0 + 52 * S, 100, 100, C100);
	v.u.exit.group_dead = 1;
	v.u.exit.code = 3 << 8;
	engine_event(e, &v);
	engine_finish(e, T0 + 53 * S);
	output_close(&out);
	engine_free(e);
	return 0;
}
