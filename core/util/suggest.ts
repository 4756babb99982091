/** "Did you mean": the nearest of some known names by edit distance. */

export function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[b.length]!;
}

/** The known name nearest to `name`, if one is fewer than `limit` edits away; '' when none is. */
export function closest(name: string, known: Iterable<string>, limit = 4): string {
  let best = '';
  let bestD = limit;
  for (const n of known) {
    const d = levenshtein(name, n);
    if (d < bestD) [best, bestD] = [n, d];
  }
  return best;
}
