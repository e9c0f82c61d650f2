/* What every handle and request shares: initialisation, uv_close(),
 * reference counting, accessors, uv_walk() and the debug printers.
 */
#include "internal.h"
#include "signals.h"
#include "stream.h"

#include <string.h>

void uv__handle_init(uv_loop_t* loop, uv_handle_t* h, uv_handle_type type) {
  h->loop = loop;
  h->type = type;
  h->flags = UV__HANDLE_REF;
  h->close_cb = NULL;
  h->next_closing = NULL;
  memset(&h->u, 0, sizeof(h->u));
  uv__queue_insert_tail(uv__queue_of(loop->handle_queue), &h->handle_queue);
}

void uv_close(uv_handle_t* handle, uv_close_cb close_cb) {
  /* Closing twice is a caller bug; libuv asserts. nodeloop keeps the
   * first close and ignores the second, so the loop stays consistent. */
  if (handle == NULL || uv__is_closing(handle))
    return;

  handle->flags |= UV__HANDLE_CLOSING;
  handle->close_cb = close_cb;

  switch (handle->type) {
    case UV_TIMER:
      uv__timer_close((uv_timer_t*) handle);
      break;
    case UV_IDLE:
      uv__idle_close((uv_idle_t*) handle);
      break;
    case UV_PREPARE:
      uv__prepare_close((uv_prepare_t*) handle);
      break;
    case UV_CHECK:
      uv__check_close((uv_check_t*) handle);
      break;
    case UV_ASYNC:
      uv__async_close((uv_async_t*) handle);
      break;
    case UV_POLL:
      uv__poll_close((uv_poll_t*) handle);
      break;
    case UV_PROCESS:
      uv__process_close((uv_process_t*) handle);
      break;
    case UV_FS_EVENT:
      uv__fs_event_close((uv_fs_event_t*) handle);
      break;
    case UV_FS_POLL:
      /* Becomes close-pending by itself, once no stat of it is in flight
       * (see fs_poll.c). */
      uv__fs_poll_close((uv_fs_poll_t*) handle);
      return;
    case UV_UDP:
      /* Queued sends are cancelled by the close phase, just before the
       * close callback (uv__udp_destroy). */
      uv__udp_close((uv_udp_t*) handle);
      break;
    case UV_SIGNAL:
      /* Becomes close-pending by itself, once no message about it can
       * arrive any more (see signal.c). */
      uv__signal_close((uv_signal_t*) handle);
      return;
    case UV_TCP:
    case UV_NAMED_PIPE:
      /* The stream's queued requests are cancelled by the close phase,
       * just before the close callback (uv__stream_destroy). */
      uv__stream_close((uv_stream_t*) handle);
      return;
    case UV_TTY:
      uv__tty_close((uv_tty_t*) handle);
      return;
    default:
      /* Not a handle this library created: leave it alone. */
      handle->flags &= ~UV__HANDLE_CLOSING;
      return;
  }

  uv__make_close_pending(handle);
}

int uv_is_closing(const uv_handle_t* handle) {
  return handle != NULL && uv__is_closing(handle);
}

int uv_is_active(const uv_handle_t* handle) {
  return handle != NULL && uv__is_active(handle);
}

void uv_ref(uv_handle_t* handle) {
  if (handle == NULL || (handle->flags & UV__HANDLE_REF))
    return;
  handle->flags |= UV__HANDLE_REF;
  if ((handle->flags & UV__HANDLE_ACTIVE) && !uv__is_closing(handle))
    handle->loop->active_handles++;
}

void uv_unref(uv_handle_t* handle) {
  if (handle == NULL || !(handle->flags & UV__HANDLE_REF))
    return;
  handle->flags &= ~UV__HANDLE_REF;
  if ((handle->flags & UV__HANDLE_ACTIVE) && !uv__is_closing(handle))
    handle->loop->active_handles--;
}

int uv_has_ref(const uv_handle_t* handle) {
  return handle != NULL && (handle->flags & UV__HANDLE_REF) != 0;
}

uv_handle_type uv_handle_get_type(const uv_handle_t* handle) {
  return handle != NULL ? handle->type : UV_UNKNOWN_HANDLE;
}

void* uv_handle_get_data(const uv_handle_t* handle) {
  return handle != NULL ? handle->data : NULL;
}

uv_loop_t* uv_handle_get_loop(const uv_handle_t* handle) {
  return handle != NULL ? handle->loop : NULL;
}

void uv_handle_set_data(uv_handle_t* handle, void* data) {
  if (handle != NULL)
    handle->data = data;
}

void* uv_req_get_data(const uv_req_t* req) {
  return req != NULL ? req->data : NULL;
}

void uv_req_set_data(uv_req_t* req, void* data) {
  if (req != NULL)
    req->data = data;
}

uv_req_type uv_req_get_type(const uv_req_t* req) {
  return req != NULL ? req->type : UV_UNKNOWN_REQ;
}

void* uv_loop_get_data(const uv_loop_t* loop) {
  return loop != NULL ? loop->data : NULL;
}

void uv_loop_set_data(uv_loop_t* loop, void* data) {
  if (loop != NULL)
    loop->data = data;
}

