import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CronExpressionParser } from 'cron-parser';
import { describe, expect, it } from 'vitest';
import { crontabSyntaxProblem, hostSchedule, onCalendar } from '../../src/cron/schedule';
import { cronCommand, cronPath, detectCron, envLine, hostTimeZone, type CronHost, type FileProbe } from '../../src/cron/crontab';

const now = Date.parse('2026-11-26T03:07:00Z');

/** Fire times from cron-parser (another implementation than claw's own scan), over the next year. */
function fires(schedule: string, tz: string, count: number): number[] {
  const it = CronExpressionParser.parse(schedule, { tz, currentDate: new Date(now) });
  return Array.from({ length: count }, () => it.next().getTime());
}

describe('a schedule under a cron that ignores CRON_TZ', () => {
  it('keeps schedules that fire at the same instants in both zones, half-hour and 45-minute offsets included', () => {
    expect(hostSchedule('*/10 * * * *', 'Asia/Shanghai', 'UTC', now)).toEqual({ kind: 'same', schedule: '*/10 * * * *' });
    expect(hostSchedule('*/10 * * * *', 'Europe/Berlin', 'UTC', now)).toEqual({ kind: 'same', schedule: '*/10 * * * *' });
    expect(hostSchedule('*/10 * * * *', 'Asia/Kolkata', 'UTC', now).kind).toBe('same');
    expect(hostSchedule('*/15 * * * *', 'Asia/Kathmandu', 'UTC', now).kind).toBe('same');
    expect(hostSchedule('0 */2 * * *', 'Asia/Shanghai', 'UTC', now)).toEqual({ kind: 'same', schedule: '0 */2 * * *' });
  });

  it('translates a fixed offset exactly, and the translation fires at the instants cron-parser gives for the original', () => {
    const cases: [string, string, string, string][] = [
      ['0 9 * * 1-5', 'Asia/Shanghai', 'UTC', '0 1 * * 1-5'],
      ['0 6 * * 1-5', 'Asia/Shanghai', 'UTC', '0 22 * * 0-4'],
      ['0 9 1 * *', 'Asia/Shanghai', 'UTC', '0 1 1 * *'],
      // India is +05:30: "every hour on the hour" there is half past in UTC.
      ['0 * * * *', 'Asia/Kolkata', 'UTC', '30 * * * *'],
      ['*/10 * * * *', 'Asia/Kathmandu', 'UTC', '5,15,25,35,45,55 * * * *'],
      ['0 9 * * *', 'UTC', 'Asia/Shanghai', '0 17 * * *'],
      // Both switch to summer time at the same instant: always an hour apart.
      ['30 9 * * 1-5', 'Europe/Berlin', 'Europe/London', '30 8 * * 1-5'],
    ];
    for (const [schedule, tz, host, expected] of cases) {
      const line = hostSchedule(schedule, tz, host, now);
      expect(line, `${schedule} in ${tz}`).toMatchObject({ kind: 'translated', schedule: expected });
      expect(fires(expected, host, 400)).toEqual(fires(schedule, tz, 400));
    }
  });

  it('refuses what no fixed line can say: daylight saving time, runs moved across a day boundary with a day-of-month', () => {
    const berlin = hostSchedule('0 9 * * 1-5', 'Europe/Berlin', 'UTC', now);
    expect(berlin).toEqual({
      kind: 'refused',
      reason: 'Europe/Berlin is +01:00 or +02:00 from UTC depending on the time of year (daylight saving time), so no fixed line fires at the same instants',
    });
    expect(hostSchedule('0 9 * * *', 'America/New_York', 'UTC', now).kind).toBe('refused');
    // 03:00 on the 1st in Shanghai is 19:00 on the last day of the month before in UTC.
    expect(hostSchedule('0 3 1 * *', 'Asia/Shanghai', 'UTC', now)).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/the day before/) });
    // 09:00 and 09:45 in Kolkata are 03:30 and 04:15 UTC: two hours, different minutes.
    expect(hostSchedule('0,45 9 * * *', 'Asia/Kolkata', 'UTC', now)).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/different hours/) });
    expect(onCalendar('0 9 * * 1-5', 'Europe/Berlin')).toBe('OnCalendar=Mon,Tue,Wed,Thu,Fri *-*-* 09:00:00 Europe/Berlin');
  });

  it('refuses the cron-parser syntax that cron does not read', () => {
    expect(crontabSyntaxProblem('0 9 L * *')).toMatch(/L, W, # or \?/);
    expect(crontabSyntaxProblem('0 9 * * 1#2')).toMatch(/L, W, # or \?/);
    expect(crontabSyntaxProblem('0 9 * JUL,AUG MON-FRI')).toBeUndefined();
    expect(crontabSyntaxProblem('*/10 * * * *')).toBeUndefined();
  });
});

describe('crontab text cron and sh can carry', () => {
  it('writes env values cron reads verbatim: bare, or inside a pair of quotes, never a newline', () => {
    expect(envLine('PATH', '/opt/node/bin:/usr/bin:/bin')).toBe('PATH=/opt/node/bin:/usr/bin:/bin');
    expect(envLine('CLAW_STATE_DIR', '/home/a b/state')).toBe('CLAW_STATE_DIR="/home/a b/state"');
    expect(envLine('CLAW_STATE_DIR', '/x/"q" dir')).toBe(`CLAW_STATE_DIR='/x/"q" dir'`);
    expect(envLine('CLAW_STATE_DIR', "/x;rm -rf ~;'")).toBe(`CLAW_STATE_DIR="/x;rm -rf ~;'"`);
    expect(() => envLine('CLAW_STATE_DIR', `/x/"a" 'b'`)).toThrow(/both kinds of quote/);
    expect(() => envLine('CLAW_STATE_DIR', '/x\ny')).toThrow(/newline/);
  });

  it('quotes command words for sh and escapes % for cron', () => {
    expect(cronCommand(['/usr/bin/node', '/x;touch y;#/claw', 'heartbeat', 'coo'])).toBe(`/usr/bin/node '/x;touch y;#/claw' heartbeat coo`);
    expect(cronCommand(['/logs/50%/coo.log'])).toBe('/logs/50\\%/coo.log');
    expect(() => cronCommand(['/logs/a\\%b'])).toThrow(/\\\\%/);
    expect(() => cronCommand(['/logs/a\nb'])).toThrow(/newline/);
  });
});

