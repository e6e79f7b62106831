/**
 * The style registry: the single source for Discord choices, the Telegram keyboard, CLI help and the
 * README table. Adding a style is one entry here.
 *
 * Three styles users ask for by name (genshin, shinchan, borderlands) have no public trained
 * generator. They are honest recipes — models we have plus a grade that captures the look — and say
 * "approximation". When a trained generator is dropped in as `models/<id>.onnx` with a manifest entry
 * of the same id (AnimeGAN I/O), `resolveStyle` uses it instead, for the scene and the faces.
 */
import { AnimefyError } from '../errors.ts';
import type { ColourTransfer } from './color.ts';
import type { GradeSpec } from './grade.ts';

export interface StyleDefinition {
  id: string;
  label: string;
  emoji: string;
  /** One line for menus and help. */
  description: string;
  /** Generator for the whole picture; null = a built-in filter (the grade) on the photo itself. */
  sceneModel: string | null;
  /** Generator for aligned face crops; null = faces stay with the scene model (or the filter). */
  faceModel: string | null;
  /** How much of the photo's large-scale colour to keep. */
  colour: ColourTransfer;
  /** Post-processing after the models. */
  grade?: GradeSpec;
  /** True for recipes standing in for a model that is not publicly available. */
  approximation: boolean;
  /** Licence of the weights this style runs on, in plain words. */
  licence: string;
}

const ANIMEGAN_LICENCE = 'AnimeGANv3 weights: non-commercial use only';
const WHITEBOX_LICENCE = 'White-box Cartoonization weights: CC BY-NC-SA 4.0, non-commercial';
const FILTER_LICENCE = 'No model weights: built-in filter';

export const STYLES: readonly StyleDefinition[] = Object.freeze([
  {
    id: 'hayao',
    label: 'Hayao',
    emoji: '🌿',
    description: 'Miyazaki-like hand-painted anime: soft colours, painted skies, anime faces.',
    sceneModel: 'hayao',
    faceModel: 'jp_face',
    colour: { chroma: 0.55, luma: 0.15 },
    grade: { saturation: 1.05 },
    approximation: false,
    licence: ANIMEGAN_LICENCE,
  },
  {
    id: 'shinkai',
    label: 'Shinkai',
    emoji: '🌅',
    description: 'Makoto Shinkai look: crisp light, luminous skies, detailed scenery, anime faces.',
    sceneModel: 'shinkai',
    faceModel: 'jp_face',
    colour: { chroma: 0.5, luma: 0.1 },
    grade: { saturation: 1.08, contrast: 0.08 },
    approximation: false,
    licence: ANIMEGAN_LICENCE,
  },
  {
    id: 'cartoon',
    label: 'Cartoon',
    emoji: '🖍️',
    description: 'Clean cartoon: flat shading and crisp outlines, faces keep their likeness.',
    sceneModel: 'whitebox',
    faceModel: 'whitebox',
    colour: { chroma: 0.3, luma: 0 },
    approximation: false,
    licence: WHITEBOX_LICENCE,
  },
  {
    id: 'sketch',
    label: 'Sketch',
    emoji: '✏️',
    description: 'Black-and-white line art, like a pencil portrait.',
    sceneModel: 'portrait_sketch',
    faceModel: 'portrait_sketch',
    colour: { chroma: 0, luma: 0 },
    approximation: false,
    licence: ANIMEGAN_LICENCE,
  },
  {
    id: 'genshin',
    label: 'Genshin',
    emoji: '✨',
    description: 'Vivid game-art look: saturated colour, bright clean light, anime faces (approximation).',
    sceneModel: 'shinkai',
    faceModel: 'jp_face',
    colour: { chroma: 0.45, luma: 0.1 },
    grade: {
      smooth: { radius: 4, eps: 80 },
      vibrance: 0.45,
      saturation: 1.2,
      brightness: 0.18,
      contrast: 0.2,
      outlines: { strength: 0.3, thickness: 1, scale: 1.2, amount: 0.1 },
      glow: 0.25,
    },
    approximation: true,
    licence: ANIMEGAN_LICENCE,
  },
  {
    id: 'shinchan',
    label: 'Shin-chan',
    emoji: '🖌️',
    description: 'Flat colour areas, smooth shapes and simple outlines, like a kids\' cartoon (approximation).',
    sceneModel: 'whitebox',
    faceModel: 'whitebox',
    colour: { chroma: 0.3, luma: 0 },
    grade: {
      smooth: { radius: 8, eps: 400 },
      saturation: 1.3,
      flatColours: 16,
      brightness: 0.1,
      outlines: { strength: 0.9, thickness: 3, scale: 2.5, amount: 0.08 },
    },
    approximation: true,
    licence: WHITEBOX_LICENCE,
  },
  {
    id: 'borderlands',
    label: 'Borderlands',
    emoji: '💥',
    description: 'Cel-shaded comic look: posterised light, heavy black ink outlines, strong contrast (approximation).',
    sceneModel: 'whitebox',
    faceModel: 'whitebox',
    colour: { chroma: 0.4, luma: 0 },
    grade: {
      smooth: { radius: 5, eps: 200 },
      celBands: { levels: 4, softness: 0.12 },
      saturation: 1.15,
      contrast: 0.4,
      outlines: { strength: 1, thickness: 3.5, scale: 2, amount: 0.1 },
    },
    approximation: true,
    licence: WHITEBOX_LICENCE,
  },
  {
    id: 'nostalgic',
    label: 'Nostalgic',
    emoji: '📼',
    description: 'Faded film photo: soft blacks, warm light, muted colour, grain and a gentle vignette.',
    sceneModel: null,
    faceModel: null,
    colour: { chroma: 0, luma: 0 },
    grade: {
      saturation: 0.65,
      film: { fade: 0.13, warmth: 1, grain: 6, vignette: 0.5 },
    },
    approximation: false,
    licence: FILTER_LICENCE,
  },
  {
    id: 'papercut',
    label: 'Papercut',
    emoji: '✂️',
    description: 'Layered paper cut-out: a few flat colour sheets stacked with soft shadows.',
    sceneModel: null,
    faceModel: null,
    colour: { chroma: 0, luma: 0 },
    grade: {
      papercut: { layers: 6, smoothness: 2.5, shadowOffset: 0.008, shadow: 0.5, detail: 14, texture: 0.015 },
    },
    approximation: false,
    licence: FILTER_LICENCE,
  },
  {
    id: 'comic',
    label: 'Comic',
    emoji: '🗯️',
    description: 'Comic-book print: bright flat colours, halftone dots in the shadows, bold ink lines.',
    sceneModel: null,
    faceModel: null,
    colour: { chroma: 0, luma: 0 },
    grade: {
      comic: {
        smooth: 4,
        eps: 150,
        lines: { strength: 0.95, width: 1.2, threshold: 1, softness: 5 },
        colours: 10,
        saturation: 1.5,
        pitch: 6,
        from: 0.42,
        to: 1,
        lift: 0.3,
        ink: [24, 22, 36],
      },
    },
    approximation: false,
    licence: FILTER_LICENCE,
  },
]);

