/** Container logs through the Docker client, demultiplexed (the same for local and remote nodes). */
import { PassThrough } from 'node:stream';
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

/** Reads a multiplexed stream to its end; stdout and stderr frames interleaved as they came. */
export function readDemuxed(docker: Docker, stream: NodeJS.ReadableStream): Promise<string> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (chunk: Buffer) => chunks.push(chunk));
  docker.modem.demuxStream(stream, sink, sink);
  return new Promise<string>((resolve, reject) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    stream.on('end', finish);
    stream.on('close', finish);
    stream.on('error', (error: Error) => {
      done = true;
      reject(error);
    });
  });
}

/**
 * The last `tailLines` lines of a container's logs (stdout and stderr interleaved by frame).
 * Read as a stream (dockerode buffers and JSON-parses a non-following answer, which a log
 * that happens to be JSON would not survive) and decoded with the modem's demuxStream.
 */
export function containerLogs(docker: Docker, containerId: string, tailLines?: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    docker.modem.dial(
      {
        path: `/containers/${encodeURIComponent(containerId)}/logs?`,
        method: 'GET',
        options: {
          stdout: true,
          stderr: true,
          follow: false,
          ...(tailLines === undefined ? {} : { tail: tailLines }),
        },
        isStream: true,
        statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
      },
      (error: unknown, stream: unknown) => {
        if (error) reject(error as Error);
        else readDemuxed(docker, stream as NodeJS.ReadableStream).then(resolve, reject);
      },
    );
  });
}
