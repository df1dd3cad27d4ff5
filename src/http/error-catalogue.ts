/**
 * The error catalogue (reference/llama-swap.md section 3.5): every error swapstate answers
 * with, under a stable name, with its status, message, envelope type and code, and headers.
 * Nothing else in swapstate makes an {@link HttpError}, so no call site can drift from the
 * texts and statuses clients match on (a test holds src/ to that).
 *
 * Clients of llama-swap parse its error bodies and sometimes match the message text, so
 * every status, type and code here is llama-swap's, with only the product name swapped.
 * Every message starts with llama-swap's text; where a newcomer could not act on that text
 * alone (which model was asked for, why no model was found, how long the request really
 * waited), swapstate's detail follows it (error-wording.ts).
 */
import type { SchedError } from '../core/effects.ts';
import {
  availableText,
  disabledByProfileText,
  noModelReasonText,
  quoteClientText,
  waitedText,
  type AvailableModels,
  type NoModelReason,
} from './error-wording.ts';
import { HttpError } from './http-error.ts';

/** The envelope's `type` and default `code` for a status (reference 3.5 table). */
export function envelopeTypeAndCode(status: number): { type: string; code: string } {
  switch (status) {
    case 400:
      return { type: 'invalid_request_error', code: 'bad_request' };
    case 401:
      return { type: 'authentication_error', code: 'unauthorized' };
    case 403:
      return { type: 'authentication_error', code: 'forbidden' };
    case 404:
      return { type: 'invalid_request_error', code: 'not_found' };
    case 409:
      return { type: 'invalid_request_error', code: 'conflict' };
    case 429:
      return { type: 'rate_limit_error', code: 'rate_limit_exceeded' };
    case 502:
      return { type: 'server_error', code: 'bad_gateway' };
    case 503:
      return { type: 'server_error', code: 'service_unavailable' };
    case 504:
      return { type: 'server_error', code: 'gateway_timeout' };
    default:
      return status >= 500
        ? { type: 'server_error', code: 'internal_error' }
        : { type: 'invalid_request_error', code: 'invalid_request' };
  }
}

/** `Retry-After` in whole seconds, at least 1 (a client reading 0 would retry at once). */
const retryAfter = (ms: number): string => String(Math.max(1, Math.ceil(ms / 1000)));

/**
 * The catalogue. Each entry's name is its stable code inside swapstate; the envelope's
 * `code` is llama-swap's (the status table above) unless the entry says otherwise.
 */
