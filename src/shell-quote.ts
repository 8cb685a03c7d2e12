// Words quoted for /bin/sh: what a crontab line's command part and a `[dry run] would run:` line show.

/** The word itself when the shell would read it unchanged, else in single quotes. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
