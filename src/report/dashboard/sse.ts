/**
 * Server-sent events framing (the WHATWG HTML standard, "Server-sent events"): an event is
 * `event: NAME`, one `data:` line per line of its data, and a blank line. A line starting
 * with a colon is a comment (a keep-alive). The data here is JSON, so it has no newline,
 * but any text is framed correctly.
 */

/** An event name must not hold a line break (it would end the field). */
const EVENT_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

/** One event, framed: `event: NAME`, `data: …` per line, a blank line. */
export function sseEvent(name: string, data: string): string {
  if (!EVENT_NAME.test(name)) throw new Error(`sse: event name ${JSON.stringify(name)} is not a plain word`);
  const lines = data.split(/\r\n|\r|\n/).map((line) => `data: ${line}\n`);
  return `event: ${name}\n${lines.join('')}\n`;
}

/** A comment line: ignored by EventSource, keeps idle connections from being dropped. */
export function sseComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}

/** The headers of an event stream: no caching, no buffering by a proxy. */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
} as const;

/**
 * Parses a stream's text back into events (what an EventSource does), for tests and
 * scripts that read the stream: `{ event, data }` per dispatched event; comments skipped.
 */
export function parseSse(text: string): { event: string; data: string }[] {
  const events: { event: string; data: string }[] = [];
  let name = '';
  let data: string[] = [];
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === '') {
      if (data.length > 0) events.push({ event: name || 'message', data: data.join('\n') });
      name = '';
      data = [];
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') name = value;
    else if (field === 'data') data.push(value);
  }
  return events;
}
