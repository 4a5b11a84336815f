/**
 * A load client: reads its spec from the first line of its input, waits for the agreed start
 * instant, runs its share of the schedule with the shared generator (runLoad), prints an
 * `alive` line each second (the coordinator's health check) and, at the end, one `result` line
 * with its recorder state and its own LoadResult. `stop` on its input, or the input closing,
 * ends the load early (the result then says interrupted). src/clients/main.ts is its entry in
 * the load client image.
 */
import { createInterface } from 'node:readline';
import { formatError } from '../common/errors.js';
import { newDownNodes, runLoadRecorded } from '../load/index.js';
import type { LoadProgress } from '../load/types.js';
import { mergeIntervals, type IntervalLatency } from '../measure/interval.js';
import { parseClientSpec, parseNodeStateLine, STOP_LINE, type ClientLine, type ClientSpec } from './wire.js';

export const ALIVE_INTERVAL_MS = 1000;

/** Runs one client over `input` (spec, then control lines); returns the exit code. */
export async function runClient(
  input: NodeJS.ReadableStream,
  print: (line: string) => void,
): Promise<number> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  const stop = new AbortController();
  let resolveSpec!: (line: string | undefined) => void;
  const specLine = new Promise<string | undefined>((resolve) => (resolveSpec = resolve));
  let haveSpec = false;
  let stoppedBeforeSpec = false;
  // --fault-load: nodes the coordinator says are down, by the spec's endpoint index
  let downNodes: Int32Array | undefined;
  let endpointIds: readonly string[] = [];
  const nodeStates = new Map<string, 'down' | 'up'>();
  lines.on('line', (line) => {
    const text = line.trim();
    if (text === '') return; // keep-alive
    if (!haveSpec) {
      haveSpec = true;
      // stopped before its spec came (Ctrl-C while the clients started): nothing to run
      if (text === STOP_LINE) stoppedBeforeSpec = true;
      resolveSpec(stoppedBeforeSpec ? undefined : text);
    } else if (text === STOP_LINE) stop.abort();
    else {
      const state = parseNodeStateLine(text);
      if (state) nodeStates.set(state.node, state.state);
      if (state && downNodes) {
        const index = endpointIds.indexOf(state.node);
        if (index >= 0) Atomics.store(downNodes, index, state.state === 'down' ? 1 : 0);
      }
    }
  });
  lines.on('close', () => {
    resolveSpec(undefined);
    stop.abort(); // the coordinator is gone: end the load
  });
  const emit = (line: ClientLine) => print(JSON.stringify(line));
  // Up and reading, from the start and each second (a line printed before the coordinator
  // listens is lost): it sets the start instant once every client has said so.
  let clientId = '';
  let progress: Omit<LoadProgress, 'latency'> | undefined;
  // the latencies of every tick since the last alive line, merged: each sent once, none lost
  let pending: IntervalLatency | undefined;
  const sayAlive = () => {
    const latency = pending;
    pending = undefined;
    emit({
      type: 'alive',
      clientId,
      atEpochMs: Date.now(),
      ...(progress ? { progress: { ...progress, ...(latency ? { latency } : {}) } } : {}),
    });
  };
  sayAlive();
  const alive = setInterval(sayAlive, ALIVE_INTERVAL_MS);
  try {
    return await runSpec(await specLine);
  } finally {
    clearInterval(alive);
    lines.close();
  }

  async function runSpec(text: string | undefined): Promise<number> {
    if (text === undefined) return stoppedBeforeSpec ? 0 : 2;
    let spec: ClientSpec;
    try {
      spec = parseClientSpec(text);
    } catch (error) {
      emit({ type: 'error', clientId: 'unknown', message: formatError(error) });
      return 2;
    }
    clientId = spec.clientId;
    endpointIds = spec.options.endpoints.map((endpoint) => endpoint.nodeId);
    if ((spec.options.faultLoad ?? 'redirect') !== 'keep') {
      downNodes = newDownNodes(endpointIds.length);
      for (const [node, value] of nodeStates) {
        const index = endpointIds.indexOf(node);
        if (index >= 0 && value === 'down') Atomics.store(downNodes, index, 1);
      }
    }
    try {
      const { result, state, kindStates } = await runLoadRecorded({
        ...spec.options,
        ...(downNodes ? { downNodes } : {}),
        signal: stop.signal,
        onProblem: (line) => emit({ type: 'problem', clientId, line }),
        onProgress: ({ latency, ...counts }) => {
          progress = counts;
          if (latency) pending = mergeIntervals([pending, latency]);
        },
      });
      if (pending) sayAlive(); // the last ticks' latencies, before the result
      emit({ type: 'result', clientId, state, result, ...(kindStates ? { kindStates } : {}) });
      return 0;
    } catch (error) {
      emit({ type: 'error', clientId, message: formatError(error) });
      return 1;
    }
  }
}
