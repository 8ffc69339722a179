/*
 * floe_text — the one rule for text that crosses a boundary (the bus, Redis, PostgreSQL,
 * logs, error messages): it is well-formed UTF-8 without NUL, and it is cut only between
 * characters. PostgreSQL rejects a broken sequence (SQLSTATE 22021), and one such string
 * stuck in a record the engine must write would stop the engine (review finding C2), so
 * every place that shortens or formats text into a fixed buffer goes through here.
 */
#ifndef FLOE_TEXT_H
#define FLOE_TEXT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF) without NUL bytes. */
bool floe_utf8_valid(const char *s, size_t len);

/* s without leading and trailing white space (cut in place: the end is overwritten). */
char *floe_text_trim(char *s);

/* No control characters (bytes below 0x20 and DEL); UTF-8 beyond ASCII is allowed. */
bool floe_text_printable(const char *s, size_t n);

/* The longest prefix of s[0..len) of at most max bytes that does not end inside a
 * character: a multi-byte sequence that would be split is left out whole. */
size_t floe_text_cut(const char *s, size_t len, size_t max);

/* Repairs s[0..len) in place: every byte that does not start a well-formed sequence
 * becomes '?', an incomplete sequence at the very end is dropped. Returns the new length
 * (<= len) and writes a NUL there; the result is valid UTF-8. */
size_t floe_text_fix(char *s, size_t len);

/* Copies s[0..len) into out (cap > 0 bytes, NUL-terminated), repaired as by floe_text_fix
 * and cut on a character boundary. Returns the length written. */
size_t floe_text_copy(char *out, size_t cap, const char *s, size_t len);

/* snprintf into out (cap > 0) whose result is always valid UTF-8 cut on a character
 * boundary, whatever the arguments held. Returns the length written. */
size_t floe_text_fmt(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
size_t floe_text_vfmt(char *out, size_t cap, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
