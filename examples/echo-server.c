/*
 * echo-server.c -- a TCP and unix-socket echo server.
 *
 * Usage: echo-server [-p PORT] [-a ADDR] [-u PIPEPATH]
 *   -p PORT      TCP port (default 7000; 0 picks a free port)
 *   -a ADDR      IPv4 or IPv6 address to bind (default 127.0.0.1)
 *   -u PIPEPATH  also listen on a unix domain socket at PIPEPATH
 *
 * What it shows:
 *   - one code path for TCP and pipe streams (everything below the accept
 *     works on uv_stream_t);
 *   - uv_read_start + uv_write, each write owning the buffer it sends and
 *     freeing it in its callback (no copy of the data is made);
 *   - back-pressure: reading stops while too much echoed data is queued
 *     and resumes when the queue drains, so a client that sends but never
 *     reads cannot make the server buffer without limit;
 *   - EOF handled with uv_shutdown (our pending echoes are flushed and a
 *     FIN is sent) then uv_close; read/write errors with uv_close;
 *   - clean exit on SIGINT/SIGTERM: every handle closed, uv_loop_close()
 *     returns 0, nothing leaked.
 */
/* uv.h needs POSIX types (pthread_rwlock_t...) that strict -std=c11 hides;
 * this also declares gmtime_r. */
#define _POSIX_C_SOURCE 200809L

#include <uv.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Stop reading from a client once this much echoed data waits in its write
 * queue; resume below the low mark. */
#define HIGH_WATER (1024u * 1024u)
#define LOW_WATER  (256u * 1024u)

struct client {
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } h;
  uv_shutdown_t shutdown_req;
  int paused;                    /* reading stopped for back-pressure */
  struct client *prev, *next;    /* all live clients, for shutdown */
};

/* A write request together with the buffer it sends. */
struct echo_write {
  uv_write_t req;
  char *base;
};

static uv_loop_t *loop;
static uv_tcp_t tcp_server;
static uv_pipe_t pipe_server;
static int have_tcp, have_pipe;
static uv_signal_t sig_int, sig_term;
static struct client *clients;
static int exit_code;

static void die_usage(const char *prog) {
  fprintf(stderr, "usage: %s [-p PORT] [-a ADDR] [-u PIPEPATH]\n", prog);
  exit(2);
}

static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (p == NULL) {
    fprintf(stderr, "out of memory\n");
    abort();
  }
  return p;
}

static void on_client_closed(uv_handle_t *h) {
  struct client *c = h->data;
  if (c->prev) c->prev->next = c->next;
  else clients = c->next;
  if (c->next) c->next->prev = c->prev;
  free(c);
}

