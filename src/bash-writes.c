/* What a shell command line writes (bash-writes.h). Written by hand: no
 * Debian-packaged C library parses shell (wordexp(3) refuses operators and
 * would run expansions); only words, quotes, operators, redirections and
 * here-documents are needed here, not a shell. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "bash-writes.h"
#include "buf.h"
#include "galley.h"
#include "xmalloc.h"

#define DEPTH_MAX 4 /* sh -c "sh -c '...'" */

struct word {
	char *text;
	int dynamic; /* its value is known only when the shell runs */
};

struct words {
	struct word *v;
	size_t n, cap;
};

enum tok { T_END, T_SEP, T_WORD, T_OUT, T_IN, T_HEREDOC, T_DUP };

struct lex {
	const char *p;
	char *heredoc; /* a delimiter whose body starts at the next newline */
	int strip_tabs;
};

struct ctx {
	char *base; /* where relative paths start: the cwd, then `cd`s */
	json_t *out;
	int depth;
};

static void run_line(const char *cmd, struct ctx *c);

static void
words_push(struct words *w, struct buf *b, int dynamic)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 8;
		w->v = xrealloc(w->v, w->cap * sizeof *w->v);
	}
	w->v[w->n].text = xstrdup(b->data);
	w->v[w->n].dynamic = dynamic;
	w->n++;
}

static void
words_clear(struct words *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i].text);
	w->n = 0;
}

/* Past the ')' that closes the '(' before p, quotes respected. */
static const char *
skip_parens(const char *p)
{
	int depth = 1;

	for (; *p && depth; p++) {
		if (*p == '\\' && p[1])
			p++;
		else if (*p == '\'') {
			const char *q = strchr(p + 1, '\'');
			p = q ? q : p + strlen(p) - 1;
		} else if (*p == '(')
			depth++;
		else if (*p == ')')
			depth--;
	}
	return p;
}

/* One word into b; *dynamic when it holds an expansion. */
static void
read_word(struct lex *lx, struct buf *b, int *dynamic)
{
	const char *p = lx->p;

	*dynamic = *p == '~';
	while (*p && !strchr(" \t\n;&|()<>", *p)) {
		if (*p == '\\' && p[1]) {
			buf_addc(b, p[1]);
			p += 2;
		} else if (*p == '\'') {
			const char *q = strchr(p + 1, '\'');
			size_t n = q ? (size_t)(q - p - 1) : strlen(p + 1);
			buf_add(b, p + 1, n);
			p += n + (q ? 2 : 1);
		} else if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1] &&
				    strchr("\"\\$`", p[1]))
					p++;
				else if (*p == '$' || *p == '`')
					*dynamic = 1;
				buf_addc(b, *p);
			}
			if (*p)
				p++;
		} else if (*p == '$' && p[1] == '(') {
			*dynamic = 1;
			p = skip_parens(p + 2);
		} else if (*p == '`') {
			const char *q = strchr(p + 1, '`');
			*dynamic = 1;
			p = q ? q + 1 : p + strlen(p);
		} else {
			*dynamic |= *p == '$';
			buf_addc(b, *p++);
		}
	}
	lx->p = p;
}

/* Past a here-document's body: the lines up to its delimiter. */
static void
skip_heredoc(struct lex *lx)
{
	const char *p = lx->p;

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		const char *line = p;
		p = eol ? eol + 1 : p + n;
		while (lx->strip_tabs && n && *line == '\t')
			line++, n--;
		if (n == strlen(lx->heredoc) && !strncmp(line, lx->heredoc, n))
			break;
	}
	lx->p = p;
	free(lx->heredoc);
	lx->heredoc = NULL;
}

