/**
 * docker-compose.yml, the Dockerfiles and the container entrypoints agree with each other and with
 * the code. No Docker engine runs here, so nothing is built or started by Docker. Instead:
 *
 * - the compose file is parsed (js-yaml) and its `${VAR:-default}` values resolved as compose does;
 * - each Dockerfile is parsed, and its run stage is *materialized* into a temp directory: COPY from
 *   the build context (honouring .dockerignore), COPY --from a build stage (modelled: what the build
 *   stage produces is this checkout's own build), and the RUN commands that shape the file tree
 *   (install -d, mkdir -p, ln -s, chmod); any other RUN command in a run stage is an error, so the
 *   model cannot silently drift from the Dockerfile;
 * - every environment variable compose sets on a built service must be read by that image's
 *   entrypoint, be read by the program itself (the collector's getenv calls), or be a
 *   `<PROCESSOR>_<ATTR>` override that config.ts turns into a real attribute of a processor in the
 *   pipeline the service runs;
 * - the processor entrypoint runs for real on the materialized image with the compose environment
 *   (paths rebased into the temp tree), under `-test`; and end to end with the file driver, sending
 *   alerts to an rsyslogd started with docker/rsyslog/rsyslog.conf.
 *
 * The checks are functions over a Project that can carry edited copies of files (an overlay), and
 * the last test applies deliberate mutations to show that each check fails when it should.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { load } from 'js-yaml';
import { ROOT, FIXTURES } from '../helpers/corpus.js';
import { builtinRegistry } from '../../core/plugins/builtin.js';
import { envOverrides } from '../../core/pipeline/config.js';

// ---------------------------------------------------------------------------------------------
// The project, with an overlay of edited files for the mutation checks

class Project {
  constructor(
    readonly root: string,
    private readonly overlay: ReadonlyMap<string, string | null> = new Map(),
  ) {}
  /** A copy with `rel` replaced (null: deleted). */
  with(rel: string, text: string | null): Project {
    const m = new Map(this.overlay);
    m.set(rel, text);
    return new Project(this.root, m);
  }
  /** A copy with one textual edit of `rel`, which must change it. */
  edit(rel: string, from: string | RegExp, to: string): Project {
    const before = this.read(rel);
    const after = before.replace(from, to);
    assert.notEqual(after, before, `mutation of ${rel}: '${String(from)}' not found`);
    return this.with(rel, after);
  }
  overlaid(rel: string): string | null | undefined {
    return this.overlay.get(posix.normalize(rel));
  }
  read(rel: string): string {
    const o = this.overlaid(rel);
    if (o === null) throw new Error(`${rel}: deleted`);
    return o ?? readFileSync(join(this.root, rel), 'utf8');
  }
  exists(rel: string): boolean {
    const o = this.overlaid(rel);
    return o === undefined ? existsSync(join(this.root, rel)) : o !== null;
  }
  isDir(rel: string): boolean {
    return this.overlaid(rel) === undefined && existsSync(join(this.root, rel)) && statSync(join(this.root, rel)).isDirectory();
  }
}

const PROJECT = new Project(ROOT);

// ---------------------------------------------------------------------------------------------
// Compose

interface BuildSpec {
  context: string;
  dockerfile?: string;
}
interface HealthCheck {
  test: string[] | string;
}
interface Service {
  build?: BuildSpec | string;
  image?: string;
  environment?: Record<string, unknown> | string[];
  volumes?: (string | { type?: string; source?: string; target: string })[];
  profiles?: string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: HealthCheck;
  entrypoint?: string[] | string;
  network_mode?: string;
  privileged?: boolean;
  pid?: string;
  ports?: string[];
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const COMPOSE_FILE = 'docker-compose.yml';
const VAR_REF = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/** Compose interpolation: $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:+a}, ${VAR:?e} (no nesting). */
function interpolate(s: string, vars: Readonly<Record<string, string>>): string {
  return s.replace(VAR_REF, (m, name: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
    if (m === '$$') return '$';
    if (bare) return vars[bare] ?? '';
    const v = vars[name!];
    const missing = op?.startsWith(':') ? !v : v === undefined;
    switch (op?.replace(':', '')) {
      case '-':
        return missing ? arg! : v!;
      case '+':
        return missing ? '' : arg!;
      case '?':
        if (missing) throw new Error(`\${${name}} is required: ${arg}`);
        return v!;
      default:
        return v ?? '';
    }
  });
}

function composeVarNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    for (const m of line.matchAll(VAR_REF)) if (m[1] ?? m[4]) names.add((m[1] ?? m[4])!);
  }
  return names;
}

/** KEY=VALUE lines of .env.example, commented-out ones included (they are documented too). */
function envExample(p: Project): Map<string, { value: string; commented: boolean }> {
  const out = new Map<string, { value: string; commented: boolean }>();
  for (const line of p.read('.env.example').split('\n')) {
    const m = /^(#\s*)?([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m && !out.has(m[2]!)) out.set(m[2]!, { value: m[3]!, commented: !!m[1] });
  }
  return out;
}

/** The values compose would use with no .env and nothing exported: every default. */
const NO_VARS: Readonly<Record<string, string>> = {};

function loadCompose(p: Project): Compose {
  const doc = load(p.read(COMPOSE_FILE)) as Compose;
  assert.ok(doc && typeof doc === 'object' && doc.services, `${COMPOSE_FILE}: no services`);
  return doc;
}

function buildOf(s: Service): BuildSpec | null {
  if (!s.build) return null;
  return typeof s.build === 'string' ? { context: s.build } : s.build;
}

/** Context directory and Dockerfile path, relative to the project root. */
function buildPaths(b: BuildSpec): { context: string; dockerfile: string } {
  const context = posix.normalize(b.context);
  return { context, dockerfile: posix.join(context, b.dockerfile ?? 'Dockerfile') };
}

/** The service's environment with compose's interpolation applied; problems for non-string values. */
function serviceEnv(s: Service, vars: Readonly<Record<string, string>>, problems: string[] = [], where = ''): Record<string, string> {
  const out: Record<string, string> = {};
  const env = s.environment ?? {};
  const entries: [string, unknown][] = Array.isArray(env)
    ? env.map((kv) => {
        const i = kv.indexOf('=');
        return i < 0 ? [kv, undefined] : [kv.slice(0, i), kv.slice(i + 1)];
      })
    : Object.entries(env);
  for (const [k, v] of entries) {
    if (typeof v === 'boolean' || (v !== null && v !== undefined && typeof v === 'object')) {
      problems.push(`${where}environment ${k}: ${JSON.stringify(v)} must be a string (quote it)`);
      continue;
    }
    out[k] = v === null || v === undefined ? '' : interpolate(String(v), vars);
  }
  return out;
}

interface Mount {
  kind: 'volume' | 'bind';
  source: string;
  target: string;
  readOnly: boolean;
}

function mounts(s: Service): Mount[] {
  return (s.volumes ?? []).map((v) => {
    if (typeof v !== 'string') return { kind: v.type === 'bind' ? 'bind' : 'volume', source: v.source ?? '', target: v.target, readOnly: false } as Mount;
    const [source, target, mode] = v.split(':');
    const bind = /^[./~]/.test(source!);
    return { kind: bind ? 'bind' : 'volume', source: source!, target: target ?? source!, readOnly: (mode ?? '').split(',').includes('ro') };
  });
}

function dependsOn(s: Service): string[] {
  return Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {});
}

function healthTest(s: Service): string {
  const t = s.healthcheck?.test;
  if (t === undefined) return '';
  return Array.isArray(t) ? t.slice(1).join(' ') : t;
}

// ---------------------------------------------------------------------------------------------
// Dockerfiles

interface Instr {
  op: string;
  args: string;
  line: number;
}
interface Stage {
  name: string | null;
  base: string;
  instrs: Instr[];
}

function parseDockerfile(text: string): Stage[] {
  const logical: { text: string; line: number }[] = [];
  let cur = '';
  let start = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i]!.trim();
    if (t.startsWith('#')) continue; // comments (and parser directives); also inside continuations
    if (!cur && !t) continue;
    if (!cur) start = i + 1;
    if (t.endsWith('\\')) {
      cur += `${t.slice(0, -1)} `;
      continue;
    }
    cur += t;
    logical.push({ text: cur.trim(), line: start });
    cur = '';
  }
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const l of logical) {
    const m = /^(\S+)\s*(.*)$/.exec(l.text)!;
    const op = m[1]!.toUpperCase();
    const rest = m[2]!;
    if (op === 'ARG' && stages.length === 0) {
      const [k, v] = rest.split('=');
      args[k!] = v ?? '';
      continue;
    }
    if (op === 'FROM') {
      const fm = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!fm) throw new Error(`line ${l.line}: cannot read FROM ${rest}`);
      stages.push({ base: fm[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => args[a ?? b] ?? ''), name: fm[2] ?? null, instrs: [] });
      continue;
    }
    if (stages.length === 0) throw new Error(`line ${l.line}: ${op} before FROM`);
    stages.at(-1)!.instrs.push({ op, args: rest, line: l.line });
  }
  return stages;
}

interface CopySpec {
  from?: string;
  chmod?: string;
  chown?: string;
  srcs: string[];
  dest: string;
}

function parseCopy(args: string): CopySpec {
  const spec: Partial<CopySpec> = {};
  let rest = args;
  for (;;) {
    const m = /^--(\w+)=(\S+)\s+/.exec(rest);
    if (!m) break;
    if (m[1] === 'from' || m[1] === 'chmod' || m[1] === 'chown') spec[m[1]] = m[2];
    rest = rest.slice(m[0].length);
  }
  const words = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/);
  return { ...spec, srcs: words.slice(0, -1), dest: words.at(-1)! };
}

/** RUN's shell text without --mount/--network flags. */
function runText(args: string): string {
  return args.replace(/^(--\w+=\S+\s+)+/, '');
}

function runCommands(args: string): string[][] {
  return runText(args)
    .split(/&&|;/)
    .map((c) => c.trim().split(/\s+/).filter(Boolean))
    .filter((c) => c.length > 0);
}