describe("cron's PATH", () => {
  const files = (table: Record<string, string>): FileProbe => ({ isExecutable: (p) => p in table, head: (p) => table[p] ?? '' });

  it("puts the node that openclaw's #!/usr/bin/env node picks first, then the programs, claw's node, /usr/bin:/bin", () => {
    const probe = files({
      '/home/u/.nvm/versions/node/v24.21.0/bin/node': '',
      '/home/u/.npm-global/bin/openclaw': '#!/usr/bin/env node\n',
      '/home/u/.local/bin/multica': '\x7fELF',
      '/usr/bin/node': '',
    });
    const path = cronPath(
      ['openclaw', 'multica', 'openclaw'],
      '/home/u/.local/bin:/home/u/.nvm/versions/node/v24.21.0/bin:/home/u/.npm-global/bin:/usr/bin:/bin',
      '/usr/bin/node',
      probe,
    );
    expect(path.dirs).toEqual(['/home/u/.nvm/versions/node/v24.21.0/bin', '/home/u/.npm-global/bin', '/home/u/.local/bin', '/usr/bin', '/bin']);
    expect(path.missing).toEqual([]);
    expect(path.warnings).toEqual([]);
    expect(path.found[0]).toEqual({
      program: 'openclaw',
      path: '/home/u/.npm-global/bin/openclaw',
      interpreter: '/home/u/.nvm/versions/node/v24.21.0/bin/node',
    });
  });

  it('names programs it did not find, warns when the new order would pick another copy, refuses a dir with a newline', () => {
    const shadowed = files({ '/opt/node/bin/node': '', '/opt/node/bin/openclaw': '#!/bin/sh\n', '/usr/local/bin/openclaw': '#!/usr/bin/env node\n' });
    const path = cronPath(['openclaw', 'multica'], '/usr/local/bin:/opt/node/bin:/usr/bin', '/usr/bin/node', shadowed);
    expect(path.missing).toEqual(['multica']);
    expect(path.warnings).toEqual(['under this PATH openclaw is /opt/node/bin/openclaw, not /usr/local/bin/openclaw']);
    expect(() => cronPath(['openclaw'], '/opt/a\nb', '/usr/bin/node', files({ '/opt/a\nb/openclaw': '' }))).toThrow(/newline/);
  });
});

describe('which cron, which zone', () => {
  function host(
    processes: Record<string, { comm: string; exe?: string }>,
    installed: string[] = [],
    links: Record<string, string> = {},
    files: Record<string, string> = {},
  ): CronHost {
    const proc = mkdtempSync(join(tmpdir(), 'claw-proc-'));
    for (const [pid, p] of Object.entries(processes)) {
      mkdirSync(join(proc, pid));
      writeFileSync(join(proc, pid, 'comm'), `${p.comm}\n`);
      if (p.exe) links[join(proc, pid, 'exe')] = p.exe;
    }
    return {
      procDir: proc,
      exists: (p) => installed.includes(p),
      readlink: (p) => links[p],
      readFile: (p) => files[p] ?? (p.startsWith(proc) ? require('node:fs').readFileSync(p, 'utf8') : undefined),
      realpath: (p) => links[p] ?? p,
    };
  }

  it('a running crond (cronie) honours CRON_TZ; a running cron (Debian) or busybox crond ignores it; else the binaries say', () => {
    expect(detectCron(host({ 1: { comm: 'systemd' }, 412: { comm: 'crond', exe: '/usr/sbin/crond' } })).kind).toBe('honours-tz');
    expect(detectCron(host({ 1: { comm: 'systemd' }, 388: { comm: 'cron', exe: '/usr/sbin/cron' } }, ['/usr/sbin/crond'])).kind).toBe('ignores-tz');
    expect(detectCron(host({ 77: { comm: 'crond', exe: '/bin/busybox' } })).kind).toBe('ignores-tz');
    expect(detectCron(host({}, ['/usr/sbin/crond']))).toEqual({ kind: 'honours-tz', why: 'no cron is running; /usr/sbin/crond (cronie) is installed' });
    expect(detectCron(host({}, ['/usr/sbin/cron'])).kind).toBe('ignores-tz');
    expect(detectCron(host({})).kind).toBe('ignores-tz');
  });

  it("takes the host's zone from /etc/localtime over the user's TZ, which the cron daemon does not have", () => {
    expect(hostTimeZone({ TZ: 'Asia/Shanghai' }, host({}, [], { '/etc/localtime': '/usr/share/zoneinfo/Etc/UTC' }))).toEqual({
      zone: 'Etc/UTC',
      from: '/etc/localtime',
    });
    expect(hostTimeZone({}, host({}, [], {}, { '/etc/timezone': 'Europe/Berlin\n' }))).toEqual({ zone: 'Europe/Berlin', from: '/etc/timezone' });
    expect(hostTimeZone({ TZ: ':Asia/Kolkata' }, host({}))).toEqual({ zone: 'Asia/Kolkata', from: 'TZ' });
  });
});
