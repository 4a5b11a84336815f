/** Types of scripts/test-lanes.mjs (vitest.config.ts and its unit test import it). */
export function lanesFor(cores: number, busy: number): number;
export function decideLanes(ms?: number, windows?: number): Promise<{ lanes: number; why: string }>;