/** ENV KEY=VALUE ... (values may be double-quoted) or the legacy ENV KEY VALUE. */
function parseEnv(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!/^\w+=/.test(args)) {
    const m = /^(\w+)\s+(.*)$/.exec(args)!;
    out[m[1]!] = m[2]!;
    return out;
  }
  for (const m of args.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S*)/g)) out[m[1]!] = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
  return out;
}

// ---------------------------------------------------------------------------------------------
// .dockerignore (moby patternmatcher semantics: last matching pattern wins; a path is matched when
// it or one of its parent directories is)

class DockerIgnore {
  private readonly patterns: { re: RegExp; exclusion: boolean; text: string }[] = [];
  constructor(text: string) {
    for (const raw of text.split('\n')) {
      let line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      const exclusion = line.startsWith('!');
      if (exclusion) line = line.slice(1).trim();
      line = posix.normalize(line).replace(/^\/+/, '');
      this.patterns.push({ re: globToRegExp(line), exclusion, text: raw.trim() });
    }
  }
  static of(p: Project, context: string): DockerIgnore {
    const f = posix.join(context, '.dockerignore');
    return new DockerIgnore(p.exists(f) ? p.read(f) : '');
  }
  /** The pattern that excludes `rel` (relative to the context), or null when it is sent. */
  excludedBy(rel: string): string | null {
    const parts = posix.normalize(rel).split('/');
    const paths = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let by: string | null = null;
    for (const p of this.patterns) if (paths.some((x) => p.re.test(x))) by = p.exclusion ? null : p.text;
    return by;
  }
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      const cls = glob.slice(i + 1, end);
      re += `[${cls.startsWith('!') || cls.startsWith('^') ? `^${cls.slice(1)}` : cls}]`;
      i = end;
    } else if (c === '\\') re += `\\${glob[++i]}`;
    else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

// ---------------------------------------------------------------------------------------------
// Entrypoint scripts

/** Every variable the script reads: $NAME, ${NAME...}. */
function scriptReads(script: string): Set<string> {
  const out = new Set<string>();
  for (const line of script.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    for (const m of line.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) out.add(m[1]!);
  }
  return out;
}

/** Variables the script exports to the program: `export NAME=`. */
function scriptExports(script: string): Set<string> {
  return new Set([...script.matchAll(/\bexport\s+([A-Za-z_][A-Za-z0-9_]*)=/g)].map((m) => m[1]!));
}

/** Defaults given by `NAME="${NAME-default}"` or `NAME="${NAME:-default}"` lines. */
function scriptDefaults(script: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of script.matchAll(/^([A-Za-z_][A-Za-z0-9_]*)="\$\{\1:?-([^}]*)\}"$/gm)) out[m[1]!] = m[2]!;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Images: the run stage materialized into a directory

interface Image {
  /** Temp directory standing for the image's '/'. */
  root: string;
  /** Host path of an image path. */
  host(imagePath: string): string;
  workdir: string;
  env: Record<string, string>;
  entrypoint: string[];
  user: string | null;
  /** uid by user name (useradd --uid). */
  uids: Map<string, number>;
  /** image dir → owner given by install -d -o. */
  owners: Map<string, string>;
  problems: string[];
}

/** What COPY --from=<stage> <src> can take: how this checkout stands in for the build stage's product. */
type Product = (p: Project, dest: string) => void;

function copyTree(p: Project, rel: string, dest: string, ignore: DockerIgnore, context: string, skip: (rel: string) => boolean = () => false): void {
  const src = join(p.root, rel);
  const inContext = posix.relative(context, rel) || '.';
  if (inContext !== '.' && ignore.excludedBy(inContext)) return;
  if (skip(rel)) return;
  const o = p.overlaid(rel);
  if (o === null) return;
  if (o !== undefined) {
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, o);
    return;
  }
  const st = lstatSync(src);
  if (st.isDirectory()) {
    mkdirSync(dest, { recursive: true });
    for (const n of readdirSync(src)) copyTree(p, posix.join(rel, n), join(dest, n), ignore, context, skip);
  } else if (st.isSymbolicLink()) {
    copyFileSync(src, dest); // COPY follows nothing special here; no links in the copied trees
  } else {
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(src, dest);
    chmodSync(dest, st.mode & 0o777);
  }
}

/** The build stages this checkout stands in for, by Dockerfile and `stage:source`. */
const PRODUCTS: Record<string, Record<string, { product: Product; needs: (stage: Stage, p: Project) => string[] }>> = {
  Dockerfile: {
    // RUN npm ci && tsc && npm prune --omit=dev && cp -rL package.json dist node_modules resources /out/
    'build:/out/': {
      needs: (stage) => {
        const cp = stage.instrs
          .filter((i) => i.op === 'RUN')
          .flatMap((i) => runCommands(i.args))
          .find((c) => c[0] === 'cp' && c.at(-1) === '/out/');
        if (!cp) return [`build stage: no 'cp ... /out/' assembling the app`];
        const names = cp.slice(1, -1).filter((w) => !w.startsWith('-'));
        const want = ['package.json', 'dist', 'node_modules', 'resources'];
        return names.join(' ') === want.join(' ') ? [] : [`build stage: /out/ holds '${names.join(' ')}'; the test models '${want.join(' ')}' (update PRODUCTS)`];
      },
      product: (p, dest) => {
        mkdirSync(dest, { recursive: true });
        copyFileSync(join(p.root, 'package.json'), join(dest, 'package.json'));
        // dist as tsc builds it in the image: test/ is not in the build context
        const ignore = new DockerIgnore('');
        copyTree(p, 'dist', join(dest, 'dist'), ignore, '.', (rel) => rel === 'dist/test');
        copyTree(p, 'resources', join(dest, 'resources'), ignore, '.');
        // production dependencies: this checkout's (a superset); linked, not copied
        symlinkSync(join(p.root, 'node_modules'), join(dest, 'node_modules'));
      },
    },
  },
  'native/Dockerfile': {
    // RUN make -C native → native/build/sfcollector
    'build:/src/native/build/sfcollector': {
      needs: (stage, p) => {
        const out: string[] = [];
        if (!stage.instrs.some((i) => i.op === 'RUN' && runCommands(i.args).some((c) => c.join(' ') === 'make -C native'))) out.push(`build stage: no 'make -C native'`);
        if (!stage.instrs.some((i) => i.op === 'COPY' && parseCopy(i.args).srcs.includes('native/'))) out.push('build stage: native/ is not copied');
        if (!p.exists('native/Makefile')) out.push('native/Makefile does not exist (the collector is not in the tree)');
        else if (!/build\/sfcollector|\bsfcollector\b/.test(p.read('native/Makefile'))) out.push('native/Makefile does not build sfcollector');
        return out;
      },
      product: (p, dest) => {
        mkdirSync(dirname(dest), { recursive: true });
        const built = join(p.root, 'native/build/sfcollector');
        if (existsSync(built)) copyFileSync(built, dest);
        else writeFileSync(dest, '#!/bin/sh\necho "sfcollector stand-in" >&2\nexit 1\n');
        chmodSync(dest, 0o755);
      },
    },
  },
};

function materialize(p: Project, dockerfile: string, context: string): Image {
  const stages = parseDockerfile(p.read(dockerfile));
  const root = mkdtempSync(join(tmpdir(), 'sfp-image-'));
  const host = (ip: string) => join(root, ip);
  const img: Image = { root, host, workdir: '/', env: {}, entrypoint: [], user: null, uids: new Map(), owners: new Map(), problems: [] };
  try {
    materializeInto(img, p, dockerfile, context, stages);
  } catch (e) {
    rmSync(root, { recursive: true, force: true });
    throw e;
  }
  return img;
}

function materializeInto(img: Image, p: Project, dockerfile: string, context: string, stages: Stage[]): void {
  const host = img.host;
  const run = stages.at(-1)!;
  const ignore = DockerIgnore.of(p, context);
  const fail = (i: Instr, msg: string) => img.problems.push(`${dockerfile}:${i.line}: ${i.op} ${msg}`);
  const products = PRODUCTS[dockerfile] ?? {};
  for (const stage of stages.slice(0, -1)) {
    for (const [key, prod] of Object.entries(products)) if (key.startsWith(`${stage.name}:`)) img.problems.push(...prod.needs(stage, p).map((m) => `${dockerfile}: ${m}`));
  }
  for (const i of run.instrs) {
    switch (i.op) {
      case 'WORKDIR':
        img.workdir = posix.resolve(img.workdir, i.args);
        mkdirSync(host(img.workdir), { recursive: true });
        break;
      case 'ENV':
        Object.assign(img.env, parseEnv(i.args));
        break;
      case 'USER':
        img.user = i.args;
        break;
      case 'ENTRYPOINT':
        img.entrypoint = JSON.parse(i.args) as string[];
        break;
      case 'VOLUME':
        for (const v of JSON.parse(i.args) as string[]) mkdirSync(host(v), { recursive: true });
        break;
      case 'EXPOSE':
      case 'CMD':
      case 'LABEL':
      case 'ARG':
        break;
      case 'COPY': {
        const c = parseCopy(i.args);
        const intoDir = c.dest.endsWith('/') || c.srcs.length > 1;
        // a directory source copies its contents to dest; a file goes to dest, or into it when dest ends in '/'
        const target = (src: string, isDir: boolean) => host(isDir || !intoDir ? c.dest : posix.join(c.dest, posix.basename(src)));
        for (const src of c.srcs) {
          if (c.from) {
            const prod = products[`${c.from}:${src}`];
            if (!stages.some((s) => s.name === c.from)) fail(i, `--from=${c.from}: no such stage`);
            else if (!prod) fail(i, `--from=${c.from} ${src}: the test does not know what the build stage puts there (update PRODUCTS)`);
            else prod.product(p, target(src, src.endsWith('/')));
            continue;
          }
          const rel = posix.join(context, src);
          const inContext = posix.relative(context, rel) || '.';
          if (!p.exists(rel)) {
            fail(i, `${src}: not in the build context ${context}`);
            continue;
          }
          const by = inContext === '.' ? null : ignore.excludedBy(inContext);
          if (by) {
            fail(i, `${src}: excluded from the build context by .dockerignore '${by}'`);
            continue;
          }
          const isDir = p.isDir(rel);
          copyTree(p, rel, target(src, isDir), ignore, context);
          if (c.chmod && !isDir) chmodSync(target(src, isDir), parseInt(c.chmod, 8));
        }
        break;
      }
      case 'RUN':
        for (const cmd of runCommands(i.args)) runInImage(img, cmd, (m) => fail(i, m));
        break;
      default:
        fail(i, 'is not modelled by this test');
    }
  }
}