static void client_close(struct client *c) {
  if (!uv_is_closing(&c->h.handle))
    uv_close(&c->h.handle, on_client_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  /* Each read gets its own buffer because that buffer is then handed to
   * uv_write unchanged and lives until the write completes. */
  *buf = uv_buf_init(xmalloc(suggested), (unsigned int) suggested);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  /* Called after all queued echoes were written (or with an error, or
   * UV_ECANCELED if the handle got closed first); either way we're done. */
  client_close(req->handle->data);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_write(uv_write_t *req, int status) {
  struct echo_write *w = (struct echo_write *) req;
  struct client *c = req->handle->data;

  free(w->base);
  free(w);
  if (status < 0) {                 /* includes UV_ECANCELED after close */
    client_close(c);
    return;
  }
  if (c->paused && !uv_is_closing(&c->h.handle) &&
      uv_stream_get_write_queue_size(&c->h.stream) < LOW_WATER) {
    c->paused = 0;
    if (uv_read_start(&c->h.stream, on_alloc, on_read) < 0)
      client_close(c);
  }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct client *c = s->data;

  if (nread > 0) {
    struct echo_write *w = xmalloc(sizeof *w);
    uv_buf_t out = uv_buf_init(buf->base, (unsigned int) nread);
    w->base = buf->base;            /* ownership moves to the write */
    if (uv_write(&w->req, s, &out, 1, on_write) < 0) {
      free(w->base);
      free(w);
      client_close(c);
      return;
    }
    if (uv_stream_get_write_queue_size(s) > HIGH_WATER) {
      c->paused = 1;
      uv_read_stop(s);
    }
    return;
  }

  free(buf->base);                  /* may be NULL; nread == 0 is EAGAIN */
  if (nread == UV_EOF) {
    /* The peer finished sending. Shut our side down once the echoes queued
     * before this point are written, then close. */
    uv_read_stop(s);
    if (uv_shutdown(&c->shutdown_req, s, on_shutdown) < 0)
      client_close(c);
  } else if (nread < 0) {
    client_close(c);
  }
}

static void on_connection(uv_stream_t *server, int status) {
  struct client *c;
  int r;

  if (status < 0) {
    fprintf(stderr, "accept: %s\n", uv_strerror(status));
    return;
  }
  c = xmalloc(sizeof *c);
  memset(c, 0, sizeof *c);
  if (server == (uv_stream_t *) &tcp_server)
    r = uv_tcp_init(loop, &c->h.tcp);
  else
    r = uv_pipe_init(loop, &c->h.pipe, 0);
  if (r < 0) {
    free(c);
    return;
  }
  c->h.handle.data = c;
  c->next = clients;
  if (clients) clients->prev = c;
  clients = c;

  if (uv_accept(server, &c->h.stream) < 0 ||
      uv_read_start(&c->h.stream, on_alloc, on_read) < 0)
    client_close(c);
}

static void teardown(void) {
  struct client *c;

  uv_close((uv_handle_t *) &sig_int, NULL);
  uv_close((uv_handle_t *) &sig_term, NULL);
  if (have_tcp)
    uv_close((uv_handle_t *) &tcp_server, NULL);
  if (have_pipe)
    uv_close((uv_handle_t *) &pipe_server, NULL);
  /* Closing a client cancels its pending writes/shutdown; their callbacks
   * still run (with UV_ECANCELED) and free what they own. */
  for (c = clients; c != NULL; c = c->next)
    client_close(c);
}

static void on_signal(uv_signal_t *sig, int signum) {
  fprintf(stderr, "signal %d: shutting down\n", signum);
  teardown();
}

static int start_tcp(const char *addr, int port) {
  struct sockaddr_storage ss;
  int namelen = (int) sizeof ss;
  char host[64];
  int r;

  if (strchr(addr, ':') != NULL)
    r = uv_ip6_addr(addr, port, (struct sockaddr_in6 *) &ss);
  else
    r = uv_ip4_addr(addr, port, (struct sockaddr_in *) &ss);
  if (r < 0) {
    fprintf(stderr, "bad address %s: %s\n", addr, uv_strerror(r));
    return r;
  }
  if ((r = uv_tcp_init(loop, &tcp_server)) < 0) return r;
  have_tcp = 1;
  if ((r = uv_tcp_bind(&tcp_server, (struct sockaddr *) &ss, 0)) < 0 ||
      (r = uv_listen((uv_stream_t *) &tcp_server, 128, on_connection)) < 0 ||
      (r = uv_tcp_getsockname(&tcp_server, (struct sockaddr *) &ss,
                              &namelen)) < 0) {
    fprintf(stderr, "tcp %s:%d: %s\n", addr, port, uv_strerror(r));
    return r;
  }
  /* Print the port actually bound, so "-p 0" is usable from scripts. */
  if (ss.ss_family == AF_INET6) {
    uv_ip6_name((struct sockaddr_in6 *) &ss, host, sizeof host);
    port = ntohs(((struct sockaddr_in6 *) &ss)->sin6_port);
    printf("listening on tcp://[%s]:%d\n", host, port);
  } else {
    uv_ip4_name((struct sockaddr_in *) &ss, host, sizeof host);
    port = ntohs(((struct sockaddr_in *) &ss)->sin_port);
    printf("listening on tcp://%s:%d\n", host, port);
  }
  return 0;
}

static int start_pipe(const char *path) {
  int r;

  if ((r = uv_pipe_init(loop, &pipe_server, 0)) < 0) return r;
  have_pipe = 1;
  if ((r = uv_pipe_bind(&pipe_server, path)) < 0 ||
      (r = uv_listen((uv_stream_t *) &pipe_server, 128, on_connection)) < 0) {
    fprintf(stderr, "pipe %s: %s\n", path, uv_strerror(r));
    return r;
  }
  printf("listening on unix://%s\n", path);
  return 0;
}

int main(int argc, char **argv) {
  const char *addr = "127.0.0.1", *pipe_path = NULL;
  int port = 7000, i, r;

  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 >= argc || a[0] != '-' || a[1] == '\0' || a[2] != '\0')
      die_usage(argv[0]);
    switch (a[1]) {
    case 'p': port = atoi(argv[++i]); break;
    case 'a': addr = argv[++i]; break;
    case 'u': pipe_path = argv[++i]; break;
    default: die_usage(argv[0]);
    }
  }
  if (port < 0 || port > 65535) die_usage(argv[0]);

  loop = uv_default_loop();
  uv_signal_init(loop, &sig_int);
  uv_signal_init(loop, &sig_term);
  uv_signal_start(&sig_int, on_signal, SIGINT);
  uv_signal_start(&sig_term, on_signal, SIGTERM);

  if (start_tcp(addr, port) < 0 || (pipe_path && start_pipe(pipe_path) < 0)) {
    exit_code = 1;
    teardown();                     /* same path as a signal */
  }
  fflush(stdout);

  uv_run(loop, UV_RUN_DEFAULT);
  r = uv_loop_close(loop);
  if (r != 0) {
    fprintf(stderr, "uv_loop_close: %s\n", uv_strerror(r));
    return 1;
  }
  return exit_code;
}
