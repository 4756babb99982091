/**
 * The condition language on hand-built records: every operator and transformer, quoting and
 * escapes, precedence, lists, multi-valued attributes, exact 64-bit timestamps, Falco field names,
 * and regex safety. Semantics are ours as documented (README; compat §5.4 for sf.*; peers-and-falco
 * §1.4–1.6 for Falco): unknown names are errors, only list attributes are multi-valued, regex is a
 * full match in V8's linear-time engine, pmatch on sf.* is "any item is a substring" and on Falco
 * names a path prefix.
 */
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { PolicyError } from '../core/errors.js';
import { parseCondition, ConditionSyntaxError } from '../core/policy/parser.js';
import type { FlatRecord } from '../core/flatten/flatrecord.js';
import { compileCondition, fe, ff, initHashing, ke, nf, pe, OpFlags, OpenFlags, type CondEnv } from './helpers/records.js';

before(async () => {
  await initHashing();
});

/** Does `cond` hold for `r`? */
const on = (cond: string, r: FlatRecord, env?: CondEnv): boolean => compileCondition(cond, env).match(r);

/** Check a table of [condition, expected] against one record. */
function table(r: FlatRecord, rows: [string, boolean][], env?: CondEnv): void {
  for (const [cond, want] of rows) assert.equal(on(cond, r, env), want, `${cond} → expected ${want}`);
}

/** The condition must fail to compile with a PolicyError whose reason matches `re`. */
function rejects(cond: string, re: RegExp, env?: CondEnv): PolicyError {
  let caught: unknown;
  try {
    compileCondition(cond, env);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof PolicyError, `${cond}: expected a PolicyError, got ${caught instanceof Error ? `${caught.constructor.name}: ${caught.message}` : String(caught)}`);
  assert.match(caught.reason, re, cond);
  assert.ok(!caught.message.includes('\n'), `one-line message: ${JSON.stringify(caught.message)}`);
  return caught;
}

// The standard cast: curl run from bash (sshd → bash → curl), on the host.
const CURL = () =>
  pe({ pid: 100, exe: '/usr/bin/curl', args: '-s http://example.com/a?b=c', user: 'alice', uid: 1000, parent: { pid: 99, exe: '/bin/bash' }, ancestors: [{ pid: 1, exe: '/usr/sbin/sshd' }] });

