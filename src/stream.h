/* What the stream types (TCP, pipes, TTYs) share with src/stream.c: the
 * stream flags and the steps each type calls on open, accept and close.
 */
#ifndef NL_STREAM_H_
#define NL_STREAM_H_

#include "internal.h"

/* Stream flags, in the type-specific high bits of uv_handle_t.flags. */
enum {
  UV__STREAM_READABLE = 0x00010000,
  UV__STREAM_WRITABLE = 0x00020000,
  UV__STREAM_READING = 0x00040000,   /* uv_read_start() in effect */
  UV__STREAM_SHUTTING = 0x00080000,  /* uv_shutdown() waiting for writes */
  /* Writes (and reads) on a blocking descriptor: uv_stream_set_blocking(1)
   * or a TTY that could not be reopened. libuv's tests look for this
   * value in the flags of a TTY handle, so it keeps libuv's number. */
  UV__STREAM_BLOCKING = 0x00100000,
  UV__STREAM_EOF = 0x00200000,       /* the peer closed its write side */
  UV__STREAM_LISTENING = 0x00400000,
  UV__STREAM_SHUT = 0x00800000,      /* write side shut down */
  UV__STREAM_SOCKET = 0x01000000,    /* fd is a socket: send(MSG_NOSIGNAL) */
  UV__STREAM_ACCEPT_PAUSED = 0x02000000,  /* a connection waits for accept */

  /* TCP: options recorded before the socket exists, applied on creation. */
  UV__TCP_NODELAY = 0x04000000,
  UV__TCP_KEEPALIVE = 0x08000000,
  UV__TCP_BOUND = 0x10000000,
  /* Pipes (the TCP bits above are free there): a socket of records,
   * SOCK_SEQPACKET or SOCK_DGRAM, where each call is one record, so
   * requests are never gathered. */
  UV__PIPE_RECORDS = 0x04000000,

  UV__STREAM_TERMINAL = 0x20000000,  /* a TTY handle on a real terminal */
  /* A listener out of descriptors, waiting on its retry timer (the timer
   * lives in queued_fds, unused by listeners). */
  UV__STREAM_ACCEPT_RETRY = 0x40000000
};

/* Helpers of src/stream.c that src/stream_write.c shares. */
int uv__stream_is_type(uv_handle_type type);
int uv__stream_is_ipc(const uv_stream_t* stream);
/* The descriptor a handle passed with uv_write2() stands for, or -1. */
int uv__stream_send_handle_fd(const uv_stream_t* handle);
/* 0, or why the handle cannot be passed with uv_write2(). */
int uv__stream_check_send_handle(const uv_stream_t* handle);
/* Starts or stops watching events, keeping the handle's active state. */
int uv__stream_watch(uv_stream_t* stream, unsigned int events);
void uv__stream_unwatch(uv_stream_t* stream, unsigned int events);
void uv__stream_update_active(uv_stream_t* stream);

/* src/stream_write.c, for the stream's watcher and its closing: writes
 * queued requests until the descriptor is full; runs the callbacks of
 * finished ones; shuts the write side once the queue is empty; fails
 * every queued request with UV_ECANCELED. */
void uv__stream_write_queued(uv_stream_t* stream);
void uv__stream_write_callbacks(uv_stream_t* stream);
void uv__stream_maybe_shutdown(uv_stream_t* stream);
void uv__stream_cancel_writes(uv_stream_t* stream);

/* Initialises the stream part of a TCP, pipe or TTY handle (no fd yet). */
void uv__stream_init(uv_loop_t* loop, uv_stream_t* stream,
                     uv_handle_type type);

/* Gives the stream its descriptor, with the READABLE/WRITABLE flags.
 * UV_EEXIST if the loop already watches that descriptor. */
int uv__stream_open(uv_stream_t* stream, int fd, unsigned int flags);

/* The uv_close() step of every stream type: stops reading and writing,
 * closes the descriptor and makes the handle close-pending. */
void uv__stream_close(uv_stream_t* stream);

/* Run by the close phase just before the close callback: the requests
 * still queued on the stream get their callbacks, with UV_ECANCELED. */
void uv__stream_destroy(uv_stream_t* stream);

/* Starts a connection attempt already begun with connect(2): `err` is 0
 * (in progress or done) or an error for the callback. The callback runs
 * in a later phase in every case. */
void uv__stream_connect_begin(uv_stream_t* stream, uv_connect_t* req,
                              uv_connect_cb cb, int err);

/* Listens on a bound socket; shared by TCP and pipes. */
int uv__stream_listen(uv_stream_t* stream, int backlog, uv_connection_cb cb);

/* uv_listen() per type. */
int uv__tcp_listen(uv_tcp_t* tcp, int backlog, uv_connection_cb cb);
int uv__pipe_listen(uv_pipe_t* pipe, int backlog, uv_connection_cb cb);

/* UV__STREAM_SOCKET, with UV__PIPE_RECORDS for a socket of records, or 0:
 * what a descriptor opened or received as a pipe is. */
unsigned int uv__pipe_fd_flags(int fd);

/* Descriptors received on an IPC pipe and not yet accepted. */
int uv__stream_pending_count(const uv_stream_t* stream);

/* getsockname() or getpeername() of fd into the caller's buffer of
 * *namelen bytes (TCP and UDP share it). */
typedef int (*uv__name_fn)(int, struct sockaddr*, socklen_t*);
int uv__socket_name(int fd, uv__name_fn fn, struct sockaddr* name,
                    int* namelen);

/* Creates a non-blocking, close-on-exec socket. */
int uv__socket(int domain, int type, int protocol);

/* TCP options recorded on the handle, applied to a new descriptor. */
int uv__tcp_apply_options(uv_tcp_t* tcp, int fd);

/* The UV_TTY step of uv_close(): restores the terminal's mode first. */
void uv__tty_close(uv_tty_t* tty);

/* Pipe bookkeeping on close: unlinks the socket file the pipe bound. */
void uv__pipe_close(uv_pipe_t* pipe);

#endif /* NL_STREAM_H_ */
