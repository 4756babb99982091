/**
 * An sf-processor user's files as they are: every policy file of upstream's resources/policies/
 * (copies in test/fixtures/sfprocessor-upstream/, see its PROVENANCE.md) and Falco's stable,
 * incubating and sandbox rules load, with a report per rule; sf-processor's token grammar is the
 * fallback when strict YAML fails, with one warning and positions kept; unknown sf.* attributes cost
 * their rule only; Sigma rules translate. Then upstream's runtimeintegrity policy runs over the
 * sf-processor traces and its per-rule alert counts must equal an independent evaluation of the same
 * 26 rules, written out by hand over upstream sysprint's JSON (helpers/oracle-view.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PolicyError } from '../../core/errors.js';
import { loadPolicySet, type PolicySet } from '../../core/policy/policyset.js';
import type { FlatRecord, MatchedRule } from '../../core/flatten/flatrecord.js';
import { CORPUS_NOTE, FIXTURES, HAVE_SHARED, listOracle, parseExactJson, readOracle, tracePath } from '../helpers/corpus.js';
import { base, str, view, type J, type V } from '../helpers/oracle-view.js';
import { runPipeline } from '../helpers/run-pipeline.js';
import { initHashing, nf, pe, OpFlags } from '../helpers/records.js';

before(async () => {
  await initHashing();
});

const UP = join(FIXTURES, 'sfprocessor-upstream');
const FALCO = join(FIXTURES, 'falco');
const RI = join(UP, 'runtimeintegrity', 'runtimeintegrity.yaml');
const TTPS = join(UP, 'runtimeintegrity', 'ttps.yaml');
const CLI = join(import.meta.dirname, '..', '..', 'core', 'cli', 'sfprocessor.js');

const tmp = mkdtempSync(join(tmpdir(), 'sfp-upstream-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? walk(p) : /\.ya?ml$/.test(n) ? [p] : [];
    });
}
const status = (set: PolicySet) => Object.fromEntries(set.report.map((x) => [x.name, x.status]));
const notes = (set: PolicySet, rule: string) => set.report.find((r) => r.name === rule)?.notes.join('; ') ?? `(no rule '${rule}')`;

function run(set: PolicySet, r: FlatRecord): string[] {
  r.rules = null;
  set.evaluate(r);
  return ((r as { rules: MatchedRule[] | null }).rules ?? []).map((x) => x.name);
}

describe('every upstream policy file loads, with a report per rule', () => {
  const files = walk(UP);
  test('the fixture set is complete', () => {
    assert.deepEqual(
      files.map((f) => relative(UP, f)),
      [
        'distribution/filter.yaml',
        'distribution/qradar.yaml',
        'filter/sprint4.yaml',
        'filter/test.yaml',
        'runtimeintegrity/demo.yaml',
        'runtimeintegrity/globals.yaml',
        'runtimeintegrity/path.yaml',
        'runtimeintegrity/runtimeintegrity.yaml',
        'runtimeintegrity/sf_container_integrity.yaml',
        'runtimeintegrity/ttps.yaml',
        'sigma/config/sysflow.yml',
        'sigma/rules/linux/process_creation/proc_creation_lnx_test.yml',
        'sigma/rules/linux/process_creation/proc_creation_lnx_webshell_detection.yml',
        'tests/falco.yaml',
        'tests/globals.yaml',
        'tests/ma.yaml',
        'tests/sf_container_integrity.yaml',
        'tests/sprint4.yaml',
        ...['contains', 'eq', 'fileflow', 'ge', 'gt', 'in', 'le', 'logic', 'lt', 'macro', 'networkflow', 'pmatch', 'sfmap', 'simple', 'startswith', 'unary'].map((u) => `tests/unit_test_${u}.yaml`),
        'ttp/mitre.yaml',
      ],
    );
  });
  for (const f of files) {
    if (f.includes('/sigma/')) continue;
    test(relative(UP, f), () => {
      const set = loadPolicySet(f);
      const text = readFileSync(f, 'utf8');
      const items = (text.match(/^[ \t]*- ?rule:/gm) ?? []).length;
      assert.equal(set.report.length, items, 'one report line per rule item');
      for (const r of set.report) assert.ok(['supported', 'approximated', 'unsupported', 'disabled'].includes(r.status));
    });
  }

  test('runtimeintegrity.yaml: the not-YAML warning names the place and the reason; 26 rules run', () => {
    const set = loadPolicySet(RI);
    assert.deepEqual(set.warnings, [`${RI}:47:2: not strict YAML (bad indentation of a sequence entry); read with sf-processor's policy grammar, where indentation does not matter`]);
    assert.deepEqual(set.summary(), { supported: 25, approximated: 1, unsupported: 0, disabled: 0 });
    assert.equal(set.rules.length, 26);
    // a desc continued at column 0, and a rule name with a trailing blank
    const untrusted = set.rules.find((r) => r.name === 'Untrusted read sensitive file')!;
    assert.equal(untrusted.desc, 'an attempt to read any sensitive file (e.g. files containing user/password/authentication information).');
    assert.deepEqual([...untrusted.tags], ['notification', 'filesystem-tampering']);
    assert.match(notes(set, 'System procs network activity'), /sf\.net\.sockfamily: .*sf\.net\.mask: /);
  });

  test('ttps.yaml: names holding ": ", and misspelt attributes cost only their rules, with a did-you-mean', () => {
    const set = loadPolicySet(TTPS);
    assert.equal(set.report.length, 52);
    assert.equal(status(set)['Account Discovery: Local Account'], 'supported');
    assert.equal(status(set)['Indicator Removal on Host: Clear Linux or Mac System Logs'], 'unsupported');
    assert.match(notes(set, 'Scheduled Task/Job At'), /^unknown field 'sf\.poc\.name' \(did you mean 'sf\.proc\.name'\?\)$/);
    assert.match(notes(set, 'Remote File Copy'), /unknown field 'sf\.prog\.args' \(did you mean 'sf\.proc\.args'\?\)/);
    assert.match(notes(set, 'Process Discovery'), /unknown field 'sf-process\.args'/);
    assert.equal(set.report.filter((r) => r.status === 'unsupported').length, 4);
    assert.ok(
      set.warnings.some((w) => w.startsWith(`${TTPS}:943:36: rule 'Scheduled Task/Job At': unknown field 'sf.poc.name'`)),
      set.warnings.join('\n'),
    );
  });

  test('tab-indented conditions and unknown sf.* attributes in the unit tests', () => {
    const logic = loadPolicySet(join(UP, 'tests', 'unit_test_logic.yaml'));
    assert.deepEqual(status(logic), { 'Logic rule': 'supported', 'Pars rule': 'supported' });
    assert.match(logic.warnings[0]!, /unit_test_logic\.yaml:10:3: not strict YAML \(tab characters must not be used in indentation\)/);
    const macro = loadPolicySet(join(UP, 'tests', 'unit_test_macro.yaml'));
    assert.match(notes(macro, 'Simple rule to test if Python process'), /^unknown field 'sf\.state' \(did you mean 'sf\.type'\?\)$/);
    const ff = loadPolicySet(join(UP, 'tests', 'unit_test_fileflow.yaml'));
    assert.match(notes(ff, 'File Flows Open Write Access'), /unknown field 'sf\.is_open_write' \(did you mean/);
  });

  test('errors after the fallback keep their file:line:col', () => {
    const text = readFileSync(RI, 'utf8');
    const at = text.indexOf('and sf.proc.exe != sf.pproc.exe');
    const broken = text.slice(0, at) + 'and sf.proc.exe != (' + text.slice(at + 'and sf.proc.exe != sf.pproc.exe'.length);
    const file = join(tmp, 'broken-ri.yaml');
    writeFileSync(file, broken);
    const before = text.slice(0, at).split('\n');
    let caught: unknown;
    try {
      loadPolicySet(file);
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof PolicyError, String(caught));
    assert.equal(caught.item, "rule 'Suspicious process spawned'");
    assert.equal(caught.line, before.length);
    assert.equal(caught.col, before[before.length - 1]!.length + 'and sf.proc.exe != ('.length);
  });

  test('tests/ma.yaml: `1 = 1` (a templated placeholder) is folded, not an unknown field', () => {
    const set = loadPolicySet(join(UP, 'tests', 'ma.yaml'));
    assert.deepEqual(status(set), { 'Write below Working dir': 'approximated' });
  });

  test('sf-processor spellings mean what they say', () => {
    const set = loadPolicySet(
      writeYaml('spell.yaml', [
        '- rule: user',
        '  condition: sf.proc.username = alice and sf.pproc.username = root',
        '- rule: udp',
        '  condition: sf.net.proto = udp and sf.net.sockfamily = ip',
        '- rule: open_creat',
        '  condition: sf.opflags in (WRITE_SEND) and sf.net.mask != "127.0.0.0/8"',
      ]),
    );
    assert.deepEqual(run(set, pe({ user: 'alice', parent: { user: 'root', pid: 9 } })), ['user']);
    assert.deepEqual(run(set, nf({ proto: 17 })), ['udp', 'open_creat']);
    assert.deepEqual(run(set, nf({ proto: 6, sip: '127.0.0.1', dip: '10.0.0.2' })), []);
  });

  test('the CLI checks each upstream directory: exit 0, a summary line, a line per rule', () => {
    for (const d of ['distribution', 'filter', 'runtimeintegrity', 'sigma', 'tests', 'ttp']) {
      const r = spawnSync(process.execPath, [CLI, '-policycheck', join(UP, d)], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${d}: ${r.stderr}`);
      const lines = r.stdout.trim().split('\n');
      assert.match(lines[0]!, /: \d+ files, \d+ rules: \d+ supported, \d+ approximated, \d+ unsupported, \d+ disabled; \d+ filters$/);
      const n = Number(/ (\d+) rules/.exec(lines[0]!)![1]);
      assert.equal(lines.filter((l) => /^ {2}(supported|approximated|unsupported|disabled) /.test(l)).length, n, d);
    }
  });
});

test('-policycheck DIR names every file that fails, reports the files that load, then "N files ok, M failed"', () => {
  const d = mkdtempSync(join(tmpdir(), 'sfp-policycheck-'));
  try {
    writeFileSync(join(d, 'a.yaml'), '- macro: m\n  condition: sf.type = PE\n');
    writeFileSync(join(d, 'b.yaml'), '- rule: [\n');
    writeFileSync(join(d, 'c.yaml'), '- rule: good\n  desc: x\n  condition: m and sf.proc.name = bash\n  output: x\n  priority: low\n');
    writeFileSync(join(d, 'd.yaml'), '- list: l\n  items: [a\n');
    writeFileSync(join(d, 'e.yaml'), '- rule: worse\n  desc: x\n  condition: sf.proc.name in (\n  output: x\n  priority: low\n');
    const r = spawnSync(process.execPath, [CLI, '-policycheck', d], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    const errors = r.stderr.trim().split('\n');
    // before: only the first bad file was named
    assert.equal(errors.length, 3, r.stderr);
    for (const [i, f] of ['b.yaml:', 'd.yaml:', 'e.yaml:'].entries()) assert.match(errors[i]!, new RegExp(`^sfprocessor: error: ${join(d, f).replace(/[.]/g, '\\.')}\\d+:\\d+: `));
    assert.match(r.stdout, /^.*: 2 files, 1 rules: 1 supported/);
    assert.match(r.stdout, /\n {2}supported {2}good \(/);
    assert.match(r.stdout, /: 2 files ok, 3 failed\n$/);
    // all good: the same count line, exit 0
    for (const f of ['b.yaml', 'd.yaml', 'e.yaml']) rmSync(join(d, f));
    const ok = spawnSync(process.execPath, [CLI, '-policycheck', d], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /: 2 files ok, 0 failed\n$/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

function writeYaml(name: string, lines: string[]): string {
  const f = join(tmp, name);
  writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

describe('Falco community rules: stable, incubating and sandbox together, in Falco order', () => {
  const paths = ['falco_rules.yaml', 'falco-incubating_rules.yaml', 'falco-sandbox_rules.yaml'].map((f) => join(FALCO, f));
  test('they load as one set, every rule reported', () => {
    const set = loadPolicySet(paths.join(','));
    assert.deepEqual(set.files, paths);
    assert.equal(set.report.length, 25 + 27 + 37 - 1, 'one incubating rule redefines a stable one');
    assert.ok(set.warnings.some((w) => /redefines the rule from .*falco_rules\.yaml/.test(w)));
    const r = spawnSync(process.execPath, [CLI, '-policycheck', paths.join(',')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /: 3 files, 88 rules: /);
  });
  test('evt.arg.uid is a user name or a number (falco-incubating somebody_becoming_themselves)', () => {
    const set = loadPolicySet(paths[1]!);
    assert.ok(set.report.some((x) => x.name === 'Non sudo setuid'));
    const u = loadPolicySet(writeYaml('uid.yaml', ['- rule: nobody', '  condition: evt.arg.uid=nobody', '- rule: zero', '  condition: evt.arg.uid = 0']));
    assert.deepEqual(run(u, pe({ flags: OpFlags.SETUID, user: 'nobody', uid: 65534 })), ['nobody']);
    assert.deepEqual(run(u, pe({ flags: OpFlags.SETUID, user: 'root', uid: 0 })), ['zero']);
  });
  test('list items carrying their own quotes are the quoted value (\'"10.0.0.0/8"\', \'"bash"\')', () => {
    const set = loadPolicySet(
      writeYaml('quoted.yaml', [
        '- list: rfc_1918_addresses',
        '  items: [\'"10.0.0.0/8"\', \'"172.16.0.0/12"\', \'"192.168.0.0/16"\']',
        '- list: shells',
        '  items: [\'"bash"\', "\'sh\'"]',
        '- rule: private',
        '  condition: fd.snet in (rfc_1918_addresses)',
        '- rule: shell',
        '  condition: proc.name in (shells)',
      ]),
    );
    assert.deepEqual(run(set, nf({ sip: '10.1.2.3', exe: '/usr/bin/curl' })), ['private']);
    assert.deepEqual(run(set, nf({ sip: '8.8.8.8', exe: '/usr/bin/curl' })), []);
    assert.deepEqual(run(set, pe({ exe: '/bin/bash' })), ['shell']);
    assert.deepEqual(run(set, pe({ exe: '/bin/sh' })), ['shell']);
  });
});

describe('Sigma', () => {
  test('upstream rules translate; a webshell child matches, an ordinary one does not', () => {
    const set = loadPolicySet(join(UP, 'sigma'));
    assert.deepEqual(status(set), { 'Linux Tests': 'supported', 'Linux Webshell Indicators': 'supported' });
    const shell = pe({ flags: OpFlags.EXEC, exe: '/bin/bash', parent: { pid: 50, exe: '/usr/sbin/nginx' } });
    assert.deepEqual(run(set, shell), ['Linux Tests', 'Linux Webshell Indicators']);
    const tomcat = pe({ flags: OpFlags.EXEC, exe: '/usr/bin/whoami', parent: { pid: 50, exe: '/usr/bin/java', args: '-cp /opt/TomCat/lib' } });
    // `contains` is case-insensitive in Sigma; selection_tomcat needs both /bin/java and tomcat
    assert.deepEqual(run(set, tomcat), ['Linux Webshell Indicators']);
    assert.deepEqual(run(set, pe({ flags: OpFlags.EXEC, exe: '/bin/bash', parent: { pid: 50, exe: '/usr/sbin/cron' } })), []);
    // process_creation means exec events
    assert.deepEqual(run(set, pe({ flags: OpFlags.CLONE, exe: '/bin/bash', parent: { pid: 50, exe: '/usr/sbin/nginx' } })), []);
  });
  test('what SysFlow cannot express is reported per rule, with the reason', () => {
    const dir = mkdtempSync(join(tmp, 'sigma-'));
    const doc = (title: string, logsource: string, detection: string) =>
      writeFileSync(join(dir, `${title}.yml`), `title: ${title}\nlogsource:\n${logsource}\ndetection:\n${detection}\nlevel: medium\n`);
    doc('kw', '    product: linux\n    category: process_creation', '    keywords:\n        - mimikatz\n    condition: keywords');
    doc('win', '    product: windows\n    category: process_creation', '    sel:\n        Image: x\n    condition: sel');
    doc('agg', '    product: linux\n    category: process_creation', '    sel:\n        Image: x\n    condition: sel | count() > 5');
    doc('ok', '    product: linux\n    category: network_connection', '    sel:\n        DestinationPort: 4444\n        DestinationIp|cidr: 10.0.0.0/8\n    condition: sel');
    const set = loadPolicySet(dir);
    assert.deepEqual(status(set), { agg: 'unsupported', kw: 'unsupported', ok: 'supported', win: 'unsupported' });
    assert.match(notes(set, 'kw'), /keyword search/);
    assert.match(notes(set, 'win'), /product 'windows' is not SysFlow/);
    assert.match(notes(set, 'agg'), /aggregations/);
    assert.deepEqual(run(set, nf({ dip: '10.9.9.9', dport: 4444 })), ['ok']);
    assert.deepEqual(run(set, nf({ dip: '11.9.9.9', dport: 4444 })), []);
  });
});

// ---------------------------------------------------------------------------------------------
// runtimeintegrity.yaml on the sf-processor traces against a hand-written evaluation
// ---------------------------------------------------------------------------------------------

/** V plus what the policy needs that one sysprint line does not hold: the ancestry, the parent's command line. */
interface W extends V {
  aname: string[];
  pcmdline: string;
}

