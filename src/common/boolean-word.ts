/**
 * A true/false setting written as a word (a config file, an environment variable): true,
 * yes, y, 1 or false, no, n, 0, in any case; undefined for anything else. One rule for
 * every command's settings.
 */
export function booleanWord(text: string): boolean | undefined {
  const lower = text.trim().toLowerCase();
  if (['true', 'yes', 'y', '1'].includes(lower)) return true;
  if (['false', 'no', 'n', '0'].includes(lower)) return false;
  return undefined;
}
