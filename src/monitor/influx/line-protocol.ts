/**
 * InfluxDB line protocol (1.x), written: `measurement,tag=v field=1.5,text="a" 1700000000000`.
 * Escaping per https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/:
 * commas and spaces in measurements; commas, equals signs and spaces in tag keys, tag values
 * and field keys; double quotes and backslashes in string field values. Numbers are written
 * as floats (never `i`), so a field keeps one type across every point.
 */

export type FieldValue = number | string | boolean;

export interface Point {
  readonly measurement: string;
  /** Empty or undefined tag values are left out (InfluxDB refuses them). */
  readonly tags?: Readonly<Record<string, string | number | undefined>>;
  /** Undefined and non-finite numbers are left out. */
  readonly fields: Readonly<Record<string, FieldValue | undefined>>;
  /** Unix epoch milliseconds (the writer posts with precision=ms). */
  readonly timeMs: number;
}

export function escapeMeasurement(name: string): string {
  return name.replace(/[, \n]/g, (char) => (char === '\n' ? '\\n' : `\\${char}`));
}

export function escapeKey(text: string): string {
  return text.replace(/[,= \n]/g, (char) => (char === '\n' ? '\\n' : `\\${char}`));
}

export function escapeStringField(text: string): string {
  return `"${text.replace(/[\\"]/g, (char) => `\\${char}`).replace(/\n/g, '\\n')}"`;
}

function fieldValue(value: FieldValue): string | undefined {
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return escapeStringField(value);
  if (!Number.isFinite(value)) return undefined;
  // Plain decimal (no exponent for ordinary figures), always a float to InfluxDB.
  return String(value);
}

/** One point as a line; undefined when it has no field to write. */
export function encodePoint(point: Point): string | undefined {
  const fields = Object.entries(point.fields)
    .flatMap(([key, value]) => {
      if (value === undefined) return [];
      const text = fieldValue(value);
      return text === undefined ? [] : [`${escapeKey(key)}=${text}`];
    })
    .join(',');
  if (fields === '') return undefined;
  const tags = Object.entries(point.tags ?? {})
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined && String(entry[1]) !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `,${escapeKey(key)}=${escapeKey(String(value))}`)
    .join('');
  return `${escapeMeasurement(point.measurement)}${tags} ${fields} ${Math.round(point.timeMs)}`;
}
