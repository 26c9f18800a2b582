// Compact per-sample blobs of the matrix: float32 distances and uint32 sample indices, always
// little-endian (whatever the machine), plus their sha256 and base64 forms for JSON, and the
// canonical JSON (sorted keys) the content hashes and the grid hash are computed over.
import { createHash } from "node:crypto";
import os from "node:os";

export class BlobFormatError extends Error {
  override name = "BlobFormatError";
}

/** Float32 little-endian; Infinity and -0 survive, NaN is refused (a distance is never NaN). */
export function float32ToBlob(values: ArrayLike<number>): Buffer {
  const out = Buffer.alloc(4 * values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) throw new BlobFormatError(`value ${i} is NaN`);
    out.writeFloatLE(v, 4 * i);
  }
  return out;
}

const LITTLE_ENDIAN = os.endianness() === "LE";

export function blobToFloat32(blob: Uint8Array): Float32Array {
  if (blob.length % 4 !== 0) throw new BlobFormatError(`a float32 blob needs a multiple of 4 bytes, got ${blob.length}`);
  const out = new Float32Array(blob.length / 4);
  if (LITTLE_ENDIAN) {
    // The blob's bytes are the array's bytes: one copy (loading a 33,000-row matrix reads 16 M values).
    new Uint8Array(out.buffer).set(blob);
    return out;
  }
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(4 * i);
  return out;
}

/**
 * Float32 blobs of known byte lengths as views into one buffer, each filled when its blob arrives:
 * loading a large matrix allocates once instead of once per row (33,000 small buffers cost time
 * and fragment memory), and reads its blobs page by page, so they are never all held at once
 * next to their copy (MatrixStore.snapshot).
 */
export function float32Views(byteLengths: readonly number[]): { views: Float32Array[]; fill(i: number, blob: Uint8Array): void } {
  let total = 0;
  for (const n of byteLengths) {
    if (n % 4 !== 0) throw new BlobFormatError(`a float32 blob needs a multiple of 4 bytes, got ${n}`);
    total += n / 4;
  }
  const all = new Float32Array(total);
  const bytes = new Uint8Array(all.buffer);
  const offsets: number[] = [];
  let offset = 0;
  const views = byteLengths.map((n) => {
    offsets.push(offset);
    const view = all.subarray(offset, offset + n / 4);
    offset += n / 4;
    return view;
  });
  const fill = (i: number, blob: Uint8Array): void => {
    const view = views[i]!;
    if (blob.length !== 4 * view.length) throw new BlobFormatError(`blob ${i} has ${blob.length} bytes, expected ${4 * view.length}`);
    if (LITTLE_ENDIAN) bytes.set(blob, 4 * offsets[i]!);
    else view.set(blobToFloat32(blob));
  };
  return { views, fill };
}

/** Uint32 little-endian; every value must be an integer in [0, 2^32). */
export function uint32ToBlob(values: ArrayLike<number>): Buffer {
  const out = Buffer.alloc(4 * values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new BlobFormatError(`value ${i} (${v}) is not an integer in [0, 2^32)`);
    out.writeUInt32LE(v, 4 * i);
  }
  return out;
}

export function blobToUint32(blob: Uint8Array): number[] {
  if (blob.length % 4 !== 0) throw new BlobFormatError(`a uint32 blob needs a multiple of 4 bytes, got ${blob.length}`);
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const out = new Array<number>(blob.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readUInt32LE(4 * i);
  return out;
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function toBase64(blob: Uint8Array): string {
  return Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength).toString("base64");
}

/** Strict base64 (standard alphabet, padded): Node's decoder silently skips bad characters, this refuses them. */
export function fromBase64(text: string): Buffer {
  if (!BASE64.test(text)) throw new BlobFormatError("not valid base64 (standard alphabet, with padding)");
  return Buffer.from(text, "base64");
}

/** JSON with object keys sorted at every level: equal values give equal text (for hashing). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}