/**
 * Walk the raw datums (records.jsonl) in stream order, keeping the process table as it is at each
 * flow or event, and pair each with its sysprint JSON line (sysprint prints exactly those, in order).
 */
function withAncestry(trace: string): W[] {
  const views = readOracle(trace, 'json')
    .split('\n')
    .filter(Boolean)
    .map((l) => view(parseExactJson(l) as J));
  const table = new Map<string, { exe: string; poid: J | null }>();
  const key = (oid: J | null | undefined) => (oid ? `${oid.hpid}:${oid.createTS}` : '');
  const out: W[] = [];
  for (const line of readOracle(trace, 'records.jsonl').split('\n')) {
    if (!line) continue;
    const d = parseExactJson(line) as J;
    const rec = d.rec as J;
    if (d.type === 'sysflow.entity.Process') {
      table.set(key(rec.oid), { exe: str(rec.exe), poid: rec.poid ?? null });
      continue;
    }
    if (!/^sysflow\.(flow|event)\./.test(d.type)) continue;
    const v = views[out.length]!;
    assert.ok(v, `${trace}: more flows/events than sysprint lines`);
    const aname: string[] = [];
    let k = key(rec.procOID);
    for (let depth = 0; k && depth < 100; depth++) {
      const p = table.get(k);
      if (!p) break;
      aname.push(base(p.exe));
      k = key(p.poid);
    }
    const pargs = str((v.o.pproc as J).args);
    out.push({ ...v, aname: v.name === '' ? [] : aname, pcmdline: v.pexe === '' ? '' : pargs === '' ? v.pexe : `${v.pexe} ${pargs}` });
  }
  assert.equal(out.length, views.length, `${trace}: every sysprint line paired with its datum`);
  return out;
}