static enum tok
next(struct lex *lx, struct buf *b, int *dynamic)
{
	const char *p = lx->p;

	buf_reset(b);
	*dynamic = 0;
	while (*p == ' ' || *p == '\t' || (*p == '\\' && p[1] == '\n'))
		p += *p == '\\' ? 2 : 1;
	if (*p == '#')
		p += strcspn(p, "\n");
	lx->p = p;
	if (*p == '\0')
		return T_END;
	if (*p == '\n' && lx->heredoc) {
		lx->p = p + 1;
		skip_heredoc(lx);
		return T_SEP;
	}
	if (isdigit((unsigned char)*p)) { /* 2> file, 2>&1 */
		const char *q = p;
		while (isdigit((unsigned char)*q))
			q++;
		if (*q == '>' || *q == '<')
			p = lx->p = q;
	}
	if ((*p == '<' || *p == '>') && p[1] == '(') { /* <(cmd): opaque */
		lx->p = skip_parens(p + 2);
		return T_SEP;
	}
	if (*p == '&' && p[1] == '>') {
		lx->p = p + 2 + (p[2] == '>');
		return T_OUT;
	}
	if (*p == '>') {
		p++;
		if (*p == '&') {
			lx->p = p + 1;
			return T_DUP;
		}
		lx->p = p + (*p == '>' || *p == '|');
		return T_OUT;
	}
	if (*p == '<') {
		if (p[1] == '<' && p[2] != '<') {
			lx->strip_tabs = p[2] == '-';
			lx->p = p + 2 + lx->strip_tabs;
			return T_HEREDOC;
		}
		lx->p = p + 1 + (p[1] == '<') * 2 + (p[1] == '&');
		return T_IN;
	}
	if (strchr(";&|()\n", *p)) {
		lx->p = p + 1 + (p[1] == *p || (*p == '|' && p[1] == '&'));
		return T_SEP;
	}
	read_word(lx, b, dynamic);
	return T_WORD;
}

/* ---- paths ------------------------------------------------------------ */

/* base/word with "." and ".." taken out; NULL for what is not a file of
 * this machine's trees (an expansion, a device). */
static char *
resolve(const char *base, const struct word *w)
{
	struct buf in = BUF_INIT, out = BUF_INIT;
	char *save = NULL;

	if (w->dynamic || w->text[0] == '\0')
		return NULL;
	if (w->text[0] != '/')
		buf_addf(&in, "%s/", base);
	buf_adds(&in, w->text);
	for (char *c = strtok_r(in.data, "/", &save); c;
	     c = strtok_r(NULL, "/", &save)) {
		if (strcmp(c, ".") == 0)
			continue;
		if (strcmp(c, "..") == 0) {
			char *slash = strrchr(out.data, '/');
			out.len = slash ? (size_t)(slash - out.data) : 0;
			out.data[out.len] = '\0';
			continue;
		}
		buf_addf(&out, "/%s", c);
	}
	buf_release(&in);
	if (out.len == 0)
		buf_addc(&out, '/');
	if (!strncmp(out.data, "/dev/", 5) || !strncmp(out.data, "/proc/", 6)) {
		buf_release(&out);
		return NULL;
	}
	return buf_detach(&out, NULL);
}

static void
add(struct ctx *c, const struct word *w)
{
	char *path = resolve(c->base, w);

	if (path)
		json_array_append_new(c->out, json_string(path));
	free(path);
}

/* The operands of args (options and the values of those in with_value
 * skipped; "--" ends options): their indexes into idx, how many. */
static size_t
operands(
    const struct word *a, size_t n, const char *const *with_value, size_t *idx)
{
	size_t k = 0;
	int opts = 1;

	for (size_t i = 0; i < n; i++) {
		const char *t = a[i].text;
		if (opts && strcmp(t, "--") == 0) {
			opts = 0;
			continue;
		}
		if (opts && t[0] == '-' && t[1]) {
			for (size_t j = 0; with_value && with_value[j]; j++)
				if (strcmp(t, with_value[j]) == 0)
					i++;
			continue;
		}
		idx[k++] = i;
	}
	return k;
}

/* The value of option opt ("-o FILE" or "-oFILE", "of=FILE"), or NULL */
static const struct word *
option_value(const struct word *a, size_t n, const char *opt, struct word *tmp)
{
	size_t len = strlen(opt);

	for (size_t i = 0; i < n; i++) {
		if (strcmp(a[i].text, opt) == 0 && i + 1 < n)
			return &a[i + 1];
		if (strncmp(a[i].text, opt, len) == 0 && a[i].text[len]) {
			tmp->text = a[i].text + len;
			tmp->dynamic = a[i].dynamic;
			return tmp;
		}
	}
	return NULL;
}

/* a short option cluster ("-ni", "-pi") holding letter */
static int
has_flag(const struct word *a, size_t n, char letter, const char *lng)
{
	for (size_t i = 0; i < n && strcmp(a[i].text, "--"); i++) {
		const char *t = a[i].text;
		if (lng && strncmp(t, lng, strlen(lng)) == 0)
			return 1;
		if (letter && t[0] == '-' && t[1] != '-' &&
		    strchr(t + 1, letter))
			return 1;
	}
	return 0;
}

