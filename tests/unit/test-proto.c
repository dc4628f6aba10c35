/* Frame codec, hello check and typed field access: pure bytes in, objects
 * out, no socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"

/* A frame built by hand (not by proto_encode) so the decoder is checked
 * against the wire format, not against its own encoder. */
static void
frame_n(struct buf *b, uint32_t n, const char *payload, size_t len)
{
	unsigned char h[4] = {(unsigned char)(n >> 24),
	    (unsigned char)(n >> 16), (unsigned char)(n >> 8),
	    (unsigned char)n};

	buf_add(b, h, 4);
	buf_add(b, payload, len);
}

static void
frame(struct buf *b, const char *json)
{
	frame_n(b, (uint32_t)strlen(json), json, strlen(json));
}

static json_t *
parse(const char *text)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);

	assert_non_null(v);
	return v;
}

/* ---- encoding ---- */

static void
test_encode_writes_big_endian_length_then_compact_json(void **state)
{
	struct buf b = BUF_INIT;
	struct err err = ERR_INIT;
	json_t *o = json_pack("{s:i}", "a", 1);

	assert_int_equal(proto_encode(&b, o, &err), 0);
	assert_int_equal(b.len, 4 + 7);
	assert_memory_equal(b.data, "\0\0\0\x07{\"a\":1}", 11);
	assert_int_equal(err.code, ERR_NONE);
	json_decref(o);
	buf_release(&b);
}

static void
test_encode_appends_to_existing_bytes(void **state)
{
	struct buf b = BUF_INIT;
	struct err err = ERR_INIT;
	json_t *o = json_object();

	buf_adds(&b, "xy");
	assert_int_equal(proto_encode(&b, o, &err), 0);
	assert_int_equal(b.len, 2 + 4 + 2);
	assert_memory_equal(b.data, "xy\0\0\0\x02{}", 8);
	json_decref(o);
	buf_release(&b);
}

/* a non-container cannot be a frame; nothing is appended */
static void
test_encode_scalar_fails_and_appends_nothing(void **state)
{
	struct buf b = BUF_INIT;
	struct err err = ERR_INIT;
	json_t *v = json_integer(1);

	assert_int_equal(proto_encode(&b, v, &err), -1);
	assert_int_equal(err.code, ERR_PROTOCOL);
	assert_int_equal(b.len, 0);
	json_decref(v);
	err_release(&err);
	buf_release(&b);
}

static void
test_encode_over_max_frame_fails_and_appends_nothing(void **state)
{
	struct buf b = BUF_INIT;
	struct err err = ERR_INIT;
	size_t n = PROTO_MAX_FRAME;
	char *big = malloc(n);
	json_t *o;

	assert_non_null(big);
	memset(big, 'x', n);
	/* {"s":"xxx..."} is PROTO_MAX_FRAME + 8 bytes */
	o = json_pack("{s:s%}", "s", big, n);
	assert_non_null(o);
	assert_int_equal(proto_encode(&b, o, &err), -1);
	assert_int_equal(err.code, ERR_PROTOCOL);
	assert_non_null(strstr(err.msg.data, "exceeds the limit"));
	assert_int_equal(b.len, 0);
	json_decref(o);
	free(big);
	err_release(&err);
	buf_release(&b);
}

/* ---- decoding ---- */

static void
test_round_trip_gives_an_equal_object(void **state)
{
	struct buf b = BUF_INIT;
	struct proto_reader r = PROTO_READER_INIT;
	struct err err = ERR_INIT;
	json_t *in = parse("{\"cmd\":\"new\",\"id\":9007199254740993,"
	                   "\"neg\":-5,\"f\":1.5,\"ok\":true,\"n\":null,"
	                   "\"argv\":[\"a\",\"b c\",\"\"],"
	                   "\"nested\":{\"x\":{\"y\":[1,{\"z\":false}]}},"
	                   "\"utf8\":\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\"\"}");
	json_t *out = NULL, *none = (json_t *)1;

	assert_int_equal(proto_encode(&b, in, &err), 0);
	proto_feed(&r, b.data, b.len);
	assert_int_equal(proto_next(&r, &out, &err), 1);
	assert_non_null(out);
	assert_true(json_equal(in, out));
	assert_int_equal(
	    json_integer_value(json_object_get(out, "id")), 9007199254740993LL);
	/* the frame was consumed: nothing more to read */
	assert_int_equal(proto_next(&r, &none, &err), 0);
	assert_null(none);
	assert_int_equal(r.in.len, 0);
	assert_false(r.broken);
	json_decref(in);
	json_decref(out);
	buf_release(&b);
	proto_reader_release(&r);
}

