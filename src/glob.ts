// The one glob claw knows, for todo docs (`docs`) and gateway `match` patterns.

const special = new Set('.+^${}()|[]\\');

/**
 * `**` spans directories, `*` and `?` stay within one path segment. A glob without wildcards (most
 * docs globs: `TODO.md`) is compared as it is: a regular expression costs every start its compile.
 */
export function globMatcher(glob: string): { test(text: string): boolean } {
  if (!glob.includes('*') && !glob.includes('?')) return { test: (text) => text === glob };
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      source += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += special.has(c) ? `\\${c}` : c;
  }
  return new RegExp(`^${source}$`);
}
