#define _GNU_SOURCE
#include "output.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- file -------------------------------------------------------------------------------------------- */

/*
 * Naming (documented in docs/live.md): `-w FILE` writes exactly FILE; with `-G SECS` every file is
 * FILE.<epoch seconds>. `-w DIR/` writes DIR/<epoch seconds> (one file, or one per period with -G).
 */
static char *file_name(const struct output *o, int64_t now_s)
{
	const char *p = o->cfg.file;
	char *name;
	if (o->dirmode) {
		if (asprintf(&name, "%s%lld", p, (long long)now_s) < 0)
			die_oom();
	} else if (o->cfg.rotate_secs > 0) {
		if (asprintf(&name, "%s.%lld", p, (long long)now_s) < 0)
			die_oom();
	} else {
		name = xstrdup(p);
	}
	return name;
}

static int open_file(struct output *o, int64_t now_s, char *err, size_t errlen)
{
	char *name = file_name(o, now_s);
	int r = ocf_open(&o->ocf, name, o->cfg.sync, 0);
	if (r) {
		snprintf(err, errlen, "cannot write %s: %s", name, strerror(-r));
		free(name);
		return -1;
	}
	free(o->cur_name);
	o->cur_name = name;
	o->files_opened++;
	dbg("writing %s", name);
	return 0;
}

/* ---- socket ------------------------------------------------------------------------------------------ */

static void queue_clear(struct output *o, int count_dropped)
{
	while (o->qhead) {
		struct qitem *q = o->qhead;
		o->qhead = q->next;
		/* a partly sent stream frame is not a whole record lost... but its record is */
		if (count_dropped)
			o->sock_dropped_disconnected++;
		free(q);
	}
	o->qtail = NULL;
	o->qbytes = 0;
}

static void sock_disconnect(struct output *o, int64_t now_ns, int err)
{
	if (o->connected)
		logmsg("socket %s: %s; dropping records until reconnected (next try in %.1f s)", o->cfg.sock,
		       strerror(err), o->interval);
	if (o->sfd >= 0)
		close(o->sfd);
	o->sfd = -1;
	o->connected = 0;
	o->stalled = 0;
	o->err_ns = now_ns;
	queue_clear(o, 1);
}

static int sock_connect(struct output *o)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(o->cfg.sock) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, o->cfg.sock);
	int fd = socket(AF_UNIX, (o->cfg.sock_stream ? SOCK_STREAM : SOCK_SEQPACKET) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	o->sfd = fd;
	o->connected = 1;
	return 0;
}

/* Send as much of the queue as the socket takes without blocking. 0 ok, -errno on a broken socket. */
static int queue_flush(struct output *o)
{
	while (o->qhead) {
		struct qitem *q = o->qhead;
		ssize_t w = send(o->sfd, q->data + q->off, q->len - q->off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EMSGSIZE) {
				o->sock_msgs_oversize++;
				w = (ssize_t)(q->len - q->off);
			} else {
				return -errno;
			}
		}
		q->off += (size_t)w;
		if (q->off < q->len) /* stream mode: partial write */
			return 0;
		o->qhead = q->next;
		if (!o->qhead)
			o->qtail = NULL;
		o->qbytes -= q->len;
		free(q);
		o->sock_sent++;
	}
	return 0;
}

static void sock_write(struct output *o, const uint8_t *d, size_t n)
{
	if (!o->connected) {
		o->sock_dropped_disconnected++;
		return;
	}
	size_t framed = n + (o->cfg.sock_stream ? 4 : 0);
	if (o->qbytes + framed > o->cfg.queue_max) {
		/*
		 * The consumer applies back-pressure. Wait for it (records meanwhile wait in the kernel's
		 * ring buffer, which is larger), but at most 1 s: a consumer stuck for longer loses records,
		 * counted, until the queue has drained to half, so the collector stays responsive.
		 */
		int64_t deadline = now_mono_ns() + 1000000000LL;
		while (!o->stalled && o->qbytes + framed > o->cfg.queue_max && now_mono_ns() < deadline) {
			struct pollfd pfd = {.fd = o->sfd, .events = POLLOUT};
			poll(&pfd, 1, 50);
			int r = queue_flush(o);
			if (r) {
				sock_disconnect(o, now_mono_ns(), -r);
				o->sock_dropped_disconnected++;
				return;
			}
		}
		if (o->qbytes + framed > o->cfg.queue_max) {
			if (!o->stalled)
				logmsg("socket %s: consumer stalled for 1 s with %zu bytes queued; dropping records until it catches up",
				       o->cfg.sock, o->qbytes);
			o->stalled = 1;
			o->sock_dropped_full++;
			return;
		}
	}
	if (o->stalled && o->qbytes <= o->cfg.queue_max / 2)
		o->stalled = 0;
	struct qitem *q = xmalloc(sizeof(*q) + framed);
	q->next = NULL;
	q->len = framed;
	q->off = 0;
	uint8_t *p = q->data;
	if (o->cfg.sock_stream) {
		p[0] = (uint8_t)(n >> 24);
		p[1] = (uint8_t)(n >> 16);
		p[2] = (uint8_t)(n >> 8);
		p[3] = (uint8_t)n;
		p += 4;
	}
	memcpy(p, d, n);
	if (o->qtail)
		o->qtail->next = q;
	else
		o->qhead = q;
	o->qtail = q;
	o->qbytes += framed;
	int r = queue_flush(o);
	if (r)
		sock_disconnect(o, now_mono_ns(), -r);
}

