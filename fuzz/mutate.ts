/**
 * Mutators: tolerated re-encodings (the decoder must give back the same value), hostile
 * structure-aware mutations of an item tree, and byte-level mutations. All driven by an {@link Rng}.
 *
 * @module
 */
import { type CborItem } from '../conformance/cbor.js';
import type { Rng } from './rng.js';

const INTERESTING_U64: readonly bigint[] = [
  0n,
  1n,
  2n,
  23n,
  24n,
  255n,
  256n,
  0xffffn,
  0x1_0000n,
  0xffff_ffffn,
  0x1_0000_0000n,
  (1n << 53n) - 1n,
  1n << 53n,
  (1n << 53n) + 1n,
  (1n << 63n),
  (1n << 64n) - 1n,
];
const INTERESTING_BYTES: readonly number[] = [0x00, 0x01, 0x17, 0x18, 0x1b, 0x1c, 0x1f, 0x3f, 0x5f, 0x7f, 0x80, 0x9f, 0xbf, 0xdf, 0xf6, 0xf7, 0xfb, 0xff];

/** Keys whose values the reference decoder caps or interprets (kept out of invented keys). */
export const SPECIAL_KEYS: ReadonlySet<string> = new Set([
  'type', 'body', 'status', 'value', 'error', 'code', 'severity', 'compression', 'path', 'name', 'auth_token',
  'message', 'details', 'worker_build', 'query', 'text', 'files', 'diagnostics', 'supported_compression', 'data',
]);

/** Fields the reference decoder fills in when absent: Option fields (when null) and Symbol line/column (when 0). */
const DEFAULTABLE_NULL = new Set(['auth_token', 'cached_index_info', 'worker_build', 'details']);
const DEFAULTABLE_ZERO = new Set(['line', 'column']);
/** Fields the reference reads as borrowed `&str`: indefinite-length text is refused there. */
const BORROWED_STR_KEYS = new Set(['path', 'text', 'name', 'message']);

function cloneTree(item: CborItem): CborItem {
  switch (item.k) {
    case 'array':
      return { ...item, items: item.items.map(cloneTree) };
    case 'map':
      return { ...item, entries: item.entries.map(([k, v]): [CborItem, CborItem] => [cloneTree(k), cloneTree(v)]) };
    case 'tag':
      return { ...item, item: cloneTree(item.item) };
    default:
      return { ...item };
  }
}

function widerWidth(v: bigint, rng: Rng): 1 | 2 | 4 | 8 | undefined {
  const options = ([1, 2, 4, 8] as const).filter((w) => v < 1n << BigInt(w * 8));
  return options.length ? rng.pick(options) : undefined;
}

function splitSizes(len: number, rng: Rng): number[] {
  const parts: number[] = [];
  let left = len;
  while (left > 0 && parts.length < 6) {
    const n = rng.int(0, left);
    parts.push(n);
    left -= n;
  }
  return parts;
}

/**
 * Re-encode a serde-style tree with variations the reference decoder tolerates [CBOR-10]:
 * indefinite lengths, non-minimal integers, tags, shuffled map keys, unknown extra keys,
 * `data` bytes as an array of u8, and dropping optional fields that hold their default.
 * The decoded value must not change. `parentKey` is the map key under which `item` sits.
 */
