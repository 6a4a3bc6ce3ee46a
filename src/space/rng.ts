// Seeded pseudo-random numbers for the samplers: every search is a pure function of its
// seed, so a sweep that is resumed or rerun asks for exactly the same candidates.
// sfc32 (small fast counting generator) seeded through splitmix32.

export interface Rng {
  /** uniform in [0, 1) */
  next(): number;
  /** uniform integer in [0, n) */
  int(n: number): number;
  /** uniform bigint in [0, n) (n >= 1) */
  bigint(n: bigint): bigint;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** A generator from a seed and optional stream ids (e.g. [seed, generation]). */
export function createRng(seed: number, ...stream: number[]): Rng {
  let mix = splitmix32(seed);
  for (const s of stream) mix = splitmix32((mix() ^ Math.imul(s + 1, 0x27d4eb2f)) >>> 0);
  let a = mix();
  let b = mix();
  let c = mix();
  let d = mix() | 1;
  const u32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) u32();
  const next = () => (u32() * 2 ** 21 + (u32() >>> 11)) / 2 ** 53;
  return {
    next,
    int: (n) => Math.floor(next() * n),
    bigint: (n) => {
      if (n <= 0n) throw new RangeError('bigint(n) needs n >= 1');
      // rejection sampling over whole 32-bit words: unbiased for any n
      const bits = n.toString(2).length;
      const words = Math.ceil(bits / 32);
      const mask = (1n << BigInt(bits)) - 1n;
      for (;;) {
        let v = 0n;
        for (let i = 0; i < words; i++) v = (v << 32n) | BigInt(u32());
        v &= mask;
        if (v < n) return v;
      }
    },
  };
}