describe('comparison operators', () => {
  test('= and == (exact, case-sensitive), !=', () => {
    const r = CURL();
    table(r, [
      ['proc.name = curl', true],
      ['proc.name == curl', true],
      ['proc.name = Curl', false],
      ['proc.name = cur', false],
      ['proc.name != curl', false],
      ['proc.name != bash', true],
      ['proc.name=curl', true],
      ['proc.name!=curl', false],
      ['sf.proc.pid = 100', true],
      ['sf.proc.pid == 0x64', true],
      ['sf.proc.pid = +100', true],
      ['sf.proc.pid != 100', false],
      ['sf.proc.uid = 1000', true],
      ['sf.proc.tty = false', true],
      ['sf.proc.tty = 0', true],
      ['sf.proc.tty != true', true],
      ['sf.type = PE', true],
      ['sf.type = FF', false],
    ]);
  });

  test('< <= > >= on integers (signed), int lists (any element)', () => {
    table(CURL(), [
      ['sf.proc.pid < 101', true],
      ['sf.proc.pid < 100', false],
      ['sf.proc.pid <= 100', true],
      ['sf.proc.pid<=100', true],
      ['sf.proc.pid > 99', true],
      ['sf.proc.pid > 100', false],
      ['sf.proc.pid >= 100', true],
      ['sf.proc.pid>=101', false],
      ['sf.proc.pid > -1', true],
    ]);
    table(pe({ ret: -13 }), [
      ['sf.ret < 0', true],
      ['sf.ret = -13', true],
      ['sf.ret >= -13', true],
      ['sf.ret > -13', false],
    ]);
    table(nf({ sport: 40000, dport: 80 }), [
      ['sf.net.port > 1024', true], // the source port
      ['sf.net.port < 80', false],
      ['sf.net.port <= 80', true],
      ['sf.net.dport < 1024', true],
    ]);
  });

  test('ordering and type errors', () => {
    rejects('proc.name > 3', /'>' needs a numeric field/);
    rejects('sf.proc.pid contains 1', /'contains' does not apply to the number/);
    rejects('sf.proc.pid = abc', /expected an integer, found 'abc'/);
    rejects('sf.proc.tty > 0', /does not apply to the boolean/);
    rejects('sf.proc.tty = yes', /expected true or false/);
    rejects('sf.proc.pid < 0xAAA.1', /expected an integer/);
  });

  test('contains, icontains, startswith, endswith', () => {
    table(CURL(), [
      ['proc.args contains example', true],
      ['proc.args contains EXAMPLE', false],
      ['proc.args icontains EXAMPLE', true],
      ['proc.args icontains "HTTP://"', true],
      ['proc.args contains ""', true],
      ['proc.args startswith -s', true],
      ['proc.args startswith http', false],
      ['proc.args endswith "b=c"', true],
      ['proc.exe endswith /curl', true],
      ['proc.exe startswith /usr/', true],
    ]);
  });

  test('bcontains, bstartswith: hex bytes over the UTF-8 value', () => {
    const r = pe({ exe: '/usr/bin/café' });
    table(r, [
      ['proc.name bcontains 6166', true], // "af"
      ['proc.name bcontains 6166C3A9', true], // "afé", upper-case hex
      ['proc.name bcontains 6167', false],
      ['proc.name bstartswith 636166', true], // "caf"
      ['proc.name bstartswith 6166', false],
    ]);
    rejects('proc.name bcontains 616', /needs hex bytes/);
    rejects('proc.name bstartswith zz', /needs hex bytes/);
  });

  test('glob: * ? [..] [!..], * crosses /, escapes, other characters literal', () => {
    const r = ff({ path: '/etc/ssh/sshd_config' });
    table(r, [
      ['fd.name glob "/etc/*"', true],
      ['fd.name glob /etc/*', true],
      ['fd.name glob "/etc/ssh/sshd_confi?"', true],
      ['fd.name glob "/etc/ssh/sshd_confi"', false],
      ['fd.name glob "/etc/[rs]sh/*"', true],
      ['fd.name glob "/etc/[!s]sh/*"', false],
      ['fd.name glob "*config"', true],
      ['fd.name glob "/etc/ssh/sshd.config"', false], // '.' is literal
      ['fd.name glob "/etc/ssh/sshd_c(o)nfig"', false],
    ]);
    table(ff({ path: '/tmp/a*b' }), [
      ['fd.name glob /tmp/a\\*b', true],
      ['fd.name glob "/tmp/a\\\\*b"', true],
      ['fd.name glob "/tmp/a\\\\*"', false], // \* is a literal star: "a*" is not "a*b"
    ]);
    table(ff({ path: '/tmp/a+b(c).x' }), [['fd.name glob "/tmp/a+b(c).?"', true]]);
    table(ff({ path: '/tmp/[abc' }), [['fd.name glob "/tmp/[abc"', true]]); // an unclosed [ is literal
    for (const [g, v, want] of [
      ['a*a', 'a', false],
      ['a*a', 'aa', true],
      ['*ab*ab', 'abab', true],
      ['*ab*ab', 'ab', false],
      ['**', '', true],
      ['', '', true],
      ['*', 'x y', true],
      ['x?y', 'x\ny', true],
    ] as const) {
      assert.equal(on(`proc.args glob ${JSON.stringify(g)}`, pe({ args: v })), want, `${JSON.stringify(v)} glob ${JSON.stringify(g)}`);
    }
  });

  test('glob: POSIX bracket details (a leading ] is a member, [[:alpha:]] classes)', () => {
    assert.equal(on('proc.args glob "/tmp/[]a]"', pe({ args: '/tmp/]' })), true);
    assert.equal(on('proc.args glob "/tmp/[]a]"', pe({ args: '/tmp/a' })), true);
    assert.equal(on('proc.args glob "/tmp/[]a]"', pe({ args: '/tmp/b' })), false);
    assert.equal(on('proc.args glob "/tmp/[!]a]"', pe({ args: '/tmp/b' })), true);
    assert.equal(on('proc.args glob "/tmp/[!]a]"', pe({ args: '/tmp/]' })), false);
    assert.equal(on('proc.args glob "[[:alpha:]]"', pe({ args: 'q' })), true);
    assert.equal(on('proc.args glob "[[:alpha:]]"', pe({ args: '7' })), false);
    assert.equal(on('proc.args glob "x[[:digit:]_]y"', pe({ args: 'x_y' })), true);
    assert.equal(on('proc.args glob "x[^[:digit:]]y"', pe({ args: 'x5y' })), false);
    assert.equal(on('proc.args glob "[\\\\]"', pe({ args: '\\' })), true); // backslash is a member
    rejects('proc.args glob "[[:alfa:]]"', /invalid glob '\[\[:alfa:\]\]': unknown character class '\[:alfa:\]'/);
  });

  test('glob with a reversed class range is a PolicyError', () => {
    // (fixed in 93f50d5: was a raw SyntaxError out of buildPolicySet)
    rejects('proc.name glob "[z-a]url"', /invalid glob '\[z-a\]url'/);
    rejects('proc.name iglob "[z-a]url"', /invalid glob/);
  });

  test('iglob: case-insensitive glob', () => {
    // (fixed in 93f50d5: every iglob was a raw SyntaxError, V8's linear engine has no i flag)
    const r = CURL();
    assert.equal(on('proc.name iglob "CU*"', r), true);
    assert.equal(on('proc.name iglob c?RL', r), true);
    assert.equal(on('proc.name iglob "[A-C]URL"', r), true);
    assert.equal(on('proc.name iglob "x*"', r), false);
    assert.equal(on('proc.name glob "CU*"', r), false);
  });

  test('regex: full match, V8 syntax, dot matches newline', () => {
    const r = CURL();
    table(r, [
      ['proc.name regex "cu.*"', true],
      ['proc.name regex cur', false], // full match, not search
      ['proc.name regex "c[a-z]+l"', true],
      ['proc.name regex "(curl|wget)"', true],
      ['proc.name regex curl|wget', true],
      ['proc.name regex "CURL"', false],
      ['proc.args regex ".*\\\\?b=c"', true],
      ['proc.args regex "-s\\\\s+http://.*"', true],
    ]);
    assert.equal(on('proc.args regex "a.b"', pe({ args: 'a\nb' })), true);
    rejects('proc.name regex "[a-"', /regex rejected/);
    rejects('proc.name regex "(?i)curl"', /regex rejected/);
  });

  test('regex safety: catastrophic patterns run in linear time; backreferences and lookaround are rejected', () => {
    const long = pe({ args: 'a'.repeat(50_000) });
    for (const pat of ['(a|a)*b', '(a+)+b', '(a*)*b', '(a|aa)+$b', '([a-z]+)*[0-9]']) {
      const c = compileCondition(`proc.args regex "${pat}"`);
      const t0 = performance.now();
      assert.equal(c.match(long), false, pat);
      const ms = performance.now() - t0;
      assert.ok(ms < 1000, `${pat} took ${ms.toFixed(0)} ms on 50,000 characters`);
    }
    for (const pat of ['(a)\\\\1', '(?<x>a)\\\\k<x>', '(?=c)curl', '(?!x)curl', '(?<=c)url', '(?<!x)curl']) {
      const e = rejects(`proc.name regex "${pat}"`, /regex rejected: .*Cannot be executed in linear time.*backreferences and lookaround are not allowed/);
      assert.match(e.message, /^<test>:1:\d+: rule 't': /);
    }
    // a backslash escape the condition string does not know is a string error, before regex
    rejects('proc.name regex "(a)\\1"', /invalid escape '\\1'/);
  });

  test('regex safety: polynomial patterns (two unbounded repetitions) stay fast on long input', () => {
    // linear engine: ~1 ms; backtracking: ~0.5 s per evaluation on 40,000 characters (match() evaluates twice)
    const long = pe({ args: 'a'.repeat(40_000) });
    for (const pat of ['a*a*b', '.*a.*=', '[a-z]*[a-z]*[0-9]', '\\\\w*\\\\w*!']) {
      const c = compileCondition(`proc.args regex "${pat}"`);
      const t0 = performance.now();
      assert.equal(c.match(long), false, pat);
      const ms = performance.now() - t0;
      assert.ok(ms < 250, `${pat} took ${ms.toFixed(0)} ms on 40,000 characters`);
    }
  });
});

