/* Timers: an intrusive min-heap of timer groups, ordered by (due time,
 * start order).
 *
 * Programs often start many timers with the same due time in a row (one
 * timeout for every connection of a burst). Such a run forms a group: only
 * the first timer sits in the heap; the others hang off it in a list, in
 * start order. Starting a timer that joins the group of the previous start
 * is O(1); so is running or stopping a group member. Only the heap
 * operations on group heads cost O(log g), with g the number of groups.
 *
 * Why the order stays exact: a group only grows while its last member is
 * the most recently started timer, so every group holds a contiguous run of
 * start numbers. Ordering heads by (due, start number) therefore orders all
 * timers by (due, start number), and promoting a head's successor keeps
 * its place in the heap.
 *
 * Nothing here allocates; all links live in the caller's uv_timer_t.
 */
#include "internal.h"
#include "dispatch.h"

#include <limits.h>

static struct uv__queue* group_node(uv_timer_t* t) {
  return &t->u.timer.group;
}

static uv_timer_t* group_timer(struct uv__queue* q) {
  return uv__container_of(q, uv_timer_t, u.timer.group);
}

static int timer_less(const uv_timer_t* a, const uv_timer_t* b) {
  if (a->timeout != b->timeout)
    return a->timeout < b->timeout;
  return a->start_id < b->start_id;
}

/* ---------------------------------------------------------------------
 * The heap: a complete binary tree of heads, linked by pointers. The path
 * to position n (1-based) is spelled by the bits of n below its top bit.
 */

/* Returns the link that holds (or will hold) the node at position pos,
 * and its parent in *parent. */
static uv_timer_t** heap_link(uv_loop_t* loop, unsigned int pos,
                              uv_timer_t** parent) {
  uv_timer_t** link = &loop->timer_heap_min;
  int bit = 31 - __builtin_clz(pos);

  *parent = NULL;
  while (bit-- > 0) {
    *parent = *link;
    link = (pos >> bit) & 1 ? &(*link)->heap_right : &(*link)->heap_left;
  }
  return link;
}

/* Points whatever pointed at `old` (its parent's child link or the root)
 * at `node`. */
static void heap_relink_parent(uv_loop_t* loop, uv_timer_t* parent,
                               uv_timer_t* old, uv_timer_t* node) {
  if (parent == NULL)
    loop->timer_heap_min = node;
  else if (parent->heap_left == old)
    parent->heap_left = node;
  else
    parent->heap_right = node;
}

/* Exchanges a node with its parent. */
static void heap_swap_up(uv_loop_t* loop, uv_timer_t* child) {
  uv_timer_t* parent = child->heap_parent;
  uv_timer_t* left = child->heap_left;
  uv_timer_t* right = child->heap_right;
  uv_timer_t* sibling;

  if (parent->heap_left == child) {
    sibling = parent->heap_right;
    child->heap_left = parent;
    child->heap_right = sibling;
  } else {
    sibling = parent->heap_left;
    child->heap_left = sibling;
    child->heap_right = parent;
  }
  if (sibling != NULL)
    sibling->heap_parent = child;

  child->heap_parent = parent->heap_parent;
  heap_relink_parent(loop, child->heap_parent, parent, child);

  parent->heap_parent = child;
  parent->heap_left = left;
  parent->heap_right = right;
  if (left != NULL)
    left->heap_parent = parent;
  if (right != NULL)
    right->heap_parent = parent;
}

static void heap_sift_up(uv_loop_t* loop, uv_timer_t* node) {
  while (node->heap_parent != NULL && timer_less(node, node->heap_parent))
    heap_swap_up(loop, node);
}

static void heap_sift_down(uv_loop_t* loop, uv_timer_t* node) {
  uv_timer_t* smallest;

  for (;;) {
    smallest = node;
    if (node->heap_left != NULL && timer_less(node->heap_left, smallest))
      smallest = node->heap_left;
    if (node->heap_right != NULL && timer_less(node->heap_right, smallest))
      smallest = node->heap_right;
    if (smallest == node)
      return;
    heap_swap_up(loop, smallest);
  }
}

