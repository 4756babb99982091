/*
 * unixpacket: AF_UNIX SOCK_SEQPACKET sockets for Node.js (N-API + libuv).
 *
 * Node's `net` cannot create or accept SOCK_SEQPACKET sockets. This addon gives sfprocessor's socket
 * driver what it needs, on the JS thread, with non-blocking syscalls only:
 *
 *   listen()      socket + fchmod + bind + chmod + listen: the socket file is never wider than the
 *                 requested mode, not even between bind and chmod (SEQPACKET or STREAM);
 *   probe()       is anyone listening on an existing socket file? (stale-file detection);
 *   accept()      one non-blocking accept; with a Poller, one-at-a-time accepts driven by libuv;
 *   PacketReader  event-driven recvmsg batches (many messages per JS call), true message lengths via
 *                 MSG_TRUNC so an oversize message is reported and consumed, never silently cut;
 *                 pause()/resume() stop and restart the uv_poll, so while the pipeline is busy the
 *                 data waits in the kernel and the sender blocks (back-pressure);
 *   connect(), send(), sendBatch()  a non-blocking client, for tests and tools.
 *
 * Errors thrown or passed to callbacks are Error objects with `code` (e.g. "ECONNREFUSED"),
 * `errno` (negative, as in Node), `syscall` and, where there is one, `path`.
 */
#include <node_api.h>
#include <uv.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* One JS callback carries at most this many messages or (about) this many payload bytes. */
#define BATCH_MESSAGES 1024
#define BATCH_BYTES (256 * 1024)
/* Messages per sendmmsg() call. */
#define SEND_CHUNK 64
/* Upper bound for maxMessage: the arena is allocated once per connection. */
#define MAX_MESSAGE_LIMIT (64 * 1024 * 1024)

/* ------------------------------------------------------------------------------------------------ */
/* Errors                                                                                            */

static napi_value make_error(napi_env env, const char *code, int neg_errno, const char *message,
                             const char *syscall, const char *path) {
  napi_value ecode, emsg, error, v;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &ecode);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &emsg);
  napi_create_error(env, ecode, emsg, &error);
  napi_create_int32(env, neg_errno, &v);
  napi_set_named_property(env, error, "errno", v);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, error, "syscall", v);
  if (path) {
    napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, error, "path", v);
  }
  return error;
}

/* An Error for a libuv status (negative errno on Unix). */
static napi_value uv_error(napi_env env, int status, const char *syscall, const char *path) {
  char msg[PATH_MAX + 128];
  if (path) snprintf(msg, sizeof msg, "%s %s: %s", syscall, path, uv_strerror(status));
  else snprintf(msg, sizeof msg, "%s: %s", syscall, uv_strerror(status));
  return make_error(env, uv_err_name(status), status, msg, syscall, path);
}

static napi_value errno_error(napi_env env, int err, const char *syscall, const char *path) {
  return uv_error(env, uv_translate_sys_error(err), syscall, path);
}

static void throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  napi_throw(env, errno_error(env, err, syscall, path));
}

/* A failed napi_* call usually left an exception pending; if not, raise a generic one. */
static void throw_status(napi_env env, const char *what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, "EINVAL", what);
}

#define NAPI_OK(env, call, what)   \
  do {                             \
    if ((call) != napi_ok) {       \
      throw_status((env), (what)); \
      return NULL;                 \
    }                              \
  } while (0)

/* ------------------------------------------------------------------------------------------------ */
/* Argument helpers                                                                                  */

static int arg_int(napi_env env, napi_value v, int min, int max, const char *name, int *out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number || napi_get_value_double(env, v, &d) != napi_ok ||
      d != (double)(int64_t)d || d < min || d > max) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be an integer in [%d, %d]", name, min, max);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
    return -1;
  }
  *out = (int)d;
  return 0;
}

static int arg_fd(napi_env env, napi_value v, int *out) { return arg_int(env, v, 0, INT_MAX, "fd", out); }

/* A socket path that fits sockaddr_un (no abstract names: the driver manages a file). */
static int arg_addr(napi_env env, napi_value v, struct sockaddr_un *addr, socklen_t *len) {
  size_t n = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "path must be a string");
    return -1;
  }
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (n == 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "socket path is empty");
    return -1;
  }
  if (n >= sizeof addr->sun_path) {
    char msg[160];
    snprintf(msg, sizeof msg, "socket path is %zu bytes long; Unix socket paths are limited to %zu bytes", n,
             sizeof addr->sun_path - 1);
    napi_throw(env, make_error(env, "ENAMETOOLONG", -ENAMETOOLONG, msg, "bind", NULL));
    return -1;
  }
  napi_get_value_string_utf8(env, v, addr->sun_path, sizeof addr->sun_path, &n);
  if (strlen(addr->sun_path) != n) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "socket path contains a NUL byte");
    return -1;
  }
  *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
  return 0;
}

