import { describe, expect, it } from 'vitest';
import { isSecretName, redactBytes, redactingStream, redactSecrets, redactStoreUrl, secretValues, storeUrlProblem } from '../../src/redact';
import { joinedParts, prng } from '../helpers/hostile';

describe('redactStoreUrl', () => {
  const cases: [string, string][] = [
    ['redis://:pw@host:6379/0', 'redis://:***@host:6379/0'],
    ['redis://user:pw@host', 'redis://user:***@host'],
    ['rediss://u:p%40ss@host:6380/2', 'rediss://u:***@host:6380/2'],
    // An unencoded @ or / in the password: everything up to the last @ is userinfo.
    ['redis://:p@ss/w@host:6379/0', 'redis://:***@host:6379/0'],
    ['redis://user:pa/ss@host', 'redis://user:***@host'],
    ['redis://us/er:pw@host', 'redis://***@host'],
    ['redis://pw@host', 'redis://***@host'],
    // Typos and missing schemes.
    ['redis:/:pw@host', 'redis:/:***@host'],
    ['redis:pw@host', 'redis:***@host'],
    [':pw@host:6379', ':***@host:6379'],
    ['user:pw@host', 'user:***@host'],
    // Query passwords, and a "port" that is a password.
    ['redis://host:6379/0?password=pw&family=6', 'redis://host:6379/0?password=***&family=***'],
    ['redis://:secret', 'redis://:***'],
    ['redis://host:6379/0', 'redis://host:6379/0'],
    ['redis://host', 'redis://host'],
    ['sqlite', 'sqlite'],
  ];
  for (const [url, shown] of cases) {
    it(`${url} -> ${shown}`, () => {
      expect(redactStoreUrl(url)).toBe(shown);
    });
  }

  it('never shows a password, whatever characters it holds and wherever it is written', () => {
    const passwords = ['s3cret', 'p@ss', 'p/a/ss', 'a:b:c', 'q?x=1', 'h#sh', '%40x', 'pw@host:1/0', 'x y', 'ключ'];
    for (const pw of passwords) {
      for (const url of [
        `redis://:${pw}@host:6379/0`,
        `redis://user:${pw}@host`,
        `rediss://${pw}@h`,
        `redis:/:${pw}@host`,
        `:${pw}@host`,
        `redis://host/0?password=${pw}`,
      ]) {
        expect(redactStoreUrl(url), url).not.toContain(pw);
      }
    }
  });
});