describe('list operators', () => {
  test('in: strings, numbers, booleans, timestamps; ( ) and [ ]', () => {
    const r = CURL();
    table(r, [
      ['proc.name in (bash, curl, wget)', true],
      ['proc.name in (bash, wget)', false],
      ['proc.name in [curl]', true],
      ['proc.name in ("curl")', true],
      ["proc.name in ('curl')", true],
      ['proc.name in (curl,)', true], // trailing comma: accepted (upstream rejects; deliberate leniency)
      ['sf.proc.pid in (1, 100)', true],
      ['sf.proc.pid in (0x64)', true],
      ['sf.proc.pid in (1, 2)', false],
      ['sf.proc.tty in (false)', true],
      ['sf.proc.tty in (true)', false],
      ['sf.ts in (1700000005000000000)', true],
      ['sf.type in (PE, FF)', true],
    ]);
    rejects('proc.name in (curl]', /expected ',' or '\)'/);
    rejects('sf.proc.pid in (a)', /expected an integer/);
  });

  test('empty list: never true (reported as such)', () => {
    const c = compileCondition('proc.name in ()');
    assert.equal(c.match(CURL()), false);
    assert.equal(c.set.report[0]!.status, 'unsupported');
    assert.match(c.set.report[0]!.notes[0]!, /can never be true/);
    assert.equal(on('not proc.name in ()', CURL()), true);
    assert.equal(on('proc.name in () or proc.name = curl', CURL()), true);
  });

  test('intersects: any value in the set', () => {
    table(ff({ flags: OpFlags.OPEN | OpFlags.READ_RECV | OpFlags.CLOSE }), [
      ['sf.opflags intersects (READ, MMAP)', true],
      ['sf.opflags intersects (WRITE, MMAP)', false],
      ['proc.aname intersects (bash, zsh)', true],
      ['evt.type intersects (openat, mkdir)', true],
    ]);
  });

  test('pmatch: sf.* = any item is a substring; Falco names = path prefix', () => {
    const r = ff({ path: '/etc/shadow' });
    table(r, [
      ['sf.file.path pmatch (/et)', true],
      ['sf.file.path pmatch (shad, /nope)', true],
      ['sf.file.path pmatch (/nope)', false],
      ['fd.name pmatch (/etc)', true],
      ['fd.name pmatch (/etc/)', true], // a trailing slash is the same directory
      ['fd.name pmatch (/)', true],
      ['fd.name pmatch (/et)', false], // not a path prefix
      ['fd.name pmatch (/etc/shadow)', true], // the path itself
      ['fd.name pmatch (/etc/shadow/x)', false],
      ['fd.name pmatch (/usr, "/etc")', true],
      ['sf.proc.aname pmatch (bas)', true], // list attribute: any element
    ]);
    rejects('sf.proc.pid pmatch (1)', /pmatch needs a string field/);
  });

  test('named lists merge into the literal list; nested lists; empty lists; quoted names stay literal', () => {
    const env: CondEnv = { lists: { shells: ['bash', 'sh', 'zsh_like'], zsh_like: ['zsh'], fetchers: ['curl', 'wget'], none: [] } };
    const curl = CURL();
    const zsh = pe({ exe: '/bin/zsh' });
    table(
      curl,
      [
        ['proc.name in (shells)', false],
        ['proc.name in (shells, fetchers)', true],
        ['proc.name in (shells, curl)', true],
        ['proc.name in ("fetchers")', false], // quoted: the literal word
        ['proc.name in (none, curl)', true],
        ['proc.name in (none)', false],
        ['proc.pname in (shells)', true],
      ],
      env,
    );
    table(zsh, [['proc.name in (shells)', true]], env);
    // an unknown bare word in a list is a literal, not an error
    assert.equal(on('proc.name in (undefined_list)', curl), false);
    assert.equal(on('proc.name in (undefined_list)', pe({ exe: '/x/undefined_list' })), true);
  });
});

