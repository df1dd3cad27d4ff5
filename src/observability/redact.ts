/**
 * Which headers are secrets wherever headers are shown (the in-flight tracker's
 * `req_headers` / `resp_headers`, and so `/api/events` and the UI).
 *
 * By rule, not by list: any header whose name says key, token, secret, auth, password or
 * cookie. llama-swap's list (Authorization, Proxy-Authorization, Cookie, Set-Cookie,
 * X-Api-Key) missed `Api-Key` (Azure OpenAI's), `X-Goog-Api-Key` (Gemini's),
 * `X-Auth-Token` and every vendor's next spelling.
 */

const SECRET_NAME = /key|token|secret|auth|passw|cookie/i;

/** What a secret header's value is shown as. */
export const REDACTED = '[REDACTED]';

/** Whether a header, by its name (any case), holds a secret. */
export function isSecretHeader(name: string): boolean {
  return SECRET_NAME.test(name);
}
