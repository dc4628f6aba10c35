/* A workflow agent's result checked against opts.schema: the part of
 * JSON Schema a script needs (type, properties, required, items, enum).
 * By hand: Debian packages no C JSON Schema validator. */
#include <stdio.h>
#include <string.h>

#include "workflow.h"

static int
type_is(const char *type, json_t *v)
{
	if (strcmp(type, "object") == 0)
		return json_is_object(v);
	if (strcmp(type, "array") == 0)
		return json_is_array(v);
	if (strcmp(type, "string") == 0)
		return json_is_string(v);
	if (strcmp(type, "integer") == 0)
		return json_is_integer(v);
	if (strcmp(type, "number") == 0)
		return json_is_number(v);
	if (strcmp(type, "boolean") == 0)
		return json_is_boolean(v);
	if (strcmp(type, "null") == 0)
		return json_is_null(v);
	return 0;
}

static int
check(json_t *schema, json_t *v, const char *path, char *why, size_t size,
    int depth)
{
	json_t *type = json_object_get(schema, "type"), *e;
	const char *k;
	size_t i;
	char sub[256];

	if (!json_is_object(schema) || depth > 32)
		return 0;
	if (json_is_string(type) && !type_is(json_string_value(type), v)) {
		snprintf(why, size, "%s: expected %s", path,
		    json_string_value(type));
		return -1;
	}
	if (json_is_array(type)) {
		int ok = 0;
		json_array_foreach(type, i, e) ok |=
		    json_is_string(e) && type_is(json_string_value(e), v);
		if (!ok) {
			snprintf(
			    why, size, "%s: not of the types allowed", path);
			return -1;
		}
	}
	json_t *en = json_object_get(schema, "enum");
	if (json_is_array(en)) {
		int ok = 0;
		json_array_foreach(en, i, e) ok |= json_equal(e, v);
		if (!ok) {
			snprintf(why, size, "%s: not one of the values allowed",
			    path);
			return -1;
		}
	}
	if (json_is_object(v)) {
		json_array_foreach(json_object_get(schema, "required"), i, e)
		{
			if (json_is_string(e) &&
			    !json_object_get(v, json_string_value(e))) {
				snprintf(why, size, "%s: '%s' is missing", path,
				    json_string_value(e));
				return -1;
			}
		}
		json_object_foreach(json_object_get(schema, "properties"), k, e)
		{
			json_t *f = json_object_get(v, k);
			snprintf(sub, sizeof sub, "%s.%s", path, k);
			if (f && check(e, f, sub, why, size, depth + 1) < 0)
				return -1;
		}
	}
	if (json_is_array(v)) {
		json_t *items = json_object_get(schema, "items");
		json_array_foreach(v, i, e)
		{
			snprintf(sub, sizeof sub, "%s[%zu]", path, i);
			if (check(items, e, sub, why, size, depth + 1) < 0)
				return -1;
		}
	}
	return 0;
}

int
wf_schema_check(json_t *schema, json_t *v, char *why, size_t size)
{
	return check(schema, v, "$", why, size, 0);
}

/* The least value that fits the schema: what a dry run's agent answers. */
static json_t *
stub(json_t *schema, int depth)
{
	const char *type = json_string_value(json_object_get(schema, "type"));
	json_t *en = json_object_get(schema, "enum"), *e, *o;
	const char *k;

	if (json_array_size(en))
		return json_deep_copy(json_array_get(en, 0));
	if (type == NULL || depth > 16)
		return json_string("stub");
	if (strcmp(type, "object") == 0) {
		o = json_object();
		json_object_foreach(json_object_get(schema, "properties"), k, e)
		    json_object_set_new(o, k, stub(e, depth + 1));
		return o;
	}
	if (strcmp(type, "array") == 0) {
		o = json_array();
		json_array_append_new(
		    o, stub(json_object_get(schema, "items"), depth + 1));
		return o;
	}
	if (strcmp(type, "integer") == 0 || strcmp(type, "number") == 0)
		return json_integer(1);
	if (strcmp(type, "boolean") == 0)
		return json_true();
	if (strcmp(type, "null") == 0)
		return json_null();
	return json_string("stub");
}

json_t *
wf_schema_stub(json_t *schema)
{
	return stub(schema, 0);
}