function runInImage(img: Image, cmd: string[], fail: (m: string) => void): void {
  const [prog, ...args] = cmd;
  const operands = (optsWithValue: string[]) => {
    const out: string[] = [];
    for (let k = 0; k < args.length; k++) {
      const a = args[k]!;
      if (optsWithValue.includes(a)) k++;
      else if (!a.startsWith('-')) out.push(a);
    }
    return out;
  };
  const optionValue = (opt: string) => {
    const k = args.indexOf(opt);
    return k < 0 ? undefined : args[k + 1];
  };
  switch (prog) {
    case 'apt-get':
    case 'groupadd':
      return;
    case 'rm':
      if (args.join(' ') !== '-rf /var/lib/apt/lists/*') fail(`rm ${args.join(' ')}: only the apt lists may be removed`);
      return;
    case 'useradd': {
      const name = operands(['--uid', '-u', '--gid', '-g', '--home-dir', '-d', '--shell', '-s'])[0]!;
      img.uids.set(name, Number(optionValue('--uid') ?? optionValue('-u')));
      return;
    }
    case 'install':
      if (!args.includes('-d')) return fail('install without -d is not modelled');
      for (const d of operands(['-o', '-g', '-m'])) {
        mkdirSync(img.host(d), { recursive: true });
        const o = optionValue('-o');
        if (o) img.owners.set(d, o);
      }
      return;
    case 'mkdir':
      for (const d of operands([])) mkdirSync(img.host(d), { recursive: true });
      return;
    case 'ln': {
      if (args[0] !== '-s' || args.length !== 3) return fail(`ln ${args.join(' ')}: only 'ln -s TARGET LINK' is modelled`);
      const link = img.host(args[2]!);
      if (!existsSync(dirname(link))) return fail(`ln -s: directory of ${args[2]} does not exist`);
      symlinkSync(args[1]!, link);
      if (!existsSync(link)) fail(`ln -s ${args[1]} ${args[2]}: dangling link`);
      return;
    }
    case 'chmod':
      for (const f of args.slice(1)) {
        if (!existsSync(img.host(f))) fail(`chmod: ${f} does not exist`);
        else chmodSync(img.host(f), parseInt(args[0]!, 8));
      }
      return;
    default:
      fail(`'${cmd.join(' ')}' is not modelled by this test (run stages may only shape the file tree)`);
  }
}

/** Image path → does it exist in the image tree (following links inside the tree)? */
function imageHas(img: Image, ip: string): boolean {
  return existsSync(img.host(ip));
}

// ---------------------------------------------------------------------------------------------
// What the checks share

const PROCESSOR = 'sf-processor';
const COLLECTOR = 'sf-collector';
const RSYSLOG = 'rsyslog';
const ELASTIC = ['elasticsearch', 'es-setup', 'kibana'];

interface Built {
  name: string;
  service: Service;
  context: string;
  dockerfile: string;
  image: Image;
  /** The entrypoint script's project path and text ('' when none). */
  entrypointRel: string;
  entrypoint: string;
}

/** Every service with a build, its image materialized. Call cleanup() when done. */
function buildAll(p: Project): { built: Map<string, Built>; problems: string[]; cleanup: () => void } {
  const compose = loadCompose(p);
  const built = new Map<string, Built>();
  const problems: string[] = [];
  const cleanup = () => built.forEach((b) => rmSync(b.image.root, { recursive: true, force: true }));
  try {
    buildEach(p, compose, built, problems);
  } catch (e) {
    cleanup();
    throw e;
  }
  return { built, problems, cleanup };
}

function buildEach(p: Project, compose: Compose, built: Map<string, Built>, problems: string[]): void {
  for (const [name, s] of Object.entries(compose.services)) {
    const b = buildOf(s);
    if (!b) continue;
    const { context, dockerfile } = buildPaths(b);
    if (!p.exists(dockerfile)) {
      problems.push(`${name}: ${dockerfile} does not exist`);
      continue;
    }
    const image = materialize(p, dockerfile, context);
    problems.push(...image.problems.map((m) => `${name}: ${m}`));
    let entrypointRel = '';
    let entrypoint = '';
    // the entrypoint script: the COPY whose destination is ENTRYPOINT[0]
    const ep = image.entrypoint[0];
    if (ep) {
      for (const i of parseDockerfile(p.read(dockerfile))
        .at(-1)!
        .instrs.filter((x) => x.op === 'COPY')) {
        const c = parseCopy(i.args);
        if (!c.from && c.srcs.length === 1 && c.dest === ep) entrypointRel = posix.join(context, c.srcs[0]!);
      }
      if (entrypointRel && p.exists(entrypointRel)) entrypoint = p.read(entrypointRel);
      if (!imageHas(image, ep)) problems.push(`${name}: ENTRYPOINT ${ep} does not exist in the image`);
      else if ((statSync(image.host(ep)).mode & 0o111) === 0) problems.push(`${name}: ENTRYPOINT ${ep} is not executable`);
    }
    built.set(name, { name, service: s, context, dockerfile, image, entrypointRel, entrypoint });
  }
}

/** The environment a container starts with: Dockerfile ENV, then compose's (entrypoint defaults apply later). */
function containerEnv(b: Built, vars = NO_VARS): Record<string, string> {
  const env = { ...b.image.env };
  delete env.PATH;
  return { ...env, ...serviceEnv(b.service, vars) };
}

/** What the entrypoint ends up with for a variable: the container env, else its default. */
function effective(b: Built, name: string, vars = NO_VARS): string | undefined {
  return containerEnv(b, vars)[name] ?? scriptDefaults(b.entrypoint)[name];
}

/** The image path as seen by the service, considering its bind mounts: [project path | image host path]. */
function resolveInService(p: Project, b: Built, ip: string): { project?: string; host: string } {
  for (const m of mounts(b.service)) {
    if (m.kind !== 'bind') continue;
    if (ip === m.target || ip.startsWith(`${m.target}/`)) {
      const rel = posix.join(posix.normalize(m.source), posix.relative(m.target, ip));
      return { project: rel, host: join(p.root, rel) };
    }
  }
  return { host: b.image.host(ip) };
}

function collectorGetenvs(p: Project): Set<string> | null {
  if (!p.isDir('native/src')) return null;
  const out = new Set<string>();
  const walk = (rel: string) => {
    for (const n of readdirSync(join(p.root, rel))) {
      const r = posix.join(rel, n);
      if (p.isDir(r)) walk(r);
      else if (/\.[ch]$/.test(n)) for (const m of p.read(r).matchAll(/getenv\("([A-Z_][A-Z0-9_]*)"\)/g)) out.add(m[1]!);
    }
  };
  walk('native/src');
  return out;
}

// ---------------------------------------------------------------------------------------------
// Checks: each returns the problems found (empty when right)

function composeProblems(p: Project): string[] {
  const out: string[] = [];
  const compose = loadCompose(p);
  const services = compose.services;
  for (const name of [COLLECTOR, PROCESSOR, RSYSLOG, ...ELASTIC]) if (!services[name]) out.push(`service ${name} is missing`);
  for (const name of [COLLECTOR, PROCESSOR, RSYSLOG]) if (services[name]?.profiles?.length) out.push(`${name} must run without a profile`);
  for (const name of ELASTIC) if (services[name] && !services[name]!.profiles?.includes('elastic')) out.push(`${name} must be in the elastic profile`);
  const declared = new Set(Object.keys(compose.volumes ?? {}));
  const used = new Set<string>();
  for (const [name, s] of Object.entries(services)) {
    if (!s.image && !s.build) out.push(`${name}: neither image nor build`);
    serviceEnv(s, NO_VARS, out, `${name}: `);
    for (const m of mounts(s)) {
      if (m.kind === 'volume') {
        used.add(m.source);
        if (!declared.has(m.source)) out.push(`${name}: volume '${m.source}' is not declared under volumes:`);
      } else if (m.source.startsWith('.') && !p.exists(posix.normalize(m.source))) out.push(`${name}: bind mount source ${m.source} does not exist`);
      if (!m.target.startsWith('/')) out.push(`${name}: mount target ${m.target} is not absolute`);
    }
    for (const d of dependsOn(s)) {
      const dep = services[d];
      if (!dep) out.push(`${name}: depends on undefined service ${d}`);
      else if (dep.profiles?.length && !dep.profiles.every((pr) => s.profiles?.includes(pr)))
        out.push(`${name}: depends on ${d}, which is in profile(s) ${dep.profiles.join(',')} that ${name} is not in`);
      const cond = Array.isArray(s.depends_on) ? undefined : s.depends_on?.[d]?.condition;
      if (cond === 'service_healthy' && dep && !dep.healthcheck) out.push(`${name}: waits for ${d} to be healthy, but ${d} has no healthcheck`);
    }
  }
  for (const v of declared) if (!used.has(v)) out.push(`volume ${v} is declared but not used`);
  // every variable compose reads is documented in .env.example
  const documented = envExample(p);
  for (const v of composeVarNames(p.read(COMPOSE_FILE))) if (!documented.has(v)) out.push(`\${${v}} is used in ${COMPOSE_FILE} but not listed in .env.example`);
  // interpolation with .env.example's values works (no required variable left unset)
  const vars = Object.fromEntries([...documented].filter(([, v]) => !v.commented).map(([k, v]) => [k, v.value]));
  for (const [name, s] of Object.entries(services)) serviceEnv(s, vars, out, `${name} (with .env.example): `);
  return out;
}