/* ---- the commands that write ------------------------------------------ */

/* values: its options that take a value; target: "-t DIR" names where
 * it writes */
struct writer {
	const char *name;
	void (*fn)(
	    struct ctx *, const struct word *, size_t, const struct writer *);
	const char *const *values;
	int target;
};

static void
w_all(struct ctx *c, const struct word *a, size_t n, const struct writer *wr)
{
	size_t *idx = xcalloc(n + 1, sizeof *idx);
	size_t k = operands(a, n, wr ? wr->values : NULL, idx);
	struct word tmp;
	const struct word *t =
	    wr && wr->target ? option_value(a, n, "-t", &tmp) : NULL;

	for (size_t i = 0; i < k; i++)
		add(c, &a[idx[i]]);
	if (t)
		add(c, t);
	free(idx);
}

static void
w_but_first(struct ctx *c, const struct word *a, size_t n,
    const struct writer *wr) /* chmod MODE FILES */
{
	size_t *idx = xcalloc(n + 1, sizeof *idx),
	       k = operands(a, n, NULL, idx);

	for (size_t i = 1; i < k; i++)
		add(c, &a[idx[i]]);
	free(idx);
}

static void
w_last(struct ctx *c, const struct word *a, size_t n,
    const struct writer *wr) /* cp, ln, install */
{
	size_t *idx = xcalloc(n + 1, sizeof *idx);
	size_t k = operands(a, n, wr->values, idx);
	struct word tmp;
	const struct word *t = option_value(a, n, "-t", &tmp);

	if (t)
		add(c, t);
	else if (strcmp(wr->name, "install") == 0 &&
	    has_flag(a, n, 'd', NULL)) /* install -d DIRS */
		w_all(c, a, n, wr);
	else if (k > 1)
		add(c, &a[idx[k - 1]]);
	free(idx);
}

static void
w_out(struct ctx *c, const struct word *a, size_t n,
    const struct writer *wr) /* cc -o, sort -o */
{
	struct word tmp;
	const struct word *o = option_value(a, n, "-o", &tmp);

	if (o)
		add(c, o);
}

static void
w_dd(struct ctx *c, const struct word *a, size_t n, const struct writer *wr)
{
	for (size_t i = 0; i < n; i++)
		if (strncmp(a[i].text, "of=", 3) == 0) {
			struct word w = {a[i].text + 3, a[i].dynamic};
			add(c, &w);
		}
}

/* sed -i, perl -pi: the files after the script */
static void
w_inplace(
    struct ctx *c, const struct word *a, size_t n, const struct writer *wr)
{
	static const char *const v[] = {
	    "-e", "-f", "-E", "-l", "--expression", "--file", "-M", "-I", NULL};
	size_t *idx = xcalloc(n + 1, sizeof *idx), k = operands(a, n, v, idx);
	struct word tmp;
	int script = option_value(a, n, "-e", &tmp) ||
	    option_value(a, n, "-E", &tmp) || option_value(a, n, "-f", &tmp) ||
	    option_value(a, n, "--expression", &tmp);

	if (has_flag(a, n, 'i', "--in-place"))
		for (size_t i = script ? 0 : 1; i < k; i++)
			add(c, &a[idx[i]]);
	free(idx);
}

static void
w_shell(struct ctx *c, const struct word *a, size_t n,
    const struct writer *wr) /* sh -c '...' */
{
	for (size_t i = 0; i + 1 < n && a[i].text[0] == '-'; i++)
		if (a[i].text[1] != '-' && strchr(a[i].text, 'c')) {
			struct ctx sub = {
			    xstrdup(c->base), c->out, c->depth + 1};
			if (sub.depth <= DEPTH_MAX && !a[i + 1].dynamic)
				run_line(a[i + 1].text, &sub);
			free(sub.base);
			return;
		}
}

static void command(struct ctx *, struct word *, size_t);