export const httpErrors = {
  // -- Which model (reference 3.3, 3.4) ---------------------------------------------------

  /**
   * 404: the request names no model (missing, empty, or the body could not be read). With a
   * reason, swapstate says why after llama-swap's text, e.g. `no model id could be
   * identified: the body looks like JSON, but its Content-Type is
   * application/x-www-form-urlencoded (what curl -d sends): send the header "Content-Type:
   * application/json"`.
   */
  modelNotIdentified: (reason?: NoModelReason) =>
    new HttpError(404, reason ? `no model id could be identified: ${noModelReasonText(reason)}` : 'no model id could be identified'),

  /**
   * 404: the model is neither local nor a peer's. This is what llama-swap's dispatcher
   * answers for an unknown model on the normal request path, before any scheduler sees it.
   * swapstate adds the name asked for and the closest names that exist:
   * `no router for requested model "lama-3": available models are llama-3, llama-3-8b, qwen`.
   */
  noRouter: (requested: string, available: AvailableModels) =>
    new HttpError(404, `no router for requested model ${quoteClientText(requested)}: ${availableText(available)}`),

  /**
   * 404: the local router does not own the model. llama-swap answers this from its
   * scheduler (an unknown model that got past the dispatcher, e.g. across a config reload).
   * swapstate adds the model's id: `no local server found for requested model "m"`.
   */
  noLocalServer: (model?: string) =>
    new HttpError(404, `no local server found for requested model${model === undefined ? '' : ` ${quoteClientText(model)}`}`),

  /**
   * 404: management routes (`/api/models/unload/<m>`, `/upstream/<m>/...`) naming no
   * configured model. swapstate adds what was asked for and the closest names that exist:
   * `model not found: "lama-3"; available models are llama-3, qwen`. `requested` is null
   * when the path names nothing at all.
   */
  modelNotFound: (requested: string | null, available: AvailableModels) =>
    new HttpError(
      404,
      `model not found: ${requested === null || requested === '' ? 'the path names no model' : quoteClientText(requested)}; ${availableText(available)}`,
    ),

  /**
   * 404 on `/upstream/<pin>/...`: the active profile disables the pin (its target is empty).
   * llama-swap's text, then which pin and profile: `model not found: "coder" is disabled
   * while profile "fast" is active`.
   */
  upstreamModelDisabled: (pin: string, profile: string) => new HttpError(404, `model not found: ${disabledByProfileText(pin, profile)}`),

  // -- Who may ask (reference 3.13; browser-guard.ts) --------------------------------------

  /** 401 with the Basic challenge, so browsers prompt for the key (the password field). */
  unauthorized: () =>
    new HttpError(401, 'unauthorized: invalid or missing API key', {
      headers: { 'WWW-Authenticate': 'Basic realm="swapstate"' },
    }),

  /** 403 (swapstate only, without `apiKeys`): a `Host` that is none of this server's names. */
  hostNotAllowed: (name: string) =>
    new HttpError(
      403,
      `host "${name}" is not a name of this server; a web page may have rebound its DNS name to it. ` +
        'Add the name to allowedHosts in the config (or set apiKeys) to allow it',
    ),

  /**
   * 403 (swapstate only): a request a browser sends on behalf of another site. `origin` is
   * null when the browser named no origin; `keyed` when a Bearer key would be let through.
   */
  crossSiteRefused: (origin: string | null, keyed: boolean) =>
    new HttpError(
      403,
      `cross-site request from ${origin === null ? 'another site' : `origin "${origin}"`} refused: ` +
        `add the origin to allowedOrigins in the config${keyed ? ', or send the API key as a Bearer token' : ''}`,
    ),

  // -- The request body (swapstate's own limits) ------------------------------------------

  /**
   * 413: the body exceeds `maxRequestBodyBytes` (llama-swap has no configurable limit). The
   * code says which limit was hit so clients need not parse text.
   */
  payloadTooLarge: (limit: number) =>
    new HttpError(413, `request body is too large: limit is ${limit} bytes`, {
      code: 'payload_too_large',
      type: 'invalid_request_error',
    }),

  /**
   * 503: the request bodies held in memory would exceed `maxBufferedRequestBytes`. Temporary
   * by nature: held bodies are given back as their responses end.
   */
  tooManyBufferedBodies: (capacity: number) =>
    new HttpError(503, `too many request bodies in memory at once (maxBufferedRequestBytes is ${capacity} bytes); retry shortly`, {
      code: 'request_bodies_over_budget',
      headers: { 'Retry-After': '1' },
    }),

  // -- Scheduling and starting (the scheduler's refusals: fromSchedError) -----------------

  /**
   * 429: the model's concurrency limit is reached. `Retry-After: 1` because a slot usually
   * frees within a second or so, and clients that honour it back off instead of hammering.
   */
  tooManyRequests: () => new HttpError(429, 'Too many requests', { code: 'concurrency_limit', headers: { 'Retry-After': '1' } }),

  /**
   * 500: llama-swap's answer to a failed start or swap, and to any failure without a more
   * specific answer (a filter, a handler that threw).
   */
  unspecific: (detail: string) => new HttpError(500, `unspecific error: ${detail}`),

  /**
   * 503: swapstate is shutting down, or its scheduler failed (`cause`). llama-swap answers
   * 500 "unspecific error: ... is shutting down"; we answer 503 on purpose, since the
   * condition is temporary and 503 is what load balancers and retrying clients understand
   * as "try another instance / later".
   */
  shuttingDown: (cause?: string) => new HttpError(503, cause ? `swapstate scheduler failed: ${cause}` : 'swapstate is shutting down'),

  /** 503: a spillover selector's targets are all stopping (reference 5.6). */
  noSpilloverTargets: (selector: string) => new HttpError(503, `selector ${JSON.stringify(selector)} has no available spillover targets`),

  /** 503 (swapstate only): crash-loop protection; the client is told when a retry can work. */
  backingOff: (model: string, lastError: string, retryAfterMs: number) =>
    new HttpError(
      503,
      `model ${model} failed to start repeatedly; next try in ${Math.ceil(retryAfterMs / 1000)}s. Last error: ${lastError}`,
      { code: 'model_backing_off', headers: { 'Retry-After': retryAfter(retryAfterMs) } },
    ),

  // -- Serving ----------------------------------------------------------------------------

  /**
   * 502 after a grant: the model's server could not be reached (llama-swap answers an empty
   * 502 here; swapstate says which model and why).
   */
  upstreamUnreachable: (model: string, detail: string) => new HttpError(502, `bad gateway: upstream ${model} unreachable: ${detail}`),

  /**
   * 502: a peer could not be reached, or failed before answering (llama-swap's text; the
   * detail is the transport's: `connect ECONNREFUSED 10.0.0.2:8080`, a timeout). llama-swap
   * adds a hint about macOS's Local Network permission when the error says "no route to host".
   */
  peerProxyError: (detail: string) =>
    new HttpError(
      502,
      `peer proxy error: ${detail}` +
        (process.platform === 'darwin' && detail.includes('no route to host')
          ? ' (hint: on macOS, check System Settings > Privacy & Security > Local Network permissions)'
          : ''),
    ),
  /**
   * (swapstate only) The upstream's non-2xx answer after a loading stream had sent its 200,
   * when the body is no JSON to pass on as it is (loading-serve.ts): the upstream's status
   * picks the envelope's type and code (a non-error status counts as 502).
   */
  upstreamStatusInStream: (model: string, status: number, detail: string) =>
    new HttpError(status >= 400 && status <= 599 ? status : 502, `upstream ${model} answered ${status}${detail === '' ? '' : `: ${detail}`}`),

  /** 409 (swapstate only): `/upstream` must not start a model for a path it is told to ignore. */
  ignoredPathNotLoaded: (model: string) => new HttpError(409, `model ${model} is not loaded; path matches upstream.ignorePaths`),

  /**
   * 409: a websocket upgrade to a model with `compat.ignoreWebsockets` (reference 4.10) never
   * starts it (llama-swap's text).
   */
  ignoredWebsocketNotLoaded: (model: string) => new HttpError(409, `model ${model} is not loaded; ignored websocket requests cannot start it`),

  /** 404 under `/comfyui/` without a local model `comfyui_auto` (reference 3.9, llama-swap's text). */
  comfyuiNotFound: () => new HttpError(404, 'local model comfyui_auto not found'),

  /** 409: only `/comfyui/` itself starts `comfyui_auto` (reference 3.9, llama-swap's text). */
  comfyuiNotLoaded: () => new HttpError(409, 'model comfyui_auto is not loaded; only /comfyui/ can start it'),

  // -- Other routes -----------------------------------------------------------------------

  /** 503 on `/health`: the actor tree has stopped or the event loop stalls (`problem` says which). */
  unhealthy: (problem: string) => new HttpError(503, problem),

  /** 400 on `/logs/stream/<id>`: the id is no logger (llama-swap's text). */
  invalidLogger: () => new HttpError(400, "invalid logger. Use 'proxy', 'upstream' or a model's ID"),

  /** 400 on `/api/models/sleep/<model>`: the model has no sleep mode. */
  sleepNotEnabled: (model: string) => new HttpError(400, `model ${model} does not have sleep mode enabled (sleepMode: enable)`),

  /** 409 on `/api/models/sleep/<model>`: only a ready model with nothing in flight can be put to sleep. */
  sleepNotIdle: (model: string, state: string) => new HttpError(409, `model ${model} is ${state}: only a ready model with no request in flight can be put to sleep`),

  /** 400 on `PUT /api/profiles/active`: the body is not a JSON object (llama-swap's text). */
  invalidProfileRequest: () => new HttpError(400, 'invalid profile request'),

  /** 400 on `PUT /api/profiles/active`: the body has no `name` (llama-swap's text). */
  profileNameRequired: () => new HttpError(400, 'profile name is required'),

  /** 400 on `PUT /api/profiles/active`: `name` is neither a string nor null (llama-swap's text). */
  profileNameNotString: () => new HttpError(400, 'profile name must be a string or null'),

  /** 404 on `PUT /api/profiles/active`: no profile has that name (llama-swap's `profile %q not found`). */
  profileNotFound: (name: string) => new HttpError(404, `profile ${quoteClientText(name)} not found`),

  /** 404 on `/api/inflight/<id>/cancel` (llama-swap's text). */
  inflightNotFound: () => new HttpError(404, 'inflight request not found'),

  // -- Activity and captures (reference 7.3, 7.4) ------------------------------------------

  /** 400: a query of `GET /api/metrics/activity` llama-swap refuses, in its words (activity-query.ts). */
  badActivityQuery: (message: string) => new HttpError(400, message),
  /** 400: `GET /api/captures/<id>` with an id that is no integer. */
  invalidCaptureId: () => new HttpError(400, 'invalid capture ID'),
  /** 404: no capture kept under that id (captures off, evicted, or never made). */
  captureNotFound: () => new HttpError(404, 'capture not found'),

  // -- The last resort (error-response.ts handlerError) -----------------------------------

  /** A 4xx that a handler or Express's router threw: answered as it says, in the envelope. */
  clientError: (status: number, message: string) => new HttpError(status, message),

  // -- Go's mux, in plain text whatever the client accepts --------------------------------

  /** No route has the path (or, under a prefix route, no pattern of Go's mux matches). */
  routeNotFound: () => new HttpError(404, '404 page not found', { plain: true }),

  /** Some route has the path, with other methods: `allow` lists them (Go sorts them). */
  methodNotAllowed: (allow: string) => new HttpError(405, 'Method Not Allowed', { plain: true, headers: { Allow: allow } }),

  /** A request target Go's URL parser refuses (e.g. `/a%zz`): Go closes the connection too. */
  badRequestTarget: () => new HttpError(400, '400 Bad Request', { plain: true, headers: { Connection: 'close' } }),
};

