/*
 * pcapcapture: live packet capture into pcap files with libpcap, for Node.js (N-API).
 *
 * One capture runs on a libuv worker thread (napi async work), so the JS thread never waits for
 * packets. It stops at the first of four controls, checked where they happen: a packet count and
 * a byte count (the pcap file's size: its 24-byte header plus, per packet, a 16-byte record
 * header and the captured bytes) after each packet; a duration since the start and an idle
 * timeout since the last packet (or the start) as poll() deadlines. stop() ends it from JS.
 *
 *   start(options, callback) -> handle   capture until a control is reached; callback(err, result)
 *   stop(handle)                          end a running capture (reason "stopped"); no-op once done
 *   checkFilter(filter, linktype, snap)   null, or why libpcap cannot compile the filter
 *   devices()                             [{ name, loopback, up }] as libpcap lists them
 *
 * Errors passed to the callback have `code`: ENODEV (no such interface), EPERM (not allowed to
 * capture), EFILTER (the filter does not compile for the interface), EPCAP (any other libpcap
 * failure), EOPEN (the output file cannot be written).
 */
#include <node_api.h>
#include <pcap/pcap.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Longest wait between checks of stop(): how late stop() may take effect. */
#define STOP_POLL_MS 50
/* Kernel buffer for the capture: bursts on a busy interface wait here, not in drops. */
#define BUFFER_BYTES (8 * 1024 * 1024)

typedef struct {
  /* inputs */
  char *device;
  char *filter;
  char *path;
  int snaplen;
  int64_t max_packets; /* 0: no limit */
  int64_t max_bytes;   /* 0: no limit */
  int64_t duration_ms; /* 0: no limit */
  int64_t timeout_ms;  /* 0: no limit */
  /* run state */
  atomic_int stop;
  int done;
  pcap_t *p;
  pcap_dumper_t *d;
  int64_t packets;
  int64_t bytes;
  int64_t last_ms;
  struct timeval first_ts, last_ts;
  const char *reason;
  const char *err_code;
  char err[PCAP_ERRBUF_SIZE + 512];
  unsigned received, dropped, if_dropped;
  int linktype;
  napi_async_work work;
  napi_ref callback;
  napi_ref self;
} job_t;

static int64_t mono_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes) {
  job_t *j = (job_t *)user;
  if (j->reason) return; /* a control was reached earlier in this dispatch */
  pcap_dump((u_char *)j->d, h, bytes);
  if (j->packets == 0) j->first_ts = h->ts;
  j->last_ts = h->ts;
  j->packets++;
  j->bytes += 16 + (int64_t)h->caplen;
  j->last_ms = mono_ms();
  if (j->max_packets > 0 && j->packets >= j->max_packets) j->reason = "packets";
  else if (j->max_bytes > 0 && j->bytes >= j->max_bytes) j->reason = "bytes";
  if (j->reason) pcap_breakloop(j->p);
}

static void fail(job_t *j, const char *code, const char *what, const char *detail) {
  j->err_code = code;
  snprintf(j->err, sizeof j->err, "%s%s%s", what, detail && *detail ? ": " : "", detail ? detail : "");
  j->reason = "error";
}