/* find ROOTS... -delete | -exec CMD {} ; */
static void
w_find(struct ctx *c, const struct word *a, size_t n, const struct writer *wr)
{
	size_t roots = 0;

	while (roots < n && !strchr("-(!", a[roots].text[0]))
		roots++;
	for (size_t i = roots; i < n; i++) {
		if (strcmp(a[i].text, "-delete") == 0)
			for (size_t r = 0; r < roots; r++)
				add(c, &a[r]);
		if (strncmp(a[i].text, "-exec", 5) && strcmp(a[i].text, "-ok"))
			continue;
		size_t end = i + 1, m = 0;
		while (end < n && strcmp(a[end].text, ";") &&
		    strcmp(a[end].text, "+"))
			end++;
		struct word *sub = xcalloc(end - i, sizeof *sub);
		for (size_t j = i + 1; j < end; j++, m++)
			sub[m] =
			    strcmp(a[j].text, "{}") || roots == 0 ? a[j] : a[0];
		for (size_t j = 0; j < m; j++)
			sub[j].text = xstrdup(sub[j].text);
		command(c, sub, m);
		for (size_t j = 0; j < m; j++)
			free(sub[j].text);
		free(sub);
		i = end;
	}
}

/* git: the verbs that rewrite the working tree */
static void
w_git(struct ctx *c, const struct word *a, size_t n, const struct writer *wr)
{
	static const char *const tree[] = {"clean", "stash", "switch", "merge",
	    "pull", "rebase", "cherry-pick", "revert", "am", "apply",
	    "checkout-index", "read-tree"};
	static const char *const named[] = {"rm", "mv", "restore"};
	size_t i = 0;

	while (i < n && a[i].text[0] == '-')
		i +=
		    strcmp(a[i].text, "-C") == 0 || strcmp(a[i].text, "-c") == 0
		    ? 2
		    : 1;
	if (i >= n)
		return;
	const char *verb = a[i].text;
	const struct word *rest = a + i + 1;
	size_t m = n - i - 1, dd = 0;
	struct word dot = {".", 0};

	while (dd < m && strcmp(rest[dd].text, "--"))
		dd++;
	if (dd < m && strcmp(verb, "checkout") == 0) { /* checkout -- paths */
		for (size_t j = dd + 1; j < m; j++)
			add(c, &rest[j]);
		return;
	}
	for (size_t j = 0; j < nitems(named); j++)
		if (strcmp(verb, named[j]) == 0) {
			if (!has_flag(rest, m, '\0', "--cached") &&
			    !has_flag(rest, m, '\0', "--staged"))
				w_all(c, rest, m, NULL);
			return;
		}
	static const char *const branch[] = {"-b", "-B", "-c", "-C", NULL};
	size_t *idx = xcalloc(m + 1, sizeof *idx);
	size_t k = operands(rest, m, branch, idx);
	free(idx);
	if ((strcmp(verb, "checkout") == 0 || strcmp(verb, "switch") == 0) &&
	    k == 0)
		return; /* a new branch where HEAD is: no file changes */
	if (strcmp(verb, "stash") == 0 && m &&
	    (strcmp(rest[0].text, "list") == 0 ||
	        strcmp(rest[0].text, "show") == 0))
		return;
	int whole = strcmp(verb, "checkout") == 0 ||
	    (strcmp(verb, "reset") == 0 &&
	        (has_flag(rest, m, '\0', "--hard") ||
	            has_flag(rest, m, '\0', "--merge") ||
	            has_flag(rest, m, '\0', "--keep")));
	for (size_t j = 0; j < nitems(tree) && !whole; j++)
		whole = strcmp(verb, tree[j]) == 0;
	if (whole &&
	    !(strcmp(verb, "apply") == 0 &&
	        has_flag(rest, m, '\0', "--cached")))
		add(c, &dot);
}

static const char *const v_none[] = {NULL};
static const char *const v_touch[] = {
    "-r", "-t", "-d", "--reference", "--date", NULL};
static const char *const v_mkdir[] = {"-m", "--mode", NULL};
static const char *const v_shred[] = {"-n", "-s", "--iterations", NULL};
static const char *const v_truncate[] = {
    "-s", "-r", "--size", "--reference", NULL};
static const char *const v_move[] = {"-t", "-S", "-m", "-o", "-g",
    "--target-directory", "--suffix", "--mode", "--owner", "--group", NULL};

