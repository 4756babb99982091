/**
 * The policy engine against an independent evaluator: ~50 rules over `sf.*` fields run in alert mode
 * over every trace that has an upstream sysprint oracle, and the number of alerts per rule must equal
 * the number of oracle records that the rule's plain-TypeScript twin matches.
 *
 * The twin predicates read only the sysprint JSON objects (shared/oracle/**.json.gz) and the rules of
 * sf-processor-compat.md §5.4/§5.5 with our documented deviations: unknown fields are errors; only
 * list attributes are multi-valued (a scalar string is never split on commas); `sf.flow.*` counters
 * are not doubled; `sf.proc.cmdline` has no trailing space without args; values that do not apply to
 * a record type are "" / 0 / false. Nothing here imports core/policy or core/flatten.
 *
 * sysprint facts the twins rely on (sysflow-format.md §4.2): `opflags_bitmap` is the raw op-flag
 * word; `file.openflags` is the raw open-flag int (FF only); `net.*` is filled for NF only; `flow.*`
 * for flows only; `ret` for PE/FE only; `pproc.*` is filled only when the parent is cached (null
 * otherwise); `container.type` keeps its `CT_` prefix; strings are untrimmed (as ours).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CORPUS_NOTE, HAVE_SHARED, listOracle, parseExactJson, readOracle, tracePath } from './helpers/corpus.js';
import { runPipeline } from './helpers/run-pipeline.js';
import { big, int, str, view, type J, type V } from './helpers/oracle-view.js';

// ---------------------------------------------------------------------------------------------
// The rules: each written twice, as a Falco-syntax condition and as a predicate over V
// ---------------------------------------------------------------------------------------------

const SHELLS = ['sh', 'bash', 'dash'];
const INTERPS = ['python', 'python2.7', 'node', 'ruby'];
const DNS_PORTS = [53, 10053];
const has = (xs: readonly string[], x: string) => xs.includes(x);
const isExec = (v: V) => has(v.opflags, 'EXEC');
const inDocker = (v: V) => v.cid !== '' && v.ctype === 'DOCKER';

const PRELUDE = `
- list: shell_names
  items: [sh, bash, dash]
- list: interp_names
  items: [python, python2.7, node, ruby]
- list: all_interps
  items: [shell_names, interp_names]
- list: dns_ports
  items: [53, 10053]
- macro: is_exec
  condition: sf.opflags = EXEC
- macro: in_docker
  condition: sf.container.id exists and sf.container.type = DOCKER
- macro: shell_parent
  condition: sf.pproc.name in (shell_names)
`;

interface Rule {
  name: string;
  cond: string;
  prefilter?: string[];
  pred: (v: V) => boolean;
}

// 19-digit constants chosen at boundaries that doubles cannot tell apart (…243 vs …244).
const MONGOD_CREATETS = 1647543894672412244n;
const TCP_FIRST_TS = 1553543280704111050n;

const RULES: Rule[] = [
  // sf.type, =, !=, in
  { name: 'type_nf', cond: 'sf.type = NF', pred: (v) => v.type === 'NF' },
  { name: 'type_not_ff', cond: 'sf.type != FF', pred: (v) => v.type !== 'FF' },
  { name: 'type_in_events', cond: 'sf.type in (PE, FE, KE)', pred: (v) => ['PE', 'FE', 'KE'].includes(v.type) },
  // opflags (list attribute; SEND/RECV on NF, WRITE/READ elsewhere)
  { name: 'exec_macro', cond: 'is_exec', pred: isExec },
  { name: 'opflags_in', cond: 'sf.opflags in (CLONE, EXIT, SETUID)', pred: (v) => v.opflags.some((f) => ['CLONE', 'EXIT', 'SETUID'].includes(f)) },
  { name: 'send_not_recv', cond: 'sf.opflags = SEND and not sf.opflags = RECV', pred: (v) => has(v.opflags, 'SEND') && !has(v.opflags, 'RECV') },
  { name: 'file_write_op', cond: 'sf.opflags = WRITE', pred: (v) => has(v.opflags, 'WRITE') },
  { name: 'opflags_ne_close', cond: 'sf.type = FF and sf.opflags != CLOSE', pred: (v) => v.type === 'FF' && !has(v.opflags, 'CLOSE') },
  { name: 'rename_or_unlink', cond: 'sf.opflags pmatch (RENAME, LINK)', pred: (v) => v.opflags.some((f) => f.includes('RENAME') || f.includes('LINK')) },
  { name: 'opflags_icontains', cond: 'sf.opflags icontains clo and sf.type != NF', pred: (v) => v.opflags.some((f) => f.toLowerCase().includes('clo')) && v.type !== 'NF' },
  // process ints, field to field
  { name: 'pid_ne_tid', cond: 'sf.proc.pid != sf.proc.tid', pred: (v) => v.pid !== v.tid },
  { name: 'uid_nonroot', cond: 'sf.proc.uid != 0', pred: (v) => v.uid !== 0 },
  { name: 'uid_range', cond: 'sf.proc.uid > 100 and sf.proc.uid <= 65534', pred: (v) => v.uid > 100 && v.uid <= 65534 },
  { name: 'uid_negative', cond: 'sf.proc.uid < 0 or sf.proc.gid = -1', pred: (v) => v.uid < 0 || v.gid === -1 },
  { name: 'tid_high', cond: 'sf.proc.tid >= 20000 and sf.proc.pid < 30000', pred: (v) => v.tid >= 20000 && v.pid < 30000 },
  // process strings
  { name: 'user_in', cond: 'sf.proc.user in (nobody, systemd-coredump, bin)', pred: (v) => ['nobody', 'systemd-coredump', 'bin'].includes(v.user) },
  { name: 'group_or_gid', cond: 'sf.proc.group = input or sf.proc.gid = 33', pred: (v) => v.group === 'input' || v.gid === 33 },
  { name: 'shell_list', cond: 'sf.proc.name in (shell_names)', pred: (v) => SHELLS.includes(v.name) },
  { name: 'nested_list_exec', cond: 'sf.proc.name in (all_interps) and is_exec', pred: (v) => [...SHELLS, ...INTERPS].includes(v.name) && isExec(v) },
  { name: 'exe_pmatch', cond: 'sf.proc.exe pmatch (python, /node)', pred: (v) => v.exe.includes('python') || v.exe.includes('/node') },
  { name: 'args_contains', cond: "sf.proc.args contains '.py'", pred: (v) => v.args.includes('.py') },
  { name: 'cmdline_icontains', cond: 'sf.proc.cmdline icontains BIN/PYTHON', pred: (v) => v.cmdline.toLowerCase().includes('bin/python') },
  // no trailing space when there are no args (redis-server has none)
  {
    name: 'cmdline_exact',
    cond: "sf.proc.cmdline = '/coredns -conf /etc/coredns/Corefile' or sf.proc.cmdline = /usr/local/bin/redis-server",
    pred: (v) => v.cmdline === '/coredns -conf /etc/coredns/Corefile' || v.cmdline === '/usr/local/bin/redis-server',
  },
  { name: 'exe_startswith', cond: 'sf.proc.exe startswith /usr/sbin/', pred: (v) => v.exe.startsWith('/usr/sbin/') },
  { name: 'tty', cond: 'sf.proc.tty = true', pred: (v) => v.tty },
  { name: 'tty_exists_not_pe', cond: 'sf.proc.tty exists and not sf.type = PE', pred: (v) => v.tty && v.type !== 'PE' },
  // 19-digit time values
  { name: 'createts_boundary_gt', cond: `sf.proc.createts > ${MONGOD_CREATETS - 1n}`, pred: (v) => v.createts > MONGOD_CREATETS - 1n },
  { name: 'createts_boundary_le', cond: `sf.proc.createts <= ${MONGOD_CREATETS} and sf.proc.createts >= ${MONGOD_CREATETS}`, pred: (v) => v.createts === MONGOD_CREATETS },
  { name: 'createts_eq', cond: `sf.proc.createts = ${MONGOD_CREATETS + 1n}`, pred: (v) => v.createts === MONGOD_CREATETS + 1n },
  { name: 'ts_exact', cond: `sf.ts = ${TCP_FIRST_TS} or sf.ts = ${TCP_FIRST_TS + 1n}`, pred: (v) => v.ts === TCP_FIRST_TS || v.ts === TCP_FIRST_TS + 1n },
  { name: 'ts_window', cond: 'sf.ts >= 1647544460000000000 and sf.ts < 1647544480000000000', pred: (v) => v.ts >= 1647544460000000000n && v.ts < 1647544480000000000n },
  { name: 'createts_lt_ts', cond: 'sf.proc.createts < sf.ts', pred: (v) => v.createts < v.ts },
  { name: 'endts_gt_ts', cond: 'sf.type in (FF, NF) and sf.endts > sf.ts', pred: (v) => (v.type === 'FF' || v.type === 'NF') && v.endts > v.ts },
  { name: 'endts_nonflow', cond: 'sf.endts exists and sf.type != FF and sf.type != NF', pred: (v) => v.endts !== 0n && v.type !== 'FF' && v.type !== 'NF' },
  { name: 'flow_long', cond: 'sf.endts > 1531776690000000000 and sf.ts < 1531776685000000000', pred: (v) => v.endts > 1531776690000000000n && v.ts < 1531776685000000000n },
  // parent: only what sysprint shows, i.e. cached parents. Not checkable here: `sf.pproc.pid` (and
  // `sf.pproc.createts`) of a parent that is not cached: sf-processor takes them from the process'
  // parent OID, sysprint prints null (k8s_small: 103 such records).
  { name: 'parent_name_exists', cond: 'sf.pproc.name exists', pred: (v) => v.pname !== '' },
  { name: 'parent_uid_gt', cond: 'sf.pproc.uid > 0', pred: (v) => v.puid > 0 },
  { name: 'exe_eq_parent', cond: 'sf.proc.exe = sf.pproc.exe', pred: (v) => v.exe === v.pexe },
  { name: 'uid_ne_parent', cond: 'sf.proc.uid != sf.pproc.uid', pred: (v) => v.uid !== v.puid },
  { name: 'shell_parent_pe', cond: 'shell_parent and sf.type = PE', pred: (v) => SHELLS.includes(v.pname) && v.type === 'PE' },
  { name: 'parent_systemd', cond: 'sf.pproc.pid = 1 and sf.pproc.exe endswith systemd', pred: (v) => v.ppid === 1 && v.pexe.endsWith('systemd') },
  // files
  { name: 'socket_pair', cond: 'sf.file.symlink exists', pred: (v) => v.path !== str(v.o.file.path) },
  { name: 'path_proc', cond: 'sf.file.path startswith /proc/', pred: (v) => v.path.startsWith('/proc/') },
  { name: 'name_endswith', cond: 'sf.file.name endswith .so or sf.file.name endswith .py', pred: (v) => v.fname.endsWith('.so') || v.fname.endsWith('.py') },
  { name: 'dir_etc', cond: 'sf.file.directory = /etc or sf.file.directory = /tmp', pred: (v) => v.fdir === '/etc' || v.fdir === '/tmp' },
  { name: 'file_type_in', cond: 'sf.file.type in (p, u, d)', pred: (v) => ['p', 'u', 'd'].includes(v.ftype) },
  { name: 'open_write', cond: 'sf.file.is_open_write = true and sf.type = FF', pred: (v) => v.isWrite && v.type === 'FF' },
  { name: 'open_read_only', cond: 'sf.file.is_open_read = true and not sf.file.is_open_write = true', pred: (v) => v.isRead && !v.isWrite },
  { name: 'openflags_creat_none', cond: 'sf.file.openflags = CREAT or sf.file.openflags = NONE', pred: (v) => has(v.openflags, 'CREAT') || has(v.openflags, 'NONE') },
  { name: 'openflags_rdwr', cond: 'sf.file.openflags in (RDWR, APPEND)', pred: (v) => has(v.openflags, 'RDWR') || has(v.openflags, 'APPEND') },
  { name: 'fd_range', cond: 'sf.file.fd >= 3 and sf.file.fd < 10', pred: (v) => v.fd >= 3 && v.fd < 10 },
  { name: 'newpath_exists', cond: 'sf.file.newpath exists or sf.file.path contains testing', pred: (v) => v.newpath !== '' || v.path.includes('testing') },
  // network
  { name: 'dns', cond: 'sf.net.dport in (dns_ports) or sf.net.sport = 53', pred: (v) => DNS_PORTS.includes(v.dport) || v.sport === 53 },
  { name: 'net_ip_localhost', cond: 'sf.net.ip = 127.0.0.1', pred: (v) => v.sip === '127.0.0.1' || v.dip === '127.0.0.1' },
  { name: 'net_port_list', cond: 'sf.net.port in (8080, 443)', pred: (v) => [8080, 443].includes(v.sport) || [8080, 443].includes(v.dport) },
  { name: 'net_port_ne', cond: 'sf.type = NF and sf.net.port != 53', pred: (v) => v.type === 'NF' && v.sport !== 53 && v.dport !== 53 },
  { name: 'sip_ne_dip_tcp', cond: 'sf.net.sip != sf.net.dip and sf.net.proto = 6', pred: (v) => v.sip !== v.dip && v.proto === 6 },
  { name: 'not_tcp', cond: 'sf.net.proto != 6 and sf.type = NF', pred: (v) => v.proto !== 6 && v.type === 'NF' },
  { name: 'net_ip_prefix', cond: 'sf.net.ip startswith 10.', pred: (v) => v.sip.startsWith('10.') || v.dip.startsWith('10.') },
  { name: 'udp_dip_prefix', cond: 'sf.net.proto = 17 and sf.net.dip startswith 172.17.', pred: (v) => v.proto === 17 && v.dip.startsWith('172.17.') },
  // flow counters (not doubled)
  { name: 'flow_bytes', cond: 'sf.flow.rbytes > 1000 or sf.flow.wbytes >= 4096', pred: (v) => v.rbytes > 1000 || v.wbytes >= 4096 },
  { name: 'flow_read_only', cond: 'sf.flow.rops > 0 and sf.flow.wops = 0', pred: (v) => v.rops > 0 && v.wops === 0 },
  { name: 'flow_small_write', cond: 'sf.flow.wbytes = 1 or sf.flow.wbytes = 2 or sf.flow.rbytes = 80', pred: (v) => v.wbytes === 1 || v.wbytes === 2 || v.rbytes === 80 },
  // containers, pods
  { name: 'robot_shop_container', cond: 'in_docker and sf.container.name contains _robot-shop_', pred: (v) => inDocker(v) && v.cname.includes('_robot-shop_') },
  { name: 'image_latest', cond: 'sf.container.image endswith :latest', pred: (v) => v.cimage.endsWith(':latest') },
  { name: 'privileged', cond: 'sf.container.privileged = 1', pred: (v) => v.privileged },
  { name: 'no_container', cond: 'not sf.container.id exists', pred: (v) => v.cid === '' },
  { name: 'container_id', cond: 'sf.container.id in (4269f06be75a, 8f2eec3f3cf3)', pred: (v) => v.cid === '4269f06be75a' || v.cid === '8f2eec3f3cf3' },
  { name: 'container_type', cond: 'sf.container.type = DOCKER', pred: (v) => v.ctype === 'DOCKER' },
  { name: 'pod_ns', cond: 'sf.pod.namespace = kube-system', pred: (v) => v.podns === 'kube-system' },
  // header
  { name: 'node_id', cond: 'sf.node.id in (minikube, tests)', pred: (v) => ['minikube', 'tests'].includes(str(v.o.node.id)) },
  { name: 'schema', cond: 'sf.meta.schema >= 4 and sf.meta.schema < 1000', pred: (v) => int(v.o.schema) >= 4 && int(v.o.schema) < 1000 },
  // return codes
  { name: 'ret_nonzero', cond: 'sf.ret != 0', pred: (v) => v.ret !== 0 },
  { name: 'ret_negative', cond: 'sf.ret < 0', pred: (v) => v.ret < 0 },
  // k8s events
  { name: 'ke_added', cond: 'sf.ke.kind = K8S_PODS and sf.ke.action = K8S_COMPONENT_ADDED', pred: (v) => v.kekind === 'K8S_PODS' && v.keaction === 'K8S_COMPONENT_ADDED' },
  { name: 'ke_jsonpath', cond: 'sf.ke.message[items.0.namespace] = robot-shop', pred: (v) => v.kens === 'robot-shop' },
  { name: 'ke_msg', cond: 'sf.ke.message contains user-899b6c7ff', pred: (v) => v.kemsg.includes('user-899b6c7ff') },
  // prefilter, parentheses, not
  { name: 'prefilter_python', cond: 'sf.proc.name = python', prefilter: ['PE', 'NF'], pred: (v) => v.name === 'python' && (v.type === 'PE' || v.type === 'NF') },
  { name: 'parens', cond: '(sf.type = PE or sf.type = FE) and not (sf.proc.uid = 0 or sf.proc.name = sh)', pred: (v) => (v.type === 'PE' || v.type === 'FE') && !(v.uid === 0 || v.name === 'sh') },
  { name: 'not_not', cond: 'not not sf.opflags = EXIT and not (sf.proc.exe exists and sf.proc.args exists)', pred: (v) => has(v.opflags, 'EXIT') && !(v.exe !== '' && v.args !== '') },
];

function policyYaml(rules: readonly Rule[], filter?: string): string {
  const lines = [PRELUDE];
  if (filter) lines.push(`- filter: test_filter\n  condition: ${filter}\n`);
  for (const r of rules) {
    lines.push(`- rule: ${r.name}\n  desc: ${r.name}\n  condition: ${r.cond}\n  priority: low`);
    if (r.prefilter) lines.push(`  prefilter: [${r.prefilter.join(', ')}]`);
    lines.push('');
  }
  return lines.join('\n');
}

// The filter run: drop python processes (a large share of the corpus) and every record of pid 1.
const FILTER = 'sf.proc.name in (python, python2.7) or sf.proc.pid = 1';
const filterPred = (v: V) => v.name === 'python' || v.name === 'python2.7' || v.pid === 1;

// ---------------------------------------------------------------------------------------------
// Running both sides
// ---------------------------------------------------------------------------------------------

/** sysprint only printed 38 records of this legacy-L7 file before failing (sysflow-format.md §6). */
const PARTIAL_ORACLE = 'sf-apis/data/objectstore/data/play/mon.1544763379';
const TRACES = listOracle('json').filter((t) => t !== PARTIAL_ORACLE && existsSync(tracePath(t)));