/* fed one byte at a time, each frame completes exactly at its last byte */
static void
test_frames_fed_byte_by_byte_complete_at_last_byte(void **state)
{
	struct buf b = BUF_INIT;
	struct proto_reader r = PROTO_READER_INIT;
	struct err err = ERR_INIT;
	const char *f1 = "{\"a\":1}", *f2 = "{\"b\":\"two\"}";
	size_t end1 = 4 + strlen(f1), end2 = end1 + 4 + strlen(f2);
	json_t *out;
	int got = 0;

	frame(&b, f1);
	frame(&b, f2);
	assert_int_equal(b.len, end2);
	for (size_t i = 0; i < b.len; i++) {
		proto_feed(&r, b.data + i, 1);
		int rc = proto_next(&r, &out, &err);
		if (i + 1 == end1) {
			assert_int_equal(rc, 1);
			assert_int_equal(
			    json_integer_value(json_object_get(out, "a")), 1);
			json_decref(out);
			got++;
		} else if (i + 1 == end2) {
			assert_int_equal(rc, 1);
			assert_string_equal(
			    json_string_value(json_object_get(out, "b")),
			    "two");
			json_decref(out);
			got++;
		} else {
			assert_int_equal(rc, 0);
			assert_null(out);
		}
	}
	assert_int_equal(got, 2);
	assert_int_equal(err.code, ERR_NONE);
	buf_release(&b);
	proto_reader_release(&r);
}

/* uneven chunks that cut headers and payloads anywhere keep frame order */
static void
test_frames_split_across_uneven_feeds_decode_in_order(void **state)
{
	struct buf b = BUF_INIT;
	struct proto_reader r = PROTO_READER_INIT;
	struct err err = ERR_INIT;
	json_t *out;
	int next = 0;

	for (int i = 0; i < 20; i++) {
		char text[64];
		snprintf(text, sizeof text, "{\"seq\":%d,\"pad\":\"%.*s\"}", i,
		    i, "abcdefghijklmnopqrstuvwxyz");
		frame(&b, text);
	}
	for (size_t off = 0, step = 1; off < b.len; step = step % 7 + 1) {
		size_t n = b.len - off < step ? b.len - off : step;
		proto_feed(&r, b.data + off, n);
		off += n;
		while (proto_next(&r, &out, &err) == 1) {
			assert_int_equal(
			    json_integer_value(json_object_get(out, "seq")),
			    next);
			next++;
			json_decref(out);
		}
	}
	assert_int_equal(next, 20);
	assert_int_equal(r.in.len, 0);
	buf_release(&b);
	proto_reader_release(&r);
}

static void
test_two_frames_in_one_feed_both_decode(void **state)
{
	struct buf b = BUF_INIT;
	struct proto_reader r = PROTO_READER_INIT;
	struct err err = ERR_INIT;
	json_t *out;

	frame(&b, "{\"n\":1}");
	frame(&b, "{\"n\":2}");
	proto_feed(&r, b.data, b.len);
	assert_int_equal(proto_next(&r, &out, &err), 1);
	assert_int_equal(json_integer_value(json_object_get(out, "n")), 1);
	json_decref(out);
	assert_int_equal(proto_next(&r, &out, &err), 1);
	assert_int_equal(json_integer_value(json_object_get(out, "n")), 2);
	json_decref(out);
	assert_int_equal(proto_next(&r, &out, &err), 0);
	assert_null(out);
	buf_release(&b);
	proto_reader_release(&r);
}