export function tolerantVariant(item: CborItem, rng: Rng, parentKey?: string, depth = 0): CborItem {
  let out: CborItem;
  switch (item.k) {
    case 'uint': {
      const width = rng.chance(0.3) ? widerWidth(item.v, rng) : undefined;
      out = width ? { k: 'uint', v: item.v, width } : item;
      break;
    }
    case 'bytes': {
      if (parentKey === 'data' && rng.chance(0.2)) {
        out = { k: 'array', items: [...item.v].map((b): CborItem => ({ k: 'uint', v: BigInt(b) })), indef: rng.chance(0.5) };
      } else if (rng.chance(0.3)) {
        out = { k: 'bytes', v: item.v, chunks: splitSizes(item.v.length, rng) };
      } else out = item;
      break;
    }
    case 'text':
      // path/text/name/message are borrowed &str in the reference: an indefinite text cannot be borrowed
      out = !BORROWED_STR_KEYS.has(parentKey ?? '') && rng.chance(0.3) ? { k: 'text', v: item.v, chunks: splitSizes(item.v.length, rng) } : item;
      break;
    case 'array':
      out = { k: 'array', items: item.items.map((it) => tolerantVariant(it, rng, undefined, depth + 1)), indef: rng.chance(0.3) };
      break;
    case 'map': {
      // only Symbol's line/column default to 0 (#[serde(default)]); RemoteDiagnostic's do not
      const isSymbol = item.entries.some(([k]) => k.k === 'text' && k.v === 'name');
      let entries = item.entries
        .filter(([k, v]) => {
          if (k.k !== 'text' || !rng.chance(0.3)) return true;
          if (DEFAULTABLE_NULL.has(k.v) && v.k === 'simple' && v.v === 22) return false;
          if (isSymbol && DEFAULTABLE_ZERO.has(k.v) && v.k === 'uint' && v.v === 0n) return false;
          return true;
        })
        .map(([k, v]): [CborItem, CborItem] => [
          // keys stay definite: the codec refuses indefinite-length keys (not in the documented tolerance)
          k,
          tolerantVariant(v, rng, k.k === 'text' ? k.v : undefined, depth + 1),
        ]);
      if (rng.chance(0.3)) {
        const n = rng.int(1, 2);
        // no arrays: an unknown key inherits its parent's caps, and under files/symbols/diagnostics
        // the validator requires ≥ 8 bytes per declared array item (validate_cbor.rs), even here
        for (let i = 0; i < n; i++) entries.push([{ k: 'text', v: `x_unknown_${i}` }, unknownValue(rng, false)]);
      }
      if (rng.chance(0.3)) entries = shuffle(entries, rng);
      out = { k: 'map', entries, indef: rng.chance(0.3) };
      break;
    }
    default:
      out = item;
  }
  // Tags are ignored by the reference decoder; 55799 (self-describe) and an unassigned one. Not on
  // null: serde_cbor decides Option from the next byte, so a tagged null is Some(null) → refused.
  if (depth < 60 && !(out.k === 'simple' && out.v === 22) && rng.chance(0.05)) out = { k: 'tag', tag: rng.pick([55799n, 40_000n]), item: out };
  return out;
}

function unknownValue(rng: Rng, arrays = true): CborItem {
  switch (rng.below(arrays ? 6 : 5)) {
    case 0:
      return { k: 'uint', v: rng.pick(INTERESTING_U64) };
    case 1:
      return { k: 'text', v: rng.pick(['', 'x', 'ünïcödé', '日本']) };
    case 2:
      return { k: 'simple', v: 22 };
    case 3:
      return { k: 'map', entries: [[{ k: 'text', v: 'nested' }, { k: 'simple', v: 21 }]] };
    case 4:
      return { k: 'bytes', v: rng.bytes(rng.int(0, 8)) };
    default:
      return { k: 'array', items: [{ k: 'simple', v: 22 }, { k: 'uint', v: 1n }] };
  }
}

function shuffle<T>(items: T[], rng: Rng): T[] {
  const a = items.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
}

/** Every node of a tree with a setter that replaces it in place. */
function collectSlots(root: { item: CborItem }): Array<{ get(): CborItem; set(v: CborItem): void; key?: string }> {
  const slots: Array<{ get(): CborItem; set(v: CborItem): void; key?: string }> = [];
  const visit = (get: () => CborItem, set: (v: CborItem) => void, key?: string): void => {
    slots.push(key === undefined ? { get, set } : { get, set, key });
    const node = get();
    if (node.k === 'array') node.items.forEach((_, i) => visit(() => node.items[i]!, (v) => (node.items[i] = v)));
    else if (node.k === 'map')
      node.entries.forEach((e, i) => {
        visit(() => node.entries[i]![0], (v) => (node.entries[i]![0] = v));
        visit(() => node.entries[i]![1], (v) => (node.entries[i]![1] = v), e[0].k === 'text' ? e[0].v : undefined);
      });
    else if (node.k === 'tag') visit(() => node.item, (v) => (node.item = v));
  };
  visit(() => root.item, (v) => (root.item = v));
  return slots;
}