// the lists of runtimeintegrity.yaml, expanded by hand (undefined names stay literals, as upstream)
const L = {
  shell: ['bash', 'csh', 'ksh', 'sh', 'tcsh', 'zsh', 'dash'],
  shellInterp: ['awk', 'gawk'],
  coreutils: (
    'truncate sha1sum numfmt fmt fold uniq cut who groups csplit sort expand printf printenv unlink tee chcon stat basename split nice yes whoami sha224sum hostid users stdbuf ' +
    'base64 unexpand cksum od paste nproc pathchk sha256sum wc test comm arch du factor sha512sum md5sum tr runcon env dirname tsort join shuf install logname pinky nohup expr pr tty timeout ' +
    'tail [ seq sha384sum nl head id mkfifo sum dircolors ptx shred tac link chroot vdir chown touch ls dd uname true pwd date chgrp chmod mktemp cat mknod sync ln false rm mv cp echo ' +
    'readlink sleep stty mkdir df dir rmdir'
  ).split(' '),
  coreutilsMod: (
    'truncate who groups csplit expand printenv unlink chcon split whoami users stdbuf unexpand paste runcon env install logname pinky nohup tty id mkfifo shred ' +
    'link chroot chown touch dd chgrp chmod mktemp mknod ln rm mv cp rmdir'
  ).split(' '),
  login: ['login', 'systemd', '(systemd)', 'systemd-logind', 'su', 'nologin', 'faillog', 'lastlog', 'newgrp', 'sg'],
  modifyPasswd: ['chpasswd', 'chgpasswd', 'passwd'],
  userUtil: 'shadowconfig grpck pwunconv grpconv pwck vipw pwconv cppw grpunconv chage chsh gpasswd chfn expiry vigr cpgr'.split(' '),
  shadowutils: (
    'chage gpasswd lastlog newgrp sg adduser deluser chpasswd groupadd groupdel addgroup delgroup groupmems groupmod grpck grpconv grpunconv newusers pwck pwconv ' +
    'pwunconv useradd userdel usermod vigr vipw unix_chkpwd'
  ).split(' '),
  httpServer: ['nginx', 'httpd', 'httpd-foregroun', 'lighttpd', 'apache', 'apache2', 'node'],
  rpm: [
    'dnf',
    'rpm',
    'rpmkey',
    'yum',
    '75-system-updat',
    'rhsmcertd-worke',
    'subscription-ma',
    'repoquery',
    'rpmkeys',
    'rpmq',
    'yum-cron',
    'yum-config-mana',
    'yum-debug-dump',
    'abrt-action-sav',
    'rpmdb_stat',
    'microdnf',
    'rhn_check',
    'yumdb',
  ],
  deb: [
    'dpkg',
    'dpkg-preconfigu',
    'dpkg-reconfigur',
    'dpkg-divert',
    'apt',
    'apt-get',
    'aptitude',
    'frontend',
    'preinst',
    'add-apt-reposit',
    'apt-auto-remova',
    'apt-key',
    'apt-listchanges',
    'unattended-upgr',
    'apt-add-reposit',
  ],
  remoteCopy: ['scp', 'rsync', 'telnet', 'ssh', 'ftp', 'rcp', 'sftp'],
  systemDirs: ['/boot', '/lib', '/lib64', '/usr/lib', '/usr/local/lib', '/usr/local/sbin', '/usr/local/bin', '/root/.ssh', '/etc'],
  schedulerDirs: ['/etc/cron.d', '/etc/cron.daily', '/etc/cron.monthly', '/etc/cron.hourly', '/etc/cron.weekly', '/usr/lib/cron/tabs', '/var/cron/tabs', '/var/spool/cron/crontabs', '/var/spool/cron'],
  knownRootFiles: [
    '/root/.monit.state',
    '/root/.auth_tokens',
    '/root/.bash_history',
    '/root/.ash_history',
    '/root/.aws/credentials',
    '/root/.viminfo.tmp',
    '/root/.lesshst',
    '/root/.bzr.log',
    '/root/.gitconfig.lock',
    '/root/.babel.json',
    '/root/.localstack',
    '/root/.node_repl_history',
    '/root/.mongorc.js',
    '/root/.dbshell',
    '/root/.augeas/history',
    '/root/.rnd',
    '/root/.wget-hsts',
  ],
  knownRootDirs: ['/root/.oracle_jre_usage', '/root/.subversion', '/root/.nami'],
  knownRootPrefixes: (
    '/root/orcexec. /root/.m2 /root/.npm /root/.pki /root/.ivy2 /root/.config/Cypress /root/.config/pulse /root/.config/configstore /root/jenkins/workspace ' +
    '/root/.jenkins /root/.cache /root/.sbt /root/.java /root/.glide /root/.sonar /root/.v8flag /root/infaagent /root/.local/lib/python /root/.pm2 /root/.gnupg /root/.pgpass ' +
    '/root/.theano /root/.gradle /root/.android /root/.ansible /root/.crashlytics /root/.dbus /root/.composer /root/.gconf /root/.nv /root/.local/share/jupyter /root/oradiag_root ' +
    '/root/workspace /root/jvm /root/.node-gyp'
  ).split(' '),
  allowedDev: ['/dev/null', '/dev/stdin', '/dev/stdout', '/dev/stderr', '/dev/random', '/dev/urandom', '/dev/console', '/dev/kmsg'],
  docker: ['docker', 'dockerd', 'exe', 'docker-compose', 'docker-entrypoi', 'docker-runc-cur', 'docker-current', 'dockerd-current'],
  k8s: ['hyperkube', 'skydns', 'kube2sky', 'exechealthz', 'weave-net'],
  lxd: ['lxd', 'lxcfs'],
};
const userMgmt = [...L.login, 'passwd_binaries', ...L.shadowutils];
const anyIn = (s: string, items: readonly string[]) => items.some((i) => s.includes(i)); // sf.* pmatch: substring
const has = (xs: readonly string[], x: string) => xs.includes(x);

