/*
 * Settings as the daemon reads them. Each project root (and the user
 * alone, root NULL) keeps its loaded settings with the identity of its
 * three files (user, project, local: inode, size, mtime). A lookup in a
 * new pass (settings_cache_pass) stats them and reloads on any change, so
 * `galley config set` takes effect at the next request without a restart,
 * and a scheduling pass over a thousand queued sessions costs three stats
 * per project, not per session. A file that no longer parses keeps the
 * settings last read from it, with a warning in the log.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "settings-cache.h"
#include "xmalloc.h"

struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int exists;
};

struct entry {
	char *root; /* NULL: the user's */
	struct settings set;
	int loaded;
	struct file_id files[3];
	unsigned checked; /* the pass it was last stat'ed in */
};

static struct entry *entries;
static size_t nentries;
static unsigned pass = 1, generation = 1;

void
settings_cache_pass(void)
{
	pass++;
}

unsigned
settings_cache_generation(void)
{
	return generation;
}

static void
file_id(const char *path, struct file_id *id)
{
	struct stat st;

	memset(id, 0, sizeof *id);
	if (path && stat(path, &st) == 0) {
		id->exists = 1;
		id->dev = st.st_dev;
		id->ino = st.st_ino;
		id->size = st.st_size;
		id->mtime = st.st_mtim;
	}
}

static int
same_id(const struct file_id *a, const struct file_id *b)
{
	return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
	    a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* The three files' identities now; 1 if any differs from what was read. */
static int
changed(struct entry *e, struct file_id now[3])
{
	struct settings probe = {.repo = e->root};
	int diff = !e->loaded;

	for (int i = 0; i < 3; i++) {
		char *path = settings_path(&probe, SCOPE_USER + i);
		file_id(path, &now[i]);
		free(path);
		diff |= !same_id(&now[i], &e->files[i]);
	}
	return diff;
}

static void
refresh(struct entry *e)
{
	struct file_id now[3];
	struct settings fresh;
	struct err err = ERR_INIT;

	e->checked = pass;
	if (!changed(e, now))
		return;
	if (settings_load(&fresh, e->root ? e->root : "/", &err) < 0) {
		log_warn(
		    "settings: %s (keeping the last ones read)", err.msg.data);
		err_release(&err);
		if (!e->loaded) { /* defaults, so lookups always answer */
			memset(&e->set, 0, sizeof e->set);
			e->set.layer[SCOPE_DEFAULT] = json_object();
			for (int sc = SCOPE_USER; sc <= SCOPE_LOCAL; sc++)
				e->set.layer[sc] = json_object();
			e->set.merged = json_object();
			e->set.repo = e->root ? xstrdup(e->root) : NULL;
			e->loaded = 1;
		}
		memcpy(e->files, now, sizeof now);
		return;
	}
	if (e->root == NULL && fresh.repo) {
		/* "/" in a repo (a container's root): the user's alone */
		free(fresh.repo);
		fresh.repo = NULL;
	}
	if (e->loaded)
		settings_release(&e->set);
	e->set = fresh;
	e->loaded = 1;
	memcpy(e->files, now, sizeof now);
	generation++;
}

struct settings *
settings_project(const char *root)
{
	struct entry *e = NULL;

	for (size_t i = 0; i < nentries; i++)
		if ((root == NULL && entries[i].root == NULL) ||
		    (root && entries[i].root &&
		        strcmp(root, entries[i].root) == 0)) {
			e = &entries[i];
			break;
		}
	if (e == NULL) {
		entries = xrealloc(entries, (nentries + 1) * sizeof *entries);
		e = &entries[nentries++];
		memset(e, 0, sizeof *e);
		e->root = root ? xstrdup(root) : NULL;
	}
	if (e->checked != pass)
		refresh(e);
	return &e->set;
}

struct settings *
settings_user(void)
{
	return settings_project(NULL);
}

double
settings_user_num(const char *key, double dflt)
{
	json_t *v = settings_get(settings_user(), key);

	return json_is_number(v) && json_number_value(v) >= 0
	    ? json_number_value(v)
	    : dflt;
}
