/* Frame codec and hello check; see proto.h. */
#include <string.h>

#include "proto.h"

void
proto_reader_release(struct proto_reader *r)
{
	buf_release(&r->in);
	r->broken = 0;
}

void
proto_feed(struct proto_reader *r, const void *data, size_t len)
{
	if (!r->broken)
		buf_add(&r->in, data, len);
}

/* 1 and *len when a whole frame is buffered, 0 if not yet, -1 if the
 * stream is broken (an oversized length cannot be skipped). */
static int
frame_ready(struct proto_reader *r, uint32_t *len, struct err *err)
{
	const unsigned char *p = (const unsigned char *)r->in.data;

	if (r->broken)
		return err_set(err, ERR_PROTOCOL, "connection is broken");
	if (r->in.len < 4)
		return 0;
	*len = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
	if (*len > PROTO_MAX_FRAME) {
		r->broken = 1;
		buf_release(&r->in);
		return err_set(err, ERR_PROTOCOL,
		    "frame of %u bytes exceeds the limit of %u", *len,
		    PROTO_MAX_FRAME);
	}
	return r->in.len - 4 >= *len;
}

int
proto_next(struct proto_reader *r, json_t **out, struct err *err)
{
	json_error_t jerr;
	uint32_t len;
	json_t *obj;
	int rc;

	*out = NULL;
	if ((rc = frame_ready(r, &len, err)) <= 0)
		return rc;
	obj = json_loadb(r->in.data + 4, len, JSON_REJECT_DUPLICATES, &jerr);
	buf_consume(&r->in, 4 + (size_t)len);
	if (obj == NULL)
		return err_set(
		    err, ERR_PROTOCOL, "invalid JSON: %s", jerr.text);
	if (!json_is_object(obj)) {
		json_decref(obj);
		return err_set(
		    err, ERR_PROTOCOL, "invalid frame: expected a JSON object");
	}
	*out = obj;
	return 1;
}

/* The next frame's payload as text, unparsed (for replies a caller passes
 * through as they are). Same returns as proto_next. */
int
proto_next_raw(struct proto_reader *r, struct buf *out, struct err *err)
{
	uint32_t len;
	int rc;

	if ((rc = frame_ready(r, &len, err)) <= 0)
		return rc;
	buf_add(out, r->in.data + 4, len);
	buf_consume(&r->in, 4 + (size_t)len);
	return 1;
}

int
proto_encode(struct buf *b, json_t *obj, struct err *err)
{
	char *s = json_dumps(obj, JSON_COMPACT | PROTO_REALS);
	unsigned char hdr[4];
	size_t len;

	if (s == NULL)
		return err_set(err, ERR_PROTOCOL, "cannot encode frame");
	len = strlen(s);
	if (len > PROTO_MAX_FRAME) {
		free(s);
		return err_set(err, ERR_PROTOCOL,
		    "frame of %zu bytes exceeds the limit of %u", len,
		    PROTO_MAX_FRAME);
	}
	hdr[0] = (unsigned char)(len >> 24);
	hdr[1] = (unsigned char)(len >> 16);
	hdr[2] = (unsigned char)(len >> 8);
	hdr[3] = (unsigned char)len;
	buf_add(b, hdr, 4);
	buf_add(b, s, len);
	free(s);
	return 0;
}

json_t *
proto_hello(void)
{
	return json_pack("{s:s, s:i, s:s}", "hello", "galley", "protocol",
	    PROTO_VERSION, "version", GALLEY_VERSION);
}

json_t *
proto_host_hello(void)
{
	return json_pack("{s:s, s:i, s:i, s:s}", "hello", "galley", "protocol",
	    1, "host_protocol", HOST_PROTO_VERSION, "version", GALLEY_VERSION);
}

int
proto_check_host_hello(json_t *obj, int *agreed, struct err *err)
{
	json_t *hello = json_object_get(obj, "hello");
	json_t *hp = json_object_get(obj, "host_protocol");
	json_int_t v;

	if (!json_is_string(hello) ||
	    strcmp(json_string_value(hello), "galley") != 0)
		return err_set(err, ERR_PROTOCOL,
		    "peer did not say hello: not a galley host?");
	if (json_is_integer(hp))
		v = json_integer_value(hp);
	else if (json_integer_value(json_object_get(obj, "protocol")) == 1)
		v = 1; /* from before host_protocol: it spoke 1 */
	else
		return err_set(err, ERR_PROTOCOL,
		    "peer hello has no host protocol version");
	if (v < HOST_PROTO_MIN)
		return err_set(err, ERR_PROTOCOL,
		    "the host speaks host protocol %lld, older than this "
		    "galley can adopt (%d): stop it with the galley that "
		    "started it",
		    (long long)v, HOST_PROTO_MIN);
	*agreed = v < HOST_PROTO_VERSION ? (int)v : HOST_PROTO_VERSION;
	return 0;
}

int
proto_check_hello(json_t *obj, struct err *err)
{
	json_t *hello = json_object_get(obj, "hello");
	json_t *proto = json_object_get(obj, "protocol");

	if (!json_is_string(hello) ||
	    strcmp(json_string_value(hello), "galley") != 0)
		return err_set(err, ERR_PROTOCOL,
		    "peer did not say hello: not a galley socket?");
	if (!json_is_integer(proto))
		return err_set(
		    err, ERR_PROTOCOL, "peer hello has no protocol version");
	if (json_integer_value(proto) != PROTO_VERSION)
		return err_set(err, ERR_PROTOCOL,
		    "peer speaks protocol %lld, this galley speaks %d: run "
		    "'galley daemon stop' and retry",
		    (long long)json_integer_value(proto), PROTO_VERSION);
	return 0;
}

json_t *
proto_error(json_int_t id, enum err_code code, const char *msg)
{
	return json_pack("{s:I, s:b, s:{s:s, s:s}}", "id", id, "ok", 0, "error",
	    "code", err_word(code), "message", msg);
}

int
proto_get_str(json_t *obj, const char *key, const char **out, struct err *err)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return err_set(
		    err, ERR_USAGE, "field '%s' must be a string", key);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return err_set(err, ERR_USAGE,
		    "field '%s' must not contain NUL bytes", key);
	*out = json_string_value(v);
	return 0;
}

int
proto_get_int(json_t *obj, const char *key, json_int_t *out, struct err *err)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return err_set(
		    err, ERR_USAGE, "field '%s' must be an integer", key);
	*out = json_integer_value(v);
	return 0;
}

int
proto_get_int_in(json_t *obj, const char *key, json_int_t *out, json_int_t min,
    json_int_t max, struct err *err)
{
	json_int_t v = *out;

	if (proto_get_int(obj, key, &v, err) < 0)
		return -1;
	if (v < min || v > max)
		return err_set(err, ERR_USAGE,
		    "field '%s' must be from %lld to %lld", key, (long long)min,
		    (long long)max);
	*out = v;
	return 0;
}

int
proto_get_bool(json_t *obj, const char *key, int *out, struct err *err)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return err_set(
		    err, ERR_USAGE, "field '%s' must be a boolean", key);
	*out = json_is_true(v);
	return 0;
}

/* An array of strings. */
int
proto_get_strv(json_t *obj, const char *key, json_t **out, struct err *err)
{
	json_t *v = json_object_get(obj, key), *e;
	size_t i;

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		goto bad;
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e) ||
		    strlen(json_string_value(e)) != json_string_length(e))
			goto bad;
	}
	*out = v;
	return 0;
bad:
	return err_set(
	    err, ERR_USAGE, "field '%s' must be an array of strings", key);
}