/** §7.3.2: alert mode, `sf.opflags = EXEC`. */
const EXEC_COUNTS: Record<string, number> = {
  'sf-processor/tcp.sf': 2,
  'sf-processor/httpd.sf': 0,
  'sf-processor/shellshock.sf': 3,
  'sf-processor/k8s_small.sf': 79,
  'sf-processor/1621959914': 23,
  'sf-processor/mon.1531776682.sf': 133,
  'sf-processor/mon.1531776712.sf': 67,
  'sf-processor/mon.1531776742.sf': 121,
};

const dirTmp = mkdtempSync(join(tmpdir(), 'sfp-policy-oracle-'));
after(() => rmSync(dirTmp, { recursive: true, force: true }));
const POLICY = join(dirTmp, 'rules.yaml');
const POLICY_FILTERED = join(dirTmp, 'rules-filtered.yaml');
writeFileSync(POLICY, policyYaml(RULES));
writeFileSync(POLICY_FILTERED, policyYaml(RULES, FILTER));
/** §7.3.2 verbatim: one rule, `condition: sf.opflags = EXEC`. */
const POLICY_EXEC = join(dirTmp, 'exec.yaml');
writeFileSync(POLICY_EXEC, '- rule: Action example\n  desc: user-defined action example\n  condition: sf.opflags = EXEC\n');