static void
test_partial_header_needs_more_bytes(void **state)
{
	struct proto_reader r = PROTO_READER_INIT;
	struct err err = ERR_INIT;
	json_t *out;

	assert_int_equal(proto_next(&r, &out, &err), 0); /* nothing fed */
	proto_feed(&r, "\0\0\0", 3);
	assert_int_equal(proto_next(&r, &out, &err), 0);
	assert_null(out);
	assert_int_equal(r.in.len, 3); /* kept for the next feed */
	assert_false(r.broken);
	assert_int_equal(err.code, ERR_NONE);
	proto_reader_release(&r);
}

/* A length over PROTO_MAX_FRAME cannot be skipped: the stream is broken,
 * and the reader neither allocates for it nor buffers anything more. */
static void
test_oversized_length_breaks_stream_without_allocating(void **state)
{
	struct proto_reader r = PROTO_READER_INIT;
	struct err err = ERR_INIT;
	unsigned char h[4] = {0xff, 0xff, 0xff, 0xff};
	char junk[100];
	struct buf raw = BUF_INIT;
	json_t *out = (json_t *)1;

	memset(junk, '{', sizeof junk);
	proto_feed(&r, h, 4);
	proto_feed(&r, junk, sizeof junk);
	assert_int_equal(proto_next(&r, &out, &err), -1);
	assert_null(out);
	assert_true(r.broken);
	assert_int_equal(err.code, ERR_PROTOCOL);
	assert_non_null(strstr(err.msg.data, "4294967295"));
	assert_non_null(strstr(err.msg.data, "exceeds"));
	/* the buffered bytes were dropped, nothing of that size exists */
	assert_int_equal(r.in.len, 0);
	assert_true(r.in.alloc < 4096);
	/* later bytes are ignored and every read keeps failing */
	proto_feed(&r, junk, sizeof junk);
	assert_int_equal(r.in.len, 0);
	assert_true(r.in.alloc < 4096);
	err_release(&err);
	assert_int_equal(proto_next(&r, &out, &err), -1);
	assert_int_equal(err.code, ERR_PROTOCOL);
	assert_int_equal(proto_next_raw(&r, &raw, &err), -1);
	assert_int_equal(raw.len, 0);
	err_release(&err);
	proto_reader_release(&r);
	assert_false(r.broken);
}

/* the limit itself is allowed: PROTO_MAX_FRAME waits for more bytes,
 * PROTO_MAX_FRAME + 1 breaks the stream */
static void
test_length_limit_boundary(void **state)
{
	struct proto_reader r = PROTO_READER_INIT;
	struct err err = ERR_INIT;
	json_t *out;
	unsigned char at[4] = {0x01, 0x00, 0x00, 0x00};   /* 16 MiB */
	unsigned char over[4] = {0x01, 0x00, 0x00, 0x01}; /* 16 MiB + 1 */

	assert_int_equal(PROTO_MAX_FRAME, 0x01000000u);
	proto_feed(&r, at, 4);
	assert_int_equal(proto_next(&r, &out, &err), 0);
	assert_false(r.broken);
	proto_reader_release(&r);

	proto_feed(&r, over, 4);
	assert_int_equal(proto_next(&r, &out, &err), -1);
	assert_true(r.broken);
	err_release(&err);
	proto_reader_release(&r);
}

/* invalid JSON drops that frame only: not broken, the next one decodes */
static void
test_invalid_json_is_skipped_and_next_frame_decodes(void **state)
{
	struct buf b = BUF_INIT;
	struct proto_reader r = PROTO_READER_INIT;
	struct err err = ERR_INIT;
	json_t *out = (json_t *)1;

	frame(&b, "{not json");
	frame(&b, "{\"ok\":true}");
	proto_feed(&r, b.data, b.len);
	assert_int_equal(proto_next(&r, &out, &err), -1);
	assert_null(out);
	assert_false(r.broken);
	assert_int_equal(err.code, ERR_PROTOCOL);
	assert_non_null(strstr(err.msg.data, "invalid JSON"));
	assert_int_equal(proto_next(&r, &out, &err), 1);
	assert_true(json_is_true(json_object_get(out, "ok")));
	json_decref(out);
	assert_int_equal(proto_next(&r, &out, &err), 0);
	err_release(&err);
	buf_release(&b);
	proto_reader_release(&r);
}

