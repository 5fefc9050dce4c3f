/**
 * Just enough of the WebAssembly binary format (core spec and its SIMD proposal) to write the
 * learner's kernels opcode by opcode, so that nothing needs a compiler: LEB128 numbers, sections,
 * the instructions the kernels use, a counted loop, and a one-function module over tfjs' memory.
 */
export const unsignedLeb = (value: number): number[] => {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
};
const signedLeb = (value: number): number[] => {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
};
export const section = (id: number, bytes: number[]) => [id, ...unsignedLeb(bytes.length), ...bytes];
export const name = (s: string) => [...unsignedLeb(s.length), ...Buffer.from(s, 'utf8')];

// Instructions (WebAssembly binary format).
export const get = (l: number) => [0x20, l];
export const set = (l: number) => [0x21, l];
export const i32 = (v: number) => [0x41, ...signedLeb(v)];
export const ADD = [0x6a];
export const EQ = [0x46];
export const SELECT = [0x1b];
export const MUL = [0x6c];
export const AND = [0x71];
export const SHL = [0x74];
export const LT_U = [0x49];
const GE_U = [0x4f];
export const F32_LOAD = [0x2a, 0x02, 0x00];
export const F32_STORE = [0x38, 0x02, 0x00];
export const F32_ADD = [0x92];
export const F32_MUL = [0x94];
export const F32_ZERO = [0x43, 0, 0, 0, 0];
export const V128_LOAD = [0xfd, 0x00, 0x00, 0x00];
export const V128_STORE = [0xfd, 0x0b, 0x00, 0x00];
export const F32X4_SPLAT = [0xfd, 0x13];
export const F32X4_ADD = [0xfd, 0xe4, 0x01];
export const F32X4_MUL = [0xfd, 0xe6, 0x01];
export const END = [0x0b];

/** `for (counter = start; counter < limit; counter += step) body` (unsigned; skipped when start ≥ limit). */
// biome-ignore format: instruction sequences, laid out as the loops they encode
export function forLoop(counter: number, start: number[], limit: number[], step: number, body: number[]): number[] {
  return [
    ...start,
    ...set(counter),
    0x02, 0x40, // block
    ...get(counter), ...limit, ...GE_U, 0x0d, 0, // br_if out
    0x03, 0x40, // loop
    ...body,
    ...get(counter), ...i32(step), ...ADD, ...set(counter),
    ...get(counter), ...limit, ...LT_U, 0x0d, 0, // br_if loop
    ...END,
    ...END,
  ];
}

export const F32X4_ABS = [0xfd, 0xe0, 0x01];
export const F32_DIV = [0x95];
export const F32_SQRT = [0x91];
export const F32_CONVERT_I32_U = [0xb3];
/** Lane `lane` of an f32x4 as an f32. */
export const f32x4Lane = (lane: number) => [0xfd, 0x1f, lane];
export const F32X4_SUB = [0xfd, 0xe5, 0x01];
export const F32X4_LT = [0xfd, 0x43];
export const V128_AND = [0xfd, 0x4e];
export const F32X4_DIV = [0xfd, 0xe7, 0x01];
export const F32X4_MIN = [0xfd, 0xe8, 0x01];
export const F32X4_MAX = [0xfd, 0xe9, 0x01];
/** The f32 constant `c`. */
export const f32 = (c: number) => [0x43, ...new Uint8Array(new Float32Array([c]).buffer)];
/** `c` in all four lanes. */
export const f32x4 = (c: number) => [...f32(c), ...F32X4_SPLAT];

/**
 * A module importing `env.memory` and exporting one function `name` of `params` i32 parameters and
 * no result, with `locals` (counts of i32, f32 and v128 locals after the parameters) and `body`.
 */
export function moduleBytes(
  exported: string,
  params: number,
  locals: { i32: number; f32: number; v128: number },
  body: number[],
): Uint8Array<ArrayBuffer> {
  const declared = [
    [locals.i32, 0x7f],
    [locals.f32, 0x7d],
    [locals.v128, 0x7b],
  ].filter(([n]) => n! > 0);
  const code = [...unsignedLeb(declared.length), ...declared.flat(), ...body, ...END];
  // biome-ignore format: module sections, laid out as the binary format orders them
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, params, ...new Array(params).fill(0x7f), 0]), // type: (i32 × params) → ()
    ...section(2, [1, ...name('env'), ...name('memory'), 0x02, 0x00, 1]), // import env.memory (min 1 page)
    ...section(3, [1, 0]),
    ...section(7, [1, ...name(exported), 0x00, 0]),
    ...section(10, [1, ...unsignedLeb(code.length), ...code]),
  ]);
}
