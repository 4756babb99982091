/** `a, b,,c` → `['a', 'b', 'c']`: a comma-separated setting's items, trimmed, empty ones dropped. */
export function commaList(v: string | undefined): string[] {
  return (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