/* bytes after the object inside one frame make the frame invalid; the
 * frame boundary, not the JSON, decides where the next frame starts */
static void
test_trailing_bytes_in_frame_are_rejected(void **state)
{
	struct buf b = BUF_INIT;
	struct proto_reader r = PROTO_READER_INIT;
	struct err err = ERR_INIT;
	json_t *out;

	frame(&b, "{\"a\":1} {\"b\":2}");
	frame(&b, "{\"c\":3}");
	proto_feed(&r, b.data, b.len);
	assert_int_equal(proto_next(&r, &out, &err), -1);
	assert_false(r.broken);
	assert_int_equal(proto_next(&r, &out, &err), 1);
	assert_non_null(json_object_get(out, "c"));
	json_decref(out);
	err_release(&err);
	buf_release(&b);
	proto_reader_release(&r);
}

static void
test_duplicate_keys_are_rejected(void **state)
{
	struct buf b = BUF_INIT;
	struct proto_reader r = PROTO_READER_INIT;
	struct err err = ERR_INIT;
	json_t *out;

	frame(&b, "{\"a\":1,\"a\":2}");
	proto_feed(&r, b.data, b.len);
	assert_int_equal(proto_next(&r, &out, &err), -1);
	assert_null(out);
	assert_false(r.broken);
	err_release(&err);
	buf_release(&b);
	proto_reader_release(&r);
}

static void
test_empty_frame_is_invalid_but_not_fatal(void **state)
{
	struct buf b = BUF_INIT;
	struct proto_reader r = PROTO_READER_INIT;
	struct err err = ERR_INIT;
	json_t *out;

	frame_n(&b, 0, "", 0);
	frame(&b, "{}");
	proto_feed(&r, b.data, b.len);
	assert_int_equal(proto_next(&r, &out, &err), -1);
	assert_false(r.broken);
	assert_int_equal(proto_next(&r, &out, &err), 1);
	assert_int_equal(json_object_size(out), 0);
	json_decref(out);
	err_release(&err);
	buf_release(&b);
	proto_reader_release(&r);
}

/* valid JSON that is not an object is an error and is skipped */
static void
test_non_object_json_is_rejected(void **state)
{
	static const char *const bad[] = {
	    "[1,2]", "[]", "\"str\"", "42", "true", "null"};
	struct buf b = BUF_INIT;
	struct proto_reader r = PROTO_READER_INIT;
	struct err err = ERR_INIT;
	json_t *out = (json_t *)1;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		frame(&b, bad[i]);
	frame(&b, "{\"last\":1}");
	proto_feed(&r, b.data, b.len);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(proto_next(&r, &out, &err), -1);
		assert_null(out);
		assert_int_equal(err.code, ERR_PROTOCOL);
		assert_false(r.broken);
		if (i == 0)
			assert_non_null(
			    strstr(err.msg.data, "expected a JSON object"));
	}
	assert_int_equal(proto_next(&r, &out, &err), 1);
	assert_non_null(json_object_get(out, "last"));
	json_decref(out);
	err_release(&err);
	buf_release(&b);
	proto_reader_release(&r);
}