const M = {
  sedWrite: (w: W) => w.exe.includes('sed') && w.args.includes('-i'),
  overwrite: (w: W) => has(w.opflags, 'RENAME'),
  openWrite: (w: W) => has(w.opflags, 'WRITE') || has(w.opflags, 'SEND') || (has(w.opflags, 'OPEN') && has(w.openflags, 'CREAT')) || M.sedWrite(w),
  openRead: (w: W) => w.isRead || has(w.opflags, 'READ') || has(w.opflags, 'RECV'),
  interactive: (w: W) => (has(w.aname, 'sshd') && w.name !== 'sshd') || w.name === 'systemd-logind' || w.name === 'login' || w.tty,
  // `sf.container.type != host`: true without a container too (its type is then empty)
  container: (w: W) => w.ctype !== 'host',
  userSsh: (w: W) => w.path.startsWith('/home') && w.path.includes('.ssh'),
  tomcatParent: (w: W) => w.pname.includes('java') && w.pcmdline.includes('org.apache.catalina.startup.Bootstrap'),
  webserver: (w: W) => anyIn(w.name, L.httpServer) || M.tomcatParent(w),
  privileged: (w: W) => has(['/usr/bin/sudo', '/usr/local/sbin/runc'], w.exe),
  auth: (w: W) => has(['/opt/ibm/java/bin/keytool', '/bin/chown', '/bin/chmod', '/bin/bash'], w.exe),
  binDir: (w: W) => ['/bin', '/sbin', '/usr/bin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin'].some((p) => w.fdir.startsWith(p)),
  rootDir: (w: W) => w.fdir === '/' || w.path.startsWith('/root'),
  systemProcs: (w: W) => has(L.coreutils, w.name) || has(userMgmt, w.name),
  dnsLogin: (w: W) => w.name === 'login' && w.proto === 17 && w.sport === 53,
  inOut: (w: W) =>
    has(w.opflags, 'ACCEPT') ||
    has(w.opflags, 'CONNECT') ||
    ((w.ftype === '4' || w.ftype === '6') && w.sip !== '0.0.0.0' && w.dip !== '0.0.0.0' && !w.sip.startsWith('127.') && !w.dip.startsWith('127.') && w.ret >= 0),
  nrpeNagios: (w: W) => w.name === 'nrpe' && w.user === 'nagios',
};