/* "seqpacket" or "stream". */
static int arg_type(napi_env env, napi_value v, int *type) {
  char s[16];
  size_t n = 0;
  if (napi_get_value_string_utf8(env, v, s, sizeof s, &n) == napi_ok) {
    if (strcmp(s, "seqpacket") == 0) {
      *type = SOCK_SEQPACKET;
      return 0;
    }
    if (strcmp(s, "stream") == 0) {
      *type = SOCK_STREAM;
      return 0;
    }
  }
  napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "socket type must be 'seqpacket' or 'stream'");
  return -1;
}

static int arg_bytes(napi_env env, napi_value v, const uint8_t **data, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type t;
  void *p;
  napi_value ab;
  size_t off;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &t, len, &p, &ab, &off) != napi_ok || t != napi_uint8_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "message must be a Buffer or Uint8Array");
    return -1;
  }
  *data = p;
  return 0;
}

static napi_value js_int(napi_env env, int64_t v) {
  napi_value r;
  napi_create_int64(env, v, &r);
  return r;
}

static napi_value js_bool(napi_env env, bool v) {
  napi_value r;
  napi_get_boolean(env, v, &r);
  return r;
}

static napi_value js_undefined(napi_env env) {
  napi_value r;
  napi_get_undefined(env, &r);
  return r;
}

/* ------------------------------------------------------------------------------------------------ */
/* Plain functions                                                                                   */

/* listen(path, type, backlog, mode) → listening fd (non-blocking, close-on-exec). */
static napi_value js_listen(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  struct sockaddr_un addr;
  socklen_t alen;
  int type, backlog, mode;
  NAPI_OK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL), "listen: arguments");
  if (argc < 4 || arg_addr(env, argv[0], &addr, &alen) || arg_type(env, argv[1], &type) ||
      arg_int(env, argv[2], 1, 65535, "backlog", &backlog) || arg_int(env, argv[3], 0, 07777, "mode", &mode))
    return NULL;
  int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, errno, "socket", NULL);
    return NULL;
  }
  /* Linux creates the socket file with the socket inode's mode minus the umask, so after this the
   * file is never more permissive than `mode`; chmod below then sets exactly `mode`. If fchmod is
   * refused, chmod still applies the mode, just a moment later. */
  (void)fchmod(fd, (mode_t)mode);
  if (bind(fd, (struct sockaddr *)&addr, alen) < 0) {
    int e = errno;
    close(fd);
    throw_errno(env, e, "bind", addr.sun_path);
    return NULL;
  }
  if (chmod(addr.sun_path, (mode_t)mode) < 0 || listen(fd, backlog) < 0) {
    int e = errno;
    unlink(addr.sun_path);
    close(fd);
    throw_errno(env, e, "listen", addr.sun_path);
    return NULL;
  }
  return js_int(env, fd);
}

/* probe(path, type) → true if a process is listening on the socket file, false if it is stale. */
static napi_value js_probe(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  struct sockaddr_un addr;
  socklen_t alen;
  int type;
  NAPI_OK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL), "probe: arguments");
  if (argc < 2 || arg_addr(env, argv[0], &addr, &alen) || arg_type(env, argv[1], &type)) return NULL;
  int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, errno, "socket", NULL);
    return NULL;
  }
  int r = connect(fd, (struct sockaddr *)&addr, alen);
  int e = errno;
  close(fd);
  if (r == 0) return js_bool(env, true);
  switch (e) {
    case ECONNREFUSED: return js_bool(env, false);  /* a file without a listener */
    case EAGAIN:                                    /* a listener whose backlog is full */
    case EPROTOTYPE:                                /* a listener of the other socket type */
      return js_bool(env, true);
    default:
      throw_errno(env, e, "connect", addr.sun_path);
      return NULL;
  }
}

