/**
 * One record of the `/v1/models` listing (reference 3.7): a model's, an alias's, a peer
 * model's, a selector's or a profile pin's. Its own module so that the listings of each kind
 * (models-listing.ts, selector-listing.ts) share it without importing each other.
 */
export interface ModelRecord {
  id: string;
  object: 'model';
  created: number;
  owned_by: 'swapstate';
  name?: string;
  description?: string;
  meta?: { llamaswap: Record<string, unknown> };
  /** `failed` and `error` (llama.cpp router's spelling) while the model backs off after failed starts. */
  status: { value: 'loaded' | 'unloaded' | 'sleeping'; failed?: true; error?: string; retry_after_s?: number };
  [capability: string]: unknown;
}
