/* DNS requests: uv_getaddrinfo() and uv_getnameinfo(), synchronous and on
 * the worker pool; argument checks, host names in UTF-8 and their length
 * limit, error codes, cancellation, and the limit on how many pool threads
 * lookups may hold. The resolver they reach is the fake of dns-fake.h,
 * which passes through to libc unless told otherwise.
 */
/* NL_TEST_THREADED */
#include "dns-fake.h"

/* ---------------------------------------------------------------------
 * uv_getaddrinfo(): synchronous.
 */
TEST(getaddrinfo_sync_localhost) {
  uv_loop_t loop;
  uv_getaddrinfo_t req;
  struct addrinfo hints;

  CHECK_OK(uv_loop_init(&loop));
  memset(&req, 0xAA, sizeof(req));
  CHECK_OK(uv_getaddrinfo(&loop, &req, NULL, "localhost", NULL, NULL));
  CHECK_EQ(req.type, UV_GETADDRINFO);
  CHECK(req.loop == &loop);
  CHECK(req.addrinfo != NULL);
  CHECK(has_ip4(req.addrinfo, "127.0.0.1", 0));
  CHECK_EQ(fake_calls(), 1);
  CHECK_STREQ(fake.node, "localhost");
  CHECK_STREQ(fake.service, "(null)");
  CHECK(!fake.had_hints);
  /* Synchronous requests do not keep the loop alive, and are not on the
   * pool, so there is nothing to cancel. */
  CHECK_EQ(loop.active_reqs.count, 0);
  CHECK_EQ(uv_cancel((uv_req_t*) &req), UV_EBUSY);
  uv_freeaddrinfo(req.addrinfo);

  /* Numeric addresses, with the address family and a port. */
  memset(&hints, 0, sizeof(hints));
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  hints.ai_socktype = SOCK_STREAM;
  CHECK_OK(uv_getaddrinfo(&loop, &req, NULL, "127.0.0.1", "8080", &hints));
  CHECK(has_ip4(req.addrinfo, "127.0.0.1", 8080));
  CHECK_EQ(req.addrinfo->ai_socktype, SOCK_STREAM);
  CHECK(req.addrinfo->ai_next == NULL);
  uv_freeaddrinfo(req.addrinfo);
  CHECK_OK(uv_getaddrinfo(&loop, &req, NULL, "::1", "443", &hints));
  CHECK(has_ip6(req.addrinfo, "::1", 443));
  CHECK_EQ(req.addrinfo->ai_family, AF_INET6);
  uv_freeaddrinfo(req.addrinfo);

  /* A name is not a numeric host. */
  req.addrinfo = (struct addrinfo*) &hints;
  CHECK_EQ(uv_getaddrinfo(&loop, &req, NULL, "localhost", NULL, &hints),
           UV_EAI_NONAME);
  CHECK(req.addrinfo == NULL);
  CHECK_EQ(req.retcode, UV_EAI_NONAME);
  uv_freeaddrinfo(NULL);
  CHECK_EQ(loop.active_reqs.count, 0);
  CHECK_OK(uv_loop_close(&loop));
}

TEST(getaddrinfo_hints_family) {
  uv_loop_t loop;
  uv_getaddrinfo_t req;
  struct addrinfo hints;
  struct addrinfo* ai;
  int n;

  CHECK_OK(uv_loop_init(&loop));
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_INET;
  CHECK_OK(uv_getaddrinfo(&loop, &req, NULL, "localhost", NULL, &hints));
  n = 0;
  for (ai = req.addrinfo; ai != NULL; ai = ai->ai_next, n++)
    CHECK_EQ(ai->ai_family, AF_INET);
  CHECK(n > 0);
  CHECK(has_ip4(req.addrinfo, "127.0.0.1", 0));
  uv_freeaddrinfo(req.addrinfo);

  /* An IPv4 address is no IPv6 host. */
  hints.ai_family = AF_INET6;
  hints.ai_flags = AI_NUMERICHOST;
  CHECK(uv_getaddrinfo(&loop, &req, NULL, "127.0.0.1", NULL, &hints) < 0);
  CHECK(req.addrinfo == NULL);

  /* Errors of the C library come back as UV_EAI_* codes. */
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = 12345;
  CHECK_EQ(uv_getaddrinfo(&loop, &req, NULL, "localhost", NULL, &hints),
           UV_EAI_FAMILY);
  memset(&hints, 0, sizeof(hints));
  hints.ai_flags = 0x7FFF0000;
  CHECK_EQ(uv_getaddrinfo(&loop, &req, NULL, "localhost", NULL, &hints),
           UV_EAI_BADFLAGS);
  CHECK_OK(uv_loop_close(&loop));
}

