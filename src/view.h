/*
 * The agent view (issue 7): `galley` on a terminal. One screen for many
 * sessions: rows grouped by what they need from the user, updated from the
 * daemon's subscribe stream (no polling), and keys that peek, reply,
 * attach, pin, rename, stop, delete, restart, diff, merge and start new
 * sessions. view-model.c holds the list, view-draw.c paints it, cmd-view.c
 * runs the loop and the keys.
 */
#ifndef VIEW_H
#define VIEW_H

#include <jansson.h>
#include <stdint.h>

#include "buf.h"
#include "client.h"

enum vgroup {
	G_PINNED,
	G_INPUT,
	G_REVIEW,
	G_WORKING,
	G_QUEUED,
	G_ENDED,
	G_COUNT
};

struct vrow {
	json_t *s;     /* borrowed from view.sessions */
	json_t *lead;  /* a team member's lead, shown above it; or NULL */
	json_t *child; /* a subagent or background task of s (view-tree.c) */
	int group;
};

enum vmode { M_LIST, M_PEEK, M_INPUT, M_HELP, M_SETTINGS };

struct view {
	struct client sub; /* the subscribe stream: events only */
	struct client req; /* requests */
	json_t *sessions;  /* id -> session object */
	/* id -> a team member's row extras: its task in progress, messages
	 * waiting; a lead's tasks done of all (the daemon's team board) */
	json_t *board;
	int board_stale; /* a team's tasks or messages moved, or a run's */
	json_t *runs;    /* workflow runs by id: name, state, phase */

	struct vrow *rows; /* visible, in display order */
	size_t nrows, cap;
	int counts[G_COUNT];
	int pinned_input; /* pinned and blocked: shown pinned, counted input */
	char sel_id[16];
	char sel_child[160]; /* the selected row's child id, or "" */
	json_t *expanded;    /* session id -> true: its children shown */
	int sel, top;
	int grouping;
	char filter[256];

	enum vmode mode;
	/* M_INPUT: a one-line editor; what it is for */
	char input[1024];
	size_t input_len;
	char input_label[128];
	int input_for; /* 'n' new, 'r' rename, '/' filter, 's' setting, 'y' */
	char *peek_text;
	int64_t peek_at;
	int settings_sel;

	char status[256];
	int64_t status_at;
	int64_t ctrlx_at;
	char ctrlx_id[16];

	int color;
	int notify; /* 0 none, 1 bell, 2 title */
	char *notify_cmd;
	double budget_usd; /* budget.usd, for the footer; 0: none */
	char cwd[4096];
	int quit;
};

/* view-model.c */
void view_model_init(struct view *);
void view_model_free(struct view *);
int view_model_load(struct view *, struct err *);
/* An event from the stream; returns 1 if the list changed. *note is set
 * to the session that now needs the user (for notifications), or NULL. */
int view_model_event(struct view *, json_t *ev, json_t **note);
void view_model_rebuild(struct view *);
json_t *view_selected(struct view *);
void view_select_move(struct view *, int delta);
int view_group_of(json_t *s);
const char *view_group_name(int g);
double view_cost_today(struct view *);
/* Words of a typed line (quotes group, backslash escapes), in place. */
int view_split_words(char *line, const char **words, int max);

/* cmd-view.c: the settings the S panel edits */
extern const char *const view_setting_keys[];
char *view_setting_value(const char *key);

/* view-workflow.c: cmd-view.c's actions, given as pointers */
struct view_actions {
	int (*galley)(struct view *, const char *const args[]);
	void (*status)(struct view *, const char *fmt, ...);
	void (*ask)(struct view *, int what, const char *label);
};
/* 1 when c was a workflow key for s (acted on, or said why not) */
int view_workflow_key(
    struct view *, json_t *s, int c, const struct view_actions *);
void view_workflow_save(
    struct view *, json_t *s, const char *name, const struct view_actions *);
/* "[NAME: PHASE] " for a workflow agent's row, else "" */
void view_workflow_tag(struct view *, json_t *s, char *out, size_t size);

/* view-tree.c: a session's subagents and background tasks as rows
 * under it; Tab or Right shows them, Left hides them again */
void view_tree_rows(struct view *);
int view_tree_key(struct view *, int c);
json_t *view_selected_child(struct view *);
void view_tree_draw_row(struct view *, int y, json_t *child, int selected);

/* view-draw.c */
void view_draw_init(struct view *);
void view_draw(struct view *);
/* Width-aware: the columns text takes on a terminal. */
int view_text_width(const char *utf8);

#endif