/* connect(path, type, sndbuf) → connected fd (non-blocking). EAGAIN: the listener's backlog is full. */
static napi_value js_connect(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  struct sockaddr_un addr;
  socklen_t alen;
  int type, sndbuf = 0;
  NAPI_OK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL), "connect: arguments");
  if (argc < 2 || arg_addr(env, argv[0], &addr, &alen) || arg_type(env, argv[1], &type)) return NULL;
  if (argc >= 3 && arg_int(env, argv[2], 0, INT_MAX / 2, "sndbuf", &sndbuf)) return NULL;
  int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, errno, "socket", NULL);
    return NULL;
  }
  /* A SEQPACKET message must fit the sender's buffer (else EMSGSIZE); tests raise it for big ones. */
  if (sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) < 0) {
    int e = errno;
    close(fd);
    throw_errno(env, e, "setsockopt", NULL);
    return NULL;
  }
  if (connect(fd, (struct sockaddr *)&addr, alen) < 0) {
    int e = errno;
    close(fd);
    throw_errno(env, e, "connect", addr.sun_path);
    return NULL;
  }
  return js_int(env, fd);
}

/* accept(fd) → new connection fd (non-blocking, close-on-exec), or -1 when none is pending. */
static napi_value js_accept(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int fd;
  NAPI_OK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL), "accept: arguments");
  if (argc < 1 || arg_fd(env, argv[0], &fd)) return NULL;
  for (;;) {
    int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c >= 0) return js_int(env, c);
    if (errno == EINTR) continue;
    /* ECONNABORTED: the peer gave up while queued; the next readiness event brings the next one. */
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED) return js_int(env, -1);
    throw_errno(env, errno, "accept", NULL);
    return NULL;
  }
}

/* send(fd, message) → true when sent, false when the socket buffer is full (wait for writable). */
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int fd;
  const uint8_t *data;
  size_t len;
  NAPI_OK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL), "send: arguments");
  if (argc < 2 || arg_fd(env, argv[0], &fd) || arg_bytes(env, argv[1], &data, &len)) return NULL;
  for (;;) {
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return js_bool(env, true);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return js_bool(env, false);
    throw_errno(env, errno, "send", NULL);
    return NULL;
  }
}

/*
 * sendBatch(fd, messages, start) → how many of messages[start..] were sent (one message each) before
 * the socket buffer filled up. An error after some messages were sent is reported by the next call.
 * Meant for SEQPACKET; on a stream socket a partially written message would be lost, so it is refused.
 */
static napi_value js_send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int fd, start, type = 0;
  uint32_t total;
  bool is_array = false;
  socklen_t tlen = sizeof type;
  NAPI_OK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL), "sendBatch: arguments");
  if (argc < 3 || arg_fd(env, argv[0], &fd)) return NULL;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "messages must be an array");
    return NULL;
  }
  NAPI_OK(env, napi_get_array_length(env, argv[1], &total), "sendBatch: length");
  if (arg_int(env, argv[2], 0, (int)(total > INT_MAX ? INT_MAX : total), "start", &start)) return NULL;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0) {
    throw_errno(env, errno, "getsockopt", NULL);
    return NULL;
  }
  if (type != SOCK_SEQPACKET) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "sendBatch needs a SEQPACKET socket");
    return NULL;
  }
  struct mmsghdr msgs[SEND_CHUNK];
  struct iovec iov[SEND_CHUNK];
  uint32_t sent = 0, pos = (uint32_t)start;
  while (pos < total) {
    unsigned k = 0;
    for (; k < SEND_CHUNK && pos + k < total; k++) {
      napi_value el;
      const uint8_t *data;
      size_t len;
      NAPI_OK(env, napi_get_element(env, argv[1], pos + k, &el), "sendBatch: element");
      if (arg_bytes(env, el, &data, &len)) return NULL;
      iov[k].iov_base = (void *)data;
      iov[k].iov_len = len;
      memset(&msgs[k], 0, sizeof msgs[k]);
      msgs[k].msg_hdr.msg_iov = &iov[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
    }
    int n = sendmmsg(fd, msgs, k, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK || sent > 0) break;
      throw_errno(env, errno, "sendmmsg", NULL);
      return NULL;
    }
    sent += (uint32_t)n;
    pos += (uint32_t)n;
    if ((unsigned)n < k) break;
  }
  return js_int(env, sent);
}

/* close(fd) for fds not owned by a PacketReader (listeners, clients). */
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int fd;
  NAPI_OK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL), "close: arguments");
  if (argc < 1 || arg_fd(env, argv[0], &fd)) return NULL;
  if (close(fd) < 0 && errno != EINTR) {
    throw_errno(env, errno, "close", NULL);
    return NULL;
  }
  return js_undefined(env);
}