TEST(getaddrinfo_service) {
  uv_loop_t loop;
  uv_getaddrinfo_t req;
  struct addrinfo hints;
  struct addrinfo* ai;

  CHECK_OK(uv_loop_init(&loop));
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;

  /* By number, without a host: the loopback address. */
  CHECK_OK(uv_getaddrinfo(&loop, &req, NULL, NULL, "4242", &hints));
  CHECK(has_ip4(req.addrinfo, "127.0.0.1", 4242));
  CHECK_STREQ(fake.node, "(null)");
  CHECK_STREQ(fake.service, "4242");
  uv_freeaddrinfo(req.addrinfo);

  /* By number, with AI_PASSIVE: the wildcard address. */
  hints.ai_flags = AI_PASSIVE;
  CHECK_OK(uv_getaddrinfo(&loop, &req, NULL, NULL, "4242", &hints));
  CHECK(has_ip4(req.addrinfo, "0.0.0.0", 4242));
  uv_freeaddrinfo(req.addrinfo);
  hints.ai_flags = 0;

  /* By name, where the system has a services database. */
  if (getservbyname("http", "tcp") != NULL) {
    CHECK_OK(uv_getaddrinfo(&loop, &req, NULL, "localhost", "http", &hints));
    for (ai = req.addrinfo; ai != NULL; ai = ai->ai_next)
      CHECK_EQ(ntohs(((struct sockaddr_in*) ai->ai_addr)->sin_port), 80);
    CHECK(has_ip4(req.addrinfo, "127.0.0.1", 80));
    uv_freeaddrinfo(req.addrinfo);
  }

  /* A service nobody has heard of. */
  CHECK_EQ(uv_getaddrinfo(&loop, &req, NULL, "localhost",
                          "nodeloop-no-such-service", &hints),
           UV_EAI_SERVICE);
  CHECK(req.addrinfo == NULL);
  hints.ai_flags = AI_NUMERICSERV;
  CHECK_EQ(uv_getaddrinfo(&loop, &req, NULL, "localhost", "http", &hints),
           UV_EAI_NONAME);
  CHECK_OK(uv_loop_close(&loop));
}

/* ---------------------------------------------------------------------
 * uv_getaddrinfo(): on the pool.
 */
static int gai_cb_calls;
static int gai_expect_status;

static void localhost_cb(uv_getaddrinfo_t* req, int status,
                         struct addrinfo* res) {
  on_loop_thread();
  CHECK_EQ(status, 0);
  CHECK(res != NULL);
  CHECK(res == req->addrinfo);
  CHECK(has_ip4(res, "127.0.0.1", 0));
  /* Unregistered before the callback runs. */
  CHECK_EQ(req->loop->active_reqs.count, 0);
  CHECK(req->data == &gai_cb_calls);
  gai_cb_calls++;
  uv_freeaddrinfo(res);
}

TEST(getaddrinfo_async_localhost) {
  uv_loop_t loop;
  uv_getaddrinfo_t req;

  loop_thread = uv_thread_self();
  CHECK_OK(uv_loop_init(&loop));
  req.data = &gai_cb_calls;
  CHECK_OK(uv_getaddrinfo(&loop, &req, localhost_cb, "localhost", NULL,
                          NULL));
  CHECK_EQ(req.type, UV_GETADDRINFO);
  CHECK(req.loop == &loop);
  CHECK_EQ(gai_cb_calls, 0);
  /* In flight, the request keeps the loop alive. */
  CHECK_EQ(loop.active_reqs.count, 1);
  CHECK(uv_loop_alive(&loop));
  CHECK_EQ(uv_loop_close(&loop), UV_EBUSY);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(gai_cb_calls, 1);
  CHECK_EQ(fake_calls(), 1);
  CHECK_OK(uv_loop_close(&loop));
}

static void status_cb(uv_getaddrinfo_t* req, int status,
                      struct addrinfo* res) {
  on_loop_thread();
  CHECK_EQ(status, gai_expect_status);
  CHECK(res == NULL);
  CHECK(req->addrinfo == NULL);
  uv_freeaddrinfo(res);
  gai_cb_calls++;
}

TEST(getaddrinfo_async_numeric_failure) {
  uv_loop_t loop;
  uv_getaddrinfo_t req;
  struct addrinfo hints;

  loop_thread = uv_thread_self();
  CHECK_OK(uv_loop_init(&loop));
  memset(&hints, 0, sizeof(hints));
  hints.ai_flags = AI_NUMERICHOST;
  gai_expect_status = UV_EAI_NONAME;
  CHECK_OK(uv_getaddrinfo(&loop, &req, status_cb, "localhost", NULL,
                          &hints));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(gai_cb_calls, 1);
  CHECK_OK(uv_loop_close(&loop));
}

/* Names under .invalid never exist (RFC 6761). Without a network, or with
 * a resolver that answers otherwise, the code may be any EAI_* error; it
 * must be an error, with no result. */
static void unknown_cb(uv_getaddrinfo_t* req, int status,
                       struct addrinfo* res) {
  on_loop_thread();
  CHECK(status < 0);
  CHECK(res == NULL);
  CHECK(req->addrinfo == NULL);
  gai_cb_calls++;
}

TEST(getaddrinfo_unknown_host) {
  uv_loop_t loop;
  uv_getaddrinfo_t req;
  int r;

  loop_thread = uv_thread_self();
  CHECK_OK(uv_loop_init(&loop));
  r = uv_getaddrinfo(&loop, &req, NULL, "nodeloop-test.invalid.", NULL,
                     NULL);
  CHECK(r < 0);
  CHECK(r != UV_EINVAL);
  CHECK(req.addrinfo == NULL);
  CHECK_EQ(req.retcode, r);
  CHECK_OK(uv_getaddrinfo(&loop, &req, unknown_cb, "nodeloop-test.invalid",
                          NULL, NULL));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(gai_cb_calls, 1);
  CHECK_EQ(fake_calls(), 2);
  CHECK_OK(uv_loop_close(&loop));
}

