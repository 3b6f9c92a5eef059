/** Script `id` of a run: its own PRNG stream, a layer, then that layer's generator. */
import { Prng } from './prng.js';
import { genPreTls } from './gen-pre-tls.js';
import { genTls } from './gen-tls.js';
import { genPostLogin } from './gen-post-login.js';
import { LOGIN_TARGETS } from './target.js';
import type { Layer, Script } from './script.js';

/** Share of scripts per layer (a post-login script holds several inputs, the others one). */
const LAYER_WEIGHT: Record<Layer, number> = { 'pre-tls': 30, tls: 25, 'post-login': 45 };

export function generate(seed: number, id: number, layers: readonly Layer[]): Script {
  const r = new Prng(seed, id);
  const layer = r.weighted(layers.map((l) => [l, LAYER_WEIGHT[l]] as const));
  switch (layer) {
    case 'pre-tls':
      return { id, layer, steps: genPreTls(r) };
    case 'tls':
      return { id, layer, steps: genTls(r) };
    case 'post-login': {
      const { steps, target } = genPostLogin(r, LOGIN_TARGETS, id);
      return { id, layer, target, steps };
    }
  }
}