/* ------------------------------------------------------------------------------------------------ */
/* Poller and PacketReader: a uv_poll_t bound to a JS object                                         */

enum { KIND_POLLER, KIND_READER };

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref self; /* strong while open: libuv may call back, so the object must not be collected */
  napi_ref cb;
  napi_async_context actx;
  int kind;
  int fd;
  bool open;
  bool polling;
  bool handle_closed;
  bool finalized;
  bool ended; /* reader: EOF or error delivered */
  /* reader only */
  size_t max_message;
  size_t arena_size;
  char *arena;
  int32_t *lengths;
} handle_t;

static void handle_free(handle_t *h) {
  free(h->arena);
  free(h->lengths);
  free(h);
}

static void on_handle_closed(uv_handle_t *uvh) {
  handle_t *h = uvh->data;
  h->handle_closed = true;
  if (h->actx) {
    napi_async_destroy(h->env, h->actx);
    h->actx = NULL;
  }
  if (h->finalized) handle_free(h);
}

/* Stop polling for good; the reader also closes its fd. Safe inside the handle's own callback. */
static void handle_close(handle_t *h) {
  if (!h->open) return;
  h->open = false;
  h->polling = false;
  uv_close((uv_handle_t *)&h->poll, on_handle_closed); /* also removes the fd from epoll */
  if (h->kind == KIND_READER && h->fd >= 0) {
    close(h->fd);
    h->fd = -1;
  }
  if (h->cb) {
    napi_delete_reference(h->env, h->cb); /* breaks the object ↔ callback cycle */
    h->cb = NULL;
  }
  uint32_t count;
  if (h->self) napi_reference_unref(h->env, h->self, &count);
}

static void handle_finalize(napi_env env, void *data, void *hint) {
  handle_t *h = data;
  h->finalized = true;
  if (h->self) {
    napi_delete_reference(env, h->self);
    h->self = NULL;
  }
  if (h->open) {
    /* Only at environment teardown (open handles hold a strong reference). */
    if (h->actx) {
      napi_async_destroy(env, h->actx);
      h->actx = NULL;
    }
    handle_close(h);
    return; /* freed by on_handle_closed */
  }
  if (h->handle_closed) handle_free(h);
}

/* Call the JS callback from a libuv callback: async context, microtasks, uncaught exceptions. */
static void handle_call(handle_t *h, size_t argc, napi_value *argv) {
  napi_env env = h->env;
  napi_value cb, recv = NULL;
  if (!h->cb || napi_get_reference_value(env, h->cb, &cb) != napi_ok || cb == NULL) return;
  if (h->self) napi_get_reference_value(env, h->self, &recv);
  if (recv == NULL) napi_get_undefined(env, &recv);
  if (napi_make_callback(env, h->actx, recv, cb, argc, argv, NULL) == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
}

static handle_t *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *p = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok || napi_unwrap(env, self, &p) != napi_ok) {
    throw_status(env, "not a unixpacket handle");
    return NULL;
  }
  return p;
}

static handle_t *handle_new(napi_env env, napi_value self, int kind, int fd, napi_value cb, const char *name) {
  napi_valuetype t;
  uv_loop_t *loop;
  if (napi_typeof(env, cb, &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "callback must be a function");
    return NULL;
  }
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    throw_status(env, "no event loop");
    return NULL;
  }
  handle_t *h = calloc(1, sizeof *h);
  if (!h) {
    throw_errno(env, ENOMEM, "calloc", NULL);
    return NULL;
  }
  int r = uv_poll_init(loop, &h->poll, fd);
  if (r < 0) {
    free(h);
    napi_throw(env, uv_error(env, r, "uv_poll_init", NULL));
    return NULL;
  }
  h->poll.data = h;
  h->env = env;
  h->kind = kind;
  h->fd = fd;
  h->open = true;
  napi_value rname;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &rname);
  if (napi_create_reference(env, cb, 1, &h->cb) != napi_ok || napi_async_init(env, self, rname, &h->actx) != napi_ok ||
      napi_create_reference(env, self, 1, &h->self) != napi_ok ||
      napi_wrap(env, self, h, handle_finalize, NULL, NULL) != napi_ok) {
    /* Not wrapped: no finalizer will run for h, so on_handle_closed frees it. */
    if (h->self) {
      napi_delete_reference(env, h->self);
      h->self = NULL;
    }
    h->finalized = true;
    handle_close(h);
    throw_status(env, "cannot set up handle");
    return NULL;
  }
  return h;
}