function buildProblems(p: Project): string[] {
  const { built, problems, cleanup } = buildAll(p);
  try {
    const out = [...problems];
    for (const b of built.values()) {
      const stages = parseDockerfile(p.read(b.dockerfile));
      const ignore = DockerIgnore.of(p, b.context);
      // COPY sources of the build stages too (the run stage's were checked while materializing)
      for (const s of stages.slice(0, -1)) {
        for (const i of s.instrs.filter((x) => x.op === 'COPY')) {
          const c = parseCopy(i.args);
          if (c.from) continue;
          for (const src of c.srcs) {
            const rel = posix.join(b.context, src);
            const inContext = posix.relative(b.context, rel) || '.';
            if (!p.exists(rel)) out.push(`${b.name}: ${b.dockerfile}:${i.line}: COPY ${src}: not in the build context ${b.context}`);
            else if (inContext !== '.' && ignore.excludedBy(inContext)) out.push(`${b.name}: ${b.dockerfile}:${i.line}: COPY ${src}: excluded by .dockerignore '${ignore.excludedBy(inContext)}'`);
          }
        }
      }
      // the processor's build stage copies the whole context: what npm ci and tsc need must be in it
      if (b.name === PROCESSOR) {
        const pkg = JSON.parse(p.read('package.json')) as { dependencies?: Record<string, string> };
        const needed = ['package.json', 'package-lock.json', 'tsconfig.json', 'resources'];
        for (const spec of Object.values(pkg.dependencies ?? {})) if (spec.startsWith('file:')) needed.push(posix.normalize(spec.slice(5)));
        const tsconfig = JSON.parse(p.read('tsconfig.json')) as { include?: string[] };
        for (const inc of tsconfig.include ?? []) {
          const top = inc.split('/')[0]!;
          if (top !== 'test' && p.exists(top)) needed.push(top);
        }
        for (const n of needed) {
          if (!p.exists(n)) out.push(`${b.name}: build input ${n} does not exist`);
          else if (ignore.excludedBy(n)) out.push(`${b.name}: build input ${n} is excluded from the context by .dockerignore '${ignore.excludedBy(n)}'`);
        }
        const scripts = (JSON.parse(p.read('package.json')) as { scripts?: Record<string, string> }).scripts ?? {};
        if (!/\btsc -p tsconfig\.json\b/.test(scripts.build ?? ''))
          out.push(`package.json's build script no longer runs 'tsc -p tsconfig.json' (the Dockerfile does exactly that): '${scripts.build}'`);
        // the image compiles without test/: nothing outside test/ may import from it
        for (const dir of ['core', 'examples']) {
          if (!p.isDir(dir)) continue;
          const walk = (rel: string) => {
            for (const n of readdirSync(join(p.root, rel))) {
              const r = posix.join(rel, n);
              if (p.isDir(r)) walk(r);
              else if (n.endsWith('.ts') && /from '(\.\.\/)+test\//.test(p.read(r))) out.push(`${r} imports from test/, which is not in the build context`);
            }
          };
          walk(dir);
        }
      }
    }
    return out;
  } finally {
    cleanup();
  }
}

/** Processor names in the pipeline a service runs (its CONFIG_PATH, resolved through mounts). */
function pipelineProcessors(p: Project, b: Built): { processors: Set<string>; problems: string[] } {
  const cfg = effective(b, 'CONFIG_PATH');
  if (!cfg) return { processors: new Set(), problems: ['CONFIG_PATH is empty'] };
  const where = resolveInService(p, b, cfg);
  if (!existsSync(where.host)) return { processors: new Set(), problems: [`CONFIG_PATH ${cfg} does not exist in the image`] };
  const doc = JSON.parse(readFileSync(where.host, 'utf8')) as { pipeline?: { processor?: string }[] };
  return { processors: new Set((doc.pipeline ?? []).map((e) => String(e.processor))), problems: [] };
}

function envProblems(p: Project): string[] {
  const { built, cleanup } = buildAll(p);
  try {
    const out: string[] = [];
    const registry = builtinRegistry();
    const processor = built.get(PROCESSOR);
    const pipeline = processor ? pipelineProcessors(p, processor) : { processors: new Set<string>(), problems: [] };
    out.push(...pipeline.problems.map((m) => `${PROCESSOR}: ${m}`));
    /** Why `name` is honoured by sfprocessor as a plugin attribute, or the reason it is not. */
    const override = (name: string): string | null => {
      const us = name.indexOf('_');
      if (us <= 0) return `not of the form <PROCESSOR>_<ATTR>`;
      const proc = name.slice(0, us).toLowerCase();
      const factory = registry.processors.get(proc);
      if (!factory) return `no processor '${proc}' (known: ${registry.processors.names().join(', ')})`;
      const attrs = Object.keys(envOverrides(proc, { [name]: 'x' }));
      if (attrs.length !== 1) return `config.ts does not map it to an attribute of '${proc}'`;
      if (!(attrs[0]! in factory.config.properties)) return `'${proc}' has no attribute '${attrs[0]}'`;
      if (!pipeline.processors.has(proc)) return `the pipeline (${effective(processor!, 'CONFIG_PATH')}) has no '${proc}'`;
      return null;
    };
    const getenvs = collectorGetenvs(p);
    for (const b of built.values()) {
      if (!b.entrypointRel) {
        const names = Object.keys(serviceEnv(b.service, NO_VARS));
        if (names.length) out.push(`${b.name}: sets ${names.join(', ')}, but its image has no entrypoint script to read them`);
        continue;
      }
      const reads = scriptReads(b.entrypoint);
      for (const name of Object.keys(serviceEnv(b.service, NO_VARS))) {
        if (reads.has(name)) continue;
        if (b.name === PROCESSOR) {
          const why = override(name);
          if (why) out.push(`${b.name}: ${name} is not read by ${b.entrypointRel}, and as an sfprocessor <PROCESSOR>_<ATTR> override: ${why}`);
        } else if (b.name === COLLECTOR) {
          if (getenvs === null) out.push(`${b.name}: ${name} is not read by ${b.entrypointRel}, and native/src is not there to show that sfcollector reads it`);
          else if (!getenvs.has(name)) out.push(`${b.name}: ${name} is read neither by ${b.entrypointRel} nor by sfcollector (no getenv("${name}") in native/src)`);
        } else out.push(`${b.name}: ${name} is not read by ${b.entrypointRel}`);
      }
      // what the processor entrypoint exports for sfprocessor must be real overrides
      if (b.name === PROCESSOR)
        for (const name of scriptExports(b.entrypoint)) {
          const why = override(name);
          if (why) out.push(`${b.name}: ${b.entrypointRel} exports ${name}, which sfprocessor does not honour: ${why}`);
        }
    }
    // es-setup runs a mounted script: the variables compose gives it are the ones it reads
    const compose = loadCompose(p);
    for (const [name, s] of Object.entries(compose.services)) {
      if (s.build || !s.entrypoint) continue;
      const ep = Array.isArray(s.entrypoint) ? s.entrypoint : s.entrypoint.split(/\s+/);
      const script = ep.find((w) => w.startsWith('/') && mounts(s).some((m) => m.kind === 'bind' && m.target === w));
      if (!script) continue;
      const src = posix.normalize(mounts(s).find((m) => m.target === script)!.source);
      const reads = scriptReads(p.read(src));
      for (const v of Object.keys(serviceEnv(s, NO_VARS))) if (!reads.has(v)) out.push(`${name}: ${v} is not read by ${src}`);
      for (const v of reads) if (/^[A-Z][A-Z0-9_]*_PASSWORD$/.test(v) && !(v in serviceEnv(s, NO_VARS))) out.push(`${name}: ${src} reads ${v}, which compose does not set`);
    }
    return out;
  } finally {
    cleanup();
  }
}

function pathProblems(p: Project): string[] {
  const { built, cleanup } = buildAll(p);
  try {
    const out: string[] = [];
    for (const b of built.values()) {
      const img = b.image;
      if (!imageHas(img, img.workdir)) out.push(`${b.name}: WORKDIR ${img.workdir} does not exist`);
      // every absolute path the entrypoint defaults to, and every one compose sets: a socket's
      // directory, else the path itself (defaults without the service's mounts: plain `docker run`)
      const sources: [string, Record<string, string>, boolean][] = [
        ['default', scriptDefaults(b.entrypoint), false],
        ['compose', containerEnv(b), true],
      ];
      for (const [what, values, mounted] of sources) {
        for (const [name, v] of Object.entries(values)) {
          if (!v.startsWith('/')) continue;
          const ip = /\.sock$/.test(v) ? posix.dirname(v) : v;
          const where = mounted ? resolveInService(p, b, ip) : { host: img.host(ip), project: undefined };
          if (!existsSync(where.host)) out.push(`${b.name}: ${what} ${name}=${v}: ${ip} does not exist in the image${where.project ? ` (mounted from ${where.project})` : ''}`);
        }
      }
      // bind mounts over image paths land where the image has the same kind of thing
      for (const m of mounts(b.service)) {
        if (m.kind !== 'bind' || !m.source.startsWith('.')) continue;
        const src = posix.normalize(m.source);
        if (p.isDir(src) && existsSync(img.host(m.target)) && !statSync(img.host(m.target)).isDirectory()) out.push(`${b.name}: directory ${m.source} mounted over the file ${m.target}`);
        if (!existsSync(img.host(m.target)) && !m.target.startsWith('/sys/')) out.push(`${b.name}: ${m.source} is mounted at ${m.target}, which the image does not have (a typo?)`);
      }
    }
    const proc = built.get(PROCESSOR);
    if (proc) {
      // plugin modules in the plugins directory can import 'sfprocessor/plugin'
      const plugdir = effective(proc, 'PLUGIN_DIR');
      if (plugdir) {
        try {
          createRequire(join(proc.image.host(plugdir), 'plugin.js')).resolve('sfprocessor/plugin');
        } catch (e) {
          out.push(`${PROCESSOR}: from ${plugdir}, 'sfprocessor/plugin' does not resolve: ${(e as Error).message.split('\n')[0]}`);
        }
      }
    }
    return out;
  } finally {
    cleanup();
  }
}

/** rsyslog inputs from docker/rsyslog/rsyslog.conf: proto → port. */
function rsyslogInputs(conf: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of conf.matchAll(/input\(\s*type="im(tcp|udp)"\s+port="(\d+)"/g)) out.set(m[1]!, m[2]!);
  return out;
}

function wiringProblems(p: Project): string[] {
  const { built, cleanup } = buildAll(p);
  try {
    const out: string[] = [];
    const compose = loadCompose(p);
    const proc = built.get(PROCESSOR);
    const coll = built.get(COLLECTOR);
    if (!proc || !coll) return ['processor or collector not built'];
    // the socket: the collector's -u path is the processor's input, through one named volume
    const input = effective(proc, 'INPUT_PATH') ?? '';
    const sock = effective(coll, 'SOCK_FILE') ?? '';
    const driver = effective(proc, 'DRIVER');
    if (driver !== 'socket') out.push(`${PROCESSOR}: DRIVER is '${driver}', not socket`);
    const volumeAt = (b: Built, path: string) => {
      const m = mounts(b.service).filter((x) => x.kind === 'volume' && (path === x.target || path.startsWith(`${posix.join(x.target, '')}`)));
      return m.length ? { volume: m[0]!.source, inside: posix.relative(m[0]!.target, path), readOnly: m[0]!.readOnly } : null;
    };
    const a = volumeAt(proc, input);
    const b = volumeAt(coll, sock);
    if (!a) out.push(`${PROCESSOR}: input ${input} is not on a named volume`);
    if (!b) out.push(`${COLLECTOR}: socket ${sock} is not on a named volume`);
    if (a && b && (a.volume !== b.volume || a.inside !== b.inside)) out.push(`the collector writes ${b.volume}:${b.inside} (${sock}) but the processor listens on ${a.volume}:${a.inside} (${input})`);
    if (a?.readOnly) out.push(`${PROCESSOR}: the socket volume is mounted read-only`);
    if (!healthTest(proc.service).includes(input)) out.push(`${PROCESSOR}: the healthcheck does not test the input socket ${input}: '${healthTest(proc.service)}'`);
    const collDeps = coll.service.depends_on;
    if (Array.isArray(collDeps) || collDeps?.[PROCESSOR]?.condition !== 'service_healthy') out.push(`${COLLECTOR}: must wait for ${PROCESSOR} to be healthy (listening)`);
    // the socket directory: owned by the user the processor runs as, in both images (whichever
    // container first mounts the empty volume gives it its ownership)
    const uid = proc.image.user ? (proc.image.uids.get(proc.image.user) ?? Number(proc.image.user)) : 0;
    const sockDir = posix.dirname(input);
    for (const x of [proc, coll]) {
      const owner = x.image.owners.get(sockDir);
      const ownerUid = owner === undefined ? 0 : (x.image.uids.get(owner) ?? Number(owner));
      if (ownerUid !== uid) out.push(`${x.name}: ${sockDir} is owned by ${owner ?? 'root'}, not by the processor's user (uid ${uid})`);
    }
    // syslog: EXPORTER_HOST is the rsyslog service, EXPORTER_PORT one of its inputs for the protocol used
    const env = containerEnv(proc);
    const host = env.EXPORTER_SYSLOG_HOST ?? env.EXPORTER_HOST;
    const port = env.EXPORTER_SYSLOG_PORT ?? env.EXPORTER_PORT;
    const cfg = resolveInService(p, proc, effective(proc, 'CONFIG_PATH') ?? '');
    const exporter = existsSync(cfg.host) ? (JSON.parse(readFileSync(cfg.host, 'utf8')) as { pipeline: Record<string, string>[] }).pipeline.find((e) => e.processor === 'exporter') : undefined;
    const proto = (env.EXPORTER_SYSLOG_PROTO ?? exporter?.['syslog.proto'] ?? 'tcp').toLowerCase();
    if (host !== RSYSLOG) out.push(`${PROCESSOR}: syslog host '${host}' is not the ${RSYSLOG} service`);
    const rs = compose.services[RSYSLOG];
    const rsBuild = rs && buildOf(rs);
    if (rsBuild) {
      const conf = posix.join(buildPaths(rsBuild).context, 'rsyslog.conf');
      const inputs = rsyslogInputs(p.read(conf));
      const listen = inputs.get(proto === 'udp' ? 'udp' : 'tcp');
      if (listen !== port) out.push(`${PROCESSOR}: sends syslog over ${proto} to port ${port}; ${conf} listens for ${proto} on ${listen ?? 'no port'}`);
      if (!healthTest(rs).includes(`/${listen}`)) out.push(`${RSYSLOG}: the healthcheck does not probe port ${listen}: '${healthTest(rs)}'`);
    }
    if (dependsOn(proc.service).includes(RSYSLOG) === false) out.push(`${PROCESSOR}: does not depend on ${RSYSLOG}`);
    // Elasticsearch: the processor, es-setup and Kibana use the elasticsearch service's port
    const es = compose.services.elasticsearch;
    const esPort = es?.ports?.map((x) => x.split(':').at(-1)).at(0) ?? '9200';
    const esUrl = `http://elasticsearch:${esPort}`;
    if (env.EXPORTER_ES_ADDRESSES !== esUrl) out.push(`${PROCESSOR}: EXPORTER_ES_ADDRESSES is '${env.EXPORTER_ES_ADDRESSES}', not ${esUrl}`);
    const kibana = compose.services.kibana ? serviceEnv(compose.services.kibana, NO_VARS) : {};
    if (kibana.ELASTICSEARCH_HOSTS !== esUrl) out.push(`kibana: ELASTICSEARCH_HOSTS is '${kibana.ELASTICSEARCH_HOSTS}', not ${esUrl}`);
    const setup = compose.services['es-setup'];
    if (setup) {
      const script = mounts(setup).find((m) => m.target.endsWith('.sh'));
      if (!script || !p.read(posix.normalize(script.source)).includes(esUrl)) out.push(`es-setup: its script does not use ${esUrl}`);
      for (const m of mounts(setup))
        if (m.kind === 'bind' && !m.target.endsWith('.sh') && !p.read(posix.normalize(script!.source)).includes(m.target)) out.push(`es-setup: ${m.target} is mounted but its script does not use it`);
    }
    // the ES password the processor sends is the one Elasticsearch gets
    const esEnv = es ? (es.environment as Record<string, string>) : {};
    if (es && String((proc.service.environment as Record<string, string>).EXPORTER_ES_PASSWORD) !== String(esEnv.ELASTIC_PASSWORD))
      out.push(`${PROCESSOR}: EXPORTER_ES_PASSWORD is not elasticsearch's ELASTIC_PASSWORD`);
    return out;
  } finally {
    cleanup();
  }
}

function docsProblems(p: Project): string[] {
  const out: string[] = [];
  const doc = p.read('docs/docker.md');
  const rows = new Set([...doc.matchAll(/^\|\s*`([A-Z][A-Z0-9_]*)`/gm)].map((m) => m[1]!));
  for (const rel of ['docker/sf-processor/entrypoint.sh', 'docker/sf-collector/entrypoint.sh']) {
    for (const v of Object.keys(scriptDefaults(p.read(rel)))) if (!rows.has(v)) out.push(`docs/docker.md has no table row for ${v} (read by ${rel})`);
  }
  for (const v of envExample(p).keys()) if (!doc.includes(v)) out.push(`docs/docker.md does not mention ${v} (.env.example)`);
  if (/```yaml\n/.test(doc)) out.push('docs/docker.md: ```yaml blocks are taken for policy examples by docs.test.ts; use ```yml or ```text');
  return out;
}

// ---------------------------------------------------------------------------------------------
// Running the entrypoints

function shim(dir: string): string {
  const f = join(dir, 'shim.cjs');
  writeFileSync(f, "#!/usr/bin/env node\nrequire('fs').writeFileSync(process.env.SHIM_OUT, JSON.stringify({ argv: process.argv.slice(2), env: process.env }));\n");
  chmodSync(f, 0o755);
  return f;
}

interface ShimRun {
  status: number | null;
  stderr: string;
  argv: string[];
  env: Record<string, string>;
}

function runWithShim(script: string, program: 'SFPROCESSOR' | 'SFCOLLECTOR', env: Record<string, string>, args: string[] = []): ShimRun {
  const dir = mkdtempSync(join(tmpdir(), 'sfp-shim-'));
  try {
    const out = join(dir, 'out.json');
    const r = spawnSync('sh', [script, ...args], { env: { PATH: process.env.PATH!, [program]: shim(dir), SHIM_OUT: out, ...env }, encoding: 'utf8' });
    const got = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as { argv: string[]; env: Record<string, string> }) : { argv: [], env: {} };
    return { status: r.status, stderr: r.stderr, ...got };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Image paths in an environment rebased into the materialized tree (the roots the image has). */
function rebase(img: Image, env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) out[k] = v.startsWith('/') && existsSync(img.host(v.split('/')[1]!)) ? img.host(v) : v;
  return out;
}

/** The processor's environment as compose gives it, paths rebased, bind mounts applied to the tree. */
function processorRun(p: Project, b: Built): { env: Record<string, string>; cwd: string } {
  for (const m of mounts(b.service)) {
    if (m.kind !== 'bind') continue;
    const target = b.image.host(m.target);
    rmSync(target, { recursive: true, force: true });
    mkdirSync(dirname(target), { recursive: true });
    symlinkSync(join(p.root, posix.normalize(m.source)), target);
  }
  const env = rebase(b.image, { ...scriptDefaults(b.entrypoint), ...containerEnv(b) });
  env.SFPROCESSOR = b.image.host(scriptDefaults(b.entrypoint).SFPROCESSOR ?? '/usr/local/sysflow/bin/sfprocessor');
  return { env, cwd: b.image.host(b.image.workdir) };
}

async function freePort(kind: 'tcp' | 'udp'): Promise<number> {
  if (kind === 'tcp') {
    const srv = createServer();
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((res) => srv.close(() => res()));
    return port;
  }
  const s = createSocket('udp4');
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', res));
  const port = s.address().port;
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

function findRsyslogd(): string | null {
  for (const d of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin']) if (d && existsSync(join(d, 'rsyslogd'))) return join(d, 'rsyslogd');
  return null;
}

/** rsyslogd running docker/rsyslog/rsyslog.conf, its ports and files moved into `dir`. */
async function startRsyslog(rsyslogd: string, dir: string): Promise<{ tcp: number; lines(): string[]; stdoutLines(): string[]; stop(): Promise<void> }> {
  const tcp = await freePort('tcp');
  const udp = await freePort('udp');
  const conf = readFileSync(join(ROOT, 'docker/rsyslog/rsyslog.conf'), 'utf8');
  const edits: [RegExp, string][] = [
    [/(type="imtcp" port=)"514"/, `$1"${tcp}"`],
    [/(type="imudp" port=)"514"/, `$1"${udp}"`],
    [/"\/var\/log\/sysflow\/alerts\.log"/, `"${join(dir, 'alerts.log')}"`],
    [/"\/dev\/stdout"/, `"${join(dir, 'stdout.log')}"`],
    [/workDirectory="[^"]*"/, `workDirectory="${dir}"`],
  ];
  let local = conf;
  for (const [re, to] of edits) {
    assert.match(local, re, 'rsyslog.conf has the shape this test edits');
    local = local.replace(re, to);
  }
  writeFileSync(join(dir, 'rsyslog.conf'), local);
  const child = spawn(rsyslogd, ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  child.stderr!.on('data', (d: Buffer) => (errors += d.toString()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((res) => child.once('exit', res));
    }
  };
  const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean) : []);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const s = connect(tcp, '127.0.0.1', () => {
        s.end();
        res(true);
      });
      s.on('error', () => res(false));
    });
    if (ok) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      assert.fail(`rsyslogd did not listen on ${tcp}: ${errors}`);
    }
    await sleep(100);
  }
  return { tcp, lines: () => read('alerts.log'), stdoutLines: () => read('stdout.log'), stop };
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

