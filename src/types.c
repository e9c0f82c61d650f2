/* The type tables: names and sizes of every handle and request type. */
#include "internal.h"

size_t uv_handle_size(uv_handle_type type) {
  switch (type) {
#define UV__SIZE_CASE(uc, lc) case UV_##uc: return sizeof(uv_##lc##_t);
    UV_HANDLE_TYPE_MAP(UV__SIZE_CASE)
#undef UV__SIZE_CASE
    default:
      return (size_t) -1;
  }
}

size_t uv_req_size(uv_req_type type) {
  switch (type) {
#define UV__SIZE_CASE(uc, lc) case UV_##uc: return sizeof(uv_##lc##_t);
    UV_REQ_TYPE_MAP(UV__SIZE_CASE)
#undef UV__SIZE_CASE
    default:
      return (size_t) -1;
  }
}

size_t uv_loop_size(void) {
  return sizeof(uv_loop_t);
}

const char* uv_handle_type_name(uv_handle_type type) {
  switch (type) {
#define UV__NAME_CASE(uc, lc) case UV_##uc: return #lc;
    UV_HANDLE_TYPE_MAP(UV__NAME_CASE)
#undef UV__NAME_CASE
    case UV_FILE:
      return "file";
    default:
      return NULL;
  }
}

const char* uv_req_type_name(uv_req_type type) {
  switch (type) {
#define UV__NAME_CASE(uc, lc) case UV_##uc: return #lc;
    UV_REQ_TYPE_MAP(UV__NAME_CASE)
#undef UV__NAME_CASE
    default:
      return NULL;
  }
}

uv_buf_t uv_buf_init(char* base, unsigned int len) {
  uv_buf_t buf;
  buf.base = base;
  buf.len = len;
  return buf;
}
