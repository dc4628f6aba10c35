/* The command table: every verb, and finding one by name. Kept apart from
 * cmd.c's helpers, which the verbs call: the verbs refer to the helpers and
 * this table refers to the verbs, so neither file loops back to the other. */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"

extern const struct cmd_entry cmd_new_entry, cmd_bg_entry, cmd_exec_entry,
    cmd_ls_entry, cmd_peek_entry, cmd_send_entry, cmd_attach_entry,
    cmd_logs_entry, cmd_wait_entry, cmd_stop_entry, cmd_restart_entry,
    cmd_rm_entry, cmd_pin_entry, cmd_unpin_entry, cmd_rename_entry,
    cmd_config_entry, cmd_doctor_entry, cmd_daemon_entry, cmd_get_entry,
    cmd_host_entry, cmd_hook_entry, cmd_fake_agent_entry, cmd_events_entry,
    cmd_worktree_entry, cmd_diff_entry, cmd_merge_entry, cmd_discard_entry,
    cmd_overlap_entry, cmd_usage_entry, cmd_view_entry, cmd_group_entry,
    cmd_budget_entry, cmd_sandbox_exec_entry, cmd_netrelay_entry,
    cmd_complete_entry, cmd_team_entry, cmd_task_entry, cmd_msg_entry,
    cmd_mcp_entry, cmd_workflow_entry, cmd_batch_entry;

const struct cmd_entry *const cmd_table[] = {
    &cmd_view_entry,
    &cmd_new_entry,
    &cmd_exec_entry,
    &cmd_ls_entry,
    &cmd_peek_entry,
    &cmd_send_entry,
    &cmd_attach_entry,
    &cmd_logs_entry,
    &cmd_wait_entry,
    &cmd_stop_entry,
    &cmd_restart_entry,
    &cmd_rm_entry,
    &cmd_pin_entry,
    &cmd_unpin_entry,
    &cmd_rename_entry,
    &cmd_diff_entry,
    &cmd_merge_entry,
    &cmd_discard_entry,
    &cmd_worktree_entry,
    &cmd_team_entry,
    &cmd_task_entry,
    &cmd_msg_entry,
    &cmd_workflow_entry,
    &cmd_batch_entry,
    &cmd_usage_entry,
    &cmd_group_entry,
    &cmd_budget_entry,
    &cmd_config_entry,
    &cmd_doctor_entry,
    &cmd_daemon_entry,
    &cmd_events_entry,
    &cmd_get_entry,
    &cmd_host_entry,
    &cmd_hook_entry,
    &cmd_fake_agent_entry,
    &cmd_sandbox_exec_entry,
    &cmd_netrelay_entry,
    &cmd_overlap_entry,
    &cmd_complete_entry,
    &cmd_mcp_entry,
    NULL,
};

const struct cmd_entry *
cmd_find(const char *name, struct err *err)
{
	return cmd_lookup(cmd_table, name, err);
}

void
cmd_print_help(FILE *f)
{
	fprintf(f,
	    "usage: galley <command> [options]\n"
	    "       galley --bg PROMPT     (same as galley new PROMPT)\n\n"
	    "Run many coding agents and shell jobs in the background.\n\n"
	    "commands:\n");
	for (int i = 0; cmd_table[i]; i++) {
		const struct cmd_entry *e = cmd_table[i];
		if (e->flags & CMD_INTERNAL)
			continue;
		fprintf(f, "  %-9s %s\n", e->name, e->summary);
	}
	fprintf(f,
	    "\nIDs accept a unique id prefix or a session name.\n"
	    "Run 'galley <command> --help' for its options.\n");
}
