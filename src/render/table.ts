/**
 * Columns padded to their widest cell, two spaces apart. The last column is
 * left unpadded and takes no part in the widths: it holds free text (an
 * error message) that may be long.
 */
export function renderColumns(header: string[], rows: string[][]): string[] {
  const last = header.length - 1;
  const widths = header.map((h, i) =>
    i === last ? 0 : Math.max(h.length, ...rows.map((r) => r[i]!.length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === last ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}
