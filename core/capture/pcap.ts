/**
 * The libpcap addon (native/pcap, an optional dependency: it needs libpcap's headers to build).
 * Loaded on first use, so that everything else runs where it could not be built.
 */
import { createRequire } from 'node:module';
import { ConfigError } from '../errors.js';

/** What ended a capture: the first control reached, stop(), or a failure while capturing. */
export type StopReason = 'packets' | 'bytes' | 'duration' | 'timeout' | 'stopped' | 'error';

export interface CaptureOptions {
  device: string;
  path: string;
  filter?: string;
  snaplen: number;
  /** 0: no limit (each of these). */
  packets: number;
  /** The pcap file's size: 24 bytes of file header, then 16 bytes of record header plus the captured bytes per packet. */
  bytes: number;
  durationMs: number;
  timeoutMs: number;
}

export interface CaptureResult {
  packets: number;
  bytes: number;
  reason: StopReason;
  /** Set when reason is 'error'. */
  error?: string;
  /** libpcap's counters: packets the filter passed, dropped for want of buffer, dropped by the interface. */
  received: number;
  dropped: number;
  ifDropped: number;
  linktype: number;
  snaplen: number;
  /** First and last packet time, epoch ms (with a packet). */
  firstTs?: number;
  lastTs?: number;
}

export interface PcapAddon {
  start(o: CaptureOptions, cb: (err: (Error & { code?: string }) | null, r?: CaptureResult) => void): object;
  stop(handle: object): void;
  checkFilter(filter: string, linktype?: number, snaplen?: number): string | null;
  devices(): { name: string; loopback: boolean; up: boolean }[];
  libpcapVersion: string;
}

let addon: PcapAddon | null = null;

export function pcap(): PcapAddon {
  if (addon) return addon;
  try {
    addon = createRequire(import.meta.url)('@sfprocessor/pcap') as PcapAddon;
  } catch (e) {
    throw new ConfigError(`packet capture needs the libpcap addon, which is not built here (${(e as Error).message.split('\n')[0]}): install libpcap-dev and run npm rebuild @sfprocessor/pcap`);
  }
  return addon;
}

/** Capture until a control is reached; rejects (with `code`) when the capture cannot start. */
export function capture(o: CaptureOptions, started?: (stop: () => void) => void): Promise<CaptureResult> {
  const a = pcap();
  return new Promise((resolve, reject) => {
    const h = a.start(o, (err, r) => (err ? reject(err) : resolve(r!)));
    started?.(() => a.stop(h));
  });
}
