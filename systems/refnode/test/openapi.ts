/**
 * CometBFT's OpenAPI document (test/fixtures/cometbft-rpc/openapi.yaml) as ajv validators,
 * one per method's 200 reply.
 *
 * The document disagrees with CometBFT v0.38's own replies in a few places (parts of it predate
 * Tendermint 0.34, and it describes commit signatures two different ways). Where it does, the
 * refnode sends what CometBFT sends, which is what CosmJS requires, and ERRATA below patches the
 * document, each entry naming the path, what the document says and what CometBFT sends. Nothing
 * else is relaxed: every other schema applies as written.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import YAML from 'yaml';

const SPEC_PATH = resolve(import.meta.dirname, '../../../test/fixtures/cometbft-rpc/openapi.yaml');

type Json = Record<string, unknown>;

export interface Erratum {
  /** Slash-separated path under components/schemas. */
  readonly path: string;
  readonly documentSays: string;
  readonly cometbftSends: string;
  readonly patch: (schema: Json) => void;
}

const stringType = (s: Json): void => {
  s.type = 'string';
};
const integerType = (s: Json): void => {
  s.type = 'integer';
};
const dropRequired =
  (...names: string[]) =>
  (s: Json): void => {
    s.required = (s.required as string[]).filter((n) => !names.includes(n));
  };

export const ERRATA: readonly Erratum[] = [
  {
    path: 'Block/properties/data',
    documentSays: 'an array of txs',
    cometbftSends: '{"txs": [base64 tx, …]} (CosmJS reads block.data.txs)',
    patch: (s) => {
      for (const k of Object.keys(s)) delete s[k];
      Object.assign(s, {
        type: 'object',
        required: ['txs'],
        properties: { txs: { type: 'array', nullable: true, items: { type: 'string' } } },
      });
    },
  },
  {
    path: 'Block/properties/evidence',
    documentSays: 'an array of evidence',
    cometbftSends: '{"evidence": [...]} (EvidenceData; CosmJS reads block.evidence.evidence)',
    patch: (s) => {
      const items = s.items;
      for (const k of Object.keys(s)) delete s[k];
      Object.assign(s, {
        type: 'object',
        required: ['evidence'],
        properties: { evidence: { type: 'array', items } },
      });
    },
  },
  {
    path: 'Block/properties/last_commit/properties/height',
    documentSays: 'integer',
    cometbftSends: 'a string, as every int64 (CosmJS requires a non-empty string)',
    patch: stringType,
  },
  {
    path: 'Block/properties/last_commit/properties/signatures/items',
    documentSays: "the pre-0.34 vote ('Commit': type, height, round, block_id, validator_index …)",
    cometbftSends:
      "CommitSig {block_id_flag, validator_address, timestamp, signature}, as the document's own /commit reply says",
    patch: (s) => {
      for (const k of Object.keys(s)) delete s[k];
      Object.assign(s, { $ref: '#/components/schemas/CommitSig' });
    },
  },
  {
    path: 'CommitResponse/properties/result/properties/signed_header/properties/commit/properties/signatures/items/properties/signature',
    documentSays: 'a string',
    cometbftSends: 'null for a validator whose precommit is absent (block_id_flag 1)',
    patch: (s) => {
      s.nullable = true;
    },
  },
  {
    path: 'BlockMeta/properties/block_size',
    documentSays: 'integer',
    cometbftSends: 'a string (CosmJS requires a non-empty string)',
    patch: stringType,
  },
  {
    path: 'BlockResultsResponse/properties/result/properties/txs_results/items/properties/code',
    documentSays: 'a string',
    cometbftSends: 'a number (uint32; CosmJS requires a number)',
    patch: integerType,
  },
  {
    path: 'ConsensusParams/properties/block',
    documentSays: 'time_iota_ms required',
    cometbftSends: 'max_bytes and max_gas only (time_iota_ms left consensus params in Tendermint 0.35)',
    patch: dropRequired('time_iota_ms'),
  },
  {
    path: 'ConsensusParams/properties/evidence',
    documentSays: 'max_age required',
    cometbftSends: 'max_age_num_blocks, max_age_duration, max_bytes (what CosmJS reads)',
    patch: dropRequired('max_age'),
  },
  {
    path: 'TxResponse/properties/result/properties/tx_result',
    documentSays: 'tags required (Tendermint 0.32)',
    cometbftSends: 'events instead of tags',
    patch: dropRequired('tags'),
  },
  {
    path: 'BroadcastTxResponse',
    documentSays: 'error required beside result',
    cometbftSends: 'a JSON-RPC 2.0 reply: result or error, never both',
    patch: dropRequired('error'),
  },
  {
    path: 'BroadcastTxResponse/properties/result/properties/code',
    documentSays: 'a string',
    cometbftSends: 'a number (uint32; CosmJS requires a number)',
    patch: integerType,
  },
  {
    path: 'BroadcastTxCommitResponse',
    documentSays: 'error required beside result',
    cometbftSends: 'a JSON-RPC 2.0 reply: result or error, never both',
    patch: dropRequired('error'),
  },
  {
    path: 'BroadcastTxCommitResponse/properties/result/properties/check_tx/properties/code',
    documentSays: 'a string',
    cometbftSends: 'a number (CosmJS requires a number)',
    patch: integerType,
  },
  {
    path: 'BroadcastTxCommitResponse/properties/result/properties/deliver_tx/properties/code',
    documentSays: 'a string',
    cometbftSends: 'a number (CosmJS requires a number)',
    patch: integerType,
  },
];

