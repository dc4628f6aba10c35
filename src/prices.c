/* The price table: one data file, data/prices.json, built into the binary;
 * $XDG_CONFIG_HOME/galley/prices.json, when present, replaces it (prices
 * change more often than releases). Parsed once, on first use. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "prices.h"
#include "util.h"
#include "xmalloc.h"

extern const char prices_json[];

static struct price *table;
static size_t ntable;
static int loaded;

static int
load(json_t *root)
{
	json_t *models = json_object_get(root, "models"), *m;
	size_t i;

	if (!json_is_array(models))
		return -1;
	table = xcalloc(json_array_size(models) + 1, sizeof *table);
	ntable = 0;
	json_array_foreach(models, i, m)
	{
		const char *prefix =
		    json_string_value(json_object_get(m, "prefix"));
		if (prefix == NULL)
			continue;
		struct price *p = &table[ntable++];
		p->prefix = xstrdup(prefix);
		p->input = json_number_value(json_object_get(m, "input"));
		p->output = json_number_value(json_object_get(m, "output"));
		p->cache_read =
		    json_number_value(json_object_get(m, "cache_read"));
		p->cache_write =
		    json_number_value(json_object_get(m, "cache_write"));
	}
	return 0;
}

static void
prices_load(void)
{
	char *path;
	json_t *root;

	loaded = 1;
	xasprintf(&path, "%s/prices.json", path_config_dir());
	root = json_load_file(path, 0, NULL);
	if (root && load(root) == 0)
		log_info("prices from %s", path);
	else {
		json_decref(root);
		root = json_loads(prices_json, 0, NULL);
		if (root == NULL || load(root) < 0)
			log_error("the built-in price table does not parse");
	}
	json_decref(root);
	free(path);
}

const struct price *
price_find(const char *model)
{
	const struct price *best = NULL;

	if (!loaded)
		prices_load();
	for (size_t i = 0; model && i < ntable; i++)
		if (strncmp(model, table[i].prefix, strlen(table[i].prefix)) ==
		        0 &&
		    (best == NULL ||
		        strlen(table[i].prefix) > strlen(best->prefix)))
			best = &table[i];
	return best;
}

double
price_cost(const char *model, long long in, long long out, long long cache_read,
    long long cache_write)
{
	const struct price *p = price_find(model);

	if (p == NULL)
		return 0.0;
	return ((double)in * p->input + (double)out * p->output +
	           (double)cache_read * p->cache_read +
	           (double)cache_write * p->cache_write) /
	    1e6;
}