static void heap_insert(uv_loop_t* loop, uv_timer_t* node) {
  uv_timer_t* parent;
  uv_timer_t** link;

  node->heap_left = NULL;
  node->heap_right = NULL;
  link = heap_link(loop, ++loop->timer_heap_count, &parent);
  *link = node;
  node->heap_parent = parent;
  heap_sift_up(loop, node);
}

/* Puts `node` exactly where `old` is. */
static void heap_replace(uv_loop_t* loop, uv_timer_t* old, uv_timer_t* node) {
  node->heap_parent = old->heap_parent;
  node->heap_left = old->heap_left;
  node->heap_right = old->heap_right;
  if (node->heap_left != NULL)
    node->heap_left->heap_parent = node;
  if (node->heap_right != NULL)
    node->heap_right->heap_parent = node;
  heap_relink_parent(loop, node->heap_parent, old, node);
}

static void heap_remove(uv_loop_t* loop, uv_timer_t* node) {
  uv_timer_t* parent;
  uv_timer_t** link;
  uv_timer_t* last;

  /* Detach the last node, then let it take node's place. */
  link = heap_link(loop, loop->timer_heap_count--, &parent);
  last = *link;
  *link = NULL;
  if (last != node) {
    heap_replace(loop, node, last);
    if (last->heap_parent != NULL && timer_less(last, last->heap_parent))
      heap_sift_up(loop, last);
    else
      heap_sift_down(loop, last);
  }
  node->heap_parent = NULL;
  node->heap_left = NULL;
  node->heap_right = NULL;
}

/* ---------------------------------------------------------------------
 * Groups on top of the heap.
 */
static void timer_insert(uv_loop_t* loop, uv_timer_t* t) {
  uv_timer_t* last = loop->timer_last;

  t->start_id = loop->timer_counter++;
  uv__queue_init(group_node(t));
  if (last != NULL && last->timeout == t->timeout) {
    uv__queue_insert_after(group_node(last), group_node(t));
    t->flags |= UV__TIMER_GROUPED;
  } else {
    t->flags &= ~UV__TIMER_GROUPED;
    heap_insert(loop, t);
  }
  loop->timer_last = t;
}

static void timer_remove(uv_loop_t* loop, uv_timer_t* t) {
  struct uv__queue* next;

  if (loop->timer_last == t)
    loop->timer_last = NULL;
  if (t->flags & UV__TIMER_GROUPED) {
    uv__queue_remove(group_node(t));
    t->flags &= ~UV__TIMER_GROUPED;
    return;
  }
  if (uv__queue_linked(group_node(t))) {
    /* The successor has the same due time and the next start number: it
     * takes the head's place in the heap without moving. */
    next = uv__queue_next(group_node(t));
    uv__queue_remove(group_node(t));
    group_timer(next)->flags &= ~UV__TIMER_GROUPED;
    heap_replace(loop, t, group_timer(next));
    t->heap_parent = t->heap_left = t->heap_right = NULL;
  } else {
    heap_remove(loop, t);
  }
}

/* ---------------------------------------------------------------------
 * The API.
 */
int uv_timer_init(uv_loop_t* loop, uv_timer_t* handle) {
  if (loop == NULL || handle == NULL)
    return UV_EINVAL;
  uv__handle_init(loop, (uv_handle_t*) handle, UV_TIMER);
  handle->timer_cb = NULL;
  handle->timeout = 0;
  handle->repeat = 0;
  handle->heap_parent = NULL;
  handle->heap_left = NULL;
  handle->heap_right = NULL;
  handle->start_id = 0;
  uv__queue_init(group_node(handle));
  return 0;
}

static int is_timer(const uv_timer_t* handle) {
  return handle != NULL && handle->type == UV_TIMER;
}