static void
test_next_raw_returns_the_payload_unparsed(void **state)
{
	struct buf b = BUF_INIT, raw = BUF_INIT;
	struct proto_reader r = PROTO_READER_INIT;
	struct err err = ERR_INIT;

	frame(&b, "{\"x\": [1, 2]}");
	frame(&b, "not json at all");
	proto_feed(&r, b.data, b.len - 1);
	assert_int_equal(proto_next_raw(&r, &raw, &err), 1);
	assert_string_equal(raw.data, "{\"x\": [1, 2]}");
	buf_reset(&raw);
	assert_int_equal(proto_next_raw(&r, &raw, &err), 0);
	assert_int_equal(raw.len, 0);
	proto_feed(&r, b.data + b.len - 1, 1);
	assert_int_equal(proto_next_raw(&r, &raw, &err), 1);
	assert_string_equal(raw.data, "not json at all");
	assert_int_equal(r.in.len, 0);
	buf_release(&raw);
	buf_release(&b);
	proto_reader_release(&r);
}

/* ---- hello ---- */

/* The host protocol moves on its own: a newer galley adopts hosts that
 * said only "protocol": 1 (before host_protocol existed), agrees on the
 * lower version with a newer host, and refuses one older than it can
 * adopt, saying which. */
static void
test_host_hello_is_versioned_on_its_own(void **state)
{
	struct err err = ERR_INIT;
	int agreed = -1;
	json_t *h = proto_host_hello();

	assert_int_equal(proto_check_host_hello(h, &agreed, &err), 0);
	assert_int_equal(agreed, HOST_PROTO_VERSION);
	/* an old host's hello is the CLI hello of then */
	json_t *old = json_pack("{s:s, s:i, s:s}", "hello", "galley",
	    "protocol", 1, "version", "0.0.9");
	assert_int_equal(proto_check_host_hello(old, &agreed, &err), 0);
	assert_int_equal(agreed, 1);
	/* a newer host: the lower version; its CLI protocol does not matter */
	json_t *newer = json_pack("{s:s, s:i, s:i}", "hello", "galley",
	    "protocol", 7, "host_protocol", HOST_PROTO_VERSION + 5);
	assert_int_equal(proto_check_host_hello(newer, &agreed, &err), 0);
	assert_int_equal(agreed, HOST_PROTO_VERSION);
	json_t *ancient = json_pack("{s:s, s:i}", "hello", "galley",
	    "host_protocol", HOST_PROTO_MIN - 1);
	assert_int_equal(proto_check_host_hello(ancient, &agreed, &err), -1);
	assert_int_equal(err.code, ERR_PROTOCOL);
	assert_non_null(strstr(err.msg.data, "older than this galley"));
	err_release(&err);
	json_t *none = json_pack("{s:s}", "hello", "galley");
	assert_int_equal(proto_check_host_hello(none, &agreed, &err), -1);
	err_release(&err);
	/* old hosts check "protocol" == 1 of whoever greets them */
	assert_int_equal(json_integer_value(json_object_get(h, "protocol")), 1);
	json_decref(h);
	json_decref(old);
	json_decref(newer);
	json_decref(ancient);
	json_decref(none);
}

static void
test_hello_passes_its_own_check(void **state)
{
	struct err err = ERR_INIT;
	json_t *h = proto_hello();

	assert_string_equal(
	    json_string_value(json_object_get(h, "hello")), "galley");
	assert_int_equal(
	    json_integer_value(json_object_get(h, "protocol")), PROTO_VERSION);
	assert_string_equal(
	    json_string_value(json_object_get(h, "version")), GALLEY_VERSION);
	assert_int_equal(proto_check_hello(h, &err), 0);
	assert_int_equal(err.code, ERR_NONE);
	json_decref(h);
}

static void
test_hello_wrong_version_names_both_versions(void **state)
{
	struct err err = ERR_INIT;
	json_t *h = proto_hello();
	char theirs[64], ours[64];

	json_object_set_new(h, "protocol", json_integer(PROTO_VERSION + 41));
	assert_int_equal(proto_check_hello(h, &err), -1);
	assert_int_equal(err.code, ERR_PROTOCOL);
	snprintf(theirs, sizeof theirs, "protocol %d", PROTO_VERSION + 41);
	snprintf(ours, sizeof ours, "speaks %d", PROTO_VERSION);
	assert_non_null(strstr(err.msg.data, theirs));
	assert_non_null(strstr(err.msg.data, ours));
	json_decref(h);
	err_release(&err);
}

