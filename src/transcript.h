/* One line of a runtime's JSONL transcript, as usage (claude's format:
 * {"type":"assistant","message":{"id","model","usage":{...}}}). */
#ifndef TRANSCRIPT_H
#define TRANSCRIPT_H

#include <jansson.h>

/* A message's counts are clamped to this: a hostile or broken line
 * cannot overflow a session's totals (9e18 / 1e12 messages). */
#define TRANSCRIPT_TOKENS_MAX 1000000000000LL

struct transcript_usage {
	const char *id, *model; /* borrowed from the entry */
	/* input, output, cache read, cache write */
	long long n[4];
};

/* 1 when the entry is an assistant message with an id, a model and a
 * usage object: *u filled, each count in 0..TRANSCRIPT_TOKENS_MAX
 * (missing or negative: 0). 0 otherwise. */
int transcript_usage(json_t *entry, struct transcript_usage *u);

#endif