/* The C library's codes, including EAI_SYSTEM whose meaning is errno. */
TEST(getaddrinfo_error_codes) {
  static const struct {
    int eai;
    int err;
    int want;
  } cases[] = {
      {EAI_AGAIN, 0, UV_EAI_AGAIN},
      {EAI_FAIL, 0, UV_EAI_FAIL},
      {EAI_MEMORY, 0, UV_EAI_MEMORY},
      {EAI_NODATA, 0, UV_EAI_NODATA},
      {EAI_ADDRFAMILY, 0, UV_EAI_ADDRFAMILY},
      {EAI_OVERFLOW, 0, UV_EAI_OVERFLOW},
      {EAI_SOCKTYPE, 0, UV_EAI_SOCKTYPE},
      {EAI_SYSTEM, EMFILE, UV_EMFILE},
      {EAI_SYSTEM, 0, UV_EAI_FAIL},
  };
  uv_loop_t loop;
  uv_getaddrinfo_t req;
  size_t i;

  loop_thread = uv_thread_self();
  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    fake_set(FAKE_FAIL, cases[i].eai, cases[i].err);
    CHECK_EQ(uv_getaddrinfo(&loop, &req, NULL, "localhost", NULL, NULL),
             cases[i].want);
    CHECK(req.addrinfo == NULL);
    gai_expect_status = cases[i].want;
    gai_cb_calls = 0;
    CHECK_OK(uv_getaddrinfo(&loop, &req, status_cb, "localhost", NULL,
                            NULL));
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK_EQ(gai_cb_calls, 1);
  }
  CHECK_OK(uv_loop_close(&loop));
}

static void never_cb(uv_getaddrinfo_t* req, int status,
                     struct addrinfo* res) {
  (void) req;
  (void) status;
  (void) res;
  nl_test_fail(__FILE__, __LINE__, "getaddrinfo callback ran");
}

TEST(getaddrinfo_invalid_arguments) {
  uv_loop_t loop;
  uv_getaddrinfo_t req;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_EQ(uv_getaddrinfo(&loop, &req, never_cb, NULL, NULL, NULL),
           UV_EINVAL);
  CHECK_EQ(uv_getaddrinfo(&loop, &req, NULL, NULL, NULL, NULL), UV_EINVAL);
  CHECK_EQ(uv_getaddrinfo(NULL, &req, never_cb, "localhost", NULL, NULL),
           UV_EINVAL);
  CHECK_EQ(uv_getaddrinfo(NULL, &req, NULL, "localhost", NULL, NULL),
           UV_EINVAL);
  CHECK_EQ(uv_getaddrinfo(&loop, NULL, never_cb, "localhost", NULL, NULL),
           UV_EINVAL);
  CHECK_EQ(uv_getaddrinfo(&loop, NULL, NULL, "localhost", NULL, NULL),
           UV_EINVAL);
  /* Host names: empty, or not UTF-8 (a stray continuation byte, an
   * overlong form, a surrogate, a sequence cut short, beyond U+10FFFF). */
  CHECK_EQ(uv_getaddrinfo(&loop, &req, never_cb, "", NULL, NULL),
           UV_EINVAL);
  CHECK_EQ(uv_getaddrinfo(&loop, &req, NULL, "", "80", NULL), UV_EINVAL);
  CHECK_EQ(uv_getaddrinfo(&loop, &req, NULL, "\x80.invalid", NULL, NULL),
           UV_EINVAL);
  CHECK_EQ(uv_getaddrinfo(&loop, &req, NULL, "\xC0\xAE", NULL, NULL),
           UV_EINVAL);
  CHECK_EQ(uv_getaddrinfo(&loop, &req, NULL, "a\xED\xA0\x80", NULL, NULL),
           UV_EINVAL);
  CHECK_EQ(uv_getaddrinfo(&loop, &req, never_cb, "a\xE2\x82", NULL, NULL),
           UV_EINVAL);
  CHECK_EQ(uv_getaddrinfo(&loop, &req, NULL, "\xF4\x90\x80\x80", NULL,
                          NULL),
           UV_EINVAL);
  /* Nothing reached the resolver or the loop. */
  CHECK_EQ(fake_calls(), 0);
  CHECK_EQ(loop.active_reqs.count, 0);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_OK(uv_loop_close(&loop));
}

/* Fills buf with labels of up to 63 letters separated by dots, len bytes
 * in all. */
static void make_name(char* buf, size_t len) {
  size_t i;
  for (i = 0; i < len; i++)
    buf[i] = i % 64 == 63 ? '.' : (char) ('a' + i % 26);
  buf[len] = '\0';
}

