/*
 * sfcollector: SysFlow v5 collector on eBPF tracepoints.
 *
 *   sfcollector [-w FILE] [-u SOCK] [-G SECS] [-e ID] [options] [-- CMD ARGS...]
 *
 * With `-- CMD`, the command is forked blocked on a pipe, the probes are attached and its tgid seeded
 * in the kernel's traced set, then it is released; its process tree is followed and the collector
 * exits with its exit status once it has exited and everything is flushed. Without it, the whole
 * host (minus the collector) is traced until SIGINT/SIGTERM.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine.h"
#include "output.h"
#include "procfs.h"
#include "schema_v5.h"
#include "selftest.h"
#include "src_bpf.h"
#include "util.h"

#define EXIT_USAGE 2
#define EXIT_NOBPF 69 /* EX_UNAVAILABLE: eBPF cannot be loaded here */
#define EXIT_FAIL 1

static volatile sig_atomic_t stop_sig;
static volatile sig_atomic_t nsignals;

static void on_signal(int sig)
{
	stop_sig = sig;
	nsignals++;
}

static void usage(FILE *f)
{
	fputs("usage: sfcollector [-w FILE] [-u SOCKET] [-G SECS] [-e EXPORTER_ID] [options] [-- CMD [ARGS...]]\n"
	      "\n"
	      "  -w FILE        write an Avro object container file (deflate). Exactly FILE without -G;\n"
	      "                 with -G, FILE.<epoch seconds> per period. FILE ending in '/' is a directory:\n"
	      "                 DIR/<epoch seconds>.\n"
	      "  -G SECS        rotate the file (and send a new header on the socket) every SECS seconds\n"
	      "  -u SOCKET      stream to a UNIX socket (SOCK_SEQPACKET, one Avro datum per message;\n"
	      "                 the collector connects, SFHeader first after every (re)connect)\n"
	      "  -e ID          exporter id in SFHeader (default: the host name); NODE_IP sets SFHeader.ip\n"
	      "  -m MODE        flow (default): file/network flows with counters; consume: file flows without\n"
	      "                 read/write counters; nofiles: no file flows or file events\n"
	      "  -k ebpf-core   accepted for compatibility (the only driver)\n"
	      "  -d             print statistics to stderr every 10 s\n"
	      "  -v             print version and SysFlow schema version, then exit\n"
	      "  -h             this help\n"
	      "  --sock-stream  SOCK_STREAM instead of SOCK_SEQPACKET, a 4-byte big-endian length per datum\n"
	      "  --reconnect-interval SECS  first socket reconnect delay (default 10; doubles up to 8x,\n"
	      "                 then the collector stops, as sf-collector does)\n"
	      "  --export-interval SECS     export long-lived flows every SECS (default 30; idle flows are\n"
	      "                 dropped after twice that)\n"
	      "  --ringbuf-mb N ring buffer size (default 16)\n"
	      "  --probe        check that the eBPF programs load and attach here, then exit (0 or 69)\n"
	      "  --selftest     run the built-in encoder/OCF/SHA-1/engine checks\n"
	      "  --             trace only CMD's process tree; exit with its status\n"
	      "\n"
	      "Not supported (sf-collector flags): -r (scap replay), -f (filters), -s (sampling),\n"
	      "-c (containers only), -p/-t (CRI). Needs root (CAP_BPF + CAP_PERFMON) and kernel BTF.\n",
	      f);
}

enum {
	OPT_SOCK_STREAM = 1000,
	OPT_RECONNECT,
	OPT_EXPORT,
	OPT_RINGBUF,
	OPT_PROBE,
	OPT_SELFTEST,
	OPT_SCENARIO,
	OPT_SYNC,
	OPT_VERBOSE,
};

static int parse_secs(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || v <= 0)
		return -1;
	*out = v;
	return 0;
}

static void scan_proc(struct engine *e, uint32_t self)
{
	DIR *d = opendir("/proc");
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);
		if (*end || pid == 0 || pid == self)
			continue;
		engine_seed_proc(e, (uint32_t)pid);
	}
	closedir(d);
}

/* engine_reap callback: does this exact process (pid and start time) still exist? */
static int proc_alive(void *ctx, uint32_t pid, int64_t create)
{
	const struct timebase *tb = ctx;
	uint64_t ticks;
	if (procfs_stat(pid, &ticks, NULL, NULL, NULL, 0))
		return 0;
	return create == 0 || tb_create_from_ticks(tb, ticks) == create;
}

