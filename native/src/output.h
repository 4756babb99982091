/*
 * Record sinks: the OCF file (-w, rotation with -G) and the UNIX socket stream (-u). Every datum goes
 * to every configured sink. The socket speaks sf-collector's protocol: AF_UNIX SOCK_SEQPACKET, the
 * collector connects, one Avro-binary SysFlow datum per message, an SFHeader first after every
 * (re)connect. --sock-stream uses SOCK_STREAM with a 4-byte big-endian length before each datum.
 */
#ifndef SFC_OUTPUT_H
#define SFC_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "ocf.h"

struct output_cfg {
	const char *file;        /* -w: file, or directory when it ends in '/' */
	int rotate_secs;         /* -G: 0 = no rotation (and no periodic socket header) */
	const char *sock;        /* -u */
	int sock_stream;         /* --sock-stream */
	double reconnect_min;    /* first reconnect delay in seconds (sf-collector: 10); doubles up to 8x */
	size_t queue_max;        /* bytes buffered while the consumer is slow; beyond that records drop */
	const uint8_t *sync;     /* fixed OCF sync marker (tests) or NULL */
};

struct qitem {
	struct qitem *next;
	size_t len, off;
	uint8_t data[];
};

struct output {
	struct output_cfg cfg;
	/* file */
	int file_on;
	int dirmode;
	struct ocf ocf;
	char *cur_name;
	int64_t period_start_s;
	uint64_t files_opened;
	uint64_t file_records;
	/* socket */
	int sock_on;
	int sfd;
	int connected;
	int giveup;
	int64_t err_ns;
	double interval;
	struct qitem *qhead, *qtail;
	size_t qbytes;
	int stalled;             /* the queue stayed full for a whole wait: drop until it drains */
	uint64_t sock_sent;
	uint64_t sock_dropped_disconnected;
	uint64_t sock_dropped_full;
	uint64_t sock_reconnects;
	uint64_t sock_msgs_oversize;
	/* all */
	uint64_t records;
};

int output_open(struct output *o, const struct output_cfg *c, int64_t now_ns, char *err, size_t errlen);
void output_write(struct output *o, const uint8_t *d, size_t n);
/* Periodic work. Returns 1 when a fresh header (and entity re-emission) is due: the file rotated, the
 * socket reconnected, or the -G period passed. */
int output_tick(struct output *o, int64_t now_ns);
/* Name of the file being written ("" without -w): the SFHeader filename. */
const char *output_filename(const struct output *o);
/* The socket consumer stayed away through the whole back-off: the collector should stop. */
int output_gave_up(const struct output *o);
int output_backlog(const struct output *o);
void output_close(struct output *o);

#endif