/** A copy of `tree` with one random node (the root included) replaced by `item`. */
export function replaceRandomNode(tree: CborItem, rng: Rng, item: CborItem): CborItem {
  const root = { item: cloneTree(tree) };
  rng.pick(collectSlots(root)).set(item);
  return root.item;
}

/** The names of hostile tree mutations (recorded in regression files for readability). */
export const TREE_MUTATIONS = [
  'swap-type',
  'boundary-int',
  'negate-int',
  'drop-entry',
  'duplicate-entry',
  'rename-key',
  'non-text-key',
  'long-key',
  'null-value',
  'wrong-variant-name',
  'unknown-variant-with-body',
  'deep-nesting',
  'huge-declared-length',
  'big-map',
  'float',
  'long-string',
  'bad-utf8',
] as const;
export type TreeMutation = (typeof TREE_MUTATIONS)[number];

/**
 * Apply one hostile structure-aware mutation to a copy of `tree`. Returns the new tree and the
 * mutation's name. The result may or may not be valid: the caller's oracle decides.
 */
export function mutateTree(tree: CborItem, rng: Rng, which?: TreeMutation): { tree: CborItem; mutation: TreeMutation } {
  const root = { item: cloneTree(tree) };
  const slots = collectSlots(root);
  const slot = rng.pick(slots);
  const node = slot.get();
  const mutation = which ?? rng.pick(TREE_MUTATIONS);
  switch (mutation) {
    case 'swap-type':
      slot.set(unknownValue(rng));
      break;
    case 'boundary-int':
      slot.set({ k: 'uint', v: rng.pick(INTERESTING_U64) });
      break;
    case 'negate-int':
      slot.set({ k: 'nint', v: rng.pick(INTERESTING_U64) });
      break;
    case 'drop-entry':
    case 'duplicate-entry':
    case 'rename-key':
    case 'non-text-key':
    case 'long-key': {
      const maps = slots.map((s) => s.get()).filter((n): n is Extract<CborItem, { k: 'map' }> => n.k === 'map' && n.entries.length > 0);
      if (maps.length === 0) break;
      const m = rng.pick(maps);
      const i = rng.below(m.entries.length);
      const [k, v] = m.entries[i]!;
      if (mutation === 'drop-entry') m.entries.splice(i, 1);
      else if (mutation === 'duplicate-entry') m.entries.splice(i + 1, 0, [cloneTree(k), cloneTree(v)]);
      else if (mutation === 'rename-key') m.entries[i] = [{ k: 'text', v: rng.pick(['Type', 'typ', 'bodyy', 'id ', '']) }, v];
      else if (mutation === 'non-text-key') m.entries[i] = [rng.pick<CborItem>([{ k: 'uint', v: 1n }, { k: 'bytes', v: new Uint8Array([0x74]) }]), v];
      else m.entries[i] = [{ k: 'text', v: 'k'.repeat(rng.pick([64, 65, 200])) }, v];
      break;
    }
    case 'null-value':
      slot.set({ k: 'simple', v: rng.pick([22, 23]) });
      break;
    case 'wrong-variant-name': {
      const texts = slots.filter((s) => s.key === 'type' || s.key === 'status' || s.key === 'compression' || s.key === 'code' || s.key === 'severity');
      const target = texts.length ? rng.pick(texts) : slot;
      target.set(
        rng.pick<CborItem>([
          { k: 'text', v: 'brand_new_variant' },
          { k: 'text', v: 'unknown' },
          { k: 'uint', v: BigInt(rng.int(0, 9)) },
          { k: 'text', v: 'x'.repeat(65) },
          { k: 'text', v: 'PACKET' },
        ]),
      );
      break;
    }
    case 'unknown-variant-with-body': {
      const texts = slots.filter((s) => s.key === 'type');
      (texts.length ? rng.pick(texts) : slot).set({ k: 'text', v: 'future_variant' });
      break;
    }
    case 'deep-nesting': {
      let inner: CborItem = node;
      const depth = rng.pick([40, 63, 64, 65, 200]);
      for (let i = 0; i < depth; i++) inner = rng.chance(0.5) ? { k: 'array', items: [inner] } : { k: 'map', entries: [[{ k: 'text', v: 'n' }, inner]] };
      slot.set(inner);
      break;
    }
    case 'huge-declared-length': {
      const major = rng.pick([2, 3, 4, 5]);
      const claimed = rng.pick([0xffff_ffffn, (1n << 63n) - 1n, 100_000_000n, 1n << 40n]);
      const head = new Uint8Array(9);
      head[0] = (major << 5) | 27;
      for (let i = 0; i < 8; i++) head[8 - i] = Number((claimed >> BigInt(i * 8)) & 0xffn);
      slot.set({ k: 'raw', bytes: head });
      break;
    }
    case 'big-map': {
      const n = rng.pick([1024, 1025]);
      const entries: Array<[CborItem, CborItem]> = [];
      for (let i = 0; i < n; i++) entries.push([{ k: 'text', v: `k${i}` }, { k: 'simple', v: 22 }]);
      slot.set({ k: 'map', entries });
      break;
    }
    case 'float':
      slot.set({ k: 'float', v: rng.pick([0, 1, 2, 1.5, Number.NaN, Infinity, 2 ** 64]), width: rng.pick([4, 8] as const) });
      break;
    case 'long-string':
      slot.set({ k: 'text', v: 'é'.repeat(rng.pick([32, 33, 8192, 8193])) });
      break;
    case 'bad-utf8':
      slot.set({ k: 'raw', bytes: new Uint8Array([0x62, 0xc3, rng.pick([0x28, 0xff, 0x00])]) });
      break;
  }
  return { tree: root.item, mutation };
}

