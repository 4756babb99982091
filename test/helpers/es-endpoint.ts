/**
 * A faithful in-test Elasticsearch 8.x HTTP endpoint (no Elasticsearch server can run on our
 * machines). It speaks the subset of the REST API an exporter needs, with ES's wire formats:
 *
 * - every non-401 response carries `x-elastic-product: Elasticsearch` (the v8 client's product
 *   check); `GET /` answers a realistic info body, `HEAD /` 200;
 * - `POST|PUT /_bulk` and `/<index>/_bulk`: NDJSON parsed like ES's BulkRequestParser (action line,
 *   source line except for delete, `\r\n` tolerated, blank action lines skipped, body must end with
 *   `\n`); whole-request errors (400 illegal_argument_exception / x_content_parse_exception /
 *   action_request_validation_exception / parse_exception) and per-item results and errors
 *   (`create` on an existing `_id` → 409 version_conflict_engine_exception, `index` overwrites,
 *   `update` merges, `delete`, malformed source → 400 document_parsing_exception, invalid index
 *   name → 400 invalid_index_name_exception); `?refresh` (true/''/wait_for) makes documents visible
 *   to `_count` at once, otherwise they become visible at the next periodic refresh (1 s like ES);
 * - Basic and ApiKey authentication (401 security_exception with `WWW-Authenticate` otherwise);
 * - gzip/deflate request bodies; gzip responses when the client accepts them;
 * - 406 for an unsupported Content-Type, 400 media_type_header_exception for a compatible-with
 *   version other than 7/8 (e.g. a v9 client against this 8.x "server");
 * - `_index_template`, `_component_template`, index create/exists/delete, `_doc/<id>`, `_count`,
 *   `_refresh`, `_cat/indices`, `_cluster/health`;
 * - fault injection: whole-request failures, per-item failures, latency, outage (refused
 *   connections), socket destruction.
 *
 * Every request is recorded with its decoded (gunzipped) body.
 */
import http from 'node:http';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync, gzipSync, inflateSync } from 'node:zlib';

export type BulkOp = 'index' | 'create' | 'update' | 'delete';

/** One parsed bulk operation, as handed to `itemFailures`. */
export interface BulkAction {
  op: BulkOp;
  index: string;
  /** The `_id` from the action line (absent when ES would generate one). */
  id?: string;
  /** The action line's metadata object (`{"_index":..,"_id":..,...}`). */
  meta: Record<string, unknown>;
}

/** A per-item error to inject (`status` 429 is the one the client's bulk helper retries). */
export interface ItemFailure {
  status: number;
  type: string;
  reason: string;
  /** Extra fields merged into the item's `error` object (e.g. `caused_by`). */
  [extra: string]: unknown;
}

/** What `bulkReply` may answer instead of normal processing. */
export type BulkReply = { status: number; body?: unknown; headers?: Record<string, string | string[]> } | 'destroy' | null | undefined;

export type EsAuth =
  | { username: string; password: string }
  /** The encoded key (base64 of `id:api_key`, what ES returns as `encoded`), or its parts. */
  | { apiKey: string | { id: string; api_key: string } };

export interface EsEndpointOptions {
  /** Required credentials (any one of a list is accepted). Unset: no security. */
  auth?: EsAuth | EsAuth[];
  /** Serve HTTPS: PEM strings or paths to PEM files. */
  tls?: { cert: string; key: string };
  /** The first `count` _bulk requests (after auth) fail as a whole with `status`. */
  failFirstRequests?: { count: number; status: 429 | 500 | 502 | 503 | 504 };
  /**
   * Decide the reply of each _bulk request (after auth, before any other processing): a reply,
   * 'destroy' (the socket is destroyed without an answer), or null/undefined for normal
   * processing. `n` counts _bulk requests from 1.
   */
  bulkReply?: (ctx: { n: number; request: RecordedRequest }) => BulkReply;
  /** Per-item failures; `attempt` counts how often this very operation (same action and source) was received, from 1. */
  itemFailures?: (action: BulkAction, doc: unknown, attempt: number) => ItemFailure | null | undefined;
  /** Latency added to every request. */
  delayMs?: number;
  /** Reported Elasticsearch version (default 8.19.2). */
  version?: string;
  /** Periodic refresh like ES's index.refresh_interval (default 1000 ms; 0 or less: never). */
  refreshIntervalMs?: number;
  /** gzip responses when the request's accept-encoding allows it (default true, like ES's http.compression). */
  compressResponses?: boolean;
  /** Port to listen on (default: a random free port). */
  port?: number;
}

