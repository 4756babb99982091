/** Path helpers with Go filepath semantics (upstream's field values depend on them). */

/** Lexically clean a path like Go's filepath.Clean. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const s = out.join('/');
  return rooted ? '/' + s : s === '' ? '.' : s;
}

/** Last element (Go filepath.Base): "" → ".", trailing slashes dropped, "/" → "/". */
export function baseName(p: string): string {
  if (p === '') return '.';
  let end = p.length;
  while (end > 0 && p.charCodeAt(end - 1) === 47) end--;
  if (end === 0) return '/';
  const i = p.lastIndexOf('/', end - 1);
  return p.slice(i + 1, end);
}

/** Parent directory (Go filepath.Dir). */
export function dirName(p: string): string {
  const i = p.lastIndexOf('/');
  return cleanPath(i < 0 ? '' : p.slice(0, i + 1));
}

const SOCKET_PAIR = /^([0-9a-fA-F]+)->([0-9a-fA-F]+) (\S*)/;

/**
 * Unix-socket paths come as "<hex>-><hex> <path>": split into the path and the socket pair
 * (the pair re-rendered in lowercase hex). Other paths pass through with an empty pair.
 */
export function splitSymlink(text: string): { path: string; symlink: string } {
  if (text.indexOf('->') < 0) return { path: text, symlink: '' };
  const m = SOCKET_PAIR.exec(text);
  if (!m) return { path: text, symlink: '' };
  const a = BigInt('0x' + m[1]!).toString(16);
  const b = BigInt('0x' + m[2]!).toString(16);
  return { path: m[3]!, symlink: `${a}->${b}` };
}
