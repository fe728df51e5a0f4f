/**
 * The id of block `block` staged by slice `slice` of a blob written over several activities: unique per slice, so
 * a retried slice replaces its own blocks, and of one length for every block of a blob (Blob Storage requires it).
 */
export function sliceBlockId(slice: number, block: number): string {
  return Buffer.from(`s${String(slice).padStart(6, '0')}b${String(block).padStart(6, '0')}`).toString('base64');
}