export const DEFAULT_STYLE = 'hayao';

export const STYLE_IDS = STYLES.map((s) => s.id);

export function findStyle(id: string): StyleDefinition | undefined {
  const key = id.trim().toLowerCase().replace(/[\s_-]+/g, '');
  return STYLES.find((s) => s.id === key || s.label.toLowerCase().replace(/[\s_-]+/g, '') === key);
}

export function getStyle(id: string): StyleDefinition {
  const style = findStyle(id);
  if (!style) throw new AnimefyError('UNKNOWN_STYLE', { style: id, styles: STYLE_IDS.join(', ') });
  return style;
}

/** What runs for a style on this installation: a dropped-in trained generator replaces a recipe. */
export interface ResolvedStyle extends StyleDefinition {
  /** True when a trained generator `models/<id>.onnx` replaced the recipe. */
  trained: boolean;
}

/**
 * `hasModel(id)` tells whether a manifest entry with that id exists and its file is present.
 * Recipes prefer a trained generator of their own id.
 */
export function resolveStyle(id: string, hasModel: (modelId: string) => boolean): ResolvedStyle {
  const style = getStyle(id);
  if (style.approximation && hasModel(style.id)) {
    return {
      ...style,
      sceneModel: style.id,
      faceModel: style.id,
      grade: undefined,
      colour: { chroma: 0, luma: 0 },
      description: style.description.replace(' (approximation)', ''),
      approximation: false,
      licence: 'Licence of the trained model installed by the operator',
      trained: true,
    };
  }
  return { ...style, trained: false };
}

/** True for a built-in filter: no model, the photo itself is the scene (faces included). */
export function isFilterStyle(style: StyleDefinition): boolean {
  return style.sceneModel === null;
}

/** Model ids a style can need (for fetch checks and registry tests); none for a filter. */
export function styleModels(style: StyleDefinition): string[] {
  return [style.sceneModel, style.faceModel].filter((id): id is string => id !== null);
}

/** The README's style table, generated from the registry (`npm run docs`). */
export function stylesMarkdownTable(): string {
  const rows = STYLES.map((s) => {
    const models = isFilterStyle(s)
      ? 'none: built-in filter'
      : [s.sceneModel, s.faceModel && s.faceModel !== s.sceneModel ? `${s.faceModel} (faces)` : null].filter(Boolean).join(' + ') +
        (s.grade ? ' + grade' : '');
    return `| ${s.emoji} \`${s.id}\`${s.id === DEFAULT_STYLE ? ' (default)' : ''} | ${s.description} | ${models} | ${s.licence} |`;
  });
  return ['| style | what it looks like | models | weights licence |', '|---|---|---|---|', ...rows].join('\n');
}
