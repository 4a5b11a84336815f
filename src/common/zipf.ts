/**
 * Zipf-distributed ranks over a finite set, and a counter-based uniform source.
 *
 * `ZipfSampler(n, exponent)` draws a rank k in 1..n with probability proportional to
 * k^-exponent (rank 1 the most likely), by rejection-inversion (W. Hörmann and
 * G. Derflinger, "Rejection-inversion to generate variates from monotone discrete
 * distributions", ACM TOMACS 6(3), 1996): O(1) set-up and memory for any n, on average
 * fewer than 1.1 uniform numbers per draw. The same method and shape as Apache Commons
 * RNG's RejectionInversionZipfSampler and Go's `rand.NewZipf(r, s, v = 1, imax = n - 1)`
 * (which returns k - 1 and needs s > 1); here any exponent > 0 is allowed, so YCSB's
 * usual 0.99 works too.
 *
 * `hashUniform(seed, counter, draw)` is a pure function of its arguments: the same
 * inputs give the same number in every thread, so a choice made from it (which key a
 * send writes) does not depend on which worker makes it.
 */

/** log1p(x) / x, accurate near 0. */
function log1pOverX(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.log1p(x) / x : 1 - x * (0.5 - x * (1 / 3 - 0.25 * x));
}

/** expm1(x) / x, accurate near 0. */
function expm1OverX(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.expm1(x) / x : 1 + x * 0.5 * (1 + (x / 3) * (1 + 0.25 * x));
}

export class ZipfSampler {
  private readonly hIntegralX1: number;
  private readonly hIntegralN: number;
  private readonly squeeze: number;

  /** `n` ranks (a whole number ≥ 1, at most 2^53 − 1), `exponent` > 0 (finite). */
  constructor(
    readonly n: number,
    readonly exponent: number,
  ) {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`zipf: n ${n} is not a whole number >= 1`);
    if (!Number.isFinite(exponent) || exponent <= 0)
      throw new RangeError(`zipf: exponent ${exponent} is not a number > 0`);
    this.hIntegralX1 = this.hIntegral(1.5) - 1;
    this.hIntegralN = this.hIntegral(n + 0.5);
    this.squeeze = 2 - this.hIntegralInverse(this.hIntegral(2.5) - this.h(2));
  }

  /** A rank in 1..n; `uniform()` must return numbers in [0, 1). */
  sample(uniform: () => number): number {
    for (;;) {
      const u = this.hIntegralN + uniform() * (this.hIntegralX1 - this.hIntegralN);
      const x = this.hIntegralInverse(u);
      let k = Math.floor(x + 0.5);
      if (k < 1) k = 1;
      else if (k > this.n) k = this.n;
      if (k - x <= this.squeeze || u >= this.hIntegral(k + 0.5) - this.h(k)) return k;
    }
  }

  /** P(rank = k), exactly (sums the normalising constant: for tests and small n). */
  probability(k: number): number {
    let total = 0;
    for (let i = 1; i <= this.n; i++) total += i ** -this.exponent;
    return k ** -this.exponent / total;
  }

  /** H(x) = ∫₁ˣ t^-s dt, written to stay accurate as s → 1 (where it is log x). */
  private hIntegral(x: number): number {
    const logX = Math.log(x);
    return expm1OverX((1 - this.exponent) * logX) * logX;
  }

  private h(x: number): number {
    return Math.exp(-this.exponent * Math.log(x));
  }

  private hIntegralInverse(x: number): number {
    let t = x * (1 - this.exponent);
    if (t < -1) t = -1; // rounding can push it just past its bound
    return Math.exp(log1pOverX(t) * x);
  }
}

/** MurmurHash3's 32-bit finaliser: a bijection with full avalanche. */
function mix32(value: number): number {
  let x = value | 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** A 32-bit seed from a string (FNV-1a over its UTF-16 code units, then mixed). */
export function seedFromString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return mix32(hash);
}

const TWO_POW_32 = 2 ** 32;

/**
 * A number in [0, 1) with 53 random bits, from (seed, counter, draw): `counter` is a
 * whole number in 0..2^53 (a send's sequence number), `draw` a small whole number
 * (the how-many-th number this counter needs).
 */
export function hashUniform(seed: number, counter: number, draw = 0): number {
  const low = counter % TWO_POW_32;
  const high = Math.floor(counter / TWO_POW_32);
  let state = mix32(seed ^ 0x9e3779b9);
  state = mix32(state ^ low);
  state = mix32(state ^ high ^ 0x27d4eb2f);
  state = mix32(state ^ Math.imul(draw + 1, 0x165667b1));
  const second = mix32(state ^ 0x61c88647);
  return ((state >>> 5) * 67108864 + (second >>> 6)) / 9007199254740992;
}
