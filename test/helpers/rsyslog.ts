/**
 * A real rsyslogd for the syslog exporter tests: a private instance (own config, work directory,
 * pid file and certificates in a temp dir; never /etc/rsyslog.conf or /dev/log) listening on
 * 127.0.0.1 with plain TCP (newline and RFC 6587 octet-counted framing, auto-detected per frame),
 * UDP and TLS (gtls driver), writing every received message as one JSON object per line.
 *
 *   const rs = await startRsyslog({ tls: true, tlsClientAuth: true });
 *   try { ...send to rs.tcpPort / rs.udpPort / rs.tlsPort...; const got = await rs.waitFor(3, 5000); }
 *   finally { await rs.close(); }
 *
 * Readiness: `start()` returns only after a probe message sent over every enabled input (TCP, UDP,
 * TLS with the harness CA and client cert) has come out of rsyslog, so nothing sent afterwards is
 * lost to a listener that is not up yet. Probes (app-name `sfp-harness-probe`) go to a separate file
 * and never show up in `messages()`.
 */
import { makeCerts } from './certs.js';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants as fsConstants, existsSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface RsyslogOptions {
  /** Plain TCP listener (imtcp; newline and octet-counted framing). Default true. */
  tcp?: boolean;
  /** UDP listener (imudp). Default true. */
  udp?: boolean;
  /** TLS listener (imtcp + gtls, server cert for 127.0.0.1/localhost signed by `ca`). Default true. */
  tls?: boolean;
  /** TLS: require a client certificate signed by `ca` (AuthMode x509/certvalid) instead of anon. Default false. */
  tlsClientAuth?: boolean;
  /** rsyslog `global(maxMessageSize)`. Default "64k". */
  maxMessageSize?: string;
  /** Milliseconds `start()` may take until every listener answers. Default 20000. */
  startTimeoutMs?: number;
}

export type ReceivedProto = 'tcp' | 'udp' | 'tls';

export interface ReceivedMessage {
  facility: number;
  severity: number;
  hostname: string;
  appName: string;
  procid: string;
  msgid: string;
  msg: string;
  proto: ReceivedProto;
  /** The message as received (without octet-count prefix / trailing LF). */
  raw: string;
  /** rsyslog `protocol-version`: "1" when parsed as RFC 5424, "0" for RFC 3164 / legacy. */
  protocolVersion: string;
  /** rsyslog `timereported` as RFC 3339. */
  timestamp: string;
  /** RFC 5424 STRUCTURED-DATA as received ("-" when none). */
  structuredData: string;
}

export interface Rsyslog {
  /** Temp working dir (config, certs, spool, output). */
  readonly dir: string;
  /** Listener ports on 127.0.0.1; 0 for a disabled input. Stable across stop()/start(). */
  readonly tcpPort: number;
  readonly udpPort: number;
  readonly tlsPort: number;
  /** PEM file paths. `ca` signed the server and client certs. */
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** A second, unrelated CA, and a client cert/key signed by it. */
  readonly wrongCa: string;
  readonly wrongClientCert: string;
  readonly wrongClientKey: string;
  /** File the received messages are written to (one JSON object per line). */
  readonly outputFile: string;
  /** True while rsyslogd runs. */
  readonly running: boolean;
  /** Received messages (probes excluded), in arrival order, kept across stop()/start(). */
  messages(): ReceivedMessage[];
  /** Number of received messages (cheap: no copy). */
  count(): number;
  /** Resolves once ≥ n messages arrived, or at the timeout with whatever arrived. */
  waitFor(n: number, timeoutMs: number): Promise<ReceivedMessage[]>;
  /** SIGTERM, waits for the exit (SIGKILL after 10 s); the output file is kept. No-op when stopped. */
  stop(): Promise<void>;
  /** (Re)starts on the same ports with the same config; resolves when all listeners deliver. No-op when running. */
  start(): Promise<void>;
  /** Stops (killing if needed) and removes the dir. Idempotent; never throws. */
  close(): Promise<void>;
  /** rsyslogd's own stdout/stderr and internal messages, for assertion messages. */
  diagnostics(): string;
}

const PROBE_APP = 'sfp-harness-probe';
const MODULE_DIRS = ['/usr/lib/x86_64-linux-gnu/rsyslog', '/usr/lib/aarch64-linux-gnu/rsyslog', '/usr/lib/rsyslog', '/usr/lib64/rsyslog', '/usr/local/lib/rsyslog'];

