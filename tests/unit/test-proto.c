/* Frame codec and hello check: pure bytes in, objects out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"

static void
frame(struct buf *b, const char *json)
{
	uint32_t n = (uint32_t)strlen(json);
	unsigned char h[4] = {(unsigned char)(n >> 24),
	    (unsigned char)(n >> 16), (unsigned char)(n >> 8),
	    (unsigned char)n};

	buf_add(b, h, 4);
	buf_add(b, json, n);
}

/* an encoded object decodes to an equal object */
static void
test_round_trip(void **state)
{
	struct buf b = BUF_INIT;
	struct proto_reader r = PROTO_READER_INIT;
	struct err err = ERR_INIT;
	json_t *in = json_pack("{s:s, s:i}", "cmd", "ls", "id", 7), *out, *none;

	assert_int_equal(proto_encode(&b, in, &err), 0);
	proto_feed(&r, b.data, b.len);
	assert_int_equal(proto_next(&r, &out, &err), 1);
	assert_true(json_equal(in, out));
	assert_int_equal(proto_next(&r, &none, &err), 0);
	assert_null(none);
	json_decref(in);
	json_decref(out);
	buf_release(&b);
	proto_reader_release(&r);
}

/* a frame fed one byte at a time completes only at its last byte */
static void
test_byte_by_byte(void **state)
{
	struct buf b = BUF_INIT;
	struct proto_reader r = PROTO_READER_INIT;
	struct err err = ERR_INIT;
	json_t *out = NULL;

	frame(&b, "{\"a\":1}");
	frame(&b, "{\"b\":2}");
	int got = 0;
	for (size_t i = 0; i < b.len; i++) {
		proto_feed(&r, b.data + i, 1);
		while (proto_next(&r, &out, &err) == 1) {
			got++;
			assert_non_null(
			    json_object_get(out, got == 1 ? "a" : "b"));
			json_decref(out);
		}
	}
	assert_int_equal(got, 2);
	buf_release(&b);
	proto_reader_release(&r);
}

/* a length over 16 MiB breaks the stream without allocating it */
static void
test_oversized(void **state)
{
	struct proto_reader r = PROTO_READER_INIT;
	struct err err = ERR_INIT;
	unsigned char h[4] = {0xff, 0xff, 0xff, 0xff};
	json_t *out;

	proto_feed(&r, h, 4);
	assert_int_equal(proto_next(&r, &out, &err), -1);
	assert_true(r.broken);
	assert_int_equal(err.code, ERR_PROTOCOL);
	assert_non_null(strstr(err.msg.data, "exceeds"));
	assert_int_equal(proto_next(&r, &out, &err), -1);
	err_release(&err);
	proto_reader_release(&r);
}

/* invalid JSON is an error but the next frame still decodes */
static void
test_bad_json_resyncs(void **state)
{
	struct buf b = BUF_INIT;
	struct proto_reader r = PROTO_READER_INIT;
	struct err err = ERR_INIT;
	json_t *out;

	frame(&b, "{not json");
	frame(&b, "[1,2]");
	frame(&b, "{\"ok\":true}");
	proto_feed(&r, b.data, b.len);
	assert_int_equal(proto_next(&r, &out, &err), -1);
	assert_false(r.broken);
	assert_int_equal(proto_next(&r, &out, &err), -1); /* not an object */
	assert_int_equal(proto_next(&r, &out, &err), 1);
	assert_true(json_is_true(json_object_get(out, "ok")));
	json_decref(out);
	err_release(&err);
	buf_release(&b);
	proto_reader_release(&r);
}

static void
test_hello(void **state)
{
	struct err err = ERR_INIT;
	json_t *h = proto_hello();

	assert_int_equal(proto_check_hello(h, &err), 0);
	json_object_set_new(h, "protocol", json_integer(PROTO_VERSION + 1));
	assert_int_equal(proto_check_hello(h, &err), -1);
	assert_non_null(strstr(err.msg.data, "protocol"));
	json_object_set_new(h, "hello", json_string("tmux"));
	assert_int_equal(proto_check_hello(h, &err), -1);
	json_object_del(h, "hello");
	assert_int_equal(proto_check_hello(h, &err), -1);
	json_decref(h);
	err_release(&err);
}

/* typed getters: right type, wrong type, absent */
static void
test_getters(void **state)
{
	struct err err = ERR_INIT;
	json_t *o = json_pack("{s:s, s:i, s:b, s:[s,s], s:[s,i]}", "s", "x",
	    "i", 3, "b", 1, "v", "a", "b", "bad", "a", 1);
	const char *s = "unchanged";
	json_int_t i = 9;
	int b = 0;
	json_t *v;

	assert_int_equal(proto_get_str(o, "s", &s, &err), 0);
	assert_string_equal(s, "x");
	assert_int_equal(proto_get_str(o, "i", &s, &err), -1);
	assert_int_equal(err.code, ERR_USAGE);
	assert_int_equal(proto_get_str(o, "none", &s, &err), 0);
	assert_null(s);
	assert_int_equal(proto_get_int(o, "i", &i, &err), 0);
	assert_int_equal(i, 3);
	assert_int_equal(proto_get_int(o, "s", &i, &err), -1);
	assert_int_equal(proto_get_bool(o, "b", &b, &err), 0);
	assert_true(b);
	assert_int_equal(proto_get_strv(o, "v", &v, &err), 0);
	assert_int_equal(json_array_size(v), 2);
	assert_int_equal(proto_get_strv(o, "bad", &v, &err), -1);
	json_object_set_new(o, "nul", json_stringn("a\0b", 3));
	assert_int_equal(proto_get_str(o, "nul", &s, &err), -1);
	json_decref(o);
	err_release(&err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_byte_by_byte),
	    cmocka_unit_test(test_oversized),
	    cmocka_unit_test(test_bad_json_resyncs),
	    cmocka_unit_test(test_hello),
	    cmocka_unit_test(test_getters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