export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/_bulk`. */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** Decoded body (gunzipped/inflated when content-encoding says so). */
  body: string;
  /** Response status (0 if the socket was destroyed or not answered yet). */
  status: number;
  /** Response body as sent (parsed JSON object / string), undefined for none. */
  response?: unknown;
}

export interface StoredDoc {
  index: string;
  id: string;
  source: unknown;
  version: number;
  seqNo: number;
}

export interface EsEndpoint {
  /** `http://127.0.0.1:<port>` (https when `tls` is set). */
  readonly url: string;
  readonly port: number;
  /** The live options object: fields may be changed between requests (e.g. `itemFailures`). */
  readonly options: EsEndpointOptions;
  /** Every request received, in arrival order. */
  readonly requests: RecordedRequest[];
  /** The recorded `_bulk` requests. */
  bulkRequests(): RecordedRequest[];
  /** Stored documents (current state, including not-yet-refreshed ones), in first-write order. */
  docs(index?: string): StoredDoc[];
  /** `create` operations rejected with 409 because the `_id` existed. */
  readonly duplicatesRejected: number;
  /** `PUT _index_template/<name>` bodies. */
  readonly templates: Map<string, unknown>;
  /** `PUT _component_template/<name>` bodies. */
  readonly componentTemplates: Map<string, unknown>;
  /** Existing index names. */
  indices(): string[];
  /** Make the next `count` _bulk requests fail as a whole with `status`. */
  failNextBulk(count: number, status: number): void;
  /** Make every stored document visible to `_count` (like `POST _refresh`). */
  refresh(): void;
  /** Simulate an outage: stop listening (ECONNREFUSED) and destroy open sockets; false listens again on the same port. */
  setDown(down: boolean): Promise<void>;
  readonly isDown: boolean;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string | string[]>;
  destroy?: boolean;
}

interface IndexState {
  uuid: string;
  seqNo: number;
  createdAt: number;
  settings?: unknown;
  mappings?: unknown;
}

interface DocState extends StoredDoc {
  visible: boolean;
}

interface ParsedOp {
  op: BulkOp;
  index: string | undefined;
  id: string | undefined;
  meta: Record<string, unknown>;
  sourceText: string;
  /** Parsed update body (update only). */
  update?: Record<string, unknown>;
}

const KNOWN_ACTION_PARAMS = new Set([
  '_index',
  '_id',
  'routing',
  'op_type',
  'version',
  'version_type',
  'retry_on_conflict',
  'pipeline',
  '_source',
  'if_seq_no',
  'if_primary_term',
  'require_alias',
  'require_data_stream',
  'dynamic_templates',
  'list_executed_pipelines',
]);
const OBJECT_ACTION_PARAMS = new Set(['_source', 'dynamic_templates']);
const WWW_AUTHENTICATE = ['Basic realm="security", charset="UTF-8"', 'Bearer realm="security"', 'ApiKey'];
const JSON_FAMILY = /^application\/(json|x-ndjson|vnd\.elasticsearch\+json|vnd\.elasticsearch\+x-ndjson)$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function tokenName(v: unknown): string {
  if (v === null) return 'VALUE_NULL';
  if (Array.isArray(v)) return 'START_ARRAY';
  switch (typeof v) {
    case 'string':
      return 'VALUE_STRING';
    case 'number':
      return 'VALUE_NUMBER';
    case 'boolean':
      return 'VALUE_BOOLEAN';
    default:
      return 'START_OBJECT';
  }
}

/** ES's error envelope: `{"error":{"root_cause":[..],"type","reason",..},"status"}`. */
function esError(status: number, type: string, reason: string, extra: Record<string, unknown> = {}, headers?: Record<string, string | string[]>): Reply {
  const cause = { type, reason, ...extra };
  const rootCause = { ...cause };
  delete (rootCause as Record<string, unknown>).caused_by;
  return { status, body: { error: { root_cause: [rootCause], ...cause }, status }, headers };
}

/** `[line:col] message` like ES's x_content_parse_exception, from a JSON.parse SyntaxError. */
function jsonErrorReason(text: string, line: number, err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const m = /position (\d+)/.exec(msg);
  const col = m ? Number(m[1]) + 1 : text.length + 1;
  return `[${line}:${col}] ${msg}`;
}

/** A 20-character base64url id like ES's auto-generated (time-based) ids. */
function generateId(): string {
  const time = Buffer.alloc(6);
  time.writeUIntBE(Date.now(), 0, 6);
  return Buffer.concat([randomBytes(9), time]).toString('base64url');
}

function indexUuid(): string {
  return randomBytes(16).toString('base64url').slice(0, 22);
}

