/* uv_getnameinfo(): address-to-name translation by the C library's
 * getnameinfo(3) on the worker pool's slow lane (or on the caller's thread
 * without a callback), for IPv4 and IPv6 socket addresses.
 */
#include "internal.h"
#include "dispatch.h"
#include "dns.h"
#include "threadpool.h"

#include <netdb.h>
#include <string.h>

static socklen_t address_size(int family) {
  return family == AF_INET ? sizeof(struct sockaddr_in)
                           : sizeof(struct sockaddr_in6);
}

/* Runs on a pool thread, or on the caller's for a synchronous request. */
static void lookup(struct uv__work* w) {
  uv_getnameinfo_t* req = uv__container_of(w, uv_getnameinfo_t, work_req);
  const struct sockaddr* sa = (const struct sockaddr*) &req->storage;
  int err;

  err = getnameinfo(sa, address_size(sa->sa_family),
                    req->host, sizeof(req->host),
                    req->service, sizeof(req->service), req->flags);
  if (err == EAI_SYSTEM && errno != 0)
    req->retcode = uv__neg_errno();
  else
    req->retcode = uv__eai_error(err);
}

static void lookup_done(struct uv__work* w, int status) {
  uv_getnameinfo_t* req = uv__container_of(w, uv_getnameinfo_t, work_req);

  uv__req_unregister(req->loop, req);
  /* A cancelled lookup reports libuv's DNS-specific code. */
  if (status == UV_ECANCELED)
    req->retcode = UV_EAI_CANCELED;
  if (req->retcode == 0)
    uv__dispatch_getnameinfo(req, 0, req->host, req->service);
  else
    uv__dispatch_getnameinfo(req, req->retcode, NULL, NULL);
}

int uv_getnameinfo(uv_loop_t* loop,
                   uv_getnameinfo_t* req,
                   uv_getnameinfo_cb getnameinfo_cb,
                   const struct sockaddr* addr,
                   int flags) {
  if (loop == NULL || req == NULL || addr == NULL)
    return UV_EINVAL;
  if (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)
    return UV_EINVAL;
  if (uv__req_in_flight(req))
    return UV_EBUSY;

  uv__req_init(loop, (uv_req_t*) req, UV_GETNAMEINFO);
  req->loop = loop;
  req->getnameinfo_cb = getnameinfo_cb;
  req->flags = flags;
  req->retcode = 0;
  req->host[0] = '\0';
  req->service[0] = '\0';
  /* Copied so that the caller's address need not outlive the call. */
  memcpy(&req->storage, addr, address_size(addr->sa_family));

  if (getnameinfo_cb == NULL) {
    lookup(&req->work_req);
    return req->retcode;
  }
  return uv__work_submit(loop, req, &req->work_req, NL_WORK_GETNAMEINFO,
                         lookup, lookup_done);
}