int uv_timer_start(uv_timer_t* handle, uv_timer_cb cb, uint64_t timeout,
                   uint64_t repeat) {
  uv_loop_t* loop;
  uint64_t due;

  if (!is_timer(handle) || cb == NULL || uv__is_closing((uv_handle_t*) handle))
    return UV_EINVAL;
  loop = handle->loop;
  if (uv__is_active((uv_handle_t*) handle))
    timer_remove(loop, handle);

  due = loop->time + timeout;
  if (due < timeout)
    due = UINT64_MAX;   /* saturate instead of wrapping into the past */

  handle->timer_cb = cb;
  handle->timeout = due;
  handle->repeat = repeat;
  timer_insert(loop, handle);
  uv__handle_start((uv_handle_t*) handle);
  return 0;
}

int uv_timer_stop(uv_timer_t* handle) {
  if (!is_timer(handle))
    return UV_EINVAL;
  if (!uv__is_active((uv_handle_t*) handle))
    return 0;
  timer_remove(handle->loop, handle);
  uv__handle_stop((uv_handle_t*) handle);
  return 0;
}

int uv_timer_again(uv_timer_t* handle) {
  if (!is_timer(handle) || handle->timer_cb == NULL)
    return UV_EINVAL;
  if (handle->repeat != 0) {
    uv_timer_stop(handle);
    return uv_timer_start(handle, handle->timer_cb, handle->repeat,
                          handle->repeat);
  }
  return 0;
}

void uv_timer_set_repeat(uv_timer_t* handle, uint64_t repeat) {
  if (is_timer(handle))
    handle->repeat = repeat;
}

uint64_t uv_timer_get_repeat(const uv_timer_t* handle) {
  return is_timer(handle) ? handle->repeat : 0;
}

uint64_t uv_timer_get_due_in(const uv_timer_t* handle) {
  if (!is_timer(handle) || handle->loop->time >= handle->timeout)
    return 0;
  return handle->timeout - handle->loop->time;
}

/* The type is known here: no checks, and no call through the exported
 * uv_timer_stop (closing ten million timers shows it). */
void uv__timer_close(uv_timer_t* handle) {
  if (uv__is_active((uv_handle_t*) handle)) {
    timer_remove(handle->loop, handle);
    uv__handle_stop((uv_handle_t*) handle);
  }
}

/* ---------------------------------------------------------------------
 * The timers phase.
 */
int uv__next_timeout(const uv_loop_t* loop) {
  const uv_timer_t* min = loop->timer_heap_min;
  uint64_t diff;

  if (min == NULL)
    return -1;
  if (min->timeout <= loop->time)
    return 0;
  diff = min->timeout - loop->time;
  return diff > INT_MAX ? INT_MAX : (int) diff;
}

/* Runs every timer that is due, in (due, start) order. A timer started
 * while this runs, including one re-armed from its own callback with
 * timeout 0, waits for the next pass: one pass can never spin forever. */
static inline __attribute__((always_inline)) void run_timers(
    uv_loop_t* loop, struct nl__obs* o) {
  uint64_t limit = loop->timer_counter;
  uv_timer_t* t;

  for (;;) {
    t = loop->timer_heap_min;
    if (t == NULL || t->timeout > loop->time || t->start_id >= limit)
      return;
    /* Lateness is measured against this due time, which a repeating
     * timer's restart below replaces. */
    if (o != NULL)
      o->timer_due = t->timeout;
    uv_timer_stop(t);
    if (t->repeat != 0)
      uv_timer_start(t, t->timer_cb, t->repeat, t->repeat);
    uv__dispatch_timer(t, o);
  }
}

void uv__run_timers(uv_loop_t* loop) {
  run_timers(loop, NULL);
}

void uv__run_timers_observed(uv_loop_t* loop, struct nl__obs* o) {
  run_timers(loop, o);
}