static void
test_hello_from_something_else_is_rejected(void **state)
{
	struct err err = ERR_INIT;
	json_t *h = proto_hello();

	json_object_set_new(h, "hello", json_string("tmux"));
	assert_int_equal(proto_check_hello(h, &err), -1);
	assert_int_equal(err.code, ERR_PROTOCOL);
	assert_non_null(strstr(err.msg.data, "not a galley"));
	json_object_set_new(h, "hello", json_integer(1));
	assert_int_equal(proto_check_hello(h, &err), -1);
	json_object_del(h, "hello");
	assert_int_equal(proto_check_hello(h, &err), -1);
	assert_non_null(strstr(err.msg.data, "not a galley"));
	json_decref(h);
	err_release(&err);
}

static void
test_hello_without_protocol_is_rejected(void **state)
{
	struct err err = ERR_INIT;
	json_t *h = proto_hello();

	json_object_del(h, "protocol");
	assert_int_equal(proto_check_hello(h, &err), -1);
	assert_int_equal(err.code, ERR_PROTOCOL);
	assert_non_null(strstr(err.msg.data, "no protocol version"));
	/* "1" is not 1 */
	json_object_set_new(h, "protocol", json_string("1"));
	assert_int_equal(proto_check_hello(h, &err), -1);
	assert_non_null(strstr(err.msg.data, "no protocol version"));
	json_decref(h);
	err_release(&err);
}

/* ---- typed getters ---- */

static void
test_get_str_right_type(void **state)
{
	struct err err = ERR_INIT;
	json_t *o = parse("{\"s\":\"x y\",\"e\":\"\"}");
	const char *s = NULL;

	assert_int_equal(proto_get_str(o, "s", &s, &err), 0);
	assert_string_equal(s, "x y");
	assert_int_equal(proto_get_str(o, "e", &s, &err), 0);
	assert_string_equal(s, "");
	assert_int_equal(err.code, ERR_NONE);
	json_decref(o);
}

static void
test_get_str_wrong_type_is_usage_error(void **state)
{
	static const char *const bad[] = {"i", "b", "a", "o", "f"};
	struct err err = ERR_INIT;
	json_t *o =
	    parse("{\"i\":3,\"b\":true,\"a\":[\"x\"],\"o\":{},\"f\":1.5}");
	const char *s;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err_release(&err);
		assert_int_equal(proto_get_str(o, bad[i], &s, &err), -1);
		assert_int_equal(err.code, ERR_USAGE);
		assert_non_null(strstr(err.msg.data, "must be a string"));
	}
	json_decref(o);
	err_release(&err);
}

static void
test_get_str_absent_or_null_gives_null(void **state)
{
	struct err err = ERR_INIT;
	json_t *o = parse("{\"n\":null}");
	const char *s = "unchanged";

	assert_int_equal(proto_get_str(o, "missing", &s, &err), 0);
	assert_null(s);
	s = "unchanged";
	assert_int_equal(proto_get_str(o, "n", &s, &err), 0);
	assert_null(s);
	assert_int_equal(err.code, ERR_NONE);
	json_decref(o);
}

/* a NUL inside a string would silently truncate it in C: refused, and the
 * caller is not handed the truncated string */
static void
test_get_str_with_embedded_nul_is_rejected(void **state)
{
	struct err err = ERR_INIT;
	json_t *o = json_object();
	const char *s = "unchanged";

	json_object_set_new(o, "nul", json_stringn("rm\0-rf", 6));
	assert_int_equal(proto_get_str(o, "nul", &s, &err), -1);
	assert_int_equal(err.code, ERR_USAGE);
	assert_non_null(strstr(err.msg.data, "NUL"));
	assert_null(s);
	json_decref(o);
	err_release(&err);
}