function findExecutable(name: string, extraDirs: string[] = []): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...extraDirs];
  for (const d of dirs) {
    const p = join(d, name);
    try {
      accessSync(p, fsConstants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return null;
}

/** $SFP_RSYSLOGD (an rsyslogd binary) overrides the PATH / sbin search. */
function rsyslogdPath(): string | null {
  const override = process.env.SFP_RSYSLOGD;
  if (override) {
    try {
      accessSync(override, fsConstants.X_OK);
      return override;
    } catch {
      return null;
    }
  }
  return findExecutable('rsyslogd', ['/usr/sbin', '/sbin', '/usr/local/sbin']);
}

let availability: { tls: string | null; plain: string | null } | undefined;

/**
 * null when rsyslogd (and, unless `opts.tls === false`, its gtls driver and openssl) are usable,
 * else why not — so tests can skip loudly.
 */
export function rsyslogAvailable(opts: RsyslogOptions = {}): string | null {
  if (!availability) {
    const check = (): { tls: string | null; plain: string | null } => {
      if (process.platform !== 'linux') return { tls: `rsyslog harness needs Linux (platform ${process.platform})`, plain: `rsyslog harness needs Linux (platform ${process.platform})` };
      const bin = rsyslogdPath();
      if (!bin) {
        const r = process.env.SFP_RSYSLOGD
          ? `SFP_RSYSLOGD=${process.env.SFP_RSYSLOGD} is not an executable`
          : 'rsyslogd not found on PATH or in /usr/sbin (apt-get install rsyslog rsyslog-gnutls openssl)';
        return { tls: r, plain: r };
      }
      try {
        const v = execFileSync(bin, ['-v'], { timeout: 10_000, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
        if (!/rsyslogd\s+8\./.test(v)) {
          const r = `unsupported rsyslogd version: ${v.split('\n')[0]} (need 8.x)`;
          return { tls: r, plain: r };
        }
      } catch (e) {
        const r = `rsyslogd -v failed: ${(e as Error).message}`;
        return { tls: r, plain: r };
      }
      if (!findExecutable('openssl')) {
        const r = 'openssl not found on PATH (apt-get install openssl)';
        return { tls: r, plain: r };
      }
      let tls: string | null = null;
      const modDir = MODULE_DIRS.find((d) => existsSync(join(d, 'imtcp.so')));
      if (modDir && !existsSync(join(modDir, 'lmnsd_gtls.so'))) tls = `rsyslog gtls driver missing (${modDir}/lmnsd_gtls.so; apt-get install rsyslog-gnutls)`;
      return { tls, plain: null };
    };
    availability = check();
  }
  return opts.tls === false ? availability.plain : availability.tls;
}

// ---------------------------------------------------------------------------------------------
// helpers

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo && hi) return [lo, hi];
  } catch {
    // not Linux-like; assume the Linux default
  }
  return [32768, 60999];
}

function canBind(kind: 'tcp' | 'udp', port: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (kind === 'tcp') {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
    } else {
      const sock = createSocket('udp4');
      sock.once('error', () => {
        sock.close();
        resolve(false);
      });
      sock.bind({ port, address: '127.0.0.1', exclusive: true }, () => sock.close(() => resolve(true)));
    }
  });
}

/**
 * Free ports below the kernel's ephemeral range, so that while rsyslogd is stopped (outage tests)
 * no outgoing connection takes the port — a client reconnecting to 127.0.0.1:P could otherwise get
 * local port P and connect to itself. Falls back to port 0 (any ephemeral port) when that range is tiny.
 */
async function freePorts(kinds: ('tcp' | 'udp')[]): Promise<number[]> {
  const [lo] = ephemeralRange();
  const min = 10_000;
  const max = lo - 1;
  const used = new Set<number>();
  const out: number[] = [];
  for (const kind of kinds) {
    let port = 0;
    for (let i = 0; i < 200 && max - min > 1000 && !port; i++) {
      const cand = min + Math.floor(Math.random() * (max - min));
      if (!used.has(cand) && (await canBind(kind, cand))) port = cand;
    }
    if (!port) port = kind === 'tcp' ? await anyTcpPort() : await anyUdpPort();
    used.add(port);
    out.push(port);
  }
  return out;
}

/** A TCP port free on 127.0.0.1 just now (the caller binds it soon after). */
export function anyTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function anyUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