describe('exists', () => {
  test('per type: "" / 0 / false / [] are absent', () => {
    const r = CURL();
    table(r, [
      ['proc.name exists', true],
      ['proc.args exists', true],
      ['sf.proc.pid exists', true],
      ['sf.ret exists', false], // 0
      ['sf.proc.tty exists', false], // false
      ['sf.proc.aname exists', true],
      ['sf.file.path exists', false], // not a file record
      ['sf.net.ip exists', false],
      ['sf.ts exists', true],
      ['sf.proc.oid exists', true],
      ['container.id exists', true], // "host"
      ['sf.container.id exists', false],
    ]);
    table(pe({ args: '' }), [
      ['proc.args exists', false],
      ['not proc.args exists', true],
    ]);
    table(nf(), [
      ['sf.net.ip exists', true],
      ['sf.net.port exists', true],
    ]);
  });
});

describe('transformers', () => {
  test('tolower, toupper', () => {
    const r = pe({ exe: '/usr/bin/CuRl' });
    table(r, [
      ['tolower(proc.name) = curl', true],
      ['toupper(proc.name) = CURL', true],
      ['proc.name = curl', false],
      ['tolower(proc.name) in (wget, curl)', true],
      ['toupper(sf.proc.aname) = BASH', true], // over a list: element-wise
    ]);
  });

  test('basename', () => {
    table(ff({ path: '/etc/shadow' }), [
      ['basename(fd.name) = shadow', true],
      ['basename(proc.exe) = bash', true],
      ['toupper(basename(fd.name)) = SHADOW', true],
    ]);
    table(ff({ path: '/tmp/dir/' }), [['basename(fd.name) = dir', true]]);
    table(pe({ proc: null }), [['basename(proc.exe) = ""', true]]);
  });

  test('len: string length, list size', () => {
    table(CURL(), [
      ['len(proc.name) = 4', true],
      ['len(proc.name) > 3', true],
      ['len(sf.proc.aname) = 3', true],
      ['len(proc.aname) = 2', true], // Falco proc.aname without an index: the ancestors only
      ['len(basename(proc.exe)) = 4', true],
      ['len(tolower(proc.name)) >= 4', true],
    ]);
    table(pe({ proc: null }), [
      ['len(proc.name) = 0', true],
      ['len(sf.proc.aname) = 0', true],
    ]);
    rejects('len(sf.proc.pid) = 1', /len\(\) needs a string or list field/);
    rejects('len(proc.name) = abc', /expected an integer/);
  });

  test('b64: decodes base64', () => {
    const r = pe({ args: Buffer.from('hello, world').toString('base64') });
    table(r, [
      ['b64(proc.args) = "hello, world"', true],
      ['b64(proc.args) contains world', true],
      ['proc.args contains world', false],
    ]);
    rejects('b64(sf.proc.pid) = 1', /b64\(\) needs a string field/);
    rejects('tolower(sf.proc.pid) = 1', /tolower\(\) needs a string field/);
  });

  test('val() and bare sf.* right-hand sides compare two fields', () => {
    const same = pe({ exe: '/bin/bash', parent: { pid: 99, exe: '/bin/bash' } });
    const diff = CURL();
    const rows: [string, boolean, boolean][] = [
      ['proc.name = val(proc.pname)', true, false],
      ['proc.name != val(proc.pname)', false, true],
      ['sf.proc.exe = sf.pproc.exe', true, false],
      ['sf.proc.exe != sf.pproc.exe', false, true],
      ['proc.name = proc.pname', false, false], // a bare Falco name on the right is a literal
      ['sf.proc.pid > sf.pproc.pid', true, true],
      ['sf.proc.pid = val(sf.pproc.pid)', false, false],
      ['proc.exe startswith val(proc.pexe)', true, false],
      ['proc.name = tolower(proc.pname)', true, false], // transformer on the right
      ['sf.proc.aname = val(proc.pname)', true, true], // list attribute: any element
    ];
    for (const [cond, a, b] of rows) {
      assert.equal(on(cond, same), a, `${cond} (bash←bash)`);
      assert.equal(on(cond, diff), b, `${cond} (curl←bash)`);
    }
    assert.equal(on('proc.name = "proc.pname"', pe({ exe: '/x/proc.pname' })), true);
    rejects('sf.proc.pid = val(proc.name)', /different types/);
    rejects('proc.name glob val(proc.pname)', /cannot compare two fields/);
    assert.throws(
      () => parseCondition('val(proc.name) = x'),
      (e: unknown) => e instanceof ConditionSyntaxError && /only allowed on the right-hand side/.test(e.message),
    );
  });
});