function invalidIndexName(name: string): string | null {
  if (name !== name.toLowerCase()) return 'must be lowercase';
  if (/[\\/*?"<>| ,#:]/.test(name)) return "must not contain the following characters ['\\', '/', '*', '?', '\"', '<', '>', '|', ' ', ',', '#', ':']";
  if (/^[-_+]/.test(name)) return "must not start with '_', '-', or '+'";
  if (name === '.' || name === '..') return "must not be '.' or '..'";
  if (Buffer.byteLength(name) > 255) return 'index name is too long, (' + Buffer.byteLength(name) + ' > 255)';
  return null;
}

function deepMerge(target: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...target };
  for (const [k, v] of Object.entries(patch)) {
    out[k] = isObject(v) && isObject(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  }
  return out;
}

function globToRegExp(pattern: string): RegExp {
  return new RegExp(
    '^' +
      pattern
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*') +
      '$',
  );
}

function pem(v: string): string {
  return v.includes('-----BEGIN') ? v : readFileSync(v, 'utf8');
}

function normalizeAuth(auth: EsAuth | EsAuth[] | undefined): { basic: Map<string, string>; apiKeys: Set<string> } | null {
  if (auth === undefined) return null;
  const basic = new Map<string, string>();
  const apiKeys = new Set<string>();
  for (const a of Array.isArray(auth) ? auth : [auth]) {
    if ('apiKey' in a) {
      apiKeys.add(typeof a.apiKey === 'string' ? a.apiKey : Buffer.from(`${a.apiKey.id}:${a.apiKey.api_key}`).toString('base64'));
    } else {
      basic.set(a.username, a.password);
    }
  }
  return { basic, apiKeys };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startEsEndpoint(opts: EsEndpointOptions = {}): Promise<EsEndpoint> {
  const options = opts;
  const version = options.version ?? '8.19.2';
  const clusterUuid = indexUuid();
  const requests: RecordedRequest[] = [];
  const indices = new Map<string, IndexState>();
  const store = new Map<string, DocState>(); // key: index \0 id, insertion order = first-write order
  const templates = new Map<string, unknown>();
  const componentTemplates = new Map<string, unknown>();
  const attempts = new Map<string, number>();
  const forcedFailures: number[] = [];
  if (options.failFirstRequests) {
    for (let i = 0; i < options.failFirstRequests.count; i++) forcedFailures.push(options.failFirstRequests.status);
  }
  let duplicatesRejected = 0;
  let bulkCount = 0;
  let down = false;
  const sockets = new Set<Socket>();

  const docKey = (index: string, id: string) => `${index}\u0000${id}`;

  function ensureIndex(name: string): IndexState {
    let st = indices.get(name);
    if (!st) {
      st = { uuid: indexUuid(), seqNo: 0, createdAt: Date.now() };
      indices.set(name, st);
    }
    return st;
  }

  function refreshAll(index?: string): void {
    for (const d of store.values()) if (index === undefined || d.index === index) d.visible = true;
  }

  /** Resolve `a,b*` index expressions; unknown concrete names → 404 like ES. */
  function resolveIndices(expr: string | undefined): string[] | Reply {
    if (expr === undefined || expr === '_all' || expr === '*') return [...indices.keys()];
    const out = new Set<string>();
    for (const part of expr.split(',')) {
      if (part.includes('*')) {
        const re = globToRegExp(part);
        for (const n of indices.keys()) if (re.test(n)) out.add(n);
      } else if (indices.has(part)) {
        out.add(part);
      } else {
        return indexNotFound(part);
      }
    }
    return [...out];
  }

  function indexNotFound(name: string): Reply {
    return esError(404, 'index_not_found_exception', `no such index [${name}]`, {
      'resource.type': 'index_or_alias',
      'resource.id': name,
      index_uuid: '_na_',
      index: name,
    });
  }

  // ---------------------------------------------------------------- auth

  function authenticate(req: http.IncomingMessage, uri: string): Reply | null {
    const auth = normalizeAuth(options.auth);
    if (!auth) return null;
    const hdr = req.headers.authorization;
    const fail = (reason: string, extra: Record<string, unknown> = {}) =>
      esError(401, 'security_exception', reason, { ...extra, header: { 'WWW-Authenticate': WWW_AUTHENTICATE } }, { 'www-authenticate': WWW_AUTHENTICATE });
    if (!hdr) return fail(`missing authentication credentials for REST request [${uri}]`);
    const sp = hdr.indexOf(' ');
    const scheme = (sp < 0 ? hdr : hdr.slice(0, sp)).toLowerCase();
    const cred = sp < 0 ? '' : hdr.slice(sp + 1).trim();
    if (scheme === 'basic') {
      const decoded = Buffer.from(cred, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const user = colon < 0 ? decoded : decoded.slice(0, colon);
      const pass = colon < 0 ? '' : decoded.slice(colon + 1);
      if (colon >= 0 && auth.basic.has(user) && auth.basic.get(user) === pass) return null;
      return fail(`unable to authenticate user [${user}] for REST request [${uri}]`);
    }
    if (scheme === 'apikey') {
      if (auth.apiKeys.has(cred)) return null;
      return fail('unable to authenticate with provided credentials and anonymous access is not allowed for this request', {
        additional_unsuccessful_credentials: 'API key: unable to authenticate with the provided API key',
      });
    }
    return fail('unable to authenticate with provided credentials and anonymous access is not allowed for this request');
  }

  // ---------------------------------------------------------------- media types

  function checkMediaTypes(req: http.IncomingMessage, hasBody: boolean): Reply | null {
    const ct = req.headers['content-type'];
    const accept = req.headers.accept;
    const compat = (v: string | undefined) => {
      const m = v ? /compatible-with=(\d+)/.exec(v) : null;
      return m ? Number(m[1]) : undefined;
    };
    const ctV = compat(ct);
    const acV = compat(accept);
    if ((ctV !== undefined && ctV !== 7 && ctV !== 8) || (acV !== undefined && acV !== 7 && acV !== 8) || (hasBody && ctV !== undefined && acV !== undefined && ctV !== acV)) {
      return esError(400, 'media_type_header_exception', 'Invalid media-type value on headers [Content-Type, Accept]', {
        caused_by: {
          type: 'status_exception',
          reason:
            'A compatible version is required on both Content-Type and Accept headers if either one has requested a compatible version and the compatible versions must match. ' +
            `Accept=${accept ?? 'null'}, Content-Type=${ct ?? 'null'}`,
        },
      });
    }
    if (hasBody) {
      const base = (ct ?? '').split(';')[0]!.trim().toLowerCase();
      if (!JSON_FAMILY.test(base)) {
        return { status: 406, body: { error: ct ? `Content-Type header [${ct}] is not supported` : 'Content-Type header is missing', status: 406 } };
      }
    }
    return null;
  }

  // ---------------------------------------------------------------- bulk

  function wholeFailure(status: number): Reply {
    switch (status) {
      case 429:
        return esError(
          429,
          'es_rejected_execution_exception',
          'rejected execution of coordinating operation [coordinating_and_primary_bytes=104857600, replica_bytes=0, all_bytes=104857600, coordinating_operation_bytes=1024, max_coordinating_and_primary_bytes=104857600]',
        );
      case 503:
        return esError(503, 'cluster_block_exception', 'blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];');
      case 502:
      case 504:
        // what a proxy / load balancer in front of ES answers
        return { status, body: status === 502 ? 'Bad Gateway' : 'Gateway Timeout', headers: { 'content-type': 'text/plain' } };
      default:
        return esError(status, 'exception', 'simulated internal failure');
    }
  }

  function bulk(rec: RecordedRequest, defaultIndex: string | undefined): Reply {
    bulkCount++;
    const hook = options.bulkReply?.({ n: bulkCount, request: rec });
    if (hook === 'destroy') return { status: 0, destroy: true };
    if (hook) return { status: hook.status, body: hook.body, headers: hook.headers };
    const forced = forcedFailures.shift();
    if (forced !== undefined) return wholeFailure(forced);

    const started = Date.now();
    const data = rec.body;
    if (data.length === 0) return esError(400, 'parse_exception', 'request body is required');
    const newlineError = () => esError(400, 'illegal_argument_exception', 'The bulk request must be terminated by a newline [\\n]');
    const trimCR = (s: string) => (s.endsWith('\r') ? s.slice(0, -1) : s);
    const ops: ParsedOp[] = [];
    let from = 0;
    let line = 0;
    for (;;) {
      let next = data.indexOf('\n', from);
      if (next === -1) {
        if (from !== data.length) return newlineError();
        break;
      }
      line++;
      const actionText = trimCR(data.slice(from, next));
      from = next + 1;
      if (actionText.trim() === '') continue;
      let action: unknown;
      try {
        action = JSON.parse(actionText);
      } catch (e) {
        return esError(400, 'x_content_parse_exception', jsonErrorReason(actionText, line, e));
      }
      const malformed = (what: string) => esError(400, 'illegal_argument_exception', `Malformed action/metadata line [${line}], ${what}`);
      if (!isObject(action)) return malformed(`expected START_OBJECT but found [${tokenName(action)}]`);
      const keys = Object.keys(action);
      if (keys.length === 0) return malformed('expected FIELD_NAME but found [END_OBJECT]');
      const opName = keys[0]!;
      if (opName !== 'index' && opName !== 'create' && opName !== 'update' && opName !== 'delete') {
        return malformed(`expected field [create], [delete], [index] or [update] but found [${opName}]`);
      }
      const metaRaw = action[opName];
      if (metaRaw !== null && !isObject(metaRaw)) return malformed(`expected START_OBJECT or END_OBJECT but found [${tokenName(metaRaw)}]`);
      const meta = (metaRaw ?? {}) as Record<string, unknown>;
      for (const [k, v] of Object.entries(meta)) {
        if (!KNOWN_ACTION_PARAMS.has(k)) {
          return esError(400, 'illegal_argument_exception', `Action/metadata line [${line}] contains an unknown parameter [${k}]`);
        }
        if ((Array.isArray(v) || isObject(v)) && !OBJECT_ACTION_PARAMS.has(k)) {
          return malformed(`expected a simple value for field [${k}] but found [${tokenName(v)}]`);
        }
      }
      if (keys.length > 1) return malformed('expected END_OBJECT but found [FIELD_NAME]');
      const index = meta._index !== undefined && meta._index !== null ? String(meta._index) : defaultIndex;
      const id = meta._id !== undefined && meta._id !== null ? String(meta._id) : undefined;
      if (opName === 'delete') {
        ops.push({ op: 'delete', index, id, meta, sourceText: '' });
        continue;
      }
      next = data.indexOf('\n', from);
      if (next === -1) {
        if (from !== data.length) return newlineError();
        break; // an action line without its source at the very end is dropped, like ES
      }
      line++;
      const sourceText = trimCR(data.slice(from, next));
      from = next + 1;
      if (opName === 'update') {
        let upd: unknown;
        try {
          upd = JSON.parse(sourceText);
        } catch (e) {
          return esError(400, 'x_content_parse_exception', jsonErrorReason(sourceText, line, e));
        }
        if (!isObject(upd)) return esError(400, 'x_content_parse_exception', `[${line}:1] [UpdateRequest] Expected START_OBJECT but was: ${tokenName(upd)}`);
        ops.push({ op: 'update', index, id, meta, sourceText, update: upd });
      } else {
        const op: BulkOp = opName === 'index' && meta.op_type === 'create' ? 'create' : opName;
        ops.push({ op, index, id, meta, sourceText });
      }
    }
    if (ops.length === 0) return esError(400, 'action_request_validation_exception', 'Validation Failed: 1: no requests added;');
    const validation: string[] = [];
    for (const o of ops) {
      if (o.index === undefined) validation.push('index is missing');
      if ((o.op === 'update' || o.op === 'delete') && o.id === undefined) validation.push('id is missing');
      if (o.id !== undefined && Buffer.byteLength(o.id) > 512) {
        validation.push(`id [${o.id}] is too long, must be no longer than 512 bytes but was: ${Buffer.byteLength(o.id)}`);
      }
    }
    if (validation.length > 0) {
      return esError(400, 'action_request_validation_exception', 'Validation Failed: ' + validation.map((v, i) => `${i + 1}: ${v};`).join(''));
    }

    const refresh = rec.query.refresh;
    const forcedRefresh = refresh === '' || refresh === 'true';
    const visible = forcedRefresh || refresh === 'wait_for';
    const items: Record<string, unknown>[] = [];
    let errors = false;
    for (const o of ops) {
      const item = executeOp(o, visible, forcedRefresh);
      if (item.error !== undefined) errors = true;
      items.push({ [o.op]: item });
    }
    return { status: 200, body: { took: Math.max(0, Date.now() - started), errors, items } };
  }

  function executeOp(o: ParsedOp, visible: boolean, forcedRefresh: boolean): Record<string, unknown> {
    const index = o.index!;
    const itemError = (status: number, error: Record<string, unknown>, id: string | undefined = o.id) => ({ _index: index, _id: id ?? null, status, error });
    const badName = invalidIndexName(index);
    if (badName !== null) {
      return itemError(400, { type: 'invalid_index_name_exception', reason: `Invalid index name [${index}], ${badName}`, index_uuid: '_na_', index });
    }
    // parse the document
    let doc: unknown;
    let parseError: string | null = null;
    if (o.op === 'index' || o.op === 'create') {
      try {
        doc = JSON.parse(o.sourceText);
        if (!isObject(doc)) parseError = `[1:1] failed to parse: Malformed content, found extra data or must start with an object (found [${tokenName(doc)}])`;
      } catch (e) {
        doc = o.sourceText;
        parseError = `${jsonErrorReason(o.sourceText, 1, e).replace(/^\[1:(\d+)\] /, '[1:$1] failed to parse: ')}`;
      }
    } else if (o.op === 'update') {
      doc = o.update;
    }
    const id = o.id ?? (o.op === 'index' || o.op === 'create' ? generateId() : undefined);
    const existingIndex = indices.get(index);
    // injected failures
    if (options.itemFailures) {
      const key = `${o.op}\u0000${index}\u0000${o.id ?? ''}\u0000${o.sourceText}`;
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      const action: BulkAction = { op: o.op, index, meta: o.meta };
      if (o.id !== undefined) action.id = o.id;
      const f = options.itemFailures(action, doc, attempt);
      if (f) {
        const { status, type, reason, ...extra } = f;
        const error: Record<string, unknown> = { type, reason };
        if (status !== 429) Object.assign(error, { index_uuid: existingIndex?.uuid ?? '_na_', shard: '0', index });
        Object.assign(error, extra);
        return itemError(status, error, id);
      }
    }
    if (parseError !== null) {
      return itemError(
        400,
        {
          type: 'document_parsing_exception',
          reason: parseError,
          caused_by: { type: 'x_content_parse_exception', reason: parseError.replace('failed to parse: ', '') },
        },
        id,
      );
    }
    const shards = { total: 2, successful: 1, failed: 0 };
    const success = (d: { id: string; version: number; seqNo: number }, result: string, status: number) => {
      const out: Record<string, unknown> = { _index: index, _id: d.id, _version: d.version, result };
      if (forcedRefresh) out.forced_refresh = true;
      out._shards = result === 'noop' ? { total: 0, successful: 0, failed: 0 } : shards;
      out._seq_no = d.seqNo;
      out._primary_term = 1;
      out.status = status;
      return out;
    };
    if (o.op === 'delete') {
      if (!existingIndex) {
        return itemError(404, { type: 'index_not_found_exception', reason: `no such index [${index}]`, 'resource.type': 'index_expression', 'resource.id': index, index_uuid: '_na_', index });
      }
      const key = docKey(index, id!);
      const existing = store.get(key);
      const seqNo = existingIndex.seqNo++;
      if (!existing) return success({ id: id!, version: 1, seqNo }, 'not_found', 404);
      store.delete(key);
      return success({ id: id!, version: existing.version + 1, seqNo }, 'deleted', 200);
    }
    const st = ensureIndex(index);
    const key = docKey(index, id!);
    const existing = store.get(key);
    if (o.op === 'create' || o.op === 'index') {
      if (o.op === 'create' && existing) {
        duplicatesRejected++;
        return itemError(
          409,
          {
            type: 'version_conflict_engine_exception',
            reason: `[${id}]: version conflict, document already exists (current version [${existing.version}])`,
            index_uuid: st.uuid,
            shard: '0',
            index,
          },
          id,
        );
      }
      const d: DocState = { index, id: id!, source: doc, version: existing ? existing.version + 1 : 1, seqNo: st.seqNo++, visible: visible || (existing?.visible ?? false) };
      store.set(key, d);
      return success(d, existing ? 'updated' : 'created', existing ? 200 : 201);
    }
    // update
    const upd = o.update!;
    if ('script' in upd) {
      return itemError(400, { type: 'illegal_argument_exception', reason: 'scripted updates are not supported by this test endpoint' });
    }
    const partial = isObject(upd.doc) ? upd.doc : undefined;
    if (!existing) {
      const upsertSource = upd.doc_as_upsert === true ? partial : isObject(upd.upsert) ? upd.upsert : undefined;
      if (!upsertSource) {
        return itemError(404, { type: 'document_missing_exception', reason: `[${id}]: document missing`, index_uuid: st.uuid, shard: '0', index });
      }
      const d: DocState = { index, id: id!, source: upsertSource, version: 1, seqNo: st.seqNo++, visible };
      store.set(key, d);
      return success(d, 'created', 201);
    }
    if (!partial) {
      return itemError(400, { type: 'action_request_validation_exception', reason: 'Validation Failed: 1: script or doc is missing;' });
    }
    const merged = deepMerge(isObject(existing.source) ? existing.source : {}, partial);
    if (upd.detect_noop !== false && JSON.stringify(merged) === JSON.stringify(existing.source)) {
      return success(existing, 'noop', 200);
    }
    existing.source = merged;
    existing.version++;
    existing.seqNo = st.seqNo++;
    existing.visible = existing.visible || visible;
    return success(existing, 'updated', 200);
  }

  // ---------------------------------------------------------------- other endpoints

  function info(): Reply {
    return {
      status: 200,
      body: {
        name: 'es-endpoint-node-0',
        cluster_name: 'sfprocessor-test',
        cluster_uuid: clusterUuid,
        version: {
          number: version,
          build_flavor: 'default',
          build_type: 'docker',
          build_hash: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
          build_date: '2025-07-01T00:00:00.000000000Z',
          build_snapshot: false,
          lucene_version: '9.12.2',
          minimum_wire_compatibility_version: '7.17.0',
          minimum_index_compatibility_version: '7.0.0',
        },
        tagline: 'You Know, for Search',
      },
    };
  }

  function parseJsonBody(rec: RecordedRequest): { value: unknown } | Reply {
    if (rec.body.trim() === '') return { value: undefined };
    try {
      return { value: JSON.parse(rec.body) };
    } catch (e) {
      return esError(400, 'x_content_parse_exception', jsonErrorReason(rec.body, 1, e));
    }
  }

  function templateEndpoint(map: Map<string, unknown>, kind: 'index' | 'component', method: string, name: string | undefined, rec: RecordedRequest): Reply {
    const listKey = kind === 'index' ? 'index_templates' : 'component_templates';
    const itemKey = kind === 'index' ? 'index_template' : 'component_template';
    const notFound = (n: string) => esError(404, 'resource_not_found_exception', `${kind} template matching [${n}] not found`);
    if (name === undefined) {
      if (method === 'GET') return { status: 200, body: { [listKey]: [...map].map(([n, t]) => ({ name: n, [itemKey]: t })) } };
      return methodNotAllowed(rec, 'GET');
    }
    switch (method) {
      case 'PUT':
      case 'POST': {
        const parsed = parseJsonBody(rec);
        if ('status' in parsed) return parsed;
        if (!isObject(parsed.value)) return esError(400, 'parse_exception', 'request body is required');
        if (rec.query.create === 'true' && map.has(name)) {
          return esError(400, 'illegal_argument_exception', `${kind} template [${name}] already exists`);
        }
        map.set(name, parsed.value);
        return { status: 200, body: { acknowledged: true } };
      }
      case 'HEAD':
        return { status: map.has(name) ? 200 : 404 };
      case 'GET': {
        const re = globToRegExp(name);
        const found = [...map].filter(([n]) => re.test(n));
        if (found.length === 0) return notFound(name);
        return { status: 200, body: { [listKey]: found.map(([n, t]) => ({ name: n, [itemKey]: t })) } };
      }
      case 'DELETE':
        if (!map.delete(name)) return notFound(name);
        return { status: 200, body: { acknowledged: true } };
      default:
        return methodNotAllowed(rec, 'GET, PUT, POST, HEAD, DELETE');
    }
  }

  function methodNotAllowed(rec: RecordedRequest, allowed: string): Reply {
    return { status: 405, body: { error: `Incorrect HTTP method for uri [${rec.path}] and method [${rec.method}], allowed: [${allowed}]`, status: 405 } };
  }

  function noHandler(rec: RecordedRequest): Reply {
    return { status: 400, body: { error: `no handler found for uri [${rec.path}] and method [${rec.method}]`, status: 400 } };
  }

  function count(expr: string | undefined): Reply {
    const names = resolveIndices(expr);
    if (!Array.isArray(names)) return names;
    let n = 0;
    const set = new Set(names);
    for (const d of store.values()) if (d.visible && set.has(d.index)) n++;
    return { status: 200, body: { count: n, _shards: { total: names.length, successful: names.length, skipped: 0, failed: 0 } } };
  }

  function catIndices(expr: string | undefined, query: Record<string, string>): Reply {
    const names = resolveIndices(expr);
    if (!Array.isArray(names)) return names;
    const rows = names.map((n) => {
      let docs = 0;
      for (const d of store.values()) if (d.visible && d.index === n) docs++;
      return {
        health: 'yellow',
        status: 'open',
        index: n,
        uuid: indices.get(n)!.uuid,
        pri: '1',
        rep: '1',
        'docs.count': String(docs),
        'docs.deleted': '0',
        'store.size': `${docs}kb`,
        'pri.store.size': `${docs}kb`,
        'dataset.size': `${docs}kb`,
      };
    });
    if (query.format === 'json') return { status: 200, body: rows };
    const header = query.v !== undefined ? 'health status index uuid pri rep docs.count docs.deleted store.size pri.store.size dataset.size\n' : '';
    return {
      status: 200,
      body: header + rows.map((r) => Object.values(r).join(' ') + '\n').join(''),
      headers: { 'content-type': 'text/plain; charset=UTF-8' },
    };
  }

  function route(rec: RecordedRequest): Reply {
    const segs = rec.path
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
    const m = rec.method;
    const [a, b, c] = segs;
    if (segs.length === 0) {
      if (m === 'GET') return info();
      if (m === 'HEAD') return { status: 200 };
      return methodNotAllowed(rec, 'GET, HEAD');
    }
    if (a === '_bulk' && segs.length === 1) return m === 'POST' || m === 'PUT' ? bulk(rec, undefined) : methodNotAllowed(rec, 'POST, PUT');
    if (b === '_bulk' && segs.length === 2) return m === 'POST' || m === 'PUT' ? bulk(rec, a) : methodNotAllowed(rec, 'POST, PUT');
    if (a === '_index_template' && segs.length <= 2) return templateEndpoint(templates, 'index', m, b, rec);
    if (a === '_component_template' && segs.length <= 2) return templateEndpoint(componentTemplates, 'component', m, b, rec);
    if (a === '_cat' && b === 'indices' && segs.length <= 3) return m === 'GET' ? catIndices(c, rec.query) : methodNotAllowed(rec, 'GET');
    if (a === '_cluster' && b === 'health' && segs.length === 2) {
      if (m !== 'GET') return methodNotAllowed(rec, 'GET');
      return {
        status: 200,
        body: {
          cluster_name: 'sfprocessor-test',
          status: 'yellow',
          timed_out: false,
          number_of_nodes: 1,
          number_of_data_nodes: 1,
          active_primary_shards: indices.size,
          active_shards: indices.size,
          relocating_shards: 0,
          initializing_shards: 0,
          unassigned_shards: indices.size,
          delayed_unassigned_shards: 0,
          number_of_pending_tasks: 0,
          number_of_in_flight_fetch: 0,
          task_max_waiting_in_queue_millis: 0,
          active_shards_percent_as_number: indices.size === 0 ? 100 : 50,
        },
      };
    }
    if (a === '_count' && segs.length === 1) return m === 'GET' || m === 'POST' ? count(undefined) : methodNotAllowed(rec, 'GET, POST');
    if (b === '_count' && segs.length === 2) return m === 'GET' || m === 'POST' ? count(a) : methodNotAllowed(rec, 'GET, POST');
    if ((a === '_refresh' && segs.length === 1) || (b === '_refresh' && segs.length === 2)) {
      if (m !== 'GET' && m !== 'POST') return methodNotAllowed(rec, 'GET, POST');
      const names = resolveIndices(a === '_refresh' ? undefined : a);
      if (!Array.isArray(names)) return names;
      for (const n of names) refreshAll(n);
      return { status: 200, body: { _shards: { total: names.length * 2, successful: names.length, failed: 0 } } };
    }
    if (a !== undefined && !a.startsWith('_') && b === '_doc' && c !== undefined && segs.length === 3 && (m === 'GET' || m === 'HEAD')) {
      if (!indices.has(a)) return indexNotFound(a);
      const d = store.get(docKey(a, c));
      if (m === 'HEAD') return { status: d ? 200 : 404 };
      if (!d) return { status: 404, body: { _index: a, _id: c, found: false } };
      return { status: 200, body: { _index: a, _id: c, _version: d.version, _seq_no: d.seqNo, _primary_term: 1, found: true, _source: d.source } };
    }
    if (a !== undefined && segs.length === 1 && !a.startsWith('_')) {
      switch (m) {
        case 'HEAD': {
          const names = resolveIndices(a);
          return { status: Array.isArray(names) && names.length > 0 ? 200 : 404 };
        }
        case 'PUT': {
          const bad = invalidIndexName(a);
          if (bad !== null) return esError(400, 'invalid_index_name_exception', `Invalid index name [${a}], ${bad}`, { index_uuid: '_na_', index: a });
          if (indices.has(a)) {
            return esError(400, 'resource_already_exists_exception', `index [${a}/${indices.get(a)!.uuid}] already exists`, { index_uuid: indices.get(a)!.uuid, index: a });
          }
          const parsed = parseJsonBody(rec);
          if ('status' in parsed) return parsed;
          const st = ensureIndex(a);
          if (isObject(parsed.value)) {
            st.settings = parsed.value.settings;
            st.mappings = parsed.value.mappings;
          }
          return { status: 200, body: { acknowledged: true, shards_acknowledged: true, index: a } };
        }
        case 'GET': {
          const names = resolveIndices(a);
          if (!Array.isArray(names)) return names;
          return {
            status: 200,
            body: Object.fromEntries(
              names.map((n) => {
                const st = indices.get(n)!;
                return [
                  n,
                  {
                    aliases: {},
                    mappings: st.mappings ?? {},
                    settings: {
                      index: { ...(isObject(st.settings) ? st.settings : {}), uuid: st.uuid, provided_name: n, creation_date: String(st.createdAt), number_of_shards: '1', number_of_replicas: '1' },
                    },
                  },
                ];
              }),
            ),
          };
        }
        case 'DELETE': {
          const names = resolveIndices(a);
          if (!Array.isArray(names)) return names;
          for (const n of names) {
            indices.delete(n);
            for (const [k, d] of store) if (d.index === n) store.delete(k);
          }
          return { status: 200, body: { acknowledged: true } };
        }
        default:
          return methodNotAllowed(rec, 'GET, PUT, HEAD, DELETE');
      }
    }
    return noHandler(rec);
  }

  // ---------------------------------------------------------------- HTTP plumbing

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (down) {
      req.socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { ...req.headers },
      body: '',
      status: 0,
    };
    requests.push(rec);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let raw = Buffer.concat(chunks);
    let reply: Reply | null = null;
    const enc = String(req.headers['content-encoding'] ?? '').toLowerCase();
    try {
      if (enc.includes('gzip')) raw = gunzipSync(raw);
      else if (enc.includes('deflate')) raw = inflateSync(raw);
    } catch (e) {
      reply = esError(400, 'illegal_argument_exception', `failed to decompress the request body: ${(e as Error).message}`);
    }
    rec.body = raw.toString('utf8');
    if (options.delayMs) await sleep(options.delayMs);
    if (down) {
      req.socket.destroy();
      return;
    }
    const uri = req.url ?? '/';
    reply ??=
      authenticate(req, uri) ??
      checkMediaTypes(req, raw.length > 0) ??
      (() => {
        try {
          return route(rec);
        } catch (e) {
          return esError(500, 'exception', `es-endpoint internal error: ${(e as Error).stack ?? e}`);
        }
      })();
    if (reply.destroy) {
      req.socket.destroy();
      return;
    }
    send(req, res, rec, reply);
  }

  function send(req: http.IncomingMessage, res: http.ServerResponse, rec: RecordedRequest, reply: Reply): void {
    rec.status = reply.status;
    rec.response = reply.body;
    const headers: Record<string, string | string[]> = {};
    if (reply.status !== 401) headers['x-elastic-product'] = 'Elasticsearch';
    let payload: Buffer | null = null;
    if (reply.body !== undefined) {
      if (typeof reply.body === 'string') {
        payload = Buffer.from(reply.body, 'utf8');
        headers['content-type'] = 'text/plain; charset=UTF-8';
      } else {
        payload = Buffer.from(JSON.stringify(reply.body), 'utf8');
        const accept = String(req.headers.accept ?? '');
        headers['content-type'] = accept.includes('application/vnd.elasticsearch+json') ? 'application/vnd.elasticsearch+json;compatible-with=8' : 'application/json';
      }
    }
    Object.assign(headers, reply.headers ?? {});
    if (payload && payload.length > 0 && (options.compressResponses ?? true) && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      payload = gzipSync(payload);
      headers['content-encoding'] = 'gzip';
      headers.vary = 'accept-encoding';
    }
    headers['content-length'] = String(payload?.length ?? 0);
    res.writeHead(reply.status, headers);
    if (req.method === 'HEAD' || !payload) res.end();
    else res.end(payload);
  }

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(e));
      } else {
        res.destroy();
      }
    });
  };
  const server: http.Server = options.tls ? https.createServer({ cert: pem(options.tls.cert), key: pem(options.tls.key) }, onRequest) : http.createServer(onRequest);
  server.keepAliveTimeout = 60_000;
  server.on('connection', (s: Socket) => {
    if (down) {
      s.destroy();
      return;
    }
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const onError = (e: Error) => {
        server.off('listening', onListening);
        reject(e);
      };
      const onListening = () => {
        server.off('error', onError);
        resolve((server.address() as AddressInfo).port);
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(port, '127.0.0.1');
    });

  const port = await listen(options.port ?? 0);
  const url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;

  const interval = options.refreshIntervalMs ?? 1000;
  const timer = interval > 0 ? setInterval(() => refreshAll(), interval) : null;
  timer?.unref();

  function stopListening(): void {
    if (server.listening) server.close();
    for (const s of sockets) s.destroy();
    sockets.clear();
  }

  let downChain: Promise<void> = Promise.resolve();
  let closed = false;

  const endpoint: EsEndpoint = {
    url,
    port,
    options,
    requests,
    bulkRequests: () => requests.filter((r) => /(^|\/)_bulk$/.test(r.path)),
    docs(index?: string): StoredDoc[] {
      const out: StoredDoc[] = [];
      for (const d of store.values()) {
        if (index !== undefined && d.index !== index) continue;
        out.push({ index: d.index, id: d.id, source: d.source, version: d.version, seqNo: d.seqNo });
      }
      return out;
    },
    get duplicatesRejected() {
      return duplicatesRejected;
    },
    templates,
    componentTemplates,
    indices: () => [...indices.keys()],
    failNextBulk(n: number, status: number) {
      for (let i = 0; i < n; i++) forcedFailures.push(status);
    },
    refresh: () => refreshAll(),
    setDown(d: boolean): Promise<void> {
      downChain = downChain.then(async () => {
        if (closed || d === down) return;
        down = d;
        if (d) {
          stopListening();
          return;
        }
        // listen again on the same port (retry briefly in case the old handle is still closing)
        for (let i = 0; ; i++) {
          try {
            await listen(port);
            return;
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || i >= 50) throw e;
            await sleep(20);
          }
        }
      });
      return downChain;
    },
    get isDown() {
      return down;
    },
    async close(): Promise<void> {
      await downChain.catch(() => undefined);
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      const wasListening = server.listening;
      const done = wasListening ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
      for (const s of sockets) s.destroy();
      sockets.clear();
      server.closeAllConnections();
      await done;
    },
  };
  return endpoint;
}