TEST(getaddrinfo_hostname_length) {
  uv_loop_t loop;
  uv_getaddrinfo_t req;
  char name[400];
  char utf8[400];
  int i;

  CHECK_OK(uv_loop_init(&loop));
  fake_set(FAKE_FAIL, EAI_NONAME, 0);

  /* 255 bytes reach the resolver whole. */
  make_name(name, 255);
  CHECK_EQ(uv_getaddrinfo(&loop, &req, NULL, name, NULL, NULL),
           UV_EAI_NONAME);
  CHECK_EQ(fake_calls(), 1);
  CHECK_EQ(strlen(fake.node), 255);
  CHECK_STREQ(fake.node, name);

  /* One more is refused before any work, never shortened. */
  make_name(name, 256);
  CHECK_EQ(uv_getaddrinfo(&loop, &req, NULL, name, NULL, NULL), UV_EINVAL);
  CHECK_EQ(uv_getaddrinfo(&loop, &req, never_cb, name, NULL, NULL),
           UV_EINVAL);
  make_name(name, 399);
  CHECK_EQ(uv_getaddrinfo(&loop, &req, never_cb, name, "80", NULL),
           UV_EINVAL);
  CHECK_EQ(fake_calls(), 1);
  CHECK_EQ(loop.active_reqs.count, 0);

  /* The limit applies to the ASCII form: 32 labels "ü." are 96 bytes of
   * UTF-8 but 256 bytes as "xn--tda." each; without the last dot they
   * make 255 and fit. */
  utf8[0] = '\0';
  for (i = 0; i < 32; i++)
    strcat(utf8, "\xC3\xBC.");
  utf8[strlen(utf8) - 1] = '\0';
  CHECK_EQ(uv_getaddrinfo(&loop, &req, NULL, utf8, NULL, NULL),
           UV_EAI_NONAME);
  CHECK_EQ(fake_calls(), 2);
  CHECK_EQ(strlen(fake.node), 255);
  CHECK_EQ(strncmp(fake.node, "xn--tda.xn--tda.", 16), 0);
  strcat(utf8, ".");
  CHECK_EQ(uv_getaddrinfo(&loop, &req, never_cb, utf8, NULL, NULL),
           UV_EINVAL);
  CHECK_EQ(fake_calls(), 2);

  /* And the other way: 362 bytes of UTF-8 (three labels of 40 times
   * U+4E2D) make 140 bytes of ASCII, which are accepted. */
  utf8[0] = '\0';
  for (i = 0; i < 120; i++) {
    strcat(utf8, "\xE4\xB8\xAD");
    if (i % 40 == 39 && i != 119)
      strcat(utf8, ".");
  }
  CHECK_EQ(strlen(utf8), 362);
  CHECK_EQ(uv_getaddrinfo(&loop, &req, NULL, utf8, NULL, NULL),
           UV_EAI_NONAME);
  CHECK_EQ(fake_calls(), 3);
  CHECK_STREQ(fake.node,
              "xn--fiqaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
              "xn--fiqaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
              "xn--fiqaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  CHECK_OK(uv_loop_close(&loop));
}

/* UTF-8 host names reach the resolver in their IDNA ASCII form: labels
 * with non-ASCII characters as "xn--" and their Punycode, other labels
 * and the case of ASCII letters unchanged. */
TEST(getaddrinfo_idna) {
  static const struct {
    const char* in;
    const char* out;
  } cases[] = {
      {"localhost", "localhost"},
      {"LocalHost.", "LocalHost."},
      {"xn--bcher-kva.example", "xn--bcher-kva.example"},
      {"b\xC3\xBC" "cher.example", "xn--bcher-kva.example"},
      /* The ideographic and fullwidth full stops separate labels. */
      {"b\xC3\xBC" "cher\xE3\x80\x82" "example", "xn--bcher-kva.example"},
      {"b\xC3\xBC" "cher\xEF\xBC\x8E" "example", "xn--bcher-kva.example"},
      {"b\xC3\xBC" "cher\xEF\xBD\xA1" "example", "xn--bcher-kva.example"},
      {"M\xC3\xBCnchen.Example.", "xn--Mnchen-3ya.Example."},
      {".", "."},
      /* RFC 3492, 7.1: (B) Chinese (simplified), (L) Japanese. */
      {"\xE4\xBB\x96\xE4\xBB\xAC\xE4\xB8\xBA\xE4\xBB\x80\xE4\xB9\x88"
       "\xE4\xB8\x8D\xE8\xAF\xB4\xE4\xB8\xAD\xE6\x96\x87",
       "xn--ihqwcrb4cv8a8dqg056pqjye"},
      {"3\xE5\xB9\xB4" "B\xE7\xB5\x84\xE9\x87\x91\xE5\x85\xAB\xE5\x85\x88"
       "\xE7\x94\x9F",
       "xn--3B-ww4c5e180e575a65lsy2b"},
      /* A four-byte sequence. */
      {"\xF0\x9F\x98\x80.example", "xn--e28h.example"},
  };
  uv_loop_t loop;
  uv_getaddrinfo_t req;
  size_t i;

  CHECK_OK(uv_loop_init(&loop));
  fake_set(FAKE_FAIL, EAI_NONAME, 0);
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    CHECK_EQ(uv_getaddrinfo(&loop, &req, NULL, cases[i].in, NULL, NULL),
             UV_EAI_NONAME);
    CHECK_STREQ(fake.node, cases[i].out);
  }
  CHECK_OK(uv_loop_close(&loop));
}

/* The request keeps its own copies of hints, host and service: the
 * caller's may change as soon as the call returns. Only the four hint
 * fields reach the resolver. All three share one allocation, freed when
 * the request completes. */
static void copied_cb(uv_getaddrinfo_t* req, int status,
                      struct addrinfo* res) {
  on_loop_thread();
  CHECK_EQ(status, 0);
  CHECK(has_ip4(res, "127.0.0.1", 4242));
  CHECK_EQ(res->ai_socktype, SOCK_DGRAM);
  CHECK(res->ai_next == NULL);
  uv_freeaddrinfo(req->addrinfo);
  gai_cb_calls++;
}

