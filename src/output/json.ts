// The one JSON writer behind every --json: one document per line, `ok` always first.
import type { Output } from '../io.js';

/**
 * Compact, one line per document: `jq` reads it as well as pretty JSON, and a cron log or a
 * `jq -c` stream keeps one document per line. `ok` is true exactly when claw exits 0.
 */
export function writeJson<T extends object>(out: Output, doc: T & { ok?: boolean }): void {
  const { ok = true, ...rest } = doc as { ok?: boolean } & Record<string, unknown>;
  out.write(`${JSON.stringify({ ok, ...rest })}\n`);
}
