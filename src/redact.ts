// What claw never prints, stores or sends: store passwords and API keys.

/**
 * A store URL with anything that may hold a password replaced by `***`: the userinfo (all of it up
 * to the last `@`, so an unencoded `@` or `/` in a password is covered too; the user name stays only
 * when it is a plain name), every query value (`?password=...`), and a non-numeric "port" (a
 * `redis://:secret` without a host). Typos (`redis:/:pw@host`, `:pw@host` without a scheme) get the
 * same treatment: when in doubt, more is hidden.
 */
export function redactStoreUrl(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/*/i.exec(url)?.[0] ?? '';
  let rest = url.slice(scheme.length);
  let userinfo = '';
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const auth = rest.slice(0, at);
    const colon = auth.indexOf(':');
    const user = colon >= 0 ? auth.slice(0, colon) : '';
    userinfo = `${colon >= 0 && /^[\w.~-]*$/.test(user) ? `${user}:***` : '***'}@`;
    rest = rest.slice(at + 1);
  } else {
    // No userinfo: a "port" that is not a number may be a password (redis://:secret).
    rest = rest.replace(/^([^/?#:]*):(?!\d*(?:[/?#]|$))[^/?#]*/, '$1:***');
  }
  rest = rest.replace(/([?&][^=&#]*=)[^&#]*/g, '$1***');
  return `${scheme}${userinfo}${rest}`;
}

const storeForms = 'use "sqlite" or redis://[user:password@]host[:port][/db] (rediss:// for TLS)';

/** Why a store setting is not usable, with the accepted forms (and never the password), or undefined. */
export function storeUrlProblem(value: string): string | undefined {
  if (value === 'sqlite') return undefined;
  const shown = JSON.stringify(redactStoreUrl(value));
  const parts = /^(rediss?):\/\/([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/i.exec(value);
  if (!parts) {
    if (/^rediss?:(?!\/\/)/i.test(value)) return `${shown} is not a valid store URL: it must start with redis:// or rediss:// (${storeForms})`;
    if (/^rediss?:/i.test(value) && /[@/]/.test(value.replace(/^rediss?:\/\//i, ''))) {
      return `${shown} is not a valid store URL: ${storeForms}; write @, / and : in a password as %40, %2F and %3A`;
    }
    return `${shown} is not a store: ${storeForms}`;
  }
  const [, , authority = '', path = ''] = parts;
  const at = authority.lastIndexOf('@');
  const auth = at >= 0 ? authority.slice(0, at) : '';
  const hostPort = authority.slice(at + 1);
  if (at < 0 && path.includes('@')) return `${shown} is not a valid store URL: write / in a password as %2F (${storeForms})`;
  if (auth.includes('@')) return `${shown} is not a valid store URL: write @ in a password as %40 (${storeForms})`;
  try {
    decodeURIComponent(auth);
  } catch {
    return `${shown} is not a valid store URL: the user or password has a malformed %-escape (${storeForms})`;
  }
  const hp = /^(\[[0-9a-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d*))?$/i.exec(hostPort);
  if (!hp) return `${shown} has no valid host: ${storeForms}`;
  if (hp[2] !== undefined) {
    const port = Number(hp[2]);
    if (hp[2] === '' || !Number.isInteger(port) || port < 1 || port > 65535) return `${shown}: the port must be a number from 1 to 65535 (${storeForms})`;
  }
  if (path !== '' && path !== '/' && !/^\/\d{1,9}$/.test(path)) {
    return `${shown}: the path must be a database number such as /0 (${storeForms}); write / in a password as %2F`;
  }
  try {
    new URL(value);
  } catch {
    return `${shown} is not a valid store URL: ${storeForms}`;
  }
  return undefined;
}

/** The passwords in a store URL (userinfo and query), as written and decoded. */
function storePassword(value: string | undefined): string[] {
  if (!value || value === 'sqlite') return [];
  const found: string[] = [];
  const scheme = /^[a-z][a-z0-9+.-]*:\/*/i.exec(value)?.[0] ?? '';
  const rest = value.slice(scheme.length);
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const auth = rest.slice(0, at);
    const colon = auth.indexOf(':');
    found.push(colon >= 0 ? auth.slice(colon + 1) : auth);
  }
  for (const match of value.matchAll(/[?&][^=&#]*(?:pass|auth|secret|token)[^=&#]*=([^&#]*)/gi)) found.push(match[1]!);
  return found.flatMap((raw) => {
    try {
      const decoded = decodeURIComponent(raw);
      return decoded === raw ? [raw] : [raw, decoded];
    } catch {
      return [raw];
    }
  });
}

/**
 * Values shorter than this are not treated as secrets: redacting a 3-letter value would mangle
 * ordinary words everywhere, and a key that short protects nothing anyway.
 */
export const minSecretLength = 8;

/** The words a secret variable's name ends in (`NVIDIA_API_KEY`, `GH_TOKEN`, `PASSWORD`). */
const secretNameEnds = ['API_KEY', 'APIKEY', 'ACCESS_KEY', 'SECRET_KEY', 'PRIVATE_KEY', 'TOKEN', 'SECRET', 'PASSWORD', 'PASSWD'];

/**
 * Whether an environment variable's value is a secret, whatever gateway it belongs to: its name, in
 * any case, is one of secretNameEnds or ends in `_` and one of them. Compared as strings: tested on
 * every variable, a pattern was compiled twice (bytecode, then machine code) on every start.
 */
export function isSecretName(name: string): boolean {
  const upper = name.toUpperCase();
  for (const end of secretNameEnds) {
    if (upper.endsWith(end) && (upper.length === end.length || upper[upper.length - end.length - 1] === '_')) return true;
  }
  return false;
}

/**
 * Every secret value claw knows of: the variables named by a gateway's `apiKeyEnv` (built in and
 * configured), every variable with a secret name (isSecretName: `*_API_KEY`, `*_TOKEN`,
 * `*_SECRET`, `*_PASSWORD`, ...), and the password of the store URL (CLAW_STORE or the store key).
 * Longest first, so a key that contains another is replaced whole.
 */
export function secretValues(env: NodeJS.ProcessEnv, config: { gateways?: unknown; store?: unknown } = {}): string[] {
  const names = new Set<string>();
  // The built-in gateways' variables (NVIDIA_API_KEY, ...) are all secret names (isSecretName).
  const gateways: unknown = config.gateways;
  if (gateways && typeof gateways === 'object') {
    for (const gateway of Object.values(gateways as Record<string, unknown>)) {
      const name = gateway && typeof gateway === 'object' ? (gateway as { apiKeyEnv?: unknown }).apiKeyEnv : undefined;
      if (typeof name === 'string') names.add(name);
    }
  }
  for (const name of Object.keys(env)) if (isSecretName(name)) names.add(name);
  const values = new Set<string>();
  const add = (value: string | undefined) => {
    if (typeof value !== 'string' || value.trim().length < minSecretLength) return;
    values.add(value);
    // The same value as it appears inside a JSON string (a key with a quote or a backslash).
    const escaped = JSON.stringify(value).slice(1, -1);
    if (escaped !== value) values.add(escaped);
  };
  for (const name of names) add(env[name]);
  for (const password of [...storePassword(env.CLAW_STORE), ...storePassword(typeof config.store === 'string' ? config.store : undefined)]) add(password);
  return [...values].sort((a, b) => b.length - a.length);
}

export const redactedMark = '***';

/** `text` with every occurrence of every value replaced by `***`. */
export function redactSecrets(text: string, values: readonly string[]): string {
  let out = text;
  for (const value of values) if (value && out.includes(value)) out = out.split(value).join(redactedMark);
  return out;
}

/** `bytes` with every occurrence of every value replaced by `***`; the same bytes when there is none. */
export function redactBytes(bytes: Uint8Array, values: readonly string[]): Uint8Array {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!values.some((v) => v && buf.includes(v))) return bytes;
  const mark = Buffer.from(redactedMark);
  let out: Buffer = buf;
  for (const value of values) {
    if (!value) continue;
    const secret = Buffer.from(value, 'utf8');
    const parts: Buffer[] = [];
    let pos = 0;
    for (let i = out.indexOf(secret); i >= 0; i = out.indexOf(secret, pos)) {
      parts.push(out.subarray(pos, i), mark);
      pos = i + secret.length;
    }
    if (parts.length > 0) out = Buffer.concat([...parts, out.subarray(pos)]);
  }
  return out;
}

/** A JSON-able value with every secret in its strings replaced (keys included). */
export function redactDeep<T>(value: T, values: readonly string[]): T {
  if (values.length === 0) return value;
  const text = JSON.stringify(value);
  if (text === undefined) return value;
  const clean = redactSecrets(text, values);
  return clean === text ? value : (JSON.parse(clean) as T);
}

/**
 * Redacts a byte stream written in chunks: a secret split across two chunks is still caught. Only
 * the end of a chunk that could be the start of a secret is held back, and it is let out after
 * `holdMs` without more output (a prompt waiting for input is not kept from the user).
 */
export function redactingStream(values: readonly string[], write: (bytes: Uint8Array) => void, holdMs = 100) {
  const secrets = values.filter(Boolean).map((v) => Buffer.from(v, 'utf8'));
  const mark = Buffer.from(redactedMark);
  let held: Buffer = Buffer.alloc(0);
  let timer: NodeJS.Timeout | undefined;
  const release = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (held.length > 0) {
      const out = held;
      held = Buffer.alloc(0);
      write(out);
    }
  };
  /** How many bytes at the end of `buf` (after `from`) could begin a secret. */
  const pendingLength = (buf: Buffer, from: number): number => {
    let longest = 0;
    for (const secret of secrets) {
      for (let n = Math.min(secret.length - 1, buf.length - from); n > longest; n--) {
        if (buf.subarray(buf.length - n).equals(secret.subarray(0, n))) {
          longest = n;
          break;
        }
      }
    }
    return longest;
  };
  return {
    write(chunk: Uint8Array) {
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (secrets.length === 0) {
        write(chunk);
        return;
      }
      const buf = Buffer.concat([held, chunk]);
      const out: Buffer[] = [];
      let pos = 0;
      for (;;) {
        // The earliest complete secret from pos (the longest one when several start there).
        let best = -1;
        let bestLength = 0;
        for (const secret of secrets) {
          const i = buf.indexOf(secret, pos);
          if (i >= 0 && (best < 0 || i < best || (i === best && secret.length > bestLength))) {
            best = i;
            bestLength = secret.length;
          }
        }
        if (best < 0) break;
        out.push(buf.subarray(pos, best), mark);
        pos = best + bestLength;
      }
      const keep = pendingLength(buf, pos);
      out.push(buf.subarray(pos, buf.length - keep));
      held = Buffer.from(buf.subarray(buf.length - keep));
      const bytes = Buffer.concat(out);
      if (bytes.length > 0) write(bytes);
      if (held.length > 0) {
        timer = setTimeout(release, holdMs);
        timer.unref();
      }
    },
    /** Lets out what is held back (the stream ended). */
    end: release,
  };
}
