/* eBPF event source: loads and attaches bpf/sfc.bpf.c, turns ring-buffer records into normalized events. */
#ifndef SFC_SRC_BPF_H
#define SFC_SRC_BPF_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "procfs.h"

struct bpfsrc;

struct bpfsrc_stats {
	uint64_t events;   /* records the kernel committed */
	uint64_t drops;    /* records lost: ring buffer full */
	uint64_t mapfull;  /* fd-counter / traced-tgid inserts that failed */
	uint64_t received; /* records user space decoded */
};

/* Load and attach. system_wide: trace every process but self; else only tgids added with bpfsrc_trace.
 * Returns NULL with a one-line reason in err when eBPF is unusable. */
struct bpfsrc *bpfsrc_open(int system_wide, uint32_t self_tgid, size_t ringbuf_bytes, const struct timebase *tb, char *err,
			   size_t errlen);
int bpfsrc_trace(struct bpfsrc *s, uint32_t tgid);
void bpfsrc_set_engine(struct bpfsrc *s, struct engine *e);
struct counter_src bpfsrc_counters(struct bpfsrc *s);
/* Wait up to timeout_ms for records and hand them to the engine; returns the number handled or -errno. */
int bpfsrc_poll(struct bpfsrc *s, int timeout_ms);
/* Hand over everything already committed without waiting. */
int bpfsrc_drain(struct bpfsrc *s);
/* Delete kernel fd-counter entries of processes that are gone and unknown to the engine. */
void bpfsrc_sweep(struct bpfsrc *s);
void bpfsrc_get_stats(struct bpfsrc *s, struct bpfsrc_stats *out);
void bpfsrc_close(struct bpfsrc *s);

#endif
