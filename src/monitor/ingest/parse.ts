/**
 * What the ingest endpoint accepts, parsed: JSON (one point or an array of them) or
 * InfluxDB line protocol. A point is a name, a number, optional string tags and an optional
 * time in milliseconds since the epoch. Bad input is one line naming what is wrong.
 * Pure functions.
 */

export interface IngestPoint {
  readonly name: string;
  readonly value: number;
  readonly tags?: Readonly<Record<string, string>>;
  /** Milliseconds since the epoch, when the sender gave a time. */
  readonly tsMs?: number;
}

export type Parsed = { readonly points: IngestPoint[] } | { readonly error: string };

/** Most points in one request. */
export const MAX_POINTS_PER_REQUEST = 10_000;

const NAME = /^[A-Za-z0-9_.:/-]{1,200}$/;

/** Line-protocol timestamps' unit (`?precision=` on the request; Influx's default: ns). */
export type Precision = 'ns' | 'us' | 'ms' | 's';

export function parseIngest(
  body: string,
  contentType: string | undefined,
  precision: Precision = 'ns',
): Parsed {
  const text = body.trim();
  if (text === '') return { error: 'empty body: send a JSON point, an array of them, or line protocol' };
  const json = /json/i.test(contentType ?? '') || text.startsWith('{') || text.startsWith('[');
  return json ? parseJson(text) : parseLineProtocol(text, precision);
}

function parseJson(text: string): Parsed {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return { error: `not JSON: ${(error as Error).message.split('\n')[0]}` };
  }
  const items = Array.isArray(data) ? data : [data];
  if (items.length > MAX_POINTS_PER_REQUEST)
    return { error: `${items.length} points in one request; send at most ${MAX_POINTS_PER_REQUEST}` };
  const points: IngestPoint[] = [];
  for (const [index, item] of items.entries()) {
    const where = Array.isArray(data) ? `point ${index}: ` : '';
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      return { error: `${where}a point is an object {"name", "value", "tags"?, "ts"?}` };
    const { name, value, tags, ts, ...rest } = item as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length > 0)
      return { error: `${where}unknown field "${extra[0]}"; a point has name, value, tags, ts` };
    if (typeof name !== 'string' || !NAME.test(name))
      return {
        error: `${where}"name" must be 1-200 letters, digits or _ . : / - (got ${JSON.stringify(name)})`,
      };
    if (typeof value !== 'number' || !Number.isFinite(value))
      return { error: `${where}"value" of ${name} must be a finite number (got ${JSON.stringify(value)})` };
    if (ts !== undefined && (typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0))
      return {
        error: `${where}"ts" of ${name} must be milliseconds since the epoch (got ${JSON.stringify(ts)})`,
      };
    let tagMap: Record<string, string> | undefined;
    if (tags !== undefined) {
      if (typeof tags !== 'object' || tags === null || Array.isArray(tags))
        return { error: `${where}"tags" of ${name} must be an object of strings` };
      tagMap = {};
      for (const [key, tag] of Object.entries(tags)) {
        if (typeof tag !== 'string' && typeof tag !== 'number' && typeof tag !== 'boolean')
          return { error: `${where}tag "${key}" of ${name} must be a string` };
        tagMap[key] = String(tag);
      }
    }
    points.push({
      name,
      value,
      ...(tagMap && Object.keys(tagMap).length > 0 ? { tags: tagMap } : {}),
      ...(ts !== undefined ? { tsMs: ts as number } : {}),
    });
  }
  return { points };
}

const PRECISION_TO_MS: Readonly<Record<Precision, number>> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1000 };

/**
 * `measurement[,tag=value…] field=value[,field=value…] [timestamp]`, one point per line
 * (`#` comments and blank lines skipped). Each numeric field is a point: named after the
 * measurement when the field is `value`, else `measurement.field`. Integers (`12i`,
 * `12u`) and booleans (1/0) are numbers; a string field is refused.
 */
export function parseLineProtocol(text: string, precision: Precision = 'ns'): Parsed {
  const points: IngestPoint[] = [];
  const lines = text.split('\n');
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `line ${index + 1}`;
    const parts = splitUnescaped(line, ' ');
    if (parts.length < 2 || parts.length > 3)
      return { error: `${where}: expected "measurement[,tags] fields [timestamp]" (line protocol)` };
    const [head, fieldText, timeText] = parts as [string, string, string | undefined];
    const [measurement, ...tagParts] = splitUnescaped(head, ',');
    const name = unescape(measurement ?? '');
    if (!name) return { error: `${where}: no measurement name` };
    const tags: Record<string, string> = {};
    for (const tag of tagParts) {
      const [key, value] = splitUnescaped(tag, '=');
      if (!key || value === undefined) return { error: `${where}: tag "${tag}" is not key=value` };
      tags[unescape(key)] = unescape(value);
    }
    let tsMs: number | undefined;
    if (timeText !== undefined) {
      if (!/^-?\d+$/.test(timeText)) return { error: `${where}: timestamp "${timeText}" is not an integer` };
      tsMs = Number(timeText) * PRECISION_TO_MS[precision];
    }
    for (const field of splitUnescaped(fieldText, ',')) {
      const [key, valueText] = splitUnescaped(field, '=');
      if (!key || valueText === undefined) return { error: `${where}: field "${field}" is not key=value` };
      const value = fieldNumber(valueText);
      if (value === undefined)
        return {
          error: `${where}: field ${unescape(key)}=${valueText} is not a number (strings are not taken)`,
        };
      const fieldName = unescape(key);
      points.push({
        name: fieldName === 'value' ? name : `${name}.${fieldName}`,
        value,
        ...(Object.keys(tags).length > 0 ? { tags: { ...tags } } : {}),
        ...(tsMs !== undefined ? { tsMs } : {}),
      });
      if (points.length > MAX_POINTS_PER_REQUEST)
        return { error: `more than ${MAX_POINTS_PER_REQUEST} points in one request` };
    }
  }
  if (points.length === 0) return { error: 'no points: only blank lines or comments' };
  return { points };
}

function fieldNumber(text: string): number | undefined {
  if (/^[tT](rue)?$|^TRUE$/.test(text)) return 1;
  if (/^[fF](alse)?$|^FALSE$/.test(text)) return 0;
  const number = /^-?\d+[iu]$/.test(text) ? Number(text.slice(0, -1)) : Number(text);
  return text.trim() !== '' && !text.startsWith('"') && Number.isFinite(number) ? number : undefined;
}

/** Splits on `separator` where it is not backslash-escaped. */
function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (char === '\\' && i + 1 < text.length) {
      current += char + (text[i + 1] as string);
      i++;
    } else if (char === separator) {
      parts.push(current);
      current = '';
    } else current += char;
  }
  parts.push(current);
  return separator === ' ' ? parts.filter((part) => part !== '') : parts;
}

function unescape(text: string): string {
  return text.replace(/\\(.)/g, '$1');
}
