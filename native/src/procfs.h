/* /proc readers: pre-existing processes (and the REUP ancestors of everything traced). */
#ifndef SFC_PROCFS_H
#define SFC_PROCFS_H

#include <stdint.h>

#include "engine.h"

/* createTS of a process: boot epoch + start time truncated to clock ticks (10 ms), the precision
 * /proc offers, so the eBPF source and /proc agree on every OID. */
struct timebase {
	int64_t boot_epoch_ns; /* CLOCK_REALTIME - CLOCK_BOOTTIME, measured at start */
};

void timebase_init(struct timebase *tb);
int64_t tb_epoch(const struct timebase *tb, uint64_t boot_ns);
int64_t tb_create_from_boot_ns(const struct timebase *tb, uint64_t start_boottime_ns);
int64_t tb_create_from_ticks(const struct timebase *tb, uint64_t ticks);

/* counter_src.procfs implementation; ctx is a struct timebase * */
int procfs_read(void *ctx, uint32_t pid, struct proc_info *out, uint32_t *ppid, int64_t *create, int64_t *pcreate,
		void (**release)(struct proc_info *));
/* start time (clock ticks) and ppid of a pid; 0 on success */
int procfs_stat(uint32_t pid, uint64_t *start_ticks, uint32_t *ppid, int *tty, char *comm, size_t commlen);
/* Split a NUL-separated blob into strings: argv[0] returned separately, rest joined by spaces. */
void split_args(const char *blob, size_t len, char **argv0, char **joined);
/* Split a NUL-separated blob into a string array (empty strings dropped). */
char **split_env(const char *blob, size_t len, int *n);

#endif
