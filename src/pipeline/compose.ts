/**
 * Compose stage, by mode, at the output size: the last step of the image pipeline before encode.
 */
import { resizeBytes, type Decoded } from './decode.ts';
import { imageToBytes, type Image, type Mask } from './image.ts';
import type { Mode } from './modes.ts';

/**
 * Fits the stylized layer to the output size and, for person/background modes, blends it with the
 * real photo at full resolution (so kept pixels stay sharp). Returns 8-bit RGB and alpha.
 */
export async function compose(
  decoded: Decoded,
  styled: Image,
  mask: Mask | undefined,
  mode: Mode,
  target: { width: number; height: number },
): Promise<{ rgb: Buffer; alpha?: Buffer }> {
  const { width, height } = target;
  const { original } = decoded;
  let styledBytes = imageToBytes(styled);
  if (styled.width !== width || styled.height !== height) {
    styledBytes = await resizeBytes(styledBytes, styled.width, styled.height, 3, width, height);
  }
  let rgb = styledBytes;
  if (mask && (mode === 'person' || mode === 'background')) {
    const photoBytes =
      original.width === width && original.height === height
        ? original.rgb
        : await resizeBytes(original.rgb, original.width, original.height, 3, width, height);
    let maskBytes = maskToBytes(mask);
    if (mask.width !== width || mask.height !== height) {
      maskBytes = await resizeBytes(maskBytes, mask.width, mask.height, 1, width, height);
    }
    rgb = Buffer.allocUnsafe(width * height * 3);
    const stylizedWhere = mode === 'person' ? 1 : 0; // person: styled on the person; background: styled off it
    for (let p = 0, i = 0; p < width * height; p++, i += 3) {
      const m = maskBytes[p] / 255;
      const t = stylizedWhere ? m : 1 - m;
      rgb[i] = Math.round(photoBytes[i] + (styledBytes[i] - photoBytes[i]) * t);
      rgb[i + 1] = Math.round(photoBytes[i + 1] + (styledBytes[i + 1] - photoBytes[i + 1]) * t);
      rgb[i + 2] = Math.round(photoBytes[i + 2] + (styledBytes[i + 2] - photoBytes[i + 2]) * t);
    }
  }
  let alpha = original.alpha;
  if (alpha && (original.width !== width || original.height !== height)) {
    alpha = await resizeBytes(alpha, original.width, original.height, 1, width, height);
  }
  return { rgb, alpha };
}

function maskToBytes(mask: Mask): Buffer {
  const out = Buffer.allocUnsafe(mask.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, mask.data[i])) * 255);
  return out;
}