/** rsyslog string literal (double quoted). Paths come from mkdtemp, but be safe. */
const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

interface ConfParts {
  dir: string;
  out: string;
  probe: string;
  internal: string;
  tcpPort: number;
  udpPort: number;
  tlsPort: number;
  tlsClientAuth: boolean;
  maxMessageSize: string;
  ca: string;
  serverCert: string;
  serverKey: string;
}

function buildConf(p: ConfParts): string {
  const field = (out: string, name: string, extra = '') => `  property(outname=${q(out)} name=${q(name)} format="jsonf"${extra})`;
  const fields = [
    field('proto', 'inputname'),
    field('facility', 'syslogfacility'),
    field('severity', 'syslogseverity'),
    field('hostname', 'hostname'),
    field('appName', 'app-name'),
    field('procid', 'procid'),
    field('msgid', 'msgid'),
    field('protocolVersion', 'protocol-version'),
    field('timestamp', 'timereported', ' dateFormat="rfc3339"'),
    field('structuredData', 'structured-data'),
    field('msg', 'msg'),
    field('raw', 'rawmsg'),
  ].join('\n  constant(value=",")\n');
  const file = (f: string, template?: string) => `action(type="omfile" file=${q(f)}${template ? ` template=${q(template)}` : ''} flushOnTXEnd="on" asyncWriting="off" ioBufferSize="256k")`;
  const lines = [
    '# generated by test/helpers/rsyslog.ts; maxMessageSize must precede every input',
    `global(maxMessageSize=${q(p.maxMessageSize)})`,
    `global(workDirectory=${q(p.dir)}`,
    '       processInternalMessages="on"',
    '       net.enableDNS="off"',
    '       parser.escapeControlCharactersOnReceive="off"',
    `       defaultNetstreamDriverCAFile=${q(p.ca)}`,
    `       defaultNetstreamDriverCertFile=${q(p.serverCert)}`,
    `       defaultNetstreamDriverKeyFile=${q(p.serverKey)})`,
    '',
    '# one JSON object per line; jsonf escapes quotes, backslashes and control characters',
    'template(name="sfpHarnessJson" type="list") {',
    '  constant(value="{")',
    fields,
    '  constant(value="}\\n")',
    '}',
    '',
    `ruleset(name="sfpHarness" parser=["rsyslog.rfc5424", "rsyslog.rfc3164"]) {`,
    `  if $app-name == "${PROBE_APP}" then {`,
    `    ${file(p.probe, 'sfpHarnessJson')}`,
    '    stop',
    '  }',
    `  ${file(p.out, 'sfpHarnessJson')}`,
    '}',
    '',
  ];
  if (p.tcpPort || p.tlsPort) lines.push('module(load="imtcp")');
  if (p.udpPort) lines.push('module(load="imudp")');
  if (p.tcpPort) lines.push(`input(type="imtcp" name="tcp" address="127.0.0.1" port="${p.tcpPort}" ruleset="sfpHarness")`);
  if (p.tlsPort) {
    lines.push(
      `input(type="imtcp" name="tls" address="127.0.0.1" port="${p.tlsPort}" ruleset="sfpHarness"`,
      '      streamDriver.name="gtls" streamDriver.mode="1"',
      `      streamDriver.authMode="${p.tlsClientAuth ? 'x509/certvalid' : 'anon'}")`,
    );
  }
  if (p.udpPort) lines.push(`input(type="imudp" name="udp" address="127.0.0.1" port="${p.udpPort}" ruleset="sfpHarness")`);
  lines.push('', "# rsyslogd's own messages (default ruleset)", `*.* ${file(p.internal)}`, '');
  return lines.join('\n');
}

/** Incrementally parses a JSON-lines file rsyslog appends to: each call reads only the new complete lines. */
class JsonLines {
  readonly items: ReceivedMessage[] = [];
  private offset = 0;
  private static readonly CHUNK = 16 * 1024 * 1024;

  constructor(readonly file: string) {}