/* Open and configure the handle; on failure j->err is set and the handle closed. */
static int open_capture(job_t *j) {
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  j->p = pcap_create(j->device, errbuf);
  if (!j->p) {
    fail(j, "EPCAP", "pcap_create", errbuf);
    return -1;
  }
  pcap_set_snaplen(j->p, j->snaplen);
  pcap_set_promisc(j->p, 0);
  pcap_set_immediate_mode(j->p, 1);
  pcap_set_buffer_size(j->p, BUFFER_BYTES);
  int rc = pcap_activate(j->p);
  if (rc < 0) {
    const char *code = rc == PCAP_ERROR_NO_SUCH_DEVICE ? "ENODEV" : rc == PCAP_ERROR_PERM_DENIED ? "EPERM" : "EPCAP";
    char detail[PCAP_ERRBUF_SIZE + 64];
    snprintf(detail, sizeof detail, "%s%s%s", pcap_statustostr(rc), *pcap_geterr(j->p) ? ": " : "", pcap_geterr(j->p));
    fail(j, code, j->device, detail);
    pcap_close(j->p);
    j->p = NULL;
    return -1;
  }
  j->linktype = pcap_datalink(j->p);
  if (j->filter && *j->filter) {
    struct bpf_program prog;
    if (pcap_compile(j->p, &prog, j->filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
      fail(j, "EFILTER", "bpf", pcap_geterr(j->p));
      pcap_close(j->p);
      j->p = NULL;
      return -1;
    }
    rc = pcap_setfilter(j->p, &prog);
    pcap_freecode(&prog);
    if (rc < 0) {
      fail(j, "EFILTER", "bpf", pcap_geterr(j->p));
      pcap_close(j->p);
      j->p = NULL;
      return -1;
    }
  }
  if (pcap_setnonblock(j->p, 1, errbuf) < 0) {
    fail(j, "EPCAP", "pcap_setnonblock", errbuf);
    pcap_close(j->p);
    j->p = NULL;
    return -1;
  }
  j->d = pcap_dump_open(j->p, j->path);
  if (!j->d) {
    /* libpcap's message names the file */
    fail(j, "EOPEN", "cannot write the capture", pcap_geterr(j->p));
    pcap_close(j->p);
    j->p = NULL;
    return -1;
  }
  return 0;
}

static void execute(napi_env env, void *data) {
  job_t *j = (job_t *)data;
  if (open_capture(j) < 0) return;
  j->bytes = 24;
  int fd = pcap_get_selectable_fd(j->p);
  int64_t start = mono_ms();
  j->last_ms = start;
  while (!j->reason) {
    if (atomic_load(&j->stop)) {
      j->reason = "stopped";
      break;
    }
    int64_t now = mono_ms();
    int64_t wait = STOP_POLL_MS;
    if (j->duration_ms > 0) {
      int64_t left = start + j->duration_ms - now;
      if (left <= 0) {
        j->reason = "duration";
        break;
      }
      if (left < wait) wait = left;
    }
    if (j->timeout_ms > 0) {
      int64_t left = j->last_ms + j->timeout_ms - now;
      if (left <= 0) {
        j->reason = "timeout";
        break;
      }
      if (left < wait) wait = left;
    }
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int r = poll(&pfd, 1, (int)wait);
    if (r < 0) {
      if (errno == EINTR) continue;
      fail(j, "EPCAP", "poll", strerror(errno));
      break;
    }
    if (r == 0) continue;
    int n = pcap_dispatch(j->p, -1, on_packet, (u_char *)j);
    if (n == PCAP_ERROR) {
      fail(j, "EPCAP", "pcap_dispatch", pcap_geterr(j->p));
      break;
    }
  }
  struct pcap_stat st;
  if (pcap_stats(j->p, &st) == 0) {
    j->received = st.ps_recv;
    j->dropped = st.ps_drop;
    j->if_dropped = st.ps_ifdrop;
  }
  pcap_dump_flush(j->d);
  pcap_dump_close(j->d);
  j->d = NULL;
  pcap_close(j->p);
  j->p = NULL;
}

static void set_num(napi_env env, napi_value obj, const char *key, double v) {
  napi_value x;
  napi_create_double(env, v, &x);
  napi_set_named_property(env, obj, key, x);
}

static void set_str(napi_env env, napi_value obj, const char *key, const char *v) {
  napi_value x;
  napi_create_string_utf8(env, v, NAPI_AUTO_LENGTH, &x);
  napi_set_named_property(env, obj, key, x);
}

static void complete(napi_env env, napi_status status, void *data) {
  job_t *j = (job_t *)data;
  j->done = 1;
  napi_value cb, global, args[2];
  napi_get_reference_value(env, j->callback, &cb);
  napi_get_global(env, &global);
  napi_get_null(env, &args[0]);
  napi_get_undefined(env, &args[1]);
  if (j->err_code && j->packets == 0 && j->bytes == 0) {
    /* it never started: an error, no result */
    napi_value code, msg;
    napi_create_string_utf8(env, j->err_code, NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, j->err, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, code, msg, &args[0]);
  } else {
    napi_create_object(env, &args[1]);
    set_num(env, args[1], "packets", (double)j->packets);
    set_num(env, args[1], "bytes", (double)j->bytes);
    set_str(env, args[1], "reason", j->reason ? j->reason : "stopped");
    if (j->err_code) set_str(env, args[1], "error", j->err);
    set_num(env, args[1], "received", j->received);
    set_num(env, args[1], "dropped", j->dropped);
    set_num(env, args[1], "ifDropped", j->if_dropped);
    set_num(env, args[1], "linktype", j->linktype);
    set_num(env, args[1], "snaplen", j->snaplen);
    if (j->packets > 0) {
      set_num(env, args[1], "firstTs", (double)j->first_ts.tv_sec * 1e3 + j->first_ts.tv_usec / 1e3);
      set_num(env, args[1], "lastTs", (double)j->last_ts.tv_sec * 1e3 + j->last_ts.tv_usec / 1e3);
    }
  }
  napi_value ignored;
  napi_call_function(env, global, cb, 2, args, &ignored);
  napi_delete_reference(env, j->callback);
  napi_delete_async_work(env, j->work);
  /* the handle may now be collected; the job goes with it (finalize_job) */
  napi_delete_reference(env, j->self);
}

static void finalize_job(napi_env env, void *data, void *hint) {
  job_t *j = (job_t *)data;
  free(j->device);
  free(j->filter);
  free(j->path);
  free(j);
}

static char *get_string(napi_env env, napi_value obj, const char *key, int required) {
  napi_value v;
  napi_valuetype t;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return NULL;
  napi_typeof(env, v, &t);
  if (t != napi_string) {
    if (required) napi_throw_type_error(env, NULL, key);
    return NULL;
  }
  size_t len;
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  char *s = malloc(len + 1);
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static int64_t get_int(napi_env env, napi_value obj, const char *key, int64_t dflt) {
  napi_value v;
  napi_valuetype t;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return dflt;
  napi_typeof(env, v, &t);
  if (t != napi_number) return dflt;
  int64_t x;
  napi_get_value_int64(env, v, &x);
  return x;
}

static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t0, t1;
  if (argc < 2 || napi_typeof(env, argv[0], &t0) != napi_ok || t0 != napi_object || napi_typeof(env, argv[1], &t1) != napi_ok || t1 != napi_function) {
    napi_throw_type_error(env, NULL, "start(options, callback)");
    return NULL;
  }
  job_t *j = calloc(1, sizeof *j);
  j->device = get_string(env, argv[0], "device", 1);
  j->path = get_string(env, argv[0], "path", 1);
  j->filter = get_string(env, argv[0], "filter", 0);
  if (!j->device || !j->path) {
    free(j->device);
    free(j->path);
    free(j->filter);
    free(j);
    return NULL;
  }
  j->snaplen = (int)get_int(env, argv[0], "snaplen", 262144);
  j->max_packets = get_int(env, argv[0], "packets", 0);
  j->max_bytes = get_int(env, argv[0], "bytes", 0);
  j->duration_ms = get_int(env, argv[0], "durationMs", 0);
  j->timeout_ms = get_int(env, argv[0], "timeoutMs", 0);
  atomic_init(&j->stop, 0);
  napi_value handle, name;
  napi_create_external(env, j, finalize_job, NULL, &handle);
  napi_create_reference(env, handle, 1, &j->self);
  napi_create_reference(env, argv[1], 1, &j->callback);
  napi_create_string_utf8(env, "pcapcapture", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return handle;
}

static napi_value stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *data = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok || !data) {
    napi_throw_type_error(env, NULL, "stop(handle)");
    return NULL;
  }
  job_t *j = (job_t *)data;
  if (!j->done) atomic_store(&j->stop, 1);
  return NULL;
}