const isPE = (w: W) => w.type === 'PE';
const isFF = (w: W) => w.type === 'FF';
const isFile = (w: W) => w.type === 'FF' || w.type === 'FE';
const exec = (w: W) => has(w.opflags, 'EXEC');
const pwUtil = (w: W) => exec(w) && anyIn(w.name, [...L.modifyPasswd, 'unix_chkpwd', ...L.userUtil]);

const TWINS: [string, (w: W) => boolean][] = [
  [
    'Suspicious process spawned',
    (w) =>
      isPE(w) &&
      exec(w) &&
      w.exe !== w.pexe &&
      w.pexe !== '/usr/local/sbin/runc' &&
      anyIn(w.name, [...L.shell, 'g++', 'gcc', 'clang', 'javac', 'pkg_mgmt_binaries', ...L.shellInterp, ...L.coreutilsMod]),
  ],
  ['Webserver writing file', (w) => isFF(w) && w.ftype === 'f' && M.openWrite(w) && M.webserver(w) && !anyIn(w.path, ['/var/', '/tmp/nginx-ingress.private'])],
  [
    'Unauthorized installer detected',
    (w) =>
      isPE(w) &&
      exec(w) &&
      (anyIn(w.name, [...L.rpm, ...L.deb, 'update-alternat', 'gem', 'pip', 'pip3', 'sane-utils.post', 'alternatives', 'chef-client']) ||
        (w.name === 'java' && w.cmdline.includes('sbt-launch.jar')) ||
        w.name === 'mvn') &&
      M.container(w),
  ],
  ['Downloader detected', (w) => isPE(w) && exec(w) && anyIn(w.name, ['wget', 'curl'])],
  ['Remote copy program detected', (w) => isPE(w) && exec(w) && has(L.remoteCopy, w.name) && M.container(w)],
  ['User/group modified, added or deleted', (w) => isPE(w) && exec(w) && has([...L.modifyPasswd, 'useradd', 'newusers', 'userdel', 'usermod', 'groupadd', 'groupdel', 'groupmod'], w.name)],
  ['Password utilities execution in container', (w) => isPE(w) && pwUtil(w) && M.container(w)],
  ['Password utilities execution in system', (w) => isPE(w) && pwUtil(w) && !M.container(w)],
  ['Interactive login detected', (w) => isPE(w) && M.interactive(w) && M.container(w)],
  ['Interactive login to host system detected', (w) => isPE(w) && M.interactive(w) && !M.container(w)],
  ['Password file modified', (w) => isFile(w) && anyIn(w.path, ['/etc/shadow', '/etc/passwd']) && M.openWrite(w)],
  ['History file modified', (w) => isFile(w) && anyIn(w.path, ['.bash_history', '.ash_history']) && M.openWrite(w)],
  ['Profile file modified', (w) => isFile(w) && anyIn(w.path, ['.bashrc', '.bash_profile', '.profile']) && M.openWrite(w)],
  ['Library preload file modified', (w) => isFile(w) && w.path.includes('/etc/ld.so.preload') && M.openWrite(w)],
  ['Crontab file written', (w) => isFF(w) && ((w.path === '/etc/crontab' && M.openWrite(w)) || (w.newpath === '/etc/crontab' && M.overwrite(w)))],
  ['Write below binary dir', (w) => isFile(w) && M.openWrite(w) && M.binDir(w)],
  ['Write below system dirs', (w) => isFile(w) && M.openWrite(w) && (has(L.systemDirs, w.fdir) || M.userSsh(w)) && !M.privileged(w)],
  ['Write to init directories', (w) => isFile(w) && M.openWrite(w) && w.fdir === '/etc/init.d'],
  ['Write to scheduler directories', (w) => isFile(w) && M.openWrite(w) && has(L.schedulerDirs, w.fdir)],
  ['Write below root', (w) => isFile(w) && M.rootDir(w) && M.openWrite(w) && !has(L.knownRootFiles, w.path) && !has(L.knownRootDirs, w.fdir) && !L.knownRootPrefixes.some((p) => w.path.startsWith(p))],
  ['Untrusted read sensitive file', (w) => isFF(w) && w.path.startsWith('/etc') && has(['/etc/shadow', '/etc/passwd'], w.path) && M.openRead(w) && !M.privileged(w) && !M.auth(w)],
  ['Write Below RPM/DPKG Database', (w) => isFile(w) && (w.path.startsWith('/var/lib/rpm') || w.path.startsWith('/var/lib/dpkg')) && M.openWrite(w)],
  [
    'Change thread namespace',
    (w) =>
      isFF(w) && has(w.opflags, 'SETNS') && !w.aname.some((n) => has([...L.docker, ...L.k8s, ...L.lxd], n)) && !w.aname.some((n) => n.startsWith('runc:')) && !w.path.startsWith('/var/run/netns/cni'),
  ],
  [
    'Non sudo setuid',
    (w) =>
      isFF(w) &&
      has(w.opflags, 'SETUID') &&
      ((M.container(w) && w.user !== 'N/A') || !M.container(w)) &&
      w.user !== 'root' &&
      !has(
        [
          'sshd',
          'dbus-daemon-lau',
          'ping',
          'ping6',
          'critical-stack-',
          'pmmcli',
          'filemng',
          'PassengerAgent',
          'bwrap',
          'osdetect',
          'nginxmng',
          'sw-engine-fpm',
          'start-stop-daem',
          'sudo',
          'su',
          'suexec',
          'critical-stack',
          'dzdo',
          'sendmail',
          'sendmail-msp',
          'postfix',
          'procmail',
          'exim4',
          'pickup',
          'showq',
          'mailq',
          'dovecot',
          'imap-login',
          'imap',
          'mailmng-core',
          'pop3-login',
          'dovecot-lda',
          'pop3',
          ...L.docker,
          'nxexec',
          'nxnode.bin',
          'nxserver.bin',
          'nxclient.bin',
        ],
        w.name,
      ) &&
      !M.nrpeNagios(w),
  ],
  ['Create files below dev', (w) => isFile(w) && w.fdir === '/dev' && M.openWrite(w) && w.name !== 'dev_creation_binaries' && !has(L.allowedDev, w.path) && !w.path.startsWith('/dev/tty')],
  ['System procs network activity', (w) => w.type === 'NF' && (M.systemProcs(w) || has(L.shell, w.name)) && M.inOut(w) && !has(['systemd', 'hostid', 'id'], w.name) && !M.dnsLogin(w)],
];