describe('storeUrlProblem', () => {
  it('accepts sqlite and redis URLs with host, port and database', () => {
    for (const url of [
      'sqlite',
      'redis://localhost',
      'redis://127.0.0.1:6379',
      'rediss://user:p%40ss@redis.internal:6380/3',
      'redis://:pw@h:1/0',
      'redis://[::1]:6379',
      'redis://h:6379/0?family=6',
    ]) {
      expect(storeUrlProblem(url), url).toBeUndefined();
    }
  });

  it('refuses other schemes, typos, unencoded @ and /, bad ports and databases, without showing the password', () => {
    const cases: [string, RegExp][] = [
      ['mysql://x', /is not a store: use "sqlite" or redis:\/\//],
      ['redis:/:hunter22@host', /must start with redis:\/\/ or rediss:\/\//],
      ['redis://:hunter22@', /no valid host/],
      ['redis://:hun@ter22@host', /write @ in a password as %40/],
      ['redis://:hun/ter22@host:6379/0', /%2F/],
      ['redis://:hunter22@host:0', /port must be a number from 1 to 65535/],
      ['redis://:hunter22@host:99999', /port must be a number from 1 to 65535/],
      ['redis://:hunter22@host:6379/x', /database number/],
      ['redis://:hunter%zz22@host', /malformed %-escape/],
      ['', /is not a store/],
    ];
    for (const [url, reason] of cases) {
      const problem = storeUrlProblem(url);
      expect(problem, url).toMatch(reason);
      expect(problem).not.toContain('hunter');
    }
  });
});

describe('secret values', () => {
  it('takes configured apiKeyEnv values, *_API_KEY/_TOKEN/_SECRET/_PASSWORD variables and the store password; skips short ones', () => {
    const env = {
      NVIDIA_API_KEY: 'nvapi-1234567890',
      MINE_KEY: 'mine-abcdefgh',
      GITHUB_TOKEN: 'ghp_abcdefgh',
      APP_SECRET: 'appsecret-1',
      DB_PASSWORD: 'dbpassword-1',
      SHORT_TOKEN: 'short',
      HOME: '/home/someone-long',
      CLAW_STORE: 'redis://:store-pass%40x@host:6379/0',
    };
    const values = secretValues(env, { gateways: { mine: { apiKeyEnv: 'MINE_KEY' } } });
    for (const v of ['nvapi-1234567890', 'mine-abcdefgh', 'ghp_abcdefgh', 'appsecret-1', 'dbpassword-1', 'store-pass%40x', 'store-pass@x'])
      expect(values).toContain(v);
    expect(values).not.toContain('short');
    expect(values).not.toContain('/home/someone-long');
    // Without the config, a variable that matches no pattern is not a secret.
    expect(secretValues(env)).not.toContain('mine-abcdefgh');
  });

  it('names the same variables secret as the pattern it replaced, on names built from the words around the boundary', () => {
    const pattern = /(?:^|_)(?:API_?KEY|ACCESS_KEY|SECRET_KEY|PRIVATE_KEY|TOKEN|SECRET|PASSWORD|PASSWD)$/;
    const parts = ['API', '_', 'KEY', 'api', 'Key', 'TOKEN', 'token', 'SECRET', 'PASS', 'WORD', 'WD', 'ACCESS', 'PRIVATE', 'X', '9', '-', 'ß', 'ı', ''];
    const rand = prng(7);
    let secret = 0;
    for (let i = 0; i < 20_000; i++) {
      const name = joinedParts(rand, parts);
      const expected = pattern.test(name.toUpperCase());
      expect(isSecretName(name), name).toBe(expected);
      if (expected) secret++;
    }
    expect(secret).toBeGreaterThan(500); // the generator reaches both answers
    for (const name of ['NVIDIA_API_KEY', 'nvidia_apikey', 'GH_TOKEN', 'PASSWORD', 'DB_PASSWD', 'AWS_SECRET_KEY', 'SECRET'])
      expect(isSecretName(name), name).toBe(true);
    for (const name of ['TOKENS', 'XTOKEN', 'MY-TOKEN', 'KEY', 'API', 'HOME', 'PASSWORD_FILE', '']) expect(isSecretName(name), name).toBe(false);
  });

  it('survives a config whose gateways are not objects', () => {
    expect(() => secretValues({}, { gateways: 'x' as never })).not.toThrow();
    expect(() => secretValues({}, { gateways: { a: null as never } })).not.toThrow();
  });

  it('redacts text and bytes, the longest value first', () => {
    const values = secretValues({ A_TOKEN: 'abcdefgh', B_TOKEN: 'abcdefgh-longer' });
    expect(redactSecrets('x abcdefgh-longer y abcdefgh z', values)).toBe('x *** y *** z');
    const bytes = Buffer.concat([Buffer.from([0xff, 0x00]), Buffer.from('abcdefgh'), Buffer.from([0xfe])]);
    expect(Buffer.from(redactBytes(bytes, values))).toEqual(Buffer.concat([Buffer.from([0xff, 0x00]), Buffer.from('***'), Buffer.from([0xfe])]));
    const clean = Buffer.from('nothing here');
    expect(redactBytes(clean, values)).toBe(clean);
  });
});

describe('redactingStream', () => {
  const secret = 'nvapi-SECRET-0123456789';
  const text = `start ${secret} middle ${secret}${secret} end nvapi-SEC`;

  it('catches a secret split across chunks at every position, and loses no other byte', async () => {
    for (let a = 1; a < text.length - 1; a++) {
      for (const b of [a + 1, a + 7, text.length - 1]) {
        if (b <= a || b >= text.length) continue;
        const out: Buffer[] = [];
        const stream = redactingStream([secret], (bytes) => out.push(Buffer.from(bytes)));
        stream.write(Buffer.from(text.slice(0, a)));
        stream.write(Buffer.from(text.slice(a, b)));
        stream.write(Buffer.from(text.slice(b)));
        stream.end();
        expect(Buffer.concat(out).toString()).toBe('start *** middle ****** end nvapi-SEC');
      }
    }
  });

  it('holds back only what could start a secret, and lets it out when the output pauses', async () => {
    const out: string[] = [];
    const stream = redactingStream([secret], (bytes) => out.push(Buffer.from(bytes).toString()), 20);
    stream.write(Buffer.from('Password: '));
    expect(out.join('')).toBe('Password: ');
    stream.write(Buffer.from('key nvapi-'));
    expect(out.join('')).toBe('Password: key ');
    await new Promise((r) => setTimeout(r, 60));
    expect(out.join('')).toBe('Password: key nvapi-');
  });
});