  /** Reads what was appended since the last call; returns the number of messages so far. */
  refresh(): number {
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return this.items.length;
      throw e;
    }
    try {
      const size = fstatSync(fd).size;
      while (this.offset < size) {
        const len = Math.min(JsonLines.CHUNK, size - this.offset);
        const buf = Buffer.allocUnsafe(len);
        const got = readSync(fd, buf, 0, len, this.offset);
        const end = buf.subarray(0, got).lastIndexOf(0x0a); // a trailing partial line is still being written
        if (end < 0) {
          if (got === JsonLines.CHUNK) throw new Error(`rsyslog harness: line over ${JsonLines.CHUNK} bytes in ${this.file}`);
          break;
        }
        for (const line of buf.subarray(0, end).toString('utf8').split('\n')) if (line) this.parse(line);
        this.offset += end + 1;
      }
    } finally {
      closeSync(fd);
    }
    return this.items.length;
  }

  private parse(line: string): void {
    let o: Record<string, string>;
    try {
      o = JSON.parse(line) as Record<string, string>;
    } catch (e) {
      throw new Error(`rsyslog harness: unparseable output line in ${this.file}: ${(e as Error).message}: ${line}`);
    }
    this.items.push({
      facility: Number(o.facility),
      severity: Number(o.severity),
      hostname: o.hostname ?? '',
      appName: o.appName ?? '',
      procid: o.procid ?? '',
      msgid: o.msgid ?? '',
      msg: o.msg ?? '',
      proto: o.proto as ReceivedProto,
      raw: o.raw ?? '',
      protocolVersion: o.protocolVersion ?? '',
      timestamp: o.timestamp ?? '',
      structuredData: o.structuredData ?? '',
    });
  }
}