static void
test_get_int_right_wrong_and_absent(void **state)
{
	struct err err = ERR_INIT;
	json_t *o = parse("{\"i\":-7,\"big\":9007199254740993,\"s\":\"3\","
	                  "\"f\":3.0,\"b\":true,\"n\":null}");
	json_int_t i = 0;

	assert_int_equal(proto_get_int(o, "i", &i, &err), 0);
	assert_int_equal(i, -7);
	assert_int_equal(proto_get_int(o, "big", &i, &err), 0);
	assert_true(i == 9007199254740993LL);
	assert_int_equal(err.code, ERR_NONE);
	for (const char *const *k = (const char *const[]){"s", "f", "b", NULL};
	     *k; k++) {
		i = 42;
		err_release(&err);
		assert_int_equal(proto_get_int(o, *k, &i, &err), -1);
		assert_int_equal(err.code, ERR_USAGE);
		assert_non_null(strstr(err.msg.data, "must be an integer"));
		assert_int_equal(i, 42);
	}
	err_release(&err);
	i = 42;
	assert_int_equal(proto_get_int(o, "missing", &i, &err), 0);
	assert_int_equal(i, 42); /* absent: the caller's default stays */
	assert_int_equal(proto_get_int(o, "n", &i, &err), 0);
	assert_int_equal(i, 42);
	assert_int_equal(err.code, ERR_NONE);
	json_decref(o);
}

static void
test_get_bool_right_wrong_and_absent(void **state)
{
	struct err err = ERR_INIT;
	json_t *o = parse("{\"t\":true,\"f\":false,\"one\":1,\"s\":\"true\"}");
	int b = -1;

	assert_int_equal(proto_get_bool(o, "t", &b, &err), 0);
	assert_int_equal(b, 1);
	assert_int_equal(proto_get_bool(o, "f", &b, &err), 0);
	assert_int_equal(b, 0);
	b = -1;
	assert_int_equal(proto_get_bool(o, "one", &b, &err), -1);
	assert_int_equal(err.code, ERR_USAGE);
	assert_non_null(strstr(err.msg.data, "must be a boolean"));
	assert_int_equal(b, -1);
	err_release(&err);
	assert_int_equal(proto_get_bool(o, "s", &b, &err), -1);
	assert_int_equal(err.code, ERR_USAGE);
	err_release(&err);
	assert_int_equal(proto_get_bool(o, "missing", &b, &err), 0);
	assert_int_equal(b, -1);
	assert_int_equal(err.code, ERR_NONE);
	json_decref(o);
}

static void
test_get_strv_right_wrong_and_absent(void **state)
{
	static const char *const bad[] = {"mixed", "str", "obj", "nested"};
	struct err err = ERR_INIT;
	json_t *o = parse("{\"v\":[\"a\",\"b\"],\"empty\":[],"
	                  "\"mixed\":[\"a\",1],\"str\":\"a,b\",\"obj\":{},"
	                  "\"nested\":[[\"a\"]],\"n\":null}");
	json_t *v = (json_t *)1;

	assert_int_equal(proto_get_strv(o, "v", &v, &err), 0);
	assert_ptr_equal(v, json_object_get(o, "v")); /* borrowed */
	assert_int_equal(json_array_size(v), 2);
	assert_string_equal(json_string_value(json_array_get(v, 1)), "b");
	assert_int_equal(proto_get_strv(o, "empty", &v, &err), 0);
	assert_non_null(v);
	assert_int_equal(json_array_size(v), 0);
	assert_int_equal(err.code, ERR_NONE);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		v = (json_t *)1;
		err_release(&err);
		assert_int_equal(proto_get_strv(o, bad[i], &v, &err), -1);
		assert_int_equal(err.code, ERR_USAGE);
		assert_non_null(strstr(err.msg.data, "array of strings"));
		assert_null(v);
	}
	err_release(&err);
	v = (json_t *)1;
	assert_int_equal(proto_get_strv(o, "missing", &v, &err), 0);
	assert_null(v);
	v = (json_t *)1;
	assert_int_equal(proto_get_strv(o, "n", &v, &err), 0);
	assert_null(v);
	/* one element with a NUL spoils the array */
	json_array_append_new(json_object_get(o, "v"), json_stringn("x\0y", 3));
	assert_int_equal(proto_get_strv(o, "v", &v, &err), -1);
	assert_int_equal(err.code, ERR_USAGE);
	assert_null(v);
	json_decref(o);
	err_release(&err);
}

