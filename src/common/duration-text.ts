/** A bound or a wait as a message says it: whole seconds from 1 s, else ms (`120 s`, `300 ms`). */
export function durationText(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}
