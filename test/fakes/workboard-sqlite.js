// The fake `openclaw workboard list --json` over a real workboard.sqlite, written apart from claw's
// reader (src/sources/workboard-db.ts) so the two can be compared. It covers what the fixture
// (test/fixtures/workboard, made by openclaw 2026.9.6) holds: cards, labels, events, links,
// comments, execution, claim (token redacted), automation, stale, archived, template, failures.
const Database = require('../helpers/sqlite-db.cjs');

const order = ['triage', 'backlog', 'todo', 'scheduled', 'ready', 'running', 'review', 'blocked', 'done'];
const some = (entries) => Object.fromEntries(entries.filter(([, v]) => v !== null && v !== undefined && v !== ''));

module.exports = function listFromSqlite(file, board) {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const kids = (table, id) => db.prepare(`select * from ${table} where card_id = ? order by ordinal`).all(id);
    const rows = db
      .prepare(`select * from workboard_cards ${board ? 'where board_id = ?' : ''} order by created_at, id`)
      .all(...(board ? [board.toLowerCase()] : []));
    const cards = rows.map((r) => {
      const events = kids('workboard_card_events', r.id).map((e) =>
        some([
          ['id', e.id],
          ['kind', e.kind],
          ['at', e.at],
          ['fromStatus', e.from_status],
          ['toStatus', e.to_status],
          ['sessionKey', e.session_key],
          ['runId', e.run_id],
        ]),
      );
      const links = kids('workboard_card_links', r.id).map((l) =>
        some([
          ['id', l.id],
          ['type', l.type],
          ['createdAt', l.created_at],
          ['targetCardId', l.target_card_id],
          ['title', l.title],
          ['url', l.url],
        ]),
      );
      const comments = kids('workboard_card_comments', r.id).map((c) =>
        some([
          ['id', c.id],
          ['body', c.body],
          ['createdAt', c.created_at],
          ['updatedAt', c.updated_at],
        ]),
      );
      const claim = r.claim_json ? { ...JSON.parse(r.claim_json), token: '[redacted]' } : null;
      const metadata = some([
        ['comments', comments.length ? comments : null],
        ['links', links.length ? links : null],
        ['automation', r.automation_json ? JSON.parse(r.automation_json) : null],
        ['claim', claim],
        ['templateId', r.template_id],
        ['archivedAt', r.archived_at],
        ['stale', r.stale_json ? JSON.parse(r.stale_json) : null],
        ['failureCount', r.failure_count],
      ]);
      const execution = r.execution_id
        ? some([
            ['id', r.execution_id],
            ['kind', 'agent-session'],
            ['mode', r.execution_mode],
            ['status', r.execution_status],
            ['engine', r.execution_engine],
            ['model', r.execution_model],
            ['sessionKey', r.execution_session_key],
            ['runId', r.execution_run_id],
            ['startedAt', r.execution_started_at],
            ['updatedAt', r.execution_updated_at],
          ])
        : null;
      return {
        id: r.id,
        title: r.title,
        status: r.status,
        priority: r.priority,
        labels: kids('workboard_card_labels', r.id).map((l) => l.label),
        position: r.position,
        createdAt: r.created_at,
        updatedAt: r.updated_at,
        ...some([
          ['notes', r.notes],
          ['agentId', r.agent_id],
          ['sessionKey', r.session_key],
          ['runId', r.run_id],
          ['taskId', r.task_id],
          ['sourceUrl', r.source_url],
          ['execution', execution],
          ['startedAt', r.started_at],
          ['completedAt', r.completed_at],
        ]),
        ...(events.length ? { events } : {}),
        ...(Object.keys(metadata).length ? { metadata } : {}),
      };
    });
    return cards.sort((a, b) => order.indexOf(a.status) - order.indexOf(b.status) || a.position - b.position || a.createdAt - b.createdAt);
  } finally {
    db.close();
  }
};
