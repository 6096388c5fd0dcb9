import type { StreamAttributeValue, StreamImage } from './attribute-values';
import { canonicalDecimal } from './attribute-values';

/**
 * The names of the top-level attributes an update added, removed or changed, sorted. Sets are
 * compared as sets; numbers by value (`1.50` equals `1.5`).
 */
export function updatedFields(oldImage: StreamImage, newImage: StreamImage): string[] {
  const names = new Set([...Object.keys(oldImage), ...Object.keys(newImage)]);
  return [...names].filter((name) => !sameValue(oldImage[name], newImage[name])).sort();
}

export function sameValue(a: StreamAttributeValue | undefined, b: StreamAttributeValue | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.S !== undefined) return a.S === b.S;
  if (a.N !== undefined) return b.N !== undefined && canonicalDecimal(a.N) === canonicalDecimal(b.N);
  if (a.BOOL !== undefined) return a.BOOL === b.BOOL;
  if (a.NULL !== undefined) return b.NULL !== undefined;
  if (a.B !== undefined) return a.B === b.B;
  if (a.SS !== undefined) return b.SS !== undefined && sameSet(a.SS, b.SS);
  if (a.NS !== undefined)
    return b.NS !== undefined && sameSet(a.NS.map(canonicalDecimal), b.NS.map(canonicalDecimal));
  if (a.BS !== undefined) return b.BS !== undefined && sameSet(a.BS, b.BS);
  if (a.L !== undefined) {
    return (
      b.L !== undefined && a.L.length === b.L.length && a.L.every((value, i) => sameValue(value, b.L[i]))
    );
  }
  if (a.M !== undefined) return b.M !== undefined && updatedFields(a.M, b.M).length === 0;
  return false;
}

function sameSet<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  const members = new Set(a);
  return b.every((value) => members.has(value));
}
