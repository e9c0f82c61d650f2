/* What uv_getaddrinfo() (getaddrinfo.c) and uv_getnameinfo() (getnameinfo.c)
 * share: the translation of the C library's EAI_* codes.
 */
#ifndef NL_DNS_H_
#define NL_DNS_H_

/* The UV_EAI_* code for a getaddrinfo(3)/getnameinfo(3) result; 0 stays 0.
 * EAI_SYSTEM is not handled here: its meaning is in errno, which the
 * caller turns into a code right after the failing call. */
int uv__eai_error(int eai_code);

#endif /* NL_DNS_H_ */
