/**
 * llama-swap's model-dispatched routes (reference 3.2): which paths take a model, and the
 * path each is forwarded as. Paths are exact, as in llama-swap (no trailing-slash variants).
 */

export interface ModelRoute {
  method: 'GET' | 'POST';
  path: string;
  /** Upstream path when it differs from `path`. */
  forwardAs?: string;
}

const POST_BODY = [
  '/v1/chat/completions',
  '/v1/responses',
  '/v1/completions',
  '/v1/messages',
  '/v1/messages/count_tokens',
  '/v1/embeddings',
  '/reranking',
  '/rerank',
  '/v1/rerank',
  '/v1/reranking',
  '/infill',
  '/completion',
  '/v1/audio/speech',
  '/v1/audio/voices',
  '/v1/images/generations',
  '/sdapi/v1/txt2img',
  '/sdapi/v1/img2img',
  '/v1/audio/transcriptions',
  '/v1/images/edits',
];

/** Versionless spellings, forwarded without the `/v`. */
const VERSIONLESS = [
  '/chat/completions',
  '/responses',
  '/completions',
  '/messages',
  '/messages/count_tokens',
  '/embeddings',
  '/rerank',
  '/reranking',
];

const GET_QUERY = ['/v1/audio/voices', '/sdapi/v1/loras', '/props'];

export const MODEL_ROUTES: readonly ModelRoute[] = [
  ...POST_BODY.map((path) => ({ method: 'POST' as const, path })),
  { method: 'POST', path: '/audioapi/v1/tasks/run', forwardAs: '/v1/tasks/run' },
  ...VERSIONLESS.map((p) => ({ method: 'POST' as const, path: `/v${p}`, forwardAs: p })),
  ...GET_QUERY.map((path) => ({ method: 'GET' as const, path })),
];

const byKey = new Map(MODEL_ROUTES.map((r) => [`${r.method} ${r.path}`, r]));

/** The model route for a method and path (HEAD counts as GET), if any. */
export function findModelRoute(method: string, path: string): ModelRoute | undefined {
  return byKey.get(`${method === 'HEAD' ? 'GET' : method} ${path}`);
}