TEST(getaddrinfo_copies_arguments) {
  uv_loop_t loop;
  uv_getaddrinfo_t req;
  struct addrinfo hints;
  char node[32];
  char service[32];
  long live_before;
  long total_before;

  use_counting_allocator();
  loop_thread = uv_thread_self();
  CHECK_OK(uv_loop_init(&loop));
  fake_set(FAKE_HOLD, 0, 0);
  memset(&hints, 0x5A, sizeof(hints));
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_protocol = 0;
  strcpy(node, "127.0.0.1");
  strcpy(service, "4242");

  /* Start the pool first: starting its threads allocates, and each
   * thread frees a little when it begins to run. Once every thread has
   * taken a job, all of them have begun. */
  CHECK_OK(setenv("UV_THREADPOOL_SIZE", "4", 1));
  block_pool(&loop);
  unblock_pool();
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  destroy_pool_blocker();

  live_before = live();
  total_before = total();
  CHECK_OK(uv_getaddrinfo(&loop, &req, copied_cb, node, service, &hints));
  CHECK_EQ(total() - total_before, 1);
  CHECK_EQ(live() - live_before, 1);
  /* The lookup is under way; the caller's memory changes. */
  CHECK(fake_wait_for(&fake.held, 1));
  memset(&hints, 0, sizeof(hints));
  strcpy(node, "10.0.0.1");
  strcpy(service, "1");
  fake_release();
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(gai_cb_calls, 1);
  CHECK_EQ(live(), live_before);
  CHECK_STREQ(fake.node, "127.0.0.1");
  CHECK_STREQ(fake.service, "4242");
  CHECK(fake.had_hints);
  CHECK_EQ(fake.hints.ai_flags, AI_NUMERICHOST | AI_NUMERICSERV);
  CHECK_EQ(fake.hints.ai_family, AF_INET);
  CHECK_EQ(fake.hints.ai_socktype, SOCK_DGRAM);
  CHECK_EQ(fake.hints.ai_protocol, 0);
  CHECK_EQ(fake.hints.ai_addrlen, 0);
  CHECK(fake.hints.ai_addr == NULL);
  CHECK(fake.hints.ai_canonname == NULL);
  CHECK(fake.hints.ai_next == NULL);

  /* Synchronous: the one allocation is gone when the call returns. */
  fake_set(FAKE_PASS, 0, 0);
  total_before = total();
  CHECK_OK(uv_getaddrinfo(&loop, &req, NULL, "127.0.0.1", "4242", NULL));
  CHECK_EQ(total() - total_before, 1);
  CHECK_EQ(live(), live_before);
  uv_freeaddrinfo(req.addrinfo);
  CHECK_OK(uv_loop_close(&loop));
}

/* A callback may reuse its request for the next lookup. */
static int chain_left;

static void chain_cb(uv_getaddrinfo_t* req, int status,
                     struct addrinfo* res) {
  on_loop_thread();
  CHECK_EQ(status, 0);
  CHECK(has_ip4(res, "127.0.0.1", 0));
  uv_freeaddrinfo(res);
  gai_cb_calls++;
  if (--chain_left > 0)
    CHECK_OK(uv_getaddrinfo(req->loop, req, chain_cb, "127.0.0.1", NULL,
                            NULL));
}

TEST(getaddrinfo_reuse_in_callback) {
  uv_loop_t loop;
  uv_getaddrinfo_t req;

  loop_thread = uv_thread_self();
  CHECK_OK(uv_loop_init(&loop));
  chain_left = 5;
  CHECK_OK(uv_getaddrinfo(&loop, &req, chain_cb, "localhost", NULL, NULL));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(gai_cb_calls, 5);
  CHECK_EQ(uv_cancel((uv_req_t*) &req), UV_EBUSY);
  CHECK_OK(uv_loop_close(&loop));
}

/* ---------------------------------------------------------------------
 * uv_getnameinfo().
 */
static int gni_cb_calls;
static int gni_expect_status;

static void gni_cb(uv_getnameinfo_t* req, int status, const char* host,
                   const char* service) {
  on_loop_thread();
  CHECK_EQ(req->loop->active_reqs.count, 0);
  CHECK_EQ(status, gni_expect_status);
  if (status == 0) {
    CHECK(host == req->host);
    CHECK(service == req->service);
    CHECK_STREQ(host, "127.0.0.1");
    CHECK_STREQ(service, "8080");
  } else {
    CHECK(host == NULL);
    CHECK(service == NULL);
  }
  gni_cb_calls++;
}

TEST(getnameinfo_sync) {
  uv_loop_t loop;
  uv_getnameinfo_t req;
  struct sockaddr_in sin;
  struct sockaddr_in6 sin6;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_ip4_addr("127.0.0.1", 80, &sin));
  CHECK_OK(uv_getnameinfo(&loop, &req, NULL, (struct sockaddr*) &sin,
                          NI_NUMERICHOST | NI_NUMERICSERV));
  CHECK_EQ(req.type, UV_GETNAMEINFO);
  CHECK(req.loop == &loop);
  CHECK_STREQ(req.host, "127.0.0.1");
  CHECK_STREQ(req.service, "80");
  CHECK_EQ(fake_calls(), 1);
  CHECK_EQ(loop.active_reqs.count, 0);
  CHECK_EQ(uv_cancel((uv_req_t*) &req), UV_EBUSY);

  /* Names, where the system has them: some name for the loopback
   * address, and "http" or the number for the port. */
  CHECK_OK(uv_getnameinfo(&loop, &req, NULL, (struct sockaddr*) &sin, 0));
  CHECK(req.host[0] != '\0');
  CHECK(strcmp(req.service, "http") == 0 || strcmp(req.service, "80") == 0);

  CHECK_OK(uv_ip6_addr("::1", 443, &sin6));
  CHECK_OK(uv_getnameinfo(&loop, &req, NULL, (struct sockaddr*) &sin6,
                          NI_NUMERICHOST | NI_NUMERICSERV));
  CHECK_STREQ(req.host, "::1");
  CHECK_STREQ(req.service, "443");

  /* Failures come back as UV_EAI_* codes (or errno for EAI_SYSTEM). */
  CHECK_EQ(uv_getnameinfo(&loop, &req, NULL, (struct sockaddr*) &sin, -1),
           UV_EAI_BADFLAGS);
  CHECK_EQ(req.retcode, UV_EAI_BADFLAGS);
  fake_set(FAKE_FAIL, EAI_SYSTEM, ENOBUFS);
  CHECK_EQ(uv_getnameinfo(&loop, &req, NULL, (struct sockaddr*) &sin, 0),
           UV_ENOBUFS);
  fake_set(FAKE_FAIL, EAI_AGAIN, 0);
  CHECK_EQ(uv_getnameinfo(&loop, &req, NULL, (struct sockaddr*) &sin, 0),
           UV_EAI_AGAIN);
  CHECK_OK(uv_loop_close(&loop));
}