/** The names of byte-level mutations. */
export const BYTE_MUTATIONS = ['flip-bit', 'set-byte', 'insert', 'delete', 'truncate', 'duplicate-range', 'append'] as const;
export type ByteMutation = (typeof BYTE_MUTATIONS)[number];

/** Apply 1..`maxOps` byte-level mutations to a copy of `input`. */
export function mutateBytes(input: Uint8Array, rng: Rng, maxOps = 3): Uint8Array {
  let b = Array.from(input);
  const ops = rng.int(1, maxOps);
  for (let n = 0; n < ops; n++) {
    const op = rng.pick(BYTE_MUTATIONS);
    const pos = b.length ? rng.below(b.length) : 0;
    switch (op) {
      case 'flip-bit':
        if (b.length) b[pos] = (b[pos]! ^ (1 << rng.below(8))) & 0xff;
        break;
      case 'set-byte':
        if (b.length) b[pos] = rng.chance(0.6) ? rng.pick(INTERESTING_BYTES) : rng.below(256);
        break;
      case 'insert':
        b.splice(pos, 0, ...Array.from(rng.bytes(rng.int(1, 4))));
        break;
      case 'delete':
        b.splice(pos, rng.int(1, 4));
        break;
      case 'truncate':
        b = b.slice(0, pos);
        break;
      case 'duplicate-range': {
        const len = rng.int(1, Math.max(1, Math.min(16, b.length - pos)));
        b.splice(pos, 0, ...b.slice(pos, pos + len));
        break;
      }
      case 'append':
        b.push(...Array.from(rng.bytes(rng.int(1, 4))));
        break;
    }
  }
  return Uint8Array.from(b);
}
