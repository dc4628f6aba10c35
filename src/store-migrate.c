/* Schema migrations, oldest first. Never edit a shipped entry: add one. */
#include "store.h"

const struct migration store_migrations[] = {
    {1,
        "CREATE TABLE sessions ("
        " id TEXT PRIMARY KEY,"
        " name TEXT NOT NULL,"
        " kind TEXT NOT NULL,"
        " runtime TEXT NOT NULL,"
        " state TEXT NOT NULL,"
        " waiting_for TEXT,"
        " reason TEXT,"
        " prompt TEXT,"
        " cwd TEXT NOT NULL,"
        " worktree TEXT,"
        " branch TEXT,"
        " pinned INTEGER NOT NULL DEFAULT 0,"
        " grp TEXT NOT NULL DEFAULT 'default',"
        " executor TEXT NOT NULL DEFAULT 'local',"
        " host_pid INTEGER,"
        " pid INTEGER,"
        " exit_code INTEGER,"
        " exit_signal INTEGER,"
        " model TEXT,"
        " runtime_session_id TEXT,"
        " team TEXT,"
        " workflow TEXT,"
        " parent TEXT,"
        " boot_id TEXT,"
        " hook_token TEXT,"
        " spec TEXT,"
        " created_at INTEGER NOT NULL,"
        " updated_at INTEGER NOT NULL,"
        " ended_at INTEGER"
        ") STRICT;"
        "CREATE INDEX sessions_state ON sessions(state);"
        "CREATE TABLE events ("
        " seq INTEGER PRIMARY KEY,"
        " session TEXT NOT NULL,"
        " at INTEGER NOT NULL,"
        " kind TEXT NOT NULL,"
        " data TEXT"
        ") STRICT;"
        "CREATE INDEX events_session ON events(session, seq);"
        "CREATE TABLE usage ("
        " session TEXT NOT NULL,"
        " model TEXT NOT NULL,"
        " input_tokens INTEGER NOT NULL DEFAULT 0,"
        " output_tokens INTEGER NOT NULL DEFAULT 0,"
        " cache_read_tokens INTEGER NOT NULL DEFAULT 0,"
        " cache_write_tokens INTEGER NOT NULL DEFAULT 0,"
        " cost_usd REAL NOT NULL DEFAULT 0,"
        " PRIMARY KEY (session, model)"
        ") STRICT;"
        "CREATE TABLE usage_seen ("
        " session TEXT NOT NULL,"
        " message_id TEXT NOT NULL,"
        " PRIMARY KEY (session, message_id)"
        ") STRICT, WITHOUT ROWID;"},
    {2,
        /* worktree isolation: the main repo, and the base the session's
         * branch started from (a commit id and the ref it came from) */
        "ALTER TABLE sessions ADD COLUMN repo TEXT;"
        "ALTER TABLE sessions ADD COLUMN base TEXT;"
        "ALTER TABLE sessions ADD COLUMN base_ref TEXT;"},
    {3,
        /* a headless run's final result line; the runtime's transcript
         * (a restart after a daemon restart resumes from it); usage per
         * day, for
         * `galley usage --by day` and daily budgets */
        "ALTER TABLE sessions ADD COLUMN result TEXT;"
        "ALTER TABLE sessions ADD COLUMN transcript_path TEXT;"
        "ALTER TABLE sessions ADD COLUMN after_ids TEXT;"
        "ALTER TABLE sessions ADD COLUMN priority INTEGER NOT NULL "
        "DEFAULT 0;"
        "CREATE TABLE usage_daily ("
        " day TEXT NOT NULL,"
        " session TEXT NOT NULL,"
        " model TEXT NOT NULL,"
        " input_tokens INTEGER NOT NULL DEFAULT 0,"
        " output_tokens INTEGER NOT NULL DEFAULT 0,"
        " cache_read_tokens INTEGER NOT NULL DEFAULT 0,"
        " cache_write_tokens INTEGER NOT NULL DEFAULT 0,"
        " cost_usd REAL NOT NULL DEFAULT 0,"
        " PRIMARY KEY (day, session, model)"
        ") STRICT;"},
    {4,
        /* issue 8: a session's own rules (allowed and denied tools,
         * budgets, sandbox) as JSON; budget raises and holds by scope
         * ("global", "group:G", "session:ID"), per day where daily */
        "ALTER TABLE sessions ADD COLUMN policy TEXT;"
        "CREATE TABLE budget_raises ("
        " scope TEXT NOT NULL,"
        " day TEXT NOT NULL,"
        " usd REAL NOT NULL DEFAULT 0,"
        " tokens INTEGER NOT NULL DEFAULT 0,"
        " PRIMARY KEY (scope, day)"
        ") STRICT;"},
    {5,
        /* issue 14: where `galley merge` took a session's work, so a
         * merged session leaves Ready for review; why its output was not
         * all kept (a full disk) */
        "ALTER TABLE sessions ADD COLUMN merged_into TEXT;"
        "ALTER TABLE sessions ADD COLUMN output_error TEXT;"},
    {6,
        /* issue 15: teams. A team is named per repo (the store is the
         * user's); members are sessions, named within their team; tasks
         * are numbered per team; messages are kept, delivered or not */
        "CREATE TABLE teams ("
        " id TEXT PRIMARY KEY,"
        " name TEXT NOT NULL,"
        " repo TEXT NOT NULL,"
        " goal TEXT,"
        " plan_approval INTEGER NOT NULL DEFAULT 0,"
        " isolation TEXT NOT NULL DEFAULT 'shared',"
        " teammate_model TEXT,"
        " allow_overlap INTEGER NOT NULL DEFAULT 0,"
        " budget_usd REAL NOT NULL DEFAULT 0,"
        " budget_tokens INTEGER NOT NULL DEFAULT 0,"
        " created_at INTEGER NOT NULL,"
        " UNIQUE (repo, name)"
        ") STRICT;"
        "CREATE TABLE members ("
        " team TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,"
        " name TEXT NOT NULL,"
        " session TEXT,"
        " lens TEXT,"
        " own TEXT,"
        " plan TEXT NOT NULL DEFAULT 'none',"
        " plan_text TEXT,"
        " created_at INTEGER NOT NULL,"
        " PRIMARY KEY (team, name)"
        ") STRICT;"
        "CREATE INDEX members_session ON members(session);"
        "CREATE TABLE tasks ("
        " team TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,"
        " id INTEGER NOT NULL,"
        " title TEXT NOT NULL,"
        " status TEXT NOT NULL DEFAULT 'pending',"
        " owner TEXT,"
        " owner_session TEXT,"
        " blocked_by TEXT NOT NULL DEFAULT '[]',"
        " created_at INTEGER NOT NULL,"
        " updated_at INTEGER NOT NULL,"
        " PRIMARY KEY (team, id)"
        ") STRICT;"
        "CREATE TABLE messages ("
        " seq INTEGER PRIMARY KEY,"
        " team TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,"
        " sender TEXT NOT NULL,"
        " recipient TEXT NOT NULL,"
        " text TEXT NOT NULL,"
        " created_at INTEGER NOT NULL,"
        " delivered_at INTEGER"
        ") STRICT;"
        "CREATE INDEX messages_waiting ON messages(team, recipient, "
        "delivered_at);"},
    {7,
        /* a member's first prompt, held until its runtime's MCP tools are
         * there (runtime late_tools), then typed and cleared */
        "ALTER TABLE members ADD COLUMN brief TEXT;"},
    {8,
        /* workflow runs and their journals (DESIGN §5): a call's row is
         * written (fsync) before its session starts and again when it
         * ends, so a resumed run replays what was done */
        "CREATE TABLE workflow_runs ("
        " id TEXT PRIMARY KEY,"
        " name TEXT NOT NULL,"
        " file TEXT,"
        " script TEXT NOT NULL,"
        " cwd TEXT NOT NULL,"
        " args TEXT NOT NULL DEFAULT '{}',"
        " env TEXT NOT NULL DEFAULT '[]',"
        " state TEXT NOT NULL,"
        " phase TEXT,"
        " error TEXT,"
        " result TEXT,"
        " budget_usd REAL NOT NULL DEFAULT 0,"
        " budget_tokens INTEGER NOT NULL DEFAULT 0,"
        " created_at INTEGER NOT NULL,"
        " updated_at INTEGER NOT NULL"
        ") STRICT;"
        "CREATE TABLE workflow_journal ("
        " run TEXT NOT NULL REFERENCES workflow_runs(id) ON DELETE CASCADE,"
        " key TEXT NOT NULL,"
        " hash TEXT NOT NULL,"
        " kind TEXT NOT NULL,"
        " label TEXT,"
        " phase TEXT,"
        " session TEXT,"
        " state TEXT NOT NULL,"
        " result TEXT,"
        " error TEXT,"
        " started_at INTEGER NOT NULL,"
        " ended_at INTEGER,"
        " replayed INTEGER NOT NULL DEFAULT 0," /* fed back in its last boot */
        " PRIMARY KEY (run, key)"
        ") STRICT;"
        "CREATE TABLE workflow_log ("
        " run TEXT NOT NULL REFERENCES workflow_runs(id) ON DELETE CASCADE,"
        " key TEXT NOT NULL,"
        " at INTEGER NOT NULL,"
        " text TEXT NOT NULL,"
        " PRIMARY KEY (run, key)"
        ") STRICT;"},
    {9,
        /* what a run's script reports with progress() (a batch's table),
         * and how many of its agents may work at once (0: 16) */
        "ALTER TABLE workflow_runs ADD COLUMN progress TEXT;"
        "ALTER TABLE workflow_runs ADD COLUMN parallel INTEGER NOT NULL "
        "DEFAULT 0;"},
    {10,
        /* a session on a cluster: its job there, and the node it runs on */
        "ALTER TABLE sessions ADD COLUMN job_id TEXT;"
        "ALTER TABLE sessions ADD COLUMN node TEXT;"},
    {11,
        /* its subagents and background tasks (session-children.c) */
        "ALTER TABLE sessions ADD COLUMN children TEXT;"},
};

const int store_nmigrations =
    (int)(sizeof store_migrations / sizeof store_migrations[0]);
