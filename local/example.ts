/**
 * `examples/shop` as tier D's node runs it, decided without I/O: its application from the
 * locally built image (the example names the registry a user would push to). Its services come
 * from the local images through the Project's `serviceImages` (`SERVICE_IMAGES` of images.ts).
 *
 * @module
 */
import { fileURLToPath } from 'node:url';
import { isScalar, parseDocument } from 'yaml';

export const SHOP_MANIFEST = fileURLToPath(new URL('../examples/shop/platform.yaml', import.meta.url));

/**
 * The manifest with every application's image replaced by `images[application]`, and nothing
 * else changed: the value is replaced in the text, so comments and layout stay as they are.
 */
export function withImages(text: string, images: Readonly<Record<string, string>>): string {
  const doc = parseDocument(text);
  const edits: Array<[start: number, end: number, value: string]> = [];
  for (const [app, ref] of Object.entries(images)) {
    const node = doc.getIn(['applications', app, 'image'], true);
    if (!isScalar(node) || !node.range) throw new Error(`the manifest has no application ${app} with an image`);
    edits.push([node.range[0], node.range[1], JSON.stringify(ref)]);
  }
  let out = text;
  for (const [start, end, value] of edits.sort((x, y) => y[0] - x[0])) out = out.slice(0, start) + value + out.slice(end);
  return out;
}
