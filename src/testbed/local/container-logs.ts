/** Container logs through dockerode, demultiplexed. */
import type Docker from 'dockerode';

/**
 * Splits the engine's multiplexed stdout/stderr stream (8-byte frame headers) as returned
 * for a container without a TTY. A buffer that is not multiplexed is returned as stdout.
 */
export function demuxDockerBuffer(buffer: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const kind = buffer[offset];
    if ((kind !== 0 && kind !== 1 && kind !== 2) || buffer[offset + 1] !== 0 || buffer[offset + 2] !== 0) {
      return { stdout: buffer.toString('utf8'), stderr: '' };
    }
    const size = buffer.readUInt32BE(offset + 4);
    const chunk = buffer.subarray(offset + 8, offset + 8 + size);
    (kind === 2 ? err : out).push(chunk);
    offset += 8 + size;
  }
  if (offset < buffer.length && offset === 0) return { stdout: buffer.toString('utf8'), stderr: '' };
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/** The last `tailLines` lines of a container's logs (stdout and stderr interleaved by frame). */
export async function containerLogs(
  docker: Docker,
  containerId: string,
  tailLines?: number,
): Promise<string> {
  const buffer = (await docker.getContainer(containerId).logs({
    stdout: true,
    stderr: true,
    follow: false,
    ...(tailLines === undefined ? {} : { tail: tailLines }),
  })) as unknown as Buffer;
  const frames: string[] = [];
  let offset = 0;
  const raw = Buffer.isBuffer(buffer) ? buffer : Buffer.from(String(buffer));
  while (offset + 8 <= raw.length) {
    const kind = raw[offset];
    if ((kind !== 1 && kind !== 2) || raw[offset + 1] !== 0) return raw.toString('utf8');
    const size = raw.readUInt32BE(offset + 4);
    frames.push(raw.subarray(offset + 8, offset + 8 + size).toString('utf8'));
    offset += 8 + size;
  }
  return frames.length > 0 || raw.length === 0 ? frames.join('') : raw.toString('utf8');
}
