/* Intrusive circular doubly linked lists (struct uv__queue, declared in
 * uv/unix.h because public structures embed it). All operations are O(1).
 * A node that is not on any list is kept self-linked, so removing it twice
 * is harmless and uv__queue_linked() can tell.
 */
#ifndef NL_QUEUE_H_
#define NL_QUEUE_H_

#include <stddef.h>
#include "uv.h"

#define uv__container_of(ptr, type, member) \
  ((type*) ((char*) (ptr) - offsetof(type, member)))

static inline void uv__queue_init(struct uv__queue* q) {
  q->next = q;
  q->prev = q;
}

static inline int uv__queue_empty(const struct uv__queue* q) {
  return q->next == q;
}

/* A self-linked node is on no list. */
static inline int uv__queue_linked(const struct uv__queue* q) {
  return q->next != q;
}

static inline struct uv__queue* uv__queue_head(const struct uv__queue* q) {
  return q->next;
}

static inline struct uv__queue* uv__queue_next(const struct uv__queue* q) {
  return q->next;
}

static inline void uv__queue_insert_tail(struct uv__queue* h,
                                         struct uv__queue* q) {
  q->next = h;
  q->prev = h->prev;
  q->prev->next = q;
  h->prev = q;
}

static inline void uv__queue_insert_head(struct uv__queue* h,
                                         struct uv__queue* q) {
  q->next = h->next;
  q->prev = h;
  q->next->prev = q;
  h->next = q;
}

/* Inserts q right after the list element `at`. */
static inline void uv__queue_insert_after(struct uv__queue* at,
                                          struct uv__queue* q) {
  uv__queue_insert_head(at, q);
}

static inline void uv__queue_remove(struct uv__queue* q) {
  q->prev->next = q->next;
  q->next->prev = q->prev;
  q->next = q;
  q->prev = q;
}

/* Moves every element of h to the (empty) list n; h becomes empty. */
static inline void uv__queue_move(struct uv__queue* h, struct uv__queue* n) {
  if (uv__queue_empty(h)) {
    uv__queue_init(n);
    return;
  }
  n->next = h->next;
  n->prev = h->prev;
  n->next->prev = n;
  n->prev->next = n;
  uv__queue_init(h);
}

/* The public structures spell their queue heads `void* [2]`; this views one
 * as the list head it is. */
static inline struct uv__queue* uv__queue_of(void* field[2]) {
  return (struct uv__queue*) field;
}

#endif /* NL_QUEUE_H_ */