const pipeline = (policies: string) => [
  { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
  { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', mode: 'alert', policies },
  { processor: 'exporter', in: 'evt eventchan', export: 'memory', format: 'json' },
];

/** A record identity both sides can print: type, start time, pid, tid. */
const keyOfOracle = (v: V) => `${v.type} ts=${v.ts} pid=${v.pid} tid=${v.tid}`;
function keyOfOurs(line: string): string {
  const o = parseExactJson(line) as J;
  return `${o.type} ts=${big(o.ts)} pid=${int(o.proc?.pid)} tid=${int(o.proc?.tid)}`;
}

interface Ours {
  lines: string[];
  counts: Map<string, number>;
  /** Output line indices per rule. */
  byRule: Map<string, number[]>;
}

async function runOurs(trace: string, policies: string): Promise<Ours> {
  const { text } = await runPipeline(tracePath(trace), pipeline(policies));
  const lines = text.split('\n');
  assert.equal(lines.pop(), '', 'output ends with a newline');
  const counts = new Map<string, number>();
  const byRule = new Map<string, number[]>();
  lines.forEach((line, i) => {
    const o = JSON.parse(line) as J; // counting only: exact integers are not needed here
    const ids = (o.policies as J[] | undefined)?.map((p) => p.id as string) ?? [];
    assert.ok(ids.length > 0, `alert mode exported a record that matched no rule: ${line.slice(0, 200)}`);
    for (const id of ids) {
      counts.set(id, (counts.get(id) ?? 0) + 1);
      (byRule.get(id) ?? byRule.set(id, []).get(id)!).push(i);
    }
  });
  return { lines, counts, byRule };
}

function explain(rule: Rule, expected: V[], ours: Ours): string {
  const want = new Map<string, V[]>();
  for (const v of expected) {
    const k = keyOfOracle(v);
    (want.get(k) ?? want.set(k, []).get(k)!).push(v);
  }
  const extra: string[] = [];
  for (const i of ours.byRule.get(rule.name) ?? []) {
    const k = keyOfOurs(ours.lines[i]!);
    const w = want.get(k);
    if (w?.length) w.pop();
    else extra.push(ours.lines[i]!);
  }
  const missing = [...want.values()].flat();
  const parts = [`rule ${rule.name} (${rule.cond}): ${missing.length} expected record(s) not alerted, ${extra.length} alert(s) not expected`];
  if (missing.length) parts.push(`first missing (sysprint): ${JSON.stringify(missing[0]!.o)}`);
  if (extra.length) parts.push(`first extra (ours): ${extra[0]}`);
  return parts.join('\n');
}

const oracleCache = new Map<string, V[]>();
function oracleViews(trace: string): V[] {
  let vs = oracleCache.get(trace);
  if (vs === undefined) {
    vs = readOracle(trace, 'json')
      .split('\n')
      .filter(Boolean)
      .map((l) => view(parseExactJson(l) as J));
    oracleCache.set(trace, vs);
  }
  return vs;
}

const totals = { records: 0, alerts: 0, matches: 0, filteredAlerts: 0, filteredMatches: 0 };
const perTrace: string[] = [];
const perRule = new Map<string, number>(RULES.map((r) => [r.name, 0]));

test(`policy oracle corpus: ${CORPUS_NOTE} (${TRACES.length} traces with a complete sysprint oracle, ${RULES.length} rules)`, () => {
  assert.ok(TRACES.length > 0);
  if (HAVE_SHARED) assert.equal(TRACES.length, 18, 'every full oracle of shared/ except the partial legacy one');
});

for (const trace of TRACES) {
  test(`policy counts agree with the independent evaluator: ${trace}`, async () => {
    const views = oracleViews(trace);
    const ours = await runOurs(trace, POLICY);
    const problems: string[] = [];
    let anyMatch = 0;
    const matchedBy = new Map<string, V[]>();
    for (const r of RULES) matchedBy.set(r.name, []);
    for (const v of views) {
      let hit = false;
      for (const r of RULES) {
        if (r.pred(v)) {
          matchedBy.get(r.name)!.push(v);
          hit = true;
        }
      }
      if (hit) anyMatch++;
    }
    for (const r of RULES) {
      const want = matchedBy.get(r.name)!.length;
      const got = ours.counts.get(r.name) ?? 0;
      if (want !== got) problems.push(`${r.name}: expected ${want}, got ${got}\n${explain(r, matchedBy.get(r.name)!, ours)}`);
    }
    assert.equal(problems.length, 0, problems.join('\n\n'));
    assert.equal(ours.lines.length, anyMatch, 'alert mode exports exactly the records matching at least one rule');
    const exec = EXEC_COUNTS[trace];
    if (exec !== undefined) assert.equal(ours.counts.get('exec_macro') ?? 0, exec, 'sf-processor-compat §7.3.2 sf.opflags = EXEC count');
    const matches = [...ours.counts.values()].reduce((a, b) => a + b, 0);
    totals.records += views.length;
    totals.alerts += ours.lines.length;
    totals.matches += matches;
    for (const [k, n] of ours.counts) perRule.set(k, (perRule.get(k) ?? 0) + n);
    perTrace.push(`${trace}: ${views.length} records, ${ours.lines.length} alerts, ${matches} rule matches`);
  });

  test(`a drop filter removes exactly the records the independent evaluator says: ${trace}`, async () => {
    const views = oracleViews(trace);
    const ours = await runOurs(trace, POLICY_FILTERED);
    const kept = views.filter((v) => !filterPred(v));
    const problems: string[] = [];
    for (const r of RULES) {
      const expected = kept.filter(r.pred);
      const got = ours.counts.get(r.name) ?? 0;
      if (expected.length !== got) problems.push(`${r.name}: expected ${expected.length}, got ${got}\n${explain(r, expected, ours)}`);
    }
    assert.equal(problems.length, 0, problems.join('\n\n'));
    assert.equal(ours.lines.length, kept.filter((v) => RULES.some((r) => r.pred(v))).length);
    totals.filteredAlerts += ours.lines.length;
    totals.filteredMatches += [...ours.counts.values()].reduce((a, b) => a + b, 0);
  });
}

for (const [trace, n] of Object.entries(EXEC_COUNTS)) {
  if (!TRACES.includes(trace)) continue;
  test(`sf-processor-compat §7.3.2: alert mode with only sf.opflags = EXEC exports ${n} records: ${trace}`, async () => {
    const ours = await runOurs(trace, POLICY_EXEC);
    assert.equal(ours.lines.length, n);
    assert.equal(ours.lines.length, oracleViews(trace).filter(isExec).length);
  });
}

test('policy oracle totals', (t) => {
  for (const l of perTrace) t.diagnostic(l);
  t.diagnostic(`per rule: ${[...perRule].map(([k, n]) => `${k}=${n}`).join(' ')}`);
  t.diagnostic(
    `records ${totals.records}, exported alerts ${totals.alerts} (rule matches ${totals.matches}); with the drop filter: alerts ${totals.filteredAlerts} (rule matches ${totals.filteredMatches})`,
  );
  assert.ok(totals.matches > 0);
});
