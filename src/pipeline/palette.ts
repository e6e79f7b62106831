/**
 * Colour palettes: k-means in YCbCr with chroma weighted up, shared by the grade's flat colours and
 * papercut's layers.
 */

/**
 * The k-means palette of YCbCr pixels (interleaved): k·3 centre values (k ≤ `colours`), seeded at
 * brightness quantiles, so the same pixels always give the same palette.
 */
export function paletteOf(data: Float32Array, colours: number, chromaWeight = 4): Float64Array {
  const n = data.length / 3;
  const step = Math.max(1, Math.floor(n / 20000));
  const samples: number[] = [];
  for (let p = 0; p < n; p += step) samples.push(p * 3);
  // Seeds: samples sorted by luma, taken at evenly spaced quantiles.
  const sorted = [...samples].sort((a, b) => data[a] - data[b]);
  const k = Math.max(2, Math.min(colours, sorted.length));
  const centres = new Float64Array(k * 3);
  for (let c = 0; c < k; c++) {
    const s = sorted[Math.floor(((c + 0.5) / k) * sorted.length)];
    centres[c * 3] = data[s];
    centres[c * 3 + 1] = data[s + 1];
    centres[c * 3 + 2] = data[s + 2];
  }
  const sums = new Float64Array(k * 3);
  const counts = new Float64Array(k);
  for (let iter = 0; iter < 10; iter++) {
    sums.fill(0);
    counts.fill(0);
    for (const s of samples) {
      const c = nearestColour(centres, k, data[s], data[s + 1], data[s + 2], chromaWeight);
      sums[c * 3] += data[s];
      sums[c * 3 + 1] += data[s + 1];
      sums[c * 3 + 2] += data[s + 2];
      counts[c]++;
    }
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) continue;
      centres[c * 3] = sums[c * 3] / counts[c];
      centres[c * 3 + 1] = sums[c * 3 + 1] / counts[c];
      centres[c * 3 + 2] = sums[c * 3 + 2] / counts[c];
    }
  }
  return centres;
}

/** Index of the YCbCr centre nearest to (y, cb, cr), with squared chroma distances weighted. */
export function nearestColour(centres: Float64Array, k: number, y: number, cb: number, cr: number, chromaWeight = 4): number {
  let best = 0;
  let bestD = Infinity;
  for (let c = 0; c < k; c++) {
    const dy = centres[c * 3] - y;
    const dcb = centres[c * 3 + 1] - cb;
    const dcr = centres[c * 3 + 2] - cr;
    const d = dy * dy + chromaWeight * (dcb * dcb + dcr * dcr);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}