TEST(getnameinfo_async) {
  uv_loop_t loop;
  uv_getnameinfo_t req;
  struct sockaddr_in sin;

  loop_thread = uv_thread_self();
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_ip4_addr("127.0.0.1", 8080, &sin));
  fake_set(FAKE_HOLD, 0, 0);
  CHECK_OK(uv_getnameinfo(&loop, &req, gni_cb, (struct sockaddr*) &sin,
                          NI_NUMERICHOST | NI_NUMERICSERV));
  CHECK_EQ(req.type, UV_GETNAMEINFO);
  CHECK_EQ(loop.active_reqs.count, 1);
  CHECK(uv_loop_alive(&loop));
  /* The address was copied: the caller's may change at once. */
  CHECK(fake_wait_for(&fake.held, 1));
  CHECK_OK(uv_ip4_addr("10.1.2.3", 1, &sin));
  fake_release();
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(gni_cb_calls, 1);
  CHECK_STREQ(fake.numeric_host, "127.0.0.1");

  /* A failure: no strings. */
  fake_set(FAKE_PASS, 0, 0);
  gni_expect_status = UV_EAI_BADFLAGS;
  CHECK_OK(uv_getnameinfo(&loop, &req, gni_cb, (struct sockaddr*) &sin, -1));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(gni_cb_calls, 2);
  fake_set(FAKE_FAIL, EAI_SYSTEM, EMFILE);
  gni_expect_status = UV_EMFILE;
  CHECK_OK(uv_getnameinfo(&loop, &req, gni_cb, (struct sockaddr*) &sin, 0));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(gni_cb_calls, 3);
  CHECK_OK(uv_loop_close(&loop));
}

static void gni_never_cb(uv_getnameinfo_t* req, int status,
                         const char* host, const char* service) {
  (void) req;
  (void) status;
  (void) host;
  (void) service;
  nl_test_fail(__FILE__, __LINE__, "getnameinfo callback ran");
}

TEST(getnameinfo_invalid_arguments) {
  uv_loop_t loop;
  uv_getnameinfo_t req;
  struct sockaddr_in sin;
  struct sockaddr_storage ss;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_ip4_addr("127.0.0.1", 80, &sin));
  CHECK_EQ(uv_getnameinfo(NULL, &req, gni_never_cb, (struct sockaddr*) &sin,
                          0),
           UV_EINVAL);
  CHECK_EQ(uv_getnameinfo(NULL, &req, NULL, (struct sockaddr*) &sin, 0),
           UV_EINVAL);
  CHECK_EQ(uv_getnameinfo(&loop, NULL, gni_never_cb,
                          (struct sockaddr*) &sin, 0),
           UV_EINVAL);
  CHECK_EQ(uv_getnameinfo(&loop, &req, gni_never_cb, NULL, 0), UV_EINVAL);
  CHECK_EQ(uv_getnameinfo(&loop, &req, NULL, NULL, 0), UV_EINVAL);
  /* IPv4 and IPv6 only. */
  memset(&ss, 0, sizeof(ss));
  ss.ss_family = AF_UNIX;
  CHECK_EQ(uv_getnameinfo(&loop, &req, gni_never_cb, (struct sockaddr*) &ss,
                          0),
           UV_EINVAL);
  ss.ss_family = AF_UNSPEC;
  CHECK_EQ(uv_getnameinfo(&loop, &req, NULL, (struct sockaddr*) &ss, 0),
           UV_EINVAL);
  CHECK_EQ(fake_calls(), 0);
  CHECK_EQ(loop.active_reqs.count, 0);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_OK(uv_loop_close(&loop));
}

/* ---------------------------------------------------------------------
 * Many at once, cancellation, the slow lane's limit.
 */
#define MANY 32
static int many_gai[MANY];
static int many_gni[MANY];

static void many_gai_cb(uv_getaddrinfo_t* req, int status,
                        struct addrinfo* res) {
  int i = (int) (intptr_t) req->data;
  on_loop_thread();
  CHECK_EQ(status, 0);
  CHECK(has_ip4(res, "127.0.0.1", i));
  uv_freeaddrinfo(res);
  many_gai[i]++;
}

static void many_gni_cb(uv_getnameinfo_t* req, int status, const char* host,
                        const char* service) {
  int i = (int) (intptr_t) req->data;
  char port[16];
  on_loop_thread();
  CHECK_EQ(status, 0);
  CHECK_STREQ(host, "127.0.0.1");
  snprintf(port, sizeof(port), "%d", 1000 + i);
  CHECK_STREQ(service, port);
  many_gni[i]++;
}

TEST(many_concurrent) {
  uv_loop_t loop;
  uv_getaddrinfo_t gai[MANY];
  uv_getnameinfo_t gni[MANY];
  struct sockaddr_in sin;
  struct addrinfo hints;
  char port[16];
  int i;

  loop_thread = uv_thread_self();
  CHECK_OK(uv_loop_init(&loop));
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  for (i = 0; i < MANY; i++) {
    snprintf(port, sizeof(port), "%d", i);
    gai[i].data = (void*) (intptr_t) i;
    CHECK_OK(uv_getaddrinfo(&loop, &gai[i], many_gai_cb, "localhost", port,
                            &hints));
    CHECK_OK(uv_ip4_addr("127.0.0.1", 1000 + i, &sin));
    gni[i].data = (void*) (intptr_t) i;
    CHECK_OK(uv_getnameinfo(&loop, &gni[i], many_gni_cb,
                            (struct sockaddr*) &sin,
                            NI_NUMERICHOST | NI_NUMERICSERV));
  }
  CHECK_EQ(loop.active_reqs.count, 2 * MANY);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  for (i = 0; i < MANY; i++) {
    CHECK_EQ(many_gai[i], 1);
    CHECK_EQ(many_gni[i], 1);
  }
  CHECK_EQ(fake_calls(), 2 * MANY);
  CHECK_OK(uv_loop_close(&loop));
}

