/**
 * Peers, selectors and profiles share one namespace of request names (reference 2.6-2.8,
 * 3.4): each refers to the others, so these are checked together, from config text, once all
 * three are decoded.
 */
import { describe, expect, it } from 'vitest';
import { load, loadError, yaml } from './helpers.ts';

const BASE = yaml`
  models:
    a: {proxy: "http://127.0.0.1:9001"}
    b: {proxy: "http://127.0.0.1:9002", aliases: [bee]}
  peers:
    box:
      proxy: http://127.0.0.1:9100
      models: [far, org/deep]
`;

describe('peers, selectors and profiles together', () => {
  it('a selector may target peer models (full name or unique bare id) and a profile may pin to a peer model or a selector', () => {
    const cfg = load(
      BASE +
        yaml`
          selectors:
            anywhere:
              strategy: spillover
              targets: [a, box/far, org/deep]
          profiles:
            remote:
              pins:
                coder: box/org/deep
                chat: anywhere
                bee: ""
        `,
    );
    expect(cfg.selectors.anywhere?.targets).toEqual(['a', 'box/far', 'org/deep']);
    expect(cfg.profiles.remote?.pins).toEqual({ coder: 'box/org/deep', chat: 'anywhere', bee: '' });
  });

  it('a peer full name may not be a profile pin name', () => {
    const err = loadError(
      BASE +
        yaml`
          profiles:
            p:
              pins:
                box/far: a
        `,
    );
    expect(err.message).toBe('config.yaml:11: profile p pin "box/far" conflicts with fully qualified peer model name');
  });

  it('a peer full name may not be a selector id', () => {
    const err = loadError(
      BASE +
        yaml`
          selectors:
            box/far:
              strategy: pin
              targets: [a]
        `,
    );
    expect(err.message).toContain('conflicts with fully qualified peer model name');
  });

  it('a peer full name may not be a local model id or alias', () => {
    expect(loadError(yaml`
      models:
        box/far: {proxy: "http://127.0.0.1:9001"}
      peers:
        box: {proxy: "http://127.0.0.1:9100", models: [far]}
    `).message).toBe('config.yaml:2: model ID "box/far" conflicts with fully qualified peer model name');
  });

  it('a pin to an unknown peer model fails with the profile message', () => {
    const err = loadError(
      BASE +
        yaml`
          profiles:
            p:
              pins:
                coder: box/near
        `,
    );
    expect(err.message).toBe('config.yaml:11: profiles.p.pins.coder references unknown model "box/near"');
  });

  it('a warm selector may not target a peer model (warm needs local process states)', () => {
    const err = loadError(
      BASE +
        yaml`
          selectors:
            w:
              strategy: warm
              targets: [a, box/far]
        `,
    );
    expect(err.message).toMatch(/warm/);
  });
});