static void print_summary(const struct output *o, const struct bpfsrc_stats *bs, const struct engine_stats *es)
{
	fprintf(stderr,
		"sfcollector: %llu records written (file: %llu in %llu file(s); socket: %llu sent, %llu dropped while "
		"disconnected, %llu dropped on a full queue, %llu reconnects); kernel: %llu events, %llu ring-buffer drops, "
		"%llu map-full; IPv6 flows not exported: %llu\n",
		(unsigned long long)o->records, (unsigned long long)o->file_records, (unsigned long long)o->files_opened,
		(unsigned long long)o->sock_sent, (unsigned long long)o->sock_dropped_disconnected,
		(unsigned long long)o->sock_dropped_full, (unsigned long long)o->sock_reconnects,
		(unsigned long long)bs->events, (unsigned long long)bs->drops, (unsigned long long)bs->mapfull,
		(unsigned long long)es->net6_not_exported);
}

int main(int argc, char **argv)
{
	const char *wfile = NULL, *usock = NULL, *exporter = NULL, *scenario = NULL, *sync_hex = NULL;
	int rotate = 0, stats = 0, probe = 0, selftest = 0, mode = ENGINE_MODE_FLOW;
	struct output_cfg ocfg = {0};
	double reconnect = 10, export_iv = 30;
	size_t ringbuf_mb = 16;

	static const struct option longopts[] = {
		{"sock-stream", no_argument, NULL, OPT_SOCK_STREAM},
		{"reconnect-interval", required_argument, NULL, OPT_RECONNECT},
		{"export-interval", required_argument, NULL, OPT_EXPORT},
		{"ringbuf-mb", required_argument, NULL, OPT_RINGBUF},
		{"probe", no_argument, NULL, OPT_PROBE},
		{"selftest", no_argument, NULL, OPT_SELFTEST},
		{"scenario", required_argument, NULL, OPT_SCENARIO},
		{"sync", required_argument, NULL, OPT_SYNC},
		{"verbose", no_argument, NULL, OPT_VERBOSE},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'v'},
		{0, 0, 0, 0},
	};
	int c;
	/* '+': stop at the first non-option, so `-- CMD -x` keeps CMD's options */
	while ((c = getopt_long(argc, argv, "+hvdw:u:G:e:k:m:r:f:p:t:s:cl:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'v':
			printf("sfcollector %s (eBPF tracepoints), SysFlow schema version %d\n", SFC_VERSION, SF_SCHEMA_VERSION);
			return 0;
		case 'd':
			stats = 1;
			break;
		case 'w':
			wfile = optarg;
			break;
		case 'u':
			usock = optarg;
			break;
		case 'G': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v <= 0 || v > 86400 * 366) {
				fprintf(stderr, "sfcollector: -G: rotation interval must be a positive number of seconds\n");
				return EXIT_USAGE;
			}
			rotate = (int)v;
			break;
		}
		case 'e':
			exporter = optarg;
			break;
		case 'k':
			if (strcmp(optarg, "ebpf-core") && strcmp(optarg, "ebpf")) {
				fprintf(stderr, "sfcollector: -k %s: unsupported driver (only ebpf-core, the built-in eBPF probes)\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'm':
			if (!strcmp(optarg, "flow"))
				mode = ENGINE_MODE_FLOW;
			else if (!strcmp(optarg, "consume"))
				mode = ENGINE_MODE_CONSUME;
			else if (!strcmp(optarg, "nofiles"))
				mode = ENGINE_MODE_NOFILES;
			else {
				fprintf(stderr, "sfcollector: -m %s: unknown mode (flow, consume, nofiles)\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'r':
			fprintf(stderr, "sfcollector: -r: offline scap replay is not supported (live eBPF collection only)\n");
			return EXIT_USAGE;
		case 'f':
			fprintf(stderr, "sfcollector: -f: sysdig filter expressions are not supported; use `-- CMD` to trace one command's process tree\n");
			return EXIT_USAGE;
		case 's':
			fprintf(stderr, "sfcollector: -s: sampling (dropping mode) is not supported\n");
			return EXIT_USAGE;
		case 'c':
			fprintf(stderr, "sfcollector: -c: container-only mode is not supported (no container metadata)\n");
			return EXIT_USAGE;
		case 'p':
		case 't':
			fprintf(stderr, "sfcollector: -%c: CRI container metadata is not supported\n", c);
			return EXIT_USAGE;
		case 'l':
			fprintf(stderr, "sfcollector: -l: log4cxx configuration is not supported (messages go to stderr)\n");
			return EXIT_USAGE;
		case OPT_SOCK_STREAM:
			ocfg.sock_stream = 1;
			break;
		case OPT_RECONNECT:
			if (parse_secs(optarg, &reconnect)) {
				fprintf(stderr, "sfcollector: --reconnect-interval: positive seconds expected\n");
				return EXIT_USAGE;
			}
			break;
		case OPT_EXPORT:
			if (parse_secs(optarg, &export_iv)) {
				fprintf(stderr, "sfcollector: --export-interval: positive seconds expected\n");
				return EXIT_USAGE;
			}
			break;
		case OPT_RINGBUF: {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v == 0 || v > 1024) {
				fprintf(stderr, "sfcollector: --ringbuf-mb: 1..1024 expected\n");
				return EXIT_USAGE;
			}
			ringbuf_mb = v;
			break;
		}
		case OPT_PROBE:
			probe = 1;
			break;
		case OPT_SELFTEST:
			selftest = 1;
			break;
		case OPT_SCENARIO:
			scenario = optarg;
			break;
		case OPT_SYNC:
			sync_hex = optarg;
			break;
		case OPT_VERBOSE:
			sfc_verbose++;
			break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (selftest)
		return selftest_run() ? EXIT_FAIL : 0;
	if (scenario)
		return selftest_scenario(scenario) ? EXIT_FAIL : 0;

	uint8_t sync[16];
	if (sync_hex) {
		if (strlen(sync_hex) != 32) {
			fprintf(stderr, "sfcollector: --sync: 32 hex digits expected\n");
			return EXIT_USAGE;
		}
		for (int i = 0; i < 16; i++) {
			unsigned v;
			if (sscanf(sync_hex + 2 * i, "%2x", &v) != 1) {
				fprintf(stderr, "sfcollector: --sync: 32 hex digits expected\n");
				return EXIT_USAGE;
			}
			sync[i] = (uint8_t)v;
		}
		ocfg.sync = sync;
	}

	char **cmd = optind < argc ? argv + optind : NULL;
	if (cmd && optind > 0 && strcmp(argv[optind - 1], "--") != 0) {
		fprintf(stderr, "sfcollector: unexpected argument '%s' (put the command to trace after --)\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (!probe && !wfile && !usock) {
		fprintf(stderr, "sfcollector: no output: give -w FILE and/or -u SOCKET (see -h)\n");
		return EXIT_USAGE;
	}

	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	/* The command is forked before anything is loaded, so it inherits no BPF or output fds. */
	pid_t child = -1;
	int gate[2] = {-1, -1};
	if (cmd && !probe) {
		if (pipe2(gate, O_CLOEXEC)) {
			perror("sfcollector: pipe");
			return EXIT_FAIL;
		}
		child = fork();
		if (child < 0) {
			perror("sfcollector: fork");
			return EXIT_FAIL;
		}
		if (child == 0) {
			close(gate[1]);
			signal(SIGPIPE, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			signal(SIGTERM, SIG_DFL);
			char go;
			ssize_t n;
			do
				n = read(gate[0], &go, 1);
			while (n < 0 && errno == EINTR);
			if (n != 1)
				_exit(127); /* the collector failed before releasing us */
			close(gate[0]);
			execvp(cmd[0], cmd);
			fprintf(stderr, "sfcollector: %s: %s\n", cmd[0], strerror(errno));
			_exit(127);
		}
		close(gate[0]);
	}

	struct timebase tb;
	timebase_init(&tb);
	char err[1024];
	uint32_t self = (uint32_t)getpid();
	struct bpfsrc *src = bpfsrc_open(!cmd, self, ringbuf_mb << 20, &tb, err, sizeof(err));
	if (!src) {
		fprintf(stderr, "sfcollector: eBPF unavailable: %s\n", err);
		if (child > 0) {
			close(gate[1]);
			waitpid(child, NULL, 0);
		}
		return EXIT_NOBPF;
	}
	if (probe) {
		bpfsrc_close(src);
		printf("sfcollector: eBPF probes load and attach\n");
		return 0;
	}

	ocfg.file = wfile;
	ocfg.rotate_secs = rotate;
	ocfg.sock = usock;
	ocfg.reconnect_min = reconnect;
	struct output out;
	if (output_open(&out, &ocfg, now_realtime_ns(), err, sizeof(err))) {
		fprintf(stderr, "sfcollector: %s\n", err);
		bpfsrc_close(src);
		if (child > 0) {
			close(gate[1]);
			waitpid(child, NULL, 0);
		}
		return EXIT_FAIL;
	}

	char host[256] = "";
	if (!exporter) {
		gethostname(host, sizeof(host) - 1);
		exporter = host;
	}
	struct engine_cfg ecfg = {.exporter = exporter, .node_ip = getenv("NODE_IP"), .file_read_mode = 2, .mode = mode};
	ecfg.flow_export_ns = (int64_t)(export_iv * 1e9);
	ecfg.flow_expire_ns = 2 * ecfg.flow_export_ns;
	struct counter_src cs = bpfsrc_counters(src);
	struct engine *eng = engine_new(&ecfg, &out, &cs);
	bpfsrc_set_engine(src, eng);

	if (child > 0) {
		if (bpfsrc_trace(src, (uint32_t)child))
			logmsg("cannot seed the traced set: %s", strerror(errno));
		engine_seed_proc(eng, (uint32_t)child); /* and, through /proc, its ancestors */
	} else {
		scan_proc(eng, self);
	}
	engine_header(eng);
	if (child > 0) {
		char go = 1;
		if (write(gate[1], &go, 1) != 1)
			logmsg("cannot release the command: %s", strerror(errno));
		close(gate[1]);
	}

	int status = 0, child_done = 0, forwarded = 0;
	int64_t last_sweep = now_mono_ns(), last_stats = now_mono_ns();
	for (;;) {
		int n = bpfsrc_poll(src, output_backlog(&out) ? 10 : 100);
		if (n < 0 && n != -EINTR) {
			logmsg("ring buffer poll: %s", strerror(-n));
			break;
		}
		int64_t now = now_realtime_ns();
		if (output_tick(&out, now))
			engine_header(eng);
		engine_tick(eng, now);
		if (output_gave_up(&out))
			break;
		if (child > 0) {
			if (stop_sig && !forwarded) {
				kill(child, stop_sig); /* the command decides; a second signal stops us anyway */
				forwarded = 1;
			}
			pid_t w = waitpid(child, &status, WNOHANG);
			if (w == child) {
				child_done = 1;
				break;
			}
			if (nsignals > 1)
				break;
		} else if (stop_sig) {
			break;
		}
		int64_t mono = now_mono_ns();
		if (mono - last_sweep > 30000000000LL) {
			engine_reap(eng, now, proc_alive, &tb);
			bpfsrc_sweep(src);
			last_sweep = mono;
		}
		if (stats && mono - last_stats > 10000000000LL) {
			struct bpfsrc_stats bs;
			bpfsrc_get_stats(src, &bs);
			logmsg("stats: %llu records, kernel %llu events, %llu drops, %llu map-full", (unsigned long long)out.records,
			       (unsigned long long)bs.events, (unsigned long long)bs.drops, (unsigned long long)bs.mapfull);
			last_stats = mono;
		}
	}
	/* everything the kernel committed before the command's exit is in the ring buffer now */
	bpfsrc_drain(src);
	int64_t now = now_realtime_ns();
	engine_finish(eng, now);
	struct bpfsrc_stats bs;
	bpfsrc_get_stats(src, &bs);
	output_close(&out);
	print_summary(&out, &bs, engine_stats(eng));
	if (bs.drops)
		logmsg("WARNING: %llu kernel records were lost (ring buffer full); the output is incomplete. Try --ringbuf-mb.",
		       (unsigned long long)bs.drops);
	engine_free(eng);
	bpfsrc_close(src);

	if (child > 0) {
		if (!child_done) {
			kill(child, SIGTERM);
			waitpid(child, &status, 0);
		}
		if (WIFEXITED(status))
			return WEXITSTATUS(status);
		if (WIFSIGNALED(status))
			return 128 + WTERMSIG(status);
		return EXIT_FAIL;
	}
	return output_gave_up(&out) ? EXIT_FAIL : 0;
}