/* ---- Poller(fd, cb(err, events)): readiness of any fd; events 1 = readable, 2 = writable ---- */

static void poller_on_poll(uv_poll_t *p, int status, int events) {
  handle_t *h = p->data;
  if (!h->open) return;
  napi_env env = h->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value argv[2];
  if (status < 0) {
    argv[0] = uv_error(env, status, "poll", NULL);
  } else {
    napi_get_null(env, &argv[0]);
  }
  int ev = ((events & UV_READABLE) ? 1 : 0) | ((events & UV_WRITABLE) ? 2 : 0) | ((events & UV_DISCONNECT) ? 4 : 0);
  argv[1] = js_int(env, ev);
  handle_call(h, 2, argv);
  napi_close_handle_scope(env, scope);
}

static napi_value poller_new(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self;
  int fd;
  NAPI_OK(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL), "Poller: arguments");
  if (argc < 2 || arg_fd(env, argv[0], &fd)) return NULL;
  if (!handle_new(env, self, KIND_POLLER, fd, argv[1], "unixpacket.Poller")) return NULL;
  return self;
}

static napi_value poller_start(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int ev;
  handle_t *h = unwrap(env, info, &argc, argv);
  if (!h) return NULL;
  if (argc < 1 || arg_int(env, argv[0], 1, 3, "events", &ev)) return NULL;
  if (!h->open) {
    napi_throw_error(env, "ERR_SOCKET_CLOSED", "Poller is closed");
    return NULL;
  }
  int r = uv_poll_start(&h->poll, ((ev & 1) ? UV_READABLE : 0) | ((ev & 2) ? UV_WRITABLE : 0), poller_on_poll);
  if (r < 0) {
    napi_throw(env, uv_error(env, r, "uv_poll_start", NULL));
    return NULL;
  }
  h->polling = true;
  return js_undefined(env);
}

/* ---- PacketReader(fd, maxMessage, cb(data, lengths, end)) ---- */

/*
 * recv() returned 0: end of stream, or an empty message? (SEQPACKET allows empty messages.) It is an
 * empty message if the peer is still there, or if data is still queued behind it. Only empty
 * messages right before the peer's close are indistinguishable from the end (they are not data).
 */
static bool at_eof(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP, .revents = 0};
  if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLRDHUP | POLLHUP | POLLERR))) return false;
  int queued = 0;
  return ioctl(fd, SIOCINQ, &queued) < 0 || queued == 0;
}

/*
 * Read what is pending, up to a batch, and hand it to JS in one call:
 *   data     Buffer with the payloads of the accepted messages, back to back;
 *   lengths  Int32Array, one entry per message in arrival order: n ≥ 0 a message of n bytes (in data),
 *            n < 0 an oversize message of -n bytes (consumed and discarded, not in data);
 *   end      null, 'eof', or an Error; after an end no more callbacks come.
 */
static void reader_on_poll(uv_poll_t *p, int status, int events) {
  handle_t *h = p->data;
  if (!h->open || h->ended) return;
  napi_env env = h->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value end = NULL;
  size_t used = 0;
  uint32_t count = 0;
  if (status < 0) end = uv_error(env, status, "poll", NULL);
  while (!end && count < BATCH_MESSAGES && used < BATCH_BYTES) {
    /* The arena has BATCH_BYTES + max_message + 1 bytes, so a message up to max + 1 bytes always
     * fits whole; MSG_TRUNC makes the kernel return the true length of a longer one. No control
     * buffer: descriptors a peer passes with SCM_RIGHTS are then released by the kernel. */
    struct iovec iov = {.iov_base = h->arena + used, .iov_len = h->arena_size - used};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    ssize_t n = recvmsg(h->fd, &m, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      end = errno_error(env, errno, "recvmsg", NULL);
      break;
    }
    if (n == 0) {
      if (at_eof(h->fd)) {
        napi_create_string_utf8(env, "eof", NAPI_AUTO_LENGTH, &end);
        break;
      }
      h->lengths[count++] = 0;
      continue;
    }
    if ((size_t)n > h->max_message || (m.msg_flags & MSG_TRUNC)) {
      h->lengths[count++] = n > INT32_MAX ? INT32_MIN : -(int32_t)n;
      continue;
    }
    h->lengths[count++] = (int32_t)n;
    used += (size_t)n;
  }
  if (count > 0 || end) {
    napi_value argv[3];
    if (count > 0) {
      void *dst;
      napi_value ab;
      napi_create_buffer_copy(env, used, h->arena, NULL, &argv[0]);
      napi_create_arraybuffer(env, count * sizeof(int32_t), &dst, &ab);
      memcpy(dst, h->lengths, count * sizeof(int32_t));
      napi_create_typedarray(env, napi_int32_array, count, ab, 0, &argv[1]);
    } else {
      napi_get_null(env, &argv[0]);
      napi_get_null(env, &argv[1]);
    }
    if (end) {
      h->ended = true;
      h->polling = false;
      uv_poll_stop(&h->poll);
      argv[2] = end;
    } else {
      napi_get_null(env, &argv[2]);
    }
    handle_call(h, 3, argv);
  }
  napi_close_handle_scope(env, scope);
}

