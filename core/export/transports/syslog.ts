/**
 * `export: syslog`: one RFC 5424 message per record over TCP, UDP or TLS, through the delivery queue
 * (core/export/delivery.ts).
 *
 * Written on node:net / node:tls / node:dgram rather than the syslog-client package: that package
 * has no TLS, no RFC 6587/5425 octet counting, and no way to learn that a write failed so it can be
 * retried, which the delivery guarantees need.
 *
 * Message (upstream's layout): `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - BODY`, with the tag
 * in the MSGID position, HOSTNAME = syslog.source or the host name, APP-NAME `sfprocessor`.
 * Severity follows the record's highest rule priority (SEVERITY below); the facility is
 * syslog.facility (default daemon).
 */
import { ConfigError } from '../../errors.js';
import net from 'node:net';
import tls from 'node:tls';
import dgram from 'node:dgram';
import os from 'node:os';
import { readFileSync } from 'node:fs';
import type { Attributes } from '../../pipeline/types.js';
import type { TransportFactory } from '../types.js';
import type { Message } from '../types.js';
import { noFailures, type Link, type SendResult, type UncertainError } from '../delivery.js';
import { DeliveryTransport } from '../options.js';
import { compileSettings, readAttributeFile, settingsOf, type ConfigSchema } from '../../pipeline/settings.js';
import { networkTransport } from './network.js';

/** Rule priority (0 none, 1 low … 4 critical) → syslog severity. */
export const SEVERITY: readonly number[] = [
  6, // no rule matched (enrich mode): informational
  5, // low: notice
  4, // medium: warning
  3, // high: error
  2, // critical: critical
];

const FACILITIES: Record<string, number> = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
};

type Proto = 'tcp' | 'udp' | 'tls';
type Framing = 'newline' | 'octet-counting';

interface SyslogSettings {
  proto: Proto;
  host: string;
  port: number;
  tag: string;
  hostname: string;
  facility: number;
  framing: Framing;
  tls: tls.ConnectionOptions;
  verify: boolean;
}

/** RFC 5424 header fields are printable ASCII without spaces, each with a length limit. */
function headerField(v: string, max: number): string {
  const s = v.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return s === '' ? '-' : s;
}

const CONFIG: ConfigSchema = {
  properties: {
    // tcp+tls: sf-processor's template spelling (its code took it as tcp)
    'syslog.proto': { type: 'string', enum: ['tcp', 'udp', 'tls', 'tcp+tls'], default: 'tcp', description: 'syslog: tcp, udp or tls' },
    'syslog.host': { type: 'string', default: 'localhost', description: 'syslog: server host' },
    'syslog.port': { type: 'integer', minimum: 1, maximum: 65535, default: 514, description: 'syslog: server port' },
    'syslog.tag': { type: 'string', default: 'sysflow', description: 'syslog: tag, sent as the RFC 5424 MSGID' },
    'syslog.source': { type: 'string', description: 'syslog: HOSTNAME field (default: this host name)' },
    'syslog.facility': { type: 'string', enum: Object.keys(FACILITIES), default: 'daemon', description: 'syslog: facility name; severity follows the rule priority' },
    'syslog.framing': { type: 'string', enum: ['newline', 'octet-counting'], description: 'syslog: newline (default for tcp) or octet-counting (RFC 6587; default for tls, RFC 5425)' },
    'syslog.tls.ca': { type: 'string', description: 'syslog tls: CA certificate file (PEM) that signed the server certificate (default: the system CAs)' },
    'syslog.tls.cert': { type: 'string', description: 'syslog tls: client certificate file (PEM), for servers that require one' },
    'syslog.tls.key': { type: 'string', description: 'syslog tls: client key file (PEM)' },
    'syslog.tls.servername': { type: 'string', description: 'syslog tls: name expected in the server certificate (default: syslog.host)' },
    'syslog.tls.verify': { type: 'boolean', default: true, description: 'syslog tls: false skips server certificate verification (logged; not recommended)' },
  },
  additionalProperties: true,
};
const SETTINGS = compileSettings(CONFIG, { scope: 'prefixed', prefix: 'syslog.' });