static const struct writer writers[] = {
    {"rm", w_all, v_none, 0},
    {"rmdir", w_all, v_none, 0},
    {"touch", w_all, v_touch, 0},
    {"mkdir", w_all, v_mkdir, 0},
    {"unlink", w_all, v_none, 0},
    {"shred", w_all, v_shred, 0},
    {"truncate", w_all, v_truncate, 0},
    {"tee", w_all, v_none, 0},
    {"mv", w_all, v_move, 1},
    {"chmod", w_but_first, v_none, 0},
    {"chown", w_but_first, v_none, 0},
    {"chgrp", w_but_first, v_none, 0},
    {"cp", w_last, v_move, 1},
    {"ln", w_last, v_move, 1},
    {"install", w_last, v_move, 1},
    {"rsync", w_last, v_none, 0},
    {"cc", w_out, v_none, 0},
    {"gcc", w_out, v_none, 0},
    {"clang", w_out, v_none, 0},
    {"c++", w_out, v_none, 0},
    {"g++", w_out, v_none, 0},
    {"ld", w_out, v_none, 0},
    {"sort", w_out, v_none, 0},
    {"dd", w_dd, v_none, 0},
    {"sed", w_inplace, v_none, 0},
    {"perl", w_inplace, v_none, 0},
    {"sh", w_shell, v_none, 0},
    {"bash", w_shell, v_none, 0},
    {"dash", w_shell, v_none, 0},
    {"zsh", w_shell, v_none, 0},
    {"find", w_find, v_none, 0},
    {"git", w_git, v_none, 0},
};

/* Wrappers run the command after their own options. */
static int
is_wrapper(const char *name)
{
	static const char *const v[] = {"sudo", "env", "nice", "nohup", "time",
	    "command", "exec", "builtin", "stdbuf", "ionice", "doas"};

	for (size_t i = 0; i < nitems(v); i++)
		if (strcmp(name, v[i]) == 0)
			return 1;
	return 0;
}

static const char *
base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static void
command(struct ctx *c, struct word *w, size_t n)
{
	size_t i = 0;

	while (i < n) {
		const char *t = w[i].text, *eq = strchr(t, '=');
		if (eq && eq > t &&
		    strspn(t,
		        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefgh"
		        "ijklmnopqrstuvwxyz0123456789_") == (size_t)(eq - t)) {
			i++; /* NAME=value */
		} else if (is_wrapper(base_name(t))) {
			for (i++; i < n && w[i].text[0] == '-'; i++)
				;
		} else if (strcmp(base_name(t), "timeout") == 0) {
			for (i++; i < n && w[i].text[0] == '-'; i++)
				;
			i++; /* the duration */
		} else
			break;
	}
	if (i >= n || w[i].dynamic)
		return;
	const char *name = base_name(w[i].text);
	if (strcmp(name, "cd") == 0) {
		char *to = i + 1 < n ? resolve(c->base, &w[i + 1]) : NULL;
		if (to) {
			free(c->base);
			c->base = to;
		}
		return;
	}
	for (size_t k = 0; k < nitems(writers); k++)
		if (strcmp(name, writers[k].name) == 0)
			writers[k].fn(c, w + i + 1, n - i - 1, &writers[k]);
}

static void
run_line(const char *cmd, struct ctx *c)
{
	struct lex lx = {cmd, NULL, 0};
	struct buf b = BUF_INIT;
	struct words w = {0};
	enum tok t;
	int dyn;

	do {
		t = next(&lx, &b, &dyn);
		if (t == T_WORD) {
			words_push(&w, &b, dyn);
		} else if (t == T_OUT || t == T_DUP) {
			if (next(&lx, &b, &dyn) != T_WORD)
				continue;
			/* >&2 and >&- duplicate; >&file writes file */
			struct word target = {b.data, dyn};
			if (t == T_OUT ||
			    strspn(b.data, "0123456789-") != b.len)
				add(c, &target);
		} else if (t == T_IN) {
			next(&lx, &b, &dyn); /* what it reads */
		} else if (t == T_HEREDOC) {
			if (next(&lx, &b, &dyn) == T_WORD && !lx.heredoc)
				lx.heredoc = xstrdup(b.data);
		} else {
			command(c, w.v, w.n);
			words_clear(&w);
		}
	} while (t != T_END);
	free(lx.heredoc);
	free(w.v);
	buf_release(&b);
}

void
bash_writes(const char *cmd, const char *cwd, json_t *out)
{
	struct ctx c = {xstrdup(cwd), out, 0};

	run_line(cmd, &c);
	free(c.base);
}