int uv__handle_getpath(const uv_handle_t* handle, const char* path,
                       char* buffer, size_t* size) {
  size_t len;

  if (size == NULL)
    return UV_EINVAL;
  if (!uv__is_active(handle) || path == NULL) {
    *size = 0;
    return UV_EINVAL;
  }
  len = strlen(path);
  if (buffer == NULL || *size <= len) {
    *size = len + 1;
    return UV_ENOBUFS;
  }
  memcpy(buffer, path, len + 1);
  *size = len;
  return 0;
}

/* The descriptor of a handle that has one, else -1. */
static int handle_fd(const uv_handle_t* h) {
  switch (h->type) {
    case UV_TCP:
    case UV_NAMED_PIPE:
    case UV_TTY:
      return ((const uv_stream_t*) h)->io_watcher.fd;
    case UV_POLL:
      return ((const uv_poll_t*) h)->io_watcher.fd;
    case UV_UDP:
      return ((const uv_udp_t*) h)->io_watcher.fd;
    default:
      return -1;
  }
}

/* As in libuv, the type comes first: a handle type without a descriptor
 * is UV_EINVAL even while closing; one with a descriptor is UV_EBADF once
 * closing or when it has none. */
int uv_fileno(const uv_handle_t* handle, uv_os_fd_t* fd) {
  int f;

  if (handle == NULL || fd == NULL)
    return UV_EINVAL;
  switch (handle->type) {
    case UV_TCP:
    case UV_NAMED_PIPE:
    case UV_TTY:
    case UV_POLL:
    case UV_UDP:
      break;
    default:
      /* Timers, idle, prepare, check, async and signals have none. */
      return UV_EINVAL;
  }
  f = handle_fd(handle);
  if (uv__is_closing(handle) || f < 0)
    return UV_EBADF;
  *fd = f;
  return 0;
}

/* *value 0 reads the size, anything else sets it (Linux then reports
 * twice the value set, its bookkeeping overhead included). */
static int buffer_size(uv_handle_t* handle, int* value, int opt) {
  socklen_t len = sizeof(*value);
  int fd;

  if (handle == NULL || value == NULL)
    return UV_EINVAL;
  if (handle->type != UV_TCP && handle->type != UV_NAMED_PIPE &&
      handle->type != UV_UDP)
    return UV_ENOTSUP;
  fd = handle_fd(handle);
  if (fd < 0 || uv__is_closing(handle))
    return UV_EBADF;
  if (*value == 0) {
    if (getsockopt(fd, SOL_SOCKET, opt, value, &len) != 0)
      return uv__neg_errno();
  } else if (setsockopt(fd, SOL_SOCKET, opt, value, len) != 0) {
    return uv__neg_errno();
  }
  return 0;
}

int uv_send_buffer_size(uv_handle_t* handle, int* value) {
  return buffer_size(handle, value, SO_SNDBUF);
}

int uv_recv_buffer_size(uv_handle_t* handle, int* value) {
  return buffer_size(handle, value, SO_RCVBUF);
}

/* The walk runs over a private copy of the handle list, so callbacks may
 * close handles or create new ones (which are not visited). */
void uv_walk(uv_loop_t* loop, uv_walk_cb walk_cb, void* arg) {
  struct uv__queue* head;
  struct uv__queue copy;
  struct uv__queue* q;
  uv_handle_t* h;

  if (loop == NULL || walk_cb == NULL)
    return;
  head = uv__queue_of(loop->handle_queue);
  uv__queue_move(head, &copy);
  while (!uv__queue_empty(&copy)) {
    q = uv__queue_head(&copy);
    uv__queue_remove(q);
    uv__queue_insert_tail(head, q);
    h = uv__container_of(q, uv_handle_t, handle_queue);
    if (!(h->flags & UV__HANDLE_INTERNAL))
      walk_cb(h, arg);
  }
}

static void print_handles(uv_loop_t* loop, int only_active, FILE* stream) {
  struct uv__queue* head;
  struct uv__queue* q;
  uv_handle_t* h;
  const char* name;

  if (loop == NULL)
    loop = uv_default_loop();
  if (stream == NULL)
    stream = stderr;
  head = uv__queue_of(loop->handle_queue);
  for (q = uv__queue_head(head); q != head; q = uv__queue_next(q)) {
    h = uv__container_of(q, uv_handle_t, handle_queue);
    if (only_active && !uv__is_active(h))
      continue;
    name = uv_handle_type_name(h->type);
    fprintf(stream, "[%c%c%c] %-8s %p\n",
            "R-"[!(h->flags & UV__HANDLE_REF)],
            "A-"[!(h->flags & UV__HANDLE_ACTIVE)],
            "I-"[!(h->flags & UV__HANDLE_INTERNAL)],
            name != NULL ? name : "unknown", (void*) h);
  }
}

void uv_print_all_handles(uv_loop_t* loop, FILE* stream) {
  print_handles(loop, 0, stream);
}

void uv_print_active_handles(uv_loop_t* loop, FILE* stream) {
  print_handles(loop, 1, stream);
}
