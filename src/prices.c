/* The price table. Claude Code's own figures (shared/notes/claude-cli.md):
 * opus $5/$25, sonnet $3/$15, haiku $1/$5 per million in/out; cache reads
 * at a tenth of input, cache writes at 1.25x. Unknown models cost nothing
 * here rather than a guess: the fake agent's models are free. */
#include <string.h>

#include "galley.h"
#include "prices.h"

static const struct price prices[] = {
    {"claude-opus", 5.0, 25.0, 0.5, 6.25},
    {"claude-sonnet", 3.0, 15.0, 0.3, 3.75},
    {"claude-haiku", 1.0, 5.0, 0.1, 1.25},
    {"opus", 5.0, 25.0, 0.5, 6.25},
    {"sonnet", 3.0, 15.0, 0.3, 3.75},
    {"haiku", 1.0, 5.0, 0.1, 1.25},
};

const struct price *
price_find(const char *model)
{
	for (size_t i = 0; model && i < nitems(prices); i++)
		if (strncmp(
		        model, prices[i].prefix, strlen(prices[i].prefix)) == 0)
			return &prices[i];
	return NULL;
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