interface SyslogAttributes {
  readonly 'syslog.proto': Proto | 'tcp+tls';
  readonly 'syslog.host': string;
  readonly 'syslog.port': number;
  readonly 'syslog.tag': string;
  readonly 'syslog.source'?: string;
  readonly 'syslog.facility': string;
  readonly 'syslog.framing'?: Framing;
  readonly 'syslog.tls.servername'?: string;
  readonly 'syslog.tls.verify': boolean;
}

function settings(attrs: Attributes): SyslogSettings {
  const c = settingsOf<SyslogAttributes>(SETTINGS, attrs);
  const proto: Proto = c['syslog.proto'] === 'tcp+tls' ? 'tls' : c['syslog.proto'];
  if (proto === 'udp' && c['syslog.framing']) throw new ConfigError("attribute 'syslog.framing': UDP sends one message per datagram; framing applies to tcp and tls");
  const framing: Framing = c['syslog.framing'] ?? (proto === 'tls' ? 'octet-counting' : 'newline');
  const facility = FACILITIES[c['syslog.facility']]!;
  const read = (key: string) => (attrs[key] ? readAttributeFile(key, attrs[key]) : undefined);
  const verify = c['syslog.tls.verify'];
  const host = c['syslog.host'] || 'localhost';
  const servername = c['syslog.tls.servername'] || (net.isIP(host) ? undefined : host);
  const ca = proto === 'tls' ? read('syslog.tls.ca') : undefined;
  const cert = proto === 'tls' ? read('syslog.tls.cert') : undefined;
  const key = proto === 'tls' ? read('syslog.tls.key') : undefined;
  if ((cert === undefined) !== (key === undefined)) throw new ConfigError("attributes 'syslog.tls.cert' and 'syslog.tls.key' go together (client certificate and its key)");
  return {
    proto,
    host,
    port: c['syslog.port'],
    tag: headerField(c['syslog.tag'], 32),
    hostname: headerField(c['syslog.source'] || os.hostname(), 255),
    facility,
    framing,
    verify,
    tls: {
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
      ...(servername ? { servername } : {}),
      rejectUnauthorized: verify,
    },
  };
}