describe('values: empty strings, commas, quoting and escapes', () => {
  test('empty strings', () => {
    table(pe({ args: '' }), [
      ['proc.args = ""', true],
      ["proc.args = ''", true],
      ['proc.args != ""', false],
      ['proc.args in ("", x)', true],
      ['proc.args startswith ""', true],
      ['sf.file.path = ""', true], // no file on a PE: the zero value
    ]);
  });

  test('values containing commas are one value (only list attributes are multi-valued)', () => {
    const r = pe({ exe: '/usr/bin/cu,rl', args: '-H a,b' });
    table(r, [
      ['proc.args = "-H a,b"', true],
      ['proc.args contains ","', true],
      ['proc.args contains "a,b"', true],
      ['proc.name = "cu,rl"', true],
      ['proc.name in ("cu,rl")', true],
      ['proc.name in (cu, rl)', false], // sf-processor would split "cu,rl"; we do not
      ['proc.name = cu', false],
    ]);
    rejects('proc.name = a,b', /expected 'and', 'or' or end of condition, found ','/);
  });

  test('Falco escapes in quoted strings', () => {
    const cases: [string, string][] = [
      ['"a\\nb"', 'a\nb'],
      ['"a\\tb"', 'a\tb'],
      ['"a\\\\b"', 'a\\b'],
      ['"\\x41BC"', 'ABC'],
      ['"say \\"hi\\""', 'say "hi"'],
      ["'it\\'s'", "it's"],
      ["'mixed \"'", 'mixed "'],
      ['"mixed \'"', "mixed '"],
      ['"a\\/b"', 'a/b'],
      ['"a\\ b"', 'a b'],
      ['"\\r\\f\\b"', '\r\f\b'],
    ];
    for (const [lit, value] of cases) {
      assert.equal(on(`proc.args = ${lit}`, pe({ args: value })), true, `${lit} is ${JSON.stringify(value)}`);
      assert.equal(on(`proc.args = ${lit}`, pe({ args: value + 'x' })), false, lit);
    }
    rejects('proc.args = "it\\\'s"', /invalid escape/); // \' only inside '…'
    rejects("proc.args = 'say \\\"hi'", /invalid escape/); // \" only inside "…"
    rejects('proc.args = "\\q"', /invalid escape '\\q'/);
    rejects('proc.args = "\\x4"', /\\x needs two hex digits/);
    rejects('proc.args = "\\x4g"', /\\x needs two hex digits/);
    rejects('proc.args = "abc', /unterminated string/);
    rejects('proc.args = "abc\\', /unterminated string/);
    rejects("proc.args = 'abc", /unterminated string/);
  });

  test('quoted field names are literals', () => {
    assert.equal(on("proc.args = 'sf.proc.name'", pe({ args: 'sf.proc.name' })), true);
    assert.equal(on('proc.name = "sf.proc.name"', pe({ exe: '/bin/bash' })), false);
    assert.equal(on('proc.name = sf.proc.name', pe({ exe: '/bin/bash' })), true); // bare: the field
  });

  test('bare values may hold !, < and > as in Falco (e.g. 2>&1, fd.name of a network flow)', () => {
    assert.equal(on('proc.args = a!b', pe({ args: 'a!b' })), true);
    assert.equal(on('proc.args contains 2>&1', pe({ args: 'x 2>&1' })), true);
    assert.equal(on('fd.name = 10.0.0.1:40000->10.0.0.2:80', nf()), true);
  });

  test('quoted network fd.name works', () => {
    assert.equal(on('fd.name = "10.0.0.1:40000->10.0.0.2:80"', nf()), true);
  });

  test('error messages are one line even when the value has a newline', () => {
    rejects('sf.proc.pid = "a\\nb"', /expected an integer/);
  });
});

