/* nodeloop: Linux-specific parts of the private loop state. */
#ifndef UV_LINUX_H_
#define UV_LINUX_H_

/* The loop's file watching state (inotify); see src/linux/fs_event.c. */
#define UV__LOOP_LINUX_FIELDS \
  int inotify_fd; \
  void* inotify_watchers;

#endif /* UV_LINUX_H_ */