async function waitFor<T>(ms: number, get: () => T, done: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = get();
    if (done(v) || Date.now() > deadline) return v;
    await sleep(100);
  }
}

/**
 * Named volumes: one temp directory per volume, linked at each service's mount target in its image
 * tree (so that two images see the same files, as two containers see one volume).
 */
function shareVolumes(services: Built[], into: string): void {
  for (const b of services) {
    for (const m of mounts(b.service)) {
      if (m.kind !== 'volume') continue;
      const vol = join(into, m.source);
      mkdirSync(vol, { recursive: true });
      rmSync(b.image.host(m.target), { recursive: true, force: true });
      mkdirSync(dirname(b.image.host(m.target)), { recursive: true });
      symlinkSync(vol, b.image.host(m.target));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Tests

test('compose: services, profiles, volumes, bind mounts, depends_on, interpolation (.env.example documents every variable)', () => {
  assert.deepEqual(composeProblems(PROJECT), []);
});

test('Dockerfiles: every COPY source is in its build context and not excluded by .dockerignore; build stages and inputs line up', () => {
  assert.deepEqual(buildProblems(PROJECT), []);
});

test('environment: each variable compose sets is read by the entrypoint, by sfcollector, or is a real <PROCESSOR>_<ATTR> override of the pipeline run', () => {
  assert.deepEqual(envProblems(PROJECT), []);
});

test('image paths: WORKDIR, ENTRYPOINT, every path the entrypoints default to and compose sets exist in the materialized images', () => {
  assert.deepEqual(pathProblems(PROJECT), []);
});

test('wiring: one socket through one volume, socket directory ownership, syslog host/port = the rsyslog service and input, Elasticsearch URLs and password', () => {
  assert.deepEqual(wiringProblems(PROJECT), []);
});

test('docs/docker.md: a row for every entrypoint variable, every .env.example variable mentioned', () => {
  assert.deepEqual(docsProblems(PROJECT), []);
});

test('.dockerignore matching follows Docker: last match wins, parents count, ** spans directories', () => {
  const ig = new DockerIgnore('*\n!core\n!native\nnative/build\nnative/**/build\n# comment\n**/*.o\n');
  assert.equal(ig.excludedBy('README.md'), '*');
  assert.equal(ig.excludedBy('core'), null);
  assert.equal(ig.excludedBy('core/cli/sfprocessor.ts'), null);
  assert.equal(ig.excludedBy('native/src/main.c'), null);
  assert.equal(ig.excludedBy('native/build/sfcollector'), 'native/**/build');
  assert.equal(ig.excludedBy('native/unixpacket/build/Release/unixpacket.node'), 'native/**/build');
  assert.equal(ig.excludedBy('native/src/main.o'), '**/*.o');
  assert.equal(ig.excludedBy('node_modules/x/index.js'), '*');
  // the repository's own file: what the images need is in, the rest out
  const repo = DockerIgnore.of(PROJECT, '.');
  for (const f of ['package.json', 'package-lock.json', 'core/cli/sfprocessor.ts', 'native/unixpacket/binding.gyp', 'docker/sf-processor/entrypoint.sh']) assert.equal(repo.excludedBy(f), null, f);
  for (const f of ['node_modules/ajv/package.json', 'dist/core/cli/sfprocessor.js', '.git/HEAD', '.env', 'test/e2e/compose.test.ts', 'native/unixpacket/build/Release/unixpacket.node'])
    assert.notEqual(repo.excludedBy(f), null, f);
});

test('shell scripts: syntax (sh -n for #!/bin/sh, bash -n for #!/bin/bash), executable in the repository', () => {
  const scripts: string[] = [];
  const walk = (rel: string) => {
    for (const n of readdirSync(join(ROOT, rel))) {
      const r = posix.join(rel, n);
      if (statSync(join(ROOT, r)).isDirectory()) walk(r);
      else if (n.endsWith('.sh')) scripts.push(r);
    }
  };
  walk('docker');
  assert.ok(scripts.length >= 3, `found ${scripts.join(', ')}`);
  for (const s of scripts) {
    const first = readFileSync(join(ROOT, s), 'utf8').split('\n')[0]!;
    const shell = first === '#!/bin/sh' ? 'sh' : first === '#!/bin/bash' ? 'bash' : null;
    assert.ok(shell, `${s}: shebang ${first}`);
    const r = spawnSync(shell!, ['-n', join(ROOT, s)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${shell} -n ${s}: ${r.stderr}`);
    assert.ok((statSync(join(ROOT, s)).mode & 0o111) !== 0, `${s} is not executable`);
  }
  // a syntax error is caught
  const dir = mkdtempSync(join(tmpdir(), 'sfp-sh-'));
  try {
    writeFileSync(join(dir, 'bad.sh'), readFileSync(join(ROOT, 'docker/sf-processor/entrypoint.sh'), 'utf8').replace(/\nesac\n/, '\n'));
    assert.notEqual(spawnSync('sh', ['-n', join(dir, 'bad.sh')]).status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rsyslog.conf: rsyslogd -N1 accepts it', (t) => {
  const rsyslogd = findRsyslogd();
  if (!rsyslogd) return t.skip('rsyslogd is not installed (.ci/run installs it)');
  const r = spawnSync(rsyslogd, ['-N1', '-f', join(ROOT, 'docker/rsyslog/rsyslog.conf')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr + r.stdout);
});

test('processor entrypoint: upstream variables become sfprocessor flags, legacy EXPORTER_HOST/PORT/SOURCE the syslog attributes', () => {
  const script = join(ROOT, 'docker/sf-processor/entrypoint.sh');
  // image defaults
  let r = runWithShim(script, 'SFPROCESSOR', {});
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.argv, [
    '-driver',
    'socket',
    '-config',
    '/usr/local/sysflow/conf/pipeline.json',
    '-plugdir',
    '/usr/local/sysflow/plugins',
    '-driverdir',
    '/usr/local/sysflow/drivers',
    '-log',
    'info',
    '/sock/sysflow.sock',
  ]);
  // the compose environment; container arguments go before the input path
  const compose = loadCompose(PROJECT);
  const env = serviceEnv(compose.services[PROCESSOR]!, NO_VARS);
  r = runWithShim(script, 'SFPROCESSOR', env, ['-test']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.argv, [
    '-driver',
    env.DRIVER,
    '-config',
    env.CONFIG_PATH,
    '-plugdir',
    '/usr/local/sysflow/plugins',
    '-driverdir',
    '/usr/local/sysflow/drivers',
    '-log',
    env.LOG_LEVEL,
    '-test',
    env.INPUT_PATH,
  ]);
  assert.equal(r.env.EXPORTER_SYSLOG_HOST, env.EXPORTER_HOST);
  assert.equal(r.env.EXPORTER_SYSLOG_PORT, env.EXPORTER_PORT);
  assert.equal(r.env.EXPORTER_SYSLOG_SOURCE, env.EXPORTER_SOURCE);
  for (const gone of ['EXPORTER_HOST', 'EXPORTER_PORT', 'EXPORTER_SOURCE']) assert.equal(r.env[gone], undefined, `${gone} is passed on`);
  for (const k of ['POLICYENGINE_MODE', 'EXPORTER_EXPORT', 'EXPORTER_ES_PASSWORD']) assert.equal(r.env[k], env[k], `${k} passes through`);
  // explicit attributes win over the legacy names; an empty variable drops its flag
  r = runWithShim(script, 'SFPROCESSOR', { EXPORTER_HOST: 'a', EXPORTER_SYSLOG_HOST: 'b', DRIVER: '', PLUGIN_DIR: '', DRIVER_DIR: '', LOG_LEVEL: '', CONFIG_PATH: 'x.json' });
  assert.equal(r.env.EXPORTER_SYSLOG_HOST, 'b');
  assert.deepEqual(r.argv, ['-config', 'x.json', '/sock/sysflow.sock']);
  // a value with spaces stays one argument; a command is run as such
  r = runWithShim(script, 'SFPROCESSOR', { CONFIG_PATH: '/a b/c.json', INPUT_PATH: '' });
  assert.deepEqual(r.argv.slice(2, 4), ['-config', '/a b/c.json']);
  assert.equal(r.argv.at(-1), 'info');
  const echo = spawnSync('sh', [script, 'echo', 'hello'], { encoding: 'utf8' });
  assert.equal(echo.stdout, 'hello\n');
});

test('collector entrypoint: upstream variables become sfcollector flags', () => {
  const script = join(ROOT, 'docker/sf-collector/entrypoint.sh');
  let r = runWithShim(script, 'SFCOLLECTOR', {});
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.argv, ['-u', '/sock/sysflow.sock']);
  const compose = loadCompose(PROJECT);
  const env = serviceEnv(compose.services[COLLECTOR]!, NO_VARS);
  r = runWithShim(script, 'SFCOLLECTOR', env, ['-v']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.argv, ['-u', env.SOCK_FILE, '-G', env.INTERVAL, '-e', env.EXPORTER_ID, '-v']);
  assert.equal(r.env.NODE_IP, env.NODE_IP, 'NODE_IP reaches sfcollector');
  r = runWithShim(script, 'SFCOLLECTOR', { OUTPUT: '/data/', SOCK_FILE: '', FILTER: 'container.name!=x' }, ['--', 'sleep', '1']);
  assert.deepEqual(r.argv, ['-w', '/data/', '--', 'sleep', '1']);
  assert.match(r.stderr, /FILTER is not supported/);
  r = runWithShim(script, 'SFCOLLECTOR', { SOCK_FILE: '' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /nowhere to write/);
});

test('collector: the flags the entrypoint passes are options of sfcollector', (t) => {
  const main = ['native/src/main.c', 'native/src/cli.c'].find((f) => PROJECT.exists(f));
  if (!main) return t.skip('native/src/main.c is not there yet');
  const src = PROJECT.read(main);
  const flags = new Set([...readFileSync(join(ROOT, 'docker/sf-collector/entrypoint.sh'), 'utf8').matchAll(/set -- (-\w)\b/g)].map((m) => m[1]!));
  assert.ok(flags.size >= 4);
  const getopt = /getopt(?:_long)?\([^,]+,[^,]+,\s*"([^"]+)"/.exec(src);
  for (const f of flags) {
    const known = getopt ? getopt[1]!.includes(`${f[1]}:`) : new RegExp(`"${f}"`).test(src);
    assert.ok(known, `${main} has no option ${f} taking a value`);
  }
});

test('processor entrypoint on the materialized image with the compose environment: sfprocessor -test passes', (t) => {
  const { built, problems, cleanup } = buildAll(PROJECT);
  try {
    assert.deepEqual(
      problems.filter((m) => m.startsWith(`${PROCESSOR}:`)),
      [],
    );
    const b = built.get(PROCESSOR)!;
    const { env, cwd } = processorRun(PROJECT, b);
    const r = spawnSync('sh', [b.image.host(b.image.entrypoint[0]!), '-test'], { cwd, env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8' });
    assert.equal(r.status, 0, `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
    t.diagnostic(r.stdout.trim().split('\n').at(-1)!);
    assert.match(r.stdout, new RegExp(`valid — driver ${effective(b, 'DRIVER')};`));
    assert.match(r.stdout, /#1 policyengine .*#2 exporter/);
  } finally {
    cleanup();
  }
});

test('end to end: the processor image (compose environment, file driver) sends alerts to rsyslogd running docker/rsyslog/rsyslog.conf', async (t) => {
  const rsyslogd = findRsyslogd();
  if (!rsyslogd) return t.skip('rsyslogd is not installed (.ci/run installs it)');
  const { built, problems, cleanup } = buildAll(PROJECT);
  const dir = mkdtempSync(join(tmpdir(), 'sfp-rsyslog-'));
  let rs: Awaited<ReturnType<typeof startRsyslog>> | undefined;
  try {
    assert.deepEqual(
      problems.filter((m) => m.startsWith(`${PROCESSOR}:`)),
      [],
    );
    rs = await startRsyslog(rsyslogd, dir);
    const b = built.get(PROCESSOR)!;
    const { env, cwd } = processorRun(PROJECT, b);
    Object.assign(env, { DRIVER: 'file', INPUT_PATH: join(FIXTURES, 'traces/sf-processor/shellshock.sf'), EXPORTER_HOST: '127.0.0.1', EXPORTER_PORT: String(rs.tcp), LOG_LEVEL: 'warn' });
    const r = spawnSync('sh', [b.image.host(b.image.entrypoint[0]!)], { cwd, env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `exit ${r.status}\n${r.stderr}`);
    // shellshock.sf raises 2 alerts with the shipped runtimeintegrity policies (npm start shows them)
    const lines = await waitFor(
      15_000,
      () => rs!.lines(),
      (l) => l.length >= 2,
    );
    assert.equal(lines.length, 2, `alerts.log: ${lines.join('\n')}`);
    const source = serviceEnv(b.service, NO_VARS).EXPORTER_SOURCE;
    for (const line of lines) {
      const m = /^(\S+) (\S+) (\S+) (\S+) (.*)$/.exec(line);
      assert.ok(m, line);
      assert.equal(m[2], source, 'HOSTNAME is EXPORTER_SOURCE');
      assert.equal(m[4], 'sysflow', 'MSGID is the syslog tag');
      const rec = JSON.parse(m[5]!) as { policies?: unknown[] };
      assert.ok(Array.isArray(rec.policies) && rec.policies.length > 0, 'an alert names the policies it matched');
    }
    assert.deepEqual(rs.stdoutLines(), lines, 'the same lines go to stdout');
  } finally {
    await rs?.stop();
    cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The locally built collector, when there is one. */
const SFCOLLECTOR_BUILT = join(ROOT, 'native/build/sfcollector');

test('collector image: the built sfcollector needs only what the run stage installs (ldd: libelf1, zlib1g, libc)', (t) => {
  if (!existsSync(SFCOLLECTOR_BUILT)) return t.skip('native/build/sfcollector is not built (make -C native)');
  const r = spawnSync('ldd', [SFCOLLECTOR_BUILT], { encoding: 'utf8' });
  if (r.status !== 0) return t.skip(`ldd: ${r.stderr || r.error?.message}`);
  const libs = [...r.stdout.matchAll(/^\s*(\S+)/gm)].map((m) => m[1]!);
  const fromPackage: Record<string, string> = { 'libelf.so.1': 'libelf1', 'libz.so.1': 'zlib1g' };
  const base = /^(linux-vdso\.so\.1|linux-gate\.so\.1|libc\.so\.6|libm\.so\.6|\/lib.*\/ld-linux.*\.so\.\d)$/;
  const installed = parseDockerfile(PROJECT.read('native/Dockerfile'))
    .at(-1)!
    .instrs.filter((i) => i.op === 'RUN')
    .flatMap((i) => runCommands(i.args))
    .filter((c) => c[0] === 'apt-get' && c[1] === 'install')
    .flatMap((c) => c.slice(2).filter((w) => !w.startsWith('-')));
  for (const lib of libs) {
    if (base.test(lib)) continue;
    assert.ok(fromPackage[lib], `sfcollector links ${lib}, which the run stage does not provide (libbpf must be linked statically)`);
    assert.ok(installed.includes(fromPackage[lib]!), `${lib} needs ${fromPackage[lib]}, not installed by native/Dockerfile's run stage`);
  }
});

test('collector entrypoint on the materialized image with the compose environment: the real sfcollector accepts the flags (-v)', (t) => {
  if (!existsSync(SFCOLLECTOR_BUILT)) return t.skip('native/build/sfcollector is not built (make -C native)');
  const { built, cleanup } = buildAll(PROJECT);
  try {
    const b = built.get(COLLECTOR)!;
    const env = rebase(b.image, { ...scriptDefaults(b.entrypoint), ...containerEnv(b) });
    const r = spawnSync('sh', [b.image.host(b.image.entrypoint[0]!), '-v'], { env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^sfcollector .*schema version 5/);
    // a bad value is refused by sfcollector, so the flags really reach it
    const bad = spawnSync('sh', [b.image.host(b.image.entrypoint[0]!), '-v'], { env: { PATH: process.env.PATH!, ...env, INTERVAL: 'soon' }, encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /-G/);
  } finally {
    cleanup();
  }
});

test('the whole stack without Docker: collector entrypoint -> shared socket volume -> processor entrypoint -> rsyslogd, on the materialized images (root, eBPF)', async (t) => {
  const rsyslogd = findRsyslogd();
  if (!rsyslogd) return t.skip('rsyslogd is not installed (.ci/run installs it)');
  if (!existsSync(SFCOLLECTOR_BUILT)) return t.skip('native/build/sfcollector is not built (make -C native)');
  if (process.getuid?.() !== 0) return t.skip('eBPF needs root');
  const probe = spawnSync(SFCOLLECTOR_BUILT, ['--probe'], { encoding: 'utf8' });
  if (probe.status !== 0) return t.skip(`sfcollector --probe: ${probe.stderr.trim()}`);
  const { built, cleanup } = buildAll(PROJECT);
  const dir = mkdtempSync(join(tmpdir(), 'sfp-stack-'));
  let rs: Awaited<ReturnType<typeof startRsyslog>> | undefined;
  let proc: ReturnType<typeof spawn> | undefined;
  try {
    rs = await startRsyslog(rsyslogd, dir);
    const p = built.get(PROCESSOR)!;
    const c = built.get(COLLECTOR)!;
    shareVolumes([p, c], join(dir, 'volumes'));
    const { env, cwd } = processorRun(PROJECT, p);
    Object.assign(env, { EXPORTER_HOST: '127.0.0.1', EXPORTER_PORT: String(rs.tcp), LOG_LEVEL: 'warn' });
    let perr = '';
    proc = spawn('sh', [p.image.host(p.image.entrypoint[0]!)], { cwd, env: { PATH: process.env.PATH!, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', (d: Buffer) => (perr += d.toString()));
    // the processor's healthcheck: its socket exists
    const sock = env.INPUT_PATH!;
    const isSocket = () => existsSync(sock) && statSync(sock).isSocket();
    assert.ok(await waitFor(15_000, isSocket, (v) => v), `the processor did not listen on ${sock}: ${perr}`);
    // the collector, as compose starts it, tracing one command instead of the host
    const cenv = rebase(c.image, { ...scriptDefaults(c.entrypoint), ...containerEnv(c) });
    const workload = "cat /etc/shadow >/dev/null; grep -r 'PRIVATE KEY' /dev/null; true";
    const cr = spawnSync('sh', [c.image.host(c.image.entrypoint[0]!), '--', 'sh', '-c', workload], { env: { PATH: process.env.PATH!, ...cenv }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(cr.status, 0, `collector: exit ${cr.status}\n${cr.stderr}`);
    assert.match(cr.stderr, /socket: [1-9]\d* sent, 0 dropped/, 'the collector streamed to the socket');
    const want = ['Shadow file read by untrusted program', 'Search for private keys or passwords'];
    const lines = await waitFor(
      20_000,
      () => rs!.lines(),
      (l) => want.every((w) => l.some((x) => x.includes(w))),
    );
    for (const w of want)
      assert.ok(
        lines.some((x) => x.includes(w)),
        `no '${w}' alert in alerts.log:\n${lines.join('\n')}\nprocessor: ${perr}`,
      );
    const exporter = serviceEnv(c.service, NO_VARS).EXPORTER_ID;
    for (const line of lines) {
      const rec = JSON.parse(line.split(' ').slice(4).join(' ')) as { node?: { id?: string } };
      assert.equal(rec.node?.id, exporter, 'node.id is the collector EXPORTER_ID');
    }
    proc.kill('SIGTERM');
    const code = await new Promise((res) => proc!.once('exit', res));
    assert.equal(code, 0, `processor exit on SIGTERM: ${perr}`);
    assert.ok(!existsSync(sock), 'the processor removed its socket');
  } finally {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await new Promise((res) => proc!.once('exit', res));
    }
    await rs?.stop();
    cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('mutations: each check catches a deliberate mistake', () => {
  const has = (problems: string[], re: RegExp, what: string) =>
    assert.ok(
      problems.some((m) => re.test(m)),
      `${what}: expected a problem matching ${re}, got ${JSON.stringify(problems)}`,
    );
  const P = PROJECT;
  // environment
  has(envProblems(P.edit(COMPOSE_FILE, 'EXPORTER_HOST: rsyslog', 'EXPORTER_HOSTNAME: rsyslog')), /EXPORTER_HOSTNAME is not read/, 'renamed variable');
  has(envProblems(P.edit(COMPOSE_FILE, 'POLICYENGINE_MODE:', 'POLICYENGINE_MODUS:')), /'policyengine' has no attribute 'modus'/, 'unknown attribute');
  has(envProblems(P.edit(COMPOSE_FILE, 'EXPORTER_FORMAT:', 'EXPORTR_FORMAT:')), /no processor 'exportr'/, 'unknown processor');
  has(envProblems(P.edit('docker/sf-processor/entrypoint.sh', 'export EXPORTER_SYSLOG_PORT=', 'export EXPORTER_SYSLOGPORT=')), /exports EXPORTER_SYSLOGPORT/, 'entrypoint exports a wrong name');
  has(envProblems(P.edit(COMPOSE_FILE, 'INTERVAL: ${INTERVAL:-300}', 'INTERVAL: ${INTERVAL:-300}\n      ROTATE: "1"')), /ROTATE is read neither|ROTATE is not read/, 'collector variable nobody reads');
  has(envProblems(P.edit('docker/elastic/setup.sh', /KIBANA_PASSWORD/g, 'KIBANA_PASS')), /KIBANA_PASSWORD is not read/, 'es-setup variable');
  // paths
  has(pathProblems(P.edit('docker/sf-processor/entrypoint.sh', 'conf/pipeline.json}', 'conf/pipelines.json}')), /pipelines\.json does not exist/, 'default config path');
  has(pathProblems(P.edit('Dockerfile', ' /usr/local/sysflow/drivers', '')), /DRIVER_DIR=\/usr\/local\/sysflow\/drivers/, 'missing plugin directory');
  has(pathProblems(P.edit('Dockerfile', ' \\\n && ln -s ../app /usr/local/sysflow/node_modules/sfprocessor', '')), /'sfprocessor\/plugin' does not resolve/, 'plugin import');
  has(pathProblems(P.edit(COMPOSE_FILE, './policies:/usr/local/sysflow/policies:ro', './policies:/usr/local/sysflow/policy:ro')), /mounted at \/usr\/local\/sysflow\/policy/, 'mount target typo');
  has(buildProblems(P.edit('Dockerfile', '&& ln -s ../app/dist/core/cli/sysprint.js', '&& ln -s ../app/dist/core/cli/sysprnt.js')), /dangling link/, 'dangling link');
  has(buildProblems(P.edit('Dockerfile', 'RUN chmod 0755', 'RUN touch /x && chmod 0755')), /'touch \/x' is not modelled/, 'unmodelled RUN');
  // build context
  has(buildProblems(P.edit('.dockerignore', '!policies\n', '')), /COPY policies\/: excluded .* '\*'/, 'policies excluded');
  has(buildProblems(P.edit('.dockerignore', '!native\n', '')), /native\/unixpacket is excluded|COPY native\/: excluded/, 'native excluded');
  has(
    buildProblems(P.edit('native/Dockerfile', 'docker/sf-collector/entrypoint.sh', 'docker/collector/entrypoint.sh')),
    /docker\/collector\/entrypoint\.sh: not in the build context/,
    'missing COPY source',
  );
  has(buildProblems(P.edit('Dockerfile', 'dist node_modules resources /out/', 'dist node_modules /out/')), /\/out\/ holds/, 'app assembly changed');
  has(buildProblems(P.edit(COMPOSE_FILE, 'dockerfile: native/Dockerfile', 'dockerfile: native/Dockerfile.collector')), /Dockerfile\.collector does not exist/, 'dockerfile path');
  // wiring
  has(
    wiringProblems(P.edit(COMPOSE_FILE, 'INPUT_PATH: /sock/sysflow.sock', 'INPUT_PATH: /sock/other.sock')),
    /collector writes socket-vol:sysflow\.sock .* processor listens on socket-vol:other\.sock/,
    'socket paths',
  );
  has(wiringProblems(P.edit(COMPOSE_FILE, /(no tracefs.*\n\s+volumes:\n\s+)- socket-vol:\/sock/, '$1- other-vol:/sock')), /collector writes other-vol/, 'socket volumes');
  has(wiringProblems(P.edit(COMPOSE_FILE, 'EXPORTER_PORT: "514"', 'EXPORTER_PORT: "5514"')), /to port 5514; .* listens for tcp on 514/, 'syslog port');
  has(wiringProblems(P.edit('docker/rsyslog/rsyslog.conf', 'input(type="imtcp" port="514")', 'input(type="imtcp" port="10514")')), /listens for tcp on 10514/, 'rsyslog port');
  has(wiringProblems(P.edit(COMPOSE_FILE, 'EXPORTER_HOST: rsyslog', 'EXPORTER_HOST: syslog')), /syslog host 'syslog' is not the rsyslog service/, 'syslog host');
  has(wiringProblems(P.edit('native/Dockerfile', 'install -d -o 1001 -g 1001 -m 0750 /sock', 'install -d -m 0755 /sock')), /sf-collector: \/sock is owned by root/, 'socket directory owner');
  has(wiringProblems(P.edit(COMPOSE_FILE, 'test -S /sock/sysflow.sock', 'test -d /sock')), /healthcheck does not test the input socket/, 'healthcheck');
  has(wiringProblems(P.edit('docker/elastic/setup.sh', 'es=http://elasticsearch:9200', 'es=http://es:9200')), /es-setup: its script does not use/, 'es-setup URL');
  // compose structure
  has(composeProblems(P.edit(COMPOSE_FILE, /\n {2}es-data:\n/, '\n')), /volume 'es-data' is not declared/, 'undeclared volume');
  has(composeProblems(P.edit(COMPOSE_FILE, 'EXPORTER_ES_TEMPLATE: "true"', 'EXPORTER_ES_TEMPLATE: true')), /EXPORTER_ES_TEMPLATE: true must be a string/, 'boolean env value');
  has(
    composeProblems(
      P.edit(
        COMPOSE_FILE,
        'condition: service_healthy\n    environment:\n      SOCK_FILE',
        'condition: service_healthy\n      elasticsearch:\n        condition: service_healthy\n    environment:\n      SOCK_FILE',
      ),
    ),
    /sf-collector: depends on elasticsearch, which is in profile/,
    'dependency on a profile service',
  );
  has(composeProblems(P.edit(COMPOSE_FILE, '${LOG_LEVEL:-info}', '${SF_LOG:-info}')), /SF_LOG.* not listed in \.env\.example/, 'undocumented variable');
  has(composeProblems(P.edit(COMPOSE_FILE, './resources/elasticsearch/sysflow-ecs-template.json', './resources/sysflow-ecs-template.json')), /bind mount source .* does not exist/, 'bind source');
  // docs
  has(
    docsProblems(P.edit('docker/sf-collector/entrypoint.sh', 'INTERVAL="${INTERVAL-}"', 'INTERVAL="${INTERVAL-}"\nSNAPLEN="${SNAPLEN-}"')),
    /no table row for SNAPLEN/,
    'undocumented entrypoint variable',
  );
});