/** RFC 3339 local time with seconds and numeric offset (upstream's timestamp). */
function timestamp(d: Date): string {
  const off = -d.getTimezoneOffset();
  const p2 = (n: number) => String(n).padStart(2, '0');
  const zone = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${p2(Math.floor(Math.abs(off) / 60))}:${p2(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}T${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}${zone}`;
}

class Formatter {
  private readonly tail: string;
  private lastSecond = -1;
  private lastStamp = '';
  constructor(private readonly s: SyslogSettings) {
    this.tail = ` ${s.hostname} sfprocessor ${process.pid} ${s.tag} - `;
  }

  /** The syslog message for a record (without framing). */
  message(m: Message): Buffer {
    const now = Date.now();
    const sec = Math.floor(now / 1000);
    if (sec !== this.lastSecond) {
      this.lastSecond = sec;
      this.lastStamp = timestamp(new Date(now));
    }
    const pri = this.s.facility * 8 + (SEVERITY[Math.min(Math.max(m.priority, 0), 4)] ?? 6);
    const head = Buffer.from(`<${pri}>1 ${this.lastStamp}${this.tail}`, 'latin1');
    return Buffer.concat([head, m.body]);
  }

  /** Framed for a stream: newline-terminated or `LEN SP MSG` (RFC 6587 / RFC 5425). */
  framed(m: Message): Buffer {
    const msg = this.message(m);
    if (this.s.framing === 'newline') return Buffer.concat([msg, NL]);
    return Buffer.concat([Buffer.from(`${msg.length} `, 'latin1'), msg]);
  }
}
const NL = Buffer.from('\n');

const TLS_VERIFY_ERRORS = /CERT|SIGNATURE|ALTNAME|SELF_SIGNED|UNABLE_TO|ISSUER|EXPIRED|HOSTNAME/;
export class SyslogConfigError extends ConfigError {}

/** A TCP or TLS connection: a write is done when the kernel took it (see Delivery's resend window). */
class StreamLink implements Link {
  onBreak?: (err: Error, uncertainMs?: number) => void;
  private pending = 0;
  private dead: Error | null = null;
  private failPending: ((e: Error) => void)[] = [];

  constructor(
    private readonly socket: net.Socket,
    private readonly fmt: Formatter,
    what: string,
  ) {
    const die = (err: Error, uncertainMs?: number) => {
      if (this.dead) return;
      if (uncertainMs !== undefined) (err as UncertainError).uncertainMs = uncertainMs;
      this.dead = err;
      for (const f of this.failPending.splice(0)) f(err);
      if (this.pending === 0) this.onBreak?.(err, uncertainMs);
      socket.destroy();
    };
    socket.on('error', (e) => die(new Error(`${what}: ${e.message}`)));
    // An orderly close (FIN) means the server read everything that reached it before closing (unread
    // data makes the kernel reset instead): only what was sent while the FIN travelled is uncertain.
    socket.on('end', () => die(new Error(`${what}: the server closed the connection`), FIN_UNCERTAIN_MS));
    socket.on('close', () => die(new Error(`${what}: connection closed`)));
    socket.resume(); // servers send nothing, but reading is how a close is noticed
  }

  send(batch: readonly Message[]): Promise<SendResult> {
    if (this.dead) return Promise.reject(this.dead);
    const data = Buffer.concat(batch.map((m) => this.fmt.framed(m)));
    this.pending++;
    return new Promise<SendResult>((resolve, reject) => {
      this.failPending.push(reject);
      this.socket.write(data, (err) => {
        this.pending--;
        this.failPending.splice(this.failPending.indexOf(reject), 1);
        if (err || this.dead) reject(this.dead ?? err);
        else resolve(noFailures);
      });
    });
  }

  async close(): Promise<void> {
    if (this.dead) return;
    await new Promise<void>((resolve) => {
      this.socket.end(() => resolve());
      setTimeout(resolve, 2000).unref();
    });
    this.socket.destroy();
  }
}

const MAX_DATAGRAM = 65507;

/**
 * What a broken TCP connection can have swallowed: at most our send buffer plus the server's receive
 * buffer. Linux's autotuning maxima bound both (the peer's is assumed alike); 16 MiB elsewhere.
 */
function socketBufferBytes(): number {
  try {
    const max = (f: string) => Number(readFileSync(f, 'utf8').trim().split(/\s+/)[2]);
    const n = max('/proc/sys/net/ipv4/tcp_wmem') + max('/proc/sys/net/ipv4/tcp_rmem');
    return Number.isFinite(n) && n > 0 ? n : 16 << 20;
  } catch {
    return 16 << 20;
  }
}
/** After a FIN, messages sent this recently are sent again (covers round trips up to ~50 ms). */
const FIN_UNCERTAIN_MS = 100;

const refused = (e: unknown) => (e as NodeJS.ErrnoException | null)?.code === 'ECONNREFUSED';

/**
 * UDP confirms nothing: `sent` means handed to the kernel. What it can learn is counted: on a
 * connected socket an ICMP port-unreachable for an earlier datagram comes back as ECONNREFUSED on
 * a later send (which is then not transmitted) or on the socket itself; each one is a datagram
 * lost, counted as failed. After a refusal the rest of the batch waits for the backoff, so a server
 * that is down holds the queue (spooled or counted failed at exit) instead of draining it into the
 * void, one datagram lost per attempt. Datagrams lost without an ICMP (rate-limited, filtered,
 * dropped on the way) stay unknown.
 */
class UdpLink implements Link {
  onBreak?: (err: Error, uncertainMs?: number) => void;
  private lost = 0;
  constructor(
    private readonly socket: dgram.Socket,
    private readonly fmt: Formatter,
  ) {
    socket.on('error', (e) => {
      if (refused(e)) this.lost++;
      else this.onBreak?.(e, 0);
    });
  }

  private sendOne(msg: Buffer): Promise<NodeJS.ErrnoException | null> {
    return new Promise((resolve) => this.socket.send(msg, (err) => resolve(err ?? null)));
  }

  async send(batch: readonly Message[]): Promise<SendResult> {
    const failed: { m: Message; reason: string }[] = [];
    let retry: readonly Message[] = [];
    for (let i = 0; i < batch.length; i++) {
      const m = batch[i]!;
      const msg = Buffer.concat([this.fmt.message(m), NL]);
      if (msg.length > MAX_DATAGRAM) {
        failed.push({ m, reason: `${msg.length}-byte message does not fit a UDP datagram (${MAX_DATAGRAM}); use syslog.proto tcp or tls` });
        continue;
      }
      const err = await this.sendOne(msg);
      if (refused(err)) {
        // the server is not there: this message and the rest wait for the backoff
        this.lost++;
        retry = batch.slice(i);
        break;
      }
      if (err) throw err;
    }
    const lost = this.lost;
    this.lost = 0;
    if (!lost && !failed.length && !retry.length) return noFailures;
    return { retry, failed, lost, lostReason: `refused ${lost} datagram${lost === 1 ? '' : 's'} (ICMP port unreachable: nothing listens there), counted as failed` };
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}

function connect(s: SyslogSettings, fmt: Formatter): Promise<Link> {
  const what = `syslog ${s.proto} ${s.host}:${s.port}`;
  return new Promise((resolve, reject) => {
    if (s.proto === 'udp') {
      const sock = dgram.createSocket(net.isIPv6(s.host) ? 'udp6' : 'udp4');
      sock.once('error', (e) => reject(new Error(`${what}: ${e.message}`)));
      sock.connect(s.port, s.host, () => resolve(new UdpLink(sock, fmt)));
      return;
    }
    const onError = (e: NodeJS.ErrnoException) => {
      sock.destroy();
      if (s.proto === 'tls' && TLS_VERIFY_ERRORS.test(String(e.code ?? '')))
        reject(new SyslogConfigError(`${what}: TLS certificate check failed: ${e.message} (check syslog.tls.ca and syslog.tls.servername)`));
      else reject(new Error(`${what}: ${e.message}`));
    };
    const sock: net.Socket =
      s.proto === 'tls'
        ? tls.connect({ host: s.host, port: s.port, ...s.tls }, () => {
            sock.off('error', onError);
            resolve(new StreamLink(sock, fmt, what));
          })
        : net.connect({ host: s.host, port: s.port }, () => {
            sock.off('error', onError);
            resolve(new StreamLink(sock, fmt, what));
          });
    sock.setTimeout(10_000, () => sock.destroy(new Error('connection timed out')));
    sock.once('connect', () => sock.setTimeout(0));
    sock.once('secureConnect', () => sock.setTimeout(0));
    sock.once('error', onError);
  });
}

export const syslogTransport: TransportFactory = networkTransport({
  name: 'syslog',
  config: CONFIG,
  settings,
  insecure: (s) => (s.proto === 'tls' && !s.verify ? 'syslog: TLS certificate verification is OFF (syslog.tls.verify=false): the server is not authenticated' : null),
  peer: 'server',
  async open(s, attrs, log) {
    const fmt = new Formatter(s);
    // the first connection, made by contact(), is the delivery's first link
    let first: Link | null = null;
    const reconnect = () => {
      if (first) {
        const l = first;
        first = null;
        return Promise.resolve(l);
      }
      return connect(s, fmt);
    };
    return {
      contact: async () => {
        first = await connect(s, fmt);
      },
      // connect()'s errors name the target already
      describe: (err) => (err as Error).message,
      transport: () =>
        new DeliveryTransport('syslog', attrs, {
          where: `syslog ${s.proto} ${s.host}:${s.port}`,
          connect: reconnect,
          log,
          resendWindowMs: s.proto === 'udp' ? 0 : 2000,
          connectionless: s.proto === 'udp',
          resendMaxBytes: socketBufferBytes(),
        }),
    };
  },
});