describe('logic', () => {
  const alice = pe({ exe: '/bin/bash', user: 'alice' });
  const bob = pe({ exe: '/bin/sh', user: 'bob' });

  test('precedence: not > and > or', () => {
    // a or b and c  ==  a or (b and c)
    assert.equal(on('proc.name = bash or proc.name = sh and user.name = nobody', alice), true);
    assert.equal(on('(proc.name = bash or proc.name = sh) and user.name = nobody', alice), false);
    // not a and b  ==  (not a) and b
    assert.equal(on('not proc.name = sh and user.name = alice', alice), true);
    assert.equal(on('not proc.name = bash and user.name = alice', alice), false);
    assert.equal(on('not (proc.name = bash and user.name = bob)', alice), true);
    // not a or b  ==  (not a) or b
    assert.equal(on('not proc.name = bash or user.name = alice', alice), true);
    assert.equal(on('not proc.name = sh or user.name = alice', bob), false);
    // and chains, or chains, mixed parentheses
    assert.equal(on('proc.name = sh and user.name = bob and sf.type = PE', bob), true);
    assert.equal(on('proc.name = x or proc.name = y or user.name = bob', bob), true);
    assert.equal(on('((proc.name = sh)) and (((user.name = bob)))', bob), true);
  });

  test('not not, not(, and(, or(', () => {
    table(alice, [
      ['not not proc.name = bash', true],
      ['not not not proc.name = bash', false],
      ['not(proc.name = sh)', true],
      ['not(not(proc.name = bash))', true],
      ['proc.name = bash and(user.name = alice)', true],
      ['proc.name = sh or(user.name = alice)', true],
      ['(proc.name = bash)and(user.name = alice)', true],
      ['(proc.name = sh)or(user.name = alice)', true],
    ]);
  });

  test('macros are parenthesised units', () => {
    const env: CondEnv = { macros: { bash_or_sh: 'proc.name = bash or proc.name = sh', is_alice: 'user.name = alice', nested: 'bash_or_sh and is_alice' } };
    table(
      alice,
      [
        ['bash_or_sh and user.name = nobody', false], // (a or b) and c, not a or (b and c)
        ['not bash_or_sh', false],
        ['nested', true],
        ['not nested', false],
        ['nested and not is_alice', false],
      ],
      env,
    );
    table(
      bob,
      [
        ['nested', false],
        ['bash_or_sh', true],
      ],
      env,
    );
    rejects('undefined_macro', /unknown macro 'undefined_macro'/);
    rejects('proc.name', /'proc.name' is a field and needs an operator|unknown macro/);
  });

  test('syntax errors have positions', () => {
    const e = rejects('proc.name = bash and', /expected a field, a macro or \(, found end of condition/);
    assert.equal(e.col, 21);
    assert.equal(rejects('proc.name = bash bash', /expected 'and', 'or' or end of condition/).col, 18);
    assert.equal(rejects('(proc.name = bash', /expected '\)'/).col, 18);
    rejects('proc.name bash', /expected 'and', 'or' or end of condition, found 'bash'/); // proc.name alone reads as a macro
    rejects('tolower(proc.name) bash', /expected an operator after 'tolower\(…\)'/);
    rejects('proc.aname[1] bash', /expected an operator after 'proc.aname'/);
    rejects('and proc.name = bash', /expected a field, a macro or \(/);
    rejects('proc.name =', /expected a value/);
    rejects('proc.name in bash', /expected '\(' starting a list/);
    rejects('proc.name ! = bash', /found '!'/);
    rejects(`${'('.repeat(600)}proc.name = bash${')'.repeat(600)}`, /nested deeper than 500 levels/);
    rejects(`${'not '.repeat(600)}proc.name = bash`, /nested deeper than 500 levels/);
  });
});

describe('multi-valued list attributes', () => {
  test('sf.opflags', () => {
    table(ff({ flags: OpFlags.OPEN | OpFlags.READ_RECV | OpFlags.CLOSE }), [
      ['sf.opflags = READ', true],
      ['sf.opflags = OPEN', true],
      ['sf.opflags = RECV', false], // RECV is the network name
      ['sf.opflags != WRITE', true],
      ['sf.opflags != READ', false], // != means no element equals
      ['sf.opflags in (WRITE, CLOSE)', true],
      ['sf.opflags contains CLO', true],
    ]);
    table(nf({ flags: OpFlags.CONNECT | OpFlags.WRITE_SEND }), [
      ['sf.opflags = SEND', true],
      ['sf.opflags = WRITE', false],
      ['sf.opflags in (CONNECT)', true],
    ]);
  });

  test('sf.proc.aname (self first) and Falco proc.aname (ancestors; [i] indexes, [0] is self)', () => {
    const r = CURL(); // curl ← bash ← sshd
    table(r, [
      ['sf.proc.aname = curl', true],
      ['sf.proc.aname = bash', true],
      ['sf.proc.aname = sshd', true],
      ['sf.proc.aname = init', false],
      ['sf.proc.aname != sshd', false],
      ['sf.proc.aname in (zsh, sshd)', true],
      ['proc.aname = curl', false],
      ['proc.aname = bash', true],
      ['proc.aname[0] = curl', true],
      ['proc.aname[1] = bash', true],
      ['proc.aname[2] = sshd', true],
      ['proc.aname[3] = ""', true],
      ['proc.aname[3] exists', false],
      ['proc.apid[1] = 99', true],
      ['proc.aexe[2] = /usr/sbin/sshd', true],
      ['sf.proc.apid = 1', true],
    ]);
    rejects('proc.aname[x] = a', /the index must be a number/);
    rejects('sf.proc.aname[1] = a', /takes no argument/);
    rejects('proc.name[1] = a', /takes no argument/);
  });

  test('sf.net.ip and sf.net.port: source or destination', () => {
    const r = nf({ sip: '10.0.0.1', sport: 40000, dip: '192.168.1.20', dport: 443 });
    table(r, [
      ['sf.net.ip = 10.0.0.1', true],
      ['sf.net.ip = 192.168.1.20', true],
      ['sf.net.ip = 10.0.0.2', false],
      ['sf.net.ip != 10.0.0.3', true],
      ['sf.net.ip != 10.0.0.1', false],
      ['sf.net.ip in (1.1.1.1, 192.168.1.20)', true],
      ['sf.net.ip startswith "192.168."', true],
      ['sf.net.sip = 10.0.0.1', true],
      ['sf.net.dip = 10.0.0.1', false],
      ['sf.net.port = 443', true],
      ['sf.net.port = 40000', true],
      ['sf.net.port in (80, 443)', true],
      ['sf.net.port != 443', false],
      ['sf.net.port != 22', true],
      ['fd.sport = 40000', true],
      ['fd.dport = 443', true],
      ['fd.port = 443', true],
      ['fd.l4proto = tcp', true],
    ]);
    // 255.255.255.255 and 0.0.0.0 encode and print exactly
    table(nf({ sip: '255.255.255.255', dip: '0.0.0.0' }), [
      ['sf.net.sip = 255.255.255.255', true],
      ['sf.net.dip = 0.0.0.0', true],
    ]);
  });
});

describe('exact 64-bit timestamps', () => {
  // all three values round to the same double: only exact comparison tells them apart
  const TS = '1700000000123456789';
  test('sf.ts with 19 digits', () => {
    assert.equal(Number(BigInt(TS)), Number(BigInt(TS) - 1n));
    const r = pe({ ts: TS });
    table(r, [
      [`sf.ts = ${TS}`, true],
      ['sf.ts = 1700000000123456788', false],
      ['sf.ts = 1700000000123456790', false],
      ['sf.ts != 1700000000123456788', true],
      ['sf.ts > 1700000000123456788', true],
      ['sf.ts > 1700000000123456789', false],
      ['sf.ts >= 1700000000123456789', true],
      ['sf.ts < 1700000000123456790', true],
      ['sf.ts <= 1700000000123456788', false],
      ['sf.ts in (1700000000123456788, 1700000000123456789)', true],
      ['sf.ts in (1700000000123456788, 1700000000123456790)', false],
      ['evt.time = 1700000000123456789', true],
      ['sf.ts exists', true],
    ]);
  });
  test('sf.proc.createts, sf.endts; malformed values', () => {
    table(ff({ createTS: '1600000000000000001', endTs: '1700000000999999999' }), [
      ['sf.proc.createts = 1600000000000000001', true],
      ['sf.proc.createts = 1600000000000000000', false],
      ['sf.endts = 1700000000999999999', true],
      ['sf.endts > 1700000000999999998', true],
    ]);
    rejects('sf.ts = 17000000001234567890', /expected an integer \(nanoseconds\)/);
    rejects('sf.ts = 1.7e18', /expected an integer \(nanoseconds\)/);
    rejects('sf.ts contains 1', /does not apply/);
  });
});

describe('Falco field names', () => {
  test('evt.type: syscall names for each record kind', () => {
    table(pe({ flags: OpFlags.EXEC }), [
      ['evt.type = execve', true],
      ['evt.type in (execve, execveat)', true],
      ['evt.type = clone', false],
      ['evt.type = open', false],
    ]);
    table(pe({ flags: OpFlags.CLONE }), [
      ['evt.type = clone', true],
      ['evt.type = execve', false],
    ]);
    table(ff({ flags: OpFlags.OPEN | OpFlags.READ_RECV | OpFlags.CLOSE }), [
      ['evt.type = openat', true],
      ['evt.type in (read)', true],
      ['evt.type = write', false],
      ['evt.type = execve', false],
    ]);
    table(nf({ flags: OpFlags.CONNECT | OpFlags.WRITE_SEND }), [
      ['evt.type = connect', true],
      ['evt.type = sendto', true],
      ['evt.type = accept', false],
    ]);
    table(fe({ flags: OpFlags.RENAME, path: '/a', newPath: '/b' }), [
      ['evt.type = rename', true],
      ['evt.type = unlink', false],
      ['fs.path.source = /a', true],
      ['fs.path.target = /b', true],
    ]);
    table(ke(), [['evt.type exists', false]]);
    // the index narrows evt.type = execve to PE EXEC records, but the predicate and the index agree
    table(pe({ flags: OpFlags.EXIT }), [
      ['evt.type = execve', false],
      ['not evt.type = execve', true],
    ]);
  });

  test('evt.type with an unrecorded syscall is reported, not an error', () => {
    const c = compileCondition('evt.type = ptrace');
    assert.equal(c.match(pe()), false);
    assert.ok(
      c.set.report[0]!.notes.some((n) => /does not record ptrace/.test(n)),
      JSON.stringify(c.set.report[0]),
    );
  });

  test('fd.name is the full path; fd.filename, fd.directory', () => {
    table(ff({ path: '/etc/ssh/sshd_config' }), [
      ['fd.name = /etc/ssh/sshd_config', true],
      ['fd.name = sshd_config', false],
      ['fd.filename = sshd_config', true],
      ['fd.directory = /etc/ssh', true],
      ['sf.file.name = sshd_config', true],
    ]);
    table(ff({ path: '/etc/shadow', openFlags: OpenFlags.RDWR }), [
      ['evt.is_open_write = true', true],
      ['evt.is_open_read = true', true],
      ['sf.file.openflags = RDWR', true],
    ]);
  });

  test('proc.pname, proc.aname[i], proc.cmdline', () => {
    table(CURL(), [
      ['proc.pname = bash', true],
      ['proc.pexe = /bin/bash', true],
      ['proc.aname[1] = bash', true],
      ['proc.cmdline = "curl -s http://example.com/a?b=c"', true],
      ['sf.proc.cmdline = "/usr/bin/curl -s http://example.com/a?b=c"', true],
      ['user.name = alice', true],
      ['user.uid = 1000', true],
    ]);
  });

  test('missing parent process', () => {
    const r = pe({ exe: '/usr/bin/curl', parent: null });
    table(r, [
      ['proc.name = curl', true],
      ['proc.pname = ""', true],
      ['proc.pname exists', false],
      ['sf.pproc.name exists', false],
      ['sf.pproc.pid = 0', true],
      ['sf.pproc.tty = false', true],
      ['proc.aname[1] = ""', true],
      ['proc.aname[0] = curl', true],
      ['sf.proc.aname = curl', true],
      ['len(sf.proc.aname) = 1', true],
      ['len(proc.aname) = 0', true],
      ['proc.pcmdline = ""', true],
      ['proc.name = val(proc.pname)', false],
      ['sf.proc.exe = sf.pproc.exe', false],
    ]);
  });

  test('unknown process', () => {
    table(pe({ proc: null, pid: 4242 }), [
      ['proc.name = ""', true],
      ['proc.name exists', false],
      ['sf.proc.pid = 4242', true], // from the event's OID
      ['len(sf.proc.aname) = 0', true],
      ['proc.aname[0] = ""', true],
      ['container.id = host', true],
    ]);
  });

  test('container.id / container.name are "host" outside containers', () => {
    table(CURL(), [
      ['container.id = host', true],
      ['container.name = host', true],
      ['sf.container.id = ""', true],
      ['container.image exists', false],
    ]);
    const inside = pe({ container: { id: 'abcdef012345', name: 'web', image: 'docker.io/library/nginx:1.25', type: 'CT_DOCKER', privileged: true } });
    table(inside, [
      ['container.id = abcdef012345', true],
      ['container.id = host', false],
      ['container.name = web', true],
      ['container.image.repository = docker.io/library/nginx', true],
      ['container.image.tag = "1.25"', true],
      ['container.privileged = true', true],
      ['sf.container.type = DOCKER', true],
    ]);
  });

  test('evt.dir = < (always)', () => {
    table(CURL(), [
      ['evt.dir = <', true],
      ['evt.dir = >', false],
      ['evt.dir != >', true],
    ]);
  });

  test('JSON-path arguments on sf.ke.message', () => {
    const r = ke({ message: JSON.stringify({ items: [{ namespace: 'default', name: 'p,1' }] }) });
    table(r, [
      ['sf.ke.message[items.0.namespace] = default', true],
      ['sf.ke.message[items.0.name] = "p,1"', true],
      ['sf.ke.message[items.1.name] = ""', true],
      ['sf.ke.kind = K8S_PODS', true],
      ['sf.type = KE', true],
    ]);
  });
});
