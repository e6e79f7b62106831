/**
 * Compose stage, by mode, at the output size: the last step of the image pipeline before encode.
 */
import { resizeBytes, type Decoded } from './decode.ts';
import { imageToBytes, type Image, type Mask } from './image.ts';
import type { Mode } from './modes.ts';

/**
 * The photo with some of it rebuilt (inpaint.ts): `image` at working size, holding new pixels where
 * `hole` is 1 (chosen people removed) and the photo elsewhere.
 */
export interface Plate {
  image: Image;
  hole: Mask;
}

/**
 * Fits the stylized layer to the output size and, for person/background modes, blends it with the
 * real photo at full resolution (so kept pixels stay sharp). Returns 8-bit RGB and alpha.
 *
 * With a `plate`, the real photo under the stylized layer is first replaced inside the plate's hole:
 * the stylized people are pasted over a background with the real people taken out, so where their
 * soft edge lets the layer below show through, that is background, never a fringe of the real person.
 * Erase is the same with the plate itself as the layer (mask = the hole).
 */
export async function compose(
  decoded: Decoded,
  styled: Image,
  mask: Mask | undefined,
  mode: Mode,
  target: { width: number; height: number },
  plate?: Plate,
): Promise<{ rgb: Buffer; alpha?: Buffer }> {
  const { width, height } = target;
  const { original } = decoded;
  let styledBytes = imageToBytes(styled);
  if (styled.width !== width || styled.height !== height) {
    styledBytes = await resizeBytes(styledBytes, styled.width, styled.height, 3, width, height);
  }
  let rgb = styledBytes;
  if (mask && (mode === 'person' || mode === 'background')) {
    let photoBytes =
      original.width === width && original.height === height
        ? original.rgb
        : await resizeBytes(original.rgb, original.width, original.height, 3, width, height);
    if (plate) photoBytes = await underlay(photoBytes, plate, width, height);
    const maskBytes = await maskAt(mask, width, height);
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

/** The photo (output size) with the plate's rebuilt pixels laid in where its hole is. */
async function underlay(photo: Buffer, plate: Plate, width: number, height: number): Promise<Buffer> {
  let plateBytes = imageToBytes(plate.image);
  if (plate.image.width !== width || plate.image.height !== height) {
    plateBytes = await resizeBytes(plateBytes, plate.image.width, plate.image.height, 3, width, height);
  }
  const hole = await maskAt(plate.hole, width, height);
  const out = Buffer.allocUnsafe(width * height * 3);
  for (let p = 0, i = 0; p < width * height; p++, i += 3) {
    const t = hole[p] / 255;
    out[i] = Math.round(photo[i] + (plateBytes[i] - photo[i]) * t);
    out[i + 1] = Math.round(photo[i + 1] + (plateBytes[i + 1] - photo[i + 1]) * t);
    out[i + 2] = Math.round(photo[i + 2] + (plateBytes[i + 2] - photo[i + 2]) * t);
  }
  return out;
}

async function maskAt(mask: Mask, width: number, height: number): Promise<Buffer> {
  const bytes = maskToBytes(mask);
  return mask.width === width && mask.height === height ? bytes : resizeBytes(bytes, mask.width, mask.height, 1, width, height);
}

function maskToBytes(mask: Mask): Buffer {
  const out = Buffer.allocUnsafe(mask.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, mask.data[i])) * 255);
  return out;
}
