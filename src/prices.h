/* Model prices in USD per million tokens. */
#ifndef PRICES_H
#define PRICES_H

struct price {
	const char *prefix; /* matches a model name by prefix */
	double input, output, cache_read, cache_write;
};

const struct price *price_find(const char *model);
double price_cost(const char *model, long long in, long long out,
    long long cache_read, long long cache_write);

#endif