function at(root: Json, path: string | readonly string[]): Json {
  let node: unknown = root;
  for (const key of typeof path === 'string' ? path.split('/') : path) {
    node = (node as Json | undefined)?.[key];
    if (node === undefined) throw new Error(`openapi: nothing at ${String(path)}`);
  }
  return node as Json;
}

export interface SpecValidators {
  /** Validates a whole JSON-RPC reply of `method` (its 200 response); returns the errors, or []. */
  reply(method: string, body: unknown): string[];
  /** Validates a value against components/schemas/<name>. */
  schema(name: string, value: unknown): string[];
  /** The methods the document describes. */
  readonly methods: readonly string[];
  /** The (patched) schema of a method's 200 reply, $refs resolved on use by `exampleOf`. */
  responseSchema(method: string): SchemaNode;
  /** components/schemas/<name>, patched. */
  schemaOf(name: string): SchemaNode;
}

/** A schema with the document it came from (to resolve $ref). */
export interface SchemaNode {
  readonly doc: Json;
  readonly schema: Json;
}

/** A value built from the document's `example`s (the first of each allOf/array), following $refs. */
export function exampleOf(node: SchemaNode, depth = 0): unknown {
  const { doc } = node;
  let schema = node.schema;
  if (depth > 20) return null;
  while (typeof schema.$ref === 'string') schema = at(doc, (schema.$ref as string).replace(/^#\//, ''));
  if (schema.example !== undefined) return schema.example;
  if (Array.isArray(schema.allOf)) {
    const parts = (schema.allOf as Json[]).map((s) => exampleOf({ doc, schema: s }, depth + 1));
    return Object.assign({}, ...(parts as object[]));
  }
  if (schema.type === 'array') {
    const items = schema.items as Json | undefined;
    return items === undefined ? [] : [exampleOf({ doc, schema: items }, depth + 1)];
  }
  const properties = schema.properties as Record<string, Json> | undefined;
  if (properties !== undefined) {
    return Object.fromEntries(
      Object.entries(properties).map(([k, s]) => [k, exampleOf({ doc, schema: s }, depth + 1)]),
    );
  }
  return null;
}

/** The document with ERRATA applied (default), or as written (`{ errata: false }`). */
export function loadSpec(options: { readonly errata?: boolean } = {}): SpecValidators {
  const doc = YAML.parse(readFileSync(SPEC_PATH, 'utf8')) as Json;
  const schemas = at(doc, 'components/schemas');
  if (options.errata !== false) for (const erratum of ERRATA) erratum.patch(at(schemas, erratum.path));
  // The commit signature as the document's /commit reply gives it, shared by both commits.
  schemas.CommitSig = at(
    schemas,
    'CommitResponse/properties/result/properties/signed_header/properties/commit/properties/signatures/items',
  );
  doc.$id = 'cometbft-openapi';
  // OpenAPI 3.0 schemas: `nullable` is understood; `example` and friends are annotations.
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addSchema(doc);
  const compiled = new Map<string, ValidateFunction>();
  const compile = (ref: string): ValidateFunction => {
    let fn = compiled.get(ref);
    if (fn === undefined) {
      fn = ajv.compile({ $ref: `cometbft-openapi#${ref}` });
      compiled.set(ref, fn);
    }
    return fn;
  };
  const errors = (fn: ValidateFunction, value: unknown): string[] =>
    fn(value) ? [] : (fn.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);
  const paths = doc.paths as Json;
  return {
    methods: Object.keys(paths).map((p) => p.slice(1)),
    reply(method, body) {
      if (paths[`/${method}`] === undefined) throw new Error(`openapi: no path /${method}`);
      return errors(compile(`/paths/~1${method}/get/responses/200/content/application~1json/schema`), body);
    },
    schema(name, value) {
      return errors(compile(`/components/schemas/${name}`), value);
    },
    responseSchema(method) {
      const path = [
        'paths',
        `/${method}`,
        'get',
        'responses',
        '200',
        'content',
        'application/json',
        'schema',
      ];
      return { doc, schema: at(doc, path) };
    },
    schemaOf(name) {
      return { doc, schema: at(schemas, name) };
    },
  };
}