static napi_value reader_new(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self;
  int fd, max;
  NAPI_OK(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL), "PacketReader: arguments");
  if (argc < 3 || arg_fd(env, argv[0], &fd) || arg_int(env, argv[1], 1, MAX_MESSAGE_LIMIT, "maxMessage", &max))
    return NULL;
  char *arena = malloc(BATCH_BYTES + (size_t)max + 1);
  int32_t *lengths = malloc(BATCH_MESSAGES * sizeof(int32_t));
  if (!arena || !lengths) {
    free(arena);
    free(lengths);
    throw_errno(env, ENOMEM, "malloc", NULL);
    return NULL;
  }
  handle_t *h = handle_new(env, self, KIND_READER, fd, argv[2], "unixpacket.PacketReader");
  if (!h) {
    free(arena);
    free(lengths);
    return NULL;
  }
  h->max_message = (size_t)max;
  h->arena_size = BATCH_BYTES + (size_t)max + 1;
  h->arena = arena;
  h->lengths = lengths;
  return self;
}

static napi_value reader_resume(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  handle_t *h = unwrap(env, info, &argc, NULL);
  if (!h) return NULL;
  if (h->open && !h->ended && !h->polling) {
    int r = uv_poll_start(&h->poll, UV_READABLE | UV_DISCONNECT, reader_on_poll);
    if (r < 0) {
      napi_throw(env, uv_error(env, r, "uv_poll_start", NULL));
      return NULL;
    }
    h->polling = true;
  }
  return js_undefined(env);
}

/* pause() for a reader, stop() for a poller: the fd stays open; data waits in the kernel. */
static napi_value handle_stop(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  handle_t *h = unwrap(env, info, &argc, NULL);
  if (!h) return NULL;
  if (h->open && h->polling) {
    uv_poll_stop(&h->poll);
    h->polling = false;
  }
  return js_undefined(env);
}

static napi_value handle_close_js(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  handle_t *h = unwrap(env, info, &argc, NULL);
  if (!h) return NULL;
  handle_close(h);
  return js_undefined(env);
}

/* ------------------------------------------------------------------------------------------------ */

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"listen", NULL, js_listen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"probe", NULL, js_probe, NULL, NULL, NULL, napi_enumerable, NULL},
      {"connect", NULL, js_connect, NULL, NULL, NULL, napi_enumerable, NULL},
      {"accept", NULL, js_accept, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendBatch", NULL, js_send_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns) != napi_ok) return NULL;

  napi_property_descriptor poller_methods[] = {
      {"start", NULL, poller_start, NULL, NULL, NULL, napi_default, NULL},
      {"stop", NULL, handle_stop, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, handle_close_js, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_property_descriptor reader_methods[] = {
      {"resume", NULL, reader_resume, NULL, NULL, NULL, napi_default, NULL},
      {"pause", NULL, handle_stop, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, handle_close_js, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value poller, reader, v;
  if (napi_define_class(env, "Poller", NAPI_AUTO_LENGTH, poller_new, NULL, 3, poller_methods, &poller) != napi_ok ||
      napi_define_class(env, "PacketReader", NAPI_AUTO_LENGTH, reader_new, NULL, 3, reader_methods, &reader) != napi_ok)
    return NULL;
  napi_set_named_property(env, exports, "Poller", poller);
  napi_set_named_property(env, exports, "PacketReader", reader);
  napi_create_uint32(env, BATCH_MESSAGES, &v);
  napi_set_named_property(env, exports, "BATCH_MESSAGES", v);
  napi_create_uint32(env, MAX_MESSAGE_LIMIT, &v);
  napi_set_named_property(env, exports, "MAX_MESSAGE_LIMIT", v);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