static napi_value check_filter(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], out;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  size_t len;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "checkFilter(filter, linktype, snaplen)");
    return NULL;
  }
  char *filter = malloc(len + 1);
  napi_get_value_string_utf8(env, argv[0], filter, len + 1, &len);
  int32_t linktype = DLT_EN10MB, snaplen = 262144;
  if (argc > 1) napi_get_value_int32(env, argv[1], &linktype);
  if (argc > 2) napi_get_value_int32(env, argv[2], &snaplen);
  pcap_t *p = pcap_open_dead(linktype, snaplen);
  struct bpf_program prog;
  if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
    napi_create_string_utf8(env, pcap_geterr(p), NAPI_AUTO_LENGTH, &out);
  } else {
    pcap_freecode(&prog);
    napi_get_null(env, &out);
  }
  pcap_close(p);
  free(filter);
  return out;
}

static napi_value devices(napi_env env, napi_callback_info info) {
  pcap_if_t *all = NULL;
  char errbuf[PCAP_ERRBUF_SIZE];
  if (pcap_findalldevs(&all, errbuf) < 0) {
    napi_throw_error(env, "EPCAP", errbuf);
    return NULL;
  }
  napi_value arr;
  napi_create_array(env, &arr);
  uint32_t i = 0;
  for (pcap_if_t *d = all; d; d = d->next) {
    napi_value o, b;
    napi_create_object(env, &o);
    set_str(env, o, "name", d->name);
    napi_get_boolean(env, (d->flags & PCAP_IF_LOOPBACK) != 0, &b);
    napi_set_named_property(env, o, "loopback", b);
    napi_get_boolean(env, (d->flags & PCAP_IF_UP) != 0, &b);
    napi_set_named_property(env, o, "up", b);
    napi_set_element(env, arr, i++, o);
  }
  pcap_freealldevs(all);
  return arr;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"start", NULL, start, NULL, NULL, NULL, napi_default, NULL},
      {"stop", NULL, stop, NULL, NULL, NULL, napi_default, NULL},
      {"checkFilter", NULL, check_filter, NULL, NULL, NULL, napi_default, NULL},
      {"devices", NULL, devices, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_value v;
  napi_create_string_utf8(env, pcap_lib_version(), NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, exports, "libpcapVersion", v);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