static void cancelled_gai_cb(uv_getaddrinfo_t* req, int status,
                             struct addrinfo* res) {
  on_loop_thread();
  CHECK_EQ(status, UV_EAI_CANCELED);
  CHECK(res == NULL);
  CHECK(req->addrinfo == NULL);
  uv_freeaddrinfo(res);
  gai_cb_calls++;
}

static void cancelled_gni_cb(uv_getnameinfo_t* req, int status,
                             const char* host, const char* service) {
  (void) req;
  on_loop_thread();
  CHECK_EQ(status, UV_EAI_CANCELED);
  CHECK(host == NULL);
  CHECK(service == NULL);
  gni_cb_calls++;
}

/* With every pool thread busy, queued lookups can be cancelled: their
 * callbacks get UV_EAI_CANCELED, the resolver never runs, their copies
 * are freed and the loop ends cleanly. */
TEST(cancel_queued) {
  uv_loop_t loop;
  uv_getaddrinfo_t gai[3];
  uv_getnameinfo_t gni[2];
  struct sockaddr_in sin;
  struct addrinfo hints;
  long live_before;
  int i;

  use_counting_allocator();
  CHECK_OK(setenv("UV_THREADPOOL_SIZE", "4", 1));
  loop_thread = uv_thread_self();
  CHECK_OK(uv_loop_init(&loop));
  block_pool(&loop);
  live_before = live();

  memset(&hints, 0, sizeof(hints));
  CHECK_OK(uv_getaddrinfo(&loop, &gai[0], cancelled_gai_cb, "localhost",
                          NULL, NULL));
  CHECK_OK(uv_getaddrinfo(&loop, &gai[1], cancelled_gai_cb, NULL, "http",
                          &hints));
  CHECK_OK(uv_getaddrinfo(&loop, &gai[2], cancelled_gai_cb, "localhost",
                          "80", &hints));
  CHECK_OK(uv_ip4_addr("127.0.0.1", 80, &sin));
  for (i = 0; i < 2; i++)
    CHECK_OK(uv_getnameinfo(&loop, &gni[i], cancelled_gni_cb,
                            (struct sockaddr*) &sin, 0));
  CHECK_EQ(live() - live_before, 3);
  CHECK_EQ(loop.active_reqs.count, POOL + 5);

  for (i = 0; i < 3; i++)
    CHECK_OK(uv_cancel((uv_req_t*) &gai[i]));
  for (i = 0; i < 2; i++)
    CHECK_OK(uv_cancel((uv_req_t*) &gni[i]));
  /* Once is all. */
  CHECK_EQ(uv_cancel((uv_req_t*) &gai[0]), UV_EBUSY);
  CHECK_EQ(uv_cancel((uv_req_t*) &gni[1]), UV_EBUSY);
  /* Nothing runs before the loop does. */
  CHECK_EQ(gai_cb_calls, 0);
  CHECK_EQ(gni_cb_calls, 0);

  unblock_pool();
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(gai_cb_calls, 3);
  CHECK_EQ(gni_cb_calls, 2);
  CHECK_EQ(fake_calls(), 0);
  CHECK_EQ(live(), live_before);
  CHECK_EQ(loop.active_reqs.count, 0);
  CHECK_OK(uv_loop_close(&loop));
  destroy_pool_blocker();
}

/* Lookups may hold at most half the pool's threads, so that lookups
 * stuck on a slow name server cannot starve other work. With a pool of 4
 * and six lookups held inside the resolver, two are running, the rest
 * wait, and user jobs queued after all six still get the other two
 * threads. If lookups could take every thread, the jobs would never run
 * and the wait below would time out. */
static uv_thread_t cpu_job_threads[2];

static void cpu_work(uv_work_t* req) {
  int i = (int) (intptr_t) req->data;
  cpu_job_threads[i] = uv_thread_self();
  pthread_mutex_lock(&fake.mutex);
  fake.cpu_jobs_ran++;
  pthread_cond_broadcast(&fake.cond);
  pthread_mutex_unlock(&fake.mutex);
}

static void cpu_done(uv_work_t* req, int status) {
  (void) req;
  CHECK_EQ(status, 0);
}

/* Requests whose data points here were cancelled while waiting. */
static int cancelled_mark;

static void slow_gai_cb(uv_getaddrinfo_t* req, int status,
                        struct addrinfo* res) {
  if (req->data == &cancelled_mark) {
    CHECK_EQ(status, UV_EAI_CANCELED);
    CHECK(res == NULL);
  } else {
    CHECK_EQ(status, 0);
    CHECK(has_ip4(res, "127.0.0.1", 0));
    uv_freeaddrinfo(res);
  }
  gai_cb_calls++;
}

static void slow_gni_cb(uv_getnameinfo_t* req, int status, const char* host,
                        const char* service) {
  (void) service;
  if (req->data == &cancelled_mark) {
    CHECK_EQ(status, UV_EAI_CANCELED);
    CHECK(host == NULL);
  } else {
    CHECK_EQ(status, 0);
    CHECK_STREQ(host, "127.0.0.1");
  }
  gni_cb_calls++;
}

