/* A batch's plan (cmd-batch.h): the planner's JSON, or a file written or
 * edited by hand, checked field by field (an error names the field), and
 * shown as a numbered list with the files each unit would share with
 * another (predicted from the repository's files and the units' globs). */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "cmd-batch.h"
#include "git.h"
#include "util.h"
#include "xmalloc.h"

/* What the planner must answer (agent()'s schema); the checks below are
 * stricter (lengths, unknown fields, the number of units). */
const char batch_plan_schema[] =
    "{\"type\": \"object\", \"required\": [\"units\"], \"properties\": {"
    "\"recipe\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}},"
    "\"units\": {\"type\": \"array\", \"items\": {\"type\": \"object\","
    " \"required\": [\"title\", \"prompt\"], \"properties\": {"
    " \"title\": {\"type\": \"string\"}, \"prompt\": {\"type\": \"string\"},"
    " \"files\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}},"
    " \"check\": {\"type\": \"string\"}}}}}}";

/* "field: what" */
static int
bad(struct buf *why, const char *field, const char *what)
{
	buf_addf(why, "%s%s%s", field, *field && *what ? ": " : "", what);
	return -1;
}

/* A string field: required or not, at most max bytes, one line or not. */
static int
check_str(json_t *o, const char *k, const char *at, int need, size_t max,
    int one_line, struct buf *why)
{
	json_t *v = json_object_get(o, k);
	char field[64];

	snprintf(field, sizeof field, "%s%s%s", at, *at ? "." : "", k);
	if (v == NULL)
		return need ? bad(why, field, "missing") : 0;
	if (!json_is_string(v))
		return bad(why, field, "must be a string");
	size_t n = json_string_length(v);
	if (need && n == 0)
		return bad(why, field, "is empty");
	if (n > max)
		return bad(why, field, "is too long");
	if (one_line && strchr(json_string_value(v), '\n'))
		return bad(why, field, "must be one line");
	return 0;
}

/* An array of non-empty strings, at most max of them. */
static int
check_strs(
    json_t *o, const char *k, const char *at, size_t max, struct buf *why)
{
	json_t *v = json_object_get(o, k), *e;
	char field[64];
	size_t i;

	if (json_is_object(v) && json_object_size(v) == 0) {
		/* a Lua table cannot tell [] from {}: the planner's [] */
		json_object_set_new(o, k, json_array());
		v = json_object_get(o, k);
	}

	snprintf(field, sizeof field, "%s%s%s", at, *at ? "." : "", k);
	if (v == NULL)
		return 0;
	if (!json_is_array(v))
		return bad(why, field, "must be an array of strings");
	if (json_array_size(v) > max)
		return bad(why, field, "has too many entries");
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e) || json_string_length(e) == 0 ||
		    json_string_length(e) > 4096) {
			buf_addf(why,
			    "%s[%zu]: must be a non-empty string (at most 4096 "
			    "bytes)",
			    field, i);
			return -1;
		}
	}
	return 0;
}

static int
only_fields(
    json_t *o, const char *const *known, const char *at, struct buf *why)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v)
	{
		int ok = 0;
		for (const char *const *p = known; *p; p++)
			ok |= strcmp(*p, k) == 0;
		if (!ok) {
			buf_addf(why, "%s%sunknown field '%.40s'", at,
			    *at ? ": " : "", k);
			return -1;
		}
	}
	return 0;
}

int
batch_plan_check(json_t *plan, int lo, int hi, struct buf *why)
{
	static const char *const top[] = {
	    "instruction", "recipe", "units", NULL};
	static const char *const fields[] = {
	    "title", "prompt", "files", "check", NULL};
	json_t *units, *u;
	size_t i;

	if (!json_is_object(plan))
		return bad(why, "the plan must be a JSON object", "");
	if (only_fields(plan, top, "", why) < 0 ||
	    check_str(plan, "instruction", "", 0, 64 << 10, 0, why) < 0 ||
	    check_strs(plan, "recipe", "", 20, why) < 0)
		return -1;
	units = json_object_get(plan, "units");
	if (json_is_object(units) && json_object_size(units) == 0) {
		/* [] through Lua: none */
		json_object_set_new(plan, "units", json_array());
		units = json_object_get(plan, "units");
	}
	if (!json_is_array(units))
		return bad(why, "units",
		    units ? "must be an array of units" : "missing");
	if ((int)json_array_size(units) < lo ||
	    (int)json_array_size(units) > hi) {
		buf_addf(why, "units: %zu units, but %d to %d are wanted",
		    json_array_size(units), lo, hi);
		return -1;
	}
	json_array_foreach(units, i, u)
	{
		char at[32];
		snprintf(at, sizeof at, "units[%zu]", i);
		if (!json_is_object(u))
			return bad(why, at, "must be an object");
		if (only_fields(u, fields, at, why) < 0 ||
		    check_str(u, "title", at, 1, 200, 1, why) < 0 ||
		    check_str(u, "prompt", at, 1, 64 << 10, 0, why) < 0 ||
		    check_strs(u, "files", at, 200, why) < 0 ||
		    check_str(u, "check", at, 0, 4096, 0, why) < 0)
			return -1;
	}
	return 0;
}