/** What the HTTP layer knows about a refused request beyond the scheduler's error. */
export interface RefusalContext {
  /** The (resolved) model id the request asked for. */
  model?: string;
  /** ms from handing the request to the scheduler to this answer. */
  waitedMs?: number;
}

/**
 * The answer to a scheduler refusal: one catalogue entry per core code. llama-swap's text
 * comes first; swapstate's detail (the model's id, the time waited) after it, so clients
 * matching the text still match.
 */
export function fromSchedError(e: SchedError, context: RefusalContext = {}): HttpError {
  switch (e.code) {
    case 'MODEL_NOT_FOUND':
      return httpErrors.noLocalServer(context.model);
    case 'CONCURRENCY_LIMIT':
      return httpErrors.tooManyRequests();
    case 'SWAP_FAILED':
      return httpErrors.unspecific((e.message ?? '') + waitedText(e, context.waitedMs));
    case 'MODEL_UNLOADED':
      // llama-swap's "<router>: model unloaded", with our name in the router's place.
      return httpErrors.unspecific('swapstate: model unloaded');
    case 'SHUTTING_DOWN':
      return httpErrors.shuttingDown(e.message);
    case 'BACKING_OFF':
      return httpErrors.backingOff(e.model ?? context.model ?? '', e.message ?? '', e.retryAfterMs ?? 1000);
  }
}