/* ---- replies ---- */

static void
test_error_reply_shape(void **state)
{
	struct buf b = BUF_INIT;
	struct proto_reader r = PROTO_READER_INIT;
	struct err err = ERR_INIT;
	json_t *e = proto_error(42, ERR_NOT_FOUND, "no session 'x'"), *out;
	json_t *want = parse("{\"id\":42,\"ok\":false,\"error\":"
	                     "{\"code\":\"not_found\","
	                     "\"message\":\"no session 'x'\"}}");

	assert_non_null(e);
	assert_true(json_equal(e, want));
	assert_true(json_is_false(json_object_get(e, "ok")));
	json_decref(e);
	/* the word for every code is the one err_word gives, and the reply
	 * survives the wire */
	e = proto_error(7, ERR_UNREACHABLE, "daemon is gone");
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(e, "error"), "code")),
	    "unreachable");
	assert_int_equal(proto_encode(&b, e, &err), 0);
	proto_feed(&r, b.data, b.len);
	assert_int_equal(proto_next(&r, &out, &err), 1);
	assert_true(json_equal(e, out));
	json_decref(out);
	json_decref(e);
	json_decref(want);
	buf_release(&b);
	proto_reader_release(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
	        test_encode_writes_big_endian_length_then_compact_json),
	    cmocka_unit_test(test_encode_appends_to_existing_bytes),
	    cmocka_unit_test(test_encode_scalar_fails_and_appends_nothing),
	    cmocka_unit_test(
	        test_encode_over_max_frame_fails_and_appends_nothing),
	    cmocka_unit_test(test_round_trip_gives_an_equal_object),
	    cmocka_unit_test(
	        test_frames_fed_byte_by_byte_complete_at_last_byte),
	    cmocka_unit_test(
	        test_frames_split_across_uneven_feeds_decode_in_order),
	    cmocka_unit_test(test_two_frames_in_one_feed_both_decode),
	    cmocka_unit_test(test_partial_header_needs_more_bytes),
	    cmocka_unit_test(
	        test_oversized_length_breaks_stream_without_allocating),
	    cmocka_unit_test(test_length_limit_boundary),
	    cmocka_unit_test(
	        test_invalid_json_is_skipped_and_next_frame_decodes),
	    cmocka_unit_test(test_trailing_bytes_in_frame_are_rejected),
	    cmocka_unit_test(test_duplicate_keys_are_rejected),
	    cmocka_unit_test(test_empty_frame_is_invalid_but_not_fatal),
	    cmocka_unit_test(test_non_object_json_is_rejected),
	    cmocka_unit_test(test_next_raw_returns_the_payload_unparsed),
	    cmocka_unit_test(test_hello_passes_its_own_check),
	    cmocka_unit_test(test_host_hello_is_versioned_on_its_own),
	    cmocka_unit_test(test_hello_wrong_version_names_both_versions),
	    cmocka_unit_test(test_hello_from_something_else_is_rejected),
	    cmocka_unit_test(test_hello_without_protocol_is_rejected),
	    cmocka_unit_test(test_get_str_right_type),
	    cmocka_unit_test(test_get_str_wrong_type_is_usage_error),
	    cmocka_unit_test(test_get_str_absent_or_null_gives_null),
	    cmocka_unit_test(test_get_str_with_embedded_nul_is_rejected),
	    cmocka_unit_test(test_get_int_right_wrong_and_absent),
	    cmocka_unit_test(test_get_bool_right_wrong_and_absent),
	    cmocka_unit_test(test_get_strv_right_wrong_and_absent),
	    cmocka_unit_test(test_error_reply_shape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