/** Harnesses not yet closed: on process exit their rsyslogd is killed and their dir removed. */
const unclosed = new Set<{ abandon(): void }>();
let exitHookInstalled = false;
function track(inst: { abandon(): void }): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const i of unclosed) i.abandon();
    });
  }
  unclosed.add(inst);
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = () => {
      clearTimeout(t);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

function tail(s: string, n = 4000): string {
  return s.length > n ? '…' + s.slice(-n) : s;
}

// ---------------------------------------------------------------------------------------------

class RsyslogInstance implements Rsyslog {
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  readonly wrongCa: string;
  readonly wrongClientCert: string;
  readonly wrongClientKey: string;
  readonly outputFile: string;
  private readonly conf: string;
  private readonly pidFile: string;
  private readonly probeFile: string;
  private readonly internalFile: string;
  private readonly received: JsonLines;
  private child: ChildProcess | null = null;
  private childOutput = '';
  /** stdout/stderr of the current run only (bind errors are looked for here). */
  private runOutput = '';
  private closed = false;

  constructor(
    readonly dir: string,
    readonly tcpPort: number,
    readonly udpPort: number,
    readonly tlsPort: number,
    private readonly opts: RsyslogOptions,
  ) {
    track(this);
    this.ca = join(dir, 'ca.pem');
    this.serverCert = join(dir, 'server.pem');
    this.serverKey = join(dir, 'server.key');
    this.clientCert = join(dir, 'client.pem');
    this.clientKey = join(dir, 'client.key');
    this.wrongCa = join(dir, 'wrong-ca.pem');
    this.wrongClientCert = join(dir, 'wrong-client.pem');
    this.wrongClientKey = join(dir, 'wrong-client.key');
    this.outputFile = join(dir, 'messages.jsonl');
    this.received = new JsonLines(this.outputFile);
    this.conf = join(dir, 'rsyslog.conf');
    this.pidFile = join(dir, 'rsyslogd.pid');
    this.probeFile = join(dir, 'probes.jsonl');
    this.internalFile = join(dir, 'rsyslogd-internal.log');
  }

  /** Synchronous last-resort cleanup (process exit without close()). */
  abandon(): void {
    try {
      this.child?.kill('SIGKILL');
    } catch {
      // gone
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  writeConf(): void {
    writeFileSync(
      this.conf,
      buildConf({
        dir: this.dir,
        out: this.outputFile,
        probe: this.probeFile,
        internal: this.internalFile,
        tcpPort: this.tcpPort,
        udpPort: this.udpPort,
        tlsPort: this.tlsPort,
        tlsClientAuth: !!this.opts.tlsClientAuth,
        maxMessageSize: this.opts.maxMessageSize ?? '64k',
        ca: this.ca,
        serverCert: this.serverCert,
        serverKey: this.serverKey,
      }),
    );
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  messages(): ReceivedMessage[] {
    this.received.refresh();
    return this.received.items.slice();
  }

  count(): number {
    return this.received.refresh();
  }

  async waitFor(n: number, timeoutMs: number): Promise<ReceivedMessage[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.refresh() < n && Date.now() < deadline) await sleep(Math.min(25, Math.max(1, deadline - Date.now())));
    return this.messages();
  }

  diagnostics(): string {
    let internal = '';
    try {
      internal = readFileSync(this.internalFile, 'utf8');
    } catch {
      // none yet
    }
    return `--- rsyslogd stdout/stderr ---\n${tail(this.childOutput)}\n--- rsyslogd internal log ---\n${tail(internal)}`;
  }

  async start(): Promise<void> {
    if (this.closed) throw new Error('rsyslog harness: start() after close()');
    if (this.running) return;
    const bin = rsyslogdPath();
    if (!bin) throw new Error('rsyslogd not found');
    rmSync(this.pidFile, { force: true }); // a stale pid file (after SIGKILL) makes rsyslogd refuse to start
    const env = { ...process.env };
    for (const k of ['NOTIFY_SOCKET', 'LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES']) delete env[k];
    const args = ['-n', '-f', this.conf, '-i', this.pidFile];
    // setpriv --pdeathsig: rsyslogd dies with the test process even when that is SIGKILLed
    const setpriv = findExecutable('setpriv');
    const child = setpriv ? spawn(setpriv, ['--pdeathsig', 'KILL', bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.runOutput = '';
    const collect = (d: Buffer) => {
      const text = d.toString('utf8');
      this.childOutput = tail(this.childOutput + text, 64 * 1024);
      if (this.child === child) this.runOutput = tail(this.runOutput + text, 64 * 1024);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    child.on('error', (e) => collect(Buffer.from(`spawn error: ${e.message}\n`)));
    child.on('exit', (code, sig) => collect(Buffer.from(`[rsyslogd exited: code=${code} signal=${sig}]\n`)));
    // a forgotten harness must not keep the test process alive (the exit hook kills the child)
    child.unref();
    (child.stdout as Socket).unref();
    (child.stderr as Socket).unref();
    try {
      await this.probeUntilReady(child, this.opts.startTimeoutMs ?? 20_000);
    } catch (e) {
      child.kill('SIGKILL');
      await waitExit(child, 5000);
      this.child = null;
      throw new Error(`${(e as Error).message}\n${this.diagnostics()}`);
    }
  }

  /** Sends a probe over every input until each came out of rsyslog. */
  private async probeUntilReady(child: ChildProcess, timeoutMs: number): Promise<void> {
    const nonce = randomBytes(8).toString('hex');
    const deadline = Date.now() + timeoutMs;
    const pending = new Set<ReceivedProto>();
    if (this.tcpPort) pending.add('tcp');
    if (this.udpPort) pending.add('udp');
    if (this.tlsPort) pending.add('tls');
    const probe = (proto: ReceivedProto) => `<15>1 - - ${PROBE_APP} - - - ${proto} ${nonce}`;
    const sentAt = new Map<ReceivedProto, number>(); // stream probes written and not yet seen
    let caPem: Buffer | undefined, cert: Buffer | undefined, key: Buffer | undefined;
    if (this.tlsPort) {
      caPem = readFileSync(this.ca);
      cert = readFileSync(this.clientCert);
      key = readFileSync(this.clientKey);
    }
    let lastErr = '';
    const probes = new JsonLines(this.probeFile);
    while (pending.size) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`rsyslogd exited during start (code ${child.exitCode}, signal ${child.signalCode})`);
      const bindErr = /Could not create (?:tcp|udp) listener[^\n]*|imudp: no listeners[^\n]*|activation of module \S+ failed[^\n]*/.exec(this.runOutput);
      if (bindErr) throw new Error(`rsyslogd could not open a listener: ${bindErr[0]}`);
      if (Date.now() >= deadline) throw new Error(`rsyslogd not ready after ${timeoutMs} ms: no probe via ${[...pending].join(', ')}${lastErr ? ` (last error: ${lastErr})` : ''}`);
      const seen = probes.items.length;
      probes.refresh();
      for (const m of probes.items.slice(seen)) {
        if (m.msg === `${m.proto} ${nonce}`) pending.delete(m.proto);
      }
      if (!pending.size) break;
      const attempts: Promise<void>[] = [];
      for (const proto of pending) {
        if (proto === 'udp') attempts.push(sendUdp(this.udpPort, probe('udp')));
        else if (!(Date.now() - (sentAt.get(proto) ?? -Infinity) < 2000)) {
          // a written stream probe is resent only if it has not come out within 2 s
          const p = proto === 'tcp' ? sendTcp(this.tcpPort, probe('tcp') + '\n', 1000) : sendTls(this.tlsPort, probe('tls') + '\n', { ca: caPem!, cert: cert!, key: key! }, 2000);
          attempts.push(
            p.then(
              () => void sentAt.set(proto, Date.now()),
              (e: Error) => void (lastErr = `${proto}: ${e.message}`),
            ),
          );
        }
      }
      await Promise.all(attempts.map((a) => a.catch((e: Error) => void (lastErr = e.message))));
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (this.running) {
      child.kill('SIGTERM');
      if (!(await waitExit(child, 10_000))) {
        child.kill('SIGKILL');
        await waitExit(child, 5000);
      }
    }
    this.child = null;
  }

  /** Stops and forgets this instance but keeps the dir (start-retry with other ports). */
  async kill(): Promise<void> {
    this.closed = true;
    unclosed.delete(this);
    if (this.child) {
      this.child.kill('SIGKILL');
      await waitExit(this.child, 5000);
      this.child = null;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    unclosed.delete(this);
    try {
      await this.stop();
    } catch {
      // fall through to the kill
    }
    if (this.child) {
      try {
        this.child.kill('SIGKILL');
        await waitExit(this.child, 5000);
      } catch {
        // gone
      }
      this.child = null;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** After end(): give the peer 2 s to close its side (a listener that never reads would never), then destroy. */
function lingerThenDestroy(s: Socket): void {
  const k = setTimeout(() => s.destroy(), 2000);
  k.unref();
  s.once('close', () => clearTimeout(k));
}

function sendTcp(port: number, data: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ port, host: '127.0.0.1' });
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error('tcp probe timeout'));
    }, timeoutMs);
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    s.on('connect', () =>
      s.end(data, () => {
        clearTimeout(t);
        resolve();
        lingerThenDestroy(s);
      }),
    );
    s.resume();
  });
}

function sendUdp(port: number, data: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.on('error', (e) => {
      s.close();
      reject(e);
    });
    s.send(data, port, '127.0.0.1', (e) => {
      s.close();
      if (e) reject(e);
      else resolve();
    });
  });
}

