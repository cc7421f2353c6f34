import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { datasetScene, generateScene, renderScene, writeDataset, type DatasetRecord, type SceneSpec } from '../../../tools/scenes/index.ts';

interface Raster {
  data: Buffer;
  width: number;
  height: number;
}

async function decode(image: Buffer): Promise<Raster> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Mean RGB of the 3x3 block around a point given as fractions of the canvas. */
function meanAt(r: Raster, fx: number, fy: number): [number, number, number] {
  const x0 = Math.round(fx * r.width);
  const y0 = Math.round(fy * r.height);
  const sum = [0, 0, 0];
  for (let y = y0 - 1; y <= y0 + 1; y += 1) {
    for (let x = x0 - 1; x <= x0 + 1; x += 1) {
      for (let c = 0; c < 3; c += 1) sum[c]! += r.data[(y * r.width + x) * 3 + c]!;
    }
  }
  return [sum[0]! / 9, sum[1]! / 9, sum[2]! / 9];
}

function distance(a: readonly number[], b: readonly number[]): number {
  return Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
}

function distinctColors(r: Raster): number {
  const seen = new Set<number>();
  for (let i = 0; i < r.data.length; i += 3) seen.add((r.data[i]! << 16) | (r.data[i + 1]! << 8) | r.data[i + 2]!);
  return seen.size;
}

describe('generateScene', () => {
  it('gives the same bytes, spec and text for the same seed, and another scene for another seed', async () => {
    const a = await generateScene(1234);
    const b = await generateScene(1234);
    const c = await generateScene(1235);
    expect(b.image.equals(a.image)).toBe(true);
    expect(b.spec).toEqual(a.spec);
    expect([b.caption, b.questions]).toEqual([a.caption, a.questions]);
    expect(c.image.equals(a.image)).toBe(false);
  });

  it('draws each shape in its colour at its centre, at the canvas size and format of the spec', async () => {
    for (let seed = 0; seed < 40; seed += 1) {
      const scene = await generateScene(seed);
      const raster = await decode(scene.image);
      const meta = await sharp(scene.image).metadata();
      expect(meta.format).toBe(scene.format);
      expect([raster.width, raster.height]).toEqual([scene.spec.render.width, scene.spec.render.height]);
      for (const s of scene.spec.shapes) {
        // JPEG chroma subsampling and noise move small shapes' centres a little; 60 still separates every pair of names.
        expect(distance(meanAt(raster, s.cx, s.cy), s.rgb)).toBeLessThan(60);
      }
    }
  });
});

describe('renderScene', () => {
  it('renders an explicitly requested red circle on white', async () => {
    const scene = await renderScene({ shapes: [{ shape: 'circle', color: 'red' }] });
    expect(scene.caption).toBe('a large red circle on a white background');
    expect(scene.format).toBe('png');
    const raster = await decode(scene.image);
    const circle = scene.spec.shapes[0]!;
    expect(meanAt(raster, circle.cx, circle.cy)).toEqual([220, 30, 30]);
    expect(meanAt(raster, 0.9, 0.9)).toEqual([255, 255, 255]);
    expect(meanAt(raster, 0.5, 0.1)).toEqual([255, 255, 255]);
  });

  it('turns anti-aliasing off with crispEdges', async () => {
    const request = (antialias: boolean): Parameters<typeof renderScene>[0] => ({
      shapes: [
        { shape: 'star', color: 'blue', rotation: 10 },
        { shape: 'circle', color: 'yellow' },
      ],
      render: { antialias },
    });
    const smooth = await decode((await renderScene(request(true))).image);
    const crisp = await decode((await renderScene(request(false))).image);
    expect(distinctColors(crisp)).toBe(3);
    expect(distinctColors(smooth)).toBeGreaterThan(10);
  });

  it('adds seeded noise and encodes JPEG when asked', async () => {
    const spec: Parameters<typeof renderScene>[0] = {
      shapes: [{ shape: 'square', color: 'green' }],
      background: 'black',
      render: { noise: 6, noiseSeed: 9, format: 'jpeg', quality: 70 },
    };
    const a = await renderScene(spec);
    const b = await renderScene(spec);
    expect(a.image.equals(b.image)).toBe(true);
    expect((await sharp(a.image).metadata()).format).toBe('jpeg');
    expect(distinctColors(await decode(a.image))).toBeGreaterThan(50);
  });
});

describe('writeDataset', () => {
  it('writes images and an index whose records match datasetScene', async () => {
    const out = await mkdtemp(join(tmpdir(), 'scenes-'));
    try {
      await writeDataset({ out, seed: 5, count: 6, concurrency: 4 });
      const lines = (await readFile(join(out, 'index.jsonl'), 'utf8')).trim().split('\n');
      const records = lines.map((l) => JSON.parse(l) as DatasetRecord);
      expect(records.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5]);
      for (const record of records) {
        const scene = await datasetScene(5, record.index);
        const bytes = await readFile(join(out, record.file));
        expect(bytes.equals(scene.image)).toBe(true);
        expect(record.caption).toBe(scene.caption);
        expect(record.questions).toEqual(scene.questions);
        expect(record.spec as SceneSpec).toEqual(scene.spec);
        expect(record.file.endsWith(scene.format === 'png' ? '.png' : '.jpg')).toBe(true);
      }
      expect(JSON.parse(await readFile(join(out, 'meta.json'), 'utf8'))).toMatchObject({ seed: 5, count: 6 });
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