const WITH_DATUMS = new Set(listOracle('records.jsonl'));
const SF_TRACES = listOracle('json').filter((t) => t.startsWith('sf-processor/') && WITH_DATUMS.has(t) && existsSync(tracePath(t)));
const perRule = new Map<string, number>();

test(`runtimeintegrity on the sf-processor traces: ${CORPUS_NOTE} (${SF_TRACES.length} traces)`, () => {
  assert.equal(TWINS.length, 26, 'a twin for every rule');
  assert.deepEqual(
    TWINS.map(([n]) => n),
    loadPolicySet(RI).rules.map((r) => r.name),
    'the twins follow the policy, in order',
  );
  if (HAVE_SHARED) assert.equal(SF_TRACES.length, 8);
  else assert.ok(SF_TRACES.length >= 1, 'the bundled sf-processor traces');
});

for (const trace of SF_TRACES) {
  test(`runtimeintegrity: per-rule alerts equal the independent evaluation: ${trace}`, async () => {
    const ws = withAncestry(trace);
    const { text } = await runPipeline(tracePath(trace), [
      { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
      { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', mode: 'alert', policies: RI },
      { processor: 'exporter', in: 'evt eventchan', export: 'memory', format: 'json' },
    ]);
    const got = new Map<string, number>();
    for (const line of text.split('\n').filter(Boolean)) {
      for (const p of (JSON.parse(line) as J).policies as J[]) got.set(p.id, (got.get(p.id) ?? 0) + 1);
    }
    const problems: string[] = [];
    for (const [name, pred] of TWINS) {
      const hits = ws.filter(pred);
      const n = got.get(name) ?? 0;
      perRule.set(name, (perRule.get(name) ?? 0) + n);
      if (hits.length !== n) problems.push(`${name}: independent ${hits.length}, engine ${n}${hits[0] ? `; first expected: ${JSON.stringify(hits[0].o).slice(0, 400)}` : ''}`);
    }
    assert.equal(problems.length, 0, problems.join('\n'));
  });
}

test('runtimeintegrity: alerts per rule over the traces', (t) => {
  t.diagnostic(
    [...perRule]
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k}=${n}`)
      .join(', '),
  );
  if (SF_TRACES.length === 8) assert.ok([...perRule.values()].reduce((a, b) => a + b, 0) > 0, 'the policy raises alerts on the traces');
});