TEST(slow_lookups_leave_threads_for_work) {
  uv_loop_t loop;
  uv_getaddrinfo_t gai[3];
  uv_getnameinfo_t gni[3];
  uv_work_t jobs[2];
  struct sockaddr_in sin;
  int i;

  CHECK_OK(setenv("UV_THREADPOOL_SIZE", "4", 1));
  loop_thread = uv_thread_self();
  CHECK_OK(uv_loop_init(&loop));
  fake_set(FAKE_HOLD, 0, 0);
  CHECK_OK(uv_ip4_addr("127.0.0.1", 80, &sin));
  for (i = 0; i < 3; i++) {
    gai[i].data = NULL;
    gni[i].data = NULL;
    CHECK_OK(uv_getaddrinfo(&loop, &gai[i], slow_gai_cb, "127.0.0.1", NULL,
                            NULL));
    CHECK_OK(uv_getnameinfo(&loop, &gni[i], slow_gni_cb,
                            (struct sockaddr*) &sin, NI_NUMERICHOST));
  }
  CHECK(fake_wait_for(&fake.held, 2));
  for (i = 0; i < 2; i++) {
    jobs[i].data = (void*) (intptr_t) i;
    CHECK_OK(uv_queue_work(&loop, &jobs[i], cpu_work, cpu_done));
  }
  CHECK(fake_wait_for(&fake.cpu_jobs_ran, 2));
  /* To reach the jobs, the pool went past all six lookups, and let only
   * two of them start. */
  pthread_mutex_lock(&fake.mutex);
  CHECK_EQ(fake.held, 2);
  CHECK_EQ(fake.max_active, 2);
  pthread_mutex_unlock(&fake.mutex);
  CHECK(!uv_thread_equal(&cpu_job_threads[0], &loop_thread));

  /* The pool takes items in order, so the first two are the ones
   * running: too late to cancel. Those held back can still be. */
  CHECK_EQ(uv_cancel((uv_req_t*) &gai[0]), UV_EBUSY);
  CHECK_EQ(uv_cancel((uv_req_t*) &gni[0]), UV_EBUSY);
  gai[2].data = &cancelled_mark;
  gni[2].data = &cancelled_mark;
  CHECK_OK(uv_cancel((uv_req_t*) &gai[2]));
  CHECK_OK(uv_cancel((uv_req_t*) &gni[2]));

  fake_release();
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(gai_cb_calls, 3);
  CHECK_EQ(gni_cb_calls, 3);
  CHECK_EQ(fake_calls(), 4);
  /* Never more than two at once, to the end. */
  CHECK_EQ(fake.max_active, 2);
  CHECK_OK(uv_loop_close(&loop));
}

/* Lookups still in flight are refused and left as they are; once their
 * callbacks have run, the same requests can be used again. */
static void busy_gai_cb(uv_getaddrinfo_t* req, int status,
                        struct addrinfo* res) {
  (void) req;
  on_loop_thread();
  CHECK_EQ(status, 0);
  uv_freeaddrinfo(res);
  gai_cb_calls++;
}

static void busy_gni_cb(uv_getnameinfo_t* req, int status, const char* host,
                        const char* service) {
  (void) req;
  (void) host;
  (void) service;
  on_loop_thread();
  CHECK_EQ(status, 0);
  gni_cb_calls++;
}

TEST(request_in_flight_is_refused) {
  uv_loop_t loop;
  uv_getaddrinfo_t gai;
  uv_getnameinfo_t gni;
  struct sockaddr_in sin;

  CHECK_OK(setenv("UV_THREADPOOL_SIZE", "4", 1));
  loop_thread = uv_thread_self();
  gai_cb_calls = gni_cb_calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  block_pool(&loop);
  CHECK_OK(uv_ip4_addr("127.0.0.1", 80, &sin));
  CHECK_OK(uv_getaddrinfo(&loop, &gai, busy_gai_cb, "127.0.0.1", NULL,
                          NULL));
  CHECK_EQ(uv_getaddrinfo(&loop, &gai, busy_gai_cb, "127.0.0.1", NULL, NULL),
           UV_EBUSY);
  CHECK_EQ(uv_getaddrinfo(&loop, &gai, NULL, "127.0.0.1", NULL, NULL),
           UV_EBUSY);
  CHECK_STREQ(gai.hostname, "127.0.0.1");
  CHECK_OK(uv_getnameinfo(&loop, &gni, busy_gni_cb, (struct sockaddr*) &sin,
                          NI_NUMERICHOST | NI_NUMERICSERV));
  CHECK_EQ(uv_getnameinfo(&loop, &gni, busy_gni_cb, (struct sockaddr*) &sin,
                          0), UV_EBUSY);
  CHECK_EQ(gni.flags, NI_NUMERICHOST | NI_NUMERICSERV);
  CHECK_EQ(loop.active_reqs.count, POOL + 2);
  unblock_pool();
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(gai_cb_calls, 1);
  CHECK_EQ(gni_cb_calls, 1);
  CHECK_OK(uv_getaddrinfo(&loop, &gai, busy_gai_cb, "127.0.0.1", NULL,
                          NULL));
  CHECK_OK(uv_getnameinfo(&loop, &gni, busy_gni_cb, (struct sockaddr*) &sin,
                          NI_NUMERICHOST));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(gai_cb_calls, 2);
  CHECK_EQ(gni_cb_calls, 2);
  destroy_pool_blocker();
  CHECK_OK(uv_loop_close(&loop));
}