json_t *
batch_plan_load(const char *path, struct err *err)
{
	struct buf b = BUF_INIT, why = BUF_INIT;
	json_error_t je;
	json_t *plan = NULL;

	if (read_file(path, &b, 1 << 20, err) < 0)
		goto out;
	plan = json_loadb(b.data, b.len, 0, &je);
	if (plan == NULL) {
		err_set(err, ERR_USAGE,
		    "plan %s: not JSON: %s (line %d, column %d)", path, je.text,
		    je.line, je.column);
		goto out;
	}
	if (batch_plan_check(plan, 1, BATCH_MAX_UNITS, &why) < 0) {
		err_set(err, ERR_USAGE, "plan %s: %s", path, why.data);
		json_decref(plan);
		plan = NULL;
	}
out:
	buf_release(&b);
	buf_release(&why);
	return plan;
}

/* The repository's files each unit's globs match, by index into files. */
static int
unit_matches(json_t *u, char **files, size_t f)
{
	json_t *g;
	size_t i;

	json_array_foreach(json_object_get(u, "files"), i, g)
	{
		const char *glob = json_string_value(g);
		if (strcmp(glob, files[f]) == 0 ||
		    fnmatch(glob, files[f], 0) == 0)
			return 1;
	}
	return 0;
}

/* A glob both units name (for files not made yet), or NULL. */
static json_t *
same_glob(json_t *a, json_t *b)
{
	json_t *ga, *gb;
	size_t i, k;

	json_array_foreach(json_object_get(a, "files"), i, ga)
	    json_array_foreach(json_object_get(b, "files"), k,
	        gb) if (json_equal(ga, gb)) return ga;
	return NULL;
}

/* Units i < j whose globs match a common file (or are the same glob, for
 * files not made yet): [{"units": [i, j], "files": [...], "count": n}],
 * 1-based like the table. */
json_t *
batch_plan_overlap(json_t *plan, const char *top)
{
	struct git_result r = GIT_RESULT_INIT;
	json_t *units = json_object_get(plan, "units"), *out = json_array();
	char **files = NULL;
	size_t nfiles = 0, cap = 0, n = json_array_size(units);

	if (git_run(top, &r, (const char *[]){"ls-files", NULL}) == 0)
		for (char *p = r.out.data; *p;) {
			size_t len = strcspn(p, "\n");
			if (nfiles == cap) {
				cap = cap ? 2 * cap : 256;
				files = xrealloc(files, cap * sizeof *files);
			}
			files[nfiles++] = xstrndup(p, len);
			p += len + (p[len] == '\n');
		}
	/* one bit per unit per file would do; a byte is simpler */
	unsigned char *hit = xcalloc(n * (nfiles + 1), 1);
	for (size_t i = 0; i < n; i++)
		for (size_t f = 0; f < nfiles; f++)
			hit[i * nfiles + f] = (unsigned char)unit_matches(
			    json_array_get(units, i), files, f);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			json_t *shared = json_array();
			size_t count = 0;
			for (size_t f = 0; f < nfiles; f++)
				if (hit[i * nfiles + f] &&
				    hit[j * nfiles + f] && count++ < 5)
					json_array_append_new(
					    shared, json_string(files[f]));
			json_t *same = count
			    ? NULL
			    : same_glob(json_array_get(units, i),
			          json_array_get(units, j));
			if (same) {
				json_array_append(shared, same);
				count = 1;
			}
			if (count)
				json_array_append_new(out,
				    json_pack("{s:[i,i], s:o, s:i}", "units",
				        (int)i + 1, (int)j + 1, "files", shared,
				        "count", (int)count));
			else
				json_decref(shared);
		}
	for (size_t f = 0; f < nfiles; f++)
		free(files[f]);
	free(files);
	free(hit);
	git_result_release(&r);
	return out;
}

void
batch_plan_print(json_t *plan, json_t *overlap, FILE *to)
{
	json_t *u, *v;
	size_t i, k;

	fprintf(to, "plan: %s\n",
	    json_string_value(json_object_get(plan, "instruction"))
	        ? json_string_value(json_object_get(plan, "instruction"))
	        : "(no instruction)");
	json_array_foreach(json_object_get(plan, "recipe"), i, v)
	    fprintf(to, "%s%s", i ? "; " : "recipe: ", json_string_value(v));
	if (json_array_size(json_object_get(plan, "recipe")))
		fputc('\n', to);
	json_array_foreach(json_object_get(plan, "units"), i, u)
	{
		fprintf(to, "%3zu. %s\n", i + 1,
		    json_string_value(json_object_get(u, "title")));
		json_array_foreach(json_object_get(u, "files"), k, v)
		    fprintf(to, "%s%s",
		        k ? ", " : "     files: ", json_string_value(v));
		if (json_array_size(json_object_get(u, "files")))
			fputc('\n', to);
		const char *check =
		    json_string_value(json_object_get(u, "check"));
		if (check && *check)
			fprintf(to, "     check: %s\n", check);
	}
	if (json_array_size(overlap) == 0)
		fprintf(to, "predicted overlap: none\n");
	json_array_foreach(overlap, i, v)
	{
		json_t *f = json_object_get(v, "files");
		int count =
		    (int)json_integer_value(json_object_get(v, "count"));
		fprintf(to, "predicted overlap: units %lld and %lld share %s",
		    json_integer_value(
		        json_array_get(json_object_get(v, "units"), 0)),
		    json_integer_value(
		        json_array_get(json_object_get(v, "units"), 1)),
		    json_string_value(json_array_get(f, 0)));
		if (count > 1)
			fprintf(to, " (+%d more)", count - 1);
		fputc('\n', to);
	}
}
