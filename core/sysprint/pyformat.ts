/**
 * Python-compatible text rendering, so our sysprint output is byte-identical to upstream's:
 * json.dumps defaults (ensure_ascii, ", " and ": " separators), csv excel dialect, str()/repr().
 */

const NEEDS_JSON_ESCAPE = /["\\\u0000-\u001f\u007f-\uffff]/; // json.dumps escapes all but 0x20–0x7e
const HEX = '0123456789abcdef';

/** A JSON string literal as Python's json.dumps writes it (ASCII only, lowercase \u escapes). */
export function pyJsonString(s: string): string {
  if (!NEEDS_JSON_ESCAPE.test(s)) return '"' + s + '"';
  let out = '"';
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string;
    if (c === 0x22) esc = '\\"';
    else if (c === 0x5c) esc = '\\\\';
    else if (c >= 0x20 && c < 0x7f) continue;
    else if (c === 0x0a) esc = '\\n';
    else if (c === 0x0d) esc = '\\r';
    else if (c === 0x09) esc = '\\t';
    else if (c === 0x08) esc = '\\b';
    else if (c === 0x0c) esc = '\\f';
    else esc = '\\u' + HEX[(c >> 12) & 15] + HEX[(c >> 8) & 15] + HEX[(c >> 4) & 15] + HEX[c & 15];
    out += s.slice(last, i) + esc;
    last = i + 1;
  }
  return out + s.slice(last) + '"';
}

/** Python repr() of a str: single quotes unless the text has ' and no ". */
export function pyRepr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = q;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const c = s.charCodeAt(i);
    if (ch === '\\') out += '\\\\';
    else if (ch === q) out += '\\' + q;
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + HEX[c >> 4] + HEX[c & 15];
    else if (c >= 0x80 && c < 0xa0) out += '\\x' + HEX[c >> 4] + HEX[c & 15];
    else out += ch;
  }
  return out + q;
}

/** Python str() of a structured value, as csv.writer applies it (lists and dicts use repr). */
export function pyStr(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'string') return v;
  return pyReprValue(v);
}

function pyReprValue(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return pyRepr(v);
  if (Array.isArray(v)) return '[' + v.map(pyReprValue).join(', ') + ']';
  if (typeof v === 'object') {
    return (
      '{' +
      Object.entries(v as Record<string, unknown>)
        .map(([k, x]) => pyRepr(k) + ': ' + pyReprValue(x))
        .join(', ') +
      '}'
    );
  }
  return String(v);
}

/** A JSON value as json.dumps renders it (strings, numbers, booleans, null, arrays, plain objects). */
export function pyJsonValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return pyJsonString(v);
  if (Array.isArray(v)) return '[' + v.map(pyJsonValue).join(', ') + ']';
  return (
    '{' +
    Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => pyJsonString(k) + ': ' + pyJsonValue(x))
      .join(', ') +
    '}'
  );
}

const CSV_QUOTE = /[",\r\n]/;

/** One CSV field, excel dialect with minimal quoting. */
export function csvField(s: string): string {
  return CSV_QUOTE.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}