/* ---- public ------------------------------------------------------------------------------------------ */

int output_open(struct output *o, const struct output_cfg *c, int64_t now_ns, char *err, size_t errlen)
{
	memset(o, 0, sizeof(*o));
	o->cfg = *c;
	o->sfd = -1;
	o->ocf.fd = -1;
	if (o->cfg.queue_max == 0)
		o->cfg.queue_max = 4u << 20;
	if (o->cfg.reconnect_min <= 0)
		o->cfg.reconnect_min = 10;
	o->interval = o->cfg.reconnect_min;
	int64_t now_s = now_ns / 1000000000LL;
	o->period_start_s = now_s;
	if (c->file) {
		size_t l = strlen(c->file);
		o->dirmode = l > 0 && c->file[l - 1] == '/';
		o->file_on = 1;
		if (open_file(o, now_s, err, errlen))
			return -1;
	}
	if (c->sock) {
		o->sock_on = 1;
		if (sock_connect(o)) {
			/* as sf-collector: not fatal; the header is lost and the reconnect path applies */
			logmsg("socket %s: connect: %s; retrying in %.1f s", c->sock, strerror(errno), o->interval);
			o->err_ns = now_mono_ns();
		}
	}
	return 0;
}

void output_write(struct output *o, const uint8_t *d, size_t n)
{
	o->records++;
	if (o->file_on && o->ocf.fd >= 0) {
		ocf_append(&o->ocf, d, n);
		o->file_records++;
	}
	if (o->sock_on)
		sock_write(o, d, n);
}

int output_tick(struct output *o, int64_t now_ns)
{
	int reset = 0;
	if (o->sock_on) {
		int64_t mono = now_mono_ns();
		if (o->connected && o->qhead) {
			int r = queue_flush(o);
			if (r)
				sock_disconnect(o, mono, -r);
		}
		if (o->stalled && o->qbytes <= o->cfg.queue_max / 2)
			o->stalled = 0;
		if (!o->connected && !o->giveup && (double)(mono - o->err_ns) >= o->interval * 1e9) {
			if (sock_connect(o) == 0) {
				logmsg("socket %s: reconnected (%llu records dropped while disconnected so far)", o->cfg.sock,
				       (unsigned long long)o->sock_dropped_disconnected);
				o->interval = o->cfg.reconnect_min;
				o->sock_reconnects++;
				reset = 1;
			} else {
				int e = errno;
				o->err_ns = mono;
				o->interval *= 2;
				if (o->interval > o->cfg.reconnect_min * 8) {
					logmsg("socket %s: connect: %s; giving up after the last back-off", o->cfg.sock, strerror(e));
					o->giveup = 1;
				} else {
					logmsg("socket %s: connect: %s; retrying in %.1f s", o->cfg.sock, strerror(e), o->interval);
				}
			}
		}
	}
	if (o->cfg.rotate_secs > 0) {
		int64_t now_s = now_ns / 1000000000LL;
		if (now_s - o->period_start_s >= o->cfg.rotate_secs) {
			o->period_start_s = now_s;
			if (o->file_on) {
				char err[512];
				ocf_close(&o->ocf);
				if (open_file(o, now_s, err, sizeof(err)))
					logmsg("rotation: %s", err);
			}
			reset = 1;
		}
	}
	return reset;
}

const char *output_filename(const struct output *o)
{
	return o->file_on && o->cur_name ? o->cur_name : "";
}

int output_gave_up(const struct output *o)
{
	return o->giveup;
}

int output_backlog(const struct output *o)
{
	return o->qhead != NULL;
}

void output_close(struct output *o)
{
	if (o->file_on && o->ocf.fd >= 0)
		ocf_close(&o->ocf);
	if (o->sock_on && o->connected) {
		/* give a slow consumer up to 5 s to take what is queued */
		int64_t deadline = now_mono_ns() + 5000000000LL;
		while (o->qhead && now_mono_ns() < deadline) {
			struct pollfd p = {.fd = o->sfd, .events = POLLOUT};
			poll(&p, 1, 100);
			if (queue_flush(o)) {
				sock_disconnect(o, now_mono_ns(), EPIPE);
				break;
			}
		}
		if (o->qhead) {
			logmsg("socket %s: consumer too slow at shutdown; dropping %zu queued bytes", o->cfg.sock, o->qbytes);
			queue_clear(o, 1);
		}
	}
	if (o->sfd >= 0)
		close(o->sfd);
	o->sfd = -1;
	o->connected = 0;
	free(o->cur_name);
	o->cur_name = NULL;
}