function sendTls(port: number, data: string, creds: { ca: Buffer; cert: Buffer; key: Buffer }, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ port, host: '127.0.0.1', ...creds });
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error('tls probe timeout'));
    }, timeoutMs);
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    s.on('secureConnect', () =>
      s.end(data, () => {
        clearTimeout(t);
        resolve();
        lingerThenDestroy(s);
      }),
    );
    s.resume();
  });
}

/** Starts a private rsyslogd; throws (with rsyslogd's diagnostics) when it cannot. Call close() when done. */
export async function startRsyslog(opts: RsyslogOptions = {}): Promise<Rsyslog> {
  const why = rsyslogAvailable(opts);
  if (why) throw new Error(`rsyslog harness unavailable: ${why}`);
  const tcp = opts.tcp !== false;
  const udp = opts.udp !== false;
  const tls = opts.tls !== false;
  if (!tcp && !udp && !tls) throw new Error('rsyslog harness: no input enabled');
  const dir = mkdtempSync(join(tmpdir(), 'sfp-rsyslog-'));
  try {
    await makeCerts(dir);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  // a port taken between the check and rsyslogd's bind (another harness, another test) only shows
  // as a failed start: retry with fresh ports
  for (let attempt = 1; ; attempt++) {
    let inst: RsyslogInstance | undefined;
    try {
      const [tcpPort = 0, tlsPort = 0, udpPort = 0] = await freePorts(['tcp', 'tcp', 'udp']);
      inst = new RsyslogInstance(dir, tcp ? tcpPort : 0, udp ? udpPort : 0, tls ? tlsPort : 0, opts);
      inst.writeConf();
      await inst.start();
      return inst;
    } catch (e) {
      if (attempt >= 3 || !inst) {
        if (inst) await inst.close();
        else rmSync(dir, { recursive: true, force: true });
        throw e;
      }
      await inst.kill();
      for (const f of ['messages.jsonl', 'probes.jsonl', 'rsyslogd-internal.log']) rmSync(join(dir, f), { force: true });
    }
  }
}
