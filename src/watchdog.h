/* Between watchdog.c (which decides what to report) and watchdog_stack.c
 * (which takes the loop thread's stack with a signal). Internal. */
#ifndef NL_WATCHDOG_H_
#define NL_WATCHDOG_H_

#define NL__WD_MAX_FRAMES 48

/* A loop thread's stack, symbolized; n is 0 and why says why when it
 * could not be taken. Only the watchdog thread uses one. */
struct nl__wd_stack {
  int n;
  const char* why;
  void* frames[NL__WD_MAX_FRAMES];
  const void* lookup[NL__WD_MAX_FRAMES];  /* address inside the call */
  const char* names[NL__WD_MAX_FRAMES];   /* dladdr's symbol, or NULL */
};

/* Under the watchdog's lock, when the first watched loop opens and the
 * last one closes: the signal handler is in place only meanwhile. */
int nl__wd_stack_install(void);
void nl__wd_stack_uninstall(void);
/* On the watchdog thread: asks thread `tid` for its stack, waits a bounded
 * time for the answer, symbolizes it. */
void nl__wd_stack_take(int tid, struct nl__wd_stack* st);
void nl__wd_stack_after_fork(void);

#endif /* NL_WATCHDOG_H_ */
